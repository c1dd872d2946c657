//! MFI(N): the money flow index, an RSI of typical price × volume. TP = (high + low + close) / 3;
//! a bar's flow TP·V counts as positive when TP rose, negative when it fell.
//!
//! * cn (MyTT `MFI`): V1 = SUM(positive, N) / SUM(negative, N); MFI = 100 − 100 / (1 + V1), from
//!   bar N − 1 (bar 0's flow counts as neither).
//! * talib (`MFI(high, low, close, volume, timeperiod=N)`): 100 · positive / (positive +
//!   negative) over the last N changes, from bar N; 0 where the total flow is below 1.

use super::{mytt, no_check, period, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "MFI",
    params: &[period("N")],
    cn_defaults: &[14.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    let tp: Vec<f64> = (0..p.close.len()).map(|i| (p.high[i] + p.low[i] + p.close[i]) / 3.0).collect();
    let flow = |rising: bool| -> Vec<f64> {
        (0..tp.len())
            .map(|i| {
                let moved = i > 0 && if rising { tp[i] > tp[i - 1] } else { tp[i] < tp[i - 1] };
                if moved {
                    tp[i] * p.volume[i]
                } else {
                    0.0
                }
            })
            .collect()
    };
    let (positive, negative) = (flow(true), flow(false));
    vec![match convention {
        Convention::Cn => {
            let (up, down) = (mytt::sum(&positive, n), mytt::sum(&negative, n));
            mytt::zip(&up, &down, |u, d| 100.0 - 100.0 / (1.0 + u / d))
        }
        Convention::Talib => talib_mfi(&positive, &negative, n),
    }]
}

/// TA-Lib's running sums over the last `n` flows, from bar 1.
fn talib_mfi(positive: &[f64], negative: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; positive.len()];
    if positive.len() <= n {
        return out;
    }
    let (mut up, mut down): (f64, f64) = (positive[1..=n].iter().sum(), negative[1..=n].iter().sum());
    let ratio = |up: f64, down: f64| if up + down < 1.0 { 0.0 } else { 100.0 * (up / (up + down)) };
    out[n] = ratio(up, down);
    for i in n + 1..positive.len() {
        up -= positive[i - n];
        down -= negative[i - n];
        up += positive[i];
        down += negative[i];
        out[i] = ratio(up, down);
    }
    out
}
