//! `idc_server`: serves `idc.Indicator` and `idc.IndicatorGraph` on one port until SIGINT or
//! SIGTERM, or with `--render-chart` writes one chart and exits. Parses flags into a library
//! [`Config`], sets up logging, and hands over to the library.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use idc::config::{self, Config, DataSource, TlsFiles};
use idc::domain::bar::Delimiter;
use idc::domain::chart::ChartSize;
use idc::domain::macd::{Convention, MacdParams, MAX_PERIOD};
use idc::server;

/// gRPC indicator server: MACD rows (GetMACD) and the MACD chart as PNG chunks (GetMACDGraph).
///
/// Without --data it answers exactly as the article's Python server (parity mode). With --data
/// it serves real daily bars, their MACD, and charts of the requested range.
///
/// Logs go to stderr (level set by RUST_LOG, default info); stdout carries only the start-up
/// line `Server started, listening on PORT`.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on: [::] for every interface, 127.0.0.1 or [::1] for this machine only.
    #[arg(long, default_value = config::DEFAULT_HOST)]
    host: String,

    /// Port to listen on, 0 to 65535; 0 picks a free port (printed at start-up).
    #[arg(long, default_value_t = config::DEFAULT_PORT)]
    port: u16,

    /// Let other processes listen on the same port (SO_REUSEPORT), for restarts without downtime.
    /// Without it, a port that another server holds stops this one at start-up.
    #[arg(long)]
    reuse_port: bool,

    /// PNG file streamed by GetMACDGraph, read anew for every call. Default: ./macd.png in
    /// parity mode, streaming the chart of the embedded sample while that file does not exist;
    /// in data mode, a chart of the requested range.
    #[arg(long)]
    graph_file: Option<PathBuf>,

    /// Bytes per GetMACDGraph message, 1 to 4194304 (4 MiB).
    #[arg(long, default_value_t = config::DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,

    /// Serve real data: a CSV with the header date,open,high,low,close[,volume], or `sample`
    /// for the embedded S&P 500 daily bars (1999-2018).
    #[arg(long, value_name = "PATH|sample")]
    data: Option<String>,

    /// The field delimiter of the --data CSV: auto (the first of comma, semicolon and tab that
    /// splits the header into its columns), comma, semicolon or tab.
    #[arg(long, value_name = "auto|comma|semicolon|tab", default_value_t = config::DEFAULT_CSV_DELIMITER)]
    csv_delimiter: Delimiter,

    /// Instrument name for chart titles. Default: "S&P 500" for the sample, else the file name.
    #[arg(long)]
    instrument: Option<String>,

    /// MACD convention: cn (EMAs seeded with the first close, macd = 2 x (DIF - DEA)) or talib
    /// (TA-Lib's seeding and lookback, macd = DIF - DEA). With --data or --render-chart.
    #[arg(long, default_value_t = Convention::default())]
    convention: Convention,

    /// Fast EMA period, 1 to 10000, shorter than --slow.
    #[arg(long, default_value_t = MacdParams::default().fast, value_parser = period)]
    fast: usize,

    /// Slow EMA period, 2 to 10000.
    #[arg(long, default_value_t = MacdParams::default().slow, value_parser = period)]
    slow: usize,

    /// Signal (DEA) EMA period, 1 to 10000.
    #[arg(long, default_value_t = MacdParams::default().signal, value_parser = period)]
    signal: usize,

    /// Chart size in pixels, WIDTHxHEIGHT, from 320x240 to 8192x8192.
    #[arg(long, default_value_t = ChartSize::default())]
    chart_size: ChartSize,

    /// Write the chart of --start-date..--end-date to this PNG and exit, without serving. Uses
    /// --data, or the embedded sample. A symbolic link's target is replaced; `-` (stdout), a
    /// character device or a FIFO is written directly.
    #[arg(long, value_name = "OUT.png")]
    render_chart: Option<PathBuf>,

    /// With --render-chart: first day, YYYY-MM-DD (empty: the first bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    start_date: String,

    /// With --render-chart: last day, YYYY-MM-DD (empty: the last bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    end_date: String,

    /// gRPC completion queues (threads polling the network), 1 to 1024; default: one per CPU.
    #[arg(long, default_value_t = config::default_completion_queues(), value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    completion_queues: usize,

    /// Threads for blocking work (file reads, chart renders), 1 to 1024; default: one per CPU,
    /// at least 2.
    #[arg(long, default_value_t = config::default_blocking_threads(), value_parser = clap::value_parser!(u16).range(1..=1024).map(usize::from))]
    blocking_threads: usize,

    /// Seconds, 0 to 3600, that calls in flight may take to finish after SIGINT/SIGTERM before
    /// they are cancelled.
    #[arg(long, default_value_t = config::DEFAULT_GRACE.as_secs_f64(), value_parser = seconds_up_to(3600.0, 0.0))]
    grace_period: f64,

    /// Seconds, 0 to 3600, that the server goes on taking new calls after SIGINT/SIGTERM while
    /// health already says NOT_SERVING, so that a load balancer can notice.
    #[arg(long, default_value_t = config::DEFAULT_DRAIN_DELAY.as_secs_f64(), value_parser = seconds_up_to(3600.0, 0.0))]
    drain_delay: f64,

    /// File reads and chart renders that may wait for a blocking thread, 1 to 1000000; beyond
    /// that a call gets RESOURCE_EXHAUSTED at once (the server is busy).
    #[arg(long, default_value_t = config::DEFAULT_MAX_BLOCKING_QUEUE, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|v| v as usize))]
    max_blocking_queue: usize,

    /// Serve Prometheus metrics at http://HOST:PORT/metrics (off by default).
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,

    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The private key (PEM, unencrypted) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Require clients to present a certificate signed by a CA in this PEM file (mutual TLS).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,

    /// Require `authorization: Bearer TOKEN` on every call but health checks, TOKEN being the
    /// first line of this file (keep it private: chmod 600).
    #[arg(long, value_name = "FILE")]
    auth_token_file: Option<PathBuf>,

    /// Largest request message in bytes, 64 to 4194304; larger ones get RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = config::DEFAULT_MAX_RECEIVE_MESSAGE, value_parser = clap::value_parser!(u32).range(64..=4_194_304).map(|v| v as usize))]
    max_receive_message: usize,

    /// MiB of memory gRPC may use for connections and requests, 0 (no limit) to 1048576; past it,
    /// gRPC shrinks its buffers and then resets the streams holding the most (a client sending a
    /// request far larger than --max-receive-message, for one).
    #[arg(long, default_value_t = config::DEFAULT_MEMORY_QUOTA_MIB, value_parser = clap::value_parser!(u32).range(0..=1_048_576).map(|v| v as usize))]
    memory_quota_mib: usize,

    /// Send each graph chunk as its own write instead of letting gRPC coalesce them (slower; for
    /// measurement: see BENCHMARKS.md, "Tuning").
    #[arg(long)]
    no_write_batching: bool,

    /// A raw gRPC C-core channel argument, NAME=VALUE (repeatable), e.g.
    /// grpc.http2.write_buffer_size=262144 or grpc.http2.bdp_probe=0; for tuning, applied last.
    #[arg(long, value_name = "NAME=VALUE")]
    grpc_arg: Vec<config::GrpcArg>,

    /// Concurrent calls one connection may have open, 1 to 1000000.
    #[arg(long, default_value_t = config::DEFAULT_MAX_CONCURRENT_STREAMS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_concurrent_streams: u32,

    /// Seconds, 1 to 86400, of silence on a connection after which the server pings the client.
    #[arg(long, default_value_t = config::DEFAULT_KEEPALIVE_TIME.as_secs_f64(), value_parser = seconds_up_to(86400.0, 1.0))]
    keepalive_time: f64,

    /// Seconds, 1 to 86400, to wait for a keepalive ping's answer before closing the connection.
    #[arg(long, default_value_t = config::DEFAULT_KEEPALIVE_TIMEOUT.as_secs_f64(), value_parser = seconds_up_to(86400.0, 1.0))]
    keepalive_timeout: f64,
}

