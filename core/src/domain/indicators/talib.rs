//! TA-Lib's building blocks, as TA-Lib 0.8 (the C library its Python binding bundles) computes
//! them: the talib convention of every indicator is written in these.
//!
//! Written by hand because they are the product; the rules are TA-Lib's own:
//!
//! * every function has a lookback: the first bars get no value (NaN here, as the Python binding
//!   gives them);
//! * the Python binding starts a function at the first bar where all its inputs are numbers, so an
//!   indicator of an indicator (TA-Lib's SMA over its ROC) starts after the inner one's lookback;
//!   [`from_first_number`] does that;
//! * averages are running sums without compensation, and an EMA is seeded with the simple average
//!   of its first `n` inputs (TA-Lib's default compatibility mode), stepped as `(x − prev)·k + prev`.

/// Runs `f` on the part of `s` from its first number on, and puts NaN in front of its result, as
/// TA-Lib's Python binding does with leading NaNs.
pub fn from_first_number(s: &[f64], f: impl FnOnce(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let start = s.iter().position(|x| !x.is_nan()).unwrap_or(s.len());
    let mut out = vec![f64::NAN; start];
    out.extend(f(&s[start..]));
    out
}

/// TA-Lib's `SMA(n)`: lookback `n − 1`.
pub fn sma(s: &[f64], n: usize) -> Vec<f64> {
    from_first_number(s, |s| {
        let mut out = vec![f64::NAN; s.len()];
        if n == 0 || s.len() < n {
            return out;
        }
        let mut total: f64 = s[..n - 1].iter().sum();
        for i in n - 1..s.len() {
            total += s[i];
            out[i] = total / n as f64;
            total -= s[i + 1 - n];
        }
        out
    })
}

/// TA-Lib's `EMA(n)` with smoothing `k`: seeded with the average of the first `n` inputs, so the
/// lookback is `n − 1`.
pub fn ema_with(s: &[f64], n: usize, k: f64) -> Vec<f64> {
    from_first_number(s, |s| {
        let mut out = vec![f64::NAN; s.len()];
        if n == 0 || s.len() < n {
            return out;
        }
        let mut prev = s[..n].iter().sum::<f64>() / n as f64;
        out[n - 1] = prev;
        for i in n..s.len() {
            prev = (s[i] - prev) * k + prev;
            out[i] = prev;
        }
        out
    })
}

/// TA-Lib's `EMA(n)`: k = 2 / (n + 1).
pub fn ema(s: &[f64], n: usize) -> Vec<f64> {
    ema_with(s, n, 2.0 / (n as f64 + 1.0))
}

/// TA-Lib's `ROC(n)`: `(x / x[n bars ago] − 1) · 100`, 0 where the earlier value is 0.
pub fn roc(s: &[f64], n: usize) -> Vec<f64> {
    lagged(s, n, |now, then| if then != 0.0 { (now / then - 1.0) * 100.0 } else { 0.0 })
}

/// `f(x, x[n bars ago])` from bar `n` on (TA-Lib's lookback `n`), from the first number on.
pub fn lagged(s: &[f64], n: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    from_first_number(s, |s| (0..s.len()).map(|i| if i >= n { f(s[i], s[i - n]) } else { f64::NAN }).collect())
}

/// TA-Lib's `TRANGE` of bar `i` against the close before it.
pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut range = high - low;
    let up = (high - prev_close).abs();
    if up > range {
        range = up;
    }
    let down = (low - prev_close).abs();
    if down > range {
        range = down;
    }
    range
}

/// TA-Lib's `TA_IS_ZERO`: within 1e-8 of zero.
pub fn is_zero(x: f64) -> bool {
    -0.000_000_01 < x && x < 0.000_000_01
}

/// The highest (`better` is `>`) or lowest (`<`) value of `s[start..=end]`. TA-Lib tracks the
/// index of the extreme to avoid rescanning; the value, which is all that is used, is the same.
pub fn window_extreme(s: &[f64], start: usize, end: usize, better: impl Fn(f64, f64) -> bool) -> f64 {
    let mut best = s[start];
    for &x in &s[start + 1..=end] {
        if better(x, best) {
            best = x;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sma_and_ema_have_their_lookbacks() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        let m = sma(&s, 3);
        assert!(m[0].is_nan() && m[1].is_nan());
        assert_eq!(&m[2..], &[2.0, 3.0, 4.0]);
        let e = ema(&s, 3);
        assert!(e[1].is_nan());
        assert_eq!(e[2], 2.0);
        assert_eq!(e[3], (4.0 - 2.0) * 0.5 + 2.0);
    }

    #[test]
    fn leading_nans_shift_the_start() {
        let s = [f64::NAN, f64::NAN, 1.0, 2.0, 3.0];
        let m = sma(&s, 2);
        assert!(m[..3].iter().all(|x| x.is_nan()));
        assert_eq!(&m[3..], &[1.5, 2.5]);
    }
}
