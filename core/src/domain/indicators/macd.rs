//! MACD(SHORT, LONG, M): DIF = EMA(close, SHORT) − EMA(close, LONG); DEA = EMA(DIF, M); and the
//! histogram MACD.
//!
//! * cn (MyTT `MACD`): pandas EMAs from the first close; MACD = 2 × (DIF − DEA).
//! * talib (`MACD(close, fastperiod=SHORT, slowperiod=LONG, signalperiod=M)`: macd, macdsignal,
//!   macdhist): seeded EMAs, the first (LONG − 1) + (M − 1) bars without a value; MACD = DIF − DEA.
//!
//! The computation is [`crate::domain::macd::compute`], the one the article's `GetMACD` serves.

use super::{period, Convention, Def, Prices};
use crate::domain::macd::{self, MacdParams};

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
