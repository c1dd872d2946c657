//! `idc_client push` and `idc_client subscribe` against the real `idc_server --data DIR
//! --push-token-file FILE`: a CSV file is appended (and cut into requests of 10,000 bars) and
//! Compute serves its bars; a subscriber prints its snapshot, then the bars pushed after it, with
//! the values Compute gives for those dates (1e-9 relative); `push --csv -` pushes each row of
//! its stdin as the line arrives, and a subscriber hears each before the next is written;
//! refusals and a drained server end the clients with the server's message and a non-zero exit.
//!
//! Every wait is on a line a process prints, with a deadline (a gate), never a sleep: the pushes
//! start only once the subscriber has printed its snapshot.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::live::{self, computed, csv_text, same, subscription, Live};
use idc::protocol::indicators as pb;

/// How long a line that must come may take.
const LINE_WITHIN: Duration = Duration::from_secs(20);
const INDICATORS: &str = "MACD,RSI(6)";

/// A client process whose stdout lines arrive, as it prints them, on a channel; killed on drop.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
    what: String,
}

impl Running {
    fn spawn(mut cmd: Command, what: &str) -> Running {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || stdout.lines().map_while(Result::ok).try_for_each(|line| tx.send(line)));
        let mut stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running { child, lines, stderr: Some(stderr), what: what.to_string() }
    }

    /// The next line printed, within [`LINE_WITHIN`]; else the test fails with the stderr.
    fn line(&mut self, waiting_for: &str) -> String {
        match self.lines.recv_timeout(LINE_WITHIN) {
            Ok(line) => line,
            Err(_) => {
                let _ = self.child.kill();
                let stderr = self.stderr.take().map(|h| h.join().unwrap()).unwrap_or_default();
                panic!("{}: no line ({waiting_for}) within {LINE_WITHIN:?}; stderr:\n{stderr}", self.what);
            }
        }
    }

    fn stdin(&mut self) -> &mut ChildStdin {
        self.child.stdin.as_mut().unwrap()
    }

    /// Waits (bounded) for the exit: the status, the lines not read yet, and stderr.
    fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        drop(self.child.stdin.take());
        let status = common::wait_bounded(&mut self.child, common::RUN_LIMIT)
            .unwrap_or_else(|| panic!("{} did not exit within {:?}", self.what, common::RUN_LIMIT));
        let stderr = self.stderr.take().unwrap().join().unwrap();
        let rest = std::iter::from_fn(|| self.lines.recv_timeout(Duration::from_secs(5)).ok()).collect();
        (status, rest, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(live: &Live) -> PathBuf {
    live.scratch.path().join("push.token")
}

fn idc_client(live: &Live, args: &[&str]) -> Command {
    let mut cmd = common::rust_bin("idc_client");
    cmd.args(&args[..1]).args(["--target", &live.server.target()]).args(&args[1..]);
    cmd
}

fn push_cmd(live: &Live, symbol: &str, csv: &str) -> Command {
    let token = token(live);
    idc_client(live, &["push", "--symbol", symbol, "--csv", csv, "--push-token-file", token.to_str().unwrap()])
}

fn push_file(live: &Live, symbol: &str, name: &str, bars: &[pb::Bar], extra: &[&str]) -> common::Output {
    let path = common::write_file(live.scratch.path(), name, csv_text(bars, false).as_bytes());
    let mut cmd = push_cmd(live, symbol, path.to_str().unwrap());
    cmd.args(extra);
    common::run(cmd)
}

fn subscriber(live: &Live, flags: &[&str]) -> Running {
    let mut args = vec!["subscribe", "--symbols", "AAA", "--indicators", INDICATORS];
    args.extend(flags);
    Running::spawn(idc_client(live, &args), &format!("idc_client subscribe {flags:?}"))
}

/// A server holding AAA (80 weekdays of 2024), and the next `n` weekdays' bars after it.
fn start(n: usize) -> (Live, Vec<pb::Bar>) {
    let dates = live::weekdays("2024-01-01", 80 + n);
    let all = live::walk(&dates, 7);
    let live = Live::start(&[("AAA", &all[..80], false)], &[]);
    (live, all[80..].to_vec())
}

fn reply(symbol: &str, appended: usize, revised: usize, last: &str) -> String {
    format!("{symbol}: {appended} appended, {revised} revised, last {last}")
}

/// Compute as `idc_client subscribe --indicators INDICATORS [--convention C]` asks, for AAA.
fn compute(live: &Live, convention: pb::Convention) -> pb::Series {
    let indicators = idc::client::v2::args::specs("--indicators", &[INDICATORS.to_string()]).unwrap();
    let mut request = subscription(&["AAA"], indicators);
    request.convention = convention.into();
    computed(&live.client, &request, "AAA")
}

/// One printed update, whatever the format: symbol, date, bar, flags and values by name.
#[derive(Debug)]
struct Printed {
    symbol: String,
    date: String,
    bar: [f64; 5],
    provisional: bool,
    snapshot: bool,
    values: Vec<(String, f64)>,
}

fn number(field: &str) -> f64 {
    if field.is_empty() {
        f64::NAN
    } else {
        field.parse().unwrap_or_else(|_| panic!("not a number: {field:?}"))
    }
}

fn from_csv(header: &str, line: &str) -> Printed {
    let text = format!("{header}\n{line}\n");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let names: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let row = reader.records().next().unwrap().unwrap();
    let flag = |i: usize| match &row[i] {
        "true" => true,
        "false" => false,
        other => panic!("not a flag: {other:?}"),
    };
    Printed {
        symbol: row[0].to_string(),
        date: row[1].to_string(),
        bar: [2, 3, 4, 5, 6].map(|i| number(&row[i])),
        provisional: flag(7),
        snapshot: flag(8),
        values: names[9..].iter().zip(row.iter().skip(9)).map(|(n, v)| (n.clone(), number(v))).collect(),
    }
}

fn from_json(line: &str) -> Printed {
    let object: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let value = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN); // null: NaN
                                                                        // The keys in this order (serde_json's map sorts them, so look at the text).
    let keys = ["symbol", "date", "open", "high", "low", "close", "volume", "provisional", "snapshot", "values"];
    let at: Vec<Option<usize>> = keys.iter().map(|k| line.find(&format!("\"{k}\":"))).collect();
    assert!(at.windows(2).all(|w| w[0].is_some() && w[0] < w[1]), "the keys, in order: {line}");
    assert_eq!(object.as_object().unwrap().len(), keys.len(), "{line}");
    Printed {
        symbol: object["symbol"].as_str().unwrap().to_string(),
        date: object["date"].as_str().unwrap().to_string(),
        bar: ["open", "high", "low", "close", "volume"].map(|k| value(&object[k])),
        provisional: object["provisional"].as_bool().unwrap(),
        snapshot: object["snapshot"].as_bool().unwrap(),
        values: object["values"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), value(v))).collect(),
    }
}

