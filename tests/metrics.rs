//! The Prometheus endpoint (`--metrics-addr`, `/metrics`): what it counts after known calls, read
//! with the reference parsers (Python's `prometheus_client`, classic and OpenMetrics, through
//! `tests/python/parse_metrics.py`), the format each scraper gets, what it answers to other
//! requests, that a slow client holds no scrape off and is cut off at the request deadline, and
//! how the binary takes the flag.

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use grpcio::RpcStatusCode;
use serde_json::Value;

use common::{
    free_port, pseudo_random_bytes, python_script, run, rust_bin, scratch, start_or_exit, wait_for, write_file,
    InProcess,
};
use idc::client::{download_graph, get_macd};
use idc::config::Config;
use idc::metrics::REQUEST_DEADLINE;

const GRAPH_LEN: usize = 100_000;
/// How long the counters may take to show a call the client has seen end.
const SETTLE: Duration = Duration::from_secs(10);

/// One sample, as the reference parser read it.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    family: String,
    family_type: String,
    value: f64,
}

/// The parser `parse_metrics.py` reads a scrape with, and so the format it asks for.
#[derive(Debug, Clone, Copy)]
enum Parser {
    /// No `Accept` header; `prometheus_client.parser`.
    Classic,
    /// Prometheus' `Accept` header; `prometheus_client.openmetrics.parser`.
    OpenMetrics,
}

/// All samples of one scrape of `url`, parsed by `prometheus_client` (`parse_metrics.py`).
fn scrape_with(parser: Parser, url: &str) -> Vec<Sample> {
    assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
    let mut cmd = python_script("parse_metrics.py");
    if let Parser::OpenMetrics = parser {
        cmd.arg("--openmetrics");
    }
    cmd.arg(url);
    let out = run(cmd);
    out.assert_success(&format!("parse_metrics.py ({parser:?}) {url}"));
    let text = out.stdout_text();
    let items: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: not JSON:\n{text}"));
    items.iter().map(sample).collect()
}

fn sample(item: &Value) -> Sample {
    let text = |key: &str| item[key].as_str().unwrap_or_else(|| panic!("no text {key:?} in {item}")).to_string();
    let labels = item["labels"].as_object().unwrap_or_else(|| panic!("labels: {item}"));
    Sample {
        name: text("name"),
        labels: labels.iter().map(|(k, v)| (k.clone(), v.as_str().expect("a label value").to_string())).collect(),
        family: text("family"),
        family_type: text("type"),
        value: match &item["value"] {
            Value::Number(n) => n.as_f64().expect("a finite number"),
            Value::String(s) => s.parse().unwrap_or_else(|_| panic!("value {s:?}")),
            other => panic!("value {other}"),
        },
    }
}

/// A scrape as a classic scraper (curl, an older Prometheus) makes it.
fn scrape(url: &str) -> Vec<Sample> {
    scrape_with(Parser::Classic, url)
}

fn metrics_url(address: SocketAddr) -> String {
    format!("http://{address}/metrics")
}

/// The value of the one sample named `name` with exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let found: Vec<&Sample> = samples.iter().filter(|s| s.name == name && s.labels == want).collect();
    match found[..] {
        [one] => one.value,
        _ => panic!("{} samples {name}{want:?} (want 1) among:\n{}", found.len(), listing(samples)),
    }
}

fn listing(samples: &[Sample]) -> String {
    samples.iter().map(|s| format!("  {}{:?} {} ({})\n", s.name, s.labels, s.value, s.family_type)).collect()
}

fn graph_server(dir: &std::path::Path) -> InProcess {
    let file = write_file(dir, "graph.bin", &pseudo_random_bytes(GRAPH_LEN, 3));
    let mut config = Config::default();
    config.chart.graph_file = Some(file);
    config.listen.metrics_addr = Some("127.0.0.1:0".into());
    InProcess::start(config)
}

