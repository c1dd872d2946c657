//! A fixed pool of threads for blocking work (file reads today; chart renders next).
//!
//! grpcio drives every call from its completion-queue threads. A handler that blocks there stalls
//! every other call polled by that queue, so handlers hand blocking work to this pool and await
//! the result instead. The pool is fixed in size so that a burst of requests queues up rather
//! than spawning a thread per call.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use futures::channel::oneshot;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A cloneable handle to the pool. The workers stop once every handle is dropped and the queue
/// is drained.
#[derive(Clone)]
pub struct BlockingPool {
    queue: mpsc::Sender<Job>,
}

/// The job did not produce a value: it panicked. The panic is logged by the worker, which keeps
/// serving.
#[derive(Debug, thiserror::Error)]
#[error("a background job failed (it panicked; see the server log)")]
pub struct JobFailed;

impl BlockingPool {
    /// Starts `threads` workers (at least one), named `{name}-{i}`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<BlockingPool> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..threads.max(1) {
            let jobs = Arc::clone(&jobs);
            thread::Builder::new().name(format!("{name}-{i}")).spawn(move || loop {
                // Hold the lock only to take a job, not while running it.
                let job = match jobs.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return, // every handle is gone
                }
            })?;
        }
        Ok(BlockingPool { queue })
    }

    /// Runs `job` on a worker and resolves to its result.
    pub fn run<F, R>(&self, job: F) -> impl std::future::Future<Output = Result<R, JobFailed>>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
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
        async move { rx.await.map_err(|_| JobFailed) }
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

    #[test]
    fn runs_jobs_off_the_calling_thread() {
        let pool = BlockingPool::new("test", 2).unwrap();
        let caller = thread::current().id();
        let worker = block_on(pool.run(|| thread::current().id())).unwrap();
        assert_ne!(caller, worker);
    }

    #[test]
    fn a_panicking_job_fails_without_killing_the_pool() {
        let pool = BlockingPool::new("test", 1).unwrap();
        let failed = block_on(pool.run(|| -> u32 { panic!("boom") }));
        assert!(failed.is_err());
        assert_eq!(block_on(pool.run(|| 7)).unwrap(), 7);
    }
}
