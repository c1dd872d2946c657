//! Everything `idc_server` can be told, and every default, defined once.
//!
//! [`Config::default()`] is the server the article describes: parity mode on `[::]:50051`,
//! plaintext, no token. The binary maps its flags onto a `Config` and takes its defaults from
//! here; tests build one in code and start a complete server in process with
//! [`crate::server::start`].
//!
//! Where to change a default, in one hop:
//!
//! | what | where |
//! | --- | --- |
//! | host, port, chunk size, threads, blocking queue, drain delay, grace period, limits, keepalive, CSV delimiter | the `DEFAULT_*` constants below |
//! | MACD periods and convention | [`MacdParams::default`], [`Convention::default`] in [`crate::domain::macd`] |
//! | chart size | [`ChartSize::default`] in [`crate::domain::chart`] |
//! | the graph file of parity mode | [`DEFAULT_GRAPH_FILE`] |

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::bar::Delimiter;
use crate::domain::chart::ChartSize;
use crate::domain::macd::{Convention, MacdParams, ParamsError};

/// Listen on every interface, IPv6 and IPv4, as the article's server does.
pub const DEFAULT_HOST: &str = "[::]";
/// The article's port.
pub const DEFAULT_PORT: u16 = 50051;
/// Bytes per `MACDGraphReply`: the article's 1024.
pub const DEFAULT_CHUNK_SIZE: usize = 1024;
/// The largest chunk size: 4 MiB. Clients with gRPC's default 4 MiB receive limit (Python's,
/// among others) reject chunks above 4 MiB − 5 bytes, as each reply adds a field tag and a length
/// to the chunk; `idc_graph_client` raises its limit to accept them.
pub const MAX_CHUNK_SIZE: usize = 4 * 1024 * 1024;
/// Graph files up to this size are kept in memory between calls, keyed by what identifies their
/// content (device, inode, size, modification and change times), so a replaced or rewritten file
/// is picked up by the next call as the reference does. Larger files are streamed from disk a
/// block at a time, as a 1 GiB file should be.
pub const GRAPH_FILE_CACHE_MAX: u64 = 16 * 1024 * 1024;
/// Rendered charts kept for repeated requests (data mode), least recently used first out: at most
/// this many, and at most [`CHART_CACHE_BYTES`] of PNG. A 250-bar 1280x800 chart is about 90 KB.
pub const CHART_CACHE_CHARTS: usize = 64;
/// The most PNG bytes the chart cache holds.
pub const CHART_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Data mode encodes every row's reply bytes once at start-up when they take at most this much
/// (about 39 bytes a row: 16 MiB holds 430,000 rows), so a `GetMACD` reply is one copy; a longer
/// history is encoded call by call instead (about 18 ns a row), so that its memory stays that of
/// the bars and their MACD.
pub const PREBUILT_ROWS_BUDGET: usize = 16 * 1024 * 1024;
/// The delimiter of a `--data` CSV: detected from its header (`,`, `;` or tab).
pub const DEFAULT_CSV_DELIMITER: Delimiter = Delimiter::Auto;
/// The reference's graph file, streamed in parity mode when no graph file is given.
pub const DEFAULT_GRAPH_FILE: &str = "./macd.png";
/// How long calls in flight may run on after a shutdown starts.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// The longest grace period accepted.
pub const MAX_GRACE: Duration = Duration::from_secs(3600);
/// The largest request message accepted. Both requests are two dates, a few dozen bytes; 64 KiB
/// leaves room for clients that add fields we do not know, and keeps a hostile client from making
/// C-core buffer megabytes (gRPC's own default is 4 MiB).
pub const DEFAULT_MAX_RECEIVE_MESSAGE: usize = 64 * 1024;
/// The memory C-core may use for connections and calls (read buffers, received messages), in
/// MiB; under pressure it shrinks buffers and then resets the streams that hold the most.
/// Without a quota, C-core 1.56 buffers a request whose length prefix announces more than
/// `--max-receive-message` until the whole of it has arrived (it checks the size only then), so a
/// client could make the server hold gigabytes (measured in `tests/hostile.rs`: 64 MiB ends such
/// a stream within a second; 256 MiB let 64 MiB through). The server's own use under load is far
/// below it (a 200-client soak runs in about 25 MB of RSS). 0: no quota.
pub const DEFAULT_MEMORY_QUOTA_MIB: usize = 64;
/// Bounds of `max_receive_message`: a request needs at least a few bytes, and gRPC's own default
/// is the most it makes sense to allow for two dates.
pub const MAX_RECEIVE_MESSAGE_RANGE: (usize, usize) = (64, 4 * 1024 * 1024);
/// Concurrent calls one connection may have open; gRPC's own default is unlimited. 100 is what
/// HTTP/2 recommends as the least a server should allow, and far more than one client needs.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;
/// After this long without activity on a connection, the server pings the client, so that a
/// vanished peer (a pulled cable, a NAT that forgot the flow) is noticed.
pub const DEFAULT_KEEPALIVE_TIME: Duration = Duration::from_secs(60);
/// How long the server waits for the answer to a keepalive ping before it closes the connection.
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// Bounds of both keepalive durations: C-core counts milliseconds in an `int`.
pub const KEEPALIVE_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(24 * 3600));
/// Blocking jobs (file reads, chart renders) that may wait for a thread; one more gets
/// `RESOURCE_EXHAUSTED` at once. A 250-bar chart takes a few milliseconds, so 256 waiting jobs
/// are well under a second of work on two threads; an 8192x8192 one takes about a second.
pub const DEFAULT_MAX_BLOCKING_QUEUE: usize = 256;
/// How long the server keeps taking new calls after a shutdown signal, while health already
/// says NOT_SERVING, so that a load balancer notices before connections are refused.
pub const DEFAULT_DRAIN_DELAY: Duration = Duration::ZERO;
/// The most completion queues or blocking threads accepted.
pub const MAX_THREADS: usize = 1024;
/// The longest blocking queue accepted.
pub const MAX_BLOCKING_QUEUE: usize = 1_000_000;

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

