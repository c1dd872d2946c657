//! CCI(N): the commodity channel index. TP = (high + low + close) / 3;
//! CCI = (TP − MA(TP, N)) / (0.015 · AVEDEV(TP, N)).
//!
//! * cn (MyTT `CCI`): exactly that (a zero deviation divides by zero, as numpy does).
//! * talib (`CCI(high, low, close, timeperiod=N)`): the same, 0 where the deviation or the
//!   difference is 0; first on bar N − 1 in both.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "CCI",
    params: &[period("N")],
    cn_defaults: &[14.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    let tp: Vec<f64> = (0..p.close.len()).map(|i| (p.high[i] + p.low[i] + p.close[i]) / 3.0).collect();
    let (mean, deviation) = (mytt::ma(&tp, n), mytt::avedev(&tp, n));
    let cci = (0..tp.len()).map(|i| {
        let (difference, deviation) = (tp[i] - mean[i], deviation[i]);
        match convention {
            Convention::Cn => difference / (0.015 * deviation),
            Convention::Talib if deviation.is_nan() => f64::NAN,
            Convention::Talib if difference != 0.0 && deviation != 0.0 => difference / (0.015 * deviation),
            Convention::Talib => 0.0,
        }
    });
    vec![cci.collect()]
}
