//! `Chart`: one instrument's chart (candles, overlays, one panel per indicator), as PNG bytes in
//! `ChartChunk`s.
//!
//! The request is checked whole before any work, with the checks `Compute` uses
//! ([`idc_core::query`]: the enums, the dates, the specs, the symbol, the adjustment's
//! precondition) and the chart's own: the size (0 is the server's `--chart-size`, else within
//! [`ChartSize::MIN`]..[`ChartSize::MAX`]), the chunk size (0 is the server's `--chunk-size`,
//! else 1 byte to 4 MiB), and a range with bars in it, at most [`query::MAX_ROWS`] of them.
//!
//! Then it goes as the article's chart does in [`crate::service::graph`], with its pieces: the
//! render runs on the blocking pool, raced against the call's end ([`call_ended`]) so an ended
//! call stops it (a queued render never starts, a running one stops between drawing and encoding,
//! at [`CHART_DRAWN`]); finished charts are kept in a [`ChartCache`] and counted as renders are
//! (`RenderOutcome`); the PNG is sent in chunks as flow control lets it.
//!
//! The cache key is the whole request as it was resolved (server defaults filled in, the chunk
//! size left out: it does not change the picture) and the instrument itself: the key holds the
//! instrument's `Arc` and compares it by pointer, so a reloaded instrument (a new `Arc`) is drawn
//! anew, and an old one cannot be mistaken for a new one at the same address while it is kept.

use std::sync::Arc;

use futures::future::{self, Either};
use futures::{stream, SinkExt};
use grpcio::{Deadline, RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};
use idc_core::query::{self, Kind, QueryError};

use super::{refusal, V2Service};
use crate::config::MAX_CHUNK_SIZE;
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::chart::{self, ChartSize, SeriesChart};
use crate::domain::date::DateRange;
use crate::domain::indicators::Convention;
use crate::domain::series::{self, Adjust, Frequency, Labelled};
use crate::metrics::{CallRecord, RenderOutcome};
use crate::protocol::indicators as pb;
use crate::service::cache::ChartCache;
use crate::service::graph::{busy, chart_failed, ended_code, Cancelled, QueuedRender, CHART_DRAWN};
use crate::service::{call_ended, status};

/// What a chart is drawn from: the instrument (compared by pointer) and the request with the
/// server's defaults filled in and its chunk size cleared.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    instrument: Arc<Instrument>,
    request: pb::ChartRequest,
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        Arc::ptr_eq(&self.instrument, &other.instrument) && self.request == other.request
    }
}

/// The cache `Chart` keeps its charts in.
pub(crate) type Charts = ChartCache<Key>;

/// A checked `ChartRequest`.
struct ChartQuery {
    key: Key,
    range: DateRange,
    convention: Convention,
    adjust: Adjust,
    frequency: Frequency,
    overlays: Vec<Labelled>,
    panels: Vec<Labelled>,
    size: ChartSize,
    chunk_size: usize,
}

pub(super) fn chart(
    service: &V2Service,
    ctx: RpcContext,
    request: pb::ChartRequest,
    sink: ServerStreamingSink<pb::ChartChunk>,
) {
    let record = service.metrics.call("Chart", || ctx.peer());
    // The catalog as it is now, for the whole call.
    let catalog = service.catalog.current();
    let query = check(request, &catalog, service);
    ctx.spawn(answer(service.clone(), query, sink, ctx.deadline(), record));
}

fn invalid(message: String) -> QueryError {
    QueryError { kind: Kind::InvalidArgument, message }
}

/// Every check of a `ChartRequest`, in the order of the module doc.
fn check(mut request: pb::ChartRequest, catalog: &Catalog, service: &V2Service) -> Result<ChartQuery, QueryError> {
    let convention = query::convention(request.convention, service.convention)?;
    let adjust = query::adjust(request.adjust)?;
    let frequency = query::frequency(request.frequency)?;
    let range = query::range(&request.start_date, &request.end_date)?;
    let overlays = query::indicators(&request.overlays, convention).map_err(|e| in_list("overlays", e))?;
    let panels = query::indicators(&request.panels, convention).map_err(|e| in_list("panels", e))?;
    if request.symbol.is_empty() {
        return Err(invalid("symbol is empty: name the instrument to chart (ListInstruments lists them)".into()));
    }
    let instrument = query::instruments(std::slice::from_ref(&request.symbol), catalog)?.remove(0);
    if adjust != Adjust::None && !instrument.has_adj_factor() {
        return Err(QueryError {
            kind: Kind::FailedPrecondition,
            message: format!(
                "{} has no adj_factor column, which {} adjustment needs; ask ADJUST_NONE for it, or add the column to its file",
                instrument.symbol,
                if adjust == Adjust::Forward { "FORWARD" } else { "BACKWARD" }
            ),
        });
    }
    let size = size(&request, service.chart_size)?;
    let chunk_size = chunk_size(request.chunk_size, service.chunk_size)?;
    bars_in(&instrument, frequency, range)?;
    // The key: what the picture depends on, resolved.
    (request.width, request.height, request.chunk_size) = (size.width, size.height, 0);
    request.convention = protobuf::EnumOrUnknown::new(match convention {
        Convention::Cn => pb::Convention::CN,
        Convention::Talib => pb::Convention::TALIB,
    });
    let key = Key { instrument, request };
    Ok(ChartQuery { key, range, convention, adjust, frequency, overlays, panels, size, chunk_size })
}

