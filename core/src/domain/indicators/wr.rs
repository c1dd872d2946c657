//! WR(N): Williams %R over the last N bars.
//!
//! * cn (MyTT `WR`, its first output): (HHV(high, N) − close) / (HHV(high, N) − LLV(low, N)) × 100,
//!   from 0 (at the high) to 100.
//! * talib (`WILLR(high, low, close, timeperiod=N)`): the same ratio × −100, from −100 to 0, and 0
//!   where the range is 0.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "WR",
    params: &[period("N")],
    cn_defaults: &[10.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    let (hhv, llv) = (mytt::hhv(p.high, n), mytt::llv(p.low, n));
    let wr = (0..p.close.len()).map(|i| match convention {
        Convention::Cn => (hhv[i] - p.close[i]) / (hhv[i] - llv[i]) * 100.0,
        Convention::Talib => {
            let range = (hhv[i] - llv[i]) / -100.0;
            if range.is_nan() {
                f64::NAN
            } else if range != 0.0 {
                (hhv[i] - p.close[i]) / range
            } else {
                0.0
            }
        }
    });
    vec![wr.collect()]
}
