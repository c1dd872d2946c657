//! MA(N): the simple moving average of the close.
//!
//! * cn (MyTT `MA(CLOSE, N)`): `rolling(N).mean()`.
//! * talib (`SMA(close, timeperiod=N)`): the same average, by TA-Lib's running sum.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "MA",
    params: &[period("N")],
    cn_defaults: &[5.0],
    talib_defaults: &[5.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    vec![match convention {
        Convention::Cn => mytt::ma(p.close, n),
        Convention::Talib => talib::sma(p.close, n),
    }]
}
