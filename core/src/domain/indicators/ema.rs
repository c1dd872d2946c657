//! EMA(N): the exponential moving average of the close, α = 2 / (N + 1).
//!
//! * cn (MyTT `EMA(CLOSE, N)`, pandas `ewm(span=N, adjust=False)`): starts at the first close.
//! * talib (`EMA(close, timeperiod=N)`): starts at the average of the first N closes, on bar N − 1.

use super::stream::OnClose;
use super::talib::FromFirstNumber;
use super::{mytt, no_check, period, talib, Convention, Def, Stream};

pub(super) const DEF: Def = Def {
    name: "EMA",
    params: &[period("N")],
    cn_defaults: &[12.0],
    talib_defaults: &[12.0],
    outputs: &[""],
    check: no_check,
    stream,
};

fn stream(a: &[f64], convention: Convention) -> Box<dyn Stream> {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => Box::new(OnClose(mytt::Ewm::ema(n))),
        Convention::Talib => Box::new(OnClose(FromFirstNumber::new(talib::Ema::new(n)))),
    }
}
