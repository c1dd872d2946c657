//! What operators rely on: health (Rust and Python clients, with and without a token), work that
//! stops when its call ends (observed through the server's counters), the bounded blocking queue,
//! and the per-RPC log lines.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use futures::StreamExt;
use grpcio::{CallOption, RpcStatusCode};
use idc::blocking::{Gate, JOB_TAKEN};
use idc::config::{Config, DataSource};
use idc::domain::chart::ChartSize;
use idc::metrics::RenderCounts;
use idc::protocol::health::health_check_response::ServingStatus;
use idc::protocol::health::HealthCheckRequest;
use idc::protocol::health_grpc::HealthClient;
use idc::protocol::indicator_graph::MACDGraphRequest;
use idc::protocol::indicator_graph_grpc::IndicatorGraphClient;
use idc::service::graph::CHART_DRAWN;

use common::{channel, pseudo_random_bytes, python_script, run, scratch, wait_for, write_file, InProcess};

const EVENT_LIMIT: Duration = Duration::from_secs(30);

fn check(address: &str, service: &str) -> Result<ServingStatus, RpcStatusCode> {
    let mut request = HealthCheckRequest::new();
    request.service = service.into();
    let option = CallOption::default().timeout(Duration::from_secs(5));
    match HealthClient::new(channel(address)).check_opt(&request, option) {
        Ok(reply) => Ok(reply.status.enum_value_or(ServingStatus::UNKNOWN)),
        Err(grpcio::Error::RpcFailure(status)) => Err(status.code()),
        Err(e) => panic!("{e}"),
    }
}

fn python_health(address: &str, extra: &[&str]) -> common::Output {
    let mut cmd = python_script("secure_client.py");
    cmd.args(["--call", "health", "--target", address]).args(extra);
    run(cmd)
}

#[test]
fn health_says_serving_for_each_service_and_not_serving_once_shutdown_starts() {
    let mut config = Config::default();
    config.drain.drain_delay = Duration::from_secs(3);
    let mut server = InProcess::start(config);
    let address = server.address();
    for service in ["", "idc.Indicator", "idc.IndicatorGraph", "idc.v2.Indicators"] {
        assert_eq!(check(&address, service), Ok(ServingStatus::SERVING), "{service:?}");
        let out = python_health(&address, &["--service", service]);
        out.assert_success("grpcio-health-checking client");
        assert_eq!(out.stdout_text(), "SERVING\n");
    }
    assert_eq!(check(&address, "idc.Nothing"), Err(RpcStatusCode::NOT_FOUND));

    // A watch hears SERVING, then NOT_SERVING when shutdown starts, then ends with the drain.
    let mut watch = python_script("secure_client.py");
    watch.args(["--call", "health-watch", "--target", &address, "--service", "idc.Indicator", "--timeout", "30"]);
    let watcher = std::thread::spawn(move || run(watch));
    let ok_before = server.metrics.calls("Watch", RpcStatusCode::OK);
    wait_for("the watch to open", EVENT_LIMIT, || watch_open(&server));
    let done = server.begin_shutdown();
    wait_for("health NOT_SERVING", EVENT_LIMIT, || check(&address, "") == Ok(ServingStatus::NOT_SERVING));
    assert_eq!(check(&address, "idc.IndicatorGraph"), Ok(ServingStatus::NOT_SERVING));
    let out = watcher.join().unwrap();
    out.assert_success("health watch");
    assert_eq!(out.stdout_text(), "SERVING\nNOT_SERVING\n");
    done.join().unwrap();
    assert_eq!(server.metrics.calls("Watch", RpcStatusCode::OK), ok_before + 1, "the watch ended cleanly");
}

/// Whether a health watch is open: the server counts it as in flight.
fn watch_open(server: &InProcess) -> bool {
    server.metrics.encode().contains("idc_calls_in_flight{method=\"Watch\"} 1")
}

#[test]
fn health_needs_no_token_when_everything_else_does() {
    let dir = scratch();
    let token = write_file(dir.path(), "token", b"health-needs-none\n");
    let mut config = Config::default();
    config.security.auth_token_file = Some(token.clone());
    let server = InProcess::start(config);
    let address = server.address();
    assert_eq!(check(&address, ""), Ok(ServingStatus::SERVING));
    python_health(&address, &[]).assert_success("Python health check without a token");
    let mut cmd = python_script("secure_client.py");
    cmd.args(["--call", "macd", "--target", &address]);
    let refused = run(cmd);
    assert!(refused.stderr.contains("UNAUTHENTICATED"), "{}", refused.stderr);
}

/// A data-mode server drawing small charts on one thread, its work held by `gate`: the tests
/// put the end of a call at a known point of the work, not a timer against the drawing.
fn gated_chart_server(max_blocking_queue: usize, gate: &Arc<Gate>) -> InProcess {
    let mut config = Config::default();
    config.data.source = Some(DataSource::Sample);
    config.chart.chart_size = ChartSize::MIN;
    (config.threads.blocking_threads, config.threads.max_blocking_queue) = (1, max_blocking_queue);
    InProcess::start_gated(config, Some(gate))
}

