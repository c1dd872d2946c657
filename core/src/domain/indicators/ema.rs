//! EMA(N): the exponential moving average of the close, α = 2 / (N + 1).
//!
//! * cn (MyTT `EMA(CLOSE, N)`, pandas `ewm(span=N, adjust=False)`): starts at the first close.
//! * talib (`EMA(close, timeperiod=N)`): starts at the average of the first N closes, on bar N − 1.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "EMA",
    params: &[period("N")],
    cn_defaults: &[12.0],
    talib_defaults: &[12.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    vec![match convention {
        Convention::Cn => mytt::ema(p.close, n),
        Convention::Talib => talib::ema(p.close, n),
    }]
}
