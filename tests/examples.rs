//! The examples in `examples/` run against a real in-process server: `examples/python/compute.py`
//! (grpcio, stubs generated at run time with grpcio-tools) and `examples/go/compute.go` (built
//! from Debian's grpc-go by `examples/go/build.sh`) call `Compute` for the server's symbols and
//! print the same table, character for character; each printed row carries the date, close and
//! indicator values that the server sent for that bar (through the generated Rust client), to the
//! four decimals printed.
//!
//! `examples/python/subscribe.py` and `examples/go/subscribe.go` subscribe to a live server
//! (`--data DIR --push-token-file`): each prints its snapshot, then, once both have (the gate),
//! two bars are pushed, and each prints them and exits; the lines are the same in both, and carry
//! Compute's close, MACD DIF and RSI(24) for each date, to the four decimals printed.
//!
//! A missing Python package or Go toolchain is a failure, never a skip.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use futures::TryStreamExt;
use idc::config::Config;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// The rows each example prints per symbol by default: the latest bars.
const ROWS: usize = 5;

/// The Go example: `IDC_GO_EXAMPLE` (exported by `scripts/env.sh`), else built here by
/// `examples/go/build.sh`, which is quick when its cache is warm.
fn go_example() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| match std::env::var_os("IDC_GO_EXAMPLE").filter(|p| !p.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => go_build("compute"),
        })
        .clone()
}

/// The Go subscribe example, built here (the cache makes a second build quick).
fn go_subscribe_example() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| go_build("subscribe")).clone()
}

fn go_build(program: &str) -> PathBuf {
    let out = common::repo_root().join(format!("target/go/{program}_example"));
    let built = Command::new(common::repo_root().join("examples/go/build.sh"))
        .args(["-program", program])
        .arg(&out)
        .output()
        .expect("examples/go/build.sh runs");
    assert!(
        built.status.success(),
        "examples/go/build.sh failed (see examples/README.md for the Debian packages it needs):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

fn python_example(address: &str, symbols: &[String]) -> common::Output {
    let mut cmd = Command::new(common::python());
    cmd.arg(common::repo_root().join("examples/python/compute.py")).arg(address).args(symbols);
    cmd.env("PYTHONUTF8", "1");
    common::run(cmd)
}

fn go_run(address: &str, symbols: &[String]) -> common::Output {
    let mut cmd = Command::new(go_example());
    cmd.arg(address).args(symbols);
    common::run(cmd)
}

/// What the server sends for the examples' request, through the generated Rust client.
fn served(server: &common::InProcess, symbols: &[String]) -> Vec<pb::Series> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    let spec = |name: &str, params: &[f64]| pb::IndicatorSpec {
        name: name.into(),
        params: params.to_vec(),
        ..Default::default()
    };
    let request = pb::ComputeRequest {
        symbols: symbols.to_vec(),
        indicators: vec![spec("MACD", &[12.0, 26.0, 9.0]), spec("RSI", &[6.0])],
        ..Default::default()
    };
    futures::executor::block_on(client.compute(&request).unwrap().try_collect()).unwrap()
}

/// The server's first two symbols, as the examples' usage shows.
fn symbols(server: &common::InProcess) -> Vec<String> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
    reply.instruments.into_iter().take(2).map(|i| i.symbol).collect()
}

fn printed(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else {
        format!("{value:.4}")
    }
}

/// Checks a printed table against the series: the header names the columns, and the rows are
/// the last [`ROWS`] bars of each symbol, in order, with their close and column values.
fn assert_table(what: &str, table: &str, series: &[pb::Series]) {
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap_or_else(|| panic!("{what}: no output")).split_whitespace().collect();
    let mut want_header = vec!["symbol", "date", "close"];
    want_header.extend(series[0].columns.iter().map(|c| c.name.as_str()));
    assert_eq!(header, want_header, "{what}: the header");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    let mut want_rows = Vec::new();
    for s in series {
        for i in s.date.len().saturating_sub(ROWS)..s.date.len() {
            let mut row = vec![s.symbol.clone(), s.date[i].clone(), printed(s.close[i])];
            row.extend(s.columns.iter().map(|c| printed(c.values[i])));
            want_rows.push(row);
        }
    }
    assert_eq!(rows.len(), want_rows.len(), "{what}: {ROWS} rows per symbol:\n{table}");
    for (got, want) in rows.iter().zip(&want_rows) {
        assert_eq!(got, want, "{what}: a row differs from what the server sent:\n{table}");
    }
}

