//! `idc_client compute --formula` against a real in-process server: each `--formula [LABEL=]TEXT`
//! is one formula spec after the `--indicators` specs, and the CSV holds the very columns and
//! values (shortest round trip) that the generated grpcio client receives for the same request; a
//! formula the server refuses prints its status, formula, line and column and exits 1; a
//! `--formula` without text is refused before any call.

mod common;

use futures::TryStreamExt;
use idc::config::Config;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

fn client_bin(server: &common::InProcess, args: &[&str]) -> common::Output {
    let mut cmd = common::rust_bin("idc_client");
    cmd.args(args).args(["--target", &server.address()]);
    common::run(cmd)
}

fn reply(server: &common::InProcess, request: &pb::ComputeRequest) -> Vec<pb::Series> {
    let client = IndicatorsClient::new(common::channel(&server.address()));
    futures::executor::block_on(client.compute(request).unwrap().try_collect()).unwrap()
}

fn formula(label: &str, text: &str) -> pb::IndicatorSpec {
    pb::IndicatorSpec { formula: text.to_string(), label: label.to_string(), ..Default::default() }
}

#[test]
fn compute_with_formulas_writes_what_the_server_sends() {
    let server = common::InProcess::start(Config::default());
    let macd = "DIF:EMA(C,12)-EMA(C,26);DEA:EMA(DIF,9)";
    let out = client_bin(
        &server,
        &[
            "compute",
            "--symbols",
            "SPX,AAPL",
            "--indicators",
            "MACD(12,26,9)",
            "--formula",
            macd,
            "--formula",
            "up=C>REF(C,1)",
            "--formula",
            "C==O",
            "--start-date",
            "2013-01-02",
            "--end-date",
            "2013-03-01",
        ],
    );
    out.assert_success("idc_client compute --formula");
    let request = pb::ComputeRequest {
        symbols: vec!["SPX".into(), "AAPL".into()],
        start_date: "2013-01-02".into(),
        end_date: "2013-03-01".into(),
        indicators: vec![
            pb::IndicatorSpec { name: "MACD".into(), params: vec![12.0, 26.0, 9.0], ..Default::default() },
            formula("", macd),
            formula("up", "C>REF(C,1)"),
            formula("", "C==O"),
        ],
        ..Default::default()
    };
    let series = reply(&server, &request);
    let text = out.stdout_text();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut expected: Vec<String> =
        ["symbol", "date", "open", "high", "low", "close", "volume"].map(String::from).into();
    expected.extend(series[0].columns.iter().map(|c| c.name.clone()));
    assert_eq!(header, expected);
    assert_eq!(
        &header[7..],
        ["MACD(12,26,9).DIF", "MACD(12,26,9).DEA", "MACD(12,26,9).MACD", "F1.DIF", "F1.DEA", "up", "F3"],
        "a formula's default label counts the formulas, F1, F2, F3, its own label or not"
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut i = 0;
    for s in &series {
        assert!(!s.date.is_empty(), "{}", s.symbol);
        for (k, date) in s.date.iter().enumerate() {
            let row = &rows[i];
            assert_eq!((&row[0], &row[1]), (s.symbol.as_str(), date.as_str()));
            for (c, column) in s.columns.iter().enumerate() {
                let field = &row[7 + c];
                let value = column.values[k];
                if value.is_nan() {
                    assert_eq!(field, "", "{} {date} {}", s.symbol, column.name);
                } else {
                    assert_eq!(field.parse::<f64>().unwrap(), value, "{} {date} {}", s.symbol, column.name);
                }
            }
            i += 1;
        }
    }
    assert_eq!(i, rows.len(), "one row per bar, no more");
    // The formula's DIF and DEA are the built-in's.
    for row in &rows {
        for (ours, theirs) in [(10, 7), (11, 8)] {
            let (a, b): (f64, f64) = (row[ours].parse().unwrap(), row[theirs].parse().unwrap());
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{row:?}");
        }
    }
}

#[test]
fn a_refused_formula_names_its_place_and_a_formula_without_text_is_refused_before_the_call() {
    let server = common::InProcess::start(Config::default());
    let out =
        client_bin(&server, &["compute", "--symbols", "SPX", "--formula", "ok:C;", "--formula", "DIF:EMAA(C,12)"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("Compute on")
            && out.stderr.contains(
                "INVALID_ARGUMENT: formula 2, 1:5: unknown function EMAA (did you mean EMA?), near \"EMAA(C,12)\""
            ),
        "{}",
        out.stderr
    );
    let out = client_bin(&server, &["compute", "--formula", "big=  "]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.starts_with("idc_client: invalid --formula: \"big=  \" has no formula text"), "{}", out.stderr);
    let out = client_bin(&server, &["compute", "--symbols", "SPX", "--formula", "X:MA(C,0)"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("formula 1, 1:8: MA's argument 2 is 0"), "{}", out.stderr);
}
