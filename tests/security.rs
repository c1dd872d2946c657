//! TLS, mutual TLS and the bearer token, with certificates made at test time, against our
//! clients and the Python `grpcio` client (`tests/python/secure_client.py`).

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use common::pki::{Ca, Identity};
use common::{python_script, run, rust_bin, rust_server, scratch, token_file, Output};

/// What the article's client prints for its default request.
const ARTICLE_OUTPUT: &str = "indicator client received: \n\
macd {\n  date: \"2023-01-01\"\n  open: 1.1\n  close: 2.1\n  high: 3.1\n  low: 0.1\n  macd: 2.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 2.2\n  close: 4.2\n  high: 6.2\n  low: 0.2\n  macd: 5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 3.3\n  close: 6.3\n  high: 9.3\n  low: 0.3\n  macd: 7.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 4.4\n  close: 8.4\n  high: 12.4\n  low: 0.4\n  macd: 10\n}\n\n";

/// A refused connection must fail at once, not wait out the call's deadline.
const FAIL_FAST: Duration = Duration::from_secs(10);

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tls_server(identity: &Identity, extra: &[&str]) -> common::Server {
    let mut flags = vec!["--tls-cert", path(&identity.cert), "--tls-key", path(&identity.key)];
    flags.extend_from_slice(extra);
    rust_server(&flags)
}

fn rust_client(target: &str, flags: &[&str]) -> Output {
    let mut cmd = rust_bin("idc_client");
    cmd.args(["--target", target, "--timeout", "30"]).args(flags);
    run(cmd)
}

fn python_client(target: &str, flags: &[&str]) -> Output {
    let mut cmd = python_script("secure_client.py");
    cmd.args(["--call", "macd", "--target", target, "--timeout", "30"]).args(flags);
    run(cmd)
}

/// Runs a client that must fail, and checks it failed fast, with one line on stderr.
fn fails_fast(what: &str, client: impl FnOnce() -> Output) -> String {
    let started = Instant::now();
    let out = client();
    let took = started.elapsed();
    assert!(!out.status.success(), "{what} succeeded; stdout:\n{}", out.stdout_text());
    assert!(took < FAIL_FAST, "{what} took {took:?} to fail: it should fail at once");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{what}: one line on stderr, got:\n{}", out.stderr);
    out.stderr
}

#[test]
fn tls_serves_rust_and_python_clients_the_same_bytes() {
    let dir = scratch();
    let ca = Ca::new(dir.path(), "main");
    let server = tls_server(&ca.server(dir.path(), "server"), &[]);
    let tls = ["--tls-ca", path(&ca.cert)];

    // By IP address (the certificate names 127.0.0.1) and by name.
    let out = rust_client(&server.target(), &tls);
    out.assert_success("idc_client over TLS");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);
    let by_name = format!("localhost:{}", server.port);
    rust_client(&by_name, &tls).assert_success("idc_client over TLS, by name");

    let out = python_client(&server.target(), &tls);
    out.assert_success("Python client over TLS");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);

    // The graph stream too (the parity fallback chart, the same for every client).
    let rust_png = dir.path().join("rust.png");
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", &server.target(), "--output", path(&rust_png)]).args(tls);
    run(cmd).assert_success("idc_graph_client over TLS");
    let python_png = dir.path().join("python.png");
    let mut cmd = python_script("secure_client.py");
    cmd.args(["--call", "graph", "--target", &server.target(), "--output", path(&python_png)]).args(tls);
    run(cmd).assert_success("Python graph client over TLS");
    let png = fs::read(&rust_png).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG arrived");
    assert_eq!(png, fs::read(&python_png).unwrap());
}

#[test]
fn a_tls_server_name_override_reaches_a_certificate_for_another_name() {
    let dir = scratch();
    let ca = Ca::new(dir.path(), "main");
    let server = tls_server(&ca.server(dir.path(), "server"), &[]);
    // The certificate names localhost and 127.0.0.1, not [::1]'s name `ip6-localhost`; asking
    // for `localhost` explicitly works wherever the connection goes.
    let flags = ["--tls-ca", path(&ca.cert), "--tls-server-name", "localhost"];
    rust_client(&server.target(), &flags).assert_success("idc_client with --tls-server-name");
    let stderr = fails_fast("a server name the certificate lacks", || {
        rust_client(&server.target(), &["--tls-ca", path(&ca.cert), "--tls-server-name", "elsewhere.example"])
    });
    assert!(stderr.contains("UNAVAILABLE"), "{stderr}");
}

