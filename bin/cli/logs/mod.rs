//! Logging: the `log` records of idc and of gRPC C-core and the per-call `tracing` events,
//! filtered by `RUST_LOG`, formatted as env_logger formats them
//! (`[2026-12-02T08:00:00Z INFO  idc::rpc] message`: what the docs show and scripts match;
//! [`format`]), and written by a background thread.
//!
//! Why not straight to stderr: the per-call line (`idc::rpc`) is written on a completion-queue
//! thread, and a locked, unbuffered write to stderr per call cost about a tenth of a unary call.
//! Here a line is formatted on the calling thread and handed to `tracing-appender`'s
//! non-blocking writer, whose thread writes whatever has queued in one buffered write. The
//! per-call lines go there in batches ([`batch`]): handing each alone across threads cost a
//! unary call about 8 %. The queue is bounded and lossy: a completion-queue thread never waits
//! for the log; under a load that outruns stderr, lines are dropped rather than calls slowed.
//! The returned [`Logs`] flushes every line when it is dropped, so a clean exit loses none, and
//! so does a forced one (a second SIGTERM: `idc::signals::exit_now` runs [`flush_logs`] first).

mod batch;
mod format;

use std::io::{self, BufWriter};
use std::sync::Mutex;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_log::AsLog;
use tracing_subscriber::EnvFilter;

/// The write buffer of the logging thread: a batch of lines leaves in one write.
const BUFFER_BYTES: usize = 64 * 1024;

/// How many writes may wait for the logging thread: lines one by one, per-call lines in
/// batches of [`batch::BATCH_BYTES`] (so at most about 16 MiB of them while stderr is stalled,
/// as 128,000 lines were). Past it, writes are dropped. The queue's slots are allocated up front
/// (about 40 bytes each).
const QUEUED_WRITES: usize = 1_024;

/// The logging thread's guard: dropping it writes what is queued and ends the thread.
static WORKER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Flushes the log when dropped; keep it until the program ends.
pub struct Logs;

impl Drop for Logs {
    fn drop(&mut self) {
        flush_logs();
    }
}

/// Writes every batched and queued line and stops the logging thread (lines logged later are
/// lost).
pub fn flush_logs() {
    batch::stop();
    // Dropped with the lock held: a second caller (a forced exit during a clean one) waits
    // until the lines are written rather than exiting under them.
    let mut worker = WORKER.lock().unwrap_or_else(|e| e.into_inner());
    drop(worker.take());
}

/// Logs to stderr at `RUST_LOG`'s level, else at `default`. gRPC C-core's own log lines are
/// routed through the same logger, so they read like ours, at `core` unless `RUST_LOG` says
/// otherwise: the server shows C-core's errors (a failed handshake, say), the clients none, since
/// their one error line already says what C-core would.
pub fn init_logs(default: &str, core: &str) -> Logs {
    let set = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let mut directives = set.unwrap_or_else(|| default.to_string());
    if !directives.contains("grpcio") {
        directives.push_str(&format!(",grpcio::log_util={core}"));
    }
    let filter = EnvFilter::builder().parse_lossy(&directives);
    let most = filter.max_level_hint().unwrap_or(tracing_core::LevelFilter::TRACE);
    let (writer, guard) = NonBlockingBuilder::default()
        .thread_name("idc-log")
        .buffered_lines_limit(QUEUED_WRITES)
        .finish(BufWriter::with_capacity(BUFFER_BYTES, io::stderr()));
    let writers = batch::Writers::start(writer);
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writers)
        .event_format(format::EnvLoggerFormat)
        .finish();
    // `log`'s own level gate first, so that a record no directive can want costs one compare.
    let _ = tracing_log::LogTracer::builder().with_max_level(most.as_log()).init();
    let _ = tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::new(subscriber));
    grpcio::redirect_log();
    *WORKER.lock().unwrap_or_else(|e| e.into_inner()) = Some(guard);
    idc::signals::before_forced_exit(flush_logs);
    Logs
}
