//! `Compute`: bars and indicator columns, one `Series` message per instrument, in the order the
//! symbols were asked (every instrument, in symbol order, when none were).
//!
//! The whole request is checked first ([`idc_core::query::compute`]: unknown symbols, bad specs,
//! a missing adj_factor, a message too large), so a refused call sends no `Series` at all. Then
//! each instrument's series is computed on the blocking pool and sent as flow control lets it; a
//! call that ends (cancelled, deadline, disconnect) stops before the next instrument, and a
//! formula under way stops at its next operation. A small call of built-ins (see
//! [`INLINE_WORK`]) is computed where it arrived, on the completion-queue thread:
//! the hand-over to the pool and back cost more than its computation.

use std::sync::Arc;

use futures::future::{self, Either};
use futures::SinkExt;
use grpcio::{Deadline, RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};
use idc_core::query::{ComputeQuery, QueryError};
use protobuf::Message;

use super::{refusal, V2Service};
use crate::blocking;
use crate::domain::catalog::Instrument;
use crate::domain::series::{self, Series};
use crate::metrics::CallRecord;
use crate::protocol::indicators as pb;
use crate::service::call_ended;
use crate::service::graph::{ended_code, Cancelled};

pub(super) fn compute(
    service: &V2Service,
    ctx: RpcContext,
    request: pb::ComputeRequest,
    sink: ServerStreamingSink<pb::Series>,
) {
    let record = service.metrics.call("Compute", || ctx.peer());
    // The catalog as it is now, for the whole call.
    let catalog = service.catalog.current();
    let query = idc_core::query::compute(&request, &catalog, service.convention);
    ctx.spawn(answer(service.clone(), query, sink, ctx.deadline(), record));
}

async fn answer(
    service: V2Service,
    query: Result<ComputeQuery, QueryError>,
    mut sink: ServerStreamingSink<pb::Series>,
    deadline: Deadline,
    mut record: CallRecord,
) {
    let code = match query {
        Err(refused) => fail(sink, refusal(refused)).await,
        Ok(query) => match send_all(&service, query, &mut sink, deadline, &mut record).await {
            Ok(()) => match sink.close().await {
                Ok(()) => RpcStatusCode::OK,
                Err(_) => ended_code(deadline),
            },
            Err(Ended::Status(status)) => fail(sink, status).await,
            Err(Ended::ByClient) => ended_code(deadline),
        },
    };
    record.finish(code);
}

/// Why a call stopped before its last message.
enum Ended {
    /// The server ends it with this status.
    Status(RpcStatus),
    /// The client went away or the deadline passed.
    ByClient,
}

/// The work up to which a call of built-ins is computed on the completion-queue thread: bars
/// times, for each indicator, one plus its longest period (a window may be scanned whole a bar,
/// as CCI's mean deviation is), so tens of microseconds at most. One symbol × 250 bars of MACD,
/// RSI, BOLL and KDJ is 18,250. A formula may cost far more a bar: it always goes to the pool.
const INLINE_WORK: usize = 65_536;

/// Whether the whole call is small enough for [`INLINE_WORK`].
fn small(instruments: &[Arc<Instrument>], indicators: &[series::Labelled]) -> bool {
    if indicators.iter().any(|l| l.indicator.is_formula()) {
        return false;
    }
    let per_bar: f64 =
        indicators.iter().map(|l| 1.0 + l.indicator.params().iter().fold(0.0, |a: f64, &p| a.max(p))).sum();
    let bars: usize = instruments.iter().map(|i| i.bars.len()).sum();
    bars as f64 * per_bar.max(1.0) <= INLINE_WORK as f64
}

async fn send_all(
    service: &V2Service,
    query: ComputeQuery,
    sink: &mut ServerStreamingSink<pb::Series>,
    deadline: Deadline,
    record: &mut CallRecord,
) -> Result<(), Ended> {
    let ComputeQuery { instruments, range, adjust, frequency, indicators } = query;
    let inline = small(&instruments, &indicators);
    let indicators = Arc::new(indicators);
    // One instrument's series, computing on the pool (or here, for a small call).
    let start = |instrument: Arc<Instrument>| {
        let indicators = Arc::clone(&indicators);
        // A formula can cost far more than a built-in: one that the call no longer waits for
        // (cancelled, gone, past its deadline) stops at its next operation.
        let cancelled = Cancelled::default();
        let (stop, metrics) = (cancelled.clone(), Arc::clone(&service.metrics));
        let work = move || {
            let stop = || stop.is_set() || deadline.exceeded();
            let series = series::compute_until(&instrument.bars, adjust, frequency, &indicators, range, &stop)
                .expect("the query checked the adjustment's factors");
            if series.is_none() {
                metrics.computation_stopped();
            }
            series.map(|series| message(&instrument.symbol, series))
        };
        if inline {
            return Ok::<_, Ended>((Either::Left(future::ready(blocking::run_here(work))), cancelled));
        }
        let job = service.pool.run(work).map_err(|busy| {
            Ended::Status(RpcStatus::with_message(RpcStatusCode::RESOURCE_EXHAUSTED, busy.to_string()))
        })?;
        Ok::<_, Ended>((Either::Right(job), cancelled))
    };
    let mut instruments = instruments.into_iter();
    let mut next = instruments.next().map(&start).transpose()?;
    while let Some((job, cancelled)) = next.take() {
        if deadline.exceeded() {
            cancelled.set();
            return Err(Ended::ByClient);
        }
        let outcome = {
            let ended = call_ended(sink);
            futures::pin_mut!(job, ended);
            match future::select(job, ended).await {
                Either::Left((done, _)) => Some(done),
                Either::Right(((), _)) => None,
            }
        };
        let message = match outcome {
            Some(Ok(Some(message))) => message,
            Some(Ok(None)) => return Err(Ended::ByClient),
            Some(Err(_)) => {
                return Err(Ended::Status(RpcStatus::with_message(
                    RpcStatusCode::INTERNAL,
                    "computing a series failed; the server logged why".to_string(),
                )))
            }
            None => {
                cancelled.set();
                return Err(Ended::ByClient);
            }
        };
        // The next instrument computes on the pool while this one is sent.
        next = instruments.next().map(&start).transpose()?;
        record.sent(message.compute_size() as usize);
        if sink.send((message, WriteFlags::default())).await.is_err() {
            if let Some((_, cancelled)) = &next {
                cancelled.set();
            }
            return Err(Ended::ByClient);
        }
    }
    Ok(())
}

/// One instrument's series as the protocol carries it.
pub(crate) fn message(symbol: &str, series: Series) -> pb::Series {
    let Series { bars, columns } = series;
    pb::Series {
        symbol: symbol.to_string(),
        date: bars.date.iter().map(|d| d.iso()).collect(),
        open: bars.open,
        high: bars.high,
        low: bars.low,
        close: bars.close,
        volume: bars.volume,
        columns: columns.into_iter().map(|(name, values)| pb::Column { name, values, ..Default::default() }).collect(),
        ..Default::default()
    }
}

async fn fail(sink: ServerStreamingSink<pb::Series>, status: RpcStatus) -> RpcStatusCode {
    let code = status.code();
    if let Err(e) = sink.fail(status).await {
        log::debug!("Compute: sending the error status failed: {e}");
    }
    code
}
