//! BIAS(N): how far the close is from its N-bar average, in percent:
//! (close − MA(close, N)) / MA(close, N) × 100 (MyTT `BIAS`'s first output, with L1 = N). TA-Lib
//! has no such function; both conventions give this.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "BIAS",
    params: &[period("N")],
    cn_defaults: &[6.0],
    talib_defaults: &[6.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], _: Convention) -> Vec<Vec<f64>> {
    let ma = mytt::ma(p.close, super::bars(a, 0));
    vec![mytt::zip(p.close, &ma, |c, m| (c - m) / m * 100.0)]
}
