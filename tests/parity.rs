//! Our server driven by our clients: the article's behaviour, plus the error handling the article
//! leaves out (missing files, unreachable servers, cut streams, bad flags).

mod common;

use std::fs;

use common::{pseudo_random_bytes, run, rust_bin, rust_server, scratch, write_file};

/// What the article shows its client printing (its section 3.5), with the final empty line that
/// `print(response)` adds.
const ARTICLE_OUTPUT: &str = "indicator client received: \n\
macd {\n  date: \"2023-01-01\"\n  open: 1.1\n  close: 2.1\n  high: 3.1\n  low: 0.1\n  macd: 2.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 2.2\n  close: 4.2\n  high: 6.2\n  low: 0.2\n  macd: 5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 3.3\n  close: 6.3\n  high: 9.3\n  low: 0.3\n  macd: 7.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 4.4\n  close: 8.4\n  high: 12.4\n  low: 0.4\n  macd: 10\n}\n\n";

fn client(target: &str, extra: &[&str]) -> common::Output {
    let mut cmd = rust_bin("idc_client");
    cmd.args(["--target", target]).args(extra);
    run(cmd)
}

fn graph_client(target: &str, output: &std::path::Path, extra: &[&str]) -> common::Output {
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", target, "--output"]).arg(output).args(extra);
    run(cmd)
}

#[test]
fn client_prints_what_the_article_shows() {
    let server = rust_server(&[]);
    let out = client(&server.target(), &[]);
    out.assert_success("idc_client");
    assert_eq!(out.stdout_text(), ARTICLE_OUTPUT);
    assert_eq!(out.stderr, "");
}

#[test]
fn every_row_carries_the_requested_start_date() {
    let server = rust_server(&[]);
    let out = client(&server.target(), &["--start-date", "2024-02-29", "--end-date", "2024-03-01"]);
    out.assert_success("idc_client");
    let text = out.stdout_text();
    assert_eq!(text.matches("  date: \"2024-02-29\"\n").count(), 4, "{text}");
    assert_eq!(text.replace("2024-02-29", "2023-01-01"), ARTICLE_OUTPUT);
}

#[test]
fn graph_files_arrive_byte_for_byte() {
    let dir = scratch();
    for (size, chunk) in [(0usize, "1024"), (1, "1024"), (1024, "1024"), ((1 << 20) + 123, "1024"), (10_000, "7")] {
        let source = write_file(dir.path(), &format!("graph-{size}.png"), &pseudo_random_bytes(size, size as u64));
        let server = rust_server(&["--graph-file", source.to_str().unwrap(), "--chunk-size", chunk]);
        let received = dir.path().join(format!("received-{size}.png"));
        let out = graph_client(&server.target(), &received, &[]);
        out.assert_success("idc_graph_client");
        assert_eq!(out.stdout_text(), "indicator client received: \n");
        assert_eq!(fs::read(&received).unwrap(), fs::read(&source).unwrap(), "file of {size} bytes, chunk {chunk}");
    }
}

#[test]
fn the_graph_file_is_read_anew_for_every_call() {
    let dir = scratch();
    let source = write_file(dir.path(), "macd.png", b"first");
    let server = rust_server(&["--graph-file", source.to_str().unwrap()]);
    let received = dir.path().join("received.png");
    graph_client(&server.target(), &received, &[]).assert_success("first download");
    assert_eq!(fs::read(&received).unwrap(), b"first");
    fs::write(&source, b"second, longer").unwrap();
    graph_client(&server.target(), &received, &[]).assert_success("second download");
    assert_eq!(fs::read(&received).unwrap(), b"second, longer");
}