/// Waits until every render has ended, done or cancelled (so that a render that wrongly goes on
/// fails the test at once rather than at the limit).
fn wait_for_renders_to_end(server: &InProcess, count: u64) {
    server.wait_for_counters("the renders to end", EVENT_LIMIT, |metrics| {
        let renders = metrics.renders();
        renders.done + renders.cancelled == count
    });
}

#[test]
fn a_cancelled_chart_call_stops_its_render() {
    let gate = Gate::at(CHART_DRAWN);
    let server = gated_chart_server(16, &gate);
    let client = IndicatorGraphClient::new(channel(&server.address()));
    // No deadline: only the cancel can stop it.
    let mut stream = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    // Drawn, held before encoding: the cancel comes between the two.
    assert!(gate.wait_arrived(1, EVENT_LIMIT), "the render did not draw its chart");
    stream.cancel();
    drop(stream);
    server.wait_for_counters("the server to see the cancel", EVENT_LIMIT, |metrics| {
        metrics.calls("GetMACDGraph", RpcStatusCode::CANCELLED) == 1
    });
    gate.open();
    wait_for_renders_to_end(&server, 1);
    let renders = server.metrics.renders();
    let expected = RenderCounts { started: 1, cancelled: 1, ..RenderCounts::default() };
    assert_eq!(renders, expected, "no chart was finished for the cancelled call");
    assert_eq!(server.metrics.calls("GetMACDGraph", RpcStatusCode::OK), 0);
}

/// Long enough for a small chart to be drawn (milliseconds) before it passes: it then passes
/// while the render is held between drawing and encoding.
const CHART_DEADLINE: Duration = Duration::from_secs(3);

#[test]
fn a_chart_call_past_its_deadline_stops_its_render() {
    let gate = Gate::at(CHART_DRAWN);
    let server = gated_chart_server(16, &gate);
    let client = IndicatorGraphClient::new(channel(&server.address()));
    let option = CallOption::default().timeout(CHART_DEADLINE);
    let mut stream = client.get_macd_graph_opt(&MACDGraphRequest::new(), option).unwrap();
    assert!(gate.wait_arrived(1, CHART_DEADLINE), "the render did not draw within the call's {CHART_DEADLINE:?}");
    // The render is held: only the deadline can end the call.
    match block_on(stream.next()) {
        Some(Err(grpcio::Error::RpcFailure(status))) => assert_eq!(status.code(), RpcStatusCode::DEADLINE_EXCEEDED),
        other => panic!("expected DEADLINE_EXCEEDED, got {other:?}"),
    }
    // Counted once, and as a call that ended under the server. Usually the server's own deadline
    // passes first and it counts DEADLINE_EXCEEDED. But the client's timer starts when it sends
    // and the server's when it reads the request, so on a busy machine the client's timer can
    // fire first; its RST_STREAM (CANCEL) is then all the server sees, as for a cancel, and it
    // counts CANCELLED (a run of the suite on a loaded machine saw this).
    server.wait_for_counters("the call to be counted", EVENT_LIMIT, |metrics| {
        metrics.calls("GetMACDGraph", RpcStatusCode::DEADLINE_EXCEEDED)
            + metrics.calls("GetMACDGraph", RpcStatusCode::CANCELLED)
            == 1
    });
    gate.open();
    wait_for_renders_to_end(&server, 1);
    let expected = RenderCounts { started: 1, cancelled: 1, ..RenderCounts::default() };
    assert_eq!(server.metrics.renders(), expected, "no chart was finished for the expired call");
    assert_eq!(server.metrics.calls("GetMACDGraph", RpcStatusCode::OK), 0);
}

#[test]
fn a_render_queued_behind_another_never_starts_once_its_call_is_cancelled() {
    let gate = Gate::at(CHART_DRAWN);
    let server = gated_chart_server(16, &gate);
    let client = IndicatorGraphClient::new(channel(&server.address()));
    let first = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    // The first render holds the only thread, drawn and not yet encoded.
    assert!(gate.wait_arrived(1, EVENT_LIMIT), "the first render did not draw its chart");
    let mut queued = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    server.wait_for_counters("the second render to queue", EVENT_LIMIT, |metrics| {
        metrics.encode().contains("idc_blocking_queue_depth 1")
    });
    queued.cancel();
    drop(queued);
    server.wait_for_counters("the server to see the cancel", EVENT_LIMIT, |metrics| {
        metrics.calls("GetMACDGraph", RpcStatusCode::CANCELLED) == 1
    });
    // Let the first finish; the queued job then reaches the thread and must not draw.
    gate.open();
    let mut first = first;
    while let Some(chunk) = block_on(first.next()) {
        chunk.expect("the first chart streams");
    }
    wait_for_renders_to_end(&server, 2);
    let renders = server.metrics.renders();
    let expected = RenderCounts { started: 1, done: 1, cancelled: 1, ..RenderCounts::default() };
    assert_eq!(renders, expected, "the cancelled render never began drawing");
    assert_eq!(gate.arrived(), 1, "only the first render drew a chart");
}

