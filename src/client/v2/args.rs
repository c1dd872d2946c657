//! The flags of the v2 subcommands (`idc_client instruments`, `idc_client compute`,
//! `idc_graph_client chart`) beyond the connection flags the binaries share, and the requests
//! they describe. Declared here, beside the calls, so that the binaries stay thin.
//!
//! Indicators are given as text, `MACD(12,26,9),RSI(6)` (split at the commas outside parentheses
//! and parsed by [`crate::domain::indicators`]), each optionally as `LABEL=SPEC` to name its
//! columns. Only the syntax is checked here; the server checks names and parameters, and its
//! `INVALID_ARGUMENT` says which spec and parameter are wrong. `compute --formula` takes one
//! 通达信-style formula a flag, `[LABEL=]TEXT`, passed to the server unchecked ([`formulas`]).

use std::path::PathBuf;

use clap::ValueEnum;

use super::table::Format;
use super::V2Error;
use crate::domain::indicators::{parse_spec, split_specs};
use crate::protocol::indicators as pb;

/// `--convention`: the server's own (`--convention` of idc_server) when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConventionArg {
    /// 通达信 / MyTT.
    Cn,
    /// TA-Lib.
    Talib,
}

/// `--adjust`: the prices as held, or adjusted with the instrument's adj_factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AdjustArg {
    /// The prices as held.
    #[default]
    None,
    /// 前复权 (qfq), anchored at the latest bar held.
    Forward,
    /// 后复权 (hfq).
    Backward,
}

/// `--frequency`: daily bars, or ISO weeks or calendar months of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FrequencyArg {
    #[default]
    Daily,
    Weekly,
    Monthly,
}

/// How the bars are shaped before the indicators run: Compute's and Chart's common flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ShapeArgs {
    /// Indicator convention; default: the server's.
    #[arg(long, value_enum)]
    pub convention: Option<ConventionArg>,

    /// Price adjustment (forward and backward need the instrument's adj_factor column).
    #[arg(long, value_enum, default_value_t)]
    pub adjust: AdjustArg,

    /// Bar frequency.
    #[arg(long, value_enum, default_value_t)]
    pub frequency: FrequencyArg,
}

impl ShapeArgs {
    fn convention(&self) -> pb::Convention {
        match self.convention {
            None => pb::Convention::CONVENTION_UNSPECIFIED,
            Some(ConventionArg::Cn) => pb::Convention::CN,
            Some(ConventionArg::Talib) => pb::Convention::TALIB,
        }
    }

    fn adjust(&self) -> pb::Adjust {
        match self.adjust {
            AdjustArg::None => pb::Adjust::ADJUST_NONE,
            AdjustArg::Forward => pb::Adjust::FORWARD,
            AdjustArg::Backward => pb::Adjust::BACKWARD,
        }
    }

    fn frequency(&self) -> pb::Frequency {
        match self.frequency {
            FrequencyArg::Daily => pb::Frequency::DAILY,
            FrequencyArg::Weekly => pb::Frequency::WEEKLY,
            FrequencyArg::Monthly => pb::Frequency::MONTHLY,
        }
    }
}

/// `idc_client instruments`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstrumentsArgs {
    /// Output format: CSV with a header, or one JSON object per line.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// `idc_client compute`.
#[derive(Debug, Clone, clap::Args)]
pub struct ComputeArgs {
    /// Symbols, comma-separated, in the order wanted (`idc_client instruments` lists them);
    /// default: every instrument.
    #[arg(long, value_delimiter = ',', value_name = "SYMBOL,...")]
    pub symbols: Vec<String>,

    /// Indicators, comma-separated, e.g. 'MACD(12,26,9),RSI(6)'; `LABEL=SPEC` names a spec's
    /// columns. Repeatable. Default: none (the bars alone).
    #[arg(long, value_name = "SPECS")]
    pub indicators: Vec<String>,

    /// A 通达信-style formula, e.g. 'DIF:EMA(C,12)-EMA(C,26);DEA:EMA(DIF,9)' (docs/formulas.md);
    /// `LABEL=TEXT` names its columns (default F1, F2, ...). Repeatable: one formula each, after
    /// the --indicators specs.
    #[arg(long, value_name = "[LABEL=]TEXT")]
    pub formula: Vec<String>,

    #[command(flatten)]
    pub shape: ShapeArgs,

