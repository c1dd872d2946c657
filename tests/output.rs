//! Where `idc_graph_client --output` and `idc_server --render-chart` write: the mode of a new file
//! (the umask's), symbolic links (followed, and kept), stdout, devices and FIFOs (written
//! directly), folders and read-only files (refused), and signals mid-download (no `.part` left).

mod common;

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::{pseudo_random_bytes, run, rust_server, scratch, write_file, Server};

/// The first bytes of every PNG.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A short range of the embedded sample at the smallest size: a quick render.
const RENDER: [&str; 6] = ["--start-date", "2018-01-01", "--end-date", "2018-03-31", "--chart-size", "320x240"];

/// A program run through bash with `umask` set first.
fn with_umask(umask: &str, program: &str) -> Command {
    let mut cmd = Command::new("bash");
    cmd.env("RUST_LOG", "warn").args(["-c", &format!("umask {umask}; exec \"$0\" \"$@\""), program]);
    cmd
}

fn graph_client_cmd(umask: &str, server: &Server, output: &Path) -> Command {
    let mut cmd = with_umask(umask, env!("CARGO_BIN_EXE_idc_graph_client"));
    cmd.args(["--target", &server.target(), "--output"]).arg(output);
    cmd
}

fn graph_client(server: &Server, output: &Path) -> common::Output {
    run(graph_client_cmd("022", server, output))
}

fn render_chart_cmd(umask: &str, output: &Path) -> Command {
    let mut cmd = with_umask(umask, env!("CARGO_BIN_EXE_idc_server"));
    cmd.args(RENDER).arg("--render-chart").arg(output);
    cmd
}

fn render_chart(output: &Path) -> common::Output {
    run(render_chart_cmd("022", output))
}

/// A server streaming `bytes` as its graph file, kept in `dir`.
fn graph_server(dir: &Path, bytes: &[u8]) -> Server {
    let source = write_file(dir, "source.bin", bytes);
    rust_server(&["--graph-file", source.to_str().unwrap()])
}