/// `printed` is Compute's row of its date: the bar and every column, by the 1e-9 rule.
fn assert_is_row(printed: &Printed, series: &pb::Series) {
    let i = series.date.iter().position(|d| *d == printed.date).unwrap_or_else(|| panic!("{printed:?}"));
    let bar = [&series.open, &series.high, &series.low, &series.close, &series.volume].map(|v| v[i]);
    assert!(printed.bar.iter().zip(bar).all(|(&a, b)| same(a, b)), "{printed:?} vs Compute's {bar:?}");
    let mut columns: Vec<(String, f64)> = series.columns.iter().map(|c| (c.name.clone(), c.values[i])).collect();
    columns.sort_by(|a, b| a.0.cmp(&b.0));
    let names = |v: &[(String, f64)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&printed.values), names(&columns), "the value columns, sorted by name");
    for ((name, ours), (_, theirs)) in printed.values.iter().zip(&columns) {
        assert!(same(*ours, *theirs), "{} {name}: printed {ours}, Compute {theirs}", printed.date);
    }
}

#[test]
fn push_appends_a_csv_file_and_compute_serves_its_bars() {
    let (live, next) = start(4);
    let out = push_file(&live, "AAA", "new.csv", &next[..3], &[]);
    out.assert_success("idc_client push --csv FILE");
    assert_eq!(out.stdout_text(), format!("{}\n", reply("AAA", 3, 0, &next[2].date)));
    // The last bar again, revised: one request, one revision.
    let mut revised = next[2].clone();
    revised.close = revised.low;
    let out = push_file(&live, "AAA", "revised.csv", std::slice::from_ref(&revised), &[]);
    assert_eq!(out.assert_success("a revision").stdout_text(), format!("{}\n", reply("AAA", 0, 1, &next[2].date)));

    let mut cmd = idc_client(&live, &["compute", "--symbols", "AAA", "--start-date", &next[0].date]);
    cmd.args(["--indicators", INDICATORS]);
    let out = common::run(cmd);
    let text = out.assert_success("idc_client compute").stdout_text();
    let rows: Vec<Vec<f64>> =
        text.lines().skip(1).map(|l| l.split(',').skip(2).take(5).map(number).collect()).collect();
    let want: Vec<Vec<f64>> =
        [&next[0], &next[1], &revised].iter().map(|b| vec![b.open, b.high, b.low, b.close, b.volume]).collect();
    assert_eq!(rows, want, "Compute serves the pushed bars:\n{text}");

    // A file of 10,005 bars for a new symbol: two requests, two lines, every bar held.
    let dates = live::weekdays("1980-01-01", 10_005);
    let out = push_file(&live, "BIG.X", "big.csv", &live::walk(&dates, 3), &[]);
    let want = format!("{}\n{}\n", reply("BIG.X", 10_000, 0, &dates[9_999]), reply("BIG.X", 5, 0, &dates[10_004]));
    assert_eq!(out.assert_success("a big file").stdout_text(), want);
    let instruments = live.client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap().instruments;
    let big = instruments.iter().find(|i| i.symbol == "BIG.X").expect("BIG.X is listed");
    assert_eq!((big.bars, big.last_date.as_str()), (10_005, dates[10_004].as_str()));
}

