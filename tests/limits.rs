//! Input limits, on a complete server started in process from a library `Config`: the largest
//! request message, request strings longer than a date, replies too large to build, and the
//! concurrent calls one connection may hold.

mod common;

use std::time::Duration;

use futures::executor::block_on;
use futures::StreamExt;
use grpcio::{CallOption, RpcStatusCode};
use idc::client;
use idc::config::{Config, DataSource};
use idc::protocol::indicator::MACDRequest;
use idc::protocol::indicator_graph::MACDGraphRequest;
use idc::protocol::indicator_graph_grpc::IndicatorGraphClient;
use idc::protocol::indicator_grpc::IndicatorClient;

use common::{pseudo_random_bytes, scratch, write_file, InProcess};

fn status_of(result: Result<impl Sized, client::ClientError>) -> (RpcStatusCode, String) {
    match result {
        Ok(_) => panic!("the call succeeded"),
        Err(e) => (e.code().unwrap_or_else(|| panic!("no status: {e}")), e.to_string()),
    }
}

#[test]
fn a_request_larger_than_the_limit_gets_resource_exhausted() {
    let server = InProcess::start(Config::default());
    // Just over the default limit, and well under the raised one below.
    let huge = "2".repeat(idc::config::DEFAULT_MAX_RECEIVE_MESSAGE + 1024);
    let (code, message) = status_of(client::get_macd(&server.target(), &huge, ""));
    assert_eq!(code, RpcStatusCode::RESOURCE_EXHAUSTED, "{message}");

    // With the limit raised, the same request reaches the handler, which refuses it as too long.
    let mut config = Config::default();
    config.limits.max_receive_message = 4 * 1024 * 1024;
    let roomy = InProcess::start(config);
    let (code, message) = status_of(client::get_macd(&roomy.target(), &huge, ""));
    assert_eq!(code, RpcStatusCode::INVALID_ARGUMENT, "{message}");
}

#[test]
fn strings_longer_than_a_date_are_refused_before_any_work_by_both_methods() {
    let dir = scratch();
    let graph = write_file(dir.path(), "graph.png", b"png");
    let mut config = Config::default();
    config.chart.graph_file = Some(graph.clone());
    let parity = InProcess::start(config.clone());
    config.data.source = Some(DataSource::Sample);
    config.chart.graph_file = None;
    let data = InProcess::start(config);
    let long = "2018-01-01".repeat(7); // 70 bytes: longer than anything a date needs
    for server in [&parity, &data] {
        for (start, end) in [(long.as_str(), ""), ("2018-01-01", long.as_str())] {
            let (code, message) = status_of(client::get_macd(&server.target(), start, end));
            assert_eq!(code, RpcStatusCode::INVALID_ARGUMENT, "{message}");
            assert!(message.contains("70 bytes long") && message.contains("YYYY-MM-DD"), "{message}");
            let out = dir.path().join("out.png");
            let (code, message) = status_of(client::download_graph(&server.target(), start, end, &out));
            assert_eq!(code, RpcStatusCode::INVALID_ARGUMENT, "{message}");
        }
    }
    // Parity mode still echoes what the article's server echoes.
    let reply = client::get_macd(&parity.target(), "2023-01-01", "").unwrap();
    assert_eq!(reply.macd[0].date, "2023-01-01");
}

#[test]
fn a_range_of_more_rows_than_a_reply_carries_is_out_of_range() {
    let dir = scratch();
    // 150,000 calendar days from 1600-01-01: more than the 100,000 rows one reply may carry.
    let csv = common::daily_bars_csv(1600, 150_000);
    let path = write_file(dir.path(), "long.csv", csv.as_bytes());
    let mut config = Config::default();
    config.data.source = Some(DataSource::Csv(path));
    let server = InProcess::start(config);
    let (code, message) = status_of(client::get_macd(&server.target(), "", ""));
    assert_eq!(code, RpcStatusCode::OUT_OF_RANGE, "{message}");
    assert!(message.contains("150000 rows") && message.contains("shorter range"), "{message}");
    let reply = client::get_macd(&server.target(), "1700-01-01", "1700-12-31").unwrap();
    assert_eq!(reply.macd.len(), 365);
}

/// Opens a slow graph stream and a GetMACD on one connection, and says whether the GetMACD was
/// answered while the stream held its slot.
fn get_macd_answered_beside_a_stream(max_concurrent_streams: u32) -> bool {
    let dir = scratch();
    // One byte per message: the stream lasts far longer than the GetMACD deadline below.
    let graph = write_file(dir.path(), "big.png", &pseudo_random_bytes(4 << 20, 9));
    let mut config = Config::default();
    (config.chart.graph_file, config.chart.chunk_size) = (Some(graph), 1);
    config.limits.max_concurrent_streams = max_concurrent_streams;
    let server = InProcess::start(config);
    let channel = common::channel(&format!("127.0.0.1:{}", server.port));
    let graph_client = IndicatorGraphClient::new(channel.clone());
    let mut stream = graph_client.get_macd_graph(&MACDGraphRequest::new()).unwrap();
    // The stream is in flight: its first chunk has arrived.
    let first = block_on(stream.next()).expect("a first chunk").expect("no error");
    assert_eq!(first.macd_chunk.len(), 1);

    let indicator = IndicatorClient::new(channel);
    let answered = indicator.get_macd_opt(&MACDRequest::new(), CallOption::default().timeout(Duration::from_secs(2)));
    drop(stream);
    match answered {
        Ok(reply) => {
            assert_eq!(reply.macd.len(), 4);
            true
        }
        Err(grpcio::Error::RpcFailure(status)) if status.code() == RpcStatusCode::DEADLINE_EXCEEDED => false,
        Err(e) => panic!("unexpected failure: {e}"),
    }
}

#[test]
fn max_concurrent_streams_bounds_the_calls_of_one_connection() {
    assert!(get_macd_answered_beside_a_stream(100), "with room for two calls, both run");
    assert!(!get_macd_answered_beside_a_stream(1), "with room for one call, the second waits");
}
