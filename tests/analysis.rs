//! Data mode end to end: the MACD that `idc_server --data` serves, checked against independent
//! implementations (TA-Lib's C library, pandas, MyTT) on two real data sets, plus the request
//! validation, the served chart, and the parity-mode fallback chart.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::{python_script, repo_root, run, rust_bin, rust_server, scratch, Server};
use idc::client::{self, Target};
use idc::protocol::indicator::MACDReply;

const SAMPLE_CSV: &str = "data/sp500.csv";
const SECOND_CSV: &str = "data/aapl.csv";

fn csv_path(relative: &str) -> String {
    repo_root().join(relative).to_str().unwrap().to_owned()
}

fn target(server: &Server) -> Target {
    Target::new(server.target(), Duration::from_secs(30))
}

/// One row of `tests/python/macd_reference.py` output.
struct Reference {
    date: String,
    macd: f64,
}

fn reference(csv: &str, convention: &str) -> Vec<Reference> {
    let mut cmd = python_script("macd_reference.py");
    cmd.args(["--csv", csv, "--convention", convention]);
    let out = run(cmd);
    out.assert_success(&format!("macd_reference.py --convention {convention}"));
    let text = out.stdout_text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("date,dif,dea,macd"));
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Reference { date: fields[0].to_owned(), macd: fields[3].parse().unwrap() }
        })
        .collect()
}

