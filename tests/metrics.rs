//! The Prometheus endpoint (`--metrics-addr`, `/metrics`): what it counts after known calls, read
//! with the reference parser (Python's `prometheus_client`, through
//! `tests/python/parse_metrics.py`), what it answers to other requests, and how the binary takes
//! the flag.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use grpcio::RpcStatusCode;

use common::{
    pseudo_random_bytes, python_script, run, rust_bin, scratch, start_or_exit, wait_for, write_file, InProcess,
};
use idc::client::{download_graph, get_macd};
use idc::config::Config;

const GRAPH_LEN: usize = 100_000;
/// How long the counters may take to show a call the client has seen end.
const SETTLE: Duration = Duration::from_secs(10);

/// One sample, as the reference parser read it.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    family_type: String,
    value: f64,
}

/// All samples of one scrape of `url`, parsed by `prometheus_client` (`parse_metrics.py`).
fn scrape(url: &str) -> Vec<Sample> {
    let mut cmd = python_script("parse_metrics.py");
    cmd.arg(url);
    let out = run(cmd);
    out.assert_success(&format!("parse_metrics.py {url}"));
    let text = out.stdout_text();
    let Json::Array(items) = Json::parse(&text) else { panic!("not a JSON array:\n{text}") };
    items
        .into_iter()
        .map(|item| {
            let field = |key: &str| item.get(key).unwrap_or_else(|| panic!("no {key:?} in {item:?}"));
            let Json::Object(labels) = field("labels") else { panic!("labels: {item:?}") };
            Sample {
                name: field("name").as_str().to_string(),
                labels: labels.iter().map(|(k, v)| (k.clone(), v.as_str().to_string())).collect(),
                family_type: field("type").as_str().to_string(),
                value: match field("value") {
                    Json::Number(n) => *n,
                    Json::String(s) => s.parse().unwrap_or_else(|_| panic!("value {s:?}")),
                    other => panic!("value {other:?}"),
                },
            }
        })
        .collect()
}

/// The families of one scrape of `url` and their types, as the strict OpenMetrics parser of
/// `prometheus_client` reads them (it also checks the `# EOF` and the suffixes of each sample).
fn openmetrics_families(url: &str) -> BTreeMap<String, String> {
    const PROGRAM: &str = "\
import sys, urllib.request
from prometheus_client.openmetrics.parser import text_string_to_metric_families
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(sys.argv[1], timeout=10) as response:
    text = response.read().decode('utf-8')
for family in text_string_to_metric_families(text):
    list(family.samples)
    print(family.name, family.type)
";
    assert!(url.starts_with("http://127.0.0.1:"), "loopback only: {url}");
    let mut cmd = std::process::Command::new(common::python());
    cmd.args(["-c", PROGRAM, url]);
    let out = run(cmd);
    out.assert_success("the OpenMetrics parser");
    out.stdout_text()
        .lines()
        .map(|line| {
            let (name, family_type) = line.split_once(' ').unwrap_or_else(|| panic!("{line:?}"));
            (name.to_string(), family_type.to_string())
        })
        .collect()
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
    InProcess::start(Config { graph_file: Some(file), metrics_addr: Some("127.0.0.1:0".into()), ..Config::default() })
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
    // The classic text-format parser (what parse_metrics.py uses) types the gauges and the
    // histogram; the counters, exposed the OpenMetrics way (family `idc_calls`, samples
    // `idc_calls_total`), it takes for untyped samples. The OpenMetrics parser, which the
    // endpoint's content type names, types every family.
    for (name, family_type) in [
        ("idc_calls_in_flight", "gauge"),
        ("idc_call_duration_seconds_count", "histogram"),
        ("idc_blocking_queue_depth", "gauge"),
    ] {
        assert!(
            samples.iter().any(|s| s.name == name && s.family_type == family_type),
            "{name} is not a {family_type}:\n{}",
            listing(&samples)
        );
    }
    let families = openmetrics_families(&url);
    for (name, family_type) in [
        ("idc_calls", "counter"),
        ("idc_call_duration_seconds", "histogram"),
        ("idc_calls_in_flight", "gauge"),
        ("idc_stream_bytes", "counter"),
        ("idc_stream_messages", "counter"),
        ("idc_blocking_queue_depth", "gauge"),
        ("idc_renders_started", "counter"),
        ("idc_graph_file_reads", "counter"),
    ] {
        assert_eq!(families.get(name).map(String::as_str), Some(family_type), "{name}: {families:?}");
    }

    // Counters move with the calls: one more GetMACD, one more in the next scrape.
    get_macd(&target, "2023-01-01", "2023-12-31").expect("GetMACD");
    wait_for("the third GetMACD to be counted", SETTLE, || metrics.calls("GetMACD", RpcStatusCode::OK) == 3);
    let samples = scrape(&url);
    assert_eq!(value(&samples, "idc_calls_total", &[("method", "GetMACD"), ("code", "OK")]), 3.0);
    assert_eq!(value(&samples, "idc_call_duration_seconds_count", &[("method", "GetMACD")]), 4.0);
    assert_eq!(value(&samples, "idc_stream_bytes_total", &[]), GRAPH_LEN as f64, "no stream since");
}

