//! TA-Lib's building blocks, as TA-Lib 0.8's Python wheels compute them (the C library 0.6 they
//! bundle, whose loops for RSI, ATR, WILLR, STOCH, CCI and BBANDS were read from its disassembly
//! and are written in those indicators' files): the talib convention of every indicator is
//! written in these. Each is a state
//! ([`Filter`]) stepped one value at a time; its column function is that state run over a column.
//!
//! Written by hand because they are the product; the rules are TA-Lib's own:
//!
//! * every function has a lookback: the first bars get no value (NaN here, as the Python binding
//!   gives them);
//! * the Python binding starts a function at the first bar where all its inputs are numbers, so an
//!   indicator of an indicator (TA-Lib's SMA over its ROC) starts after the inner one's lookback;
//!   [`FromFirstNumber`] does that;
//! * its SMA is a running sum without compensation, and an EMA is seeded with the simple average
//!   of its first `n` inputs (TA-Lib's default compatibility mode), stepped as `(x − prev)·k + prev`
//!   with the multiply and the add fused, as TA-Lib's build does ([`super::fused`]).

use super::fused;
use super::stream::{column, step_each, Filter, Ring, SUM_START};

/// Whether a window of these extremes is flat as TA-Lib 0.6's stochastics (STOCH's fast K,
/// WILLR) take it, which write 0 there instead of their ratio: the range within 1e-14 of the
/// extremes' size (`|high − low| ≤ (|high| + |low|)·1e-14`; a NaN range is not flat). Callers
/// compute the ratio either way and pick, so that their loops have no branch and run wide.
#[inline]
pub fn flat(high: f64, low: f64) -> bool {
    tolerance(high, low) >= (high - low).abs()
}

/// TA-Lib 0.6's tolerance for two prices (`TA_EPSILON` of their sizes): a difference no larger
/// than this is none (a flat window, an unchanged typical price in MFI).
#[inline]
pub fn tolerance(a: f64, b: f64) -> f64 {
    (a.abs() + b.abs()) * 1e-14
}

/// `inner` started at the first number, NaN before it, as TA-Lib's Python binding does with
/// leading NaNs (a NaN after that is the inner function's affair).
#[derive(Debug, Clone)]
pub struct FromFirstNumber<T> {
    started: bool,
    inner: T,
}

impl<T: Filter> FromFirstNumber<T> {
    pub fn new(inner: T) -> FromFirstNumber<T> {
        FromFirstNumber { started: false, inner }
    }
}

impl<T: Filter> Filter for FromFirstNumber<T> {
    const WHOLE_COLUMN: bool = T::WHOLE_COLUMN;

    fn step(&mut self, x: f64) -> f64 {
        if !self.started && x.is_nan() {
            return f64::NAN;
        }
        self.started = true;
        self.inner.step(x)
    }

    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let first = if self.started { 0 } else { s.iter().position(|x| !x.is_nan()).unwrap_or(s.len()) };
        out.resize(out.len() + first, f64::NAN);
        if first < s.len() {
            self.started = true;
            self.inner.column_into(&s[first..], out);
        }
    }
}

/// TA-Lib's `SMA(n)` one value at a time (from the first value it is given): a running sum,
/// the newest value added before the average is taken and the oldest removed after.
#[derive(Debug, Clone)]
pub struct Sma {
    n: usize,
    total: f64,
    ring: Ring,
}

impl Sma {
    pub fn new(n: usize) -> Sma {
        Sma { n, total: SUM_START, ring: Ring::new(n) }
    }
}

impl Filter for Sma {
    const WHOLE_COLUMN: bool = true;

    fn step(&mut self, x: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.total += x;
        self.ring.push(x);
        if self.ring.len() < self.n {
            return f64::NAN;
        }
        let average = self.total / self.n as f64;
        // TA-Lib removes the oldest after the average (not before the next addition: the order of
        // the additions is the one it rounds in).
        let oldest = self.ring.oldest().expect("the window is full");
        self.total -= oldest;
        average
    }

    /// From a fresh state, the window read from `s` itself: the same sum, average and
    /// removal, in the same order.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let n = self.n;
        if n == 0 || !self.ring.is_empty() {
            return step_each(self, s, out);
        }
        let warm = (n - 1).min(s.len());
        let mut total = self.total;
        for &x in &s[..warm] {
            total += x;
        }
        out.resize(out.len() + warm, f64::NAN);
        let count = n as f64;
        out.extend(s[warm..].iter().zip(s).map(|(&x, &oldest)| {
            total += x;
            let average = total / count;
            total -= oldest;
            average
        }));
    }
}

/// TA-Lib's `SMA(n)`: lookback `n − 1`.
pub fn sma(s: &[f64], n: usize) -> Vec<f64> {
    column(FromFirstNumber::new(Sma::new(n)), s)
}

