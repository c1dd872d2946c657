//! BBI(M1, M2, M3, M4): the bull and bear index, the mean of four moving averages of the close:
//! (MA(C,M1) + MA(C,M2) + MA(C,M3) + MA(C,M4)) / 4 (MyTT `BBI`). TA-Lib has no such function; both
//! conventions give this.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "BBI",
    params: &[period("M1"), period("M2"), period("M3"), period("M4")],
    cn_defaults: &[3.0, 6.0, 12.0, 20.0],
    talib_defaults: &[3.0, 6.0, 12.0, 20.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], _: Convention) -> Vec<Vec<f64>> {
    let ma = |i| mytt::ma(p.close, super::bars(a, i));
    let (a1, a2, a3, a4) = (ma(0), ma(1), ma(2), ma(3));
    vec![(0..p.close.len()).map(|i| (a1[i] + a2[i] + a3[i] + a4[i]) / 4.0).collect()]
}