/// The chart `render_chart` writes, rendered once into a file of its own.
fn expected_chart() -> Vec<u8> {
    let dir = scratch();
    let out = dir.path().join("expected.png");
    render_chart(&out).assert_success("idc_server --render-chart");
    let png = fs::read(&out).unwrap();
    assert!(png.starts_with(PNG_SIGNATURE));
    png
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn is_symlink_to(link: &Path, target: &str) -> bool {
    fs::symlink_metadata(link).unwrap().file_type().is_symlink() && fs::read_link(link).unwrap() == Path::new(target)
}

#[test]
fn a_new_output_follows_the_umask_and_a_replaced_one_keeps_its_mode() {
    let dir = scratch();
    let server = graph_server(dir.path(), b"chart");
    for (umask, expected) in [("077", 0o600), ("002", 0o664), ("022", 0o644)] {
        let received = dir.path().join(format!("received-{umask}.png"));
        run(graph_client_cmd(umask, &server, &received)).assert_success("idc_graph_client");
        assert_eq!(mode(&received), expected, "idc_graph_client under umask {umask}");
        assert_eq!(fs::read(&received).unwrap(), b"chart");

        let rendered = dir.path().join(format!("rendered-{umask}.png"));
        run(render_chart_cmd(umask, &rendered)).assert_success("idc_server --render-chart");
        assert_eq!(mode(&rendered), expected, "--render-chart under umask {umask}");
    }
    // A file that exists keeps its mode, whatever the umask.
    for (umask, old) in [("002", 0o640), ("077", 0o604)] {
        let received = write_file(dir.path(), "kept.png", b"old");
        fs::set_permissions(&received, fs::Permissions::from_mode(old)).unwrap();
        run(graph_client_cmd(umask, &server, &received)).assert_success("idc_graph_client");
        assert_eq!((mode(&received), fs::read(&received).unwrap()), (old, b"chart".to_vec()));
        fs::remove_file(&received).unwrap();
    }
}

#[test]
fn a_symlinked_output_replaces_its_target_and_keeps_the_link() {
    let dir = scratch();
    let server = graph_server(dir.path(), b"new chart");
    let chart = expected_chart();
    let folder = dir.path().join("charts");
    fs::create_dir(&folder).unwrap();
    for (name, write) in [("graph", true), ("render", false)] {
        let target = write_file(&folder, &format!("{name}.png"), b"old");
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join(format!("{name}-link.png"));
        let relative = format!("charts/{name}.png");
        symlink(&relative, &link).unwrap();
        // A chain of links ends at the same file.
        let chain = dir.path().join(format!("{name}-chain.png"));
        symlink(link.file_name().unwrap(), &chain).unwrap();
        for output in [&link, &chain] {
            fs::write(&target, b"old").unwrap();
            if write {
                graph_client(&server, output).assert_success("idc_graph_client --output LINK");
            } else {
                render_chart(output).assert_success("idc_server --render-chart LINK");
            }
            assert!(is_symlink_to(&link, &relative), "{name}: the link is kept");
            let expected = if write { b"new chart".to_vec() } else { chart.clone() };
            assert!(
                fs::read(&target).unwrap() == expected,
                "{name} through {}: the target is written",
                output.display()
            );
            assert_eq!(mode(&target), 0o640, "{name}: the target keeps its mode");
        }
        // A dangling link: its target is created, as Python's open() creates it.
        let dangling = dir.path().join(format!("{name}-dangling.png"));
        let missing = format!("charts/{name}-new.png");
        symlink(&missing, &dangling).unwrap();
        if write {
            graph_client(&server, &dangling).assert_success("idc_graph_client --output DANGLING");
        } else {
            render_chart(&dangling).assert_success("idc_server --render-chart DANGLING");
        }
        assert!(is_symlink_to(&dangling, &missing));
        assert!(fs::read(dir.path().join(&missing)).unwrap().len() > 3);
    }
    assert_eq!(names(&folder), ["graph-new.png", "graph.png", "render-new.png", "render.png"], "no .part file");
}

#[test]
fn a_dash_writes_the_png_to_stdout_and_the_banner_to_stderr() {
    let dir = scratch();
    let bytes = pseudo_random_bytes(100_000, 9);
    let server = graph_server(dir.path(), &bytes);
    // Run in the scratch folder, where a file named `-` would show.
    let mut cmd = graph_client_cmd("022", &server, Path::new("-"));
    cmd.current_dir(dir.path());
    let out = run(cmd);
    out.assert_success("idc_graph_client --output -");
    assert!(out.stdout == bytes, "stdout carries the PNG and nothing else ({} bytes)", out.stdout.len());
    assert_eq!(out.stderr, "indicator client received: \n");

    let chart = expected_chart();
    let mut cmd = render_chart_cmd("022", Path::new("-"));
    cmd.current_dir(dir.path());
    let out = run(cmd);
    out.assert_success("idc_server --render-chart -");
    assert!(out.stdout == chart, "stdout carries the chart ({} bytes)", out.stdout.len());
    assert_eq!(names(dir.path()), ["source.bin"], "no file named -");
}

#[test]
fn stdout_named_by_a_path_is_written_directly_and_never_replaced() {
    let dir = scratch();
    let bytes = pseudo_random_bytes(10_000, 11);
    let server = graph_server(dir.path(), &bytes);
    let chart = expected_chart();
    // What `--render-chart /dev/stdout` does, in a folder of the test's own: a link to
    // /dev/stdout, and /proc/self/fd/1 itself. With stdout a pipe, both reach that pipe.
    let link = dir.path().join("stdout.png");
    symlink("/dev/stdout", &link).unwrap();
    for output in [link.as_path(), Path::new("/proc/self/fd/1")] {
        let out = graph_client(&server, output);
        out.assert_success("idc_graph_client --output STDOUT");
        assert!(out.stdout == bytes, "{}: stdout carries the PNG ({} bytes)", output.display(), out.stdout.len());
        assert_eq!(out.stderr, "indicator client received: \n", "the banner moves to stderr");

        let out = render_chart(output);
        out.assert_success("idc_server --render-chart STDOUT");
        assert!(out.stdout == chart, "{}: stdout carries the chart ({} bytes)", output.display(), out.stdout.len());
        assert!(is_symlink_to(&link, "/dev/stdout"));
    }
    assert_eq!(names(dir.path()), ["source.bin", "stdout.png"]);
}

#[test]
fn a_character_device_is_written_directly() {
    let dir = scratch();
    let server = graph_server(dir.path(), b"chart");
    let null = dir.path().join("null.png");
    symlink("/dev/null", &null).unwrap();
    graph_client(&server, &null).assert_success("idc_graph_client --output LINK-TO-/dev/null");
    assert!(is_symlink_to(&null, "/dev/null"));
    render_chart(&null).assert_success("idc_server --render-chart LINK-TO-/dev/null");
    assert!(is_symlink_to(&null, "/dev/null"));
    assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    assert_eq!(names(dir.path()), ["null.png", "source.bin"]);
}

/// Makes a FIFO at `path` and reads it to its end on another thread.
fn fifo_reader(path: &Path) -> mpsc::Receiver<Vec<u8>> {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
    let (tx, rx) = mpsc::channel();
    let path: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        // Opening blocks until a writer opens the FIFO too; reading ends when it closes.
        let _ = tx.send(fs::read(&path).unwrap());
    });
    rx
}