    /// Output format: CSV with a header (an empty field where a value is missing), or one JSON
    /// object per line (null where a value is missing).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl ComputeArgs {
    /// The request these flags describe, for `start_date` to `end_date` (empty: open ends).
    pub fn request(&self, start_date: &str, end_date: &str) -> Result<pb::ComputeRequest, V2Error> {
        Ok(pb::ComputeRequest {
            symbols: self.symbols.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            start_date: start_date.to_string(),
            end_date: end_date.to_string(),
            indicators: [specs("--indicators", &self.indicators)?, formulas("--formula", &self.formula)?].concat(),
            convention: self.shape.convention().into(),
            adjust: self.shape.adjust().into(),
            frequency: self.shape.frequency().into(),
            ..Default::default()
        })
    }
}

/// `idc_client push`.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// The instrument to push to; a new symbol creates it.
    #[arg(long)]
    pub symbol: String,

    /// Bars as CSV with a header (date,open,high,low,close[,volume][,adj_factor], or the names
    /// the catalog accepts), oldest first. A FILE is pushed whole; `-` reads stdin and pushes each
    /// row as soon as its line arrives (a live feed).
    #[arg(long, value_name = "FILE|-")]
    pub csv: PathBuf,

    /// The last bar pushed is still forming (its updates are provisional); from stdin, every row.
    #[arg(long)]
    pub forming: bool,

    /// Send the token in this file (its first line) as `authorization: Bearer TOKEN` with the
    /// pushes, instead of --auth-token-file's.
    #[arg(long, value_name = "FILE")]
    pub push_token_file: Option<PathBuf>,
}

/// `idc_client subscribe`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubscribeArgs {
    /// Symbols, comma-separated; default: every instrument, including ones created later.
    #[arg(long, value_delimiter = ',', value_name = "SYMBOL,...")]
    pub symbols: Vec<String>,

    /// Indicators, comma-separated, e.g. 'MACD(12,26,9),RSI(6)'; `LABEL=SPEC` names a spec's
    /// columns. Repeatable. Default: none (the bars alone).
    #[arg(long, value_name = "SPECS")]
    pub indicators: Vec<String>,

    #[command(flatten)]
    pub shape: ShapeArgs,

    /// Output format: CSV with a header (an empty field where a value is missing), or one JSON
    /// object per line (null where a value is missing).
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,

    /// Stop after this many updates (the snapshots count); default: run until cancelled.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

impl SubscribeArgs {
    /// The request these flags describe.
    pub fn request(&self) -> Result<pb::SubscribeRequest, V2Error> {
        Ok(pb::SubscribeRequest {
            symbols: self.symbols.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            indicators: specs("--indicators", &self.indicators)?,
            convention: self.shape.convention().into(),
            adjust: self.shape.adjust().into(),
            frequency: self.shape.frequency().into(),
            ..Default::default()
        })
    }
}

/// `idc_graph_client chart`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChartArgs {
    /// The instrument to draw.
    #[arg(long)]
    pub symbol: String,

    /// Indicators drawn over the candles, e.g. 'MA(5),MA(10)' or 'BOLL'. Repeatable.
    #[arg(long, value_name = "SPECS")]
    pub overlay: Vec<String>,

    /// A panel below the candles, e.g. VOL or 'MACD(12,26,9)'. Repeatable: one panel each.
    #[arg(long, value_name = "SPECS")]
    pub panel: Vec<String>,

    #[command(flatten)]
    pub shape: ShapeArgs,

    /// Width in pixels; default: the server's --chart-size.
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub width: u32,

    /// Height in pixels; default: the server's --chart-size.
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub height: u32,

    /// Where to write the PNG, replaced only when the whole stream has arrived. `-` (stdout), a
    /// character device or a FIFO is written as it arrives.
    #[arg(long, default_value = "./received_chart.png")]
    pub output: PathBuf,
}

impl ChartArgs {
    /// The request these flags describe, for `start_date` to `end_date` (empty: open ends).
    pub fn request(&self, start_date: &str, end_date: &str) -> Result<pb::ChartRequest, V2Error> {
        Ok(pb::ChartRequest {
            symbol: self.symbol.clone(),
            start_date: start_date.to_string(),
            end_date: end_date.to_string(),
            overlays: specs("--overlay", &self.overlay)?,
            panels: specs("--panel", &self.panel)?,
            convention: self.shape.convention().into(),
            adjust: self.shape.adjust().into(),
            frequency: self.shape.frequency().into(),
            width: self.width,
            height: self.height,
            ..Default::default()
        })
    }
}

/// For the binaries' `mut_arg("start_date", open_start)`: the connection flags they share
/// default to the article's dates, but Compute's and Chart's range is open unless given.
pub fn open_start(arg: clap::Arg) -> clap::Arg {
    arg.default_value("").hide_default_value(true).help("First day, YYYY-MM-DD; default: the first bar held")
}