/// Where `GetMACD` and the charts get their bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The embedded S&P 500 sample ([`crate::domain::sample`]).
    Sample,
    /// A CSV file of daily bars.
    Csv(PathBuf),
}

impl DataSource {
    /// `sample` or a path, as `--data` takes it.
    pub fn parse(text: &str) -> DataSource {
        if text == crate::domain::sample::NAME {
            DataSource::Sample
        } else {
            DataSource::Csv(PathBuf::from(text))
        }
    }
}

/// The PEM files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The private key of that certificate.
    pub key: PathBuf,
    /// When set, clients must present a certificate signed by one of these CAs (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// What the server serves and how.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host or address to bind: `[::]`, `0.0.0.0`, `127.0.0.1`, `[::1]`, `localhost`.
    pub host: String,
    /// TCP port; 0 lets the system pick a free one.
    pub port: u16,
    /// Let several processes listen on the same port (`SO_REUSEPORT`), for restarts without
    /// downtime. Off by default, so that a second server on a taken port fails to start instead
    /// of silently taking half of the clients.
    pub reuse_port: bool,

    /// `None`: parity mode, the article's placeholder rows. `Some`: real bars and MACD.
    pub data: Option<DataSource>,
    /// The instrument named in chart titles; default: "S&P 500" for the sample, else the file
    /// name.
    pub instrument: Option<String>,
    /// The field delimiter of a `--data` CSV file; the embedded sample is not affected.
    pub csv_delimiter: Delimiter,
    pub convention: Convention,
    pub macd: MacdParams,
    pub chart_size: ChartSize,
    /// The PNG that `GetMACDGraph` streams. When `None`: in parity mode [`DEFAULT_GRAPH_FILE`], or
    /// the chart of the embedded sample while that file does not exist; in data mode the chart of
    /// the requested range.
    pub graph_file: Option<PathBuf>,
    /// Bytes per `MACDGraphReply`, `1..=MAX_CHUNK_SIZE`.
    pub chunk_size: usize,

    /// gRPC completion queues, each polled by one thread.
    pub completion_queues: usize,
    /// Threads for blocking work (file reads, chart renders).
    pub blocking_threads: usize,
    /// After a shutdown signal: how long to go on taking new calls while health says NOT_SERVING.
    pub drain_delay: Duration,
    /// How long calls in flight may run on after the server stops taking new ones, before they
    /// are cancelled.
    pub grace: Duration,
    /// Blocking jobs that may wait for a thread before calls get `RESOURCE_EXHAUSTED`.
    pub max_blocking_queue: usize,
    /// `HOST:PORT` for the Prometheus endpoint (`/metrics`); `None`: off.
    pub metrics_addr: Option<String>,

    /// `None`: plaintext, as the article's server.
    pub tls: Option<TlsFiles>,
    /// A file holding the bearer token that every call but health must carry.
    pub auth_token_file: Option<PathBuf>,

    /// The largest request message, in bytes; larger ones get `RESOURCE_EXHAUSTED`.
    pub max_receive_message: usize,
    /// Concurrent calls per connection.
    pub max_concurrent_streams: u32,
    /// C-core's memory quota in MiB; 0: none.
    pub memory_quota_mib: usize,
    /// Whether a graph stream asks gRPC to coalesce its messages into fewer writes (grpcio's
    /// `enhance_batch`); measured in BENCHMARKS.md's tuning section.
    pub write_batching: bool,
    /// Raw C-core channel arguments (`grpc.http2.write_buffer_size` and the like), for tuning;
    /// applied after idc's own, so they win.
    pub grpc_args: Vec<GrpcArg>,
    pub keepalive_time: Duration,
    pub keepalive_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: DEFAULT_HOST.into(),
            port: DEFAULT_PORT,
            reuse_port: false,
            data: None,
            instrument: None,
            csv_delimiter: DEFAULT_CSV_DELIMITER,
            convention: Convention::default(),
            macd: MacdParams::default(),
            chart_size: ChartSize::default(),
            graph_file: None,
            chunk_size: DEFAULT_CHUNK_SIZE,
            completion_queues: default_completion_queues(),
            blocking_threads: default_blocking_threads(),
            drain_delay: DEFAULT_DRAIN_DELAY,
            grace: DEFAULT_GRACE,
            max_blocking_queue: DEFAULT_MAX_BLOCKING_QUEUE,
            metrics_addr: None,
            tls: None,
            auth_token_file: None,
            max_receive_message: DEFAULT_MAX_RECEIVE_MESSAGE,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            memory_quota_mib: DEFAULT_MEMORY_QUOTA_MIB,
            write_batching: true,
            grpc_args: Vec::new(),
            keepalive_time: DEFAULT_KEEPALIVE_TIME,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
        }
    }
}

