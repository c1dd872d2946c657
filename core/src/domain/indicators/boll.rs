//! BOLL(N, P): Bollinger bands around the N-bar average of the close.
//!
//! MID = MA(close, N); UPPER = MID + P·σ; LOWER = MID − P·σ, σ the population standard deviation
//! of the last N closes.
//!
//! * cn (MyTT `BOLL`): pandas' rolling mean and `std(ddof=0)`.
//! * talib (`BBANDS(close, timeperiod=N, nbdevup=P, nbdevdn=P, matype=SMA)`: upper, middle,
//!   lower): σ² = mean(x²) − MID² by running sums, 0 where that is below 1e-8, as TA-Lib does.

use super::{mytt, period, talib, Convention, Def, Param, ParamKind, Prices};

pub(super) const DEF: Def = Def {
    name: "BOLL",
    params: &[period("N"), Param { name: "P", kind: ParamKind::Positive }],
    cn_defaults: &[20.0, 2.0],
    talib_defaults: &[20.0, 2.0],
    outputs: &["UPPER", "MID", "LOWER"],
    check: super::no_check,
    compute,
};

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (n, width) = (super::bars(a, 0), a[1]);
    let (mid, sigma) = match convention {
        Convention::Cn => (mytt::ma(p.close, n), mytt::std(p.close, n)),
        Convention::Talib => {
            let mid = talib::sma(p.close, n);
            let sigma = stddev_from_mean(p.close, &mid, n);
            (mid, sigma)
        }
    };
    let upper = mytt::zip(&mid, &sigma, |m, s| m + s * width);
    let lower = mytt::zip(&mid, &sigma, |m, s| m - s * width);
    vec![upper, mid, lower]
}

/// TA-Lib's `TA_INT_stddev_using_precalc_ma`: the running sum of squares against the average.
fn stddev_from_mean(x: &[f64], mean: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if x.len() < n {
        return out;
    }
    let mut squares: f64 = x[..n - 1].iter().map(|v| v * v).sum();
    for i in n - 1..x.len() {
        squares += x[i] * x[i];
        let variance = squares / n as f64 - mean[i] * mean[i];
        squares -= x[i + 1 - n] * x[i + 1 - n];
        out[i] = if variance >= 0.000_000_01 { variance.sqrt() } else { 0.0 };
    }
    out
}
