//! v2 faults on the disk, through the real `idc_server` process (issue 25, "Faults"):
//!
//! * the catalog directory on a full disk (a 1 MiB tmpfs in a private mount namespace, filled by
//!   the test): every push that cannot be made durable is refused with `RESOURCE_EXHAUSTED` or
//!   `UNAVAILABLE`, nothing of it is written, Compute serves exactly what it served before, the
//!   files still load; once space is freed the same push is taken;
//! * a full disk while a push that was made durable is written into its instrument's file: the
//!   file stays whole, and the user's own file, which idc copies aside before its first rewrite,
//!   is kept whole too;
//! * catalog files replaced with garbage, truncated (mid-row, to nothing) and made unreadable
//!   (replaced by a mode-000 file; chmod 000 in place, then SIGHUP) while served: each keeps its
//!   last good version served, and each reason is logged and counted in
//!   `idc_catalog_reloads_total{outcome="failed"}`.
//!
//! SIGKILL during pushes is tests/v2_durability.rs (50 rounds). Subscribers while a replica
//! drains behind nginx are tests/v2_faults_drain.rs.
//!
//! Root ignores file modes (CAP_DAC_OVERRIDE), so as root (CI) the catalog server runs as
//! `nobody` (`setpriv`), as a service would; the tmpfs needs root or an unprivileged user
//! namespace, and a missing one fails the test, never skips it.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::live::{self, PUSH_TOKEN};
use common::{free_port, poll_until, scrape_metrics, start_or_exit, wait_for, Server};
use grpcio::RpcStatusCode;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// How long a gate waits: a fold (every 200 ms), a catalog scan (within 2 s), a start.
const GATE: Duration = Duration::from_secs(10);
const PAGE: u64 = 4096;

/// Each symbol's bars, as pushed and loaded.
type Model = BTreeMap<String, Vec<pb::Bar>>;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `path` as the process `pid` sees it, through its own mount namespace.
fn seen_by(pid: u32, path: &Path) -> PathBuf {
    Path::new(&format!("/proc/{pid}/root")).join(path.strip_prefix("/").unwrap())
}

/// (total, free) blocks of the file system holding `path`, and its block size.
fn blocks(path: &Path) -> (u64, u64, u64) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string and a zeroed statvfs for the call to fill.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut s) }, 0, "statvfs {}", path.display());
    (s.f_blocks as u64, s.f_bavail as u64, s.f_bsize as u64)
}

