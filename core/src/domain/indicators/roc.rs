//! ROC(N, M): the rate of change over N bars, in percent, and its M-bar average.
//!
//! * cn (MyTT `ROC`): ROC = 100 · (C − REF(C, N)) / REF(C, N); MAROC = MA(ROC, M).
//! * talib: `ROC(close, timeperiod=N)` = (C / REF(C, N) − 1) · 100 (0 where REF is 0), and MAROC =
//!   `SMA(ROC, timeperiod=M)`.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "ROC",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["ROC", "MAROC"],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    match convention {
        Convention::Cn => {
            let roc = mytt::zip(p.close, &mytt::shift(p.close, n), |c, then| 100.0 * (c - then) / then);
            let maroc = mytt::ma(&roc, m);
            vec![roc, maroc]
        }
        Convention::Talib => {
            let roc = talib::roc(p.close, n);
            let maroc = talib::sma(&roc, m);
            vec![roc, maroc]
        }
    }
}
