//! `idc_server`: serves `idc.Indicator` and `idc.IndicatorGraph` on one port until SIGINT or
//! SIGTERM, or with `--render-chart` writes one chart and exits. Parses flags, sets up logging,
//! and hands over to the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use idc::domain::analysis::Analysis;
use idc::domain::bar::parse_csv;
use idc::domain::chart::ChartSize;
use idc::domain::date::DateRange;
use idc::domain::macd::{Convention, MacdParams};
use idc::domain::sample;
use idc::output::AtomicFile;
use idc::server::{self, ServerConfig};
use idc::service::{Mode, ServiceConfig, Services};

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
    #[arg(long, default_value = "[::]")]
    host: String,

    /// Port to listen on; 0 picks a free port (printed at start-up).
    #[arg(long, default_value_t = 50051)]
    port: u16,

    /// PNG file streamed by GetMACDGraph, read anew for every call. Default: ./macd.png in
    /// parity mode, streaming the chart of the embedded sample while that file does not exist;
    /// in data mode, a chart of the requested range.
    #[arg(long)]
    graph_file: Option<PathBuf>,

    /// Bytes per GetMACDGraph message, 1 to 4194304 (4 MiB).
    #[arg(long, default_value_t = 1024)]
    chunk_size: usize,

    /// Serve real data: a CSV with the header date,open,high,low,close[,volume], or `sample`
    /// for the embedded S&P 500 daily bars (1999-2018).
    #[arg(long, value_name = "PATH|sample")]
    data: Option<String>,

    /// Instrument name for chart titles. Default: "S&P 500" for the sample, else the file name.
    #[arg(long)]
    instrument: Option<String>,

    /// MACD convention: cn (EMAs seeded with the first close, macd = 2 x (DIF - DEA)) or talib
    /// (TA-Lib's seeding and lookback, macd = DIF - DEA).
    #[arg(long, default_value = "cn")]
    convention: Convention,

    /// Fast EMA period.
    #[arg(long, default_value_t = 12)]
    fast: usize,

    /// Slow EMA period.
    #[arg(long, default_value_t = 26)]
    slow: usize,

    /// Signal (DEA) EMA period.
    #[arg(long, default_value_t = 9)]
    signal: usize,

    /// Chart size in pixels, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800")]
    chart_size: ChartSize,

    /// Write the chart of --start-date..--end-date to this PNG and exit, without serving. Uses
    /// --data, or the embedded sample.
    #[arg(long, value_name = "OUT.png")]
    render_chart: Option<PathBuf>,

    /// With --render-chart: first day, YYYY-MM-DD (empty: the first bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    start_date: String,

    /// With --render-chart: last day, YYYY-MM-DD (empty: the last bar).
    #[arg(long, default_value = "", requires = "render_chart")]
    end_date: String,

    /// gRPC completion queues (threads polling the network); default: one per CPU.
    #[arg(long, default_value_t = server::default_parallelism(), value_parser = clap::value_parser!(u16).range(1..=256))]
    completion_queues: u16,

    /// Threads for blocking work (file reads, chart renders); default: one per CPU, at least 2.
    #[arg(long, default_value_t = server::default_parallelism().max(2), value_parser = clap::value_parser!(u16).range(1..=1024))]
    blocking_threads: u16,

    /// Seconds that calls in flight may take to finish after SIGINT/SIGTERM before they are
    /// cancelled.
    #[arg(long, default_value_t = 5.0, value_parser = parse_grace)]
    grace_period: f64,
}

/// `--grace-period`: 0 to 3600 seconds.
fn parse_grace(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.0..=3600.0).contains(&s) => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds from 0 to 3600")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, with the causes, and no backtrace even when RUST_BACKTRACE is set.
            eprintln!("idc_server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let params = MacdParams { fast: args.fast, slow: args.slow, signal: args.signal }.validate()?;

    if let Some(out) = &args.render_chart {
        let source = args.data.as_deref().unwrap_or(sample::NAME);
        let analysis = load(source, args.instrument.clone(), params, args.convention)?;
        return render_chart(&analysis, &args, out);
    }

    let mode = match &args.data {
        Some(source) => Mode::Data(Arc::new(load(source, args.instrument.clone(), params, args.convention)?)),
        None => Mode::Parity,
    };
    let services = Services::new(&ServiceConfig {
        mode,
        graph_file: args.graph_file,
        chunk_size: args.chunk_size,
        chart_size: args.chart_size,
        blocking_threads: args.blocking_threads.into(),
    })?;
    let config = ServerConfig {
        host: args.host,
        port: args.port,
        completion_queues: args.completion_queues.into(),
        grace: Duration::from_secs_f64(args.grace_period),
    };
    let shutdown = idc::shutdown::signal().context("cannot install the SIGINT/SIGTERM handler")?;
    let running = server::start(&config, services.into_grpc())?;

    // The reference prints exactly this line; scripts wait for it to know the port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Server started, listening on {}", running.port())?;
    stdout.flush()?;
    drop(stdout);

    running.serve_until(shutdown);
    Ok(())
}

/// Loads and checks the bars of `--data`, and computes their MACD.
fn load(
    source: &str,
    instrument: Option<String>,
    params: MacdParams,
    convention: Convention,
) -> anyhow::Result<Analysis> {
    let (bars, default_name) = if source == sample::NAME {
        (sample::bars()?, sample::INSTRUMENT.to_string())
    } else {
        let path = Path::new(source);
        let bytes = std::fs::read(path).with_context(|| format!("cannot read --data {source}"))?;
        let stem = path.file_stem().map_or_else(|| source.to_string(), |s| s.to_string_lossy().into_owned());
        (parse_csv(source, &bytes)?, stem)
    };
    let analysis = Analysis::new(instrument.unwrap_or(default_name), bars, params, convention);
    if let Some((first, last)) = analysis.span() {
        log::info!(
            "loaded {}: {} bars from {first} to {last}",
            analysis.instrument(),
            analysis.window(DateRange::default()).bars.len()
        );
    }
    Ok(analysis)
}

fn render_chart(analysis: &Analysis, args: &Args, out: &Path) -> anyhow::Result<()> {
    let range = DateRange::parse(&args.start_date, &args.end_date)?;
    let png = analysis.chart(range, args.chart_size).with_context(|| {
        let span = analysis.span().map_or_else(String::new, |(a, b)| format!(" (the data covers {a} to {b})"));
        format!("no chart for {range}{span}")
    })?;
    AtomicFile::write(out, &png).with_context(|| format!("cannot write {}", out.display()))?;
    log::info!("wrote {} ({} bytes)", out.display(), png.len());
    Ok(())
}
