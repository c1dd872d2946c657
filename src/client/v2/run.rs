//! What each v2 subcommand does, from its flags to its output; the binaries parse the flags,
//! call one of these and report the error, if any.

use std::io::{BufRead, Write};
use std::ops::ControlFlow;
use std::time::Duration;

use super::args::{ChartArgs, ComputeArgs, InstrumentsArgs, PushArgs, SubscribeArgs};
use super::live::{self, Ended, Pusher};
use super::table::{write_instruments, SeriesWriter};
use super::updates::UpdateWriter;
use super::{push, Target, V2Error};
use crate::auth::Token;

/// `idc_client instruments`: the instruments as a table on `out`.
pub fn instruments(target: &Target, args: &InstrumentsArgs, out: impl Write) -> Result<(), V2Error> {
    let reply = super::instruments(target)?;
    write_instruments(args.format, &reply, out)
}

/// What a `compute` run received.
#[derive(Debug, Default)]
pub struct Computed {
    /// Every symbol received, in order, with its number of rows.
    pub rows: Vec<(String, usize)>,
}

impl Computed {
    /// A note for stderr when some instruments had no bars in the range asked (their rows are
    /// absent from the table, which would otherwise go unexplained).
    pub fn note(&self, start_date: &str, end_date: &str) -> Option<String> {
        let empty: Vec<&str> = self.rows.iter().filter(|(_, n)| *n == 0).map(|(s, _)| s.as_str()).collect();
        if empty.is_empty() {
            return None;
        }
        let range = match (start_date, end_date) {
            ("", "") => "at all".to_string(),
            (start, "") => format!("from {start} on"),
            ("", end) => format!("up to {end}"),
            (start, end) => format!("from {start} to {end}"),
        };
        Some(format!(
            "no bars {range} for {}; `idc_client instruments` shows each instrument's first and last date",
            empty.join(", ")
        ))
    }
}

/// `idc_client compute`: each `Series` written to `out` as it arrives (see [`super::table`]).
pub fn compute(
    target: &Target,
    args: &ComputeArgs,
    (start_date, end_date): (&str, &str),
    out: impl Write,
) -> Result<Computed, V2Error> {
    let request = args.request(start_date, end_date)?;
    let mut writer = SeriesWriter::new(args.format, out);
    let mut computed = Computed::default();
    super::compute(target, &request, |series| {
        writer.write(&series)?;
        computed.rows.push((series.symbol, series.date.len()));
        Ok(())
    })?;
    Ok(computed)
}

/// `idc_graph_client chart`: the PNG written whole to `--output`; returns its size in bytes.
pub fn chart(target: &Target, args: &ChartArgs, (start_date, end_date): (&str, &str)) -> Result<u64, V2Error> {
    let request = args.request(start_date, end_date)?;
    Ok(super::download_chart(target, &request, &args.output)?)
}

/// `idc_client push`: `--csv FILE` in requests of at most [`push::MAX_BARS`] bars, or `--csv -`
/// a row at a time from `stdin`, each reply's line on `out`. Returns the number of requests.
pub fn push(target: &Target, args: &PushArgs, stdin: impl BufRead, mut out: impl Write) -> Result<usize, V2Error> {
    let token = args.push_token_file.as_deref().map(Token::from_file).transpose().map_err(|e| V2Error::Flag {
        flag: "--push-token-file",
        // The token's messages name the read token's flag; this file is the push token's.
        reason: e.to_string().replace("--auth-token-file ", ""),
    })?;
    let pusher = Pusher::new(target, token)?;
    if args.csv.as_os_str() == "-" {
        return push::feed(&pusher, &args.symbol, args.forming, stdin, out);
    }
    let name = args.csv.display().to_string();
    let bytes = std::fs::read(&args.csv).map_err(|e| V2Error::Input(format!("cannot read --csv {name}: {e}")))?;
    let requests = push::requests(&args.symbol, push::bars(&push::read_file(&name, &bytes)?), args.forming);
    for request in &requests {
        push::report(&mut out, &args.symbol, &pusher.push(request)?)?;
    }
    Ok(requests.len())
}

/// `idc_client subscribe`: one line per update on `out`, until `--limit` updates have arrived,
/// the deadline (if any) passes, or the server ends the stream, which is an error: a
/// subscription has no natural end, so a script reading it must notice.
pub fn subscribe(
    target: &Target,
    args: &SubscribeArgs,
    deadline: Option<Duration>,
    out: impl Write,
) -> Result<(), V2Error> {
    let request = args.request()?;
    let mut writer = UpdateWriter::new(args.format, out);
    let mut received = 0u64;
    let ended = live::subscribe(target, &request, deadline, |update| {
        writer.write(&update)?;
        received += 1;
        Ok(match args.limit {
            Some(limit) if received >= limit => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
    })?;
    match ended {
        Ended::Stopped => Ok(()),
        Ended::ByServer => Err(V2Error::Ended { target: target.address.clone(), updates: received }),
    }
}