/// An EMA period: 1 to [`MAX_PERIOD`].
fn period(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_PERIOD).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a period from 1 to {MAX_PERIOD} bars")),
    }
}

/// A number of seconds from `low` to `high`.
fn seconds_up_to(high: f64, low: f64) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |text: &str| match text.parse::<f64>() {
        Ok(s) if (low..=high).contains(&s) => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds from {low} to {high}")),
    }
}

impl Args {
    fn config(&self) -> Config {
        Config {
            host: self.host.clone(),
            port: self.port,
            reuse_port: self.reuse_port,
            data: self.data.as_deref().map(DataSource::parse),
            instrument: self.instrument.clone(),
            csv_delimiter: self.csv_delimiter,
            convention: self.convention,
            macd: MacdParams { fast: self.fast, slow: self.slow, signal: self.signal },
            chart_size: self.chart_size,
            graph_file: self.graph_file.clone(),
            chunk_size: self.chunk_size,
            completion_queues: self.completion_queues,
            blocking_threads: self.blocking_threads,
            drain_delay: Duration::from_secs_f64(self.drain_delay),
            grace: Duration::from_secs_f64(self.grace_period),
            max_blocking_queue: self.max_blocking_queue,
            metrics_addr: self.metrics_addr.clone(),
            tls: self.tls_cert.as_ref().zip(self.tls_key.as_ref()).map(|(cert, key)| TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            }),
            auth_token_file: self.auth_token_file.clone(),
            max_receive_message: self.max_receive_message,
            memory_quota_mib: self.memory_quota_mib,
            write_batching: !self.no_write_batching,
            grpc_args: self.grpc_arg.clone(),
            max_concurrent_streams: self.max_concurrent_streams,
            keepalive_time: Duration::from_secs_f64(self.keepalive_time),
            keepalive_timeout: Duration::from_secs_f64(self.keepalive_timeout),
        }
    }
}