/// Sends `request` as is and returns the whole answer (the endpoint closes the connection).
fn raw_http(address: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn the_endpoint_serves_only_get_metrics_and_keeps_serving() {
    let dir = scratch();
    let server = graph_server(dir.path());
    let address = server.metrics_address.expect("metrics are served");

    let answer = raw_http(address, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("application/openmetrics-text"), "{answer}");
    // Before any call: the plain counters at 0 (families with labels appear with their first call).
    assert!(answer.contains("\nidc_stream_bytes_total 0\n"), "{answer}");
    assert!(answer.ends_with("# EOF\n"), "{answer}");

    let answer = raw_http(address, "GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    assert!(!answer.contains("idc_"), "{answer}");
    let answer = raw_http(address, "GET / HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");

    let answer = raw_http(address, "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
    assert!(!answer.contains("idc_"), "{answer}");

    // A connection that sends nothing and goes away does not stop the endpoint either.
    drop(TcpStream::connect_timeout(&address, Duration::from_secs(10)).unwrap());

    // Both the endpoint and the gRPC server go on serving.
    get_macd(&server.target(), "2023-01-01", "2023-12-31").expect("GetMACD after the odd requests");
    wait_for("the GetMACD to be counted", SETTLE, || server.metrics.calls("GetMACD", RpcStatusCode::OK) == 1);
    let samples = scrape(&metrics_url(address));
    assert_eq!(value(&samples, "idc_calls_total", &[("method", "GetMACD"), ("code", "OK")]), 1.0);
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    let deadline = Instant::now() + SETTLE;
    loop {
        let samples = scrape(&metrics_url(address));
        let ok = samples.iter().find(|s| {
            s.name == "idc_calls_total"
                && s.labels.get("method").map(String::as_str) == Some("GetMACD")
                && s.labels.get("code").map(String::as_str) == Some("OK")
        });
        if let Some(sample) = ok {
            assert_eq!(sample.value, 1.0);
            break;
        }
        assert!(Instant::now() < deadline, "idc_calls_total for GetMACD never showed:\n{}", listing(&samples));
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// Just enough JSON for `parse_metrics.py`'s output.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Json {
        let mut parser = JsonParser { bytes: text.as_bytes(), at: 0 };
        let value = parser.value();
        parser.space();
        assert_eq!(parser.at, parser.bytes.len(), "trailing text after the JSON value");
        value
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Json::String(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

struct JsonParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn space(&mut self) {
        while self.at < self.bytes.len() && self.bytes[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> u8 {
        self.space();
        *self.bytes.get(self.at).unwrap_or_else(|| panic!("JSON ends early"))
    }

    fn expect(&mut self, byte: u8) {
        assert_eq!(self.peek(), byte, "JSON: expected {:?} at {}", byte as char, self.at);
        self.at += 1;
    }

    fn literal(&mut self, word: &str, value: Json) -> Json {
        assert!(self.bytes[self.at..].starts_with(word.as_bytes()), "JSON: bad literal at {}", self.at);
        self.at += word.len();
        value
    }

    fn value(&mut self) -> Json {
        match self.peek() {
            b'[' => {
                self.at += 1;
                let mut items = Vec::new();
                if self.peek() == b']' {
                    self.at += 1;
                    return Json::Array(items);
                }
                loop {
                    items.push(self.value());
                    match self.peek() {
                        b',' => self.at += 1,
                        _ => break,
                    }
                }
                self.expect(b']');
                Json::Array(items)
            }
            b'{' => {
                self.at += 1;
                let mut fields = Vec::new();
                if self.peek() == b'}' {
                    self.at += 1;
                    return Json::Object(fields);
                }
                loop {
                    let key = self.string();
                    self.expect(b':');
                    fields.push((key, self.value()));
                    match self.peek() {
                        b',' => self.at += 1,
                        _ => break,
                    }
                }
                self.expect(b'}');
                Json::Object(fields)
            }
            b'"' => Json::String(self.string()),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => {
                let start = self.at;
                while self.at < self.bytes.len()
                    && matches!(self.bytes[self.at], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap();
                Json::Number(text.parse().unwrap_or_else(|_| panic!("JSON: bad number {text:?} at {start}")))
            }
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = Vec::new();
        loop {
            let byte = self.bytes[self.at];
            self.at += 1;
            match byte {
                b'"' => return String::from_utf8(out).expect("UTF-8 JSON"),
                b'\\' => {
                    let escape = self.bytes[self.at];
                    self.at += 1;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let mut code = self.hex4();
                            if (0xD800..0xDC00).contains(&code) {
                                assert_eq!(&self.bytes[self.at..self.at + 2], b"\\u", "JSON: lone surrogate");
                                self.at += 2;
                                code = 0x10000 + ((code - 0xD800) << 10) + (self.hex4() - 0xDC00);
                            }
                            char::from_u32(code).expect("JSON: bad \\u escape")
                        }
                        other => panic!("JSON: bad escape \\{}", other as char),
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                other => out.push(other),
            }
        }
    }

    fn hex4(&mut self) -> u32 {
        let text = std::str::from_utf8(&self.bytes[self.at..self.at + 4]).unwrap();
        self.at += 4;
        u32::from_str_radix(text, 16).expect("JSON: bad \\u escape")
    }
}

#[test]
fn the_json_reader_reads_what_python_writes() {
    let parsed =
        Json::parse(r#"[{"name": "a_total", "labels": {"le": "+Inf", "q": "\"\u00e9\\"}, "value": 2.5e1}, []]"#);
    let Json::Array(items) = parsed else { panic!() };
    assert_eq!(items[0].get("name").unwrap().as_str(), "a_total");
    assert_eq!(items[0].get("labels").unwrap().get("q").unwrap().as_str(), "\"é\\");
    assert_eq!(items[0].get("value"), Some(&Json::Number(25.0)));
    assert_eq!(items[1], Json::Array(Vec::new()));
}