/// The chunk size asked: 0 is the server's; else 1 byte to 4 MiB.
fn chunk_size(asked: u32, server: usize) -> Result<usize, QueryError> {
    match asked as usize {
        0 => Ok(server),
        n if n <= MAX_CHUNK_SIZE => Ok(n),
        n => Err(invalid(format!(
            "chunk_size {n} is out of range: ask 1 to {MAX_CHUNK_SIZE} bytes (4 MiB), or 0 for the server's {server}"
        ))),
    }
}

/// Checks that the range has bars to draw, and not more than [`query::MAX_ROWS`]: drawn at
/// most a pixel apart even 8192 wide, more bars show nothing more and hold a blocking thread the
/// longer.
fn bars_in(instrument: &Instrument, frequency: Frequency, range: DateRange) -> Result<(), QueryError> {
    let rows = query::rows(&instrument.bars, frequency, range);
    if rows > query::MAX_ROWS {
        return Err(QueryError {
            kind: Kind::OutOfRange,
            message: format!(
                "{}: {rows} bars in the range, over the {} a chart draws; shorten the range (start_date, \
                 end_date) or ask a longer frequency",
                instrument.symbol,
                query::MAX_ROWS
            ),
        });
    }
    if rows == 0 {
        let held = match (instrument.first_date(), instrument.last_date()) {
            (Some(first), Some(last)) => format!("it has bars from {first} to {last}"),
            _ => "it has no bars".to_string(),
        };
        return Err(invalid(format!("{} has no bars in {range}: {held}", instrument.symbol)));
    }
    Ok(())
}

/// A spec's refusal, saying which list it is in ("overlays: indicator 2: ...").
fn in_list(list: &str, error: QueryError) -> QueryError {
    QueryError { message: format!("{list}: {}", error.message), ..error }
}

/// The size asked: 0 is the server's, in each dimension; anything else within the bounds.
fn size(request: &pb::ChartRequest, server: ChartSize) -> Result<ChartSize, QueryError> {
    let pick = |asked: u32, server: u32| if asked == 0 { server } else { asked };
    let size = ChartSize { width: pick(request.width, server.width), height: pick(request.height, server.height) };
    let (min, max) = (ChartSize::MIN, ChartSize::MAX);
    for (field, value, lo, hi) in
        [("width", size.width, min.width, max.width), ("height", size.height, min.height, max.height)]
    {
        if !(lo..=hi).contains(&value) {
            return Err(invalid(format!(
                "{field} {value} is out of range: charts are {min} to {max} pixels (width {}..{}, height {}..{}); \
                 0 asks the server's {server}",
                min.width, max.width, min.height, max.height
            )));
        }
    }
    Ok(size)
}

async fn answer(
    service: V2Service,
    query: Result<ChartQuery, QueryError>,
    mut sink: ServerStreamingSink<pb::ChartChunk>,
    deadline: Deadline,
    mut record: CallRecord,
) {
    let query = match query {
        Ok(query) => query,
        Err(refused) => return record.finish(fail(sink, refusal(refused)).await),
    };
    let chunk_size = query.chunk_size;
    let cancelled = Cancelled::default();
    let outcome = {
        let prepared = prepare(&service, query, deadline, &cancelled);
        let ended = call_ended(&mut sink);
        futures::pin_mut!(prepared, ended);
        match future::select(prepared, ended).await {
            Either::Left((prepared, _)) => Some(prepared),
            Either::Right(((), _)) => None,
        }
    };
    let png = match outcome {
        Some(Ok(png)) => png,
        Some(Err(status)) => return record.finish(fail(sink, status).await),
        None => {
            cancelled.set();
            return record.finish(ended_code(deadline));
        }
    };
    // As GetMACDGraph's: gRPC may coalesce the small chunks into fewer writes (without it, a
    // cached chart took one sendmsg a chunk, about a third of a file's MB/s).
    sink.enhance_batch(service.write_batching);
    let code = send(png, chunk_size, &mut sink, &mut record).await;
    let code = match code {
        Ok(()) => match sink.close().await {
            Ok(()) => RpcStatusCode::OK,
            Err(_) => ended_code(deadline),
        },
        Err(_) => ended_code(deadline),
    };
    record.finish(code);
}

