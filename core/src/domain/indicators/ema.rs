//! EMA(N): the exponential moving average of the close, α = 2 / (N + 1).
//!
//! * cn (MyTT `EMA(CLOSE, N)`, pandas `ewm(span=N, adjust=False)`): starts at the first close.
//! * talib (`EMA(close, timeperiod=N)`): starts at the average of the first N closes, on bar N − 1.

use super::stream::OnClose;
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Visit};

pub(super) const DEF: Def = Def {
    name: "EMA",
    params: &[period("N")],
    cn_defaults: &[12.0],
    talib_defaults: &[12.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => v.visit(OnClose(mytt::Ewm::ema(n))),
        Convention::Talib => v.visit(OnClose(FromFirstNumber::new(talib::Ema::new(n)))),
    }
}
