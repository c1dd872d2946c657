//! The catalog as a client sees it, through the real `idc_server` binary: files added, replaced
//! (written then renamed) and removed under `--data DIR` are listed by `ListInstruments` within
//! 2 s; a broken replacement keeps the last good version served; SIGHUP rereads the directory and
//! the server goes on serving (it used to end the process with no drain).

mod common;

use std::fs;
use std::time::Duration;

use common::{daily_bars_csv, rust_server, scratch, wait_for, write_file};
use idc::protocol::indicators as pb;
use idc::protocol::indicators_grpc::IndicatorsClient;

/// What the issue promises: a change is served within 2 s.
const SERVED_WITHIN: Duration = Duration::from_secs(2);

fn listed(client: &IndicatorsClient) -> Vec<(String, u32)> {
    let reply = client.list_instruments(&pb::ListInstrumentsRequest::new()).expect("ListInstruments answers");
    reply.instruments.iter().map(|i| (i.symbol.clone(), i.bars)).collect()
}

#[test]
fn files_added_replaced_and_removed_under_a_running_server_are_served_within_two_seconds() {
    let dir = scratch();
    write_file(dir.path(), "AAA.csv", daily_bars_csv(2000, 10).as_bytes());
    let server = rust_server(&["--data", dir.path().to_str().unwrap()]);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    assert_eq!(listed(&client), [("AAA".to_string(), 10)]);

    write_file(dir.path(), "BBB.csv", daily_bars_csv(2001, 20).as_bytes());
    wait_for("BBB to be served", SERVED_WITHIN, || listed(&client).contains(&("BBB".to_string(), 20)));

    let temporary = write_file(dir.path(), "AAA.csv.tmp", daily_bars_csv(2000, 30).as_bytes());
    fs::rename(temporary, dir.path().join("AAA.csv")).unwrap();
    wait_for("the replaced AAA to be served", SERVED_WITHIN, || listed(&client).contains(&("AAA".to_string(), 30)));

    // A replacement that does not load: the 30 bars stay served.
    let broken = write_file(dir.path(), "AAA.csv.tmp", b"date,open,high,low,close\n2000-01-03,1,2,3,x\n");
    fs::rename(broken, dir.path().join("AAA.csv")).unwrap();
    fs::remove_file(dir.path().join("BBB.csv")).unwrap();
    wait_for("BBB to be gone", SERVED_WITHIN, || !listed(&client).iter().any(|(s, _)| s == "BBB"));
    assert_eq!(listed(&client), [("AAA".to_string(), 30)], "the last good AAA is still served");
}

/// The close of `symbol`'s last bar, as Compute serves it.
fn last_close(client: &IndicatorsClient, symbol: &str) -> f64 {
    use futures::TryStreamExt;
    let request = pb::ComputeRequest { symbols: vec![symbol.to_string()], ..Default::default() };
    let series: Vec<pb::Series> = futures::executor::block_on(client.compute(&request).unwrap().try_collect()).unwrap();
    *series[0].close.last().unwrap()
}

#[test]
fn sighup_rereads_the_catalog_and_the_server_serves_on() {
    let dir = scratch();
    let bars = |close: &str| format!("date,open,high,low,close\n2000-01-03,10.0,11.0,10.0,{close}\n");
    let path = write_file(dir.path(), "AAA.csv", bars("10.5").as_bytes());
    // A copy with the file's times, to put them back after the rewrite below.
    let times = write_file(dir.path(), "times.ref", b"");
    assert!(std::process::Command::new("touch").arg("-r").arg(&path).arg(&times).status().unwrap().success());
    let mut server = rust_server(&["--data", dir.path().to_str().unwrap()]);
    let client = IndicatorsClient::new(common::channel(&server.target()));
    assert_eq!(last_close(&client, "AAA"), 10.5);

    // Rewritten in place with the same length and its old times: the watcher's scan, which looks
    // at length, time and inode, cannot see this; only SIGHUP's reread of every file can.
    fs::write(&path, bars("10.6")).unwrap();
    assert!(std::process::Command::new("touch").arg("-r").arg(&times).arg(&path).status().unwrap().success());
    fs::remove_file(&times).unwrap();
    let kill = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(kill.success());
    wait_for("the rewritten AAA to be served after SIGHUP", SERVED_WITHIN, || last_close(&client, "AAA") == 10.6);
    assert!(server.is_running(), "SIGHUP does not end the server");
    let (status, stderr) = server.stop_with("TERM");
    assert!(status.success(), "the server drains and exits 0 after SIGHUP and SIGTERM: {stderr}");
}
