//! `idc.v2.Indicators` over gRPC: `ListInstruments`, and `Compute` of every built-in in both
//! conventions against MyTT and TA-Lib (`tests/python/indicators_reference.py` on the sample's
//! bars, to 1e-9), with the column names the contract gives; and every bad request refused with
//! its status and a message naming what was wrong, the server serving on after each.

mod common;

use std::collections::HashMap;

use futures::TryStreamExt;
use idc::config::Config;
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

fn client(server: &common::InProcess) -> IndicatorsClient {
    IndicatorsClient::new(common::channel(&server.address()))
}

fn compute(client: &IndicatorsClient, request: &pb::ComputeRequest) -> Result<Vec<pb::Series>, grpcio::Error> {
    futures::executor::block_on(client.compute(request)?.try_collect())
}

fn spec(name: &str, params: &[f64]) -> pb::IndicatorSpec {
    pb::IndicatorSpec { name: name.to_string(), params: params.to_vec(), ..Default::default() }
}

/// The reference table for the sample's bars: `CONVENTION|SPEC|OUTPUT` -> values.
fn reference() -> (Vec<String>, HashMap<String, Vec<f64>>) {
    let out = common::scratch();
    let path = out.path().join("sp500.csv");
    let mut cmd = std::process::Command::new(common::python());
    cmd.arg(common::python_dir().join("indicators_reference.py"))
        .arg(common::repo_root().join("data/sp500.csv"))
        .arg(&path);
    common::run(cmd).assert_success("indicators_reference.py");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut columns: HashMap<String, Vec<f64>> = header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for record in reader.records() {
        for (name, field) in header.iter().zip(record.unwrap().iter()) {
            let value = match field {
                "" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => other.parse().unwrap_or(f64::NAN),
            };
            columns.get_mut(name).unwrap().push(value);
        }
    }
    (header, columns)
}

/// Whether TA-Lib's library runs its FMA clones here: its x86-64 build picks them at load time
/// on a processor with FMA (elsewhere it multiplies and adds apart, and only 1e-9 holds).
fn talib_fuses() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn agrees(ours: f64, theirs: f64) -> bool {
    if theirs.is_nan() {
        return ours.is_nan();
    }
    if theirs.is_infinite() {
        return ours == theirs;
    }
    let tolerance = if theirs.abs() < 1.0 { 1e-9 } else { 1e-9 * theirs.abs() };
    (ours - theirs).abs() <= tolerance
}

#[test]
fn list_instruments_describes_the_sample() {
    let server = common::InProcess::start(Config::default());
    let reply = client(&server).list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
    let spx = reply.instruments.iter().find(|i| i.symbol == "SPX").expect("the sample's S&P 500");
    assert_eq!(spx.name, "S&P 500");
    assert_eq!((spx.first_date.as_str(), spx.last_date.as_str()), ("1999-01-04", "2018-12-31"));
    assert_eq!(
        spx.bars as usize,
        std::fs::read_to_string(common::repo_root().join("data/sp500.csv")).unwrap().lines().count() - 1
    );
    assert!(!spx.has_adj_factor);
}

