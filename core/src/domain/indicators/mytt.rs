//! MyTT's level-0 functions over whole columns, with pandas' semantics: the cn convention of
//! every indicator is written in these, exactly as MyTT 2.9.3 writes it in Python.
//!
//! Written by hand because they are the product: MyTT is `pd.Series(S).rolling(N).mean()` and
//! `ewm(..., adjust=False)`, and the values must agree with pandas to 1e-9, NaN for NaN. So the
//! rules are pandas' own, not a simplification of them:
//!
//! * a rolling window (`MA`, `SUM`, `STD`, `HHV`, `LLV`, `AVEDEV`) has a value only where all of
//!   its `N` inputs are numbers (`min_periods = N`), NaN elsewhere;
//! * rolling sums add and remove with Kahan compensation, one compensation for additions and one
//!   for removals, as pandas' `roll_sum`/`roll_mean` do, so that a long history does not drift;
//! * an EWM starts at its first number, and across a NaN the old weight keeps decaying
//!   (`ignore_na = False`), so the next number weighs in as pandas weighs it.

use std::collections::VecDeque;

/// `REF(S, N)`: `S` moved `n` bars later, NaN in front.
pub fn shift(s: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; s.len()];
    if n < s.len() {
        out[n..].copy_from_slice(&s[..s.len() - n]);
    }
    out
}

/// The running sum of a window's numbers as pandas keeps it: Kahan-compensated, with one
/// compensation for additions and one for removals, the count of negative numbers, and the run of
/// equal numbers last added (a window of one repeated value is given that value exactly).
#[derive(Clone, Copy)]
struct WindowSum {
    sum: f64,
    add_compensation: f64,
    remove_compensation: f64,
    count: usize,
    negatives: usize,
    run: usize,
    last: f64,
}

impl WindowSum {
    fn new() -> WindowSum {
        WindowSum {
            sum: 0.0,
            add_compensation: 0.0,
            remove_compensation: 0.0,
            count: 0,
            negatives: 0,
            run: 0,
            last: f64::NAN,
        }
    }

    fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.count += 1;
        let y = x - self.add_compensation;
        let t = self.sum + y;
        self.add_compensation = t - self.sum - y;
        self.sum = t;
        self.negatives += usize::from(x.is_sign_negative());
        self.run = if x == self.last { self.run + 1 } else { 1 };
        self.last = x;
    }

    fn remove(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.count -= 1;
        let y = -x - self.remove_compensation;
        let t = self.sum + y;
        self.remove_compensation = t - self.sum - y;
        self.sum = t;
        self.negatives -= usize::from(x.is_sign_negative());
    }

    /// pandas' `calc_sum`.
    fn total(&self) -> f64 {
        if self.run >= self.count {
            self.last * self.count as f64
        } else {
            self.sum
        }
    }

    /// pandas' `calc_mean`: a mean of numbers of one sign keeps that sign.
    fn mean(&self) -> f64 {
        let mean = self.sum / self.count as f64;
        if self.run >= self.count {
            self.last
        } else if (self.negatives == 0 && mean < 0.0) || (self.negatives == self.count && mean > 0.0) {
            0.0
        } else {
            mean
        }
    }
}

/// Slides a window of `n` over `s` as pandas does (the first window, and every window when `n` is
/// 1, summed anew; later ones by removing then adding), and applies `f` to each window that holds
/// `n` numbers; NaN elsewhere.
fn rolling_sum_with(s: &[f64], n: usize, f: impl Fn(&WindowSum) -> f64) -> Vec<f64> {
    let mut window = WindowSum::new();
    let mut out = Vec::with_capacity(s.len());
    for (i, &x) in s.iter().enumerate() {
        if i == 0 || n <= 1 {
            window = WindowSum::new();
        } else if i >= n {
            window.remove(s[i - n]);
        }
        window.add(x);
        out.push(if i + 1 >= n && window.count >= n && window.count > 0 { f(&window) } else { f64::NAN });
    }
    out
}

/// `SUM(S, N)`: the sum of the last `n` values; `n == 0` is the running total (`cumsum`, which
/// skips NaN and keeps NaN where the input is NaN).
pub fn sum(s: &[f64], n: usize) -> Vec<f64> {
    if n == 0 {
        let mut total = 0.0;
        return s
            .iter()
            .map(|&x| {
                if x.is_nan() {
                    f64::NAN
                } else {
                    total += x;
                    total
                }
            })
            .collect();
    }
    rolling_sum_with(s, n, WindowSum::total)
}

/// `MA(S, N)`: the mean of the last `n` values.
pub fn ma(s: &[f64], n: usize) -> Vec<f64> {
    rolling_sum_with(s, n, WindowSum::mean)
}

/// Welford's running variance with Kahan compensation, as pandas' `roll_var` keeps it: `count`
/// is a float there, and an update that cancels all but three digits of the sum of squares marks
/// the window for summing anew.
#[derive(Default)]
struct WindowVariance {
    count: f64,
    mean: f64,
    ssq: f64,
    add_compensation: f64,
    remove_compensation: f64,
    unstable: bool,
}

/// pandas' `InvCondTol`: fewer than three significant digits left.
const INV_COND_TOL: f64 = f64::EPSILON * 1e3;