/// The closes etc. as the CSV has them, to check the served prices too.
fn csv_rows(csv: &str) -> Vec<Vec<String>> {
    fs::read_to_string(csv).unwrap().lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

fn served_rows(server: &Server, start: &str, end: &str) -> MACDReply {
    client::get_macd(&target(server), start, end).expect("GetMACD in data mode")
}

/// Every row that `idc_server --data csv --convention convention` serves.
fn all_rows(csv: &str, convention: &str) -> MACDReply {
    let server = rust_server(&["--data", csv, "--convention", convention]);
    served_rows(&server, "", "")
}

/// Compares served `macd` values with a reference, after rounding both to `f32` as the wire does.
fn assert_macd_matches(served: &MACDReply, reference: &[Reference], relative: f64, absolute: f64, what: &str) {
    assert_eq!(served.macd.len(), reference.len(), "{what}: row count");
    let mut worst = 0.0f64;
    for (row, want) in served.macd.iter().zip(reference) {
        assert_eq!(row.date, want.date, "{what}: dates line up");
        let (got, want_f32) = (f64::from(row.macd), f64::from(want.macd as f32));
        let error = (got - want_f32).abs();
        let allowed = relative * want_f32.abs() + absolute;
        assert!(error <= allowed, "{what} on {}: served {got}, reference {}, |diff| {error:e}", row.date, want.macd);
        worst = worst.max(error / (want_f32.abs() + absolute));
    }
    eprintln!("{what}: {} rows, worst scaled difference {worst:e}", reference.len());
}

#[test]
fn talib_convention_matches_ta_lib() {
    for csv in [SAMPLE_CSV, SECOND_CSV] {
        let csv = csv_path(csv);
        let served = all_rows(&csv, "talib");
        let reference = reference(&csv, "talib");
        assert_eq!(csv_rows(&csv).len() - reference.len(), 33, "TA-Lib leaves out 33 rows for 12/26/9");
        // 1e-4 relative; the absolute floor covers values near zero, where one f32 step of a
        // DIF of about 50 is already 4e-6.
        assert_macd_matches(&served, &reference, 1e-4, 1e-5, &format!("talib on {csv}"));
    }
}

#[test]
fn cn_convention_matches_pandas_ewm() {
    for csv in [SAMPLE_CSV, SECOND_CSV] {
        let csv = csv_path(csv);
        let served = all_rows(&csv, "cn");
        assert_macd_matches(&served, &reference(&csv, "cn"), 1e-4, 1e-5, &format!("cn vs pandas on {csv}"));

        // The prices are the file's, rounded to f32.
        for (row, fields) in served.macd.iter().zip(csv_rows(&csv)) {
            assert_eq!(row.date, fields[0]);
            let f32_of = |i: usize| fields[i].parse::<f64>().unwrap() as f32;
            assert_eq!((row.open, row.high, row.low, row.close), (f32_of(1), f32_of(2), f32_of(3), f32_of(4)));
        }
    }
}

#[test]
fn cn_convention_matches_mytt_to_its_rounding() {
    for csv in [SAMPLE_CSV, SECOND_CSV] {
        let served = all_rows(&csv_path(csv), "cn");
        // MyTT rounds every value to 3 decimals: half a unit of the third decimal, plus f32.
        let reference = reference(&csv_path(csv), "mytt");
        assert_macd_matches(&served, &reference, 1e-6, 5.0001e-4, &format!("cn vs MyTT on {csv}"));
    }
}

#[test]
fn a_window_is_the_slice_of_the_full_history() {
    let server = rust_server(&["--data", "sample", "--convention", "talib"]);
    let full = served_rows(&server, "", "");
    for (start, end) in [("1999-01-04", "1999-03-31"), ("2008-09-01", "2008-12-31"), ("2018-12-24", "")] {
        let window = served_rows(&server, start, end);
        assert!(!window.macd.is_empty(), "{start}..{end}");
        let first = full.macd.iter().position(|r| r.date == window.macd[0].date).unwrap();
        assert_eq!(window.macd[..], full.macd[first..first + window.macd.len()], "{start}..{end}");
        assert!(window.macd.iter().all(|r| r.date.as_str() >= start && (end.is_empty() || r.date.as_str() <= end)));
    }
    // TA-Lib's warm-up: nothing before the 34th bar, even when asked for.
    let early = served_rows(&server, "1999-01-01", "1999-02-19");
    assert!(early.macd.is_empty(), "{} rows", early.macd.len());
}

#[test]
fn bad_dates_are_invalid_argument_with_the_expected_form() {
    let server = rust_server(&["--data", "sample"]);
    for (start, end, expect) in [
        ("2023-02-30", "2023-12-31", "is not a real day"),
        ("2023/01/01", "2023-12-31", "use YYYY-MM-DD"),
        ("2023-01-01", "31.12.2023", "use YYYY-MM-DD"),
        ("2010-06-01", "2010-01-01", "is after end_date"),
    ] {
        let error = client::get_macd(&target(&server), start, end).unwrap_err();
        assert_eq!(error.code(), Some(grpcio::RpcStatusCode::INVALID_ARGUMENT), "{start}..{end}: {error}");
        assert!(error.to_string().contains(expect), "{start}..{end}: {error}");
    }
    // A valid range without bars is an empty reply, not an error.
    assert!(served_rows(&server, "2023-01-01", "2023-12-31").macd.is_empty());
    // Empty dates are open ends.
    assert_eq!(served_rows(&server, "", "").macd.len(), 5031);
    assert_eq!(served_rows(&server, "2018-12-24", "").macd.len(), 5); // 24, 26, 27, 28 and 31 December
    assert_eq!(served_rows(&server, "", "1999-01-05").macd.len(), 2);
}

#[test]
fn python_and_rust_clients_print_the_same_real_rows() {
    let server = rust_server(&["--data", "sample"]);
    let args = ["--target", &server.target(), "--start-date", "2018-10-01", "--end-date", "2018-10-31"];
    let mut rust = rust_bin("idc_client");
    rust.args(args);
    let mut python = python_script("idc_client.py");
    python.args(args);
    let (rust, python) = (run(rust), run(python));
    rust.assert_success("idc_client");
    python.assert_success("idc_client.py");
    assert_eq!(rust.stdout_text(), python.stdout_text());
    assert_eq!(rust.stdout_text().matches("macd {").count(), 23, "23 trading days in October 2018");
}

fn download(server: &Server, start: &str, end: &str, output: &std::path::Path) -> common::Output {
    let mut cmd = rust_bin("idc_graph_client");
    cmd.args(["--target", &server.target(), "--start-date", start, "--end-date", end, "--output"]).arg(output);
    run(cmd)
}

fn png_size(path: &std::path::Path) -> (u32, u32) {
    let image = image::open(path).unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    (image.width(), image.height())
}

#[test]
fn data_mode_streams_the_chart_of_the_range() {
    let dir = scratch();
    let server = rust_server(&["--data", "sample", "--chunk-size", "1000"]);
    let received = dir.path().join("chart.png");
    download(&server, "2018-01-01", "2018-12-31", &received).assert_success("idc_graph_client");
    assert_eq!(png_size(&received), (1280, 800));

    // The Python client gets the same bytes.
    let from_python = dir.path().join("python.png");
    let mut cmd = python_script("idc_graph_client.py");
    cmd.args(["--target", &server.target(), "--start-date", "2018-01-01", "--end-date", "2018-12-31", "--output"])
        .arg(&from_python);
    run(cmd).assert_success("idc_graph_client.py");
    assert_eq!(fs::read(&from_python).unwrap(), fs::read(&received).unwrap());

    // The same chart as --render-chart writes: rendering is deterministic.
    let rendered = dir.path().join("rendered.png");
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--data", "sample", "--start-date", "2018-01-01", "--end-date", "2018-12-31", "--render-chart"])
        .arg(&rendered);
    run(cmd).assert_success("idc_server --render-chart");
    assert_eq!(fs::read(&received).unwrap(), fs::read(&rendered).unwrap());

    // An empty range is refused, and says what the data covers.
    let out = download(&server, "2023-01-01", "2023-12-31", &dir.path().join("empty.png"));
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("INVALID_ARGUMENT") && out.stderr.contains("1999-01-04 to 2018-12-31"),
        "{}",
        out.stderr
    );
    let out = download(&server, "2018-02-30", "", &dir.path().join("bad.png"));
    assert!(out.stderr.contains("INVALID_ARGUMENT") && out.stderr.contains("not a real day"), "{}", out.stderr);
}

