//! `idc_graph_client`: streams `idc.IndicatorGraph/GetMACDGraph` into a PNG file, like the
//! article's graph client, but without ever leaving a truncated file behind.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use idc::client::{self, CallArgs, Target};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Download the MACD chart from an idc server.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    call: CallArgs,

    /// Where to write the PNG. Replaced only when the whole stream has arrived.
    #[arg(long, default_value = "./received_macd.png")]
    output: PathBuf,

    /// Seconds to wait for the whole stream.
    #[arg(long, default_value_t = 60.0, value_parser = client::parse_timeout)]
    timeout: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    // The reference prints this before it calls.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(b"indicator client received: \n").and_then(|()| stdout.flush()) {
        eprintln!("idc_graph_client: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    drop(stdout);

    // Ctrl-C mid-download: remove the partial file (no destructor runs on a signal exit).
    let output = args.output.clone();
    let stop_cleanly = move |signal: i32| {
        idc::output::remove_partial_files();
        eprintln!("idc_graph_client: interrupted; {} was left as it was", output.display());
        std::process::exit(128 + signal);
    };
    match Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    stop_cleanly(signal);
                }
            });
        }
        Err(e) => log::warn!("cannot handle SIGINT/SIGTERM ({e}); an interrupted download may leave a .part file"),
    }

    let target = Target { address: args.call.target, timeout: Duration::from_secs_f64(args.timeout) };
    match client::download_graph(&target, &args.call.start_date, &args.call.end_date, &args.output) {
        Ok(bytes) => {
            log::info!("wrote {bytes} bytes to {}", args.output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("idc_graph_client: {e}; {} was left as it was", args.output.display());
            ExitCode::FAILURE
        }
    }
}
