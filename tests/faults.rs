//! Faults while a graph file streams: the file truncated, written in place or replaced, and the
//! server killed. The client gets the file as it was, or an error and its earlier output intact;
//! never a mix, and never a short file with OK.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    fd_count, free_port, pseudo_random_bytes, rss_kib, rust_bin, rust_server, scrape_metrics, scratch, write_file,
};

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
    common::wait_for("the download to start", common::RUN_LIMIT, || {
        fs::read_dir(dir).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name().to_string_lossy().ends_with(".part") && e.metadata().is_ok_and(|m| m.len() > 0)
        })
    });
    child
}

/// Waits (bounded) for the client; returns its exit status and stderr.
fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let status = common::wait_bounded(&mut child, common::RUN_LIMIT)
        .unwrap_or_else(|| panic!("the client did not finish within {:?}", common::RUN_LIMIT));
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

// ---------------------------------------------------------------------------------------------
// Clients killed mid-stream, a server restarted under a client, a graph file that becomes
// unreadable, and an output folder that is full or read-only.

fn sample(samples: &std::collections::BTreeMap<String, f64>, key: &str) -> f64 {
    *samples.get(key).unwrap_or_else(|| panic!("no sample {key} among {:#?}", samples.keys()))
}

const GRAPH_IN_FLIGHT: &str = "idc_calls_in_flight{method=\"GetMACDGraph\"}";
const BYTES_SENT: &str = "idc_stream_bytes_total";
const FILE_READS: &str = "idc_graph_file_reads_total";

fn graph_calls(code: &str) -> String {
    format!("idc_calls_total{{code=\"{code}\",method=\"GetMACDGraph\"}}")
}

/// A whole download with `idc_graph_client`, which must be `expected`.
fn full_download(target: &str, output: &Path, expected: &[u8]) {
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", target, "--timeout", "60", "--output"]).arg(output);
    common::run(cmd).assert_success("a whole download");
    assert!(fs::read(output).unwrap() == expected, "the download is not byte-identical to the file");
}