impl WindowVariance {
    fn add(&mut self, x: f64) {
        let before = self.ssq;
        if x.is_nan() {
            return;
        }
        self.count += 1.0;
        let previous_mean = self.mean - self.add_compensation;
        let y = x - self.add_compensation;
        let t = y - self.mean;
        self.add_compensation = t + self.mean - y;
        self.mean += t / self.count;
        self.ssq += (x - previous_mean) * (x - self.mean);
        if before * INV_COND_TOL > self.ssq {
            self.unstable = true;
        }
    }

    fn remove(&mut self, x: f64) {
        let before = self.ssq;
        if x.is_nan() {
            return;
        }
        self.count -= 1.0;
        if self.count == 0.0 {
            (self.mean, self.ssq, self.unstable) = (0.0, 0.0, false);
            return;
        }
        let previous_mean = self.mean - self.remove_compensation;
        let y = x - self.remove_compensation;
        let t = y - self.mean;
        self.remove_compensation = t + self.mean - y;
        self.mean -= t / self.count;
        self.ssq -= (x - previous_mean) * (x - self.mean);
        if before * INV_COND_TOL > self.ssq {
            self.unstable = true;
        }
    }
}

/// `STD(S, N)`: the population standard deviation (ddof 0) of the last `n` values, by pandas'
/// `roll_var`; a negative rounding residue gives 0, as pandas' `zsqrt`.
pub fn std(s: &[f64], n: usize) -> Vec<f64> {
    let mut window = WindowVariance::default();
    let mut out = Vec::with_capacity(s.len());
    for (i, &x) in s.iter().enumerate() {
        let recompute = i == 0 || n <= 1;
        if !recompute {
            if i >= n {
                window.remove(s[i - n]);
            }
            window.add(x);
        }
        if recompute || window.unstable {
            window = WindowVariance::default();
            for &y in &s[(i + 1).saturating_sub(n)..=i] {
                window.add(y);
            }
            window.unstable = false;
        }
        let full = i + 1 >= n && window.count >= n as f64 && window.count > 0.0;
        out.push(if full { (window.ssq / window.count).max(0.0).sqrt() } else { f64::NAN });
    }
    out
}

/// The running extreme of the last `n` values (a monotonic deque: O(1) amortized a bar); NaN
/// while the window holds a NaN or fewer than `n` values.
fn rolling_extreme(s: &[f64], n: usize, better: impl Fn(f64, f64) -> bool) -> Vec<f64> {
    let mut deque: VecDeque<usize> = VecDeque::new();
    let mut nans = 0usize;
    let mut out = Vec::with_capacity(s.len());
    for (i, &x) in s.iter().enumerate() {
        if x.is_nan() {
            nans += 1;
        } else {
            while deque.back().is_some_and(|&j| !better(s[j], x)) {
                deque.pop_back();
            }
            deque.push_back(i);
        }
        if i >= n {
            if s[i - n].is_nan() {
                nans -= 1;
            }
            while deque.front().is_some_and(|&j| j + n <= i) {
                deque.pop_front();
            }
        }
        let full = i + 1 >= n && nans == 0;
        out.push(match deque.front() {
            Some(&j) if full => s[j],
            _ => f64::NAN,
        });
    }
    out
}

/// `HHV(S, N)`: the highest of the last `n` values.
pub fn hhv(s: &[f64], n: usize) -> Vec<f64> {
    rolling_extreme(s, n, |kept, new| kept > new)
}

/// `LLV(S, N)`: the lowest of the last `n` values.
pub fn llv(s: &[f64], n: usize) -> Vec<f64> {
    rolling_extreme(s, n, |kept, new| kept < new)
}

/// `AVEDEV(S, N)`: the mean absolute deviation of the last `n` values from their mean. No O(1)
/// update exists (every deviation changes with the mean), so each window is summed anew, as
/// pandas' `rolling.apply` does.
pub fn avedev(s: &[f64], n: usize) -> Vec<f64> {
    let count = n as f64;
    (0..s.len())
        .map(|i| {
            if i + 1 < n {
                return f64::NAN;
            }
            let window = &s[i + 1 - n..=i];
            if window.iter().any(|x| x.is_nan()) {
                return f64::NAN;
            }
            let mean = window.iter().sum::<f64>() / count;
            window.iter().map(|x| (x - mean).abs()).sum::<f64>() / count
        })
        .collect()
}

/// pandas' `ewm(alpha=α, adjust=False).mean()`: starts at the first number; each next number
/// moves the value by `α` of the difference, and across NaN inputs the old weight keeps decaying.
pub fn ewm(s: &[f64], alpha: f64) -> Vec<f64> {
    let keep = 1.0 - alpha;
    let mut value = f64::NAN;
    let mut old_weight = 1.0;
    s.iter()
        .map(|&x| {
            if value.is_nan() {
                value = x;
            } else {
                old_weight *= keep;
                if !x.is_nan() {
                    if value != x {
                        value = (old_weight * value + alpha * x) / (old_weight + alpha);
                    }
                    old_weight = 1.0;
                }
            }
            value
        })
        .collect()
}

/// `EMA(S, N)`: `ewm(span=N, adjust=False)`, α = 2 / (N + 1).
pub fn ema(s: &[f64], n: usize) -> Vec<f64> {
    ewm(s, 2.0 / (n as f64 + 1.0))
}

/// `SMA(S, N, M)`, the Chinese SMA: `ewm(alpha=M/N, adjust=False)`.
pub fn sma(s: &[f64], n: usize, m: usize) -> Vec<f64> {
    ewm(s, m as f64 / n as f64)
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