fn main() -> ExitCode {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    cli::init_logs("info", "error");
    match run(&args, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, with the causes, and no backtrace even when RUST_BACKTRACE is set.
            cli::report("idc_server", format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, matches: &ArgMatches) -> anyhow::Result<()> {
    let config = args.config();
    config.validate()?;
    if let Some(out) = &args.render_chart {
        remove_partial_file_on_signal();
        let bytes = idc::data::render_chart_file(&config, &args.start_date, &args.end_date, out)?;
        let shown = if out.as_os_str() == "-" { "stdout".into() } else { out.display().to_string() };
        log::info!("wrote {shown} ({bytes} bytes)");
        return Ok(());
    }
    warn_about_ignored_flags(&config, matches);
    log::info!("configuration: {}", describe(&config));

    let shutdown = server::shutdown::signal().context("cannot install the SIGINT/SIGTERM handler")?;
    let running = server::start(&config)?;

    // The reference prints exactly this line; scripts wait for it to know the port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Server started, listening on {}", running.port())?;
    stdout.flush()?;
    drop(stdout);

    running.serve_until(shutdown);
    Ok(())
}

/// With --render-chart, SIGINT, SIGTERM or SIGHUP removes the chart's temporary file before the
/// process exits (no destructor runs on a signal exit).
fn remove_partial_file_on_signal() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    idc::output::remove_partial_files();
                    std::process::exit(128 + signal);
                }
            });
        }
        Err(e) => log::warn!(
            "cannot handle SIGINT/SIGTERM/SIGHUP ({e}); an interrupted --render-chart may leave a .part file"
        ),
    }
}

/// The MACD flags shape data mode's answers only; given without --data, they would do nothing.
fn warn_about_ignored_flags(config: &Config, matches: &ArgMatches) {
    if config.is_data_mode() {
        return;
    }
    let given: Vec<String> = ["instrument", "csv_delimiter", "convention", "fast", "slow", "signal"]
        .into_iter()
        .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if !given.is_empty() {
        let verb = if given.len() == 1 { "applies" } else { "apply" };
        let it = if given.len() == 1 { "it" } else { "them" };
        log::warn!("{} {verb} only with --data (or --render-chart); parity mode ignores {it}", given.join(", "));
    }
}

/// The whole configuration on one line, for the log. Paths are shown; what is in the token or
/// key files never is.
fn describe(config: &Config) -> String {
    let path = |p: &Option<PathBuf>| p.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string());
    let data = match &config.data {
        None => "none (parity mode)".to_string(),
        Some(DataSource::Sample) => "sample".to_string(),
        Some(DataSource::Csv(p)) => p.display().to_string(),
    };
    let tls = match &config.tls {
        None => "off".to_string(),
        Some(files) => {
            format!("cert {} key {} client-ca {}", files.cert.display(), files.key.display(), path(&files.client_ca))
        }
    };
    format!(
        "host {} port {} reuse-port {} data {data} csv-delimiter {} instrument {} convention {} macd {},{},{} \
         chart-size {} graph-file {} chunk-size {} completion-queues {} blocking-threads {} max-blocking-queue {} \
         drain-delay {} grace-period {} metrics-addr {} tls {tls} auth-token-file {} max-receive-message {} \
         max-concurrent-streams {} memory-quota {} keepalive-time {} keepalive-timeout {} write-batching {} \
         grpc-args [{}]",
        config.host,
        config.port,
        config.reuse_port,
        config.csv_delimiter,
        config.instrument.as_deref().unwrap_or("default"),
        config.convention,
        config.macd.fast,
        config.macd.slow,
        config.macd.signal,
        config.chart_size,
        path(&config.graph_file),
        config.chunk_size,
        config.completion_queues,
        config.blocking_threads,
        config.max_blocking_queue,
        server::seconds(config.drain_delay),
        server::seconds(config.grace),
        config.metrics_addr.as_deref().unwrap_or("off"),
        path(&config.auth_token_file),
        config.max_receive_message,
        config.max_concurrent_streams,
        match config.memory_quota_mib {
            0 => "off".to_string(),
            mib => format!("{mib} MiB"),
        },
        server::seconds(config.keepalive_time),
        server::seconds(config.keepalive_timeout),
        config.write_batching,
        config.grpc_args.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
    )
}
