//! Interop with a grpc-go client: `tests/go/idc_go_client`, built from Debian's grpc-go by
//! `tests/go/build.sh` (which `scripts/test.sh` runs, exporting `IDC_GO_CLIENT`).
//!
//! Go re-serializes the `GetMACD` reply it decoded (deterministically); those bytes must be the
//! wire bytes our own library receives, so that Go decodes every field as we encode it. Graph
//! streams must arrive byte for byte as our `idc_graph_client` receives them. Health checks, over
//! plaintext and TLS, answer as `grpc.health.v1.Health` does, without the token.
//!
//! A missing Go client is a failure, never a skip.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::pki::Ca;
use common::{run, rust_bin, scratch, Output, Server};
use idc::client::{get_macd_bytes, Target};

/// The Go client's default dates, and the Rust clients'.
const PARITY_DATES: (&str, &str) = ("2023-01-01", "2023-12-31");
/// A year inside the embedded sample (1999–2018).
const SAMPLE_DATES: (&str, &str) = ("2018-01-01", "2018-12-31");

/// The Go client binary: `IDC_GO_CLIENT`, or `target/go/idc_go_client` under the repository.
fn go_client() -> &'static Path {
    static CLIENT: OnceLock<PathBuf> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let path = std::env::var_os("IDC_GO_CLIENT")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| common::repo_root().join("target/go/idc_go_client"));
        assert!(
            path.is_file(),
            "no Go test client at {} (IDC_GO_CLIENT or target/go/idc_go_client); run scripts/test.sh, \
             which builds it, or tests/go/build.sh target/go/idc_go_client (see tests/go/README.md)",
            path.display()
        );
        path
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the Go client against `target` with `args` (bounded by `common::run`'s limit).
fn go(target: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(go_client());
    cmd.args(["-target", target, "-timeout", "30"]).args(args);
    run(cmd)
}

/// Starts `idc_server` on loopback in `cwd`, so that the parity fallback finds no `./macd.png`.
fn server_in(cwd: &Path, extra: &[&str]) -> Server {
    let mut cmd = rust_bin("idc_server");
    cmd.current_dir(cwd).args(["--host", "127.0.0.1", "--port", "0"]).args(extra);
    Server::start(cmd)
}

/// Compares two byte strings without printing megabytes when they differ.
fn assert_same_bytes(what: &str, got: &[u8], want: &[u8]) {
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
        panic!("{what}: {} bytes, expected {} bytes; first difference at offset {first}", got.len(), want.len());
    }
}

/// `GetMACD` through the Go client, as the bytes it re-serializes to `-out`.
fn go_macd_bytes(target: &str, dir: &Path, (start, end): (&str, &str), extra: &[&str]) -> (Vec<u8>, String) {
    let file = dir.join("go-macd.bin");
    let _ = fs::remove_file(&file);
    let mut args = vec!["-call", "macd", "-start-date", start, "-end-date", end, "-out", path(&file)];
    args.extend_from_slice(extra);
    let out = go(target, &args);
    out.assert_success("idc_go_client -call macd");
    (fs::read(&file).unwrap(), out.stdout_text())
}

/// `GetMACDGraph` through the Go client; returns the PNG and its stdout.
fn go_graph(target: &str, out_file: &Path, extra: &[&str]) -> (Vec<u8>, String) {
    let mut args = vec!["-call", "graph", "-out", path(out_file)];
    args.extend_from_slice(extra);
    let out = go(target, &args);
    out.assert_success("idc_go_client -call graph");
    (fs::read(out_file).unwrap(), out.stdout_text())
}

/// `GetMACDGraph` through `idc_graph_client`.
fn rust_graph(target: &str, out_file: &Path, extra: &[&str]) -> Vec<u8> {
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", target, "--output", path(out_file)]).args(extra);
    run(cmd).assert_success("idc_graph_client");
    fs::read(out_file).unwrap()
}

fn rust_macd_bytes(target: &Target, (start, end): (&str, &str)) -> Vec<u8> {
    get_macd_bytes(target, start, end).unwrap_or_else(|e| panic!("idc::client::get_macd_bytes: {e}"))
}

fn plain(server: &Server) -> Target {
    Target::new(server.target(), Duration::from_secs(30))
}

fn rows(stdout: &str) -> usize {
    let first = stdout.lines().next().unwrap_or_default();
    first
        .strip_prefix("rows: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the Go client's first line is not `rows: N`: {stdout:?}"))
}

#[test]
fn go_macd_reply_has_our_wire_bytes_in_parity_mode() {
    let dir = scratch();
    let server = common::rust_server(&[]);
    let (go_bytes, stdout) = go_macd_bytes(&server.target(), dir.path(), PARITY_DATES, &[]);
    assert_eq!(rows(&stdout), 4, "{stdout}");
    assert!(stdout.contains("2023-01-01 1.1 2.1 3.1 0.1 2.5\n"), "{stdout}");
    assert_same_bytes("Go's GetMACD reply", &go_bytes, &rust_macd_bytes(&plain(&server), PARITY_DATES));
}

#[test]
fn go_macd_reply_has_our_wire_bytes_in_data_mode() {
    let dir = scratch();
    let server = common::rust_server(&["--data", "sample"]);
    let (go_bytes, stdout) = go_macd_bytes(&server.target(), dir.path(), SAMPLE_DATES, &[]);
    // 2018 had 251 trading days.
    assert_eq!(rows(&stdout), 251, "{}", &stdout[..stdout.len().min(200)]);
    assert!(stdout.lines().nth(1).unwrap().starts_with("2018-01-02 "), "{}", &stdout[..stdout.len().min(200)]);
    assert_same_bytes("Go's GetMACD reply", &go_bytes, &rust_macd_bytes(&plain(&server), SAMPLE_DATES));
}