#[test]
fn tls_mistakes_fail_at_once_with_one_line() {
    let dir = scratch();
    let ca = Ca::new(dir.path(), "main");
    let other = Ca::new(dir.path(), "other");
    let server = tls_server(&ca.server(dir.path(), "server"), &[]);
    let target = server.target();

    let stderr = fails_fast("a plaintext client against a TLS server", || rust_client(&target, &[]));
    assert!(stderr.contains("UNAVAILABLE") && stderr.contains("--tls-ca"), "{stderr}");
    fails_fast("the Python plaintext client against a TLS server", || python_client(&target, &[]));

    let stderr = fails_fast("a client trusting another CA", || rust_client(&target, &["--tls-ca", path(&other.cert)]));
    assert!(stderr.contains("UNAVAILABLE") && stderr.contains("signed its certificate"), "{stderr}");
    fails_fast("the Python client trusting another CA", || python_client(&target, &["--tls-ca", path(&other.cert)]));

    let expired = tls_server(&ca.expired_server(dir.path(), "expired"), &[]);
    let stderr =
        fails_fast("an expired server certificate", || rust_client(&expired.target(), &["--tls-ca", path(&ca.cert)]));
    assert!(stderr.contains("UNAVAILABLE") && stderr.contains("valid today"), "{stderr}");

    // A TLS client against a plaintext server.
    let plain = rust_server(&[]);
    fails_fast("a TLS client against a plaintext server", || {
        rust_client(&plain.target(), &["--tls-ca", path(&ca.cert)])
    });
}

#[test]
fn mutual_tls_requires_a_client_certificate_from_the_clients_ca() {
    let dir = scratch();
    let server_ca = Ca::new(dir.path(), "server");
    let client_ca = Ca::new(dir.path(), "clients");
    let stranger_ca = Ca::new(dir.path(), "stranger");
    let server = tls_server(&server_ca.server(dir.path(), "server"), &["--tls-client-ca", path(&client_ca.cert)]);
    let target = server.target();
    let trusted = client_ca.client(dir.path(), "alice");
    let stranger = stranger_ca.client(dir.path(), "mallory");
    let ca = ["--tls-ca", path(&server_ca.cert)];
    let with = |id: &Identity| -> Vec<String> {
        [ca[0], ca[1], "--tls-cert", path(&id.cert), "--tls-key", path(&id.key)].map(String::from).to_vec()
    };

    let alice = with(&trusted);
    let alice: Vec<&str> = alice.iter().map(String::as_str).collect();
    let out = rust_client(&target, &alice);
    out.assert_success("idc_client with a client certificate");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);
    let out = python_client(&target, &alice);
    out.assert_success("Python client with a client certificate");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);

    let stderr = fails_fast("no client certificate under mTLS", || rust_client(&target, &ca));
    assert!(stderr.contains("UNAVAILABLE") && stderr.contains("--tls-cert"), "{stderr}");
    fails_fast("the Python client without a certificate under mTLS", || python_client(&target, &ca));
    let mallory = with(&stranger);
    let mallory: Vec<&str> = mallory.iter().map(String::as_str).collect();
    fails_fast("a client certificate from another CA", || rust_client(&target, &mallory));
}

#[test]
fn unusable_tls_files_stop_the_server_at_start_up_naming_the_file() {
    let dir = scratch();
    let ca = Ca::new(dir.path(), "main");
    let good = ca.server(dir.path(), "server");
    let other = ca.server(dir.path(), "other");
    let garbage = dir.path().join("garbage.pem");
    fs::write(&garbage, "not a certificate\n").unwrap();
    let missing = dir.path().join("missing.pem");

    for (cert, key, says) in [
        (&missing, &good.key, "cannot read --tls-cert"),
        (&good.cert, &missing, "cannot read --tls-key"),
        (&garbage, &good.key, "no PEM certificate"),
        (&good.cert, &garbage, "no PEM private key"),
        (&good.key, &good.cert, "where a CERTIFICATE was expected"),
        (&good.cert, &other.key, "--tls-key is the key of --tls-cert"),
    ] {
        let mut cmd = rust_bin("idc_server");
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--tls-cert", path(cert), "--tls-key", path(key)]);
        let out = run(cmd);
        assert!(!out.status.success(), "{cert:?} {key:?} was accepted");
        assert!(out.stderr.contains(says), "{cert:?} {key:?}: {}", out.stderr);
        let named = if says.contains("key") && !says.contains("CERTIFICATE") { key } else { cert };
        assert!(out.stderr.contains(path(named)) || says.contains("is the key of"), "{}", out.stderr);
        assert_eq!(out.stdout, b"", "no start-up line");
    }
}