/// One `--grpc-arg NAME=VALUE`: an integer value is passed as one, anything else as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcArg {
    pub name: String,
    pub value: GrpcArgValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrpcArgValue {
    Int(i32),
    Text(String),
}

impl std::str::FromStr for GrpcArg {
    type Err = String;

    fn from_str(text: &str) -> Result<GrpcArg, String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not NAME=VALUE, as in grpc.http2.write_buffer_size=262144"))?;
        if !name.starts_with("grpc.") || name.contains('\0') || value.contains('\0') {
            return Err(format!("{name:?} is not a gRPC channel argument name (they start with \"grpc.\")"));
        }
        let value = value.parse().map(GrpcArgValue::Int).unwrap_or_else(|_| GrpcArgValue::Text(value.to_string()));
        Ok(GrpcArg { name: name.to_string(), value })
    }
}

impl std::fmt::Display for GrpcArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            GrpcArgValue::Int(v) => write!(f, "{}={v}", self.name),
            GrpcArgValue::Text(v) => write!(f, "{}={v}", self.name),
        }
    }
}

/// A setting out of its range. Each message names the setting as the flag does.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--chunk-size {0} is out of range: use 1 to {MAX_CHUNK_SIZE} bytes")]
    ChunkSize(usize),
    #[error("--{name} {value} is out of range: use 1 to {MAX_THREADS}")]
    Threads { name: &'static str, value: usize },
    #[error("--grace-period {0:?} is too long: at most {MAX_GRACE:?}")]
    Grace(Duration),
    #[error("--drain-delay {0:?} is too long: at most {MAX_GRACE:?}")]
    DrainDelay(Duration),
    #[error("--max-blocking-queue {0} is out of range: use 1 to {MAX_BLOCKING_QUEUE}")]
    BlockingQueue(usize),
    #[error("--max-receive-message {value} is out of range: use {} to {} bytes", MAX_RECEIVE_MESSAGE_RANGE.0, MAX_RECEIVE_MESSAGE_RANGE.1)]
    MaxReceiveMessage { value: usize },
    #[error("--max-concurrent-streams must be at least 1")]
    MaxConcurrentStreams,
    #[error("--{name} {value:?} is out of range: use 1 s to 24 h")]
    Keepalive { name: &'static str, value: Duration },
    #[error(transparent)]
    Macd(#[from] ParamsError),
}

impl Config {
    /// Checks every setting against its range, so that a library caller gets the same refusals
    /// as the flags give.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(ConfigError::ChunkSize(self.chunk_size));
        }
        for (name, value) in
            [("completion-queues", self.completion_queues), ("blocking-threads", self.blocking_threads)]
        {
            if !(1..=MAX_THREADS).contains(&value) {
                return Err(ConfigError::Threads { name, value });
            }
        }
        if self.grace > MAX_GRACE {
            return Err(ConfigError::Grace(self.grace));
        }
        if self.drain_delay > MAX_GRACE {
            return Err(ConfigError::DrainDelay(self.drain_delay));
        }
        if !(1..=MAX_BLOCKING_QUEUE).contains(&self.max_blocking_queue) {
            return Err(ConfigError::BlockingQueue(self.max_blocking_queue));
        }
        let (low, high) = MAX_RECEIVE_MESSAGE_RANGE;
        if !(low..=high).contains(&self.max_receive_message) {
            return Err(ConfigError::MaxReceiveMessage { value: self.max_receive_message });
        }
        if self.max_concurrent_streams == 0 {
            return Err(ConfigError::MaxConcurrentStreams);
        }
        let (shortest, longest) = KEEPALIVE_RANGE;
        for (name, value) in [("keepalive-time", self.keepalive_time), ("keepalive-timeout", self.keepalive_timeout)] {
            if !(shortest..=longest).contains(&value) {
                return Err(ConfigError::Keepalive { name, value });
            }
        }
        self.macd.validate()?;
        Ok(())
    }

    /// Whether the service computes from real bars (`--data`).
    pub fn is_data_mode(&self) -> bool {
        self.data.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_articles_server_and_valid() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!((config.host.as_str(), config.port, config.chunk_size), ("[::]", 50051, 1024));
        assert!(!config.reuse_port && config.tls.is_none() && config.auth_token_file.is_none());
        assert!(!config.is_data_mode());
    }

    #[test]
    fn out_of_range_settings_are_refused_by_name() {
        let refused = |config: Config| config.validate().unwrap_err().to_string();
        assert!(refused(Config { chunk_size: 0, ..Config::default() }).contains("--chunk-size 0"));
        assert!(refused(Config { blocking_threads: 0, ..Config::default() }).contains("--blocking-threads"));
        assert!(refused(Config { max_receive_message: 1, ..Config::default() }).contains("--max-receive-message"));
        let zero = Duration::ZERO;
        assert!(refused(Config { keepalive_timeout: zero, ..Config::default() }).contains("--keepalive-timeout"));
        let macd = MacdParams { fast: 30, slow: 26, signal: 9 };
        assert!(refused(Config { macd, ..Config::default() }).contains("shorter than the slow"));
    }

    #[test]
    fn grpc_args_parse_integers_and_strings_and_refuse_other_names() {
        let int: GrpcArg = "grpc.http2.bdp_probe=0".parse().unwrap();
        assert_eq!(int, GrpcArg { name: "grpc.http2.bdp_probe".into(), value: GrpcArgValue::Int(0) });
        let text: GrpcArg = "grpc.primary_user_agent=idc bench".parse().unwrap();
        assert_eq!(text.value, GrpcArgValue::Text("idc bench".into()));
        assert_eq!(text.to_string(), "grpc.primary_user_agent=idc bench");
        assert!("grpc.http2.bdp_probe".parse::<GrpcArg>().unwrap_err().contains("NAME=VALUE"));
        assert!("http2.bdp_probe=0".parse::<GrpcArg>().unwrap_err().contains("start with"));
    }
}
