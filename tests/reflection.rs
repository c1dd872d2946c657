//! Server reflection, v1 and v1alpha: the Python `grpcio-reflection` client
//! (`tests/python/reflection_client.py`) learns the API from the server alone and calls it, and a
//! raw Rust client checks the descriptors and errors reflection answers with.

mod common;

use std::path::Path;
use std::time::Duration;

use futures::executor::block_on;
use futures::{SinkExt, TryStreamExt};
use grpcio::{CallOption, WriteFlags};
use protobuf::descriptor::FileDescriptorProto;
use protobuf::Message;

use common::{python_script, run, rust_server, scratch, token_file, InProcess, Output};
use idc::protocol::reflection_v1::reflection::server_reflection_response::Message_response as Response;
use idc::protocol::reflection_v1::reflection::{ServerReflectionRequest, ServerReflectionResponse};
use idc::protocol::reflection_v1::reflection_grpc::ServerReflectionClient;

/// What the article's client prints for its default request.
const ARTICLE_OUTPUT: &str = "indicator client received: \n\
macd {\n  date: \"2023-01-01\"\n  open: 1.1\n  close: 2.1\n  high: 3.1\n  low: 0.1\n  macd: 2.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 2.2\n  close: 4.2\n  high: 6.2\n  low: 0.2\n  macd: 5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 3.3\n  close: 6.3\n  high: 9.3\n  low: 0.3\n  macd: 7.5\n}\n\
macd {\n  date: \"2023-01-01\"\n  open: 4.4\n  close: 8.4\n  high: 12.4\n  low: 0.4\n  macd: 10\n}\n\n";

/// Every service the server registers, as list_services names them, sorted.
const SERVICES_LINE: &str = "services: grpc.health.v1.Health, grpc.reflection.v1.ServerReflection, \
grpc.reflection.v1alpha.ServerReflection, idc.Indicator, idc.IndicatorGraph, idc.v2.Indicators";

const VERSIONS: [&str; 2] = ["v1", "v1alpha"];

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the Python reflection client against `target` with reflection `version`.
fn reflection_client(target: &str, version: &str, flags: &[&str]) -> Output {
    let mut cmd = python_script("reflection_client.py");
    cmd.args(["--target", target, "--version", version, "--timeout", "30"]).args(flags);
    run(cmd)
}

#[test]
fn python_reflection_lists_describes_and_calls_with_both_versions() {
    let server = rust_server(&[]);
    for version in VERSIONS {
        let out = reflection_client(&server.target(), version, &[]);
        out.assert_success(&format!("reflection client, {version}"));
        let stdout = out.stdout_text();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines[0], SERVICES_LINE, "{version}:\n{stdout}");
        assert_eq!(lines[1], "service idc.Indicator (indicator.proto)", "{version}:\n{stdout}");
        assert!(
            lines.contains(&"method GetMACD(idc.MACDRequest) returns (idc.MACDReply)"),
            "{version}: no GetMACD method line:\n{stdout}"
        );
        for expected in [
            "message idc.MACDRequest",
            "  string start_date = 1",
            "message idc.MACDReply",
            "  repeated idc.MACDData macd = 1",
            "message idc.MACDData",
            "  float macd = 6",
        ] {
            assert!(lines.contains(&expected), "{version}: no line {expected:?}:\n{stdout}");
        }
        // The call made with classes built from the reflected descriptors prints the article's
        // output, byte for byte, and nothing after it.
        let (description, call) = stdout
            .split_once("indicator client received: \n")
            .unwrap_or_else(|| panic!("{version}: no reply printed:\n{stdout}"));
        assert!(!description.is_empty());
        assert_eq!(format!("indicator client received: \n{call}"), ARTICLE_OUTPUT, "{version}");
        assert!(out.stderr.trim().is_empty(), "{version}: stderr:\n{}", out.stderr);
    }
}

#[test]
fn python_reflection_describes_the_streaming_service() {
    let server = rust_server(&[]);
    for version in VERSIONS {
        let out = reflection_client(&server.target(), version, &["--describe", "idc.IndicatorGraph"]);
        out.assert_success(&format!("reflection client --describe idc.IndicatorGraph, {version}"));
        let stdout = out.stdout_text();
        let expected = format!(
            "{SERVICES_LINE}\n\
             service idc.IndicatorGraph (indicator_graph.proto)\n\
             method GetMACDGraph(idc.MACDGraphRequest) returns (stream idc.MACDGraphReply)\n\
             message idc.MACDGraphRequest\n  string start_date = 1\n  string end_date = 2\n\
             message idc.MACDGraphReply\n  bytes macd_chunk = 1\n"
        );
        assert_eq!(stdout, expected, "{version}");
    }
}

