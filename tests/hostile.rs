//! Hostile input: requests no well-behaved client sends, each of which must get a defined gRPC
//! status (or a reset or closed stream) while the server goes on serving.
//!
//! * Raw gRPC calls from Rust (bytes in, bytes out): invalid UTF-8 in a string field, garbage
//!   protobuf, a field with the wrong wire type, a length inside the protobuf that runs past the
//!   end, a 10 MB field, dates longer than a date, and every malformed date form in data mode.
//! * Raw HTTP/2 from Python's hyper-h2 (`tests/python/h2_hostile.py`): truncated gRPC frames, a
//!   length prefix announcing 4 GiB, a compressed flag without an encoding, a wrong or missing
//!   content-type, GET, no `te: trailers`; and a rapid-reset flood (CVE-2023-44487).
//!
//! Each case runs against a real `idc_server` process, and after each one the process must still
//! run and answer a health check with SERVING.

mod common;

use std::sync::Arc;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::StreamExt;
use grpcio::{CallOption, ChannelBuilder, Client, EnvBuilder, Marshaller, Method, MethodType, RpcStatusCode};
use idc::client::{raw_de, raw_ser};
use idc::protocol::indicator::{MACDReply, MACDRequest};
use idc::protocol::indicator_graph::{MACDGraphReply, MACDGraphRequest};
use protobuf::Message;

use common::{
    health_within, pseudo_random_bytes, python_script, rss_kib, run, rust_server, scratch, write_file, Server,
};

const GET_MACD: &str = "/idc.Indicator/GetMACD";
const GET_MACD_GRAPH: &str = "/idc.IndicatorGraph/GetMACDGraph";
/// How long a health check may take after a case (and during the flood) for the server to count
/// as responsive.
const HEALTH_LIMIT: Duration = Duration::from_secs(5);
/// The server's default `--max-receive-message`.
const RECEIVE_LIMIT: usize = idc::config::DEFAULT_MAX_RECEIVE_MESSAGE;

// ---------------------------------------------------------------------------------------------
// Servers and the checks after each case

/// The flood measures how fast the server answers while it is flooded, and the other tests of
/// this file would add their own load to the machine's two cores: they never run at the same time
/// as the flood (but in parallel with each other).
static FLOOD: RwLock<()> = RwLock::new(());

fn quiet() -> RwLockReadGuard<'static, ()> {
    FLOOD.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    FLOOD.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Parity mode, streaming a small graph file (so that a well-formed GetMACDGraph is cheap).
fn parity_server(dir: &tempfile::TempDir) -> Server {
    let graph = write_file(dir.path(), "graph.png", &pseudo_random_bytes(3000, 44_487));
    rust_server(&["--graph-file", graph.to_str().unwrap()])
}

/// Data mode on the embedded sample, with small charts (a valid range renders one).
fn data_server() -> Server {
    rust_server(&["--data", "sample", "--chart-size", "320x240"])
}

/// How long a health check may wait while a rapid-reset flood is worked off: C-core 1.56 has no
/// defence, and a check that lands on the flooded completion queue waits for the backlog (see
/// SECURITY.md). The server must answer within it, and be back to answering within
/// [`HEALTH_LIMIT`] once the flood is over.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

/// A health check on a connection of its own ([`common::health_within`]), within [`HEALTH_LIMIT`].
fn health(address: &str) -> Result<Duration, String> {
    health_within(address, HEALTH_LIMIT)
}

