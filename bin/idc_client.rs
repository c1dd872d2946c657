//! `idc_client`: calls `idc.Indicator/GetMACD` and prints the reply exactly as the article's
//! Python client does (`print("indicator client received: ")`, then `print(response)`).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use idc::client;
use idc::protocol::indicator::MACDReply;
use idc::text_format;
use protobuf::MessageFull;

const PROGRAM: &str = "idc_client";

/// Fetch MACD rows from an idc server and print them in protobuf text format.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    call: cli::CallArgs,

    /// Seconds to wait for the reply, above 0 and at most a week.
    #[arg(long, default_value_t = client::DEFAULT_UNARY_TIMEOUT_SECONDS, value_parser = cli::parse_timeout)]
    timeout: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    cli::init_logs("warn", "off");
    let reply = args
        .call
        .target(args.timeout)
        .and_then(|target| Ok(client::get_macd_bytes(&target, &args.call.start_date, &args.call.end_date)?))
        .and_then(|bytes| {
            let text = text_format::to_text(&MACDReply::descriptor(), &bytes)
                .map_err(|e| anyhow::anyhow!("GetMACD reply: {e}"))?;
            Ok((bytes.is_empty(), text))
        });
    let (empty, text) = match reply {
        Ok(reply) => reply,
        Err(e) => {
            cli::report(PROGRAM, format_args!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    // One write, like Python's two prints once its buffer is flushed at exit.
    let text = format!("indicator client received: \n{text}\n");
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        // The reader has all it wanted (`| head`): end quietly.
        Err(e) if cli::is_closed_pipe(&e) => return ExitCode::SUCCESS,
        Err(e) => {
            cli::report(PROGRAM, format_args!("cannot write to stdout: {e}"));
            return ExitCode::FAILURE;
        }
    }
    // An empty reply prints as the article's client prints it; this says why it is empty.
    if empty {
        cli::report(PROGRAM, why_empty(&args.call.start_date, &args.call.end_date));
    }
    ExitCode::SUCCESS
}

/// Why a reply has no rows. A parity-mode server always sends the article's rows, so the server
/// is in data mode; the article's protocol carries nothing more, so both reasons a data-mode
/// server has are named: days outside its data (or without trading), and TA-Lib's warm-up,
/// whose bars are in the data but have no MACD value.
fn why_empty(start: &str, end: &str) -> String {
    let asked = match (start.is_empty(), end.is_empty()) {
        (false, false) => format!("for {start} to {end}"),
        (false, true) => format!("from {start} on"),
        (true, false) => format!("up to {end}"),
        (true, true) => "for any date".to_string(),
    };
    format!(
        "the server returned no rows {asked}: a data-mode server has rows only for the days of its data that \
         have a MACD value; with --convention talib, the first bars of its data have none (TA-Lib's warm-up: \
         slow + signal - 2 bars, 33 for MACD(12,26,9))"
    )
}