#[test]
fn push_refusals_print_the_reason_and_exit_non_zero() {
    let (live, next) = start(2);
    // No push token: the server's UNAUTHENTICATED, nothing appended.
    let path = common::write_file(live.scratch.path(), "a.csv", csv_text(&next, false).as_bytes());
    let out = common::run(idc_client(&live, &["push", "--symbol", "AAA", "--csv", path.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("PushBars on") && out.stderr.contains("UNAUTHENTICATED"), "{}", out.stderr);
    // A bar dated before the last one held: the server names both dates.
    let old = live::walk(&live::weekdays("2023-06-01", 1), 1);
    let out = push_file(&live, "AAA", "old.csv", &old, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("FAILED_PRECONDITION") && out.stderr.contains(&old[0].date), "{}", out.stderr);
    // A row the catalog would refuse is refused before any call, with its line.
    let bad = format!("date,open,high,low,close\n{},10,11,9,10\n{},10,9,11,10\n", next[0].date, next[1].date);
    let path = common::write_file(live.scratch.path(), "bad.csv", bad.as_bytes());
    let out = common::run(push_cmd(&live, "AAA", path.to_str().unwrap()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("bad.csv:3: high 9 is below low 11"), "{}", out.stderr);
    let series = compute(&live, pb::Convention::CONVENTION_UNSPECIFIED);
    assert_eq!(series.date.len(), 80, "nothing was appended");
}

#[test]
fn subscribe_prints_the_snapshot_then_the_bars_pushed_with_computes_values() {
    let (live, next) = start(2);
    let mut csv = subscriber(&live, &["--limit", "3"]);
    let mut json = subscriber(&live, &["--limit", "3", "--format", "json", "--convention", "talib"]);
    // The gate: both have printed their snapshot before anything is pushed.
    let header = csv.line("the header");
    assert!(header.starts_with("symbol,date,open,high,low,close,volume,provisional,snapshot,"), "{header}");
    let mut csv_lines = vec![csv.line("the snapshot")];
    let mut json_lines = vec![json.line("the snapshot")];
    let out = push_file(&live, "AAA", "next.csv", &next, &["--forming"]);
    assert_eq!(out.assert_success("push --forming").stdout_text(), format!("{}\n", reply("AAA", 2, 0, &next[1].date)));
    csv_lines.extend([csv.line("the first push"), csv.line("the second push")]);
    json_lines.extend([json.line("the first push"), json.line("the second push")]);

    for (what, running, printed, convention) in [
        (
            "csv",
            csv,
            csv_lines.iter().map(|l| from_csv(&header, l)).collect::<Vec<_>>(),
            pb::Convention::CONVENTION_UNSPECIFIED,
        ),
        ("json", json, json_lines.iter().map(|l| from_json(l)).collect(), pb::Convention::TALIB),
    ] {
        let (status, rest, stderr) = running.finish();
        assert!(status.success() && rest.is_empty(), "{what}: --limit 3 ends it: {status} {rest:?} {stderr}");
        let dates: Vec<&str> = printed.iter().map(|p| p.date.as_str()).collect();
        let latest = live::weekdays("2024-01-01", 80).pop().unwrap();
        assert_eq!(dates, [latest.as_str(), &next[0].date, &next[1].date], "{what}: the latest bar, then the pushes");
        let flags: Vec<(bool, bool)> = printed.iter().map(|p| (p.snapshot, p.provisional)).collect();
        assert_eq!(flags, [(true, false), (false, false), (false, true)], "{what}: --forming marks the last bar");
        let series = compute(&live, convention);
        for p in &printed {
            assert_eq!(p.symbol, "AAA");
            assert_is_row(p, &series);
        }
    }
}

#[test]
fn push_from_stdin_sends_each_row_as_its_line_arrives() {
    let (live, next) = start(3);
    let mut sub = subscriber(&live, &["--limit", "4", "--format", "json"]);
    let snapshot = from_json(&sub.line("the snapshot"));
    assert!(snapshot.snapshot);
    let mut pusher = Running::spawn(push_cmd(&live, "AAA", "-"), "idc_client push --csv -");
    writeln!(pusher.stdin(), "date,open,high,low,close,volume").unwrap();
    let series_rows = csv_text(&next, false);
    // Each row reaches the subscriber before the next one is written: nothing waits for EOF.
    for (bar, row) in next.iter().zip(series_rows.lines().skip(1)) {
        writeln!(pusher.stdin(), "{row}").unwrap();
        pusher.stdin().flush().unwrap();
        assert_eq!(pusher.line("its reply"), reply("AAA", 1, 0, &bar.date));
        let update = from_json(&sub.line("the row pushed"));
        assert_eq!((update.date.as_str(), update.snapshot, update.provisional), (bar.date.as_str(), false, false));
        assert_is_row(&update, &compute(&live, pb::Convention::CONVENTION_UNSPECIFIED));
    }
    // A row that does not parse ends the feed, naming its line of stdin (the header is line 1).
    writeln!(pusher.stdin(), "2030-01-02,10,9,11,10,100").unwrap();
    let (status, rest, stderr) = pusher.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(rest.is_empty() && stderr.contains("stdin:5: high 9 is below low 11"), "{rest:?} {stderr}");
    let (status, rest, stderr) = sub.finish();
    assert!(status.success() && rest.is_empty(), "{status} {rest:?} {stderr}");
}

#[test]
fn a_drained_server_ends_subscribe_with_its_status_and_a_failure() {
    let (live, _) = start(0);
    let mut sub = subscriber(&live, &[]);
    sub.line("the header");
    sub.line("the snapshot");
    let Live { server, scratch: _scratch, client: _ } = live;
    let (status, stderr) = server.stop_with("TERM");
    assert!(status.success(), "the server drains: {stderr}");
    let (status, rest, stderr) = sub.finish();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(stderr.contains("Subscribe on") && stderr.contains("UNAVAILABLE: server shutting down"), "{stderr}");
    assert!(!stderr.contains("--tls-ca"), "no TLS hint for a server that was reached: {stderr}");
}

#[test]
fn subscribe_refusals_come_before_any_line() {
    let (live, _) = start(0);
    let out = common::run(idc_client(&live, &["subscribe", "--symbols", "NOPE", "--limit", "1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.contains("NOT_FOUND"), "{}", out.stderr);
    let out = common::run(idc_client(&live, &["subscribe", "--indicators", "RSI(0)", "--limit", "1"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("INVALID_ARGUMENT") && out.stderr.contains("RSI"), "{}", out.stderr);
}