/// Streams `png` in `chunk_size` pieces, as flow control lets it.
async fn send(
    png: Arc<[u8]>,
    chunk_size: usize,
    sink: &mut ServerStreamingSink<pb::ChartChunk>,
    record: &mut CallRecord,
) -> Result<(), grpcio::Error> {
    // Each chunk is copied out of the PNG only when flow control asks for it.
    let count = png.len().div_ceil(chunk_size);
    let pieces = (0..count).map(move |i| {
        let end = ((i + 1) * chunk_size).min(png.len());
        pb::ChartChunk { png: png[i * chunk_size..end].to_vec(), ..Default::default() }
    });
    let chunks = pieces.map(|chunk| {
        record.streamed(chunk.png.len());
        Ok((chunk, WriteFlags::default()))
    });
    sink.send_all(&mut stream::iter(chunks)).await
}

/// The chart from the cache, or drawn on the blocking pool and kept.
async fn prepare(
    service: &V2Service,
    query: ChartQuery,
    deadline: Deadline,
    cancelled: &Cancelled,
) -> Result<Arc<[u8]>, RpcStatus> {
    let metrics = &service.metrics;
    if let Some(png) = service.charts.get(&query.key) {
        metrics.render_ended(RenderOutcome::Cached);
        return Ok(png);
    }
    let mut queued = QueuedRender { metrics: Arc::clone(metrics), ran: false };
    let (cancelled, checkpoint, charts) = (cancelled.clone(), service.pool.checkpoint(), Arc::clone(&service.charts));
    let job = service.pool.run(move || {
        queued.ran = true;
        let metrics = &queued.metrics;
        let stop = || {
            metrics.render_ended(RenderOutcome::Cancelled);
            status(ended_code(deadline), "the call ended before the chart was drawn")
        };
        // Queued while its caller gave up: never start.
        if cancelled.is_set() || deadline.exceeded() {
            return Err(stop());
        }
        metrics.render_started();
        let Some(pixels) = draw(&query, &|| cancelled.is_set() || deadline.exceeded())? else {
            metrics.computation_stopped();
            return Err(stop());
        };
        checkpoint.pass(CHART_DRAWN);
        if cancelled.is_set() || deadline.exceeded() {
            return Err(stop());
        }
        let png: Arc<[u8]> = chart::encode_png(&pixels, query.size).map_err(chart_failed)?.into();
        metrics.render_ended(RenderOutcome::Done);
        charts.insert(query.key, Arc::clone(&png));
        Ok(png)
    });
    let job = job.map_err(|full| {
        metrics.render_ended(RenderOutcome::Refused);
        busy(full)
    })?;
    job.await.map_err(|failed| status(RpcStatusCode::INTERNAL, failed.to_string()))?
}

/// The series over the overlays and then the panels, drawn; `None` when `stop` ended the
/// computation of a formula.
fn draw(query: &ChartQuery, stop: &dyn Fn() -> bool) -> Result<Option<Vec<u8>>, RpcStatus> {
    let specs: Vec<Labelled> = query.overlays.iter().chain(&query.panels).cloned().collect();
    let instrument = &query.key.instrument;
    let series = series::compute_until(&instrument.bars, query.adjust, query.frequency, &specs, query.range, stop)
        .map_err(|e| status(RpcStatusCode::FAILED_PRECONDITION, format!("{}: {e}", instrument.symbol)))?;
    let Some(series) = series else { return Ok(None) };
    let spec = SeriesChart {
        name: &instrument.name,
        frequency: query.frequency,
        convention: query.convention,
        adjust: query.adjust,
        overlays: &query.overlays,
        panels: &query.panels,
    };
    let (pixels, _) = chart::render_series_rgb(&series, &spec, query.size).map_err(chart_failed)?;
    Ok(Some(pixels))
}

async fn fail(sink: ServerStreamingSink<pb::ChartChunk>, status: RpcStatus) -> RpcStatusCode {
    let code = status.code();
    if let Err(e) = sink.fail(status).await {
        log::debug!("Chart: sending the error status failed: {e}");
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::series::BarColumns;

    #[test]
    fn a_reloaded_instrument_is_another_key_even_with_the_same_bars() {
        let instrument =
            |name: &str| Arc::new(Instrument { symbol: "X".into(), name: name.into(), bars: BarColumns::default() });
        let (old, reloaded) = (instrument("X"), instrument("X"));
        let request = pb::ChartRequest { symbol: "X".into(), ..Default::default() };
        let key = |i: &Arc<Instrument>| Key { instrument: Arc::clone(i), request: request.clone() };
        assert_eq!(key(&old), key(&old));
        assert_ne!(key(&old), key(&reloaded), "equal bars, but another version of the instrument");
        let other = Key { request: pb::ChartRequest { width: 640, ..request.clone() }, ..key(&old) };
        assert_ne!(key(&old), other);
    }
}
