//! `idc.IndicatorGraph/GetMACDGraph`: the MACD chart, as PNG bytes in `chunk_size` pieces.
//!
//! Where the PNG comes from is a [`GraphSource`]:
//!
//! * a file (parity mode), opened anew for every call and sent in order, every chunk full but the
//!   last, as the reference does; an empty file sends no message at all. A file up to
//!   [`GRAPH_FILE_CACHE_MAX`] is kept in memory while its identity (inode, size, times) stays the
//!   same, so a replaced file is still picked up by the next call; a larger one is never held
//!   whole: reads run on the [`BlockingPool`] one block ahead of the sink;
//! * a chart rendered from the data for the requested range (data mode), on the same pool, since
//!   a render takes milliseconds of CPU that a completion-queue thread must not spend. Recent
//!   charts are kept, so a repeated request costs what a file of the same size does.
//!
//! Either way the sink's `send_all` only asks for the next chunk when gRPC flow control lets it
//! send, so a slow client holds back the reads rather than filling memory. A call that ends
//! early (cancelled, disconnected, past its deadline) stops its work: a queued render never
//! starts, a running one stops between drawing and encoding, and no further block is read. A full
//! blocking queue gets `RESOURCE_EXHAUSTED` at once. Tests hold a render between the two stages
//! with a [`crate::blocking::Gate`] at [`CHART_DRAWN`], to end its call there.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use futures::future::{self, Either};
use futures::stream::{self, BoxStream};
use futures::{FutureExt, SinkExt, StreamExt, TryStreamExt};
use grpcio::{Deadline, RpcContext, RpcStatus, RpcStatusCode, ServerStreamingSink, WriteFlags};

use super::cache::{ChartCache, ChartKey, FileCache, FileIdentity, ReadWhole};
use super::wire::GraphChunk;
use super::{call_ended, check_lengths, parse_range, status};
use crate::blocking::{BlockingPool, Busy, Checkpoint};
use crate::config::{CHART_CACHE_BYTES, CHART_CACHE_CHARTS, DEFAULT_GRAPH_FILE, GRAPH_FILE_CACHE_MAX};
use crate::domain::analysis::Analysis;
use crate::domain::chart::{self, ChartError, ChartSize};
use crate::domain::date::DateRange;
use crate::metrics::{CallRecord, Metrics, RenderOutcome};
use crate::protocol::indicator_graph::MACDGraphRequest;

/// Bytes read from a file per trip to the blocking pool. Several small chunks are read at once so
/// a 1 KiB chunk size does not cost a thread hand-off per message.
const READ_BLOCK: usize = 64 * 1024;

/// Bars in the parity-mode fallback chart: about one trading year.
pub const FALLBACK_BARS: usize = 250;

/// What `GetMACDGraph` streams.
#[derive(Clone)]
pub enum GraphSource {
    /// This file, as the reference does (`--graph-file`); the dates are not looked at.
    File(PathBuf),
    /// This file, in data mode: the dates are checked as `GetMACD` checks them, then the file is
    /// streamed whatever they are.
    DataFile { path: PathBuf },
    /// This file if it exists (the reference's default `./macd.png`), else the chart of the last
    /// [`FALLBACK_BARS`] bars of `fallback`, rendered once and kept.
    FileOrChart { path: PathBuf, fallback: Arc<Fallback> },
    /// The chart of the requested range (data mode).
    Chart { analysis: Arc<Analysis>, size: ChartSize },
}

/// The parity-mode fallback chart, rendered on first use.
pub struct Fallback {
    analysis: Arc<Analysis>,
    size: ChartSize,
    png: OnceLock<Arc<[u8]>>,
}

impl Fallback {
    pub fn new(analysis: Arc<Analysis>, size: ChartSize) -> Arc<Fallback> {
        Arc::new(Fallback { analysis, size, png: OnceLock::new() })
    }

    fn png(&self) -> Result<Arc<[u8]>, ChartError> {
        if let Some(png) = self.png.get() {
            return Ok(Arc::clone(png));
        }
        log::info!(
            "{DEFAULT_GRAPH_FILE} does not exist: GetMACDGraph streams the chart of the embedded sample \
             instead, until that file appears"
        );
        let png: Arc<[u8]> = chart::render_recent(&self.analysis, FALLBACK_BARS, self.size)?.into();
        Ok(Arc::clone(self.png.get_or_init(|| png)))
    }
}

