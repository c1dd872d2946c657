//! Limits: how large a request, how many calls on one connection, how much memory gRPC may use,
//! and how long a silent connection is kept.

use std::time::Duration;

use super::bounds::Bounds;

/// The largest request message accepted. The article's requests are two dates, a few dozen bytes;
/// the largest v2 request within its limits, 10,000 symbols of up to 64 bytes, is about 700 KB, so
/// 1 MiB takes every valid request and still keeps a hostile client from making C-core buffer
/// megabytes (gRPC's own default is 4 MiB).
pub const DEFAULT_MAX_RECEIVE_MESSAGE: usize = 1024 * 1024;
/// A request needs at least a few bytes, and gRPC's own default is the most it makes sense to
/// allow for two dates.
pub const MAX_RECEIVE_MESSAGE: Bounds<usize> = Bounds::new(64, 4 * 1024 * 1024, "a number of bytes");
/// Concurrent calls one connection may have open; gRPC's own default is unlimited. 100 is what
/// HTTP/2 recommends as the least a server should allow, and far more than one client needs.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
pub const MAX_CONCURRENT_STREAMS: Bounds<u32> = Bounds::new(1, 1_000_000, "a number");
/// The memory C-core may use for connections and calls (read buffers, received messages), in
/// MiB; under pressure it shrinks buffers and then resets the streams that hold the most.
/// Without a quota, C-core 1.56 buffers a request whose length prefix announces more than
/// `--max-receive-message` until the whole of it has arrived (it checks the size only then), so a
/// client could make the server hold gigabytes (measured in `tests/hostile.rs`: 64 MiB ends such
/// a stream within a second; 256 MiB let 64 MiB through). The server's own use under load is far
/// below it (a 200-client soak runs in about 25 MB of RSS). 0: no quota.
pub const DEFAULT_MEMORY_QUOTA_MIB: usize = 64;
pub const MEMORY_QUOTA_MIB: Bounds<usize> = Bounds::new(0, 1_048_576, "a number of MiB");
/// After this long without activity on a connection, the server pings the client, so that a
/// vanished peer (a pulled cable, a NAT that forgot the flow) is noticed; in seconds.
pub const DEFAULT_KEEPALIVE_TIME: &str = "60";
/// How long the server waits for the answer to a keepalive ping before it closes the connection,
/// in seconds.
pub const DEFAULT_KEEPALIVE_TIMEOUT: &str = "20";
/// Both keepalive durations: C-core counts milliseconds in an `int`.
pub const KEEPALIVE: Bounds<Duration> =
    Bounds::new(Duration::from_secs(1), Duration::from_secs(24 * 3600), "a number of seconds");
/// A connection older than this is asked to go away (GOAWAY), so that clients reconnect and a
/// load balancer spreads them again over the replicas there are now; calls in flight finish.
/// C-core adds up to 10 % of jitter, so that clients do not reconnect all at once.
pub const MAX_CONNECTION_AGE: Bounds<Duration> =
    Bounds::new(Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600), "a number of seconds");
/// Open `Subscribe` streams per server: each holds a queue and its share of the indicator states,
/// so a bound keeps a flood of subscriptions from taking the memory of the pushes.
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 10_000;
pub const MAX_SUBSCRIPTIONS: Bounds<usize> = Bounds::new(1, 1_000_000, "a number");
/// Updates queued for one subscriber: at a bar a second, 1,024 is a quarter of an hour of a slow
/// reader; past it the subscriber is ended, so that it never holds up the pushes or the others.
pub const DEFAULT_SUBSCRIBER_QUEUE: usize = 1024;
pub const SUBSCRIBER_QUEUE: Bounds<usize> = Bounds::new(1, 1_048_576, "a number of updates");

