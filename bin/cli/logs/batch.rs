//! The per-call lines in batches: each thread gathers its `idc::rpc` lines and hands them to
//! the logging thread together, once it holds [`BATCH_BYTES`] or when the flusher thread passes
//! (every [`FLUSH_EVERY`]); every other line is handed over on its own, as it is written.
//!
//! Why: `tracing-appender` takes one heap copy of each write and one slot of its queue, which
//! the logging thread empties on another core. For a line a call, at 100,000 calls a second on
//! two cores, that hand-over (the copy, the queue's shared counters moving between cores, the
//! free on the other thread) cost about 8 % of a unary call; a batch of a hundred lines costs it
//! once. What this adds is the gathering alone: the lines are still formatted by
//! `tracing-subscriber` and written by `tracing-appender`'s thread.
//!
//! The cost: a per-call line reaches stderr up to [`FLUSH_EVERY`] after the call, and may come
//! after a line another thread wrote later; the lines of one thread keep their order, and each
//! line has its own time. [`stop`] hands over every batch, so an exit loses none.

use std::cell::OnceCell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing_appender::non_blocking::NonBlocking;
use tracing_core::Metadata;
use tracing_subscriber::fmt::writer::{EitherWriter, MakeWriter};

/// A thread's batch is handed over once it holds this much (about 150 lines). With the queue's
/// [`super::QUEUED_WRITES`], it bounds what a stalled stderr can make the log hold.
pub const BATCH_BYTES: usize = 16 * 1024;

/// How often the flusher hands over what the threads have gathered: how late a per-call line
/// may reach stderr.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// The target whose lines are batched: the one written for every call.
const BATCHED_TARGET: &str = "idc::rpc";

/// One thread's gathered lines.
type Batch = Arc<Mutex<Vec<u8>>>;

/// The process's one logger's batches (there is one subscriber a process).
static SHARED: OnceLock<Shared> = OnceLock::new();

thread_local! {
    /// This thread's batch, registered in [`Shared::batches`] on its first line.
    static MINE: OnceCell<Batch> = const { OnceCell::new() };
}

struct Shared {
    /// The logging thread's queue.
    out: NonBlocking,
    /// Every thread's batch, kept after the thread ends so that its lines are still handed.
    batches: Mutex<Vec<Batch>>,
    /// Set by [`stop`]; lines written after it are handed over at once. Read by a writer with
    /// its batch locked, so that [`stop`]'s last hand-over either finds the line or the writer
    /// finds the flag.
    stopped: AtomicBool,
    /// The flusher's sleep, which [`stop`] ends.
    sleep: Mutex<()>,
    wake: Condvar,
}

