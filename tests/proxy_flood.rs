//! A rapid-reset flood (CVE-2023-44487) sent to nginx running the tested recipe
//! (tests/nginx/idc.conf.template) instead of to `idc_server` itself: what SECURITY.md tells users
//! to do, since gRPC C-core 1.56 has no defence of its own (`tests/hostile.rs` measures the
//! server alone).
//!
//! `tests/python/h2_hostile.py` floods nginx from 127.0.0.2 with HEADERS + RST_STREAM pairs,
//! opening a new connection whenever nginx closes one, in three ways: as fast as the socket takes
//! them (what hostile.rs sends), paced in batches of 100 that each arrive in a read of their own
//! (which nginx's per-read limit does not catch), and paced with a request message on every
//! stream. Meanwhile health checks from 127.0.0.1, on fresh connections, go through nginx and
//! straight to the replica, timed. After each flood the test counts what reached the replica:
//! the flood's calls nginx passed on (its access log, by client address), the connections it
//! opened for them, and the calls the replica's handlers saw (its /metrics).
//!
//! Asserted: every health check, during and after each flood, answers SERVING within
//! [`HEALTH_LIMIT`]; nginx passes on at most `burst + rate * seconds` of the flood's calls
//! (the recipe's `limit_req`: however the flood spreads its streams over connections and reads,
//! that is the bound); the replica's handlers see no more than that; its memory grows by less
//! than [`MOST_GROWTH_KIB`]. The figures are printed for SECURITY.md.
//!
//! `IDC_FLOOD_STRAIGHT=1` sends the same floods straight to the replica instead, for the figures
//! without the proxy: then the test fails (health checks stall for seconds, memory grows by
//! hundreds of MiB), which shows that it is nginx that passes it.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use grpcio::CallOption;
use idc::protocol::health::health_check_response::ServingStatus;
use idc::protocol::health::HealthCheckRequest;
use idc::protocol::health_grpc::HealthClient;

use common::nginx::{Nginx, TEMPLATE};
use common::{channel, free_port, pseudo_random_bytes, python_script, rss_kib, run, rust_bin, scratch};
use common::{scrape_metrics, start_or_exit, write_file, Server};

/// The recipe's `limit_req_zone ... rate=` and `limit_req ... burst=`, per client address.
const RATE_PER_SECOND: u64 = 1000;
const BURST: u64 = 1000;
/// How long a health check may take, during a flood or after it, through nginx or not. Measured:
/// mostly under 0.3 s, at worst 0.9 s with the machine's two cores shared with other builds; the
/// same floods sent straight to the replica stall checks for 1 to 5 s (SECURITY.md).
const HEALTH_LIMIT: Duration = Duration::from_secs(2);
/// Pairs per flood, as in tests/hostile.rs.
const FLOOD_PAIRS: u64 = 20_000;
/// The flood's own address: limit_req counts per client address, and the health checks through
/// nginx come from 127.0.0.1, as another client's calls would.
const ATTACKER: &str = "127.0.0.2";
/// How much the replica's memory may grow over the three floods. Measured: about 3 MiB (with the
/// replica alone, tens to hundreds of MiB: SECURITY.md).
const MOST_GROWTH_KIB: u64 = 32 * 1024;

/// One flood: its name and h2_hostile.py's `flood` options beyond the common ones.
struct Flood {
    name: &'static str,
    args: &'static [&'static str],
}

const FLOODS: [Flood; 3] = [
    Flood { name: "as fast as the socket takes it", args: &[] },
    Flood { name: "paced, 100 pairs a read", args: &["--batch", "100", "--pace", "0.005"] },
    Flood { name: "paced, with requests", args: &["--batch", "100", "--pace", "0.005", "--with-request"] },
];

/// `idc_server` in parity mode, streaming a small graph file, with /metrics on a port of its own.
fn replica(dir: &tempfile::TempDir) -> (Server, String) {
    let graph = write_file(dir.path(), "graph.png", &pseudo_random_bytes(3000, 44_487));
    for _ in 0..5 {
        let metrics = format!("127.0.0.1:{}", free_port());
        let mut cmd = rust_bin("idc_server");
        cmd.args(["--host", "127.0.0.1", "--port", "0", "--metrics-addr", &metrics]);
        cmd.args(["--graph-file", graph.to_str().unwrap()]);
        match start_or_exit(cmd) {
            (Some(server), _) => return (server, metrics),
            // The metrics port was taken again before the server bound it.
            (None, Some(out)) if out.stderr.contains("--metrics-addr") => continue,
            (None, out) => panic!("idc_server did not start: {out:?}"),
        }
    }
    panic!("no free port for --metrics-addr in 5 tries");
}