/// How many clients are killed, and how long that may take in all.
const KILLED_CLIENTS: usize = 100;
const KILLING_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_hundred_clients_killed_mid_stream_leave_no_work_running_and_nothing_held() {
    let dir = scratch();
    let served = dir.path().join("served");
    fs::create_dir(&served).unwrap();
    let original = pseudo_random_bytes(SIZE, 31);
    let source = write_file(&served, "graph.png", &original);
    let metrics = format!("127.0.0.1:{}", free_port());
    // One blocking thread, which takes jobs in the order they came: the barrier below.
    let server = rust_server(&[
        "--graph-file",
        source.to_str().unwrap(),
        "--chunk-size",
        CHUNK,
        "--metrics-addr",
        &metrics,
        "--blocking-threads",
        "1",
    ]);
    let pid = server.pid();
    // Descriptors are counted while the server is quiet: before any connection, and at the end
    // once every connection has gone.
    let fds_before = fd_count(pid);

    // One whole download first: what the server allocates for its first stream is not a leak.
    let fresh = scrape_metrics(&metrics);
    full_download(&server.target(), &dir.path().join("first.png"), &original);
    common::wait_for("the first stream to end", Duration::from_secs(10), || {
        sample(&scrape_metrics(&metrics), GRAPH_IN_FLIGHT) == 0.0
    });
    let rss_before = rss_kib(pid);
    let before = scrape_metrics(&metrics);
    let whole = |key: &str| sample(&before, key) - sample(&fresh, key);

    let started = Instant::now();
    for i in 0..KILLED_CLIENTS {
        // A folder per client: its .part file shows that this client, not an earlier one, receives.
        let run = dir.path().join(format!("client-{i}"));
        fs::create_dir(&run).unwrap();
        let mut client = download_in_progress(&server.target(), &run, &run.join("received.png"));
        signal(&client, "KILL");
        client.wait().unwrap();
        assert!(started.elapsed() < KILLING_LIMIT, "{i} clients killed in {KILLING_LIMIT:?}: too slow");
    }
    let killing = started.elapsed();

    // No work goes on for the dead calls: none stays in flight, and then nothing more is read
    // or sent. Once none is in flight no job can be queued for them, and the server's one
    // blocking thread runs jobs in order: the whole download below is a barrier, whose first read
    // comes after every job the dead calls had queued. After it, the counters have moved by what
    // that download took (as much as the first one) and not a read or a byte more.
    let settle = Instant::now();
    common::wait_for("the killed streams to end", Duration::from_secs(10), || {
        sample(&scrape_metrics(&metrics), GRAPH_IN_FLIGHT) == 0.0
    });
    let ended_in = settle.elapsed();
    let ended = scrape_metrics(&metrics);
    full_download(&server.target(), &dir.path().join("barrier.png"), &original);
    common::wait_for("the barrier download to be counted", Duration::from_secs(10), || {
        let now = scrape_metrics(&metrics);
        sample(&now, GRAPH_IN_FLIGHT) == 0.0 && sample(&now, &graph_calls("OK")) == 2.0
    });
    let later = scrape_metrics(&metrics);
    let cancelled = sample(&later, &graph_calls("CANCELLED")) - before.get(&graph_calls("CANCELLED")).unwrap_or(&0.0);
    let sent_to_killed = sample(&ended, BYTES_SENT) - sample(&before, BYTES_SENT);
    println!(
        "{KILLED_CLIENTS} clients killed in {killing:?}; in flight back to 0 {ended_in:?} later; \
         {:.1} MiB sent to them in all ({:.2} MiB each), {} file reads",
        sent_to_killed / (1 << 20) as f64,
        sent_to_killed / (1 << 20) as f64 / KILLED_CLIENTS as f64,
        sample(&ended, FILE_READS) - sample(&before, FILE_READS)
    );
    let after_end = |key: &str| sample(&later, key) - sample(&ended, key);
    assert_eq!(after_end(BYTES_SENT), whole(BYTES_SENT), "bytes were sent to dead clients after their calls ended");
    assert_eq!(after_end(FILE_READS), whole(FILE_READS), "the file was read for dead clients after their calls ended");
    assert_eq!(cancelled, KILLED_CLIENTS as f64, "each killed client's call ends as CANCELLED: {later:#?}");
    assert_eq!(sample(&later, &graph_calls("OK")), 2.0, "only the whole downloads ended with OK: {later:#?}");
    // Each killed client had its first bytes, not the whole file: the streams really stopped.
    assert!(sent_to_killed < (KILLED_CLIENTS * SIZE / 4) as f64, "{sent_to_killed} bytes sent to killed clients");

    // Nothing held: the descriptors come back (each dead connection closed, each file closed).
    common::poll_until(Duration::from_secs(10), || fd_count(pid) == fds_before);
    assert_eq!(fd_count(pid), fds_before, "descriptors held after the killed clients");
    let rss_after = rss_kib(pid);
    println!("server RSS {rss_before} KiB before, {rss_after} KiB after; {fds_before} fds before and after");
    assert!(
        rss_after as f64 <= rss_before as f64 * 1.2,
        "the server grew from {rss_before} KiB to {rss_after} KiB over {KILLED_CLIENTS} killed clients"
    );
}

/// One run of a client in the restart test.
struct Attempt {
    program: &'static str,
    started: Instant,
    ended: Instant,
    out: common::Output,
    /// `idc_graph_client` only: the output file before and after the run.
    output: Option<(Vec<u8>, Vec<u8>)>,
}

/// Whether a failed client run says, in one line, that the server could not be reached.
/// One line naming the outage. The reason varies with the moment the call lands: refused while no
/// server listens, reset when it lands on a server that is stopping; the clients' round-robin
/// policy words it "connections to all backends failing", pick-first "failed to connect".
fn says_unreachable(out: &common::Output) -> bool {
    let text = out.stderr.to_lowercase();
    let reason = ["connection refused", "connection reset by peer", "failed to connect", "all backends failing"];
    out.stderr.trim_end().lines().count() == 1
        && ((text.contains("unavailable") && reason.iter().any(|r| text.contains(r)))
            || text.contains("deadline_exceeded")
            // A call the stopping server took and cancelled unanswered.
            || (text.contains("cancelled") && text.contains("probably stopping")))
}