/// A server on `DIR`, a fresh 1 MiB tmpfs in a mount namespace of its own holding a copy of
/// `seed`'s files; its stderr goes to `log`. Returns the server and `DIR`.
fn server_on_small_tmpfs(scratch: &Path, seed: &Path, log: &Path) -> (Server, PathBuf) {
    const SCRIPT: &str = r#"dir=$1 seed=$2 log=$3; shift 3
mount -t tmpfs -o size=1m idc-v2-faults "$dir" || exit 97
cp -p "$seed"/* "$dir"/ || exit 98
exec "$@" 2>>"$log""#;
    let dir = scratch.join("data");
    fs::create_dir(&dir).unwrap();
    let token = common::token_file(scratch, "push.token", PUSH_TOKEN);
    let mut cmd = Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh"]).args([&dir, seed, log]);
    cmd.arg(env!("CARGO_BIN_EXE_idc_server")).args(["--host", "127.0.0.1", "--port", "0", "--data"]);
    cmd.arg(&dir).arg("--push-token-file").arg(&token).env("RUST_LOG", "warn");
    let (server, exited) = start_or_exit(cmd);
    let server = server.unwrap_or_else(|| {
        panic!(
            "the server on a small tmpfs did not start: {exited:?}; {}\nthis test mounts a tmpfs in a private \
             mount namespace: it needs root with CAP_SYS_ADMIN, or unprivileged user namespaces \
             (sysctl kernel.unprivileged_userns_clone=1), and util-linux's unshare",
            fs::read_to_string(log).unwrap_or_default()
        )
    });
    let inside = seen_by(server.pid(), &dir);
    let (total, _, size) = blocks(&inside);
    // Never fill anything but the test's own small tmpfs.
    assert!(total * size <= 2 << 20, "{} is not the 1 MiB tmpfs: {total} blocks of {size}", inside.display());
    (server, inside)
}

/// Fills the file system of `dir` with `DIR/.filler` (a dot file, which the catalog never lists)
/// until it is full, in whole pages; returns the filler.
fn fill(dir: &Path) -> fs::File {
    let mut filler = fs::File::create(dir.join(".filler")).unwrap();
    for _ in 0..1024 {
        match filler.write(&[0x5a; PAGE as usize]) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                let len = filler.metadata().unwrap().len();
                filler.set_len(len / PAGE * PAGE).unwrap();
                // The page a short write began may be free again: take it.
                if blocks(dir).1 > 0 {
                    let _ = filler.write(&[0x5a; PAGE as usize]);
                }
                assert_eq!(blocks(dir).1, 0, "{} is full", dir.display());
                return filler;
            }
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    panic!("{} did not fill within 4 MiB", dir.display());
}

/// Every file of `dir` but the filler: its name and bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let names = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
    names.filter(|n| n != ".filler").map(|n| (n.clone(), fs::read(dir.join(&n)).unwrap())).collect()
}

/// The bars of an instrument file, as idc's CSV loader reads them.
fn file_bars(path: &Path) -> Vec<pb::Bar> {
    let bytes = fs::read(path).unwrap();
    let name = path.display().to_string();
    let table = idc::domain::bar::parse_table(&name, &bytes, idc::domain::bar::Delimiter::Auto)
        .unwrap_or_else(|e| panic!("the CSV loader refuses {name}: {e}"));
    let row = |b: &idc::domain::bar::Bar| live::ohlcv(&b.date.to_string(), b.open, b.high, b.low, b.close, b.volume);
    table.bars.iter().map(row).collect()
}

fn same_bars(a: &[pb::Bar], b: &[pb::Bar]) -> bool {
    let key = |b: &pb::Bar| (b.date.clone(), b.open, b.high, b.low, b.close, b.volume);
    a.iter().map(key).eq(b.iter().map(key))
}

/// Compute serves exactly `model`, every symbol and no other.
fn assert_served(client: &IndicatorsClient, model: &Model, what: &str) {
    let all = live::compute(client, &pb::ComputeRequest::default()).unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let symbols: Vec<&String> = all.iter().map(|s| &s.symbol).collect();
    assert_eq!(symbols, model.keys().collect::<Vec<_>>(), "{what}: the symbols served");
    for series in &all {
        if let Some(d) = live::history_difference(series, &model[&series.symbol]) {
            panic!("{what}: {}: {d}", series.symbol);
        }
    }
}

/// Waits until the pushes are folded: an empty journal, and each file holding its model.
fn wait_folded(dir: &Path, model: &Model, what: &str) {
    let folded = poll_until(GATE, || {
        fs::metadata(dir.join(".idc-journal")).is_ok_and(|m| m.len() == 0)
            && model.iter().all(|(s, bars)| {
                let path = dir.join(format!("{s}.csv"));
                path.exists() && same_bars(&file_bars(&path), bars)
            })
    });
    assert!(folded, "{what}: the pushes were not written into their files within {GATE:?}: {:?}", files(dir).keys());
}

fn seed_dir(scratch: &Path, files: &[(&str, String)]) -> PathBuf {
    let seed = scratch.join("seed");
    fs::create_dir(&seed).unwrap();
    for (name, text) in files {
        fs::write(seed.join(name), text).unwrap();
    }
    seed
}

#[test]
fn pushes_on_a_full_disk_are_refused_whole_and_taken_again_once_there_is_space() {
    let scratch = common::scratch();
    let history = live::walk(&live::weekdays("2024-01-01", 30), 51);
    let seed = seed_dir(scratch.path(), &[("AAA.csv", live::csv_text(&history[..20], false))]);
    let log = scratch.path().join("server.log");
    let (server, dir) = server_on_small_tmpfs(scratch.path(), &seed, &log);
    let client = IndicatorsClient::new(common::channel(&server.target()));

    // Pushes while there is room: an append, and a new symbol.
    let mut model = Model::from([("AAA".into(), history[..22].to_vec())]);
    live::push(&client, "AAA", &history[20..22], false).expect("a push with room on the disk");
    let other = live::walk(&live::weekdays("2024-03-01", 5), 52);
    live::push(&client, "BBB", &other[..3], false).expect("a new symbol with room on the disk");
    model.insert("BBB".into(), other[..3].to_vec());
    wait_folded(&dir, &model, "before the disk is full");
    let before = files(&dir);

    let filler = fill(&dir);
    let refused: [(&str, &[pb::Bar], bool); 4] = [
        ("AAA", &history[22..24], false),                   // an append
        ("AAA", std::slice::from_ref(&history[21]), false), // a revision of the last bar
        ("CCC", &other[..2], false),                        // a new symbol
        ("BBB", &other[3..4], true),                        // a forming bar
    ];
    for (symbol, bars, forming) in refused {
        let what = format!("a push to {symbol} on the full disk (forming {forming})");
        let (code, message) = live::push(&client, symbol, bars, forming).expect_err(&what);
        println!("{what}: {code:?} {message}");
        assert!([RpcStatusCode::RESOURCE_EXHAUSTED, RpcStatusCode::UNAVAILABLE].contains(&code), "{what}: {code:?}");
        assert!(
            message.contains("could not be made durable") && message.contains("No space left"),
            "{what}: {message}"
        );
        assert_served(&client, &model, &format!("after {what}"));
    }
    // Nothing half-written: the directory holds what it held, byte for byte, and loads.
    assert_eq!(files(&dir), before, "the files after the refused pushes");
    for (symbol, bars) in &model {
        assert!(same_bars(&file_bars(&dir.join(format!("{symbol}.csv"))), bars), "{symbol}.csv");
    }

    drop(filler);
    fs::remove_file(dir.join(".filler")).unwrap();
    live::push(&client, "AAA", &history[22..24], false).expect("the same push once there is space");
    live::push(&client, "CCC", &other[..2], false).expect("the new symbol once there is space");
    model.get_mut("AAA").unwrap().extend_from_slice(&history[22..24]);
    model.insert("CCC".into(), other[..2].to_vec());
    assert_served(&client, &model, "after space was freed");
    wait_folded(&dir, &model, "after space was freed");
    let (status, _) = server.stop_with("TERM");
    assert!(status.success(), "the server drains and exits 0: {status}");
    let log = fs::read_to_string(&log).unwrap();
    let warned = log.lines().filter(|l| l.contains("PushBars: the push could not be made durable")).count();
    assert_eq!(warned, 4, "each refused push is logged:\n{log}");
}

#[test]
fn a_full_disk_while_a_push_is_written_into_its_file_keeps_the_file_and_the_users_original_whole() {
    let scratch = common::scratch();
    // The user's own file, in columns idc does not write (tushare's `amount`): before its first
    // rewrite idc copies it aside as `.AAA.csv.orig`. 2000 rows, ~90 KiB: many pages to copy.
    let history = live::walk(&live::weekdays("2010-01-01", 2001), 53);
    let mut original = String::from("date,open,high,low,close,volume,amount\n");
    for b in &history[..2000] {
        original.push_str(&format!("{},{},{},{},{},{},{}\n", b.date, b.open, b.high, b.low, b.close, b.volume, 7.5));
    }
    let seed = seed_dir(scratch.path(), &[("AAA.csv", original.clone())]);
    let log_path = scratch.path().join("server.log");
    let (server, dir) = server_on_small_tmpfs(scratch.path(), &seed, &log_path);
    let client = IndicatorsClient::new(common::channel(&server.target()));

    // Full but one page: room for the push's journal record, none to write the file.
    let filler = fill(&dir);
    filler.set_len(filler.metadata().unwrap().len() - PAGE).unwrap();
    assert_eq!(blocks(&dir).1, 1, "one free page");
    live::push(&client, "AAA", &history[2000..], false).expect("a push whose journal record fits");
    let model = Model::from([("AAA".into(), history.clone())]);
    assert_served(&client, &model, "the push, acknowledged");
    let log = || fs::read_to_string(&log_path).unwrap_or_default();
    let failed_folds = || log().matches("writing pushed bars into their files: ").count();
    wait_for("two writes of the file to fail for want of space", GATE, || failed_folds() >= 2);
    assert!(log().contains("No space left on device"), "{}", log());
    assert_eq!(fs::read_to_string(dir.join("AAA.csv")).unwrap(), original, "AAA.csv while the disk is full");
    let left: Vec<String> = files(&dir).into_keys().filter(|n| n.starts_with(".idc-write")).collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");

    drop(filler);
    fs::remove_file(dir.join(".filler")).unwrap();
    wait_folded(&dir, &model, "once there is space");
    assert_served(&client, &model, "once there is space");
    // Read before the server stops: its tmpfs goes with its mount namespace.
    let kept = fs::read_to_string(dir.join(".AAA.csv.orig")).unwrap_or_else(|e| format!("unreadable: {e}"));
    let (status, _) = server.stop_with("TERM");
    assert!(status.success(), "the server drains and exits 0: {status}");
    // Last, so that everything above is checked whatever this says.
    assert!(
        kept == original,
        "the user's original AAA.csv, copied aside before its first rewrite, is {} bytes of {}: the copy that \
         the full disk cut short was kept as the original",
        kept.len(),
        original.len()
    );
}

// ---- catalog files broken while served ----

/// `idc_server --data DIR --metrics-addr ...`, its stderr to `log`; as root run as `nobody`, whom
/// file modes bind, from a copy in `DIR`'s parent (the checkout may be in a folder only root may
/// enter). Returns the server and its metrics address.
fn catalog_server(dir: &Path, log: &Path) -> (Server, String) {
    let mut binary = PathBuf::from(env!("CARGO_BIN_EXE_idc_server"));
    if is_root() {
        let copy = dir.parent().unwrap().join("idc_server");
        fs::copy(&binary, &copy).unwrap();
        set_mode(&copy, 0o755);
        binary = copy;
    }
    for _ in 0..5 {
        let metrics = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"log=$1; shift; exec "$@" 2>>"$log""#, "sh"]).arg(log);
        if is_root() {
            cmd.args(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        }
        cmd.arg(&binary).args(["--host", "127.0.0.1", "--port", "0", "--data"]);
        cmd.arg(dir).args(["--metrics-addr", &metrics]).env("RUST_LOG", "warn");
        match start_or_exit(cmd) {
            (Some(server), _) => return (server, metrics),
            (None, _) if fs::read_to_string(log).unwrap_or_default().contains("--metrics-addr") => continue,
            (None, out) => panic!("idc_server did not start: {out:?}\n{}", fs::read_to_string(log).unwrap_or_default()),
        }
    }
    panic!("no free port for --metrics-addr in 5 tries");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes `bytes` beside `DIR/NAME` with `mode`, then renames it over, as `mv` replaces a file.
fn replace(dir: &Path, name: &str, bytes: &[u8], mode: u32) {
    let next = dir.join(format!("{name}.next"));
    fs::write(&next, bytes).unwrap();
    set_mode(&next, mode);
    fs::rename(next, dir.join(name)).unwrap();
}

#[test]
fn catalog_files_broken_while_served_keep_their_last_good_version_and_are_logged_and_counted() {
    let scratch = common::scratch();
    let dir = scratch.path().join("data");
    fs::create_dir(&dir).unwrap();
    // The server (nobody, as root) may enter the folders and create its push journal in DIR.
    set_mode(scratch.path(), 0o755);
    if is_root() {
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    }
    let symbols = ["AAA", "BBB", "CCC", "DDD", "EEE"];
    let good = |i: usize| common::daily_bars_csv(2000 + i as u32, 10 + i as u32);
    for (i, symbol) in symbols.iter().enumerate() {
        common::write_file(&dir, &format!("{symbol}.csv"), good(i).as_bytes());
    }
    let log_path = scratch.path().join("server.log");
    let (server, metrics) = catalog_server(&dir, &log_path);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    let listed = || {
        let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).expect("ListInstruments answers");
        reply.instruments.iter().map(|i| (i.symbol.clone(), i.bars)).collect::<Vec<_>>()
    };
    let all_good: Vec<(String, u32)> =
        symbols.iter().enumerate().map(|(i, s)| (s.to_string(), 10 + i as u32)).collect();
    assert_eq!(listed(), all_good);
    let failed = || {
        let samples = scrape_metrics(&metrics);
        samples.get(r#"idc_catalog_reloads_total{outcome="failed"}"#).copied().unwrap_or(-1.0)
    };
    assert_eq!(failed(), 0.0);

    // Garbage, by a rename; cut mid-row and cut to nothing, in place; a good file nobody may
    // read, by a rename (a new inode the watcher sees).
    replace(&dir, "AAA.csv", &common::pseudo_random_bytes(3000, 54), 0o644);
    let bbb = dir.join("BBB.csv");
    let text = fs::read_to_string(&bbb).unwrap();
    let last_row = text.trim_end().rfind('\n').unwrap() + 1;
    fs::OpenOptions::new().write(true).open(&bbb).unwrap().set_len(last_row as u64 + 12).unwrap();
    fs::OpenOptions::new().write(true).open(dir.join("CCC.csv")).unwrap().set_len(0).unwrap();
    replace(&dir, "DDD.csv", good(3).as_bytes(), 0o000);
    let mut seen = -1.0;
    let four = poll_until(GATE, || {
        seen = failed();
        seen == 4.0
    });
    assert!(four, "4 failed reloads counted within {GATE:?}, not {seen}");
    assert_eq!(listed(), all_good, "every last good version still served");

    // chmod in place changes no length, time or inode: no scan sees it. SIGHUP rereads every
    // file and reports every failure again: the 4 above, and EEE.
    set_mode(&dir.join("EEE.csv"), 0o000);
    let hup = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(hup.success());
    wait_for("SIGHUP's reread to count the unreadable EEE", GATE, || failed() == 9.0);
    assert_eq!(listed(), all_good, "still every last good version, after SIGHUP");
    for (i, symbol) in symbols.iter().enumerate() {
        let series = live::history(&client, symbol).unwrap_or_else(|| panic!("{symbol} served"));
        assert_eq!(series.date.len(), 10 + i, "Compute serves the last good {symbol}");
    }

    // Fixed files are served again: the watcher went on through the failures.
    for (i, symbol) in symbols.iter().enumerate() {
        replace(&dir, &format!("{symbol}.csv"), common::daily_bars_csv(2010, 3 + i as u32).as_bytes(), 0o644);
    }
    let fixed: Vec<(String, u32)> = symbols.iter().enumerate().map(|(i, s)| (s.to_string(), 3 + i as u32)).collect();
    wait_for("the fixed files to be served", GATE, || listed() == fixed);
    assert_eq!(failed(), 9.0, "each broken version counted once, and again at SIGHUP");
    let (status, _) = server.stop_with("TERM");
    assert!(status.success(), "the server drains and exits 0: {status}");

    // A WARN line per failure counted, naming the file, its reason and what is served instead.
    let log = fs::read_to_string(&log_path).unwrap();
    let reasons = [
        ("AAA", "the text is not UTF-8", 2),
        ("BBB", "expected 5 fields as in the header, found 2", 2),
        ("CCC", "the file is empty", 2),
        ("DDD", "Permission denied", 2),
        ("EEE", "Permission denied", 1),
    ];
    for (symbol, reason, times) in reasons {
        let path = dir.join(format!("{symbol}.csv")).display().to_string();
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&path) && l.contains(reason)).collect();
        assert_eq!(lines.len(), times, "{symbol}: lines with {reason:?}:\n{log}");
        let keeps = |l: &&str| l.contains("WARN") && l.ends_with("still serving its last good version");
        assert!(lines.iter().all(keeps), "{lines:?}");
    }
}