/// A health check on a connection of its own: how long it took to answer SERVING.
fn health(address: &str) -> Result<Duration, String> {
    let started = Instant::now();
    let option = CallOption::default().timeout(HEALTH_LIMIT * 10);
    match HealthClient::new(channel(address)).check_opt(&HealthCheckRequest::new(), option) {
        Ok(reply) if reply.status.enum_value_or(ServingStatus::UNKNOWN) == ServingStatus::SERVING => {
            Ok(started.elapsed())
        }
        Ok(reply) => Err(format!("health answered {:?}", reply.status)),
        Err(e) => Err(format!("health check failed after {:?}: {e}", started.elapsed())),
    }
}

/// Health checks on `address`, one every 100 ms, until `done`: at least one.
fn checker(address: String, done: Arc<AtomicBool>) -> thread::JoinHandle<Vec<Result<Duration, String>>> {
    thread::spawn(move || {
        let mut checks = Vec::new();
        loop {
            checks.push(health(&address));
            if done.load(Ordering::Relaxed) {
                return checks;
            }
            thread::sleep(Duration::from_millis(100));
        }
    })
}

/// What nginx's access log says of the attacker's calls: (logged, passed on to the replica,
/// with a connection to it established).
fn attacker_calls(nginx: &Nginx) -> (u64, u64, u64) {
    let client = format!("client={ATTACKER} ");
    let lines: Vec<String> =
        nginx.read("access.log").lines().filter(|l| l.contains(&client)).map(String::from).collect();
    let field =
        |line: &str, key: &str| line.split(' ').find_map(|word| word.strip_prefix(key)).unwrap_or("-").to_string();
    let passed = lines.iter().filter(|l| field(l, "upstream=") != "-").count() as u64;
    // `$upstream_connect_time` is "-" for an attempt that never connected.
    let connected = lines.iter().filter(|l| field(l, "connect=").split(", ").any(|t| t != "-")).count() as u64;
    (lines.len() as u64, passed, connected)
}

/// The calls of the flood's two methods the replica's handlers saw: finished (any status) and
/// in flight.
fn handler_calls(metrics: &str) -> f64 {
    scrape_metrics(metrics)
        .iter()
        .filter(|(key, _)| key.starts_with("idc_calls_total{") || key.starts_with("idc_calls_in_flight{"))
        .filter(|(key, _)| key.contains("method=\"GetMACD\"") || key.contains("method=\"GetMACDGraph\""))
        .map(|(_, value)| value)
        .sum()
}

fn summary(checks: &[Result<Duration, String>]) -> String {
    let slowest = checks.iter().filter_map(|c| c.as_ref().ok()).max();
    let failed = checks.iter().filter(|c| c.is_err()).count();
    format!("{} checks, {failed} failed, slowest {slowest:?}", checks.len())
}