/// TA-Lib's `EMA(n)` with smoothing `k`, one value at a time (from the first value it is given):
/// seeded with the average of the first `n` inputs, so the lookback is `n − 1`.
#[derive(Debug, Clone)]
pub struct Ema {
    n: usize,
    k: f64,
    seen: usize,
    value: f64,
}

impl Ema {
    pub fn with(n: usize, k: f64) -> Ema {
        Ema { n, k, seen: 0, value: SUM_START }
    }

    /// k = 2 / (n + 1).
    pub fn new(n: usize) -> Ema {
        Ema::with(n, 2.0 / (n as f64 + 1.0))
    }
}

impl Filter for Ema {
    const WHOLE_COLUMN: bool = true;

    fn step(&mut self, x: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.seen += 1;
        if self.seen < self.n {
            // The seed's sum, while it lasts.
            self.value += x;
            f64::NAN
        } else if self.seen == self.n {
            self.value = (self.value + x) / self.n as f64;
            self.value
        } else {
            let (value, k) = (self.value, self.k);
            self.value = fused::fast(
                #[inline(always)]
                || fused::ema_step(value, x, k),
            );
            self.value
        }
    }

    /// From a fresh state: the seed, then the steady steps in a loop of their own (compiled for
    /// FMA where the processor has it).
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let n = self.n;
        if n == 0 || self.seen != 0 {
            return step_each(self, s, out);
        }
        let seeded = n.min(s.len());
        step_each(self, &s[..seeded], out);
        let (value, k) = (self.value, self.k);
        fused::fast(
            #[inline(always)]
            || fused::ema_steps(&s[seeded..], value, k, out),
        );
    }
}

impl FromFirstNumber<Ema> {
    /// The EMA's value and smoothing once it is past its seed (its next step is a steady one):
    /// what a loop that runs several EMAs together starts from.
    pub fn steady(&self) -> Option<(f64, f64)> {
        let ema = &self.inner;
        (self.started && ema.n > 0 && ema.seen >= ema.n).then_some((ema.value, ema.k))
    }
}

/// TA-Lib's `EMA(n)` with smoothing `k`.
pub fn ema_with(s: &[f64], n: usize, k: f64) -> Vec<f64> {
    column(FromFirstNumber::new(Ema::with(n, k)), s)
}

/// TA-Lib's `EMA(n)`: k = 2 / (n + 1).
pub fn ema(s: &[f64], n: usize) -> Vec<f64> {
    column(FromFirstNumber::new(Ema::new(n)), s)
}

/// A value against the value `n` before it, from the `n`-th value on (TA-Lib's lookback `n`),
/// NaN before.
#[derive(Debug, Clone)]
pub struct Lagged {
    ring: Ring,
    kind: Lag,
}

/// What [`Lagged`] takes of the two values. An enum, not a function pointer: the step is then
/// inlined into the indicator's batch loop (an indirect call a bar cost MTM and ROC about half
/// their time).
#[derive(Debug, Clone, Copy)]
enum Lag {
    /// TA-Lib's `MOM(n)`: `x − x[n bars ago]`.
    Change,
    /// TA-Lib's `ROC(n)`: `(x / x[n bars ago] − 1) · 100`, 0 where the earlier value is 0.
    Rate,
}

impl Lagged {
    /// TA-Lib's `MOM(n)`: `x − x[n bars ago]`.
    pub fn change(n: usize) -> Lagged {
        Lagged { ring: Ring::new(n), kind: Lag::Change }
    }

    /// TA-Lib's `ROC(n)`: `(x / x[n bars ago] − 1) · 100`, 0 where the earlier value is 0.
    pub fn roc(n: usize) -> Lagged {
        Lagged { ring: Ring::new(n), kind: Lag::Rate }
    }
}

impl Filter for Lagged {
    const WHOLE_COLUMN: bool = true;

    #[inline]
    fn step(&mut self, x: f64) -> f64 {
        match (self.ring.push(x), self.kind) {
            (Some(then), Lag::Change) => x - then,
            (Some(then), Lag::Rate) => {
                if then != 0.0 {
                    (x / then - 1.0) * 100.0
                } else {
                    0.0
                }
            }
            (None, _) => f64::NAN,
        }
    }

    /// From a fresh state, each value against the one `n` before it in `s` itself.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let n = self.ring.n();
        if !self.ring.is_empty() {
            return step_each(self, s, out);
        }
        out.resize(out.len() + n.min(s.len()), f64::NAN);
        let pairs = s.iter().skip(n).zip(s);
        match self.kind {
            Lag::Change => out.extend(pairs.map(|(&x, &then)| x - then)),
            Lag::Rate => out.extend(pairs.map(|(&x, &then)| if then != 0.0 { (x / then - 1.0) * 100.0 } else { 0.0 })),
        }
    }
}

/// TA-Lib's `ROC(n)`, from the first number on.
pub fn roc(s: &[f64], n: usize) -> Vec<f64> {
    column(FromFirstNumber::new(Lagged::roc(n)), s)
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