#[test]
fn the_counters_parse_with_the_reference_parser_and_follow_the_calls() {
    let dir = scratch();
    let server = graph_server(dir.path());
    let url = metrics_url(server.metrics_address.expect("metrics are served"));
    let target = server.target();

    for _ in 0..2 {
        assert_eq!(get_macd(&target, "2023-01-01", "2023-12-31").expect("GetMACD").macd.len(), 4);
    }
    let png = dir.path().join("received.png");
    assert_eq!(download_graph(&target, "2023-01-01", "2023-12-31", &png).expect("GetMACDGraph"), GRAPH_LEN as u64);
    let long_date = "2".repeat(100);
    let refused = get_macd(&target, &long_date, "2023-12-31").expect_err("a 100-byte date is refused");
    assert_eq!(refused.code(), Some(RpcStatusCode::INVALID_ARGUMENT), "{refused}");

    // A call's counters move when its handler sees it end, which may come a moment after the
    // client has its answer.
    let metrics = &server.metrics;
    wait_for("the calls to be counted", SETTLE, || {
        metrics.calls("GetMACD", RpcStatusCode::OK) == 2
            && metrics.calls("GetMACD", RpcStatusCode::INVALID_ARGUMENT) == 1
            && metrics.calls("GetMACDGraph", RpcStatusCode::OK) == 1
    });

    let samples = scrape(&url);
    let calls = |method: &str, code: &str| value(&samples, "idc_calls_total", &[("method", method), ("code", code)]);
    assert_eq!(calls("GetMACD", "OK"), 2.0);
    assert_eq!(calls("GetMACD", "INVALID_ARGUMENT"), 1.0);
    assert_eq!(calls("GetMACDGraph", "OK"), 1.0);
    assert_eq!(value(&samples, "idc_stream_bytes_total", &[]), GRAPH_LEN as f64);
    assert_eq!(value(&samples, "idc_stream_messages_total", &[]), GRAPH_LEN.div_ceil(1024) as f64);
    assert_eq!(value(&samples, "idc_stream_messages_total", &[]), 98.0);
    assert_eq!(value(&samples, "idc_calls_in_flight", &[("method", "GetMACD")]), 0.0);
    assert_eq!(value(&samples, "idc_calls_in_flight", &[("method", "GetMACDGraph")]), 0.0);
    assert_eq!(value(&samples, "idc_call_duration_seconds_count", &[("method", "GetMACD")]), 3.0);
    assert_eq!(value(&samples, "idc_call_duration_seconds_count", &[("method", "GetMACDGraph")]), 1.0);
    assert_eq!(
        value(&samples, "idc_call_duration_seconds_bucket", &[("method", "GetMACD"), ("le", "+Inf")]),
        3.0,
        "the +Inf bucket holds every call"
    );
    assert_eq!(value(&samples, "idc_blocking_queue_depth", &[]), 0.0);
    assert!(value(&samples, "idc_graph_file_reads_total", &[]) >= 1.0, "{}", listing(&samples));
    // The classic parser types every family as the OpenMetrics parser does: the counters as
    // counters (a counter family named the OpenMetrics way, `idc_calls` over `idc_calls_total`,
    // it would read as untyped samples), and nothing is left untyped.
    let om_samples = scrape_with(Parser::OpenMetrics, &url);
    let types = |samples: &[Sample]| -> BTreeMap<String, String> {
        samples.iter().map(|s| (s.name.clone(), s.family_type.clone())).collect()
    };
    let classic_types = types(&samples);
    for (name, family_type) in [
        ("idc_calls_total", "counter"),
        ("idc_call_duration_seconds_count", "histogram"),
        ("idc_call_duration_seconds_bucket", "histogram"),
        ("idc_calls_in_flight", "gauge"),
        ("idc_stream_bytes_total", "counter"),
        ("idc_stream_messages_total", "counter"),
        ("idc_blocking_queue_depth", "gauge"),
        ("idc_renders_started_total", "counter"),
        ("idc_renders_total", "counter"),
        ("idc_graph_file_reads_total", "counter"),
    ] {
        assert_eq!(classic_types.get(name).map(String::as_str), Some(family_type), "{name}:\n{}", listing(&samples));
    }
    assert_eq!(classic_types, types(&om_samples), "the two formats type each sample alike");
    // The same samples with the same values in both formats, the families named as each format
    // names them (a counter family's name is its samples' name without `_total` in OpenMetrics).
    let values =
        |samples: &[Sample]| samples.iter().map(|s| (s.name.clone(), s.labels.clone(), s.value)).collect::<Vec<_>>();
    assert_eq!(values(&samples), values(&om_samples));
    let family_of = |samples: &[Sample], name: &str| samples.iter().find(|s| s.name == name).unwrap().family.clone();
    assert_eq!(family_of(&om_samples, "idc_calls_total"), "idc_calls");
    assert_eq!(family_of(&samples, "idc_calls_total"), "idc_calls");

    // Counters move with the calls: one more GetMACD, one more in the next scrape.
    get_macd(&target, "2023-01-01", "2023-12-31").expect("GetMACD");
    wait_for("the third GetMACD to be counted", SETTLE, || metrics.calls("GetMACD", RpcStatusCode::OK) == 3);
    let samples = scrape(&url);
    assert_eq!(value(&samples, "idc_calls_total", &[("method", "GetMACD"), ("code", "OK")]), 3.0);
    assert_eq!(value(&samples, "idc_call_duration_seconds_count", &[("method", "GetMACD")]), 4.0);
    assert_eq!(value(&samples, "idc_stream_bytes_total", &[]), GRAPH_LEN as f64, "no stream since");
}

