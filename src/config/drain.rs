//! Drain: how a shutdown lets load balancers notice and calls in flight finish.

use std::time::Duration;

use super::bounds::Bounds;

/// How long the server keeps taking new calls after a shutdown signal, while health already
/// says NOT_SERVING, so that a load balancer notices before connections are refused; in seconds,
/// as the flag takes it.
pub const DEFAULT_DRAIN_DELAY: &str = "0";
/// How long calls in flight may run on after a shutdown starts, in seconds.
pub const DEFAULT_GRACE_PERIOD: &str = "5";
/// The longest drain delay or grace period accepted.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);
/// Both drain durations.
pub const DRAIN: Bounds<Duration> = Bounds::new(Duration::ZERO, MAX_GRACE, "a number of seconds");

/// The steps of a graceful shutdown (see [`crate::server`]).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Drain")]
pub struct Drain {
    /// After a shutdown signal: how long to go on taking new calls while health says NOT_SERVING.
    #[arg(long, value_name = "SECONDS", default_value = DEFAULT_DRAIN_DELAY, value_parser = DRAIN.parser(),
          help = format!("Seconds, {DRAIN}, that the server goes on taking new calls after SIGINT/SIGTERM while \
                          health already says NOT_SERVING, so that a load balancer can notice"))]
    pub drain_delay: Duration,

    /// How long calls in flight may run on after the server stops taking new ones, before they
    /// are cancelled.
    #[arg(long, value_name = "SECONDS", default_value = DEFAULT_GRACE_PERIOD, value_parser = DRAIN.parser(),
          help = format!("Seconds, {DRAIN}, that calls in flight may take to finish after SIGINT/SIGTERM before \
                          they are cancelled"))]
    pub grace_period: Duration,
}

/// `drain-delay 0 s grace-period 5 s`, for the start-up log line.
impl std::fmt::Display for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (delay, grace) = (super::seconds(self.drain_delay), super::seconds(self.grace_period));
        write!(f, "drain-delay {delay} grace-period {grace}")
    }
}

impl Default for Drain {
    fn default() -> Self {
        super::defaults()
    }
}

impl Drain {
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        DRAIN.check("drain-delay", self.drain_delay)?;
        DRAIN.check("grace-period", self.grace_period)
    }
}