/// Hands `bytes` to the logging thread and empties them. A full queue drops them (the queue
/// is lossy: no caller waits for the log).
fn hand(out: &NonBlocking, bytes: &mut Vec<u8>) {
    if !bytes.is_empty() {
        let _ = out.clone().write_all(bytes);
        bytes.clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn flush_all(&self) {
        let batches: Vec<Batch> = lock(&self.batches).clone();
        for batch in batches {
            hand(&self.out, &mut lock(&batch));
        }
    }

    fn run_flusher(&self) {
        let mut sleep = lock(&self.sleep);
        while !self.stopped.load(Ordering::SeqCst) {
            sleep = self.wake.wait_timeout(sleep, FLUSH_EVERY).unwrap_or_else(|e| e.into_inner()).0;
            self.flush_all();
        }
    }
}

/// Hands over every thread's batch and makes later lines go straight to the logging thread.
/// Called before the logging thread's guard is dropped.
pub fn stop() {
    if let Some(shared) = SHARED.get() {
        shared.stopped.store(true, Ordering::SeqCst);
        {
            let _sleep = lock(&shared.sleep);
            shared.wake.notify_all();
        }
        shared.flush_all();
    }
}

/// The subscriber's writers: per-call lines into this thread's batch, others straight to the
/// logging thread.
pub struct Writers {
    shared: &'static Shared,
}

impl Writers {
    /// Writers over `out`, with the flusher thread started (the first call only: one logger a
    /// process).
    pub fn start(out: NonBlocking) -> Writers {
        let mut started = false;
        let shared = SHARED.get_or_init(|| {
            started = true;
            Shared {
                out,
                batches: Mutex::new(Vec::new()),
                stopped: AtomicBool::new(false),
                sleep: Mutex::new(()),
                wake: Condvar::new(),
            }
        });
        if started {
            let spawned = std::thread::Builder::new().name("idc-log-flush".into()).spawn(|| shared.run_flusher());
            if spawned.is_err() {
                // No flusher: batch nothing rather than hold lines until the exit.
                shared.stopped.store(true, Ordering::SeqCst);
            }
        }
        Writers { shared }
    }
}

impl<'a> MakeWriter<'a> for Writers {
    type Writer = EitherWriter<NonBlocking, BatchWriter>;

    fn make_writer(&'a self) -> Self::Writer {
        EitherWriter::A(self.shared.out.clone())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        if meta.target() == BATCHED_TARGET {
            EitherWriter::B(BatchWriter)
        } else {
            self.make_writer()
        }
    }
}

/// Appends a line to this thread's batch (`tracing-subscriber` writes a line in one write).
pub struct BatchWriter;

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let Some(shared) = SHARED.get() else { return Ok(line.len()) };
        let gathered = MINE.try_with(|mine| {
            let batch = mine.get_or_init(|| {
                let batch: Batch = Arc::new(Mutex::new(Vec::with_capacity(BATCH_BYTES)));
                lock(&shared.batches).push(Arc::clone(&batch));
                batch
            });
            let mut bytes = lock(batch);
            bytes.extend_from_slice(line);
            if bytes.len() >= BATCH_BYTES || shared.stopped.load(Ordering::SeqCst) {
                hand(&shared.out, &mut bytes);
            }
        });
        if gathered.is_err() {
            // The thread is ending (its thread-locals gone): the line goes alone.
            hand(&shared.out, &mut line.to_vec());
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;
    use tracing_appender::non_blocking::NonBlockingBuilder;

    /// What the logging thread wrote, as the test reads it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).clone()).unwrap()
        }
        /// Waits (polling, bounded) until `want` lines have arrived.
        fn lines_within(&self, want: usize, limit: Duration) -> usize {
            let began = Instant::now();
            loop {
                let got = self.text().lines().count();
                if got >= want || began.elapsed() > limit {
                    return got;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn rpc_line(n: usize) -> Vec<u8> {
        format!("GetMACD call {n}\n").into_bytes()
    }

    // One test: the batches belong to the process's one logger.
    #[test]
    fn per_call_lines_are_batched_flushed_by_the_flusher_and_all_handed_at_stop() {
        let sink = Sink::default();
        let (out, guard) = NonBlockingBuilder::default().finish(sink.clone());
        let writers = Writers::start(out);
        let rpc = Metadata::new(
            "event",
            BATCHED_TARGET,
            tracing_core::Level::INFO,
            None,
            None,
            None,
            tracing_core::field::FieldSet::new(&[], tracing_core::identify_callsite!(&CALLSITE)),
            tracing_core::Kind::EVENT,
        );
        // A few lines: not handed over line by line, yet there within the flusher's period.
        for n in 0..3 {
            writers.make_writer_for(&rpc).write_all(&rpc_line(n)).unwrap();
        }
        assert_eq!(sink.lines_within(3, Duration::from_secs(2)), 3, "the flusher hands a batch over");

        // A full batch goes at once, whatever the flusher does; lines of a thread that has
        // ended still arrive, and one thread's lines keep their order.
        let sent = std::thread::spawn(move || {
            let mut n = 3;
            let mut bytes = 0;
            while bytes < BATCH_BYTES {
                let line = rpc_line(n);
                bytes += line.len();
                BatchWriter.write_all(&line).unwrap();
                n += 1;
            }
            BatchWriter.write_all(&rpc_line(n)).unwrap();
            n + 1
        })
        .join()
        .unwrap();
        // Another target's line goes straight through.
        writers.make_writer().write_all(b"listening\n").unwrap();
        stop();
        drop(guard);
        let text = sink.text();
        let calls: Vec<&str> = text.lines().filter(|l| l.starts_with("GetMACD")).collect();
        let expected: Vec<String> = (0..sent).map(|n| format!("GetMACD call {n}")).collect();
        assert_eq!(calls, expected, "every line, once, in each thread's order");
        assert!(text.lines().any(|l| l == "listening"), "{text}");
    }

    struct TestCallsite;
    static CALLSITE: TestCallsite = TestCallsite;
    impl tracing_core::Callsite for TestCallsite {
        fn set_interest(&self, _: tracing_core::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unimplemented!("not registered")
        }
    }
}
