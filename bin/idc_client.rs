//! `idc_client`: calls `idc.Indicator/GetMACD` and prints the reply exactly as the article's
//! Python client does (`print("indicator client received: ")`, then `print(response)`).
//! Its subcommands `instruments`, `compute`, `push` and `subscribe` call `idc.v2.Indicators`
//! ([`idc::client::v2`]).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use idc::client;
use idc::client::v2::{args as v2, run, V2Error};
use idc::protocol::indicator::MACDReply;
use idc::text_format;
use protobuf::MessageFull;

const PROGRAM: &str = "idc_client";

/// Fetch MACD rows from an idc server and print them in protobuf text format.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(flatten)]
    call: cli::CallArgs,

    /// Seconds to wait for the reply, above 0 and at most a week.
    #[arg(long, default_value_t = client::DEFAULT_UNARY_TIMEOUT_SECONDS, value_parser = cli::parse_timeout)]
    timeout: f64,

    #[command(subcommand)]
    v2: Option<V2>,
}

/// The idc.v2 calls; without one, idc_client makes the article's GetMACD call.
#[derive(clap::Subcommand, Debug)]
enum V2 {
    /// List the instruments the server holds, as CSV or JSON lines.
    #[command(mut_arg("start_date", v2::unused), mut_arg("end_date", v2::unused))]
    Instruments(V2Call<v2::InstrumentsArgs>),
    /// Bars and indicators of many symbols, written as CSV or JSON lines as each one arrives.
    #[command(mut_arg("start_date", v2::open_start), mut_arg("end_date", v2::open_end))]
    Compute(V2Call<v2::ComputeArgs>),
    /// Append bars to an instrument (or revise its last), from a CSV file, or row by row from stdin.
    #[command(
        mut_arg("start_date", v2::unused),
        mut_arg("end_date", v2::unused),
        mut_arg("timeout", v2::push_timeout)
    )]
    Push(LiveCall<v2::PushArgs>),
    /// The latest bar and values of symbols, then one line per new or revised bar, until cancelled.
    #[command(mut_arg("start_date", v2::unused), mut_arg("end_date", v2::unused))]
    #[command(mut_arg("timeout", v2::subscribe_timeout))]
    Subscribe(LiveCall<v2::SubscribeArgs>),
}

#[derive(clap::Args, Debug)]
struct V2Call<A: clap::Args> {
    #[command(flatten)]
    call: cli::CallArgs,
    #[command(flatten)]
    args: A,
    /// Seconds to wait for the whole stream, above 0 and at most a week.
    #[arg(long, default_value_t = client::DEFAULT_STREAM_TIMEOUT_SECONDS, value_parser = cli::parse_timeout)]
    timeout: f64,
}

/// The live calls: a push waits for each reply, a subscription has no end of its own.
#[derive(clap::Args, Debug)]
struct LiveCall<A: clap::Args> {
    #[command(flatten)]
    call: cli::CallArgs,
    #[command(flatten)]
    args: A,
    /// Seconds to wait (each subcommand says for what).
    #[arg(long, value_parser = cli::parse_timeout)]
    timeout: Option<f64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _logs = cli::init_logs("warn", "off");
    let done = match &args.v2 {
        None => article(&args),
        Some(V2::Instruments(v)) => {
            v.call.target(v.timeout).and_then(|t| Ok(run::instruments(&t, &v.args, std::io::stdout())?))
        }
        Some(V2::Compute(v)) => v.call.target(v.timeout).and_then(|target| {
            let dates = (v.call.start_date.as_str(), v.call.end_date.as_str());
            let note = run::compute(&target, &v.args, dates, std::io::stdout())?.note(dates.0, dates.1);
            Ok(note.into_iter().for_each(|note| cli::report(PROGRAM, note)))
        }),
        Some(V2::Push(v)) => v.call.target(v.timeout.unwrap_or(client::DEFAULT_UNARY_TIMEOUT_SECONDS)).and_then(|t| {
            run::push(&t, &v.args, std::io::stdin().lock(), std::io::stdout())?;
            Ok(())
        }),
        Some(V2::Subscribe(v)) => v.call.target(v.timeout.unwrap_or(client::MAX_TIMEOUT_SECONDS)).and_then(|t| {
            let deadline = v.timeout.map(std::time::Duration::from_secs_f64);
            Ok(run::subscribe(&t, &v.args, deadline, std::io::stdout())?)
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has all it wanted (`| head`): end quietly.
        Err(e) if e.downcast_ref().is_some_and(cli::is_closed_pipe) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref().is_some_and(V2Error::is_closed_pipe) => ExitCode::SUCCESS,
        Err(e) => {
            cli::report(PROGRAM, format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// The article's client: GetMACD, printed as its Python client prints it.
fn article(args: &Args) -> anyhow::Result<()> {
    let (start, end) = (&args.call.start_date, &args.call.end_date);
    let bytes = client::get_macd_bytes(&args.call.target(args.timeout)?, start, end)?;
    let text =
        text_format::to_text(&MACDReply::descriptor(), &bytes).map_err(|e| anyhow::anyhow!("GetMACD reply: {e}"))?;
    // One write, like Python's two prints once its buffer is flushed at exit.
    let mut stdout = std::io::stdout().lock();
    let text = format!("indicator client received: \n{text}\n");
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("cannot write to stdout")?;
    // An empty reply prints as the article's client prints it; this says why it is empty.
    if bytes.is_empty() {
        cli::report(PROGRAM, client::why_empty(start, end));
    }
    Ok(())
}
