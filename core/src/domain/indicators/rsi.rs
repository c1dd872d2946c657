//! RSI(N): the relative strength index.
//!
//! * cn (MyTT `RSI`): DIF = close − REF(close, 1); RSI = SMA(MAX(DIF, 0), N, 1) / SMA(ABS(DIF), N, 1)
//!   × 100 (Chinese SMAs, α = 1/N, from bar 1).
//! * talib (`RSI(close, timeperiod=N)`): Wilder's averages of gains and losses, seeded with their
//!   simple averages over the first N changes; the first value is on bar N; 0 where both are 0.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "RSI",
    params: &[period("N")],
    cn_defaults: &[24.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    vec![match convention {
        Convention::Cn => {
            let dif = mytt::zip(p.close, &mytt::shift(p.close, 1), |c, prev| c - prev);
            let up: Vec<f64> = dif.iter().map(|&d| mytt::max(d, 0.0)).collect();
            let all: Vec<f64> = dif.iter().map(|d| d.abs()).collect();
            mytt::zip(&mytt::sma(&up, n, 1), &mytt::sma(&all, n, 1), |u, a| u / a * 100.0)
        }
        Convention::Talib => wilder(p.close, n),
    }]
}

/// TA-Lib's RSI loop.
fn wilder(close: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    if close.len() <= n {
        return out;
    }
    let ratio = |gain: f64, loss: f64| if !talib::is_zero(gain + loss) { 100.0 * (gain / (gain + loss)) } else { 0.0 };
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=n {
        let change = close[i] - close[i - 1];
        if change < 0.0 {
            loss -= change;
        } else {
            gain += change;
        }
    }
    let period = n as f64;
    gain /= period;
    loss /= period;
    out[n] = ratio(gain, loss);
    for i in n + 1..close.len() {
        let change = close[i] - close[i - 1];
        gain *= period - 1.0;
        loss *= period - 1.0;
        if change < 0.0 {
            loss -= change;
        } else {
            gain += change;
        }
        gain /= period;
        loss /= period;
        out[i] = ratio(gain, loss);
    }
    out
}
