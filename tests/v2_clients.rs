//! The v2 subcommands of the client binaries against a real in-process server: `idc_client
//! compute` writes a CSV that pandas' `read_csv`, with its defaults, reads back as the very
//! columns and values the gRPC reply carried (NaN included), and JSON lines that Python's `json`
//! reads as the same; `idc_client instruments` lists what ListInstruments answers; refusals and a
//! closed pipe end as a command-line tool should; `idc_graph_client chart` writes, whole, the PNG
//! that Chart streams, and a refused chart leaves the earlier file. The replies compared against
//! come from the generated grpcio client, not from the code under test.

mod common;

use std::process::Command;

use futures::TryStreamExt;
use idc::config::Config;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// Every built-in with outputs of its own, in a convention whose warm-up leaves NaNs.
const INDICATORS: &str = "MACD(12,26,9),RSI(6),BOLL(20,2),fast=EMA(5),KDJ";

fn client_bin(server: &common::InProcess, args: &[&str]) -> common::Output {
    let mut cmd = common::rust_bin("idc_client");
    cmd.args(args).args(["--target", &server.address()]);
    common::run(cmd)
}

/// What the server sends for `request`, through the generated client.
fn reply(server: &common::InProcess, request: &pb::ComputeRequest) -> Vec<pb::Series> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    futures::executor::block_on(client.compute(request).unwrap().try_collect()).unwrap()
}

/// Every symbol the server holds, by the generated client's ListInstruments.
fn symbols(server: &common::InProcess) -> Vec<String> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
    reply.instruments.into_iter().map(|i| i.symbol).collect()
}

fn request(symbols: &[String], convention: pb::Convention) -> pb::ComputeRequest {
    pb::ComputeRequest {
        symbols: symbols.to_vec(),
        indicators: idc::client::v2::args::specs("--indicators", &[INDICATORS.to_string()]).unwrap(),
        convention: convention.into(),
        ..Default::default()
    }
}

/// The table the reply describes: column names, then each row's fields as text, numbers as
/// Python's `repr` writes a float (`nan`, `inf`, shortest round trip).
fn expected(series: &[pb::Series]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header: Vec<String> = ["symbol", "date", "open", "high", "low", "close", "volume"].map(String::from).into();
    header.extend(series[0].columns.iter().map(|c| c.name.clone()));
    let mut rows = Vec::new();
    for s in series {
        for i in 0..s.date.len() {
            let mut row = vec![s.symbol.clone(), s.date[i].clone()];
            let numbers = [&s.open, &s.high, &s.low, &s.close, &s.volume].map(|v| v[i]);
            row.extend(numbers.into_iter().chain(s.columns.iter().map(|c| c.values[i])).map(repr));
            rows.push(row);
        }
    }
    (header, rows)
}

fn repr(value: f64) -> String {
    if value.is_nan() {
        "nan".into()
    } else {
        format!("{value:?}")
    }
}

