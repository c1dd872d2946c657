//! A formula whose call has ended stops: a `Compute` of a formula far too costly to finish
//! (200 windows of 10,000 bars over 30,000 bars, minutes of work) with a 300 ms deadline ends
//! with `DEADLINE_EXCEEDED`, the computation is counted as given up (`idc_computations_stopped`)
//! within seconds, and the one blocking thread is free again for the next call.

mod common;

use std::time::Duration;

use idc::config::{Config, DataSource};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

#[test]
fn a_formula_stops_when_its_call_has_ended() {
    let dir = common::scratch();
    common::write_file(dir.path(), "X.csv", common::daily_bars_csv(1900, 30_000).as_bytes());
    let mut config = Config::default();
    config.data.source = Some(DataSource::Csv(dir.path().to_path_buf()));
    config.threads.blocking_threads = 1;
    let server = common::InProcess::start(config);
    let client = IndicatorsClient::new(common::channel(&server.address()));
    // Each statement costs 30,000 × 10,000 steps: the whole is minutes of one core.
    let formula: String = (0..200).map(|k| format!("A{k}:=AVEDEV(C+{k},10000);")).collect::<String>() + "OUT:A0+A199;";
    let costly = pb::ComputeRequest {
        symbols: vec!["X".into()],
        indicators: vec![pb::IndicatorSpec { formula, ..Default::default() }],
        ..Default::default()
    };
    let options = grpcio::CallOption::default().timeout(Duration::from_millis(300));
    let mut stream = client.compute_opt(&costly, options).expect("the call starts");
    let ended = futures::executor::block_on(futures::TryStreamExt::try_next(&mut stream));
    match ended {
        Err(grpcio::Error::RpcFailure(status)) => assert_eq!(status.code(), grpcio::RpcStatusCode::DEADLINE_EXCEEDED),
        other => panic!("expected DEADLINE_EXCEEDED, got {other:?}"),
    }
    server.wait_for_counters("the formula given up", Duration::from_secs(20), |m| m.computations_stopped() == 1);
    // The one blocking thread is free: a cheap call is answered.
    let cheap = pb::ComputeRequest {
        symbols: vec!["X".into()],
        indicators: vec![pb::IndicatorSpec { formula: "M:MA(C,5);".into(), ..Default::default() }],
        ..Default::default()
    };
    let options = grpcio::CallOption::default().timeout(Duration::from_secs(20));
    let replies: Vec<pb::Series> = futures::executor::block_on(futures::TryStreamExt::try_collect(
        client.compute_opt(&cheap, options).expect("the call starts"),
    ))
    .expect("the cheap call is answered");
    assert_eq!(replies[0].columns[0].name, "F1");
    assert_eq!(replies[0].date.len(), 30_000);
}
