//! Threads and queues: who polls the network, who does the blocking work, and how much of it
//! may wait.

use super::bounds::Bounds;

/// The most completion queues or blocking threads accepted.
pub const MAX_THREADS: usize = 1024;
/// Completion queues and blocking threads alike.
pub const THREADS: Bounds<usize> = Bounds::new(1, MAX_THREADS, "a number");
/// Blocking jobs (file reads, chart renders) that may wait for a thread; one more gets
/// `RESOURCE_EXHAUSTED` at once. A 250-bar chart takes a few milliseconds, so 256 waiting jobs
/// are well under a second of work on two threads; an 8192x8192 one takes about a second.
pub const DEFAULT_MAX_BLOCKING_QUEUE: usize = 256;
/// The longest blocking queue accepted.
pub const MAX_BLOCKING_QUEUE: usize = 1_000_000;
pub const BLOCKING_QUEUE: Bounds<usize> = Bounds::new(1, MAX_BLOCKING_QUEUE, "a number");

/// The number of CPUs this process may use, at least 1.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One completion queue (and polling thread) per CPU.
pub fn default_completion_queues() -> usize {
    available_cpus().min(MAX_THREADS)
}

/// One blocking thread per CPU, and at least two, so one long render never holds up a file read.
pub fn default_blocking_threads() -> usize {
    available_cpus().clamp(2, MAX_THREADS)
}

/// The server's threads and its queue of blocking work. The two thread counts depend on the
/// machine, so `--help` and docs/configuration.md say "one per CPU" rather than show a number.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Threads and queues")]
pub struct Threads {
    /// gRPC completion queues, each polled by one thread.
    #[arg(long, default_value_t = default_completion_queues(), value_parser = THREADS.parser(), hide_default_value = true,
          help = format!("gRPC completion queues (threads polling the network), {THREADS}; default: one per CPU"))]
    pub completion_queues: usize,

    /// Threads for blocking work (file reads, chart renders).
    #[arg(long, default_value_t = default_blocking_threads(), value_parser = THREADS.parser(), hide_default_value = true,
          help = format!("Threads for blocking work (file reads, chart renders), {THREADS}; default: one per CPU, at least 2"))]
    pub blocking_threads: usize,

    /// Blocking jobs that may wait for a thread before calls get `RESOURCE_EXHAUSTED`.
    #[arg(long, default_value_t = DEFAULT_MAX_BLOCKING_QUEUE, value_parser = BLOCKING_QUEUE.parser(),
          help = format!("File reads and chart renders that may wait for a blocking thread, {BLOCKING_QUEUE}; beyond \
                          that a call gets RESOURCE_EXHAUSTED at once (the server is busy)"))]
    pub max_blocking_queue: usize,
}

/// `completion-queues 2 blocking-threads 2 max-blocking-queue 256`, for the start-up log line.
impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Threads { completion_queues, blocking_threads, max_blocking_queue } = self;
        write!(f, "completion-queues {completion_queues} blocking-threads {blocking_threads} ")?;
        write!(f, "max-blocking-queue {max_blocking_queue}")
    }
}

impl Default for Threads {
    fn default() -> Self {
        super::defaults()
    }
}

impl Threads {
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        THREADS.check("completion-queues", self.completion_queues)?;
        THREADS.check("blocking-threads", self.blocking_threads)?;
        BLOCKING_QUEUE.check("max-blocking-queue", self.max_blocking_queue)
    }
}
