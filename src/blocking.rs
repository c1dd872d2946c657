//! A fixed pool of threads for blocking work: graph file reads and chart renders.
//!
//! grpcio drives every call from its completion-queue threads. A handler that blocks there stalls
//! every other call polled by that queue, so handlers hand blocking work to this pool and await
//! the result instead. The pool is fixed in size so that a burst of requests queues up rather
//! than spawning a thread per call, and the queue is bounded, so that a burst beyond what the
//! threads can catch up with is refused at once ([`Busy`]) rather than held in memory while its
//! callers time out.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use futures::channel::oneshot;
use prometheus_client::metrics::gauge::Gauge;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A cloneable handle to the pool. The workers stop once every handle is dropped and the queue
/// is drained.
#[derive(Clone)]
pub struct BlockingPool {
    queue: mpsc::Sender<Job>,
    /// Jobs sent and not yet taken by a worker.
    queued: Arc<AtomicUsize>,
    max_queued: usize,
    /// Mirrors `queued`, for the metrics.
    depth: Gauge,
}

/// The queue is full: the job was not queued.
#[derive(Debug, thiserror::Error)]
#[error("the server is busy: {queued} file reads and chart renders are waiting already; retry in a moment")]
pub struct Busy {
    pub queued: usize,
}

/// The job did not produce a value: it panicked. The panic is logged by the worker, which keeps
/// serving.
#[derive(Debug, thiserror::Error)]
#[error("a background job failed (it panicked; see the server log)")]
pub struct JobFailed;

impl BlockingPool {
    /// Starts `threads` workers (at least one), named `{name}-{i}`, with room for `max_queued`
    /// jobs waiting for them (at least one); `depth` follows the number waiting.
    pub fn new(name: &str, threads: usize, max_queued: usize, depth: Gauge) -> std::io::Result<BlockingPool> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let (jobs, queued, depth) = (Arc::clone(&jobs), Arc::clone(&queued), depth.clone());
            thread::Builder::new().name(format!("{name}-{i}")).spawn(move || loop {
                // Hold the lock only to take a job, not while running it.
                let job = match jobs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => {
                        queued.fetch_sub(1, Ordering::Relaxed);
                        depth.dec();
                        job()
                    }
                    Err(_) => return, // every handle is gone
                }
            })?;
        }
        Ok(BlockingPool { queue, queued, max_queued: max_queued.max(1), depth })
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Queues `job` for a worker and returns a future of its result, or [`Busy`] at once when
    /// the queue is full.
    pub fn run<F, R>(&self, job: F) -> Result<impl std::future::Future<Output = Result<R, JobFailed>>, Busy>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        // Reserve a place first, so that concurrent callers cannot overfill the queue.
        let reserved = self.queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
            (queued < self.max_queued).then_some(queued + 1)
        });
        if let Err(queued) = reserved {
            return Err(Busy { queued });
        }
        self.depth.inc();
        let (tx, rx) = oneshot::channel();
        let wrapped: Job = Box::new(move || {
            // Nobody waits for the result any more (the call's task is gone, as when the server
            // shuts down): do not spend a thread on it.
            if tx.is_canceled() {
                return;
            }
            run_caught(job, tx);
        });
        // Sending fails only if every worker has exited, which only happens when all handles
        // are gone, and `self` is one; the receiver then reports the job as failed.
        let _ = self.queue.send(wrapped);
        Ok(async move { rx.await.map_err(|_| JobFailed) })
    }
}

/// Runs `job` and sends its result; a panic is logged, and the dropped sender reports it.
fn run_caught<F, R>(job: F, tx: oneshot::Sender<R>)
where
    F: FnOnce() -> R,
{
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(value) => {
            // The caller may have gone away (call cancelled); that is fine.
            let _ = tx.send(value);
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            log::error!("background job panicked: {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn pool(threads: usize, max_queued: usize) -> BlockingPool {
        BlockingPool::new("test", threads, max_queued, Gauge::default()).unwrap()
    }

    #[test]
    fn runs_jobs_off_the_calling_thread() {
        let pool = pool(2, 8);
        let caller = thread::current().id();
        let worker = block_on(pool.run(|| thread::current().id()).unwrap()).unwrap();
        assert_ne!(caller, worker);
    }

    #[test]
    fn a_panicking_job_fails_without_killing_the_pool() {
        let pool = pool(1, 8);
        let failed = block_on(pool.run(|| -> u32 { panic!("boom") }).unwrap());
        assert!(failed.is_err());
        assert_eq!(block_on(pool.run(|| 7).unwrap()).unwrap(), 7);
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_takes_jobs_again_once_it_drains() {
        let depth = Gauge::default();
        let pool = BlockingPool::new("test", 1, 2, depth.clone()).unwrap();
        // Hold the only worker until told, so that the next jobs wait in the queue.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let blocker = pool
            .run(move || {
                started_tx.send(()).unwrap();
                held.recv().unwrap();
            })
            .unwrap();
        started.recv().unwrap();
        let queued: Vec<_> = (0..2).map(|i| pool.run(move || i).unwrap()).collect();
        assert_eq!((pool.queued(), depth.get()), (2, 2));
        let busy = pool.run(|| 9).map(|_| ()).unwrap_err();
        assert!(busy.to_string().contains("the server is busy"), "{busy}");
        release.send(()).unwrap();
        block_on(blocker).unwrap();
        let results: Vec<i32> = queued.into_iter().map(|job| block_on(job).unwrap()).collect();
        assert_eq!(results, vec![0, 1]);
        assert_eq!(depth.get(), 0);
        assert_eq!(block_on(pool.run(|| 3).unwrap()).unwrap(), 3);
    }
}