#[test]
fn compute_serves_every_indicator_in_both_conventions_as_mytt_and_talib_compute_them() {
    let (header, reference) = reference();
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let mut compared = 0;
    for (convention, name) in [(pb::Convention::CN, "cn"), (pb::Convention::TALIB, "talib")] {
        // The reference's specs, as the header names them: `cn|MACD(12,26,9)|DIF`.
        let mut specs: Vec<String> = Vec::new();
        for key in header.iter().filter(|h| h.starts_with(&format!("{name}|"))) {
            let spec = key.split('|').nth(1).unwrap().to_string();
            if !specs.contains(&spec) {
                specs.push(spec);
            }
        }
        let request = pb::ComputeRequest {
            symbols: vec!["SPX".into()],
            indicators: specs
                .iter()
                .map(|s| {
                    let (name, params) = idc::domain::indicators::parse_spec(s).unwrap();
                    spec(&name, &params)
                })
                .collect(),
            convention: convention.into(),
            ..Default::default()
        };
        let series = compute(&client, &request).unwrap();
        assert_eq!(series.len(), 1);
        let series = &series[0];
        assert_eq!(series.symbol, "SPX");
        assert_eq!(series.close, reference["close"], "the bars are the file's");
        for key in header.iter().filter(|h| h.starts_with(&format!("{name}|"))) {
            let [_, spec, output] = key.split('|').collect::<Vec<_>>()[..] else { unreachable!() };
            let column_name = if output.is_empty() { spec.to_string() } else { format!("{spec}.{output}") };
            let column = series
                .columns
                .iter()
                .find(|c| c.name == column_name)
                .unwrap_or_else(|| panic!("no column {column_name}"));
            let theirs = &reference[key];
            let bad = (0..theirs.len()).filter(|&i| !agrees(column.values[i], theirs[i])).count();
            assert_eq!(bad, 0, "{key}: {bad} bars differ from the reference");
            // Where idc computes as the reference does, the same bits, not only within 1e-9:
            // MyTT's CCI is pandas' rolling mean and numpy's sums of each window (AVEDEV), which
            // idc adds as they do; TA-Lib's EMAs (EMA, MACD, TRIX) fuse each step's multiply and
            // add on a processor with FMA, as idc's talib EMAs do everywhere; every other TA-Lib
            // function here (its C library 0.6's loops, RSI's, ATR's, WILLR's, STOCH's, CCI's and
            // BBANDS's read from its disassembly) as its x86-64 build computes it (another
            // compiler may contract a multiply and an add that this build keeps apart).
            let exact = match name {
                "cn" => spec.starts_with("CCI"),
                _ if ["EMA", "MACD", "TRIX"].iter().any(|n| spec.starts_with(n)) => talib_fuses(),
                _ => {
                    cfg!(target_arch = "x86_64")
                        && ["MA(", "RSI", "ATR", "WR", "KDJ", "CCI", "BOLL", "DMI", "OBV", "MFI", "ROC", "MTM"]
                            .iter()
                            .any(|n| spec.starts_with(n))
                }
            };
            if exact {
                let inexact = (0..theirs.len())
                    .filter(|&i| column.values[i].to_bits() != theirs[i].to_bits() && !theirs[i].is_nan())
                    .count();
                assert_eq!(inexact, 0, "{key}: {inexact} bars are not the reference's bits");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 128, "every reference column was compared");
}

#[test]
fn a_range_names_its_dates_and_every_symbol_comes_in_the_order_asked() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let request = pb::ComputeRequest {
        start_date: "2018-12-24".into(),
        end_date: "2018-12-31".into(),
        indicators: vec![
            spec("MACD", &[]),
            pb::IndicatorSpec { name: "rsi".into(), params: vec![6.0], label: "fast".into(), ..Default::default() },
        ],
        ..Default::default()
    };
    let series = compute(&client, &request).unwrap();
    let spx = series.iter().find(|s| s.symbol == "SPX").unwrap();
    assert_eq!(spx.date, ["2018-12-24", "2018-12-26", "2018-12-27", "2018-12-28", "2018-12-31"]);
    let names: Vec<&str> = spx.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["MACD(12,26,9).DIF", "MACD(12,26,9).DEA", "MACD(12,26,9).MACD", "fast"]);
    assert!(spx.columns.iter().all(|c| c.values.len() == 5));
}

