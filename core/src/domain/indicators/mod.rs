//! The indicator engine: twenty built-in indicators, each in the two conventions users check
//! against, over whole columns of bars. No gRPC here; the v2 service validates a request with
//! [`Indicator::new`] and computes with [`Indicator::compute`].
//!
//! * **cn** is MyTT 2.9.3's function of that name, exactly its formula without its `RD`
//!   rounding (what 通达信 and 同花顺 users check against), written in [`mytt`]'s pandas
//!   semantics.
//! * **talib** is TA-Lib 0.8's function, with its warm-up NaNs, written in [`talib`]'s building
//!   blocks; where TA-Lib has no such function (SMA, BIAS, PSY, BBI), both conventions give the cn
//!   values.
//!
//! One indicator a file, its formula in its doc. Values are NaN where an indicator has none yet.
//! Each is a [`Stream`], a state stepped one bar at a time that keeps only the windows its formula
//! needs; the batch [`Indicator::compute`] is that stream run over the whole history handed in
//! ([`stream::run`]), so a live subscription's values are the batch's, bit for bit. Callers slice
//! the range they serve, so a value never depends on the range asked.

pub mod mytt;
pub mod spec;
pub mod stream;
pub mod talib;

mod atr;
mod bbi;
mod bias;
mod boll;
mod cci;
mod dmi;
mod ema;
mod extreme;
pub(crate) mod fused;
mod kdj;
mod ma;
/// Crate-visible: the article's MACD ([`crate::domain::macd`]) is this one.
pub(crate) mod macd;
mod mfi;
mod mtm;
mod obv;
mod pandas;
mod psy;
mod roc;
mod rsi;
mod sma;
mod trix;
mod visit;
mod vol;
mod wr;

pub use crate::domain::macd::Convention;
pub use spec::{parse_spec, split_specs, SpecError};
pub use stream::{Quote, Stream};
use visit::{batch, boxed};
pub use visit::{Batch, Boxed, Visit};

use std::sync::Arc;

use crate::domain::formula::{FormulaError, Program};

/// The longest period accepted (about 40 years of daily bars).
pub const MAX_PERIOD: usize = 10_000;

/// The columns an indicator reads, oldest bar first, all of one length.
#[derive(Debug, Clone, Copy)]
pub struct Prices<'a> {
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
    /// One factor a bar, or empty when the history has none (read by formulas' `ADJ_FACTOR`).
    pub adj_factor: &'a [f64],
}

/// What a parameter may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A whole number of bars from 1 to [`MAX_PERIOD`].
    Period,
    /// Any finite number above zero (BOLL's width).
    Positive,
}

/// One parameter: its name (as MyTT names it) and kind.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
}

/// A period parameter.
const fn period(name: &'static str) -> Param {
    Param { name, kind: ParamKind::Period }
}

/// A built-in indicator: its parameters, defaults, outputs and computation.
pub struct Def {
    /// Upper case, as in column names.
    pub name: &'static str,
    pub params: &'static [Param],
    /// MyTT's defaults.
    pub cn_defaults: &'static [f64],
    /// The defaults in the talib convention (the table's second value where it gives one).
    pub talib_defaults: &'static [f64],
    /// Output names; one output has the name `""` and its column is the label alone.
    pub outputs: &'static [&'static str],
    /// A check across parameters (MACD's SHORT below LONG); each is already in its range.
    pub check: fn(&[f64]) -> Result<(), String>,
    /// A fresh state for these parameters (checked) and convention, to be stepped one bar at a
    /// time; the batch computation is this stream run over every bar.
    pub stream: fn(&[f64], Convention) -> Box<dyn Stream>,
    /// The batch: the same state as `stream` gives, stepped over every bar of the prices with
    /// its type known (no call through the box a bar), so the same operations in the same order.
    pub batch: fn(&[f64], Convention, &Prices) -> Vec<Vec<f64>>,
}

/// No check across parameters.
fn no_check(_: &[f64]) -> Result<(), String> {
    Ok(())
}

