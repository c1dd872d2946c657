//! MyTT's level-0 functions with pandas' semantics, one value at a time: the cn convention of
//! every indicator is written in these, exactly as MyTT 2.9.3 writes it in Python. Each is a
//! state ([`Filter`]) stepped bar by bar, and its column function (`ma`, `std`, ...) is that state
//! run over a column, so a live stream and a batch column are one computation.
//!
//! Written by hand because they are the product: MyTT is `pd.Series(S).rolling(N).mean()` and
//! `ewm(..., adjust=False)`, and the values must agree with pandas to 1e-9, NaN for NaN. So the
//! rules are pandas' own, not a simplification of them:
//!
//! * a rolling window (`MA`, `SUM`, `STD`, `HHV`, `LLV`, `AVEDEV`) has a value only where all of
//!   its `N` inputs are numbers (`min_periods = N`), NaN elsewhere;
//! * rolling sums add and remove with Kahan compensation, one compensation for additions and one
//!   for removals, as pandas' `roll_sum`/`roll_mean` do, so that a long history does not drift;
//! * a window keeps its last `N` inputs and nothing older (HHV/LLV two blocks of them), so a
//!   step is O(1) amortized, except AVEDEV's O(N), as in pandas;
//! * an EWM starts at its first number, and across a NaN the old weight keeps decaying
//!   (`ignore_na = False`), so the next number weighs in as pandas weighs it.

pub use super::extreme::Extreme;
use super::pandas::{numpy_sum, RollingSum, WindowSum, WindowVariance};
use super::stream::{all_numbers, column, step_each, Filter, Ring};

/// `REF(S, N)` one value at a time: the value `n` steps before, NaN until there is one.
#[derive(Debug, Clone)]
pub struct Ref(Ring);

impl Ref {
    pub fn new(n: usize) -> Ref {
        Ref(Ring::new(n))
    }
}

impl Filter for Ref {
    fn step(&mut self, x: f64) -> f64 {
        self.0.push(x).unwrap_or(f64::NAN)
    }
}

/// `REF(S, N)`: `S` moved `n` bars later, NaN in front.
pub fn shift(s: &[f64], n: usize) -> Vec<f64> {
    column(Ref::new(n), s)
}

/// `SUM(S, N)` one value at a time; `N = 0` is the running total.
#[derive(Debug, Clone)]
pub struct Sum {
    rolling: RollingSum,
    total: f64,
}

impl Sum {
    pub fn new(n: usize) -> Sum {
        Sum { rolling: RollingSum::new(n), total: 0.0 }
    }
}

impl Filter for Sum {
    fn step(&mut self, x: f64) -> f64 {
        if self.rolling.n > 0 {
            return self.rolling.step(x, WindowSum::total);
        }
        // `cumsum` skips NaN and keeps NaN where the input is NaN.
        if x.is_nan() {
            return f64::NAN;
        }
        self.total += x;
        self.total
    }
}

/// `SUM(S, N)`: the sum of the last `n` values; `n == 0` is the running total (`cumsum`, which
/// skips NaN and keeps NaN where the input is NaN).
pub fn sum(s: &[f64], n: usize) -> Vec<f64> {
    column(Sum::new(n), s)
}

/// `MA(S, N)` one value at a time.
#[derive(Debug, Clone)]
pub struct Ma(RollingSum);

impl Ma {
    pub fn new(n: usize) -> Ma {
        Ma(RollingSum::new(n))
    }
}

impl Filter for Ma {
    const WHOLE_COLUMN: bool = true;

    fn step(&mut self, x: f64) -> f64 {
        self.0.step(x, WindowSum::mean)
    }
}

/// `MA(S, N)`: the mean of the last `n` values.
pub fn ma(s: &[f64], n: usize) -> Vec<f64> {
    column(Ma::new(n), s)
}

/// `STD(S, N)` one value at a time. The window's values are kept: pandas sums an unstable window
/// anew, so this does too.
#[derive(Debug, Clone)]
pub struct Std {
    n: usize,
    bars: usize,
    ring: Ring,
    window: WindowVariance,
}

impl Std {
    pub fn new(n: usize) -> Std {
        Std { n, bars: 0, ring: Ring::new(n), window: WindowVariance::default() }
    }
}

impl Filter for Std {
    fn step(&mut self, x: f64) -> f64 {
        let leaving = self.ring.push(x);
        let recompute = self.bars == 0 || self.n <= 1;
        if !recompute {
            if let Some(old) = leaving {
                self.window.remove(old);
            }
            self.window.add(x);
        }
        if recompute || self.window.unstable {
            self.window = WindowVariance::default();
            for y in self.ring.iter() {
                self.window.add(y);
            }
            self.window.unstable = false;
        }
        self.bars += 1;
        let count = self.window.count;
        let full = self.bars >= self.n && count >= self.n as f64 && count > 0.0;
        if full {
            (self.window.ssq / count).max(0.0).sqrt()
        } else {
            f64::NAN
        }
    }
}

