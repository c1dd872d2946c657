//! SMA(N, M): the Chinese SMA of the close, `Y = (M·X + (N − M)·Y') / N`, that is an EWM with
//! α = M / N starting at the first close (MyTT `SMA(CLOSE, N, M)`). TA-Lib has no such function
//! (its SMA is [`super::ma`]), so both conventions give this.

use super::stream::OnClose;
use super::{batch, boxed, mytt, period, Convention, Def, Visit};

pub(super) const DEF: Def = Def {
    name: "SMA",
    params: &[period("N"), period("M")],
    cn_defaults: &[5.0, 1.0],
    talib_defaults: &[5.0, 1.0],
    outputs: &[""],
    check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

/// α = M / N above 1 would overshoot every step.
fn check(a: &[f64]) -> Result<(), String> {
    if a[1] > a[0] {
        return Err(format!("M ({}) must be at most N ({}): the weight of a new bar is M/N", a[1], a[0]));
    }
    Ok(())
}

fn build<V: Visit>(a: &[f64], _: Convention, v: V) -> V::Out {
    v.visit(OnClose(mytt::Ewm::sma(super::bars(a, 0), super::bars(a, 1))))
}