#[test]
fn a_server_restarted_on_its_port_fails_calls_clearly_meanwhile_and_serves_them_after() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = scratch();
    let graph = pseudo_random_bytes(100_000, 33);
    let source = write_file(dir.path(), "graph.png", &graph);
    let server_args = ["--graph-file", source.to_str().unwrap()];
    let first = rust_server(&server_args);
    let (port, target) = (first.port, first.target());
    let output = write_file(dir.path(), "received.png", b"an earlier download");

    // A client loop, as a user retrying would: GetMACD and GetMACDGraph in turn, each with
    // --timeout 2, back to back, while the server goes away and comes back.
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let looper = {
        let (stop, attempts, output) = (Arc::clone(&stop), Arc::clone(&attempts), output.clone());
        std::thread::spawn(move || {
            let mut graph_turn = false;
            while !stop.load(Ordering::Relaxed) {
                let program = if graph_turn { "idc_graph_client" } else { "idc_client" };
                let mut cmd = rust_bin(program);
                cmd.args(["--target", &target, "--timeout", "2"]);
                if graph_turn {
                    cmd.arg("--output").arg(&output);
                }
                let before = graph_turn.then(|| fs::read(&output).unwrap());
                let started = Instant::now();
                let out = common::run(cmd);
                let ended = Instant::now();
                let output = before.map(|before| (before, fs::read(&output).unwrap()));
                attempts.lock().unwrap().push(Attempt { program, started, ended, out, output });
                graph_turn = !graph_turn;
            }
        })
    };
    let count = |from: Instant| attempts.lock().unwrap().iter().filter(|a| a.started >= from).count();
    let wait_for_attempts = |what: &str, from: Instant| {
        common::wait_for(what, Duration::from_secs(60), || count(from) >= 4);
    };

    let began = Instant::now();
    wait_for_attempts("calls to the first server", began);
    let stopping = Instant::now();
    let (status, _) = first.stop_with("TERM");
    assert!(status.success(), "the first server's exit: {status}");
    let stopped = Instant::now();
    wait_for_attempts("calls during the outage", stopped);
    let restarting = Instant::now();
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]).args(server_args);
    let second = common::Server::start(cmd);
    assert_eq!(second.port, port, "the restarted server listens on the same port");
    let restarted = Instant::now();
    wait_for_attempts("calls to the restarted server", restarted);
    stop.store(true, Ordering::Relaxed);
    looper.join().unwrap();

    let attempts = attempts.lock().unwrap();
    let (mut up, mut down, mut between) = (0, 0, 0);
    for a in attempts.iter() {
        let what = format!("{} started {:?} after the first call", a.program, a.started - began);
        if a.out.status.success() {
            if let Some((_, after)) = &a.output {
                assert!(*after == graph, "{what}: OK, but the output is not the graph");
            }
        } else {
            assert_eq!(a.out.status.code(), Some(1), "{what}: {:?}", a.out);
            assert!(says_unreachable(&a.out), "{what}: not one clear line: {:?}", a.out.stderr);
            if let Some((before, after)) = &a.output {
                assert!(before == after, "{what}: the earlier output was not kept");
                assert!(a.out.stderr.contains("was left as it was"), "{what}: {}", a.out.stderr);
            }
        }
        if a.ended < stopping || a.started >= restarted {
            assert!(a.out.status.success(), "{what}, while a server ran: {:?}", a.out);
            up += 1;
        } else if a.started >= stopped && a.ended < restarting {
            assert!(!a.out.status.success(), "{what}: OK while no server ran");
            down += 1;
        } else {
            // Across a stop or a start: either outcome, but a failure is as clear as above.
            between += 1;
        }
    }
    let example = attempts.iter().find(|a| !a.out.status.success()).map(|a| a.out.stderr.trim_end().to_string());
    println!("{up} calls while a server ran, {down} in the outage, {between} across a change; e.g.: {example:?}");
    assert!(down >= 4, "{down} calls in the outage");
    assert!(up >= 8, "{up} calls while a server ran");
}

extern "C" {
    fn ioctl(fd: std::os::raw::c_int, request: std::os::raw::c_ulong, ...) -> std::os::raw::c_int;
    fn geteuid() -> u32;
}

