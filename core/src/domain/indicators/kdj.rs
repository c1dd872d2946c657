//! KDJ(N, M1, M2): the stochastic oscillator.
//!
//! RSV = (close − LLV(low, N)) / (HHV(high, N) − LLV(low, N)) × 100.
//!
//! * cn (MyTT `KDJ`): K = EMA(RSV, 2·M1 − 1), D = EMA(K, 2·M2 − 1) (pandas EMAs, so α = 1/M1 and
//!   1/M2), J = 3K − 2D.
//! * talib (`STOCH(high, low, close, fastk_period=N, slowk_period=M1, slowd_period=M2)`, SMA
//!   smoothing): K = SMA(RSV, M1), D = SMA(K, M2), RSV 0 where the range is 0; J = 3K − 2D.
//!   Both K and D start on bar (N − 1) + (M1 − 1) + (M2 − 1), as TA-Lib returns them.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "KDJ",
    params: &[period("N"), period("M1"), period("M2")],
    cn_defaults: &[9.0, 3.0, 3.0],
    talib_defaults: &[9.0, 3.0, 3.0],
    outputs: &["K", "D", "J"],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (n, m1, m2) = (super::bars(a, 0), super::bars(a, 1), super::bars(a, 2));
    let (hhv, llv) = (mytt::hhv(p.high, n), mytt::llv(p.low, n));
    let (k, d) = match convention {
        Convention::Cn => {
            let rsv: Vec<f64> = (0..p.close.len()).map(|i| (p.close[i] - llv[i]) / (hhv[i] - llv[i]) * 100.0).collect();
            let k = mytt::ema(&rsv, 2 * m1 - 1);
            let d = mytt::ema(&k, 2 * m2 - 1);
            (k, d)
        }
        Convention::Talib => {
            let rsv: Vec<f64> = (0..p.close.len())
                .map(|i| {
                    let range = (hhv[i] - llv[i]) / 100.0;
                    if range.is_nan() {
                        f64::NAN
                    } else if range != 0.0 {
                        (p.close[i] - llv[i]) / range
                    } else {
                        0.0
                    }
                })
                .collect();
            let k = talib::sma(&rsv, m1);
            let mut d = talib::sma(&k, m2);
            let mut k = k;
            // TA-Lib returns K from where D starts.
            let start = (n - 1) + (m1 - 1) + (m2 - 1);
            for i in 0..start.min(k.len()) {
                k[i] = f64::NAN;
                d[i] = f64::NAN;
            }
            (k, d)
        }
    };
    let j = mytt::zip(&k, &d, |k, d| 3.0 * k - 2.0 * d);
    vec![k, d, j]
}
