//! What `idc_client` and `idc_graph_client` share: a channel to the server, the two calls, and
//! a download that never leaves a truncated file behind.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use futures::TryStreamExt;
use grpcio::{CallOption, Channel, ChannelBuilder, Client, EnvBuilder, Marshaller, MessageReader, Method, MethodType};
use protobuf::Message;

use crate::output::AtomicFile;
use crate::protocol::indicator::{MACDReply, MACDRequest};
use crate::protocol::indicator_graph::MACDGraphRequest;
use crate::protocol::indicator_graph_grpc::IndicatorGraphClient;
use crate::protocol::indicator_grpc::METHOD_INDICATOR_GET_MACD;

/// gRPC's default limit is 4 MiB per message; a 4 MiB chunk plus its framing is a little more.
const MAX_RECEIVE_MESSAGE: i32 = 8 * 1024 * 1024;

/// The flags both client binaries take, with the reference clients' values as defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "localhost:50051")]
    pub target: String,

    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = "2023-01-01")]
    pub start_date: String,

    /// Last day, YYYY-MM-DD.
    #[arg(long, default_value = "2023-12-31")]
    pub end_date: String,
}

/// Where to call, and for how long at most.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port`, as grpc understands it (`localhost:50051`, `[::1]:50051`, `dns:///…`).
    pub address: String,
    /// Deadline for the whole call.
    pub timeout: Duration,
}

/// Why a client call did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{method} on {target} failed: {}", describe(.source))]
    Rpc {
        method: &'static str,
        target: String,
        // Boxed: grpcio's error is large, and this travels in every `Result`.
        #[source]
        source: Box<grpcio::Error>,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl ClientError {
    /// The gRPC status code, when the server (or gRPC) answered with one.
    pub fn code(&self) -> Option<grpcio::RpcStatusCode> {
        match self {
            ClientError::Rpc { source, .. } => match &**source {
                grpcio::Error::RpcFailure(status) => Some(status.code()),
                _ => None,
            },
            ClientError::Output { .. } => None,
        }
    }
}

/// `UNAVAILABLE: failed to connect …` rather than grpcio's `RpcFailure: 14-UNAVAILABLE …`.
fn describe(error: &grpcio::Error) -> String {
    match error {
        grpcio::Error::RpcFailure(status) => {
            let code = status.code().to_string();
            let name = code.split_once('-').map_or(code.as_str(), |(_, name)| name);
            if status.message().is_empty() {
                name.to_string()
            } else {
                format!("{name}: {}", status.message())
            }
        }
        other => other.to_string(),
    }
}

/// The longest `--timeout`: a week.
pub const MAX_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// A `--timeout` flag: a positive number of seconds, at most [`MAX_TIMEOUT_SECONDS`].
pub fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_TIMEOUT_SECONDS => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}")),
    }
}

fn channel(address: &str) -> Channel {
    let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("idc-client").build());
    ChannelBuilder::new(env).max_receive_message_len(MAX_RECEIVE_MESSAGE).connect(address)
}

fn call_option(target: &Target) -> CallOption {
    CallOption::default().timeout(target.timeout)
}

/// `idc.Indicator/GetMACD`, parsed.
pub fn get_macd(target: &Target, start_date: &str, end_date: &str) -> Result<MACDReply, ClientError> {
    let bytes = get_macd_bytes(target, start_date, end_date)?;
    MACDReply::parse_from_bytes(&bytes).map_err(|e| ClientError::Rpc {
        method: "GetMACD",
        target: target.address.clone(),
        source: Box::new(grpcio::Error::Codec(Box::new(e))),
    })
}

/// `idc.Indicator/GetMACD`, as the reply's wire bytes.
///
/// `idc_client` prints from these, as upb does (see [`crate::text_format`]): the parsed
/// rust-protobuf message cannot tell a `-0.0` field from an absent one.
pub fn get_macd_bytes(target: &Target, start_date: &str, end_date: &str) -> Result<Vec<u8>, ClientError> {
    let client = Client::new(channel(&target.address));
    let mut request = MACDRequest::new();
    request.start_date = start_date.to_owned();
    request.end_date = end_date.to_owned();
    client.unary_call(&GET_MACD_RAW, &request, call_option(target)).map_err(|source| ClientError::Rpc {
        method: "GetMACD",
        target: target.address.clone(),
        source: Box::new(source),
    })
}

/// `GetMACD` with the reply left undecoded.
const GET_MACD_RAW: Method<MACDRequest, Vec<u8>> = Method {
    ty: MethodType::Unary,
    name: METHOD_INDICATOR_GET_MACD.name,
    req_mar: Marshaller { ser: grpcio::pb_ser, de: grpcio::pb_de },
    resp_mar: Marshaller { ser: raw_ser, de: raw_de },
};

fn raw_ser(bytes: &Vec<u8>, buf: &mut grpcio::GrpcSlice) -> grpcio::Result<()> {
    *buf = grpcio::GrpcSlice::from(bytes.as_slice());
    Ok(())
}

fn raw_de(mut reader: MessageReader) -> grpcio::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| grpcio::Error::Codec(Box::new(e)))?;
    Ok(bytes)
}

/// `idc.IndicatorGraph/GetMACDGraph`, written to `output` chunk by chunk as the chunks arrive.
///
/// The bytes go through an [`AtomicFile`]: `output` is replaced only once the stream has ended
/// with OK, and a failed or cut stream leaves any earlier `output` as it was. Returns the number
/// of bytes written.
pub fn download_graph(target: &Target, start_date: &str, end_date: &str, output: &Path) -> Result<u64, ClientError> {
    let output_error = |source: io::Error| ClientError::Output { path: output.to_path_buf(), source };
    let rpc_error = |source: grpcio::Error| ClientError::Rpc {
        method: "GetMACDGraph",
        target: target.address.clone(),
        source: Box::new(source),
    };
    let mut file = AtomicFile::create(output).map_err(output_error)?;

    let client = IndicatorGraphClient::new(channel(&target.address));
    let mut request = MACDGraphRequest::new();
    request.start_date = start_date.to_owned();
    request.end_date = end_date.to_owned();
    let mut replies = client.get_macd_graph_opt(&request, call_option(target)).map_err(rpc_error)?;

    let mut written = 0u64;
    block_on(async {
        while let Some(reply) = replies.try_next().await.map_err(rpc_error)? {
            file.write_all(&reply.macd_chunk).map_err(output_error)?;
            written += reply.macd_chunk.len() as u64;
        }
        Ok::<(), ClientError>(())
    })?;
    file.commit().map_err(output_error)?;
    Ok(written)
}