/// Runs Python `script` (which reads the file `argv[1]`) and returns what it printed, as JSON:
/// `{"columns": [...], "rows": [[...], ...]}` with every field as text.
fn python_reads(script: &str, file: &std::path::Path) -> serde_json::Value {
    let mut cmd = Command::new(common::python());
    cmd.args(["-c", script]).arg(file).env("PYTHONUTF8", "1");
    let out = common::run(cmd);
    out.assert_success("python");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// pandas, as a user would: `read_csv` with no options. Numbers are printed with `repr` so that
/// the comparison is of the exact floats pandas holds.
const READ_CSV: &str = r#"
import json, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
def text(column, value):
    if pd.api.types.is_numeric_dtype(frame[column]):
        return repr(float(value))
    return value
rows = [[text(c, v) for c, v in zip(frame.columns, row)] for row in frame.itertuples(index=False)]
print(json.dumps({"columns": list(frame.columns), "dtypes": [str(t) for t in frame.dtypes], "rows": rows}))
"#;

/// Python's `json`, one object a line; null read as NaN (the writer's NaN).
const READ_JSON_LINES: &str = r#"
import json, sys
objects = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
text = lambda v: v if isinstance(v, str) else repr(float("nan") if v is None else float(v))
print(json.dumps({"columns": list(objects[0]), "rows": [[text(v) for v in o.values()] for o in objects]}))
"#;

fn strings(value: &serde_json::Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn assert_table(what: &str, read: &serde_json::Value, (header, rows): &(Vec<String>, Vec<Vec<String>>)) {
    assert_eq!(&strings(&read["columns"]), header, "{what}: the column names");
    let read_rows: Vec<Vec<String>> = read["rows"].as_array().unwrap().iter().map(strings).collect();
    assert_eq!(read_rows.len(), rows.len(), "{what}: the rows");
    for (i, (got, want)) in read_rows.iter().zip(rows).enumerate() {
        let same = got.len() == want.len() && got.iter().zip(want).all(|(g, w)| same_field(g, w));
        assert!(same, "{what}: row {i}:\n read {got:?}\n sent {want:?}");
    }
}

/// The same text, or the same `f64` bit for bit (Python's `5.4e-05` is Rust's `5.4e-5`); NaN
/// is NaN.
fn same_field(got: &str, want: &str) -> bool {
    match (got.parse::<f64>(), want.parse::<f64>()) {
        _ if got == want => true,
        (Ok(g), Ok(w)) => g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
        _ => false,
    }
}

#[test]
fn pandas_read_csv_reads_the_columns_and_values_the_reply_carried() {
    let server = common::InProcess::start(Config::default());
    let symbols = symbols(&server);
    let dir = common::scratch();
    for (convention, flag) in [(pb::Convention::TALIB, "talib"), (pb::Convention::CN, "cn")] {
        let want = expected(&reply(&server, &request(&symbols, convention)));
        let nans = want.1.iter().flatten().filter(|f| *f == "nan").count();
        assert!(flag == "cn" || nans > 0, "TA-Lib's warm-up leaves NaNs to write");

        let out = client_bin(
            &server,
            &["compute", "--symbols", &symbols.join(","), "--indicators", INDICATORS, "--convention", flag],
        );
        out.assert_success("idc_client compute");
        let csv = common::write_file(dir.path(), &format!("{flag}.csv"), &out.stdout);
        let read = python_reads(READ_CSV, &csv);
        assert_table(&format!("read_csv, {flag}"), &read, &want);
        // The numbers are numbers to pandas, not text: every column after symbol and date.
        let dtypes = strings(&read["dtypes"]);
        assert!(dtypes[2..].iter().all(|t| t == "float64" || t == "int64"), "{dtypes:?}");

        let out = client_bin(
            &server,
            &[
                "compute",
                "--symbols",
                &symbols.join(","),
                "--indicators",
                INDICATORS,
                "--convention",
                flag,
                "--format",
                "json",
            ],
        );
        out.assert_success("idc_client compute --format json");
        let lines = common::write_file(dir.path(), &format!("{flag}.jsonl"), &out.stdout);
        assert_table(&format!("json lines, {flag}"), &python_reads(READ_JSON_LINES, &lines), &want);
    }
}

#[test]
fn ranges_frequencies_and_labels_reach_the_server() {
    let server = common::InProcess::start(Config::default());
    let symbol = idc::domain::sample::SYMBOL.to_string(); // the S&P 500, 1999-2018
    let out = client_bin(
        &server,
        &[
            "compute",
            "--symbols",
            &symbol,
            "--indicators",
            "m=MACD",
            "--start-date",
            "2018-10-01",
            "--end-date",
            "2018-12-31",
            "--frequency",
            "monthly",
            "--convention",
            "cn",
        ],
    );
    out.assert_success("idc_client compute --frequency monthly");
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "symbol,date,open,high,low,close,volume,m.DIF,m.DEA,m.MACD");
    let dates: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    let want = reply(
        &server,
        &pb::ComputeRequest {
            symbols: vec![symbol],
            start_date: "2018-10-01".into(),
            end_date: "2018-12-31".into(),
            frequency: pb::Frequency::MONTHLY.into(),
            ..Default::default()
        },
    );
    assert_eq!(dates, want[0].date, "one row per month, dated by its last bar");
    assert_eq!(dates.len(), 3);
}

#[test]
fn instruments_lists_what_list_instruments_answers() {
    let server = common::InProcess::start(Config::default());
    let client = IndicatorsClient::new(common::channel(&server.address()));
    let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
    let out = client_bin(&server, &["instruments"]);
    out.assert_success("idc_client instruments");
    let mut want = vec!["symbol,name,first_date,last_date,bars,has_adj_factor".to_string()];
    for i in &reply.instruments {
        let name =
            if i.name.contains([',', '"']) { format!("\"{}\"", i.name.replace('"', "\"\"")) } else { i.name.clone() };
        want.push(format!("{},{name},{},{},{},{}", i.symbol, i.first_date, i.last_date, i.bars, i.has_adj_factor));
    }
    assert_eq!(out.stdout_text().lines().collect::<Vec<_>>(), want);
    let out = client_bin(&server, &["instruments", "--format", "json"]);
    let first: serde_json::Value = serde_json::from_str(out.stdout_text().lines().next().unwrap()).unwrap();
    assert_eq!(first["symbol"], reply.instruments[0].symbol.as_str());
    assert_eq!(first["bars"], reply.instruments[0].bars);
}

#[test]
fn refusals_say_why_and_a_closed_pipe_ends_quietly() {
    let server = common::InProcess::start(Config::default());
    let out = client_bin(&server, &["compute", "--symbols", "NOPE,ZZZ"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing is written before the refusal");
    assert!(
        out.stderr.contains("Compute on") && out.stderr.contains("NOT_FOUND: unknown symbols \"NOPE\", \"ZZZ\""),
        "{}",
        out.stderr
    );

    // A spec that does not parse is refused before any call.
    let out = client_bin(&server, &["compute", "--indicators", "MACD(12,26"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.starts_with("idc_client: invalid --indicators: \"MACD(12,26\" is not an indicator spec"),
        "{}",
        out.stderr
    );

    // The server checks the parameters and says which one is wrong.
    let out = client_bin(&server, &["compute", "--indicators", "RSI(0)"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("INVALID_ARGUMENT") && out.stderr.contains("RSI"), "{}", out.stderr);

    // `| head -1` closes the pipe after the header; the client stops, quietly and with success.
    let script = format!(
        "{:?} compute --target {} --indicators MACD | head -1; exit ${{PIPESTATUS[0]}}",
        env!("CARGO_BIN_EXE_idc_client"),
        server.address()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]);
    let out = common::run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout_text().starts_with("symbol,date,"), "{}", out.stdout_text());
    assert!(!out.stderr.contains("panicked") && !out.stderr.contains("idc_client:"), "{}", out.stderr);
}

#[test]
fn without_a_subcommand_the_clients_refuse_v2_flags() {
    // The article's clients take no v2 flags; a v2 flag before the subcommand names is refused.
    let server = common::InProcess::start(Config::default());
    let out = client_bin(&server, &["--symbols", "SPX"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr);
    let mut cmd = common::rust_bin("idc_client");
    cmd.args(["--target", &server.address(), "compute"]);
    let out = common::run(cmd);
    assert_eq!(out.status.code(), Some(2), "flags of the article's call and a subcommand do not mix: {}", out.stderr);
}

/// The Chart stream's PNG for `request`, through the generated client.
fn chart_bytes(server: &common::InProcess, request: &pb::ChartRequest) -> Vec<u8> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    let chunks: Vec<pb::ChartChunk> =
        futures::executor::block_on(client.chart(request).unwrap().try_collect()).unwrap();
    chunks.into_iter().flat_map(|c| c.png).collect()
}

#[test]
fn chart_writes_the_png_the_server_streams_and_a_refusal_keeps_the_old_file() {
    let server = common::InProcess::start(Config::default());
    let symbol = idc::domain::sample::SYMBOL.to_string(); // the S&P 500, 1999-2018
    let dir = common::scratch();
    let output = dir.path().join("chart.png");
    let mut cmd = common::rust_bin("idc_graph_client");
    cmd.args(["chart", "--target", &server.address(), "--symbol", &symbol, "--overlay", "MA(5),MA(10)"])
        .args(["--panel", "VOL", "--panel", "MACD(12,26,9)", "--start-date", "2018-06-01", "--width", "800"])
        .args(["--height", "600", "--output"])
        .arg(&output);
    let out = common::run(cmd);
    out.assert_success("idc_graph_client chart");
    assert!(out.stdout.is_empty(), "no banner: that is the article's download");

    let specs = |text: &str| idc::client::v2::args::specs("--panel", &[text.to_string()]).unwrap();
    let request = pb::ChartRequest {
        symbol: symbol.clone(),
        start_date: "2018-06-01".into(),
        overlays: specs("MA(5),MA(10)"),
        panels: specs("VOL,MACD(12,26,9)"),
        width: 800,
        height: 600,
        ..Default::default()
    };
    let png = std::fs::read(&output).unwrap();
    assert!(png == chart_bytes(&server, &request), "the file is the stream's bytes, whole");
    let image = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
    assert_eq!((image.width(), image.height()), (800, 600));

    let mut cmd = common::rust_bin("idc_graph_client");
    cmd.args(["chart", "--target", &server.address(), "--symbol", "NOPE", "--output"]).arg(&output);
    let out = common::run(cmd);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("NOT_FOUND") && out.stderr.ends_with("was left as it was\n"), "{}", out.stderr);
    assert!(std::fs::read(&output).unwrap() == png, "the earlier chart survives a refused call");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["chart.png"], "no temporary file is left behind");
}

#[test]
fn a_server_without_v2_is_named_as_such() {
    // The article's Python server has only idc.Indicator and idc.IndicatorGraph.
    let server = common::python_server(&[]);
    for subcommand in ["instruments", "compute"] {
        let mut cmd = common::rust_bin("idc_client");
        cmd.args([subcommand, "--target", &server.target()]);
        let out = common::run(cmd);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stderr.contains("UNIMPLEMENTED"), "{}", out.stderr);
        assert!(out.stderr.contains("this server does not serve idc.v2.Indicators"), "{subcommand}: {}", out.stderr);
    }
}