/// Each bad request, its status and a part of its message; the server must answer the next.
#[test]
fn bad_requests_get_a_status_that_names_what_was_wrong() {
    let server = common::InProcess::start(Config::default());
    let client = client(&server);
    let base = || pb::ComputeRequest { symbols: vec!["SPX".into()], ..Default::default() };
    let with_spec = |s: pb::IndicatorSpec| pb::ComputeRequest { indicators: vec![s], ..base() };
    let cases: Vec<(&str, pb::ComputeRequest, grpcio::RpcStatusCode, &str)> = vec![
        (
            "unknown symbols",
            pb::ComputeRequest { symbols: vec!["SPX".into(), "NOPE".into(), "ZZZ".into()], ..Default::default() },
            grpcio::RpcStatusCode::NOT_FOUND,
            "unknown symbols \"NOPE\", \"ZZZ\": ListInstruments lists the symbols this server holds",
        ),
        (
            "unknown indicator",
            with_spec(spec("MACDX", &[])),
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "indicator 1: unknown indicator \"MACDX\"",
        ),
        (
            "wrong parameter count",
            with_spec(spec("MACD", &[12.0, 26.0])),
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "indicator 1: MACD takes 3 parameters (SHORT, LONG, M), or none for the defaults; got 2",
        ),
        (
            "out-of-range parameter",
            with_spec(spec("RSI", &[20000.0])),
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "indicator 1: RSI parameter N is 20000: it must be a whole number of bars from 1 to 10000",
        ),
        (
            "NaN parameter",
            with_spec(spec("BOLL", &[20.0, f64::NAN])),
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "indicator 1: BOLL parameter P is NaN: it must be a finite number above 0",
        ),
        (
            "duplicate label",
            pb::ComputeRequest { indicators: vec![spec("MA", &[5.0]), spec("ma", &[])], ..base() },
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "indicator 2: the label \"MA(5)\" is already used by an earlier indicator",
        ),
        (
            "bad date",
            pb::ComputeRequest { start_date: "2018-02-30".into(), ..base() },
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "\"2018-02-30\" is not a real day",
        ),
        (
            "FORWARD without adj_factor",
            pb::ComputeRequest { adjust: pb::Adjust::FORWARD.into(), ..base() },
            grpcio::RpcStatusCode::FAILED_PRECONDITION,
            "SPX has no adj_factor column, which FORWARD adjustment needs",
        ),
        (
            "too many symbols",
            pb::ComputeRequest { symbols: (0..10_001).map(|i| format!("S{i}")).collect(), ..Default::default() },
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "10001 symbols asked; at most 10000 a request",
        ),
        (
            "a symbol asked twice",
            pb::ComputeRequest { symbols: vec!["SPX".into(), "SPX".into()], ..Default::default() },
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "the symbol \"SPX\" is asked twice",
        ),
        (
            "an unknown enum value",
            pb::ComputeRequest { frequency: protobuf::EnumOrUnknown::from_i32(7), ..base() },
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "frequency 7 is not a Frequency: use DAILY (0), WEEKLY (1) or MONTHLY (2)",
        ),
        (
            "a formula with an unknown function",
            with_spec(pb::IndicatorSpec { formula: "DIF:EMAA(CLOSE,12);".into(), ..Default::default() }),
            grpcio::RpcStatusCode::INVALID_ARGUMENT,
            "formula 1, 1:5: unknown function EMAA (did you mean EMA?)",
        ),
    ];
    for (what, request, code, message) in cases {
        match compute(&client, &request) {
            Err(grpcio::Error::RpcFailure(status)) => {
                assert_eq!(status.code(), code, "{what}: {}", status.message());
                assert!(
                    status.message().contains(message),
                    "{what}: {:?} should contain {message:?}",
                    status.message()
                );
            }
            other => panic!("{what}: expected {code:?}, got {other:?}"),
        }
        let still = client.list_instruments(&pb::ListInstrumentsRequest::new()).unwrap();
        assert!(!still.instruments.is_empty(), "{what}: the server serves on");
    }
}

#[test]
fn a_series_too_long_for_one_message_is_out_of_range() {
    let dir = common::scratch();
    let path = common::write_file(dir.path(), "LONG.csv", common::daily_bars_csv(1800, 60_000).as_bytes());
    let mut config = Config::default();
    config.data.source = Some(idc::config::DataSource::Csv(path));
    let server = common::InProcess::start(config);
    let request =
        pb::ComputeRequest { indicators: (1..=12).map(|n| spec("MA", &[n as f64])).collect(), ..Default::default() };
    match compute(&client(&server), &request) {
        Err(grpcio::Error::RpcFailure(status)) => {
            assert_eq!(status.code(), grpcio::RpcStatusCode::OUT_OF_RANGE, "{}", status.message());
            assert!(
                status.message().starts_with("LONG: 60000 rows × 12 indicator columns is about"),
                "{}",
                status.message()
            );
            assert!(status.message().contains("shorten the range"), "{}", status.message());
        }
        other => panic!("expected OUT_OF_RANGE, got {other:?}"),
    }
}
