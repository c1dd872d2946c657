//! PSY(N, M): the psychological line, the share of the last N bars that closed up, in percent:
//! PSY = COUNT(C > REF(C,1), N) / N × 100; PSYMA = MA(PSY, M) (MyTT `PSY`). TA-Lib has no such
//! function; both conventions give this.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "PSY",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["PSY", "PSYMA"],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], _: Convention) -> Vec<Vec<f64>> {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    let up: Vec<f64> = (0..p.close.len()).map(|i| f64::from(i > 0 && p.close[i] > p.close[i - 1])).collect();
    let psy: Vec<f64> = mytt::sum(&up, n).iter().map(|count| count / n as f64 * 100.0).collect();
    let psyma = mytt::ma(&psy, m);
    vec![psy, psyma]
}