/// Files in `dir` other than `keep`: a failed download must leave no partial file behind.
fn leftovers(dir: &std::path::Path, keep: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

#[test]
fn a_missing_graph_file_is_not_found_and_the_old_output_survives() {
    let dir = scratch();
    let missing = dir.path().join("no-such.png");
    let server = rust_server(&["--graph-file", missing.to_str().unwrap()]);
    let received = write_file(dir.path(), "received.png", b"an earlier download");

    let out = graph_client(&server.target(), &received, &[]);
    assert!(!out.status.success());
    assert_eq!(out.stderr.lines().count(), 1, "one line on stderr: {:?}", out.stderr);
    assert!(out.stderr.contains("NOT_FOUND"), "{}", out.stderr);
    assert!(out.stderr.contains(missing.to_str().unwrap()), "the message names the path: {}", out.stderr);
    assert_eq!(fs::read(&received).unwrap(), b"an earlier download");
    assert_eq!(leftovers(dir.path(), &["received.png"]), Vec::<String>::new());

    // The server keeps serving.
    client(&server.target(), &[]).assert_success("GetMACD after a failed GetMACDGraph");
}

#[test]
fn an_unreadable_graph_file_is_internal() {
    let dir = scratch();
    // A directory opens but cannot be read as a file.
    let server = rust_server(&["--graph-file", dir.path().to_str().unwrap()]);
    let received = dir.path().join("received.png");
    let out = graph_client(&server.target(), &received, &[]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("INTERNAL"), "{}", out.stderr);
    assert!(out.stderr.contains(dir.path().to_str().unwrap()), "{}", out.stderr);
    assert!(!received.exists());
}

#[test]
fn a_cut_stream_leaves_no_truncated_file() {
    let dir = scratch();
    // Large enough that a 50 ms deadline always expires part way.
    let source = write_file(dir.path(), "big.png", &pseudo_random_bytes(64 << 20, 1));
    let server = rust_server(&["--graph-file", source.to_str().unwrap()]);
    let received = write_file(dir.path(), "received.png", b"keep me");

    let out = graph_client(&server.target(), &received, &["--timeout", "0.05"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("DEADLINE_EXCEEDED"), "{}", out.stderr);
    assert_eq!(fs::read(&received).unwrap(), b"keep me");
    assert_eq!(leftovers(dir.path(), &["received.png", "big.png"]), Vec::<String>::new());
}

#[test]
fn an_unreachable_server_is_one_line_and_a_failure() {
    // Port 1 (tcpmux) is privileged and unused: nothing listens there, and unlike a freed
    // ephemeral port, no test running alongside can take it.
    let port = 1;
    let target = format!("127.0.0.1:{port}");
    let out = client(&target, &["--timeout", "5"]);
    assert!(!out.status.success());
    assert_eq!(out.stdout_text(), "");
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    assert!(out.stderr.contains("UNAVAILABLE") && out.stderr.contains(&target), "{}", out.stderr);

    let dir = scratch();
    let out = graph_client(&target, &dir.path().join("x.png"), &["--timeout", "5"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("UNAVAILABLE"), "{}", out.stderr);
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn the_server_stops_cleanly_on_sigterm_and_sigint() {
    for signal in ["TERM", "INT"] {
        let server = rust_server(&[]);
        let (status, stderr) = server.stop_with(signal);
        assert!(status.success(), "SIG{signal}: {status}; stderr:\n{stderr}");
    }
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    for (flags, expect) in [
        (vec!["--chunk-size", "0"], "out of range"),
        (vec!["--chunk-size", "4194305"], "out of range"),
        (vec!["--grace-period=-1"], "--grace-period"),
        (vec!["--grace-period", "1e20"], "from 0 to 3600"),
        (vec!["--completion-queues", "100000"], "--completion-queues"),
        (vec!["--fast", "26", "--slow", "12"], "shorter than the slow"),
        (vec!["--data", "/nonexistent/bars.csv"], "cannot read --data /nonexistent/bars.csv"),
        (vec!["--host", "not a host"], "invalid --host"),
    ] {
        let mut cmd = rust_bin("idc_server");
        // Loopback, so that a flag accepted by mistake never serves on every interface.
        if !flags.contains(&"--host") {
            cmd.args(["--host", "127.0.0.1"]);
        }
        cmd.args(["--port", "0"]).args(&flags);
        let out = run(cmd);
        assert!(!out.status.success(), "{flags:?} was accepted");
        assert!(out.stderr.contains(expect), "{flags:?}: {}", out.stderr);
    }
}

/// Starts `idc_server` on `port` of 127.0.0.1 and returns what it did, or `None` if it started.
fn second_server(port: u16, extra: &[&str]) -> Option<common::Output> {
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]).args(extra);
    // A server that started is stopped again when it drops.
    common::start_or_exit(cmd).1
}

#[test]
fn a_second_server_on_a_port_another_idc_server_holds_fails_to_start() {
    // gRPC C-core sets SO_REUSEPORT on its listeners unless told not to; then a second server
    // starts without complaint and the kernel splits the clients between the two.
    let first = rust_server(&[]);
    let out = second_server(first.port, &[]).expect("a second server started on a port the first one holds");
    assert!(!out.status.success());
    assert!(out.stderr.contains(&format!("cannot listen on 127.0.0.1:{}", first.port)), "{}", out.stderr);
    assert!(out.stderr.contains("Address already in use"), "the system's reason is kept: {}", out.stderr);
    assert_eq!(out.stdout, b"", "no start-up line");

    // The Python reference sets SO_REUSEPORT; our server still refuses to share its port.
    let python = common::python_server(&[]);
    let out = second_server(python.port, &[]).expect("idc_server started on the Python server's port");
    assert!(out.stderr.contains("Address already in use"), "{}", out.stderr);
}

#[test]
fn reuse_port_lets_two_servers_share_a_port_when_both_ask() {
    let first = rust_server(&["--reuse-port"]);
    assert!(second_server(first.port, &["--reuse-port"]).is_none(), "--reuse-port on both sides shares the port");
    // One side asking is not enough: the first server's socket does not allow sharing.
    let plain = rust_server(&[]);
    assert!(second_server(plain.port, &["--reuse-port"]).is_some(), "a server without --reuse-port keeps its port");
}

#[test]
fn an_interrupted_download_leaves_no_partial_file() {
    // Ctrl-C, and a closed terminal (SIGHUP): each exits with 128 + the signal.
    for (signal, code) in [("INT", 130), ("HUP", 129)] {
        let dir = scratch();
        // One byte per message: the download takes seconds, so it is surely in progress below.
        let source = write_file(dir.path(), "big.png", &pseudo_random_bytes(1 << 20, 3));
        let server = rust_server(&["--graph-file", source.to_str().unwrap(), "--chunk-size", "1"]);
        let received = write_file(dir.path(), "received.png", b"keep me");

        let mut client = rust_bin("idc_graph_client")
            .args(["--target", &server.target(), "--output"])
            .arg(&received)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_for("the download to start", common::RUN_LIMIT, || {
            !leftovers(dir.path(), &["received.png", "big.png"]).is_empty()
        });
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &client.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = client.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(client.stderr.as_mut().unwrap(), &mut stderr).unwrap();

        assert_eq!(status.code(), Some(code), "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted") && stderr.contains("left as it was"), "{stderr}");
        assert_eq!(fs::read(&received).unwrap(), b"keep me");
        assert_eq!(leftovers(dir.path(), &["received.png", "big.png"]), Vec::<String>::new(), "SIG{signal}");
    }
}