#[test]
fn nginx_keeps_a_rapid_reset_flood_off_the_replica() {
    // The recipe still says what this test counts on.
    let limit = format!("rate={RATE_PER_SECOND}r/s");
    assert!(TEMPLATE.contains(&limit), "the recipe's limit_req_zone no longer has {limit}");
    let burst = format!("limit_req zone=idc_calls burst={BURST} nodelay;");
    assert!(TEMPLATE.contains(&burst), "the recipe no longer has {burst:?}");

    let dir = scratch();
    let (mut server, metrics) = replica(&dir);
    // The same replica on both of the recipe's server lines: every call nginx passes on lands on it.
    let nginx = Nginx::start([server.target(), server.target()]);
    let straight = std::env::var_os("IDC_FLOOD_STRAIGHT").is_some();
    let flood_target = if straight { server.target() } else { nginx.target() };
    let quiet: Vec<_> = (0..10).map(|_| [health(&server.target()), health(&nginx.target())]).collect();
    let quiet_direct: Vec<_> = quiet.iter().map(|[direct, _]| direct.clone()).collect();
    let quiet_proxied: Vec<_> = quiet.iter().map(|[_, proxied]| proxied.clone()).collect();
    eprintln!(
        "health before any flood: direct {}, through nginx {}; the floods go to {}",
        summary(&quiet_direct),
        summary(&quiet_proxied),
        if straight { "the replica itself (IDC_FLOOD_STRAIGHT)" } else { "nginx" }
    );
    let rss_before = rss_kib(server.pid());
    let mut wrong = Vec::new();
    for flood in &FLOODS {
        let (logged_before, passed_before, connected_before) = attacker_calls(&nginx);
        let calls_before = handler_calls(&metrics);
        let done = Arc::new(AtomicBool::new(false));
        let direct = checker(server.target(), Arc::clone(&done));
        let proxied = checker(nginx.target(), Arc::clone(&done));

        let mut cmd = python_script("h2_hostile.py");
        cmd.args(["--target", &flood_target, "--timeout", "30", "flood", "--pairs", &FLOOD_PAIRS.to_string()]);
        cmd.args(["--reconnect", "--source", ATTACKER]).args(flood.args);
        let started = Instant::now();
        let out = run(cmd);
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let (direct, proxied) = (direct.join().unwrap(), proxied.join().unwrap());
        out.assert_success(
            "h2_hostile.py flood (needs hyper-h2: .venv/bin/pip install -r tests/python/requirements.txt)",
        );
        let report: serde_json::Value = serde_json::from_str(out.stdout_text().trim())
            .unwrap_or_else(|e| panic!("h2_hostile.py printed no JSON ({e}): {}", out.stdout_text()));

        // After the flood. nginx has one worker, which has handled the flood's last frames by
        // the time it answers this check, so the access log has the flood's calls.
        let after = [health(&server.target()), health(&nginx.target())];
        let (logged, passed, connected) = attacker_calls(&nginx);
        let (logged, passed, connected) =
            (logged - logged_before, passed - passed_before, connected - connected_before);
        let handled = handler_calls(&metrics) - calls_before;
        let bound = BURST + (RATE_PER_SECOND as f64 * seconds).ceil() as u64 + 1;
        eprintln!(
            "flood {:?}: {} pairs in {seconds:.2} s over {} connections ({} closed by nginx); nginx logged {logged} \
             of its calls, passed {passed} on to the replica (bound {bound}), connected for {connected}; the \
             replica's handlers saw {handled}; health during the flood: direct {}, through nginx {}; after: \
             direct {:?}, through nginx {:?}",
            flood.name,
            report["pairs_sent"],
            report["connections"],
            report["goaways"],
            summary(&direct),
            summary(&proxied),
            after[0],
            after[1],
        );
        assert_eq!(
            report["pairs_sent"].as_u64(),
            Some(FLOOD_PAIRS),
            "{}: the whole flood went out: {report}",
            flood.name
        );
        if passed > bound {
            wrong.push(format!("{}: nginx passed on {passed} of the flood's calls, over {bound}", flood.name));
        }
        if handled > passed as f64 {
            wrong.push(format!("{}: the replica saw {handled} calls, nginx passed on {passed}", flood.name));
        }
        for (route, checks, after) in [("direct", &direct, &after[0]), ("through nginx", &proxied, &after[1])] {
            for check in checks.iter().chain([after]) {
                match check {
                    Ok(took) if *took <= HEALTH_LIMIT => {}
                    Ok(took) => wrong.push(format!("{}: a health check {route} took {took:?}", flood.name)),
                    Err(e) => wrong.push(format!("{}: a health check {route}: {e}", flood.name)),
                }
            }
        }
        assert!(server.is_running(), "the replica ended during the flood {:?}", flood.name);
    }
    let rss_after = rss_kib(server.pid());
    eprintln!("the replica's RSS: {rss_before} KiB before the floods, {rss_after} KiB after");
    if rss_after > rss_before + MOST_GROWTH_KIB {
        wrong.push(format!("the replica grew from {rss_before} KiB to {rss_after} KiB"));
    }
    let log = nginx.error_log();
    let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(
        wrong.is_empty(),
        "nginx did not keep the flood off the replica:\n{}\n--- the end of nginx's error.log:\n{}",
        wrong.join("\n"),
        tail.join("\n")
    );
}