#[derive(Clone)]
pub struct GraphService {
    source: GraphSource,
    chunk_size: usize,
    write_batching: bool,
    pool: BlockingPool,
    metrics: Arc<Metrics>,
    caches: Arc<Caches>,
}

/// What calls share: the graph file last read whole, and recent charts.
struct Caches {
    file: FileCache,
    charts: ChartCache,
}

impl GraphService {
    pub fn new(
        source: GraphSource,
        chunk_size: usize,
        write_batching: bool,
        pool: BlockingPool,
        metrics: Arc<Metrics>,
    ) -> Self {
        let caches = Arc::new(Caches {
            file: FileCache::default(),
            charts: ChartCache::new(CHART_CACHE_CHARTS, CHART_CACHE_BYTES),
        });
        GraphService { source, chunk_size, write_batching, pool, metrics, caches }
    }
}

/// PNG bytes ready to stream: an open file too large to keep, or bytes in memory.
enum Png {
    File(File, Arc<PathBuf>),
    Memory(Arc<[u8]>),
}

/// Set once the call has ended (cancelled, disconnected, past its deadline): blocking work for it
/// checks this between stages and stops.
#[derive(Clone, Default)]
pub(super) struct Cancelled(Arc<AtomicBool>);

impl Cancelled {
    pub(super) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub(super) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl GraphService {
    /// Answers one call; the chunks' bytes are written straight into gRPC's buffers (see
    /// [`super::wire`]).
    pub fn get_macd_graph(&self, ctx: RpcContext, request: MACDGraphRequest, sink: ServerStreamingSink<GraphChunk>) {
        let record = self.metrics.call("GetMACDGraph", || ctx.peer());
        ctx.spawn(self.clone().answer(request, sink, ctx.deadline(), record));
    }

    /// One call from its request to its end: the PNG prepared, then streamed; counted once, with
    /// the code it ended with.
    async fn answer(
        self,
        request: MACDGraphRequest,
        mut sink: ServerStreamingSink<GraphChunk>,
        deadline: Deadline,
        mut record: CallRecord,
    ) {
        let png = match self.prepare_unless_ended(&request, deadline, &mut sink).await {
            Some(Ok(png)) => png,
            Some(Err(status)) => {
                let code = status.code();
                fail(sink, status).await;
                return record.finish(code);
            }
            None => return record.finish(ended_code(deadline)),
        };
        let code = self.stream(png, sink, deadline, &mut record).await;
        record.finish(code);
    }

    /// Opens the file or renders the chart, unless the call ends first (`None`). grpcio keeps
    /// polling a spawned future after its call is cancelled, so the work is raced against the
    /// call's end, and a call that ends first stops the work.
    async fn prepare_unless_ended(
        &self,
        request: &MACDGraphRequest,
        deadline: Deadline,
        sink: &mut ServerStreamingSink<GraphChunk>,
    ) -> Option<Result<Png, RpcStatus>> {
        let cancelled = Cancelled::default();
        let prepare =
            prepare(self.source.clone(), request, deadline, &self.pool, &self.metrics, &self.caches, &cancelled);
        let ended = call_ended(sink);
        futures::pin_mut!(prepare, ended);
        match future::select(prepare, ended).await {
            Either::Left((prepared, _)) => Some(prepared),
            Either::Right(((), _)) => {
                cancelled.set();
                None
            }
        }
    }

    /// Streams `png` in chunks, as flow control lets it, and closes the stream; returns the code
    /// the call ended with.
    async fn stream(
        &self,
        png: Png,
        mut sink: ServerStreamingSink<GraphChunk>,
        deadline: Deadline,
        record: &mut CallRecord,
    ) -> RpcStatusCode {
        // Ask gRPC to coalesce the small messages into fewer writes; flow control still applies
        // to every one of them. Measured: about 4x the MB/s at 1 KiB chunks.
        sink.enhance_batch(self.write_batching);
        let sent = {
            let chunks = chunks(png, self.chunk_size, self.pool.clone(), Arc::clone(&self.metrics));
            let mut replies = chunks.map_ok(|chunk| {
                record.streamed(chunk.payload().len());
                (chunk, WriteFlags::default())
            });
            sink.send_all(&mut replies).await
        };
        match sent {
            Ok(()) => match sink.close().await {
                Ok(()) => RpcStatusCode::OK,
                Err(e) => {
                    log::debug!("GetMACDGraph: closing the stream failed: {e}");
                    ended_code(deadline)
                }
            },
            // A read failed part way: tell the client, who then discards what it got.
            Err(grpcio::Error::RpcFailure(status)) => {
                let code = status.code();
                fail(sink, status).await;
                code
            }
            // The call ended under us: dropping the stream stops the reads.
            Err(e) => {
                log::debug!("GetMACDGraph: stream ended early: {e}");
                ended_code(deadline)
            }
        }
    }
}

/// How a call that ended under us ended, as far as the server can tell.
pub(super) fn ended_code(deadline: Deadline) -> RpcStatusCode {
    if deadline.exceeded() {
        RpcStatusCode::DEADLINE_EXCEEDED
    } else {
        RpcStatusCode::CANCELLED
    }
}

async fn fail(sink: ServerStreamingSink<GraphChunk>, status: RpcStatus) {
    if let Err(e) = sink.fail(status).await {
        log::debug!("GetMACDGraph: sending the error status failed: {e}");
    }
}

/// `RESOURCE_EXHAUSTED` for a full blocking queue.
pub(super) fn busy(busy: Busy) -> RpcStatus {
    status(RpcStatusCode::RESOURCE_EXHAUSTED, busy.to_string())
}

/// Opens the file or renders the chart, on the blocking pool.
async fn prepare(
    source: GraphSource,
    request: &MACDGraphRequest,
    deadline: Deadline,
    pool: &BlockingPool,
    metrics: &Arc<Metrics>,
    caches: &Arc<Caches>,
    cancelled: &Cancelled,
) -> Result<Png, RpcStatus> {
    let (m, c) = (Arc::clone(metrics), Arc::clone(caches));
    let job = match source {
        GraphSource::File(path) => {
            check_lengths(&request.start_date, &request.end_date)?;
            pool.run(move || open(Arc::new(path), &c.file, &m)).map_err(busy)?.boxed()
        }
        GraphSource::DataFile { path } => {
            parse_range(&request.start_date, &request.end_date)?;
            pool.run(move || open(Arc::new(path), &c.file, &m)).map_err(busy)?.boxed()
        }
        GraphSource::FileOrChart { path, fallback } => {
            check_lengths(&request.start_date, &request.end_date)?;
            pool.run(move || match open(Arc::new(path), &c.file, &m) {
                Err(status) if status.code() == RpcStatusCode::NOT_FOUND => {
                    fallback.png().map(Png::Memory).map_err(chart_failed)
                }
                opened => opened,
            })
            .map_err(busy)?
            .boxed()
        }
        GraphSource::Chart { analysis, size } => {
            let range = parse_range(&request.start_date, &request.end_date)?;
            let key = ChartKey { bars: analysis.bar_range(range), size };
            if let Some(png) = caches.charts.get(&key) {
                metrics.render_ended(RenderOutcome::Cached);
                return Ok(Png::Memory(png));
            }
            let mut queued = QueuedRender { metrics: Arc::clone(metrics), ran: false };
            let (cancelled, checkpoint) = (cancelled.clone(), pool.checkpoint());
            let job = pool.run(move || {
                queued.ran = true;
                let png = render(&analysis, range, size, &queued.metrics, &cancelled, deadline, &checkpoint)?;
                c.charts.insert(key, Arc::clone(&png));
                Ok(Png::Memory(png))
            });
            match job {
                Ok(job) => job.boxed(),
                Err(full) => {
                    metrics.render_ended(RenderOutcome::Refused);
                    return Err(busy(full));
                }
            }
        }
    };
    job.await.map_err(|failed| status(RpcStatusCode::INTERNAL, failed.to_string()))?
}

/// A render waiting in the blocking queue. The pool drops, without running it, a job whose caller
/// has gone; that render then counts as cancelled.
pub(super) struct QueuedRender {
    pub(super) metrics: Arc<Metrics>,
    pub(super) ran: bool,
}

impl Drop for QueuedRender {
    fn drop(&mut self) {
        if !self.ran {
            self.metrics.render_ended(RenderOutcome::Cancelled);
        }
    }
}

/// Where a render has drawn its chart and not yet looked at whether its call still wants it: a
/// test's [`crate::blocking::Gate`] here holds the render while the test ends the call.
#[doc(hidden)]
pub const CHART_DRAWN: &str = "chart drawn";

/// Draws and encodes the chart, checking between the stages whether the call is still wanted.
fn render(
    analysis: &Analysis,
    range: DateRange,
    size: ChartSize,
    metrics: &Metrics,
    cancelled: &Cancelled,
    deadline: Deadline,
    checkpoint: &Checkpoint,
) -> Result<Arc<[u8]>, RpcStatus> {
    let stop = || {
        metrics.render_ended(RenderOutcome::Cancelled);
        status(ended_code(deadline), "the call ended before the chart was drawn")
    };
    let window = analysis.window(range);
    if window.is_empty() {
        return Err(empty_range(analysis, range));
    }
    // Queued while its caller gave up: never start.
    if cancelled.is_set() || deadline.exceeded() {
        return Err(stop());
    }
    metrics.render_started();
    let (pixels, _) = chart::render_rgb(window, &analysis.title(window), size).map_err(chart_failed)?;
    checkpoint.pass(CHART_DRAWN);
    if cancelled.is_set() || deadline.exceeded() {
        return Err(stop());
    }
    let png = chart::encode_png(&pixels, size).map_err(chart_failed)?;
    metrics.render_ended(RenderOutcome::Done);
    Ok(png.into())
}

/// Opens the graph file. A regular file up to [`GRAPH_FILE_CACHE_MAX`] comes back as its bytes,
/// from `cache` when its identity has not changed since it was last read; anything else comes
/// back open, to be read a block at a time.
fn open(path: Arc<PathBuf>, cache: &FileCache, metrics: &Metrics) -> Result<Png, RpcStatus> {
    let mut file = File::open(&*path).map_err(|e| open_failed(&path, &e))?;
    let meta = file.metadata().map_err(|e| read_failed(&path, &e))?;
    if !meta.is_file() || meta.len() > GRAPH_FILE_CACHE_MAX {
        return Ok(Png::File(file, path));
    }
    match cache.bytes(&mut file, FileIdentity::of(&meta), || metrics.file_read()) {
        Ok(bytes) => Ok(Png::Memory(bytes)),
        Err(ReadWhole::Io(e)) => Err(read_failed(&path, &e)),
        Err(ReadWhole::Changed) => Err(changed_status(&path, "changed")),
    }
}

fn open_failed(path: &Path, e: &io::Error) -> RpcStatus {
    if e.kind() == io::ErrorKind::NotFound {
        status(
            RpcStatusCode::NOT_FOUND,
            format!(
                "graph file {} does not exist on the server; start idc_server with --graph-file set to a PNG",
                path.display()
            ),
        )
    } else {
        read_failed(path, e)
    }
}

fn read_failed(path: &Path, e: &io::Error) -> RpcStatus {
    status(RpcStatusCode::INTERNAL, format!("cannot read graph file {} on the server: {e}", path.display()))
}

pub(super) fn chart_failed(e: ChartError) -> RpcStatus {
    log::error!("chart rendering failed: {e}");
    status(RpcStatusCode::INTERNAL, format!("the server could not draw the chart: {e}"))
}

/// An empty range is refused rather than drawn as an empty chart: the caller most likely asked
/// for dates outside the data, and the message says which dates there are.
fn empty_range(analysis: &Analysis, range: DateRange) -> RpcStatus {
    status(RpcStatusCode::INVALID_ARGUMENT, format!("no bars in {range}: {}", analysis.no_bars_reason(range)))
}

/// The PNG's bytes as a stream of `chunk_size` pieces.
fn chunks(
    png: Png,
    chunk_size: usize,
    pool: BlockingPool,
    metrics: Arc<Metrics>,
) -> BoxStream<'static, Result<GraphChunk, grpcio::Error>> {
    match png {
        Png::Memory(bytes) => stream::iter(pieces(bytes, chunk_size).map(Ok)).boxed(),
        Png::File(file, path) => file_chunks(file, path, chunk_size, pool, metrics).boxed(),
    }
}