/// The server survived `case`: its process runs and a health check answers SERVING in time.
fn assert_survives(server: &mut Server, case: &str) {
    assert!(server.is_running(), "the server process ended after {case}");
    if let Err(e) = health(&server.target()) {
        panic!("after {case}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Raw gRPC calls

/// A call's outcome: the reply messages' bytes, or the status code and message.
type Outcome = Result<Vec<Vec<u8>>, (RpcStatusCode, String)>;

/// Calls `path` with `body` as the request's exact bytes, whatever they are.
fn raw_call(address: &str, path: &'static str, body: &[u8]) -> Outcome {
    let ty = if path == GET_MACD { MethodType::Unary } else { MethodType::ServerStreaming };
    let method: Method<Vec<u8>, Vec<u8>> = Method {
        ty,
        name: path,
        req_mar: Marshaller { ser: raw_ser, de: raw_de },
        resp_mar: Marshaller { ser: raw_ser, de: raw_de },
    };
    let env = Arc::new(EnvBuilder::new().cq_count(1).build());
    let client = Client::new(ChannelBuilder::new(env).connect(address));
    let option = CallOption::default().timeout(Duration::from_secs(20));
    let failed = |e: grpcio::Error| match e {
        grpcio::Error::RpcFailure(status) => (status.code(), status.message().to_string()),
        other => panic!("{path}: expected a status, got {other:?}"),
    };
    if path == GET_MACD {
        return client.unary_call(&method, &body.to_vec(), option).map(|reply| vec![reply]).map_err(failed);
    }
    let mut stream = client.server_streaming(&method, &body.to_vec(), option).map_err(failed)?;
    let mut replies = Vec::new();
    while let Some(reply) = block_on(stream.next()) {
        replies.push(reply.map_err(failed)?);
    }
    Ok(replies)
}

fn request_bytes(path: &str, start_date: &str, end_date: &str) -> Vec<u8> {
    if path == GET_MACD {
        let mut request = MACDRequest::new();
        request.start_date = start_date.into();
        request.end_date = end_date.into();
        request.write_to_bytes().unwrap()
    } else {
        let mut request = MACDGraphRequest::new();
        request.start_date = start_date.into();
        request.end_date = end_date.into();
        request.write_to_bytes().unwrap()
    }
}

fn expect_status(outcome: Outcome, code: RpcStatusCode, what: &str) -> String {
    match outcome {
        Err((got, message)) => {
            println!("{what}: {got:?} {message:?}");
            assert_eq!(got, code, "{what}: {message}");
            message
        }
        Ok(replies) => panic!("{what}: expected {code:?}, got OK with {} message(s)", replies.len()),
    }
}

/// An OK GetMACD reply's rows: (date, count).
fn macd_rows(outcome: Outcome, what: &str) -> (Vec<String>, usize) {
    let replies = outcome.unwrap_or_else(|(code, message)| panic!("{what}: expected OK, got {code:?}: {message}"));
    assert_eq!(replies.len(), 1, "{what}");
    let reply = MACDReply::parse_from_bytes(&replies[0]).expect("a MACDReply");
    let count = reply.macd.len();
    (reply.macd.into_iter().map(|row| row.date).collect(), count)
}

/// Request bytes that are not a protobuf message of either request type.
fn undecodable_requests() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // start_date (field 1, length-delimited) holding bytes that are not UTF-8.
        ("invalid UTF-8 in start_date", vec![0x0a, 0x02, 0xff, 0xfe]),
        // end_date (field 2) holding a lead byte followed by a non-continuation byte.
        ("invalid UTF-8 in end_date", vec![0x0a, 0x00, 0x12, 0x02, 0xc3, 0x28]),
        // Eleven 0xff: field 31 with wire type 7, which does not exist.
        ("garbage bytes (wire type 7)", vec![0xff; 11]),
        // A varint tag that never ends within 10 bytes.
        ("garbage bytes (endless varint)", vec![0x80; 12]),
        // start_date announcing 16 bytes, with 2 present.
        ("a length running past the end", vec![0x0a, 0x10, b'2', b'0']),
        // An unknown field 31 announcing 4 GiB - 1 bytes.
        ("an unknown field announcing 4 GiB", vec![0xfa, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f]),
        // start_date's length as a 10-byte varint (more than 64 bits).
        ("a length over 64 bits", vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        // A group (wire type 3) that is never closed.
        ("an unterminated group", vec![0x0b, 0x0a, 0x00]),
    ]
}

/// Checks each undecodable request on both methods: INTERNAL, the status gRPC implementations
/// give a request they cannot parse, with a message that says the request could not be decoded.
fn undecodable_requests_are_internal(server: &mut Server) {
    for (case, body) in undecodable_requests() {
        for path in [GET_MACD, GET_MACD_GRAPH] {
            let what = format!("{path} with {case}");
            let message = expect_status(raw_call(&server.target(), path, &body), RpcStatusCode::INTERNAL, &what);
            assert!(
                message.to_lowercase().contains("deserialize"),
                "{what}: the message names no decoding failure: {message:?}"
            );
            assert_survives(server, &what);
        }
    }
}

#[test]
fn undecodable_protobuf_is_internal_in_parity_mode() {
    let _shared = quiet();
    let dir = scratch();
    let mut server = parity_server(&dir);
    undecodable_requests_are_internal(&mut server);
}

#[test]
fn undecodable_protobuf_is_internal_in_data_mode() {
    let _shared = quiet();
    let mut server = data_server();
    undecodable_requests_are_internal(&mut server);
}

/// A field with the wrong wire type is an unknown field to protobuf parsers (C++, Java, Python
/// and rust-protobuf alike): the request decodes with that field empty, and is answered as such.
#[test]
fn a_field_with_the_wrong_wire_type_is_skipped_as_an_unknown_field() {
    let _shared = quiet();
    let wrong_types: [(&str, &[u8]); 3] = [
        ("start_date as a varint", &[0x08, 0x96, 0x01]),
        ("start_date as a fixed32", &[0x0d, 0x32, 0x30, 0x32, 0x30]),
        ("end_date as a fixed64", &[0x11, 1, 2, 3, 4, 5, 6, 7, 8]),
    ];
    let dir = scratch();
    let mut parity = parity_server(&dir);
    let mut data = data_server();
    for (case, body) in wrong_types {
        // Parity mode: the four placeholder rows, dated with the empty start_date.
        let (dates, count) = macd_rows(raw_call(&parity.target(), GET_MACD, body), case);
        assert_eq!((dates, count), (vec![String::new(); 4], 4), "{case}");
        assert_survives(&mut parity, case);
        // Data mode: no dates is the whole sample (an empty date is an open end).
        let (dates, count) = macd_rows(raw_call(&data.target(), GET_MACD, body), case);
        assert_eq!(count, 5031, "{case}");
        assert_eq!((dates[0].as_str(), dates[count - 1].as_str()), ("1999-01-04", "2018-12-31"), "{case}");
        assert_survives(&mut data, case);
        let replies = raw_call(&data.target(), GET_MACD_GRAPH, body).expect(case);
        let png: Vec<u8> =
            replies.iter().flat_map(|reply| MACDGraphReply::parse_from_bytes(reply).unwrap().macd_chunk).collect();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{case}: the graph is a PNG");
        assert_survives(&mut data, case);
    }
}

/// A 10 MB start_date is far over the 1 MiB receive limit: gRPC refuses the message with
/// RESOURCE_EXHAUSTED, naming both sizes, before any handler runs.
#[test]
fn a_ten_megabyte_field_is_resource_exhausted() {
    let _shared = quiet();
    let dir = scratch();
    let date = "2".repeat(10 * 1000 * 1000);
    for mut server in [parity_server(&dir), data_server()] {
        for path in [GET_MACD, GET_MACD_GRAPH] {
            let body = request_bytes(path, &date, "");
            let what = format!("{path} with a 10 MB start_date");
            let message =
                expect_status(raw_call(&server.target(), path, &body), RpcStatusCode::RESOURCE_EXHAUSTED, &what);
            assert!(
                message.contains("larger than max") && message.contains(&format!("{} vs. {RECEIVE_LIMIT}", body.len())),
                "{what}: {message:?}"
            );
            assert_survives(&mut server, &what);
        }
    }
}

/// Under the receive limit but longer than any date: refused by the server itself, in both
/// modes, with the length in the message (parity mode echoes up to 64 bytes, as the reference).
#[test]
fn a_date_text_over_64_bytes_is_invalid_argument_in_both_modes() {
    let _shared = quiet();
    let dir = scratch();
    for (mode, mut server) in [("parity", parity_server(&dir)), ("data", data_server())] {
        for (field, len) in [("start_date", 65), ("end_date", 65), ("start_date", 60_000)] {
            let text = "9".repeat(len);
            let (start, end) = if field == "start_date" { (text.as_str(), "") } else { ("", text.as_str()) };
            for path in [GET_MACD, GET_MACD_GRAPH] {
                let what = format!("{mode} {path} with a {len}-byte {field}");
                let outcome = raw_call(&server.target(), path, &request_bytes(path, start, end));
                let message = expect_status(outcome, RpcStatusCode::INVALID_ARGUMENT, &what);
                let expected = format!("{field} is {len} bytes long, more than the 64 this server accepts");
                assert!(message.starts_with(&expected), "{what}: {message:?}");
                assert!(message.contains("YYYY-MM-DD"), "{what}: {message:?}");
                assert_survives(&mut server, &what);
            }
        }
        // 64 bytes is still echoed in parity mode, as the reference does.
        if mode == "parity" {
            let text = "x".repeat(64);
            let (dates, _) =
                macd_rows(raw_call(&server.target(), GET_MACD, &request_bytes(GET_MACD, &text, "")), "64 bytes");
            assert_eq!(dates, vec![text; 4]);
        }
    }
}

/// Every malformed or impossible date, in either field, on both methods, in data mode:
/// INVALID_ARGUMENT whose message names the field, quotes the text and says what is wrong.
#[test]
fn every_malformed_date_form_is_invalid_argument_saying_what_is_wrong() {
    let _shared = quiet();
    const NOT_A_DATE: &str = "is not a date: use YYYY-MM-DD, e.g. 2023-01-31";
    const NO_SUCH_DAY: &str = "is not a real day: that month has no such day; use YYYY-MM-DD, e.g. 2023-01-31";
    const NO_SUCH_MONTH: &str = "is not a real day: the month must be 01 to 12; use YYYY-MM-DD, e.g. 2023-01-31";
    const NO_YEAR_ZERO: &str = "is not a real day: years start at 0001; use YYYY-MM-DD, e.g. 2023-01-31";
    let full_width = "２０２０-０１-０１";
    let sixty_four = "2".repeat(64);
    let cases: Vec<(&str, &str)> = vec![
        ("2020-1-1", NOT_A_DATE),
        ("2020-01-1", NOT_A_DATE),
        ("20200101", NOT_A_DATE),
        (" 2020-01-01", NOT_A_DATE),
        ("2020-01-01 ", NOT_A_DATE),
        ("2020/01/01", NOT_A_DATE),
        ("01-01-2020", NOT_A_DATE),
        ("2020-01-01T00:00:00Z", NOT_A_DATE),
        ("+2020-01-01", NOT_A_DATE),
        ("-202-01-01", NOT_A_DATE),
        ("2020-1a-01", NOT_A_DATE),
        ("2020-01-0\u{0}", NOT_A_DATE),
        ("yesterday", NOT_A_DATE),
        ("二〇二〇年一月一日", NOT_A_DATE),
        (full_width, NOT_A_DATE),
        ("٢٠٢٠-٠١-٠١", NOT_A_DATE), // Arabic-Indic digits: Unicode digits, not ASCII
        (&sixty_four, NOT_A_DATE),
        ("2020-13-01", NO_SUCH_MONTH),
        ("2020-00-10", NO_SUCH_MONTH),
        ("2020-02-30", NO_SUCH_DAY),
        ("2021-02-29", NO_SUCH_DAY),
        ("1900-02-29", NO_SUCH_DAY),
        ("2020-04-31", NO_SUCH_DAY),
        ("2020-01-00", NO_SUCH_DAY),
        ("2020-01-32", NO_SUCH_DAY),
        ("0000-01-01", NO_YEAR_ZERO),
    ];
    let mut server = data_server();
    let target = server.target();
    for (text, problem) in &cases {
        // Quoted back as Rust's {:?} quotes, cut after 32 characters.
        let quoted = match text.char_indices().nth(32) {
            Some((cut, _)) => format!("{:?}", format!("{}…", &text[..cut])),
            None => format!("{text:?}"),
        };
        for field in ["start_date", "end_date"] {
            let (start, end) = if field == "start_date" { (*text, "2018-12-31") } else { ("1999-01-04", *text) };
            for path in [GET_MACD, GET_MACD_GRAPH] {
                let what = format!("{path} with {field} {text:?}");
                let message = expect_status(
                    raw_call(&target, path, &request_bytes(path, start, end)),
                    RpcStatusCode::INVALID_ARGUMENT,
                    &what,
                );
                assert_eq!(message, format!("{field}: {quoted} {problem}"), "{what}");
                assert_survives(&mut server, &what);
            }
        }
    }
    // A start after the end.
    for path in [GET_MACD, GET_MACD_GRAPH] {
        let what = format!("{path} with start_date after end_date");
        let outcome = raw_call(&target, path, &request_bytes(path, "2018-02-01", "2018-01-31"));
        let message = expect_status(outcome, RpcStatusCode::INVALID_ARGUMENT, &what);
        assert!(message.starts_with("start_date 2018-02-01 is after end_date 2018-01-31"), "{what}: {message:?}");
        assert!(message.contains("YYYY-MM-DD"), "{what}: {message:?}");
        assert_survives(&mut server, &what);
    }
    // Empty dates are no error: an open end, so the whole sample.
    let (dates, count) = macd_rows(raw_call(&target, GET_MACD, &request_bytes(GET_MACD, "", "")), "empty dates");
    assert_eq!((count, dates[0].as_str()), (5031, "1999-01-04"));
    // And the same server still answers a well-formed range.
    let (dates, _) =
        macd_rows(raw_call(&target, GET_MACD, &request_bytes(GET_MACD, "2018-01-02", "2018-01-05")), "a range");
    assert_eq!(dates, ["2018-01-02", "2018-01-03", "2018-01-04", "2018-01-05"]);
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP/2 (tests/python/h2_hostile.py)

/// What `h2_hostile.py` printed for one case or one flood.
fn hostile_python(args: &[&str]) -> Vec<Json> {
    let mut cmd = python_script("h2_hostile.py");
    cmd.args(args);
    let out = run(cmd);
    out.assert_success("h2_hostile.py (needs hyper-h2: .venv/bin/pip install -r tests/python/requirements.txt)");
    out.stdout_text().lines().map(Json::parse).collect()
}

#[derive(Clone, Copy)]
/// How a stream may end for one case: gRPC statuses allowed on a (200) response, HTTP statuses
/// allowed instead, and whether a reset or closed stream is allowed.
struct Allowed {
    grpc: &'static [RpcStatusCode],
    http: &'static [&'static str],
    reset_or_closed: bool,
}

/// The cases of `h2_hostile.py case`, with the outcomes each may have.
fn http2_cases() -> Vec<(&'static str, Allowed)> {
    use RpcStatusCode as C;
    let framing = Allowed { grpc: &[C::INTERNAL, C::INVALID_ARGUMENT], http: &[], reset_or_closed: true };
    vec![
        ("well_formed", Allowed { grpc: &[C::OK], http: &[], reset_or_closed: false }),
        ("truncated", framing),
        ("truncated_prefix", Allowed { ..framing }),
        ("huge_prefix", Allowed { grpc: &[C::RESOURCE_EXHAUSTED, C::INTERNAL, C::INVALID_ARGUMENT], ..framing }),
        // C-core takes the flag with identity encoding as an uncompressed message, and serves it
        // (gRPC-Go and Java refuse it with INTERNAL): lenient, harmless, and defined.
        ("compressed_flag_without_encoding", Allowed { grpc: &[C::OK, C::INTERNAL, C::UNIMPLEMENTED], ..framing }),
        // C-core 1.56 answers a flag byte other than 0 and 1 at random either with INTERNAL ("No
        // payload") or by handing the handler an empty request, which is then served as one (in
        // data mode: every row). Only the first is right; the second happens before any of our
        // code sees the message, so it is allowed here and recorded in SECURITY.md. The server
        // must still answer every try, and survive.
        ("bad_flag_byte", Allowed { grpc: &[C::INTERNAL, C::OK], ..framing }),
        // PROTOCOL-HTTP2.md: a server SHOULD answer a content-type other than application/grpc
        // with HTTP 415; C-core resets the stream, which a plain HTTP client also cannot mistake
        // for success.
        ("content_type_text_plain", Allowed { grpc: &[], http: &["415"], reset_or_closed: true }),
        // C-core serves a request without content-type as gRPC.
        ("content_type_missing", Allowed { grpc: &[C::OK], http: &["415"], reset_or_closed: true }),
        (
            "get_instead_of_post",
            Allowed {
                grpc: &[C::UNKNOWN, C::UNIMPLEMENTED, C::INVALID_ARGUMENT],
                http: &["405"],
                reset_or_closed: true,
            },
        ),
        (
            "te_missing",
            Allowed { grpc: &[C::UNKNOWN, C::INVALID_ARGUMENT, C::INTERNAL], http: &["400"], reset_or_closed: true },
        ),
        // C-core reads one message of a unary call and ignores the rest (Java refuses it with
        // INTERNAL).
        ("two_messages_unary", Allowed { grpc: &[C::OK, C::INTERNAL], ..framing }),
        ("no_message_unary", Allowed { ..framing }),
    ]
}

/// Whether `result` is one of the outcomes `allowed`; if not, why.
fn check_http2_outcome(case: &str, path: &str, result: &Json, allowed: &Allowed) -> Result<(), String> {
    let what = format!("{case} on {path}: {}", result.text);
    let outcome = result.get("outcome").as_str().unwrap_or("");
    match outcome {
        "response" => {
            let http = result.get("http_status").as_str().unwrap_or("none");
            if http != "200" {
                return match allowed.http.contains(&http) {
                    true => Ok(()),
                    false => Err(format!("{what}: HTTP {http} is not one of {:?}", allowed.http)),
                };
            }
            let Some(code) = result.get("grpc_status").as_str().and_then(|c| c.parse::<i32>().ok()) else {
                return Err(format!("{what}: HTTP 200 without a grpc-status"));
            };
            if !allowed.grpc.iter().any(|c| i32::from(*c) == code) {
                let code = RpcStatusCode::from(code);
                return Err(format!("{what}: grpc-status {code:?} is not one of {:?}", allowed.grpc));
            }
            if code != 0 && result.get("grpc_message").as_str().unwrap_or("").is_empty() {
                return Err(format!("{what}: an error status without a message"));
            }
            Ok(())
        }
        "stream reset" | "connection closed" if allowed.reset_or_closed => Ok(()),
        "stream reset" | "connection closed" => Err(format!("{what}: a {outcome} where a status was expected")),
        "timeout" => Err(format!("{what}: the server neither answered nor ended the stream (a hang)")),
        other => Err(format!("{what}: unknown outcome {other:?}")),
    }
}

/// Each malformed HTTP/2 request, on both methods: a defined outcome, and the server survives.
/// Every case runs before the verdict, so that a failure lists all the cases that went wrong.
#[test]
fn malformed_http2_requests_get_a_defined_outcome() {
    let _shared = quiet();
    let dir = scratch();
    let mut server = parity_server(&dir);
    let target = server.target();
    let mut wrong = Vec::new();
    for path in [GET_MACD, GET_MACD_GRAPH] {
        for (case, allowed) in http2_cases() {
            // A bad flag byte is answered either way at random (see http2_cases): several tries
            // make a wrong answer show on every run rather than on half of them.
            let tries = if case == "bad_flag_byte" { 8 } else { 1 };
            let mut args = vec!["--target", &target, "--timeout", "5", "case", "--path", path];
            args.extend(std::iter::repeat_n(case, tries));
            let results = hostile_python(&args);
            assert_eq!(results.len(), tries, "{case}");
            for result in &results {
                println!("{path} {case}: {}", result.text);
                wrong.extend(check_http2_outcome(case, path, result, &allowed).err());
            }
            assert_survives(&mut server, &format!("{case} on {path}"));
        }
    }
    assert!(wrong.is_empty(), "{} outcome(s) not allowed:\n{}", wrong.len(), wrong.join("\n"));
}

/// A prefix announcing 4 GiB, then the promised bytes as fast as the server takes them, on a
/// stream left open: the server must end the stream (RESOURCE_EXHAUSTED, or a reset) rather than
/// wait for the 4 GiB, and must not hold more than its memory quota. The client offers 256 MiB.
///
/// C-core 1.56 checks a message's size against `--max-receive-message` only once the whole
/// message has arrived, so it is idc_server's memory quota (`--memory-quota-mib`, 64 by default)
/// that ends such a stream: under pressure C-core resets the stream that holds the most
/// (ENHANCE_YOUR_CALM). Measured without a quota: the whole offer buffered and the stream still
/// open after 10 s; with 256 MiB, the same for a 64 MiB offer; with 64 MiB, a reset within 0.6 s.
/// The bound on the server's growth is the quota plus what C-core holds outside it.
const MOST_GROWTH_KIB: f64 = 96.0 * 1024.0;

#[test]
fn a_huge_length_prefix_is_cut_off_by_the_memory_quota() {
    let _shared = quiet();
    let dir = scratch();
    let mut server = parity_server(&dir);
    let target = server.target();
    let pid = server.pid().to_string();
    let mut wrong = Vec::new();
    for path in [GET_MACD, GET_MACD_GRAPH] {
        let args = ["--target", &target, "--timeout", "5", "--server-pid", &pid, "case", "--path", path];
        let results = hostile_python(&[&args[..], &["huge_prefix_streaming"]].concat());
        let result = &results[0];
        println!("{path} huge_prefix_streaming: {}", result.text);
        let sent = result.get("sent_bytes").as_f64().unwrap();
        let growth = result.get("server_rss_growth_kib").as_f64().unwrap();
        println!("{path}: the server let {sent} bytes through and its RSS grew by {growth} KiB");
        if growth > MOST_GROWTH_KIB {
            wrong.push(format!(
                "{path}: the server grew by {growth} KiB for a message announced as 4 GiB, past its \
                 {RECEIVE_LIMIT}-byte receive limit and its 64 MiB memory quota ({sent} bytes sent)"
            ));
        }
        let allowed = Allowed { grpc: &[RpcStatusCode::RESOURCE_EXHAUSTED], http: &[], reset_or_closed: true };
        wrong.extend(check_http2_outcome("huge_prefix_streaming", path, result, &allowed).err());
        assert_survives(&mut server, &format!("huge_prefix_streaming on {path}"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Pairs per flood: enough to show the stall (C-core 1.56 here takes 2 to 6 s to work off 20,000,
/// and 10 to 25 s for 50,000: see the figures printed), few enough to keep the test within CI's
/// time.
const FLOOD_PAIRS: &str = "20000";
/// Health checkers on fresh connections during a flood: each new connection lands on one of the
/// server's completion queues, and only a check that lands where the flood is worked off waits.
const FLOOD_CHECKERS: usize = 4;

/// CVE-2023-44487 ("rapid reset"): HEADERS + RST_STREAM pairs on one connection, pre-encoded and
/// written as fast as the socket takes them, alternating GetMACD and GetMACDGraph; first without
/// request messages, then with them (so that calls may start before their reset). Meanwhile
/// (from several threads, each check on a fresh connection) health checks must be answered
/// SERVING within [`RECOVERY_LIMIT`], and after the flood within [`HEALTH_LIMIT`] again; the
/// process must live. C-core 1.56 has no rapid-reset defence, so checks during the flood can
/// stall for seconds: what it does (GOAWAY or not, the connection closed or not, the slowest
/// check, the memory it keeps) is printed and recorded in SECURITY.md.
#[test]
fn a_rapid_reset_flood_leaves_the_server_alive_and_it_recovers() {
    let _alone = alone();
    let dir = scratch();
    let mut wrong = Vec::new();
    for with_request in [false, true] {
        let mut server = parity_server(&dir);
        let target = server.target();
        let rss_before = rss_kib(server.pid());
        let mut cmd = python_script("h2_hostile.py");
        // The flooded connection's own health check may wait as long as the flood is worked off;
        // 10 s bounds the test, and a longer wait shows as "timeout" in the report.
        cmd.args(["--target", &target, "--timeout", "10", "flood", "--pairs", FLOOD_PAIRS]);
        if with_request {
            cmd.arg("--with-request");
        }
        let started = Instant::now();
        let flood = std::thread::spawn(move || run(cmd));
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkers: Vec<_> = (0..FLOOD_CHECKERS)
            .map(|i| {
                let (target, done) = (target.clone(), Arc::clone(&done));
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(25 * i as u64));
                    let mut checks = Vec::new();
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let at = started.elapsed();
                        checks.push((at, health_within(&target, RECOVERY_LIMIT)));
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    checks
                })
            })
            .collect();
        let out = flood.join().unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let during: Vec<_> = checkers.into_iter().flat_map(|c| c.join().unwrap()).collect();
        out.assert_success(
            "h2_hostile.py flood (needs hyper-h2: .venv/bin/pip install -r tests/python/requirements.txt)",
        );
        let report = Json::parse(out.stdout_text().trim());
        let after = health_within(&target, RECOVERY_LIMIT);
        let rss_after = rss_kib(server.pid());
        let slowest = during.iter().filter_map(|(_, r)| r.as_ref().ok()).max();
        let failed: Vec<_> = during.iter().filter_map(|(at, r)| r.as_ref().err().map(|e| (at, e))).collect();
        let stalled = during.iter().filter(|(_, r)| r.as_ref().is_ok_and(|d| *d > HEALTH_LIMIT)).count();
        println!("rapid reset, with_request {with_request}: {}", report.text);
        println!(
            "rapid reset, with_request {with_request}: {} health checks on fresh connections during the flood, {} \
             failed {:?}, {stalled} took over {HEALTH_LIMIT:?}, the slowest answered {:?}; after it: {after:?}; \
             server RSS {rss_before} KiB before, {rss_after} KiB after",
            during.len(),
            failed.len(),
            failed.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
            slowest,
        );
        let sent = report.get("pairs_sent").as_f64().unwrap();
        let goaway = report.get("goaway_code").as_f64();
        let closed = report.get("connection_closed").as_bool().unwrap();
        // Either the whole flood went out, or C-core stopped it with a GOAWAY or a close.
        let pairs: f64 = FLOOD_PAIRS.parse().unwrap();
        assert!(sent == pairs || goaway.is_some() || closed, "the flood stopped early with no GOAWAY or close");
        assert!(server.is_running(), "the server process ended after the flood");
        for (at, e) in failed {
            wrong.push(format!("with_request {with_request}: a health check started {at:?} into the flood: {e}"));
        }
        if let Err(e) = after {
            wrong.push(format!("with_request {with_request}: after the flood: {e}"));
        }
        assert_survives(&mut server, "the rapid-reset flood");
    }
    assert!(wrong.is_empty(), "the server did not recover from the flood:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// h2_hostile.py's output: one JSON object a line

/// One line that `h2_hostile.py` printed: its value, and its text for messages.
struct Json {
    text: String,
    value: serde_json::Value,
}

impl Json {
    fn parse(text: &str) -> Json {
        let value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("h2_hostile.py printed no JSON ({e}): {text}"));
        Json { text: text.to_string(), value }
    }

    /// The value of `key`; `Null` when there is none.
    fn get(&self, key: &str) -> &serde_json::Value {
        &self.value[key]
    }
}