/// As [`open_start`], for `end_date`.
pub fn open_end(arg: clap::Arg) -> clap::Arg {
    arg.default_value("").hide_default_value(true).help("Last day, YYYY-MM-DD; default: the last bar held")
}

/// For the binaries' `mut_arg("timeout", push_timeout)`: a push waits for each reply.
pub fn push_timeout(arg: clap::Arg) -> clap::Arg {
    arg.help("Seconds to wait for each push's reply, above 0 and at most a week [default: 30]")
}

/// As [`push_timeout`], for a subscription, which has no end of its own.
pub fn subscribe_timeout(arg: clap::Arg) -> clap::Arg {
    arg.help("Seconds the whole subscription may last, above 0 and at most a week; default: no limit")
}

/// For the flags a subcommand takes but does not use (ListInstruments has no dates).
pub fn unused(arg: clap::Arg) -> clap::Arg {
    arg.hide(true)
}

/// Every spec in `texts` (each a comma-separated list), in order.
pub fn specs(flag: &'static str, texts: &[String]) -> Result<Vec<pb::IndicatorSpec>, V2Error> {
    let mut specs = Vec::new();
    for text in texts.iter().flat_map(|t| split_specs(t)) {
        let (label, spec) = match text.split_once('=') {
            Some((label, spec)) => (label.trim(), spec),
            None => ("", text),
        };
        let (name, params) = parse_spec(spec).map_err(|e| V2Error::Flag { flag, reason: e.to_string() })?;
        specs.push(pb::IndicatorSpec { name, params, label: label.to_string(), ..Default::default() });
    }
    Ok(specs)
}

/// One formula spec per text, in order. A text that starts with `LABEL=` (a label of letters,
/// digits, `_`, `.` and `-`, then one `=` not followed by another) names the formula's columns;
/// the rest is the formula, checked by the server. So `C=O` is the label `C` and the formula
/// `O`: write the comparison as `C==O` (or give a label first, `x=C=O`).
pub fn formulas(flag: &'static str, texts: &[String]) -> Result<Vec<pb::IndicatorSpec>, V2Error> {
    let mut specs = Vec::with_capacity(texts.len());
    for text in texts {
        let (label, formula) = split_label(text);
        if formula.trim().is_empty() {
            return Err(V2Error::Flag { flag, reason: format!("{text:?} has no formula text") });
        }
        specs.push(pb::IndicatorSpec { formula: formula.to_string(), label: label.to_string(), ..Default::default() });
    }
    Ok(specs)
}

/// `("LABEL", "TEXT")` for `LABEL=TEXT`, else `("", text)`.
fn split_label(text: &str) -> (&str, &str) {
    let label_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if let Some((label, rest)) = text.split_once('=') {
        let label = label.trim();
        if !label.is_empty() && label.chars().all(label_char) && !rest.starts_with('=') {
            return (label, rest);
        }
    }
    ("", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_split_at_top_level_commas_and_take_labels() {
        let got = specs("--indicators", &["MACD(12,26,9), fast=RSI(6)".into(), "VOL".into()]).unwrap();
        let got: Vec<(&str, &[f64], &str)> =
            got.iter().map(|s| (s.name.as_str(), s.params.as_slice(), s.label.as_str())).collect();
        assert_eq!(got, [("MACD", &[12.0, 26.0, 9.0][..], ""), ("RSI", &[6.0][..], "fast"), ("VOL", &[][..], "")]);
        let e = specs("--panel", &["MACD(12,26".into()]).unwrap_err().to_string();
        assert!(e.starts_with("invalid --panel: \"MACD(12,26\" is not an indicator spec"), "{e}");
    }

    #[test]
    fn formulas_take_an_optional_label() {
        let texts: Vec<String> = ["DIF:EMA(C,12)-EMA(C,26)", "M=DIF:EMA(C,12)", "x = C>O", "C==O", "UP:C>=O", "A:C=O"]
            .map(String::from)
            .into();
        let got = formulas("--formula", &texts).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|s| (s.label.as_str(), s.formula.as_str())).collect();
        assert_eq!(
            got,
            [
                ("", "DIF:EMA(C,12)-EMA(C,26)"),
                ("M", "DIF:EMA(C,12)"),
                ("x", " C>O"),
                ("", "C==O"),
                ("", "UP:C>=O"),
                ("", "A:C=O")
            ]
        );
        let e = formulas("--formula", &["M=  ".into()]).unwrap_err().to_string();
        assert_eq!(e, "invalid --formula: \"M=  \" has no formula text");
    }
}
