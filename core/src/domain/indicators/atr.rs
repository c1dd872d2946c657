//! ATR(N): the average true range. TR = max(high − low, |prev close − high|, |prev close − low|),
//! from bar 1 (bar 0 has no previous close).
//!
//! * cn (MyTT `ATR`): MA(TR, N), first on bar N.
//! * talib (`ATR(high, low, close, timeperiod=N)`): Wilder's average, seeded with the simple
//!   average of the first N TRs on bar N, then `ATR = (ATR'·(N − 1) + TR) / N`.

use super::{mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "ATR",
    params: &[period("N")],
    cn_defaults: &[20.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    compute,
};

/// TR of every bar, NaN on bar 0.
pub(super) fn true_range(p: &Prices) -> Vec<f64> {
    (0..p.close.len())
        .map(|i| if i == 0 { f64::NAN } else { talib::true_range(p.high[i], p.low[i], p.close[i - 1]) })
        .collect()
}

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let n = super::bars(a, 0);
    let tr = true_range(p);
    vec![match convention {
        Convention::Cn => mytt::ma(&tr, n),
        Convention::Talib => wilder(&tr, n),
    }]
}

/// TA-Lib's ATR loop over TR (NaN on bar 0).
fn wilder(tr: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; tr.len()];
    if n == 1 {
        return tr.to_vec();
    }
    if tr.len() <= n {
        return out;
    }
    let period = n as f64;
    let mut atr = tr[1..=n].iter().sum::<f64>() / period;
    out[n] = atr;
    for i in n + 1..tr.len() {
        atr *= period - 1.0;
        atr += tr[i];
        atr /= period;
        out[i] = atr;
    }
    out
}
