//! Interop with the Python reference: all four {Python, Rust} server × client pairs, raw reply
//! bytes, and printing parity on hard values.
//!
//! The Python peers live in `tests/python/` and need the venv that `scripts/test.sh` builds; a
//! missing peer fails these tests (see `common::python`), it never skips them.

mod common;

use std::fs;

use common::{
    pseudo_random_bytes, python_script, python_server, run, rust_bin, rust_server, scratch, write_file, Output, Server,
};

#[derive(Clone, Copy, Debug)]
enum Side {
    Python,
    Rust,
}

fn server(side: Side, extra: &[&str]) -> Server {
    match side {
        Side::Python => python_server(extra),
        Side::Rust => rust_server(extra),
    }
}

fn client(side: Side, target: &str, extra: &[&str]) -> Output {
    let mut cmd = match side {
        Side::Python => python_script("idc_client.py"),
        Side::Rust => rust_bin("idc_client"),
    };
    cmd.args(["--target", target]).args(extra);
    run(cmd)
}

fn graph_client(side: Side, target: &str, output: &std::path::Path) -> Output {
    let mut cmd = match side {
        Side::Python => python_script("idc_graph_client.py"),
        Side::Rust => rust_bin("idc_graph_client"),
    };
    cmd.args(["--target", target, "--output"]).arg(output);
    run(cmd)
}

const SIDES: [Side; 2] = [Side::Python, Side::Rust];

#[test]
fn all_four_pairs_print_the_same_bytes() {
    let servers: Vec<(Side, Server)> = SIDES.iter().map(|&s| (s, server(s, &[]))).collect();
    let requests: &[&[&str]] = &[
        &[],
        &["--start-date", "2024-02-29", "--end-date", "2024-03-31"],
        &["--start-date", "", "--end-date", ""],
        &["--start-date", "日期 \"quoted\" 'single' back\\slash\ttab"],
    ];
    for request in requests {
        let mut outputs = Vec::new();
        for (server_side, server) in &servers {
            for &client_side in &SIDES {
                let out = client(client_side, &server.target(), request);
                out.assert_success(&format!("{client_side:?} client against {server_side:?} server"));
                outputs.push((format!("{client_side:?} client, {server_side:?} server"), out.stdout));
            }
        }
        let (first_name, first) = &outputs[0];
        assert!(first.starts_with(b"indicator client received: \n"));
        for (name, stdout) in &outputs[1..] {
            assert_eq!(
                String::from_utf8_lossy(stdout),
                String::from_utf8_lossy(first),
                "{name} differs from {first_name} for request {request:?}"
            );
        }
    }
}

#[test]
fn all_four_pairs_transfer_graph_files_byte_for_byte() {
    let dir = scratch();
    for size in [0usize, 1, 1024, (1 << 20) + 123] {
        let source = write_file(dir.path(), &format!("graph-{size}.png"), &pseudo_random_bytes(size, 7 + size as u64));
        let source_arg = source.to_str().unwrap().to_owned();
        let servers: Vec<(Side, Server)> =
            SIDES.iter().map(|&s| (s, server(s, &["--graph-file", &source_arg]))).collect();
        let expected = fs::read(&source).unwrap();
        for (server_side, server) in &servers {
            for &client_side in &SIDES {
                let received = dir.path().join(format!("received-{size}-{server_side:?}-{client_side:?}.png"));
                let out = graph_client(client_side, &server.target(), &received);
                out.assert_success(&format!("{client_side:?} graph client against {server_side:?} server"));
                assert_eq!(out.stdout_text(), "indicator client received: \n");
                let got = fs::read(&received).unwrap();
                assert!(
                    got == expected,
                    "{client_side:?} client from {server_side:?} server: {} bytes received, {size} served",
                    got.len()
                );
            }
        }
    }
}

/// The reply bytes themselves, fetched with a generic call that does not deserialize.
fn raw_reply(target: &str, start_date: &str) -> Vec<u8> {
    let mut cmd = python_script("raw_call.py");
    cmd.args(["--target", target, "--start-date", start_date, "--end-date", "2023-12-31"]);
    let out = run(cmd);
    out.assert_success("raw_call.py");
    out.stdout
}

#[test]
fn reply_bytes_on_the_wire_equal_the_python_servers() {
    let python = python_server(&[]);
    let rust = rust_server(&[]);
    for start_date in ["2023-01-01", "", "2024-02-29", "é \"x\" \\ \n"] {
        let from_python = raw_reply(&python.target(), start_date);
        let from_rust = raw_reply(&rust.target(), start_date);
        assert!(!from_python.is_empty());
        assert_eq!(from_rust, from_python, "GetMACD reply bytes for start_date {start_date:?}");
    }
}

#[test]
fn hard_values_print_exactly_as_python_prints_them() {
    let mut cmd = python_script("hard_values_server.py");
    cmd.args(["--host", "127.0.0.1", "--port", "0"]);
    let server = Server::start(cmd);
    let target = server.target();

    // The server lists its cases as the dates of the rows of case "cases".
    let listing = client(Side::Rust, &target, &["--start-date", "cases"]);
    listing.assert_success("listing the cases");
    let cases: Vec<String> = listing
        .stdout_text()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("date: \"")?.strip_suffix('"').map(str::to_owned))
        .collect();
    for required in ["tiny", "huge", "negative", "negzero", "nan", "inf", "digits", "strings", "empty", "random"] {
        assert!(cases.iter().any(|c| c == required), "case {required} missing from {cases:?}");
    }

    for case in &cases {
        let python = client(Side::Python, &target, &["--start-date", case]);
        python.assert_success(&format!("Python client, case {case}"));
        let rust = client(Side::Rust, &target, &["--start-date", case]);
        rust.assert_success(&format!("Rust client, case {case}"));
        assert_eq!(String::from_utf8_lossy(&rust.stdout), String::from_utf8_lossy(&python.stdout), "case {case}");
    }
}