#[test]
fn a_fifo_is_written_directly() {
    let dir = scratch();
    let bytes = pseudo_random_bytes(300_000, 13);
    let server = graph_server(dir.path(), &bytes);
    let chart = expected_chart();
    let fifo = dir.path().join("pipe.png");

    let read = fifo_reader(&fifo);
    graph_client(&server, &fifo).assert_success("idc_graph_client --output FIFO");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is kept");
    let received = read.recv_timeout(Duration::from_secs(30)).expect("the reader got the stream");
    assert!(received == bytes, "{} bytes through the FIFO", received.len());
    fs::remove_file(&fifo).unwrap();

    let read = fifo_reader(&fifo);
    render_chart(&fifo).assert_success("idc_server --render-chart FIFO");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is kept");
    let received = read.recv_timeout(Duration::from_secs(30)).expect("the reader got the chart");
    assert!(received == chart, "{} bytes through the FIFO", received.len());
    assert_eq!(names(dir.path()), ["pipe.png", "source.bin"]);
}

#[test]
fn a_folder_or_a_link_to_one_is_refused() {
    let dir = scratch();
    let server = graph_server(dir.path(), b"chart");
    let folder = dir.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let link = dir.path().join("folder-link.png");
    symlink("folder", &link).unwrap();
    for output in [&folder, &link] {
        let out = render_chart(output);
        assert!(!out.status.success(), "--render-chart {} was accepted", output.display());
        let says = format!("cannot write {}: it is a folder", output.display());
        assert!(out.stderr.contains(&says), "{}", out.stderr);

        let out = graph_client(&server, output);
        assert!(!out.status.success(), "--output {} was accepted", output.display());
        assert!(out.stderr.contains(&says), "{}", out.stderr);
    }
    assert!(is_symlink_to(&link, "folder"), "the link is kept");
    assert_eq!(names(&folder), Vec::<String>::new());
    assert_eq!(names(dir.path()), ["folder", "folder-link.png", "source.bin"]);
}

#[test]
fn a_read_only_output_is_refused_and_kept() {
    let dir = scratch();
    let server = graph_server(dir.path(), b"chart");
    let locked = write_file(dir.path(), "locked.png", b"keep me");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
    let link = dir.path().join("link.png");
    symlink("locked.png", &link).unwrap();
    for output in [&locked, &link] {
        for (out, flag) in [(graph_client(&server, output), "--output"), (render_chart(output), "--render-chart")] {
            assert!(!out.status.success(), "{flag} {} was accepted", output.display());
            assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
            assert!(out.stderr.contains(&format!("cannot write {}", output.display())), "{}", out.stderr);
            assert!(out.stderr.contains("is read-only (mode 0444)"), "{}", out.stderr);
            assert!(out.stderr.contains(&format!("chmod u+w {}", locked.display())), "{}", out.stderr);
            assert!(out.stderr.contains(&format!("another {flag}")), "{}", out.stderr);
        }
        assert_eq!((fs::read(&locked).unwrap(), mode(&locked)), (b"keep me".to_vec(), 0o444));
    }
    assert_eq!(names(dir.path()), ["link.png", "locked.png", "source.bin"]);
}