#[test]
fn chart_size_is_configurable() {
    let dir = scratch();
    let server = rust_server(&["--data", "sample", "--chart-size", "800x600"]);
    let received = dir.path().join("chart.png");
    download(&server, "2017-01-01", "2017-06-30", &received).assert_success("idc_graph_client");
    assert_eq!(png_size(&received), (800, 600));
}

#[test]
fn parity_mode_falls_back_to_the_sample_chart_until_macd_png_exists() {
    let dir = scratch();
    let mut cmd = rust_bin("idc_server");
    cmd.current_dir(dir.path()).env("RUST_LOG", "info").args(["--host", "127.0.0.1", "--port", "0"]);
    let server = Server::start(cmd);

    let received = dir.path().join("received.png");
    download(&server, "2023-01-01", "2023-12-31", &received).assert_success("fallback chart");
    assert_eq!(png_size(&received), (1280, 800));

    let file: PathBuf = dir.path().join("macd.png");
    fs::write(&file, b"the user's own chart").unwrap();
    download(&server, "2023-01-01", "2023-12-31", &received).assert_success("macd.png");
    assert_eq!(fs::read(&received).unwrap(), b"the user's own chart");

    let (_, log) = server.stop_with("TERM");
    assert!(log.contains("streams the chart of the embedded sample"), "{log}");
}

#[test]
fn a_bad_data_file_stops_the_server_at_start_with_file_and_line() {
    let dir = scratch();
    let csv = common::write_file(
        dir.path(),
        "bars.csv",
        b"date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,2,3,1\n",
    );
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--port", "0", "--data"]).arg(&csv);
    let out = run(cmd);
    assert!(!out.status.success());
    let expected = format!("{}:3: high 2 is below low 3", csv.display());
    assert!(out.stderr.contains(&expected), "{}", out.stderr);
}

#[test]
fn other_calls_are_answered_while_a_chart_renders() {
    use futures::TryStreamExt;
    use grpcio::{CallOption, ChannelBuilder, EnvBuilder};
    use idc::blocking::Gate;
    use idc::config::{Config, DataSource};
    use idc::protocol::indicator_graph::MACDGraphRequest;
    use idc::protocol::indicator_graph_grpc::IndicatorGraphClient;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    // One completion queue and one render thread, and the render held by a gate once it has
    // drawn, so it is certainly in progress while GetMACD is asked. If the render ran on the
    // completion-queue thread, GetMACD could not be answered until the gate opened.
    let mut config = Config::default();
    config.data.source = Some(DataSource::Sample);
    (config.threads.completion_queues, config.threads.blocking_threads) = (1, 1);
    let gate = Gate::at(idc::service::graph::CHART_DRAWN);
    let server = common::InProcess::start_gated(config, Some(&gate));
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let graph = IndicatorGraphClient::new(ChannelBuilder::new(env).connect(&server.address()));
    let mut chunks = graph
        .get_macd_graph_opt(&MACDGraphRequest::new(), CallOption::default().timeout(Duration::from_secs(60)))
        .unwrap();
    let first_arrived = Arc::new(AtomicBool::new(false));
    let arrived = Arc::clone(&first_arrived);
    let first_chunk = std::thread::spawn(move || {
        let first = futures::executor::block_on(chunks.try_next());
        arrived.store(true, Ordering::SeqCst);
        first.map(|chunk| chunk.map(|c| c.macd_chunk.len()))
    });
    assert!(gate.wait_arrived(1, Duration::from_secs(30)), "the render reaches the gate");

    let rows = idc::client::get_macd(&server.target(), "2018-12-24", "").unwrap();
    assert_eq!(rows.macd.len(), 5);
    assert!(!first_arrived.load(Ordering::SeqCst), "the chart is still held while GetMACD is answered");
    gate.open();
    let first = first_chunk.join().unwrap();
    assert!(matches!(first, Ok(Some(len)) if len > 0), "the chart's first chunk arrives once released: {first:?}");
}