/// Every built-in, in the order of the v2 issue's table.
pub const ALL: &[&Def] = &[
    &ma::DEF,
    &ema::DEF,
    &sma::DEF,
    &macd::DEF,
    &kdj::DEF,
    &rsi::DEF,
    &boll::DEF,
    &atr::DEF,
    &cci::DEF,
    &wr::DEF,
    &dmi::DEF,
    &bias::DEF,
    &obv::DEF,
    &psy::DEF,
    &mfi::DEF,
    &roc::DEF,
    &mtm::DEF,
    &trix::DEF,
    &bbi::DEF,
    &vol::DEF,
];

/// The built-in of this name, case-insensitive.
pub fn find(name: &str) -> Option<&'static Def> {
    ALL.iter().copied().find(|def| def.name.eq_ignore_ascii_case(name))
}

/// A checked indicator: a built-in with its parameters (defaults filled in), or a compiled
/// formula; and the convention it computes in.
#[derive(Clone)]
pub struct Indicator {
    kind: Kind,
    convention: Convention,
}

#[derive(Clone)]
enum Kind {
    BuiltIn {
        def: &'static Def,
        params: Vec<f64>,
    },
    /// The text (for equality: one state serves the subscribers of one formula) and its program.
    Formula {
        text: Arc<str>,
        program: Arc<Program>,
    },
}

impl std::fmt::Debug for Indicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::BuiltIn { def, params } => write!(f, "{} ({})", spec::canonical(def.name, params), self.convention),
            Kind::Formula { text, .. } => write!(f, "formula {text:?} ({})", self.convention),
        }
    }
}

impl Indicator {
    /// Checks `name` and `params` (empty: the convention's defaults).
    pub fn new(name: &str, params: &[f64], convention: Convention) -> Result<Indicator, SpecError> {
        let def = find(name).ok_or_else(|| SpecError::Unknown { name: name.to_string() })?;
        let params = if params.is_empty() {
            match convention {
                Convention::Cn => def.cn_defaults.to_vec(),
                Convention::Talib => def.talib_defaults.to_vec(),
            }
        } else {
            spec::check_params(def, params)?;
            params.to_vec()
        };
        Ok(Indicator { kind: Kind::BuiltIn { def, params }, convention })
    }

    /// Parses, checks and compiles the formula `text`.
    pub fn formula(text: &str, convention: Convention) -> Result<Indicator, FormulaError> {
        let program = Program::compile(text, convention)?;
        Ok(Indicator { kind: Kind::Formula { text: text.into(), program: Arc::new(program) }, convention })
    }