/// `STD(S, N)`: the population standard deviation (ddof 0) of the last `n` values, by pandas'
/// `roll_var`; a negative rounding residue gives 0, as pandas' `zsqrt`.
pub fn std(s: &[f64], n: usize) -> Vec<f64> {
    column(Std::new(n), s)
}

/// `HHV(S, N)`: the highest of the last `n` values.
pub fn hhv(s: &[f64], n: usize) -> Vec<f64> {
    column(Extreme::highest(n), s)
}

/// `LLV(S, N)`: the lowest of the last `n` values.
pub fn llv(s: &[f64], n: usize) -> Vec<f64> {
    column(Extreme::lowest(n), s)
}

/// `AVEDEV(S, N)` one value at a time. No O(1) update exists (every deviation changes with the
/// mean), so each window is summed anew, O(N) a bar, as pandas' `rolling.apply` does: MyTT's
/// `(np.abs(x - x.mean())).mean()` of each window, both means numpy's pairwise sums
/// (`pandas::numpy_sum`), so the values are MyTT's bit for bit.
#[derive(Debug, Clone)]
pub struct Avedev {
    n: usize,
    /// Values pushed so far (up to `n`: the count of the first window).
    seen: usize,
    /// Each value twice, at `k` and `k + n`, so that the window, oldest first, is the one slice
    /// `mirrored[next..next + n]` that numpy sums, without a copy a bar.
    mirrored: Vec<f64>,
    /// Where the next value goes (`0..n`).
    next: usize,
}

impl Avedev {
    pub fn new(n: usize) -> Avedev {
        // A period is at most MAX_PERIOD, so the buffer is bounded.
        let n = n.min(super::MAX_PERIOD);
        Avedev { n, seen: 0, mirrored: vec![f64::NAN; 2 * n], next: 0 }
    }
}

/// The mean absolute deviation of `window` from its mean, as MyTT computes it.
#[inline(always)]
fn mean_deviation(window: &[f64]) -> f64 {
    let count = window.len() as f64;
    let mean = numpy_sum(window, |x| x) / count;
    numpy_sum(window, |x| (x - mean).abs()) / count
}

impl Filter for Avedev {
    fn step(&mut self, x: f64) -> f64 {
        let n = self.n;
        if n == 0 {
            return f64::NAN;
        }
        (self.mirrored[self.next], self.mirrored[self.next + n]) = (x, x);
        self.next = if self.next + 1 == n { 0 } else { self.next + 1 };
        self.seen = (self.seen + 1).min(n);
        let window = &self.mirrored[self.next..self.next + n];
        if self.seen < n || !all_numbers(window) {
            return f64::NAN;
        }
        mean_deviation(window)
    }

    /// From a fresh state over a column without NaN, each window read from `s` itself. The
    /// windows' sums do not depend on one another, so the processor overlaps them.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let n = self.n;
        if n == 0 || self.seen != 0 || !all_numbers(s) {
            return step_each(self, s, out);
        }
        out.resize(out.len() + (n - 1).min(s.len()), f64::NAN);
        out.extend(s.windows(n).map(mean_deviation));
    }
}

/// `AVEDEV(S, N)`: the mean absolute deviation of the last `n` values from their mean.
pub fn avedev(s: &[f64], n: usize) -> Vec<f64> {
    column(Avedev::new(n), s)
}

/// pandas' `ewm(alpha=α, adjust=False).mean()` one value at a time: starts at the first number;
/// each next number moves the value by `α` of the difference, and across NaN inputs the old
/// weight keeps decaying.
///
/// Its fields are the crate's: the formulas step several of these together over blocks of bars
/// (`formula::ema`), with the arithmetic of [`Filter::step`].
#[derive(Debug, Clone, Copy)]
pub struct Ewm {
    pub(crate) alpha: f64,
    pub(crate) keep: f64,
    pub(crate) value: f64,
    pub(crate) old_weight: f64,
}

impl Ewm {
    pub fn new(alpha: f64) -> Ewm {
        Ewm { alpha, keep: 1.0 - alpha, value: f64::NAN, old_weight: 1.0 }
    }

    /// `EMA(S, N)`: α = 2 / (N + 1).
    pub fn ema(n: usize) -> Ewm {
        Ewm::new(2.0 / (n as f64 + 1.0))
    }

    /// `SMA(S, N, M)`: α = M / N.
    pub fn sma(n: usize, m: usize) -> Ewm {
        Ewm::new(m as f64 / n as f64)
    }
}

