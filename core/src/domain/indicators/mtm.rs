//! MTM(N, M): momentum, the change over N bars, and its M-bar average.
//!
//! * cn (MyTT `MTM`): MTM = C − REF(C, N); MTMMA = MA(MTM, M).
//! * talib: `MOM(close, timeperiod=N)`, and MTMMA = `SMA(MOM, timeperiod=M)`.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "MTM",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["MTM", "MTMMA"],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    let mtm = talib::lagged(p.close, n, |now, then| now - then);
    let mtmma = match convention {
        Convention::Cn => mytt::ma(&mtm, m),
        Convention::Talib => talib::sma(&mtm, m),
    };
    vec![mtm, mtmma]
}