#[test]
fn go_receives_a_graph_file_byte_for_byte() {
    let dir = scratch();
    let graph = common::pseudo_random_bytes(1 << 20, 7);
    let file = common::write_file(dir.path(), "graph.png", &graph);
    let server = common::rust_server(&["--graph-file", path(&file), "--chunk-size", "1024"]);
    let (got, stdout) = go_graph(&server.target(), &dir.path().join("go.png"), &[]);
    assert_eq!(stdout, format!("bytes: {}\n", graph.len()));
    assert_same_bytes("the graph file through Go", &got, &graph);
}

#[test]
fn go_and_rust_receive_the_same_parity_fallback_chart() {
    let dir = scratch();
    let cwd = scratch(); // no ./macd.png: the server streams the chart of the embedded sample
    let server = server_in(cwd.path(), &[]);
    let (go_png, stdout) = go_graph(&server.target(), &dir.path().join("go.png"), &[]);
    assert!(go_png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG arrived");
    assert_eq!(stdout, format!("bytes: {}\n", go_png.len()));
    let rust_png = rust_graph(&server.target(), &dir.path().join("rust.png"), &[]);
    assert_same_bytes("the fallback chart through Go", &go_png, &rust_png);
}

/// Runs a health check through the Go client; `Ok(status)` or `Err(stderr)`.
fn go_health(target: &str, service: Option<&str>, extra: &[&str]) -> Result<String, String> {
    let mut args = vec!["-call", "health"];
    if let Some(service) = service {
        args.extend(["-service", service]);
    }
    args.extend_from_slice(extra);
    let out = go(target, &args);
    if out.status.success() {
        Ok(out.stdout_text().trim_end().to_string())
    } else {
        Err(out.stderr)
    }
}

#[test]
fn go_health_checks_see_every_service_serving() {
    let server = common::rust_server(&[]);
    let target = server.target();
    for service in [None, Some("idc.Indicator"), Some("idc.IndicatorGraph")] {
        let status = go_health(&target, service, &[]);
        assert_eq!(status.as_deref(), Ok("SERVING"), "health check of {service:?}");
    }
    let err = go_health(&target, Some("nope"), &[]).expect_err("an unknown service is NOT_FOUND");
    assert!(err.contains("Check failed: NOT_FOUND"), "{err}");
}

/// A CA, a TLS server holding a token, and the Go client's flags for both.
struct Secure {
    dir: tempfile::TempDir,
    _cwd: tempfile::TempDir,
    ca: PathBuf,
    token: PathBuf,
    server: Server,
}

impl Secure {
    fn start() -> Secure {
        let dir = scratch();
        let cwd = scratch();
        let ca = Ca::new(dir.path(), "go");
        let identity = ca.server(dir.path(), "server");
        let token = dir.path().join("token");
        fs::write(&token, "go-interop-token-5e1d\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&token, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let server = server_in(
            cwd.path(),
            &["--tls-cert", path(&identity.cert), "--tls-key", path(&identity.key), "--auth-token-file", path(&token)],
        );
        Secure { dir, _cwd: cwd, ca: ca.cert, token, server }
    }

    fn target(&self) -> String {
        self.server.target()
    }
}

#[test]
fn go_over_tls_with_a_token_gets_our_bytes() {
    let s = Secure::start();
    let target = s.target();
    let go_flags = ["-tls-ca", path(&s.ca), "-auth-token-file", path(&s.token)];

    let (go_bytes, stdout) = go_macd_bytes(&target, s.dir.path(), PARITY_DATES, &go_flags);
    assert_eq!(rows(&stdout), 4, "{stdout}");
    let mut rust_target = Target::new(target.clone(), Duration::from_secs(30));
    rust_target.tls = Some(idc::tls::ClientTls { ca: Some(s.ca.clone()), ..Default::default() });
    rust_target.token = Some(idc::auth::Token::from_file(&s.token).unwrap());
    assert_same_bytes("Go's GetMACD reply over TLS", &go_bytes, &rust_macd_bytes(&rust_target, PARITY_DATES));

    let (go_png, _) = go_graph(&target, &s.dir.path().join("go.png"), &go_flags);
    assert!(go_png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG arrived");
    let rust_flags = ["--tls-ca", path(&s.ca), "--auth-token-file", path(&s.token)];
    let rust_png = rust_graph(&target, &s.dir.path().join("rust.png"), &rust_flags);
    assert_same_bytes("the fallback chart through Go over TLS", &go_png, &rust_png);

    let out = go(&target, &["-call", "macd", "-tls-ca", path(&s.ca)]);
    assert!(!out.status.success(), "GetMACD without the token was let in: {}", out.stdout_text());
    assert!(out.stderr.contains("GetMACD failed: UNAUTHENTICATED"), "{}", out.stderr);
}

#[test]
fn go_health_checks_over_tls_need_no_token() {
    let s = Secure::start();
    let target = s.target();
    for service in [None, Some("idc.Indicator"), Some("idc.IndicatorGraph")] {
        let status = go_health(&target, service, &["-tls-ca", path(&s.ca)]);
        assert_eq!(status.as_deref(), Ok("SERVING"), "health check of {service:?} over TLS without the token");
    }
    let err = go_health(&target, Some("nope"), &["-tls-ca", path(&s.ca)]).expect_err("nope is unknown");
    assert!(err.contains("Check failed: NOT_FOUND"), "{err}");
}
