//! MA(N): the simple moving average of the close.
//!
//! * cn (MyTT `MA(CLOSE, N)`): `rolling(N).mean()`.
//! * talib (`SMA(close, timeperiod=N)`): the same average, by TA-Lib's running sum.

use super::stream::OnClose;
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Visit};

pub(super) const DEF: Def = Def {
    name: "MA",
    params: &[period("N")],
    cn_defaults: &[5.0],
    talib_defaults: &[5.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => v.visit(OnClose(mytt::Ma::new(n))),
        Convention::Talib => v.visit(OnClose(FromFirstNumber::new(talib::Sma::new(n)))),
    }
}
