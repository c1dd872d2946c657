//! `idc_client`: calls `idc.Indicator/GetMACD` and prints the reply exactly as the article's
//! Python client does (`print("indicator client received: ")`, then `print(response)`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use idc::client::{self, CallArgs, Target};
use idc::protocol::indicator::MACDReply;
use idc::text_format;
use protobuf::MessageFull;

/// Fetch MACD rows from an idc server and print them in protobuf text format.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    #[command(flatten)]
    call: CallArgs,

    /// Seconds to wait for the reply.
    #[arg(long, default_value_t = 30.0, value_parser = client::parse_timeout)]
    timeout: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let target = Target { address: args.call.target, timeout: Duration::from_secs_f64(args.timeout) };
    let text = client::get_macd_bytes(&target, &args.call.start_date, &args.call.end_date)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            text_format::to_text(&MACDReply::descriptor(), &bytes).map_err(|e| format!("GetMACD reply: {e}"))
        });
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            eprintln!("idc_client: {e}");
            return ExitCode::FAILURE;
        }
    };
    // One write, like Python's two prints once its buffer is flushed at exit.
    let text = format!("indicator client received: \n{text}\n");
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        eprintln!("idc_client: cannot write to stdout: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