/// `bytes` in `chunk_size` pieces, each sharing `bytes` rather than copying it.
fn pieces(bytes: Arc<[u8]>, chunk_size: usize) -> impl Iterator<Item = GraphChunk> + Send {
    let count = bytes.len().div_ceil(chunk_size);
    (0..count).map(move |i| {
        let end = ((i + 1) * chunk_size).min(bytes.len());
        GraphChunk::new(Arc::clone(&bytes), i * chunk_size..end)
    })
}

/// What a graph file looked like when it was opened: a stream sends exactly those bytes, or fails.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileState {
    /// A regular file has a size to check against; a pipe or a device is read to its end.
    regular: bool,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileState {
    fn of(file: &File) -> io::Result<FileState> {
        let meta = file.metadata()?;
        if meta.is_file() {
            Ok(FileState { regular: true, len: meta.len(), modified: meta.modified().ok() })
        } else {
            Ok(FileState { regular: false, len: u64::MAX, modified: None })
        }
    }
}

/// `ABORTED`: the file changed under a stream, which sends nothing it cannot vouch for.
fn changed_while_sent(path: &Path, what: &str) -> grpcio::Error {
    grpcio::Error::RpcFailure(changed_status(path, what))
}

fn changed_status(path: &Path, what: &str) -> RpcStatus {
    status(
        RpcStatusCode::ABORTED,
        format!("graph file {} {what} while it was being sent; call again for the whole new file", path.display()),
    )
}