/// `EXT4_IOC_SHUTDOWN` (`_IOR('X', 125, __u32)`, the same number as XFS's `GOINGDOWN`): the file
/// system stops, and from then on every read of every file on it, open or not, cached or not,
/// fails with EIO. That is what a disk that dies under a server looks like to it.
const EXT4_IOC_SHUTDOWN: std::os::raw::c_ulong = (2 << 30) | (4 << 16) | ((b'X' as std::os::raw::c_ulong) << 8) | 125;
/// Stop at once, without flushing the journal (nothing was written).
const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;

/// What the mechanism below needs, for the failure message when it is missing.
const NEEDS_ROOT: &str = "this test mounts an ext4 image on a loop device in a private mount namespace: it needs \
     root with CAP_SYS_ADMIN and loop devices (a VM or CI runner as root, or `docker run --privileged`), \
     util-linux's unshare and mount, and mkfs.ext4 (`apt-get install -y --no-install-recommends e2fsprogs`)";

/// An ext4 image holding `bytes` as `name`, made without mounting anything (`mkfs.ext4 -d`).
fn ext4_image(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let content = dir.join("image-content");
    fs::create_dir(&content).unwrap();
    write_file(&content, name, bytes);
    let image = dir.join("graph.ext4");
    let size = format!("{}M", bytes.len() / (1 << 20) + 32);
    let made = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&content)
        .arg(&image)
        .arg(&size)
        .output()
        .unwrap_or_else(|e| panic!("cannot run mkfs.ext4 ({e}); {NEEDS_ROOT}"));
    assert!(made.status.success(), "mkfs.ext4 failed: {}; {NEEDS_ROOT}", String::from_utf8_lossy(&made.stderr));
    fs::remove_dir_all(&content).unwrap();
    image
}

#[test]
fn a_graph_file_that_becomes_unreadable_while_it_streams_is_an_error_and_the_earlier_file_stays() {
    let dir = scratch();
    let original = pseudo_random_bytes(SIZE, 35);
    let image = ext4_image(dir.path(), "graph.png", &original);
    let mount_point = dir.path().join("mnt");
    fs::create_dir(&mount_point).unwrap();
    let graph = mount_point.join("graph.png");

    // The server runs in a mount namespace of its own, where the image is mounted: the mount goes
    // away with the server, whatever becomes of the test.
    const MOUNT_AND_SERVE: &str = r#"mount -o loop "$1" "$2" || exit 97; shift 2; exec "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", MOUNT_AND_SERVE, "sh"])
        .arg(&image)
        .arg(&mount_point)
        .arg(env!("CARGO_BIN_EXE_idc_server"))
        .args(["--host", "127.0.0.1", "--port", "0", "--chunk-size", CHUNK, "--graph-file"])
        .arg(&graph)
        .env("RUST_LOG", "warn");
    let (server, exited) = common::start_or_exit(cmd);
    let server = server.unwrap_or_else(|| panic!("the server did not start: {exited:?}\n{NEEDS_ROOT}"));

    let output = write_file(dir.path(), "received.png", b"an earlier download");
    let client = download_in_progress(&server.target(), dir.path(), &output);
    signal(&client, "STOP");
    // The server's view of the file, through its own mount namespace.
    let seen = Path::new(&format!("/proc/{}/root", server.pid())).join(graph.strip_prefix("/").unwrap());
    let file = fs::File::open(&seen).unwrap_or_else(|e| panic!("{}: {e}", seen.display()));
    let flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
    // SAFETY: a valid descriptor, a request that reads one u32 from a pointer to a live u32.
    let done = unsafe { ioctl(std::os::fd::AsRawFd::as_raw_fd(&file), EXT4_IOC_SHUTDOWN, &flags as *const u32) };
    assert_eq!(done, 0, "EXT4_IOC_SHUTDOWN: {}; {NEEDS_ROOT}", std::io::Error::last_os_error());
    let read = std::io::Read::read(&mut &file, &mut [0; 4096]);
    assert_eq!(read.map_err(|e| e.raw_os_error()).unwrap_err(), Some(5), "reads fail with EIO from now on");
    signal(&client, "CONT");
    let (status, stderr) = finish(client);
    println!("{}", stderr.trim_end());

    assert!(!status.success(), "a stream from an unreadable file ended with OK");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("INTERNAL") && stderr.contains("cannot read graph file"), "{stderr}");
    assert!(stderr.contains("Input/output error"), "{stderr}");
    assert!(stderr.contains("was left as it was"), "{stderr}");
    assert_eq!(fs::read(&output).unwrap(), b"an earlier download");
    assert_eq!(files(dir.path()), ["graph.ext4", "mnt", "received.png"], "no partial file is left");
}

