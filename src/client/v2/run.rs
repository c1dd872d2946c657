//! What each v2 subcommand does, from its flags to its output; the binaries parse the flags,
//! call one of these and report the error, if any.

use std::io::Write;

use super::args::{ChartArgs, ComputeArgs, InstrumentsArgs};
use super::table::{write_instruments, SeriesWriter};
use super::{Target, V2Error};

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