impl Filter for Ewm {
    #[inline]
    fn step(&mut self, x: f64) -> f64 {
        if self.value.is_nan() {
            self.value = x;
        } else {
            self.old_weight *= self.keep;
            if !x.is_nan() {
                if self.value != x {
                    let weight = self.old_weight + self.alpha;
                    let sum = self.old_weight * self.value + self.alpha * x;
                    // After a number the weights are (1 − α) + α, which rounds to exactly 1 for
                    // the α of most periods (checked here, not assumed): a division by 1 changes
                    // no bit, and skipping it takes the division off the chain between bars.
                    self.value = if weight == 1.0 { sum } else { sum / weight };
                }
                self.old_weight = 1.0;
            }
        }
        self.value
    }
}

/// pandas' `ewm(alpha=α, adjust=False).mean()` over a column.
pub fn ewm(s: &[f64], alpha: f64) -> Vec<f64> {
    column(Ewm::new(alpha), s)
}

/// `EMA(S, N)`: `ewm(span=N, adjust=False)`, α = 2 / (N + 1).
pub fn ema(s: &[f64], n: usize) -> Vec<f64> {
    column(Ewm::ema(n), s)
}

/// `SMA(S, N, M)`, the Chinese SMA: `ewm(alpha=M/N, adjust=False)`.
pub fn sma(s: &[f64], n: usize, m: usize) -> Vec<f64> {
    column(Ewm::sma(n, m), s)
}

/// Element by element: `f(a[i], b[i])`.
pub fn zip(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

/// numpy's `maximum`: NaN when either is NaN.
pub fn max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x.is_nan() && y.is_nan()) || (x - y).abs() < 1e-12)
    }

    #[test]
    fn windows_need_n_numbers() {
        let s = [1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0];
        let nan = f64::NAN;
        assert!(close(&ma(&s, 2), &[nan, 1.5, nan, nan, 4.5, 5.5]));
        assert!(close(&sum(&s, 0), &[1.0, 3.0, nan, 7.0, 12.0, 18.0]));
        assert!(close(&hhv(&s, 2), &[nan, 2.0, nan, nan, 5.0, 6.0]));
        assert!(close(&llv(&[3.0, 1.0, 2.0, 5.0], 2), &[nan, 1.0, 1.0, 2.0]));
        assert!(close(&shift(&s, 2), &[nan, nan, 1.0, 2.0, nan, 4.0]));
        assert!(close(&std(&[1.0, 3.0, 5.0, 5.0], 2), &[nan, 1.0, 1.0, 0.0]));
        assert!(close(&avedev(&[1.0, 3.0, 8.0], 3), &[nan, nan, (3.0 + 1.0 + 4.0) / 3.0]));
    }

    /// HHV and LLV, stepped (where there is a NaN) and by columns (where there is none), short
    /// windows and long, against the extreme of each window taken whole: NaN until N bars and
    /// while a NaN is inside; of equal values (0 and −0 among them) the newest, bit for bit.
    #[test]
    fn extremes_equal_those_of_each_whole_window() {
        let mut state = 99u64;
        let s: Vec<f64> = (0..3000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                match (state >> 33) % 50 {
                    0 if i % 700 < 350 => f64::NAN,
                    1 => 0.0,
                    2 => -0.0,
                    k => ((k as f64) - 25.0).round() / 2.0 + ((i / 300) as f64 - 5.0),
                }
            })
            .collect();
        // Without NaN too (±0 kept): the batch then reads its blocks from the column itself.
        let clean: Vec<f64> = s.iter().map(|&x| if x.is_nan() { 0.25 } else { x }).collect();
        let lengths = [1, 2, 5, 14, 64, 65, 200, 2999, 3000, 3001];
        for (s, n) in [&s, &clean].into_iter().flat_map(|s| lengths.map(|n| (s, n))) {
            for highest in [true, false] {
                let got = if highest { hhv(s, n) } else { llv(s, n) };
                for (i, &value) in got.iter().enumerate() {
                    let window = &s[(i + 1).saturating_sub(n)..=i];
                    let want = if i + 1 < n || window.iter().any(|x| x.is_nan()) {
                        f64::NAN
                    } else {
                        window.iter().copied().fold(window[0], |best, x| {
                            if (highest && x >= best) || (!highest && x <= best) {
                                x
                            } else {
                                best
                            }
                        })
                    };
                    assert!(
                        value.to_bits() == want.to_bits() || (value.is_nan() && want.is_nan()),
                        "n {n} highest {highest} bar {i}: {value} against {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn ewm_starts_at_the_first_number_and_decays_across_nan() {
        let nan = f64::NAN;
        let e = ewm(&[nan, 2.0, 4.0, nan, 8.0], 0.5);
        assert!(e[0].is_nan());
        assert_eq!(&e[1..3], &[2.0, 3.0]);
        assert_eq!(e[3], 3.0);
        // pandas: old weight 0.25 after the gap, so (0.25·3 + 0.5·8) / 0.75.
        assert!((e[4] - (0.25 * 3.0 + 0.5 * 8.0) / 0.75).abs() < 1e-12);
    }
}