/// Runs `idc_graph_client` against `server` with its output in a fresh 1 MiB tmpfs that already
/// holds `earlier` as the output file, made read-only first if `read_only`. Returns the run, the
/// output file afterwards and the folder's listing.
///
/// As root the tmpfs is mounted in a private mount namespace (chmod does not stop root from
/// writing); otherwise in a user namespace of its own, where the user may mount one. Read-only is
/// the mount's flag (`remount,bind,ro`), which a user namespace may set, unlike a remount of the
/// tmpfs itself.
fn graph_client_in_small_tmpfs(
    server: &common::Server,
    earlier: &[u8],
    read_only: bool,
) -> (common::Output, Vec<u8>, String) {
    const SCRIPT: &str = r#"
dir=$1 earlier=$2 copy=$3 mode=$4
shift 4
mount -t tmpfs -o size=1m idc-faults "$dir" || exit 97
cp "$earlier" "$dir/received.png" || exit 98
if [ "$mode" = read-only ]; then mount -o remount,bind,ro "$dir" || exit 97; fi
"$@" --output "$dir/received.png" >/dev/null
status=$?
cp "$dir/received.png" "$copy" || exit 98
ls -A "$dir"
exit "$status"
"#;
    let dir = scratch();
    let folder = dir.path().join("small");
    fs::create_dir(&folder).unwrap();
    let earlier_file = write_file(dir.path(), "earlier.png", earlier);
    let copy = dir.path().join("after.png");
    let mut cmd = Command::new("unshare");
    // SAFETY: geteuid has no preconditions.
    if unsafe { geteuid() } != 0 {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh"])
        .arg(&folder)
        .arg(&earlier_file)
        .arg(&copy)
        .arg(if read_only { "read-only" } else { "writable" })
        .arg(env!("CARGO_BIN_EXE_idc_graph_client"))
        .args(["--target", &server.target(), "--timeout", "30"])
        .env("RUST_LOG", "warn");
    let out = common::run(cmd);
    assert!(
        !matches!(out.status.code(), Some(97 | 98)),
        "cannot set up the small tmpfs: {}\nthis test mounts a tmpfs in a private mount namespace: it needs root \
         with CAP_SYS_ADMIN, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1), and \
         util-linux's unshare",
        out.stderr
    );
    let after = fs::read(&copy).unwrap();
    let listing = out.stdout_text();
    (out, after, listing)
}

#[test]
fn a_full_disk_fails_the_download_clearly_and_keeps_the_earlier_file() {
    let dir = scratch();
    // 4 MiB into a 1 MiB file system that already holds a 256 KiB file.
    let source = write_file(dir.path(), "graph.png", &pseudo_random_bytes(4 << 20, 36));
    let server = rust_server(&["--graph-file", source.to_str().unwrap()]);
    let earlier = pseudo_random_bytes(256 << 10, 37);
    let (out, after, listing) = graph_client_in_small_tmpfs(&server, &earlier, false);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = out.stderr.trim_end();
    println!("{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("idc_graph_client: cannot write "), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("was left as it was"), "{stderr}");
    // The message names the user's file, not the hidden temporary file the bytes went to.
    assert!(!stderr.contains(".part"), "{stderr}");
    assert!(after == earlier, "the earlier output changed");
    assert_eq!(listing, "received.png\n", "no partial file is left");
}

#[test]
fn a_read_only_folder_fails_the_download_clearly_and_keeps_the_earlier_file() {
    let dir = scratch();
    let source = write_file(dir.path(), "graph.png", &pseudo_random_bytes(100_000, 38));
    let server = rust_server(&["--graph-file", source.to_str().unwrap()]);
    let earlier = pseudo_random_bytes(100_000, 39);
    let (out, after, listing) = graph_client_in_small_tmpfs(&server, &earlier, true);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = out.stderr.trim_end();
    println!("{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("idc_graph_client: cannot write "), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(after == earlier, "the earlier output changed");
    assert_eq!(listing, "received.png\n");
}