#[test]
fn python_reflection_needs_the_token_when_the_server_does() {
    let dir = scratch();
    let right = token_file(dir.path(), "token", "idc-reflection-token-41c2");
    let server = rust_server(&["--auth-token-file", path(&right)]);
    for version in VERSIONS {
        let out = reflection_client(&server.target(), version, &[]);
        assert_eq!(out.status.code(), Some(1), "{version}: reflection without the token: {out:?}");
        assert!(out.stdout.is_empty(), "{version}: printed without the token:\n{}", out.stdout_text());
        let method =
            format!("/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo failed: UNAUTHENTICATED");
        assert!(out.stderr.contains(&method), "{version}: stderr:\n{}", out.stderr);
        assert!(!out.stderr.contains("idc-reflection-token-41c2"));

        let out = reflection_client(&server.target(), version, &["--auth-token-file", path(&right)]);
        out.assert_success(&format!("reflection client with the token, {version}"));
        let stdout = out.stdout_text();
        assert!(stdout.starts_with(&format!("{SERVICES_LINE}\n")), "{version}:\n{stdout}");
        assert!(stdout.ends_with(ARTICLE_OUTPUT), "{version}:\n{stdout}");
    }
}

/// Sends `requests` on one reflection stream (v1) and returns the answers, in order.
fn reflect(address: &str, requests: Vec<ServerReflectionRequest>) -> Vec<ServerReflectionResponse> {
    let channel = common::channel(address);
    let client = ServerReflectionClient::new(channel);
    let option = CallOption::default().timeout(Duration::from_secs(30));
    let (mut sink, mut receiver) = client.server_reflection_info_opt(option).expect("the call starts");
    block_on(async {
        let mut answers = Vec::new();
        for request in requests {
            sink.send((request, WriteFlags::default())).await.expect("the request goes out");
            answers.push(receiver.try_next().await.expect("an answer").expect("the stream stays open"));
        }
        // The half-close may race the server's OK status: grpcio then reports the call as already
        // finished (`RpcFinished(None)`, no error status). The receiver below says how it ended.
        match sink.close().await {
            Ok(()) | Err(grpcio::Error::RpcFinished(None)) => {}
            Err(e) => panic!("closing the request stream failed: {e}"),
        }
        assert!(receiver.try_next().await.expect("the call ends with OK").is_none(), "no extra answer");
        answers
    })
}

fn symbol_request(symbol: &str) -> ServerReflectionRequest {
    let mut request = ServerReflectionRequest::new();
    request.set_file_containing_symbol(symbol.into());
    request
}

#[test]
fn raw_v1_reflection_finds_a_symbols_file_and_refuses_an_unknown_one() {
    let server = InProcess::start(idc::config::Config::default());
    let answers =
        reflect(&server.address(), vec![symbol_request("idc.MACDGraphReply"), symbol_request("idc.NoSuchThing")]);

    let found = &answers[0];
    assert_eq!(found.original_request.file_containing_symbol(), "idc.MACDGraphReply");
    let Some(Response::FileDescriptorResponse(files)) = &found.message_response else {
        panic!("not a file descriptor response: {found:?}")
    };
    assert!(!files.file_descriptor_proto.is_empty());
    let file = FileDescriptorProto::parse_from_bytes(&files.file_descriptor_proto[0]).expect("a FileDescriptorProto");
    assert_eq!(file.name(), "indicator_graph.proto");
    assert_eq!(file.package(), "idc");
    let reply = file.message_type.iter().find(|m| m.name() == "MACDGraphReply").expect("message MACDGraphReply");
    assert_eq!(reply.field.len(), 1);
    assert_eq!((reply.field[0].name(), reply.field[0].number()), ("macd_chunk", 1));
    assert!(file.service.iter().any(|s| s.name() == "IndicatorGraph"));

    let missing = &answers[1];
    assert_eq!(missing.original_request.file_containing_symbol(), "idc.NoSuchThing");
    let Some(Response::ErrorResponse(error)) = &missing.message_response else {
        panic!("not an error response: {missing:?}")
    };
    assert_eq!(error.error_code, 5, "NOT_FOUND: {error:?}");
    assert!(error.error_message.contains("idc.NoSuchThing"), "{error:?}");
}
