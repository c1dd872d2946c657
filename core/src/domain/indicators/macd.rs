//! MACD(SHORT, LONG, M): DIF = EMA(close, SHORT) − EMA(close, LONG); DEA = EMA(DIF, M); and the
//! histogram MACD.
//!
//! * cn (MyTT `MACD`): pandas EMAs from the first close; MACD = 2 × (DIF − DEA).
//! * talib (`MACD(close, fastperiod=SHORT, slowperiod=LONG, signalperiod=M)`: macd, macdsignal,
//!   macdhist): seeded EMAs, the first (LONG − 1) + (M − 1) bars without a value; MACD = DIF − DEA.
//!
//! The article's `GetMACD` serves this computation too, through [`crate::domain::macd::compute`]
//! (its parameters and point type).

use super::{period, Convention, Def, Prices};
use crate::domain::macd::{self, MacdParams, MacdPoint};

pub(super) const DEF: Def = Def {
    name: "MACD",
    params: &[period("SHORT"), period("LONG"), period("M")],
    cn_defaults: &[12.0, 26.0, 9.0],
    talib_defaults: &[12.0, 26.0, 9.0],
    outputs: &["DIF", "DEA", "MACD"],
    check,
    compute,
};

/// The article's MACD refuses a fast EMA that is not faster; so does this one.
fn check(a: &[f64]) -> Result<(), String> {
    if a[0] >= a[1] {
        return Err(format!("SHORT ({}) must be below LONG ({})", a[0], a[1]));
    }
    Ok(())
}

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let params = MacdParams { fast: super::bars(a, 0), slow: super::bars(a, 1), signal: super::bars(a, 2) };
    let points = macd::compute(p.close, params, convention).expect("the spec checks the periods as MacdParams does");
    let column = |f: fn(&macd::MacdPoint) -> f64| points.iter().map(|v| v.as_ref().map_or(f64::NAN, f)).collect();
    vec![column(|v| v.dif), column(|v| v.dea), column(|v| v.macd)]
}

/// The MACD of every close in `convention`, `None` in TA-Lib's warm-up; `params` are checked.
pub(crate) fn points(closes: &[f64], params: MacdParams, convention: Convention) -> Vec<Option<MacdPoint>> {
    match convention {
        Convention::Cn => cn(closes, params),
        Convention::Talib => talib(closes, params),
    }
}

/// The smoothing factor of an `n`-period EMA.
fn alpha(n: usize) -> f64 {
    2.0 / (n as f64 + 1.0)
}

/// One EMA step, in TA-Lib's form (pandas' `(1 − α)·prev + α·x` differs in the last bit only).
fn step(prev: f64, x: f64, k: f64) -> f64 {
    (x - prev) * k + prev
}

fn cn(closes: &[f64], p: MacdParams) -> Vec<Option<MacdPoint>> {
    let (kf, ks, kg) = (alpha(p.fast), alpha(p.slow), alpha(p.signal));
    let Some(&first) = closes.first() else { return Vec::new() };
    let (mut fast, mut slow, mut dea) = (first, first, 0.0);
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            if i > 0 {
                fast = step(fast, close, kf);
                slow = step(slow, close, ks);
            }
            let dif = fast - slow;
            dea = if i == 0 { dif } else { step(dea, dif, kg) };
            Some(MacdPoint { dif, dea, macd: 2.0 * (dif - dea) })
        })
        .collect()
}

fn talib(closes: &[f64], p: MacdParams) -> Vec<Option<MacdPoint>> {
    let (kf, ks, kg) = (alpha(p.fast), alpha(p.slow), alpha(p.signal));
    let lookback = (p.slow - 1) + (p.signal - 1);
    let mut out = vec![None; closes.len()];
    if closes.len() <= lookback {
        return out;
    }
    // Both seed windows end on bar slow − 1.
    let seed_end = p.slow;
    let mean = |window: &[f64]| window.iter().sum::<f64>() / window.len() as f64;
    let mut fast = mean(&closes[seed_end - p.fast..seed_end]);
    let mut slow = mean(&closes[..seed_end]);
    let mut difs = Vec::with_capacity(p.signal);
    difs.push(fast - slow);
    for &close in &closes[seed_end..=lookback] {
        fast = step(fast, close, kf);
        slow = step(slow, close, ks);
        difs.push(fast - slow);
    }
    let mut dea = mean(&difs);
    let mut dif = *difs.last().expect("the signal seed has `signal` values");
    out[lookback] = Some(MacdPoint { dif, dea, macd: dif - dea });
    for (i, &close) in closes.iter().enumerate().skip(lookback + 1) {
        fast = step(fast, close, kf);
        slow = step(slow, close, ks);
        dif = fast - slow;
        dea = step(dea, dif, kg);
        out[i] = Some(MacdPoint { dif, dea, macd: dif - dea });
    }
    out
}