/// A file's bytes in `chunk_size` pieces, read a block at a time on the pool. A block is read only
/// when the sink asks for more, so a call that ends stops the reads.
///
/// The stream sends a regular file as it was when it was opened, or fails: a file replaced by a rename
/// goes on being read from the old inode; a file truncated or written in place while it is sent
/// (its size or modification time changed by the last read) ends the stream with `ABORTED`
/// instead of its last bytes, so a client never gets a mix, or a short file with OK.
fn file_chunks(
    file: File,
    path: Arc<PathBuf>,
    chunk_size: usize,
    pool: BlockingPool,
    metrics: Arc<Metrics>,
) -> impl futures::Stream<Item = Result<GraphChunk, grpcio::Error>> + Send {
    // A whole number of chunks per block, so every chunk but the file's last is full.
    let block_size = chunk_size * (READ_BLOCK / chunk_size).max(1);
    let blocks = stream::try_unfold(Some((file, None::<FileState>, 0u64)), move |state| {
        let (pool, path, metrics) = (pool.clone(), Arc::clone(&path), Arc::clone(&metrics));
        async move {
            let Some((mut file, opened, sent)) = state else { return Ok::<_, grpcio::Error>(None) };
            let read = pool
                .run(move || {
                    metrics.file_read();
                    let result = (|| {
                        let opened = match opened {
                            Some(state) => state,
                            None => FileState::of(&file)?,
                        };
                        let want = (opened.len - sent).min(block_size as u64) as usize;
                        let block = read_block(&mut file, want)?;
                        // After the last block, the file must still be what was opened.
                        let now =
                            (sent + block.len() as u64 == opened.len).then(|| FileState::of(&file)).transpose()?;
                        Ok::<_, io::Error>((opened, block, now))
                    })();
                    (file, result)
                })
                .map_err(|full| grpcio::Error::RpcFailure(busy(full)))?;
            let (file, result) =
                read.await.map_err(|e| grpcio::Error::RpcFailure(status(RpcStatusCode::INTERNAL, e.to_string())))?;
            let (opened, block, now) = result.map_err(|e| grpcio::Error::RpcFailure(read_failed(&path, &e)))?;
            let sent = sent + block.len() as u64;
            let short = block.len() < block_size;
            if opened.regular && sent < opened.len && short {
                return Err(changed_while_sent(&path, "shrank"));
            }
            if let Some(now) = now {
                if now != opened {
                    return Err(changed_while_sent(&path, "changed"));
                }
            }
            if block.is_empty() {
                return Ok(None);
            }
            // A pipe or a device ends with its first short block, as a file of unknown size must.
            let more = if opened.regular { sent < opened.len } else { !short };
            let next = more.then_some((file, Some(opened), sent));
            Ok(Some((block, next)))
        }
    });
    blocks.map_ok(move |block| stream::iter(pieces(block.into(), chunk_size).map(Ok))).try_flatten()
}

/// Reads until `len` bytes or the end of the file, whichever comes first.
fn read_block(file: &mut File, len: usize) -> io::Result<Vec<u8>> {
    let mut block = Vec::with_capacity(len);
    file.by_ref().take(len as u64).read_to_end(&mut block)?;
    Ok(block)
}
