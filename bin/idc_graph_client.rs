//! `idc_graph_client`: streams `idc.IndicatorGraph/GetMACDGraph` into a PNG file, like the
//! article's graph client, but without ever leaving a truncated file behind.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use idc::client;

const PROGRAM: &str = "idc_graph_client";

/// Download the MACD chart from an idc server.
#[derive(Parser, Debug)]
#[command(version)]
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
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs("warn", "off");
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

    // Ctrl-C, kill or a closed terminal mid-download: remove the partial file (no destructor
    // runs on a signal exit).
    let kept = kept_note(&args.output);
    idc::signals::remove_partial_files_on_signal("download", move || {
        cli::report(PROGRAM, format_args!("interrupted{kept}"));
    });

    let downloaded = args.call.target(args.timeout).and_then(|target| {
        Ok(client::download_graph(&target, &args.call.start_date, &args.call.end_date, &args.output)?)
    });
    match downloaded {
        Ok(bytes) => {
            log::info!("wrote {bytes} bytes to {}", args.output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            cli::report(PROGRAM, format_args!("{e:#}{}", kept_note(&args.output)));
            ExitCode::FAILURE
        }
    }
}

/// `; ./x.png was left as it was`, when there is an earlier file to speak of.
fn kept_note(output: &std::path::Path) -> String {
    if output.as_os_str() != "-" && output.is_file() {
        format!("; {} was left as it was", output.display())
    } else {
        String::new()
    }
}