    /// The built-in, `None` for a formula.
    pub fn def(&self) -> Option<&'static Def> {
        match &self.kind {
            Kind::BuiltIn { def, .. } => Some(def),
            Kind::Formula { .. } => None,
        }
    }

    pub fn is_formula(&self) -> bool {
        matches!(self.kind, Kind::Formula { .. })
    }

    /// The built-in's parameters; empty for a formula.
    pub fn params(&self) -> &[f64] {
        match &self.kind {
            Kind::BuiltIn { params, .. } => params,
            Kind::Formula { .. } => &[],
        }
    }

    pub fn convention(&self) -> Convention {
        self.convention
    }

    /// The same computation: one state serves both.
    pub fn same_as(&self, other: &Indicator) -> bool {
        self.convention == other.convention
            && match (&self.kind, &other.kind) {
                (Kind::BuiltIn { def: a, params: p }, Kind::BuiltIn { def: b, params: q }) => {
                    a.name == b.name && p == q
                }
                (Kind::Formula { text: a, .. }, Kind::Formula { text: b, .. }) => a == b,
                _ => false,
            }
    }

    /// The canonical spec of a built-in: `MACD(12,26,9)`, `BOLL(20,2)`, `OBV`; `FORMULA` for a
    /// formula (which the request labels `F1`, `F2`, ... instead).
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::BuiltIn { def, params } => spec::canonical(def.name, params),
            Kind::Formula { .. } => "FORMULA".to_string(),
        }
    }

    /// The outputs' names: the built-in's (`""` for one output), or the formula's output lines.
    pub fn output_names(&self) -> Vec<&str> {
        match &self.kind {
            Kind::BuiltIn { def, .. } => def.outputs.to_vec(),
            Kind::Formula { program, .. } => program.output_names(),
        }
    }

    /// The column names under `label`: `label` for one output, `label.OUTPUT` for several.
    pub fn column_names(&self, label: &str) -> Vec<String> {
        match self.output_names().as_slice() {
            [_] => vec![label.to_string()],
            outputs => outputs.iter().map(|output| format!("{label}.{output}")).collect(),
        }
    }

    /// One column per output over the whole of `prices`.
    pub fn compute(&self, prices: &Prices) -> Vec<Vec<f64>> {
        self.compute_until(prices, &|| false).expect("never stopped")
    }

    /// As [`Indicator::compute`], but a formula gives up (`None`) once `stop` says so, asked
    /// before each of its operations; a built-in (a few steps a bar) always finishes.
    pub fn compute_until(&self, prices: &Prices, stop: &dyn Fn() -> bool) -> Option<Vec<Vec<f64>>> {
        match &self.kind {
            Kind::BuiltIn { def, params } => Some((def.batch)(params, self.convention, prices)),
            Kind::Formula { program, .. } => program.compute_until(prices, stop),
        }
    }

    /// A fresh state, to be stepped one bar at a time: after each bar it gives what
    /// [`Indicator::compute`] gives at that bar.
    pub fn stream(&self) -> Box<dyn Stream> {
        match &self.kind {
            Kind::BuiltIn { def, params } => (def.stream)(params, self.convention),
            Kind::Formula { program, .. } => program.stream(),
        }
    }

    /// How many values a step writes (one per output).
    pub fn outputs(&self) -> usize {
        match &self.kind {
            Kind::BuiltIn { def, .. } => def.outputs.len(),
            Kind::Formula { program, .. } => program.outputs(),
        }
    }
}

