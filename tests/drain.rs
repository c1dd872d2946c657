//! The graceful drain of a real `idc_server` process on SIGTERM, each step seen with a graph
//! stream really in flight: its first chunk has arrived before the signal is sent.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use futures::StreamExt;
use grpcio::{CallOption, ClientSStreamReceiver, RpcStatusCode};
use idc::protocol::health::health_check_response::ServingStatus;
use idc::protocol::health::HealthCheckRequest;
use idc::protocol::health_grpc::HealthClient;
use idc::protocol::indicator::MACDRequest;
use idc::protocol::indicator_graph::{MACDGraphReply, MACDGraphRequest};
use idc::protocol::indicator_graph_grpc::IndicatorGraphClient;
use idc::protocol::indicator_grpc::IndicatorClient;

use common::{pseudo_random_bytes, scratch, write_file, Server};

/// A stream of a 1 MiB file in 1 KiB chunks (1024 messages), which a slow reader takes a while
/// to read.
const FILE_SIZE: usize = 1 << 20;
/// 64 MiB in 1 KiB chunks: far more than gRPC's flow-control windows and the socket buffers
/// hold, so a reader that stops reading holds the server's stream open.
const STALLED_FILE_SIZE: usize = 64 << 20;

fn channel(server: &Server) -> grpcio::Channel {
    // A channel of its own per use: a connection opened after the server stops taking calls must
    // be a new one.
    common::channel(&server.target())
}

/// Starts a graph stream and waits for its first chunk.
fn stream_in_flight(server: &Server) -> (ClientSStreamReceiver<MACDGraphReply>, Vec<u8>, IndicatorGraphClient) {
    let client = IndicatorGraphClient::new(channel(server));
    let option = CallOption::default().timeout(Duration::from_secs(60));
    let mut stream = client.get_macd_graph_opt(&MACDGraphRequest::new(), option).unwrap();
    let first = block_on(stream.next()).expect("a first chunk").expect("no error");
    (stream, first.macd_chunk, client)
}

fn health(server: &Server) -> Result<ServingStatus, RpcStatusCode> {
    let client = HealthClient::new(channel(server));
    let option = CallOption::default().timeout(Duration::from_secs(5));
    match client.check_opt(&HealthCheckRequest::new(), option) {
        Ok(reply) => Ok(reply.status.enum_value_or(ServingStatus::UNKNOWN)),
        Err(grpcio::Error::RpcFailure(status)) => Err(status.code()),
        Err(e) => panic!("health check: {e}"),
    }
}

fn get_macd(server: &Server) -> Result<usize, RpcStatusCode> {
    let client = IndicatorClient::new(channel(server));
    match client.get_macd_opt(&MACDRequest::new(), CallOption::default().timeout(Duration::from_secs(5))) {
        Ok(reply) => Ok(reply.macd.len()),
        Err(grpcio::Error::RpcFailure(status)) => Err(status.code()),
        Err(e) => panic!("GetMACD: {e}"),
    }
}

fn kill(server: &Server, signal: &str) {
    let status = Command::new("kill").args([&format!("-{signal}"), &server.pid().to_string()]).status().unwrap();
    assert!(status.success());
}

fn graph_server(dir: &std::path::Path, size: usize, extra: &[&str]) -> (Server, Vec<u8>) {
    let bytes = pseudo_random_bytes(size, 11);
    let file = write_file(dir, "big.png", &bytes);
    let mut cmd = common::rust_bin("idc_server");
    // Info, so that each step of the drain shows in the log.
    cmd.env("RUST_LOG", "info").args(["--host", "127.0.0.1", "--port", "0", "--graph-file", file.to_str().unwrap()]);
    cmd.args(extra);
    (Server::start(cmd), bytes)
}

#[test]
fn a_stream_in_flight_completes_within_the_grace_period_while_health_says_not_serving() {
    let dir = scratch();
    let (server, bytes) = graph_server(dir.path(), FILE_SIZE, &["--drain-delay", "2", "--grace-period", "30"]);
    assert_eq!(health(&server), Ok(ServingStatus::SERVING));
    let (mut stream, mut received, _client) = stream_in_flight(&server);

    kill(&server, "TERM");
    // Step 1: health turns NOT_SERVING at once; step 2: new calls are still taken during the
    // drain delay, so a load balancer has time to notice.
    common::wait_for("health NOT_SERVING", Duration::from_secs(5), || {
        health(&server) == Ok(ServingStatus::NOT_SERVING)
    });
    assert_eq!(get_macd(&server), Ok(4), "new calls are taken during the drain delay");

    // Step 3: the slow reader gets the whole stream.
    while let Some(chunk) = block_on(stream.next()) {
        received.extend_from_slice(&chunk.expect("the stream finishes with OK").macd_chunk);
        std::thread::sleep(Duration::from_micros(500));
    }
    assert_eq!(received, bytes, "the stream in flight arrived whole");
    // Step 4: the process exits 0 once nothing is in flight.
    let (status, stderr) = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("all calls finished"), "{stderr}");
}

#[test]
fn after_the_drain_delay_new_calls_are_refused_and_the_stream_still_finishes() {
    let dir = scratch();
    let (server, bytes) = graph_server(dir.path(), FILE_SIZE, &["--grace-period", "30"]);
    let (mut stream, mut received, _client) = stream_in_flight(&server);
    kill(&server, "TERM");
    // No drain delay: the server stops taking calls at once.
    common::wait_for("new calls refused", Duration::from_secs(5), || get_macd(&server).is_err());
    assert_eq!(get_macd(&server), Err(RpcStatusCode::UNAVAILABLE));
    while let Some(chunk) = block_on(stream.next()) {
        received.extend_from_slice(&chunk.expect("the stream finishes with OK").macd_chunk);
    }
    assert_eq!(received, bytes);
    let (status, stderr) = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn past_the_grace_period_a_stalled_stream_is_cancelled_and_the_server_exits() {
    let dir = scratch();
    let grace = Duration::from_secs(1);
    let (server, _) = graph_server(dir.path(), STALLED_FILE_SIZE, &["--grace-period", "1"]);
    // The reader stops after its first chunk; flow control then holds the server's stream.
    let (mut stream, _, _client) = stream_in_flight(&server);
    let signalled = Instant::now();
    kill(&server, "TERM");
    let (status, stderr) = server.wait_exit(Duration::from_secs(30));
    let took = signalled.elapsed();
    assert!(status.success(), "exit 0 after cancelling what was left: {status}: {stderr}");
    assert!(took <= grace + Duration::from_secs(1), "exited {took:?} after the signal, grace {grace:?}");
    assert!(stderr.contains("grace period over"), "{stderr}");
    // The client sees an error, never a stream that ends with OK.
    let ended = loop {
        match block_on(stream.next()) {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    assert!(ended.is_some(), "the cut stream ended with OK");
}

#[test]
fn a_second_signal_stops_at_once() {
    let dir = scratch();
    let (server, _) = graph_server(dir.path(), STALLED_FILE_SIZE, &["--grace-period", "60"]);
    let (_stream, _, _client) = stream_in_flight(&server);
    kill(&server, "TERM");
    common::wait_for("new calls refused", Duration::from_secs(5), || get_macd(&server).is_err());
    let signalled = Instant::now();
    kill(&server, "TERM");
    let (status, stderr) = server.wait_exit(Duration::from_secs(30));
    assert!(signalled.elapsed() < Duration::from_secs(10), "the second signal did not stop it at once");
    assert_eq!(status.code(), Some(128 + 15), "{stderr}");
    assert!(stderr.contains("stopping now"), "{stderr}");
}