#[test]
fn a_token_is_required_checked_exactly_and_never_logged() {
    let dir = scratch();
    let secret = "idc-test-token-7f3a9c";
    let right = token_file(dir.path(), "token", secret);
    let wrong = token_file(dir.path(), "wrong", "idc-test-token-7f3a9d");
    let mut cmd = rust_bin("idc_server");
    // Info level, so that a token in any log line would show.
    cmd.env("RUST_LOG", "debug").args(["--host", "127.0.0.1", "--port", "0", "--auth-token-file", path(&right)]);
    let server = common::Server::start(cmd);
    let target = server.target();

    let out = rust_client(&target, &["--auth-token-file", path(&right)]);
    out.assert_success("idc_client with the token");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);
    let out = python_client(&target, &["--auth-token-file", path(&right)]);
    out.assert_success("Python client with the token");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);

    for (what, flags) in [("no token", vec![]), ("a wrong token", vec!["--auth-token-file", path(&wrong)])] {
        let out = rust_client(&target, &flags);
        assert!(!out.status.success(), "{what} was let in");
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{what}: {}", out.stderr);
        assert!(out.stderr.contains("UNAUTHENTICATED"), "{what}: {}", out.stderr);
        assert!(!out.stderr.contains(secret), "{what}: the token leaked: {}", out.stderr);
        let out = python_client(&target, &flags);
        assert!(!out.status.success(), "{what} was let in (Python)");
        assert!(out.stderr.contains("UNAUTHENTICATED"), "{what}: {}", out.stderr);
        // The graph stream is guarded too.
        let mut cmd = rust_bin("idc_graph_client");
        cmd.args(["--target", &target, "--output", path(&dir.path().join("g.png"))]).args(&flags);
        let out = run(cmd);
        assert!(out.stderr.contains("UNAUTHENTICATED"), "{what}: {}", out.stderr);
    }

    let (status, stderr) = server.stop_with("TERM");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("refused"), "refusals are logged: {stderr}");
    assert!(!stderr.contains(secret), "the token appears in the server's log:\n{stderr}");
    assert!(!stderr.contains("7f3a9d"), "a wrong token appears in the server's log:\n{stderr}");
}

#[test]
fn tls_and_a_token_together() {
    let dir = scratch();
    let ca = Ca::new(dir.path(), "main");
    let token = token_file(dir.path(), "token", "both-layers");
    let server = tls_server(&ca.server(dir.path(), "server"), &["--auth-token-file", path(&token)]);
    let flags = ["--tls-ca", path(&ca.cert), "--auth-token-file", path(&token)];
    let out = rust_client(&server.target(), &flags);
    out.assert_success("idc_client over TLS with a token");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);
    python_client(&server.target(), &flags).assert_success("Python client over TLS with a token");
    let out = rust_client(&server.target(), &["--tls-ca", path(&ca.cert)]);
    assert!(out.stderr.contains("UNAUTHENTICATED"), "{}", out.stderr);
}

#[test]
fn unusable_token_files_stop_the_server_and_the_clients() {
    let dir = scratch();
    let empty = token_file(dir.path(), "empty", "");
    let spaced = token_file(dir.path(), "spaced", "two words");
    let missing = dir.path().join("missing");
    for (file, says) in [(&empty, "is empty"), (&spaced, "one line of printable ASCII"), (&missing, "cannot read")] {
        let mut cmd = rust_bin("idc_server");
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--auth-token-file", path(file)]);
        let out = run(cmd);
        assert!(!out.status.success() && out.stderr.contains(says), "{file:?}: {}", out.stderr);
        assert!(out.stderr.contains(path(file)), "{}", out.stderr);
        assert!(!out.stderr.contains("two words"), "the content is never shown: {}", out.stderr);
        let out = rust_client("127.0.0.1:1", &["--auth-token-file", path(file)]);
        assert!(!out.status.success() && out.stderr.contains(says), "{file:?}: {}", out.stderr);
    }
}