/// Parameter `i` as a number of bars (checked to be a whole number in range).
fn bars(params: &[f64], i: usize) -> usize {
    params[i] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_has_consistent_tables() {
        assert_eq!(ALL.len(), 20);
        for def in ALL {
            assert_eq!(def.cn_defaults.len(), def.params.len(), "{}", def.name);
            assert_eq!(def.talib_defaults.len(), def.params.len(), "{}", def.name);
            assert!(!def.outputs.is_empty(), "{}", def.name);
            for convention in [Convention::Cn, Convention::Talib] {
                let indicator = Indicator::new(def.name, &[], convention).unwrap();
                let n = 300;
                let close: Vec<f64> = (0..n).map(|i| 100.0 + (i as f64 * 0.3).sin() * 5.0 + i as f64 * 0.05).collect();
                let high: Vec<f64> = close.iter().map(|c| c + 1.0).collect();
                let low: Vec<f64> = close.iter().map(|c| c - 1.0).collect();
                let volume: Vec<f64> = (0..n).map(|i| 1000.0 + i as f64).collect();
                let prices =
                    Prices { open: &close, high: &high, low: &low, close: &close, volume: &volume, adj_factor: &[] };
                let columns = indicator.compute(&prices);
                assert_eq!(columns.len(), def.outputs.len(), "{}", def.name);
                for column in &columns {
                    assert_eq!(column.len(), n, "{}", def.name);
                    assert!(column[n - 1].is_finite(), "{} {convention} has a last value", def.name);
                }
            }
        }
    }

    /// A deterministic random walk of `n` bars on a 0.5 grid (so highs and lows repeat), with a
    /// flat stretch where open, high, low and close are one price.
    fn walk(n: usize, seed: u64) -> [Vec<f64>; 5] {
        let mut next = crate::domain::testing::uniform(seed);
        let mut bars: [Vec<f64>; 5] = Default::default();
        let mut close = 100.0;
        for i in 0..n {
            let flat = (120..140).contains(&i);
            let open = close;
            if !flat {
                close = ((close + (next() - 0.5) * 6.0) * 2.0f64).round() / 2.0;
            }
            let spread = if flat { 0.0 } else { (next() * 4.0).floor() / 2.0 };
            let volume = if flat { 0.0 } else { 1000.0 + (next() * 50.0).floor() * 10.0 };
            for (column, value) in
                bars.iter_mut().zip([open, open.max(close) + spread, open.min(close) - spread, close, volume])
            {
                column.push(value);
            }
        }
        bars
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// What a live subscription does: one stream stepped bar by bar, a revised last bar stepped on
    /// a copy of the state before it, gives the batch values exactly; and copies are independent.
    #[test]
    fn streams_with_revisions_give_the_batch_values() {
        let n = 300;
        let [open, high, low, close, volume] = walk(n, 7);
        let prices = Prices { open: &open, high: &high, low: &low, close: &close, volume: &volume, adj_factor: &[] };
        let [o2, h2, l2, c2, v2] = walk(n, 99);
        let other = Prices { open: &o2, high: &h2, low: &l2, close: &c2, volume: &v2, adj_factor: &[] };
        let mut dice = 12345u64;
        for def in ALL {
            let short: Vec<f64> = match def.name {
                "MACD" => vec![3.0, 5.0, 2.0],
                _ => def.params.iter().map(|p| if p.kind == ParamKind::Positive { 1.5 } else { 2.0 }).collect(),
            };
            for convention in [Convention::Cn, Convention::Talib] {
                for params in [&[][..], &short] {
                    let indicator = Indicator::new(def.name, params, convention).unwrap();
                    let batch = indicator.compute(&prices);
                    let check = |out: &[f64], i: usize, how: &str| {
                        for (k, column) in batch.iter().enumerate() {
                            assert!(
                                same(out[k], column[i]),
                                "{indicator:?} {how} bar {i} output {k}: {} vs {}",
                                out[k],
                                column[i]
                            );
                        }
                    };
                    let mut out = vec![f64::NAN; indicator.outputs()];
                    let mut stream = indicator.stream();
                    let mut forks: Vec<(usize, Box<dyn Stream>)> = Vec::new();
                    for i in 0..n {
                        dice = dice.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        match dice >> 62 {
                            // The bar is first pushed wrong and revised: the copy steps the wrong one
                            // and is dropped.
                            0 => stream.boxed_clone().step(&other.quote(i), &mut out),
                            // The wrong bar is stepped on the stream itself; the state from before
                            // it takes its place.
                            1 => {
                                let before = stream.boxed_clone();
                                stream.step(&other.quote(i), &mut out);
                                stream = before;
                            }
                            // A copy kept to the end, stepped on its own afterwards.
                            2 if forks.len() < 3 => forks.push((i, stream.boxed_clone())),
                            _ => {}
                        }
                        stream.step(&prices.quote(i), &mut out);
                        check(&out, i, "live");
                    }
                    for (start, mut fork) in forks {
                        for i in start..n {
                            fork.step(&prices.quote(i), &mut out);
                            check(&out, i, "fork");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn labels_and_column_names() {
        let macd = Indicator::new("macd", &[], Convention::Cn).unwrap();
        assert_eq!(macd.label(), "MACD(12,26,9)");
        assert_eq!(
            macd.column_names("MACD(12,26,9)"),
            ["MACD(12,26,9).DIF", "MACD(12,26,9).DEA", "MACD(12,26,9).MACD"]
        );
        assert_eq!(Indicator::new("BOLL", &[20.0, 2.5], Convention::Cn).unwrap().label(), "BOLL(20,2.5)");
        assert_eq!(Indicator::new("OBV", &[], Convention::Talib).unwrap().column_names("OBV"), ["OBV"]);
        assert_eq!(Indicator::new("RSI", &[], Convention::Talib).unwrap().label(), "RSI(14)");
        assert_eq!(Indicator::new("RSI", &[], Convention::Cn).unwrap().label(), "RSI(24)");
    }
}
