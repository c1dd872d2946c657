//! Faults while a graph file streams: the file truncated, written in place or replaced, and the
//! server killed. The client gets the file as it was, or an error and its earlier output intact;
//! never a mix, and never a short file with OK.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{pseudo_random_bytes, rust_bin, rust_server, scratch, write_file};

/// 64 MiB in 1 KiB messages. The client is stopped (SIGSTOP) once its first bytes have arrived, so
/// flow control holds the server's reads tens of MiB short of the end when the fault comes.
const SIZE: usize = 64 << 20;
const CHUNK: &str = "1024";

/// Starts `idc_graph_client` writing to `output` and waits until its download is in progress
/// (its temporary file holds bytes).
fn download_in_progress(target: &str, dir: &Path, output: &Path) -> Child {
    let child = rust_bin("idc_graph_client")
        .args(["--target", target, "--output"])
        .arg(output)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + common::RUN_LIMIT;
    let receiving = || {
        fs::read_dir(dir).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    };
    while !receiving() {
        assert!(Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

/// Waits (bounded) for the client; returns its exit status and stderr.
fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + common::RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the client did not finish");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    names
}

fn graph_fault(fault: impl FnOnce(&Path)) -> (std::process::ExitStatus, String, Vec<u8>, Vec<u8>) {
    let dir = scratch();
    let served = dir.path().join("served");
    fs::create_dir(&served).unwrap();
    let original = pseudo_random_bytes(SIZE, 21);
    let source = write_file(&served, "graph.png", &original);
    let server = rust_server(&["--graph-file", source.to_str().unwrap(), "--chunk-size", CHUNK]);
    let output = write_file(dir.path(), "received.png", b"an earlier download");
    let client = download_in_progress(&server.target(), dir.path(), &output);
    signal(&client, "STOP");
    fault(&source);
    signal(&client, "CONT");
    let (status, stderr) = finish(client);
    assert_eq!(files(dir.path()), ["received.png", "served"], "no partial file is left");
    (status, stderr, fs::read(&output).unwrap(), original)
}

#[test]
fn a_graph_file_truncated_while_it_streams_is_an_error_never_a_short_file() {
    let (status, stderr, output, _) = graph_fault(|source| {
        fs::OpenOptions::new().write(true).open(source).unwrap().set_len(1000).unwrap();
    });
    assert!(!status.success(), "a truncated stream ended with OK");
    assert!(stderr.contains("ABORTED") && stderr.contains("shrank while it was being sent"), "{stderr}");
    assert_eq!(output, b"an earlier download");
}

#[test]
fn a_graph_file_written_in_place_while_it_streams_is_an_error_never_a_mix() {
    let (status, stderr, output, _) = graph_fault(|source| {
        // Same size, other bytes at the start (already sent): only the modification time tells.
        // The file was written before the server started, so the write moves its time on.
        let before = fs::metadata(source).unwrap().modified().unwrap();
        let mut file = fs::OpenOptions::new().write(true).open(source).unwrap();
        std::io::Write::write_all(&mut file, &pseudo_random_bytes(1 << 20, 22)).unwrap();
        assert_ne!(fs::metadata(source).unwrap().modified().unwrap(), before, "the write changed the time");
    });
    assert!(!status.success(), "a stream of a rewritten file ended with OK");
    assert!(stderr.contains("ABORTED") && stderr.contains("changed while it was being sent"), "{stderr}");
    assert_eq!(output, b"an earlier download");
}

#[test]
fn a_graph_file_replaced_by_a_rename_while_it_streams_arrives_as_it_was() {
    let (status, stderr, output, original) = graph_fault(|source| {
        let next = source.with_extension("next");
        fs::write(&next, b"the next chart").unwrap();
        fs::rename(&next, source).unwrap();
    });
    assert!(status.success(), "{stderr}");
    assert_eq!(output, original, "the file as it was when the call began");
}

#[test]
fn the_server_killed_mid_stream_fails_the_download_clearly_and_keeps_the_earlier_file() {
    let dir = scratch();
    let served = dir.path().join("served");
    fs::create_dir(&served).unwrap();
    let source = write_file(&served, "graph.png", &pseudo_random_bytes(SIZE, 23));
    let server = rust_server(&["--graph-file", source.to_str().unwrap(), "--chunk-size", CHUNK]);
    let output = write_file(dir.path(), "received.png", b"an earlier download");
    let client = download_in_progress(&server.target(), dir.path(), &output);
    let killed = Command::new("kill").args(["-KILL", &server.pid().to_string()]).status().unwrap();
    assert!(killed.success());
    let (status, stderr) = finish(client);
    assert!(!status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("GetMACDGraph on") && stderr.contains("UNAVAILABLE"), "{stderr}");
    assert!(stderr.contains("was left as it was"), "{stderr}");
    assert_eq!(fs::read(&output).unwrap(), b"an earlier download");
    assert_eq!(files(dir.path()), ["received.png", "served"]);
}

#[test]
fn a_fifo_as_the_graph_file_streams_what_its_writer_sends() {
    // A pipe has no size to check: it is read to its end, as before the size check.
    let dir = scratch();
    let fifo = dir.path().join("graph.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let bytes = pseudo_random_bytes(300_000, 24);
    let server = rust_server(&["--graph-file", fifo.to_str().unwrap()]);
    let writer = {
        let (fifo, bytes) = (fifo.clone(), bytes.clone());
        // Opening a FIFO for writing waits for its reader: the server, once the call arrives.
        std::thread::spawn(move || fs::write(&fifo, &bytes).unwrap())
    };
    let output = dir.path().join("received.png");
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", &server.target(), "--timeout", "30", "--output"]).arg(&output);
    common::run(cmd).assert_success("a download from a FIFO");
    writer.join().unwrap();
    assert_eq!(fs::read(&output).unwrap(), bytes);
}
