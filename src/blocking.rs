//! A fixed pool of threads for blocking work: graph file reads and chart renders.
//!
//! grpcio drives every call from its completion-queue threads. A handler that blocks there stalls
//! every other call polled by that queue, so handlers hand blocking work to this pool and await
//! the result instead. The pool is fixed in size so that a burst of requests queues up rather
//! than spawning a thread per call, and the queue is bounded, so that a burst beyond what the
//! threads can catch up with is refused at once ([`Busy`]) rather than held in memory while its
//! callers time out.
//!
//! A test may hold the work at named places with a [`Gate`] (see [`install_gate`]), so that what
//! happens when a call ends mid-work is observed in order rather than raced against a timer. A
//! pool made without one, as every pool outside those tests is, carries `None` and passes each
//! place with one branch.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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
    /// A test's gate, if one was installed when the pool was made.
    checkpoint: Checkpoint,
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
        let checkpoint = Checkpoint(INSTALLED.with(|gate| gate.borrow().clone()));
        for i in 0..threads.max(1) {
            let (jobs, queued, depth) = (Arc::clone(&jobs), Arc::clone(&queued), depth.clone());
            let checkpoint = checkpoint.clone();
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
                        checkpoint.pass(JOB_TAKEN);
                        job()
                    }
                    Err(_) => return, // every handle is gone
                }
            })?;
        }
        Ok(BlockingPool { queue, queued, max_queued: max_queued.max(1), depth, checkpoint })
    }

    /// The places where a test's gate may hold this pool's jobs; passes them all in production.
    pub fn checkpoint(&self) -> Checkpoint {
        self.checkpoint.clone()
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
    if let Ok(value) = run_here(job) {
        // The caller may have gone away (call cancelled); that is fine.
        let _ = tx.send(value);
    }
}

/// Runs `job` on this thread, now, guarded as a pool's job is: a panic is logged and comes back
/// as [`JobFailed`]. For work too small to be worth handing to another thread and back (the
/// hand-over costs more than a few hundred bars of indicators).
pub fn run_here<F, R>(job: F) -> Result<R, JobFailed>
where
    F: FnOnce() -> R,
{
    catch_unwind(AssertUnwindSafe(job)).map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        log::error!("background job panicked: {what}");
        JobFailed
    })
}

// ---------------------------------------------------------------------------------------------
// Gates for tests

/// Where a worker has taken a job off the queue and not yet looked at whether its caller still
/// waits: a gate here holds the pool's threads, and the jobs behind them stay queued.
pub const JOB_TAKEN: &str = "job taken";

/// Holds work arriving at one named place until the test opens it, and tells the test what has
/// arrived. Tests of work that stops when its call ends use it to put the end of the call at a
/// known point of the work: wait until the work has arrived, end the call, open the gate.
///
/// Test plumbing: every pool outside those tests has none.
#[doc(hidden)]
pub struct Gate {
    place: &'static str,
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    open: bool,
}

impl Gate {
    /// A closed gate at `place` ([`JOB_TAKEN`], or a place of the work such as
    /// `service::graph::CHART_DRAWN`); the other places are passed freely.
    pub fn at(place: &'static str) -> Arc<Gate> {
        Arc::new(Gate { place, state: Mutex::default(), changed: Condvar::new() })
    }

    /// How many pieces of work have arrived at the place so far, held or let through.
    pub fn arrived(&self) -> usize {
        self.lock().arrived
    }

    /// Waits until `count` pieces of work have arrived, for at most `limit`; whether they did.
    pub fn wait_arrived(&self, count: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut state = self.lock();
        while state.arrived < count {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { return false };
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// Lets the held work go on, and all later work through.
    pub fn open(&self) {
        self.lock().open = true;
        self.changed.notify_all();
    }

    fn pass(&self, place: &str) {
        if place != self.place {
            return;
        }
        let mut state = self.lock();
        state.arrived += 1;
        self.changed.notify_all();
        while !state.open {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A test that panicked while holding the lock must not hang the server's threads.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The gate a pool's work passes at each named place: `None`, passed at the cost of a branch,
/// unless a test installed one.
#[derive(Clone, Default)]
pub struct Checkpoint(Option<Arc<Gate>>);

impl Checkpoint {
    /// Waits here while a test's gate at `place` is closed.
    pub fn pass(&self, place: &str) {
        if let Some(gate) = &self.0 {
            gate.pass(place);
        }
    }
}

thread_local! {
    // A thread-local, like the checkpoints of `output.rs`: the tests of one binary run in
    // parallel, each on its own thread, and each gate must reach only the server its test starts.
    static INSTALLED: RefCell<Option<Arc<Gate>>> = const { RefCell::new(None) };
}

/// Gives `gate` to every pool made on this thread until the guard drops: a test installs it
/// around `server::start`, which makes the server's pool on the calling thread.
#[doc(hidden)]
#[must_use = "the gate is installed only while the guard lives"]
pub fn install_gate(gate: &Arc<Gate>) -> GateInstalled {
    INSTALLED.with(|installed| *installed.borrow_mut() = Some(Arc::clone(gate)));
    GateInstalled(())
}

/// Removes the installed gate when dropped; pools already made keep it.
#[doc(hidden)]
pub struct GateInstalled(());

impl Drop for GateInstalled {
    fn drop(&mut self) {
        INSTALLED.with(|installed| *installed.borrow_mut() = None);
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

    #[test]
    fn a_gate_holds_the_pool_s_jobs_until_opened_and_only_pools_made_while_installed() {
        let gate = Gate::at(JOB_TAKEN);
        let gated = {
            let _installed = install_gate(&gate);
            pool(1, 8)
        };
        assert!(pool(1, 8).checkpoint.0.is_none(), "a pool made after the guard has no gate");
        let ran = Arc::new(AtomicUsize::new(0));
        let job = {
            let ran = Arc::clone(&ran);
            gated.run(move || ran.fetch_add(1, Ordering::SeqCst)).unwrap()
        };
        assert!(gate.wait_arrived(1, Duration::from_secs(10)), "the job reached the gate");
        let second = gated.run(|| 2).unwrap();
        assert_eq!((ran.load(Ordering::SeqCst), gated.queued()), (0, 1), "held: nothing ran, the next waits");
        gate.open();
        assert_eq!(block_on(job).unwrap(), 0);
        assert_eq!(block_on(second).unwrap(), 2);
        assert_eq!((ran.load(Ordering::SeqCst), gate.arrived()), (1, 2));
    }
}