#[test]
fn a_full_blocking_queue_is_resource_exhausted_at_once() {
    // The pool's only thread is held as it takes the first job, so the next one waits.
    let gate = Gate::at(JOB_TAKEN);
    let server = gated_chart_server(1, &gate);
    let client = IndicatorGraphClient::new(channel(&server.address()));
    let _running = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    assert!(gate.wait_arrived(1, EVENT_LIMIT), "the first job did not reach the thread");
    let _queued = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    server.wait_for_counters("one job to wait", EVENT_LIMIT, |metrics| {
        metrics.encode().contains("idc_blocking_queue_depth 1")
    });
    let mut refused = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    match block_on(refused.next()) {
        Some(Err(grpcio::Error::RpcFailure(status))) => {
            assert_eq!(status.code(), RpcStatusCode::RESOURCE_EXHAUSTED);
            assert!(status.message().contains("the server is busy"), "{}", status.message());
        }
        other => panic!("expected RESOURCE_EXHAUSTED, got {other:?}"),
    }
    assert_eq!(server.metrics.renders().refused, 1, "one render refused");
}

#[test]
fn a_cancelled_file_stream_reads_no_more_of_the_file() {
    let dir = scratch();
    // 64 MiB: a thousand 64 KiB blocks, far more than flow control lets the server send ahead.
    let file = write_file(dir.path(), "big.png", &pseudo_random_bytes(64 << 20, 5));
    let mut config = Config::default();
    config.chart.graph_file = Some(file);
    let server = InProcess::start(config);
    let client = IndicatorGraphClient::new(channel(&server.address()));
    let mut stream = client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    block_on(stream.next()).expect("a first chunk").expect("no error");
    stream.cancel();
    drop(stream);
    server.wait_for_counters("the server to see the cancel", EVENT_LIMIT, |metrics| {
        metrics.calls("GetMACDGraph", RpcStatusCode::CANCELLED) == 1
    });
    let reads = server.metrics.file_reads();
    assert!(reads < 1024, "{reads} of 1024 blocks were read for a call cancelled after one chunk");
    // Another call, start to finish: the cancelled one's reads stay where they were.
    idc::client::get_macd(&server.target(), "2023-01-01", "").unwrap();
    server.wait_for_counters("the pool to be idle", EVENT_LIMIT, |metrics| {
        metrics.encode().contains("idc_blocking_queue_depth 0")
    });
    assert_eq!(server.metrics.file_reads(), reads, "reads went on after the cancel");
}

#[test]
fn each_finished_call_is_one_log_line_and_start_up_logs_the_config() {
    let dir = scratch();
    let file = write_file(dir.path(), "graph.png", &pseudo_random_bytes(10_000, 1));
    let token = write_file(dir.path(), "token", b"never-in-the-log\n");
    let mut cmd = common::rust_bin("idc_server");
    cmd.env("RUST_LOG", "info").args(["--host", "127.0.0.1", "--port", "0", "--graph-file"]).arg(&file);
    cmd.arg("--auth-token-file").arg(&token);
    let server = common::Server::start(cmd);
    let flags = ["--auth-token-file", token.to_str().unwrap()];
    let mut client = common::rust_bin("idc_client");
    client.args(["--target", &server.target()]).args(flags);
    run(client).assert_success("idc_client");
    let mut graph = common::rust_bin("idc_graph_client");
    graph.args(["--target", &server.target(), "--output"]).arg(dir.path().join("out.png")).args(flags);
    run(graph).assert_success("idc_graph_client");
    let (_, stderr) = server.stop_with("TERM");

    let rpc: Vec<&str> = stderr.lines().filter(|l| l.contains(" idc::rpc]")).collect();
    assert_eq!(rpc.len(), 2, "one line per call, none per chunk:\n{stderr}");
    assert!(rpc[0].contains("GetMACD from ipv4:127.0.0.1:") && rpc[0].contains(": OK in "), "{}", rpc[0]);
    assert!(rpc[0].contains(" ms, 156 bytes sent"), "{}", rpc[0]);
    assert!(rpc[1].contains("GetMACDGraph from ipv4:127.0.0.1:") && rpc[1].contains("10000 bytes sent"), "{}", rpc[1]);
    let config = stderr.lines().find(|l| l.contains("configuration:")).expect("the config is logged");
    for setting in ["port 0", "chunk-size 1024", "grace-period 5 s", "max-receive-message 1048576", "auth-token-file"] {
        assert!(config.contains(setting), "{setting}: {config}");
    }
    assert!(!stderr.contains("never-in-the-log"), "the token reached the log:\n{stderr}");
}
