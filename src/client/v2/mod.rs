//! The `idc.v2.Indicators` calls of `idc_client` and `idc_graph_client`, over the same target,
//! channel, TLS and token as the article's calls ([`super::Target`]):
//!
//! * [`instruments`]: `ListInstruments`.
//! * [`compute`]: `Compute`, handing each `Series` over as it arrives, so that a table of many
//!   symbols is written (by [`table`]) while the later ones are still being computed.
//! * [`download_chart`]: `Chart`, into an output file that appears whole or not at all, as the
//!   article's graph download does.
//!
//! * [`live`]: `PushBars` and `Subscribe`, the live bars: [`push`] reads the bars to push from a
//!   CSV (a file whole, or stdin a row at a time), [`updates`] writes each `Update` as a line.
//!
//! [`args`] holds the flags of the subcommands and the requests they describe; [`run`] is what a
//! subcommand does, from its flags to its output.

pub mod args;
pub mod live;
pub mod push;
pub mod run;
pub mod table;
pub mod updates;

use std::io;
use std::path::Path;

use futures::executor::block_on;
use futures::TryStreamExt;

use super::{call_option, channel, create_output, rpc_error, ClientError, Target};
use crate::protocol::indicators as pb;
use crate::protocol::indicators_grpc::IndicatorsClient;

/// Why a v2 subcommand did not complete.
#[derive(Debug, thiserror::Error)]
pub enum V2Error {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A flag that does not describe a request (a spec that does not parse, say).
    #[error("invalid {flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    /// The server sent a `Series` the table cannot hold.
    #[error("the server's reply for {symbol:?} cannot be written: {reason}")]
    Reply { symbol: String, reason: String },
    #[error("cannot write to stdout: {0}")]
    Stdout(io::Error),
    /// Bars to push that cannot be read, or that a CSV row does not describe.
    #[error("{0}")]
    Input(String),
    /// A subscription the server ended with OK, which it never should: subscriptions run until
    /// the client cancels them, so a script that reads them must notice.
    #[error("Subscribe on {target}: the server ended the stream after {updates} update(s)")]
    Ended { target: String, updates: u64 },
}

impl V2Error {
    /// Whether the reader of stdout went away (`| head`): the program then ends quietly, as
    /// other command-line tools do.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, V2Error::Stdout(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// The calls of this module, as [`ClientError::Rpc`] names them.
pub(super) const METHODS: [&str; 5] = ["ListInstruments", "Compute", "Chart", "PushBars", "Subscribe"];

fn client(target: &Target) -> Result<IndicatorsClient, ClientError> {
    Ok(IndicatorsClient::new(channel(target)?))
}

/// `idc.v2.Indicators/ListInstruments`.
pub fn instruments(target: &Target) -> Result<pb::ListInstrumentsReply, ClientError> {
    client(target)?
        .list_instruments_opt(&pb::ListInstrumentsRequest::new(), call_option(target))
        .map_err(rpc_error("ListInstruments", target))
}

/// `idc.v2.Indicators/Compute`: calls `each` with every `Series` as it arrives, in the order the
/// server sends them (the order of the request's symbols). An error from `each` ends the call
/// (the server stops before its next instrument). Returns the number of `Series` received.
pub fn compute(
    target: &Target,
    request: &pb::ComputeRequest,
    mut each: impl FnMut(pb::Series) -> Result<(), V2Error>,
) -> Result<usize, V2Error> {
    let rpc_error = rpc_error("Compute", target);
    // Held until the stream ends: the client owns the channel and its completion queue.
    let client = client(target)?;
    let mut replies = client.compute_opt(request, call_option(target)).map_err(&rpc_error)?;
    block_on(async {
        let mut received = 0;
        while let Some(series) = replies.try_next().await.map_err(&rpc_error)? {
            each(series)?;
            received += 1;
        }
        Ok(received)
    })
}

/// `idc.v2.Indicators/Chart`, written to `output` chunk by chunk as the chunks arrive, through
/// the same [`crate::output::OutputFile`] as the article's graph download: a regular file is
/// replaced only once the stream has ended with OK. Returns the number of bytes written.
pub fn download_chart(target: &Target, request: &pb::ChartRequest, output: &Path) -> Result<u64, ClientError> {
    let output_error =
        |source: io::Error| ClientError::Output { path: output.to_path_buf(), reason: source.to_string() };
    let rpc_error = rpc_error("Chart", target);
    let client = client(target)?;
    let mut file = create_output(output)?;
    let mut chunks = client.chart_opt(request, call_option(target)).map_err(&rpc_error)?;
    let mut written = 0u64;
    block_on(async {
        while let Some(chunk) = chunks.try_next().await.map_err(&rpc_error)? {
            file.write_all(&chunk.png).map_err(output_error)?;
            written += chunk.png.len() as u64;
        }
        Ok::<(), ClientError>(())
    })?;
    file.commit().map_err(output_error)?;
    Ok(written)
}
