//! `idc.Indicator/GetMACD`: rows of prices and MACD values for a date range.
//!
//! Parity mode answers with the article's placeholder rows, whatever the request holds, as the
//! reference does. Data mode checks the dates and answers with the real bars of the range; the
//! MACD of the full history is computed at start-up, so a call only slices it, which is cheap
//! enough to do on the completion-queue thread.

use std::sync::Arc;

use grpcio::{RpcContext, RpcStatus, RpcStatusCode, UnarySink};

use super::wire::{EncodedRows, MacdRows};
use super::{check_lengths, parse_range, status};
use crate::config::PREBUILT_ROWS_BUDGET;
use crate::domain::analysis::Analysis;
use crate::domain::plural;
use crate::metrics::Metrics;
use crate::protocol::indicator::MACDRequest;

#[derive(Clone)]
pub struct IndicatorService {
    /// `None`: parity mode.
    analysis: Option<Arc<Analysis>>,
    /// Every row's bytes, when they fit [`PREBUILT_ROWS_BUDGET`].
    prebuilt: Option<Arc<EncodedRows>>,
    metrics: Arc<Metrics>,
}

impl IndicatorService {
    /// Placeholder rows, byte for byte as the reference sends them.
    pub fn parity(metrics: Arc<Metrics>) -> Self {
        IndicatorService { analysis: None, prebuilt: None, metrics }
    }

    /// Real rows from `analysis`.
    pub fn data(analysis: Arc<Analysis>, metrics: Arc<Metrics>) -> Self {
        let prebuilt = EncodedRows::build(&analysis, PREBUILT_ROWS_BUDGET).map(Arc::new);
        IndicatorService { analysis: Some(analysis), prebuilt, metrics }
    }

    /// Answers one call. The reply is a plan of rows whose bytes are written when gRPC sends it
    /// (see [`super::wire`]).
    pub fn get_macd(&self, ctx: RpcContext, request: MACDRequest, sink: UnarySink<MacdRows>) {
        let rows = match &self.analysis {
            None => check_lengths(&request.start_date, &request.end_date)
                .map(|()| MacdRows::placeholder(request.start_date)),
            Some(analysis) => data_rows(analysis, self.prebuilt.as_ref(), &request),
        };
        let mut record = self.metrics.call("GetMACD", || ctx.peer());
        ctx.spawn(async move {
            let (sent, code) = match rows {
                Ok(rows) => {
                    record.sent(rows.len());
                    (sink.success(rows).await, RpcStatusCode::OK)
                }
                Err(status) => {
                    log::debug!("GetMACD refused: {}", status.message());
                    let code = status.code();
                    (sink.fail(status).await, code)
                }
            };
            match sent {
                Ok(()) => record.finish(code),
                Err(e) => {
                    log::debug!("GetMACD reply not delivered: {e}");
                    record.finish(RpcStatusCode::CANCELLED);
                }
            }
        });
    }
}

/// The most rows one reply carries. A row takes at most 39 bytes on the wire, so this keeps a
/// reply under gRPC's default 4 MiB message limit, which clients enforce on what they receive.
pub const MAX_REPLY_ROWS: usize = 100_000;

fn data_rows(
    analysis: &Arc<Analysis>,
    prebuilt: Option<&Arc<EncodedRows>>,
    request: &MACDRequest,
) -> Result<MacdRows, RpcStatus> {
    let range = parse_range(&request.start_date, &request.end_date)?;
    // Counted before anything is built, so an oversized range costs a binary search.
    let indices = analysis.value_range(range);
    if indices.len() > MAX_REPLY_ROWS {
        return Err(status(
            RpcStatusCode::OUT_OF_RANGE,
            format!(
                "{range} holds {}, more than the {MAX_REPLY_ROWS} one reply can carry; ask for a shorter range",
                plural(indices.len(), "row")
            ),
        ));
    }
    Ok(match prebuilt {
        Some(table) => MacdRows::prebuilt(Arc::clone(table), indices),
        None => MacdRows::bars(Arc::clone(analysis), indices),
    })
}
