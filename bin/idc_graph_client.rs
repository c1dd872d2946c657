//! `idc_graph_client`: streams `idc.IndicatorGraph/GetMACDGraph` into a PNG file, like the
//! article's graph client, but without ever leaving a truncated file behind. Its subcommand
//! `chart` draws one instrument with `idc.v2.Indicators/Chart`, into a file kept as safe.

mod cli;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use idc::client;
use idc::client::v2::{args as v2, run};

const PROGRAM: &str = "idc_graph_client";

/// Download the MACD chart from an idc server.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(flatten)]
    call: cli::CallArgs,

    /// Where to write the PNG, replaced only when the whole stream has arrived; a symbolic link's
    /// target is replaced. `-` (stdout), a character device or a FIFO is written as it arrives.
    #[arg(long, default_value = "./received_macd.png")]
    output: PathBuf,

    /// Seconds to wait for the whole stream, above 0 and at most a week.
    #[arg(long, default_value_t = client::DEFAULT_STREAM_TIMEOUT_SECONDS, value_parser = cli::parse_timeout)]
    timeout: f64,

    #[command(subcommand)]
    v2: Option<V2>,
}

/// The idc.v2 calls; without one, idc_graph_client downloads the article's MACD chart.
#[derive(clap::Subcommand, Debug)]
enum V2 {
    /// Draw one instrument, its candles, overlays and panels, into a PNG.
    #[command(mut_arg("start_date", v2::open_start), mut_arg("end_date", v2::open_end))]
    Chart {
        #[command(flatten)]
        call: cli::CallArgs,
        #[command(flatten)]
        args: v2::ChartArgs,
        /// Seconds to wait for the whole stream, above 0 and at most a week.
        #[arg(long, default_value_t = client::DEFAULT_STREAM_TIMEOUT_SECONDS, value_parser = cli::parse_timeout)]
        timeout: f64,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _logs = cli::init_logs("warn", "off");
    if let Some(V2::Chart { call, args: chart, timeout }) = &args.v2 {
        let dates = (call.start_date.as_str(), call.end_date.as_str());
        return download(&chart.output, || Ok(run::chart(&call.target(*timeout)?, chart, dates)?));
    }
    // The reference prints this before it calls, to stdout, unless the PNG goes there. A closed
    // stdout is no reason not to download.
    let banner = b"indicator client received: \n";
    if idc::output::is_stdout(&args.output) {
        let _ = std::io::stderr().lock().write_all(banner);
    } else {
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(banner).and_then(|()| stdout.flush()) {
            if !cli::is_closed_pipe(&e) {
                cli::report(PROGRAM, format_args!("cannot write to stdout: {e}"));
                return ExitCode::FAILURE;
            }
        }
    }

    let (start, end) = (&args.call.start_date, &args.call.end_date);
    download(&args.output, || Ok(client::download_graph(&args.call.target(args.timeout)?, start, end, &args.output)?))
}

/// Runs `work`, a download into `output`, and reports how it went.
fn download(output: &Path, work: impl FnOnce() -> anyhow::Result<u64>) -> ExitCode {
    // Ctrl-C, kill or a closed terminal mid-download: remove the partial file (no destructor
    // runs on a signal exit).
    let kept = client::kept_note(output);
    idc::signals::remove_partial_files_on_signal("download", move || {
        cli::report(PROGRAM, format_args!("interrupted{kept}"));
    });
    match work() {
        Ok(bytes) => {
            log::info!("wrote {bytes} bytes to {}", output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            cli::report(PROGRAM, format_args!("{e:#}{}", client::kept_note(output)));
            ExitCode::FAILURE
        }
    }
}