#[test]
fn the_python_and_go_examples_print_what_the_server_sends() {
    let server = common::InProcess::start(Config::default());
    let symbols = symbols(&server);
    assert_eq!(symbols.len(), 2, "the sample serves two instruments, AAPL and SPX: {symbols:?}");
    let series = served(&server, &symbols);
    assert_eq!(series.iter().map(|s| s.symbol.clone()).collect::<Vec<_>>(), symbols);
    assert!(series.iter().all(|s| s.date.len() >= ROWS), "the sample has more than {ROWS} bars per symbol");

    let python = python_example(&server.address(), &symbols);
    python.assert_success("examples/python/compute.py");
    let go = go_run(&server.address(), &symbols);
    go.assert_success("examples/go/compute.go");
    assert_table("compute.py", &python.stdout_text(), &series);
    assert_table("compute.go", &go.stdout_text(), &series);
    assert_eq!(python.stdout_text(), go.stdout_text(), "the two examples print the same table");
}

#[test]
fn the_examples_report_a_refusal_and_fail() {
    let server = common::InProcess::start(Config::default());
    let unknown = vec!["NOPE".to_string()];
    for (what, out) in [
        ("compute.py", python_example(&server.address(), &unknown)),
        ("compute.go", go_run(&server.address(), &unknown)),
    ] {
        assert_eq!(out.status.code(), Some(1), "{what}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{what}: {}", out.stdout_text());
        assert!(
            out.stderr.contains("Compute failed") && out.stderr.contains("unknown symbol \"NOPE\""),
            "{what}: {}",
            out.stderr
        );
    }
}

/// A subscribe example running, its stdout lines on a channel as it prints them; killed on drop.
struct Subscriber {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    what: &'static str,
}

impl Subscriber {
    fn start(what: &'static str, mut cmd: Command) -> Subscriber {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the example starts");
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).try_for_each(|line| tx.send(line)));
        Subscriber { child, lines, what }
    }

    /// The next line, within 20 s (the stub generation and a cold Go start included).
    fn line(&self) -> String {
        self.lines.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{}: no line in time", self.what))
    }

    /// Fails unless it exits 0 (within the run limit), as it must after its N updates.
    fn assert_exits_0(mut self) {
        let status = common::wait_bounded(&mut self.child, common::RUN_LIMIT).expect("the example exits");
        let mut stderr = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert!(status.success(), "{}: exits 0 after its updates: {status}: {stderr}", self.what);
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_subscribe_examples_print_the_snapshot_and_the_pushed_bars_as_the_server_sends_them() {
    use common::live::{self, Live};
    let dates = live::weekdays("2024-01-01", 62);
    let bars = live::walk(&dates, 11);
    let server = Live::start(&[("AAA", &bars[..60], false)], &[]);
    let address = server.server.target();
    let mut python = Command::new(common::python());
    python.arg(common::repo_root().join("examples/python/subscribe.py")).args([&address, "AAA", "3"]);
    python.env("PYTHONUTF8", "1");
    let mut go = Command::new(go_subscribe_example());
    go.args([&address, "AAA", "3"]);
    let examples = [Subscriber::start("subscribe.py", python), Subscriber::start("subscribe.go", go)];
    // The gate: both have their snapshot before anything is pushed.
    let mut lines: Vec<Vec<String>> = examples.iter().map(|e| vec![e.line()]).collect();
    live::push(&server.client, "AAA", &bars[60..], true).expect("the push");
    for (example, printed) in examples.iter().zip(&mut lines) {
        printed.extend([example.line(), example.line()]);
    }
    examples.into_iter().for_each(Subscriber::assert_exits_0);
    assert_eq!(lines[0], lines[1], "the two examples print the same lines");

    let request =
        live::subscription(&["AAA"], vec![live::spec("MACD", &[12.0, 26.0, 9.0]), live::spec("RSI", &[24.0])]);
    let series = live::computed(&server.client, &request, "AAA");
    let column =
        |name: &str| &series.columns.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name}")).values;
    let (dif, rsi) = (column("MACD(12,26,9).DIF"), column("RSI(24)"));
    let want: Vec<String> = [(59, "false true"), (60, "false false"), (61, "true false")]
        .iter()
        .map(|&(i, flags)| {
            assert_eq!(series.date[i], dates[i]);
            format!("{} {} {} {} {flags}", dates[i], printed(series.close[i]), printed(dif[i]), printed(rsi[i]))
        })
        .collect();
    assert_eq!(lines[0], want, "the snapshot, then the two bars pushed (the last forming), as Compute has them");
}