#[test]
fn the_subcommands_use_tls_and_the_token_as_the_articles_call_does() {
    let dir = common::scratch();
    let ca = common::pki::Ca::new(dir.path(), "main");
    let identity = ca.server(dir.path(), "server");
    let token = common::token_file(dir.path(), "token", "v2-both-layers");
    let text = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let server = common::rust_server(&[
        "--tls-cert",
        &text(&identity.cert),
        "--tls-key",
        &text(&identity.key),
        "--auth-token-file",
        &text(&token),
    ]);
    let secure = ["--tls-ca".to_string(), text(&ca.cert), "--auth-token-file".into(), text(&token)];
    let call = |subcommand: &str, flags: &[String]| {
        let mut cmd = common::rust_bin("idc_client");
        cmd.args([subcommand, "--target", &server.target(), "--symbols", "SPX"]).args(flags);
        common::run(cmd)
    };
    let out = call("compute", &secure);
    out.assert_success("idc_client compute over TLS with a token");
    assert!(out.stdout_text().starts_with("symbol,date,open,high,low,close,volume\nSPX,1999-01-04,"));
    let out = call("compute", &secure[..2]);
    assert!(out.stderr.contains("UNAUTHENTICATED"), "no token: {}", out.stderr);
    let out = call("compute", &[]);
    assert!(out.stderr.contains("UNAVAILABLE") && out.stderr.contains("--tls-ca"), "plaintext: {}", out.stderr);
}