/// What one client may ask of the server.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Limits")]
pub struct Limits {
    /// The largest request message, in bytes; larger ones get `RESOURCE_EXHAUSTED`.
    #[arg(long, default_value_t = DEFAULT_MAX_RECEIVE_MESSAGE, value_parser = MAX_RECEIVE_MESSAGE.parser(),
          help = format!("Largest request message in bytes, {MAX_RECEIVE_MESSAGE}; larger ones get RESOURCE_EXHAUSTED"))]
    pub max_receive_message: usize,

    /// Concurrent calls per connection.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_STREAMS, value_parser = MAX_CONCURRENT_STREAMS.parser(),
          help = format!("Concurrent calls one connection may have open, {MAX_CONCURRENT_STREAMS}"))]
    pub max_concurrent_streams: u32,

    /// C-core's memory quota in MiB; 0: none.
    #[arg(long, default_value_t = DEFAULT_MEMORY_QUOTA_MIB, value_parser = MEMORY_QUOTA_MIB.parser(),
          help = format!("MiB of memory gRPC may use for connections and requests, {MEMORY_QUOTA_MIB} (0: no limit); \
                          past it, gRPC shrinks its buffers and then resets the streams holding the most (a client \
                          sending a request far larger than --max-receive-message, for one)"))]
    pub memory_quota_mib: usize,

    /// Silence on a connection after which the server pings the client.
    #[arg(long, value_name = "SECONDS", default_value = DEFAULT_KEEPALIVE_TIME, value_parser = KEEPALIVE.parser(),
          help = format!("Seconds, {KEEPALIVE}, of silence on a connection after which the server pings the client"))]
    pub keepalive_time: Duration,

    /// How long to wait for a keepalive ping's answer.
    #[arg(long, value_name = "SECONDS", default_value = DEFAULT_KEEPALIVE_TIMEOUT, value_parser = KEEPALIVE.parser(),
          help = format!("Seconds, {KEEPALIVE}, to wait for a keepalive ping's answer before closing the connection"))]
    pub keepalive_timeout: Duration,

    /// The age at which a connection is asked to go away; `None`: never.
    #[arg(long, value_name = "SECONDS", value_parser = MAX_CONNECTION_AGE.parser(),
          help = format!("Seconds, {MAX_CONNECTION_AGE}, after which a connection is asked to go away (its calls \
                          finish), so that clients reconnect and a load balancer spreads them over the replicas \
                          there are now (off by default)"))]
    pub max_connection_age: Option<Duration>,

    /// Open Subscribe streams per server.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_SUBSCRIPTIONS, value_parser = MAX_SUBSCRIPTIONS.parser(),
          help = format!("Open Subscribe streams per server, {MAX_SUBSCRIPTIONS}; beyond, RESOURCE_EXHAUSTED"))]
    pub max_subscriptions: usize,

    /// Updates queued for one subscriber before it is ended as too slow.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SUBSCRIBER_QUEUE, value_parser = SUBSCRIBER_QUEUE.parser(),
          help = format!("Updates queued for one subscriber, {SUBSCRIBER_QUEUE}; one that falls this far behind is \
                          ended with RESOURCE_EXHAUSTED, so that it never holds up the pushes or the other subscribers"))]
    pub subscriber_queue: usize,
}

/// `max-receive-message 65536 max-concurrent-streams 100 memory-quota 64 MiB keepalive-time 60 s
/// keepalive-timeout 20 s`, for the start-up log line.
impl std::fmt::Display for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quota = match self.memory_quota_mib {
            0 => "off".to_string(),
            mib => format!("{mib} MiB"),
        };
        write!(
            f,
            "max-receive-message {} max-concurrent-streams {}",
            self.max_receive_message, self.max_concurrent_streams
        )?;
        write!(f, " memory-quota {quota} keepalive-time {}", super::seconds(self.keepalive_time))?;
        write!(f, " keepalive-timeout {}", super::seconds(self.keepalive_timeout))?;
        let age = self.max_connection_age.map_or_else(|| "off".to_string(), super::seconds);
        write!(f, " max-connection-age {age}")?;
        write!(f, " max-subscriptions {} subscriber-queue {}", self.max_subscriptions, self.subscriber_queue)
    }
}

impl Default for Limits {
    fn default() -> Self {
        super::defaults()
    }
}

impl Limits {
    pub(super) fn validate(&self) -> Result<(), super::ConfigError> {
        MAX_RECEIVE_MESSAGE.check("max-receive-message", self.max_receive_message)?;
        MAX_CONCURRENT_STREAMS.check("max-concurrent-streams", self.max_concurrent_streams)?;
        MEMORY_QUOTA_MIB.check("memory-quota-mib", self.memory_quota_mib)?;
        KEEPALIVE.check("keepalive-time", self.keepalive_time)?;
        KEEPALIVE.check("keepalive-timeout", self.keepalive_timeout)?;
        MAX_SUBSCRIPTIONS.check("max-subscriptions", self.max_subscriptions)?;
        SUBSCRIBER_QUEUE.check("subscriber-queue", self.subscriber_queue)?;
        self.max_connection_age.map_or(Ok(()), |age| MAX_CONNECTION_AGE.check("max-connection-age", age))
    }
}