/// Sends `request` as is and returns the whole answer (the endpoint closes the connection). A
/// reset instead of an answer fails here.
fn raw_http(address: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap_or_else(|e| panic!("no whole answer to {request:?}: {e}"));
    answer
}

/// The value of header `name` in `answer`, whose head must be whole.
fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let (head, _) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no whole head: {answer:?}"));
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn the_endpoint_answers_each_scraper_in_its_format_and_refuses_the_rest() {
    let dir = scratch();
    let server = graph_server(dir.path());
    let address = server.metrics_address.expect("metrics are served");

    // No Accept header (curl, urllib): the classic text format.
    let answer = raw_http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(header(&answer, "content-type"), Some("text/plain; version=0.0.4; charset=utf-8"), "{answer}");
    // Before any call: the plain counters at 0 (families with labels appear with their first call).
    assert!(body(&answer).contains("# TYPE idc_stream_bytes_total counter\nidc_stream_bytes_total 0\n"), "{answer}");
    assert!(!answer.contains("# EOF") && !answer.contains("# UNIT"), "{answer}");
    // Prometheus' Accept header: OpenMetrics.
    let accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let answer = raw_http(address, &format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\n\r\n"));
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(
        header(&answer, "content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{answer}"
    );
    assert!(body(&answer).contains("# TYPE idc_stream_bytes counter\nidc_stream_bytes_total 0\n"), "{answer}");
    assert!(answer.ends_with("# EOF\n"), "{answer}");
    // HEAD: the head of the same answer, without its body.
    let answer = raw_http(address, "HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(body(&answer), "", "{answer}");

    for request in ["GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"] {
        let answer = raw_http(address, request);
        assert!(answer.starts_with("HTTP/1.") && answer[8..].starts_with(" 404 "), "{answer}");
        assert!(!answer.contains("idc_"), "{answer}");
    }
    // Another method, with a body: a whole 405 answer, not a reset.
    let posted = "x".repeat(10_000);
    for request in [
        "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n".to_string(),
        format!("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{posted}", posted.len()),
        "PUT /metrics HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            .to_string(),
    ] {
        let answer = raw_http(address, &request);
        assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
        assert_eq!(header(&answer, "allow"), Some("GET, HEAD"), "{answer}");
        assert!(!answer.contains("idc_"), "{answer}");
    }

    // A connection that sends nothing and goes away does not stop the endpoint either.
    drop(TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap());

    // Both the endpoint and the gRPC server go on serving.
    get_macd(&server.target(), "2023-01-01", "2023-12-31").expect("GetMACD after the odd requests");
    wait_for("the GetMACD to be counted", SETTLE, || server.metrics.calls("GetMACD", RpcStatusCode::OK) == 1);
    let samples = scrape(&metrics_url(address));
    assert_eq!(value(&samples, "idc_calls_total", &[("method", "GetMACD"), ("code", "OK")]), 1.0);
}

/// The longest a trickling client is kept waiting for, so that the test ends even if the
/// endpoint never cuts it off.
const TRICKLE_LIMIT: Duration = Duration::from_secs(15);

/// Connects to `address`, sends `start` at once, then one byte of `rest` a second, until the
/// endpoint closes the connection. Says on `connected` when `start` is sent, and returns how long
/// the connection stayed open, or `None` if it was still open after [`TRICKLE_LIMIT`].
fn trickle(
    address: SocketAddr,
    start: &'static str,
    rest: &'static str,
    connected: mpsc::Sender<()>,
) -> Option<Duration> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap();
    let opened = Instant::now();
    stream.write_all(start.as_bytes()).unwrap();
    connected.send(()).unwrap();
    // A read that waits up to a second paces the bytes, and sees the close the moment it comes.
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buffer = [0; 1024];
    for byte in rest.as_bytes().iter().cycle() {
        if opened.elapsed() > TRICKLE_LIMIT {
            let _ = stream.shutdown(Shutdown::Both);
            return None;
        }
        // A write to a connection the endpoint has closed may fail, or not yet; the read says.
        let _ = stream.write_all(std::slice::from_ref(byte));
        match stream.read(&mut buffer) {
            // Closed, with or without an answer first (a read after the answer sees the end).
            Ok(0) => return Some(opened.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return Some(opened.elapsed()),
        }
    }
    unreachable!("cycle never ends")
}

/// A client that sends its request a byte a second holds no scrape off, and is cut off at the
/// request deadline; so is one that trickles the body after a whole head.
#[test]
fn a_trickling_client_holds_no_scrape_off_and_is_cut_off_at_the_deadline() {
    let dir = scratch();
    let server = graph_server(dir.path());
    let address = server.metrics_address.expect("metrics are served");
    let (connected, each_connected) = mpsc::channel();
    let tricklers: Vec<_> = [
        ("G", "ET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"),
        ("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n", "x"),
    ]
    .into_iter()
    .map(|(start, rest)| {
        let connected = connected.clone();
        thread::spawn(move || trickle(address, start, rest, connected))
    })
    .collect();
    for _ in &tricklers {
        each_connected.recv_timeout(Duration::from_secs(10)).expect("a trickler connects");
    }

    let asked = Instant::now();
    let answer = raw_http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let took = asked.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(took < Duration::from_secs(1), "the scrape took {took:?} beside the trickling clients");

    for trickler in tricklers {
        let open = trickler.join().unwrap().expect("the trickling client was never cut off");
        assert!(open <= REQUEST_DEADLINE + Duration::from_millis(1500), "cut off after {open:?}");
    }
}

/// The endpoint stops with the gRPC server: its port is closed, and so is a connection still
/// open (one waiting for a body, which only the request deadline would otherwise end).
#[test]
fn the_endpoint_stops_with_the_server() {
    let dir = scratch();
    let mut server = graph_server(dir.path());
    let address = server.metrics_address.expect("metrics are served");
    let mut held = TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap();
    let opened = Instant::now();
    held.write_all(b"POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n").unwrap();
    assert!(raw_http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").starts_with("HTTP/1.1 200 "));

    server.begin_shutdown().join().unwrap();
    held.set_read_timeout(Some(REQUEST_DEADLINE)).unwrap();
    let mut rest = Vec::new();
    match held.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert!(!matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "still open: {e}"),
    }
    assert!(opened.elapsed() < REQUEST_DEADLINE, "closed only after {:?}, by the deadline", opened.elapsed());
    let refused = TcpStream::connect_timeout(&address, Duration::from_secs(10)).expect_err("the port is closed");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "{refused}");
}

#[test]
fn the_binary_serves_metrics_at_metrics_addr() {
    let port = free_port();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = common::rust_server(&["--metrics-addr", &address.to_string()]);

    let mut cmd = rust_bin("idc_client");
    cmd.args(["--target", &server.target(), "--timeout", "30"]);
    run(cmd).assert_success("idc_client");

    // The call is counted in another process: scrape until it shows (bounded).
    let url = metrics_url(address);
    let ok = |samples: &[Sample]| {
        samples
            .iter()
            .find(|s| {
                s.name == "idc_calls_total"
                    && s.labels.get("method").map(String::as_str) == Some("GetMACD")
                    && s.labels.get("code").map(String::as_str) == Some("OK")
            })
            .map(|s| s.value)
    };
    wait_for("idc_calls_total for GetMACD to show", SETTLE, || ok(&scrape(&url)).is_some());
    assert_eq!(ok(&scrape(&url)), Some(1.0));
}

#[test]
fn a_taken_metrics_addr_stops_the_server_at_start_up() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = held.local_addr().unwrap().to_string();
    let mut cmd = rust_bin("idc_server");
    cmd.args(["--host", "127.0.0.1", "--port", "0", "--metrics-addr", &address]);
    let (server, out) = start_or_exit(cmd);
    assert!(server.is_none(), "the server started with --metrics-addr {address} taken");
    let out = out.unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("--metrics-addr"), "{}", out.stderr);
    assert!(out.stderr.contains(&address), "{}", out.stderr);
    drop(held);
}
