//! pandas' rolling accumulators, which [`super::mytt`]'s windows keep: `roll_sum`/`roll_mean`'s
//! Kahan-compensated sum and `roll_var`'s Welford variance, with pandas' own corrections (a run
//! of equal values, a mean of one sign, an unstable sum of squares). Each takes and drops one
//! value at a time; the caller keeps the window's values. And numpy's own sum of an array
//! ([`numpy_sum`]), which a pandas `mean()` of a whole window is.

use super::stream::Ring;

/// The running sum of a window's numbers as pandas keeps it: Kahan-compensated, with one
/// compensation for additions and one for removals, the count of negative numbers, and the run of
/// equal numbers last added (a window of one repeated value is given that value exactly).
#[derive(Debug, Clone, Copy)]
pub(super) struct WindowSum {
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

    pub(super) fn add(&mut self, x: f64) {
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

    pub(super) fn remove(&mut self, x: f64) {
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
    pub(super) fn total(&self) -> f64 {
        if self.run >= self.count {
            self.last * self.count as f64
        } else {
            self.sum
        }
    }

    /// pandas' `calc_mean`: a mean of numbers of one sign keeps that sign.
    pub(super) fn mean(&self) -> f64 {
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

/// A window of `n` slid as pandas slides it: the first window, and every window when `n` is 1,
/// summed anew; later ones by removing the value that leaves, then adding the new one.
#[derive(Debug, Clone)]
pub(super) struct RollingSum {
    pub(super) n: usize,
    bars: usize,
    ring: Ring,
    window: WindowSum,
}

impl RollingSum {
    pub(super) fn new(n: usize) -> RollingSum {
        RollingSum { n, bars: 0, ring: Ring::new(n), window: WindowSum::new() }
    }

    /// Takes `x`; `f` of the window if it holds `n` numbers, NaN otherwise.
    pub(super) fn step(&mut self, x: f64, f: fn(&WindowSum) -> f64) -> f64 {
        let leaving = self.ring.push(x);
        if self.bars == 0 || self.n <= 1 {
            self.window = WindowSum::new();
        } else if let Some(old) = leaving {
            self.window.remove(old);
        }
        self.window.add(x);
        self.bars += 1;
        let full = self.bars >= self.n && self.window.count >= self.n && self.window.count > 0;
        if full {
            f(&self.window)
        } else {
            f64::NAN
        }
    }
}

/// Welford's running variance with Kahan compensation, as pandas' `roll_var` keeps it: `count`
/// is a float there, and an update that cancels all but three digits of the sum of squares marks
/// the window for summing anew.
#[derive(Debug, Clone, Default)]
pub(super) struct WindowVariance {
    pub(super) count: f64,
    pub(super) mean: f64,
    pub(super) ssq: f64,
    pub(super) add_compensation: f64,
    pub(super) remove_compensation: f64,
    pub(super) unstable: bool,
}

/// pandas' `InvCondTol`: fewer than three significant digits left.
const INV_COND_TOL: f64 = f64::EPSILON * 1e3;

impl WindowVariance {
    pub(super) fn add(&mut self, x: f64) {
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

    pub(super) fn remove(&mut self, x: f64) {
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

/// numpy's `add.reduce` of a float64 array, bit for bit: its pairwise summation (numpy's
/// `pairwise_sum`), which `Series.mean()` sums with. Fewer than 8 values are added in order
/// from 0.0; up to 128 go round eight sums, added as a tree, the rest in order; longer ones are
/// split in two at a multiple of 8 near the middle. Each value is `f` of the array's, as numpy
/// sums an array made by an elementwise expression.
#[inline(always)]
pub(super) fn numpy_sum(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    if a.len() <= NUMPY_BLOCK {
        numpy_block(a, f)
    } else {
        numpy_halves(a, f)
    }
}

/// numpy's `PW_BLOCKSIZE`: longer arrays are summed as two halves.
const NUMPY_BLOCK: usize = 128;

/// [`numpy_sum`] of more than a block: its halves' sums (apart, so that the short case inlines).
fn numpy_halves(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    if a.len() <= NUMPY_BLOCK {
        return numpy_block(a, f);
    }
    let half = a.len() / 2 - (a.len() / 2) % 8;
    numpy_halves(&a[..half], f) + numpy_halves(&a[half..], f)
}

/// [`numpy_sum`] of at most a block.
#[inline(always)]
fn numpy_block(a: &[f64], f: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = a.len();
    if n < 8 {
        // numpy's 0.0 (a sum of −0.0 is 0.0 there, not −0.0 as `Iterator::sum` gives).
        return a.iter().fold(0.0, |sum, &x| sum + f(x));
    }
    let mut r: [f64; 8] = std::array::from_fn(|j| f(a[j]));
    let whole = n - n % 8;
    for chunk in a[8..whole].chunks_exact(8) {
        for (r, &x) in r.iter_mut().zip(chunk) {
            *r += f(x);
        }
    }
    let tree = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    a[whole..].iter().fold(tree, |sum, &x| sum + f(x))
}
