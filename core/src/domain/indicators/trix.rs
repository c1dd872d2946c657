//! TRIX(M1, M2): the one-bar rate of change of a triple EMA, in percent, and its M2-bar average.
//! TR = EMA(EMA(EMA(C, M1), M1), M1); TRIX = (TR − REF(TR, 1)) / REF(TR, 1) × 100.
//!
//! * cn (MyTT `TRIX`): pandas EMAs from the first close; TRMA = MA(TRIX, M2).
//! * talib: `TRIX(close, timeperiod=M1)` (each EMA seeded TA-Lib's way, the first value on bar
//!   3·(M1 − 1) + 1), and TRMA = `SMA(TRIX, timeperiod=M2)`.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "TRIX",
    params: &[period("M1"), period("M2")],
    cn_defaults: &[12.0, 20.0],
    talib_defaults: &[12.0, 20.0],
    outputs: &["TRIX", "TRMA"],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (m1, m2) = (super::bars(a, 0), super::bars(a, 1));
    match convention {
        Convention::Cn => {
            let tr = mytt::ema(&mytt::ema(&mytt::ema(p.close, m1), m1), m1);
            let trix = mytt::zip(&tr, &mytt::shift(&tr, 1), |now, then| (now - then) / then * 100.0);
            let trma = mytt::ma(&trix, m2);
            vec![trix, trma]
        }
        Convention::Talib => {
            let tr = talib::ema(&talib::ema(&talib::ema(p.close, m1), m1), m1);
            let trix = talib::roc(&tr, 1);
            let trma = talib::sma(&trix, m2);
            vec![trix, trma]
        }
    }
}
