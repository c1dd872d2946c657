//! `HHV(S, N)` and `LLV(S, N)`: the highest and lowest of the last `N` values, with pandas'
//! `rolling(N).max()`/`.min()` semantics (NaN until `N` values, and while a NaN is inside).
//!
//! Written by hand because it is the product (WR and KDJ read two of these a bar). A stream keeps
//! its window ([`Extreme`]); a batch from a fresh state over a column reads the windows from the
//! column itself ([`Filter::column_into`]) where that gives the same bits: an extreme is one of
//! the inputs, not a rounding, so over numbers that are not ±0 any exact way to it gives the
//! stream's value.

use std::collections::VecDeque;

use super::stream::{step_each, Filter, Ring};

/// The running extreme of the last `n` values (`HHV`, `LLV`); NaN while the window holds a NaN or
/// fewer than `n` values. Of values that compare equal, the newest is the one kept (so a −0 and a
/// 0 give the newer), whichever of the two ways below keeps it.
#[derive(Debug, Clone)]
pub struct Extreme {
    n: usize,
    bars: usize,
    /// The last bar whose value was NaN.
    last_nan: Option<usize>,
    /// HHV (a kept value is better when greater) or LLV (when less).
    highest: bool,
    window: Window,
}

/// The longest window kept as its values with the bar of their extreme ([`Window::Rescan`]):
/// when that bar leaves, the window is scanned anew, at most this many values a bar.
const RESCAN_MAX: usize = 64;

#[derive(Debug, Clone)]
enum Window {
    /// Short windows: the last `n` values, and the extreme of their numbers (NaN if none) with its
    /// bar. A new value at least as good takes its place; when its bar leaves, the values are
    /// scanned anew. Fewer branches to mispredict than the deque's pops: TA-Lib's way.
    Rescan { ring: Ring, best: f64, at: usize },
    /// Long windows: a monotonic deque of the bars that may still become the extreme, bar index
    /// and value, the front the window's extreme; O(1) amortized a bar whatever the values.
    Deque(VecDeque<(usize, f64)>),
}

impl Extreme {
    /// `HHV`.
    pub fn highest(n: usize) -> Extreme {
        Extreme::new(n, true)
    }

    /// `LLV`.
    pub fn lowest(n: usize) -> Extreme {
        Extreme::new(n, false)
    }

    fn new(n: usize, highest: bool) -> Extreme {
        let window = if (1..=RESCAN_MAX).contains(&n) {
            Window::Rescan { ring: Ring::new(n), best: f64::NAN, at: 0 }
        } else {
            Window::Deque(VecDeque::new())
        };
        Extreme { n, bars: 0, last_nan: None, highest, window }
    }
}

impl Filter for Extreme {
    const WHOLE_COLUMN: bool = true;

    fn step(&mut self, x: f64) -> f64 {
        let (i, n, highest) = (self.bars, self.n, self.highest);
        self.bars += 1;
        // A kept value is replaced by a new one unless strictly better.
        let better = |kept: f64, new: f64| if highest { kept > new } else { kept < new };
        if x.is_nan() {
            self.last_nan = Some(i);
        }
        let extreme = match &mut self.window {
            Window::Rescan { ring, best, at } => {
                ring.push(x);
                if !x.is_nan() && (best.is_nan() || !better(*best, x)) {
                    (*best, *at) = (x, i);
                } else if !best.is_nan() && *at + n <= i {
                    // The extreme has left: the window's numbers, oldest first, anew.
                    let first = i + 1 - ring.len();
                    *best = f64::NAN;
                    for (k, value) in ring.iter().enumerate() {
                        if !value.is_nan() && (best.is_nan() || !better(*best, value)) {
                            (*best, *at) = (value, first + k);
                        }
                    }
                }
                *best
            }
            Window::Deque(deque) => {
                if !x.is_nan() {
                    while deque.back().is_some_and(|&(_, kept)| !better(kept, x)) {
                        deque.pop_back();
                    }
                    deque.push_back((i, x));
                }
                while deque.front().is_some_and(|&(j, _)| j + n <= i) {
                    deque.pop_front();
                }
                deque.front().map_or(f64::NAN, |&(_, extreme)| extreme)
            }
        };
        let nan_inside = self.last_nan.is_some_and(|j| j + n > i);
        if i + 1 >= n && !nan_inside {
            extreme
        } else {
            f64::NAN
        }
    }

    /// From a fresh state over a column without NaN or zero, the extremes by blocks
    /// ([`blocks_into`]); anything else is stepped value by value.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        if self.bars != 0 || self.n == 0 || !all_nonzero_numbers(s) {
            return step_each(self, s, out);
        }
        let start = out.len();
        out.resize(start + s.len(), f64::NAN);
        if self.highest {
            blocks_into::<true>(s, self.n, &mut out[start..]);
        } else {
            blocks_into::<false>(s, self.n, &mut out[start..]);
        }
    }
}

/// Whether every value of `s` is a number other than ±0: then two values that compare equal have
/// the same bits, so any exact way to the extreme gives the stream's value, bit for bit. Every
/// value is looked at (no early exit), so that the loop runs wide.
fn all_nonzero_numbers(s: &[f64]) -> bool {
    // `x != 0.0` is false for ±0 and true for NaN; `x == x` is false for NaN alone.
    s.chunks(8).fold(true, |ok, chunk| ok & chunk.iter().fold(true, |ok, &x| ok & (x != 0.0) & (x == x)))
}

/// The extreme of every window of `n` values of `s` (from bar `n − 1`: `out[..n − 1]` is left as
/// it is), by van Herk and Gil-Werman's blocks: cut `s` into blocks of `n`; a window ending at bar
/// `i` is a tail of the block before `i`'s and a head of `i`'s own, so its extreme is the better
/// of that tail's (kept from a backward pass over the block before) and that head's (a running
/// extreme). Three comparisons a value and no branch on the values, whatever `n`.
fn blocks_into<const HIGHEST: bool>(s: &[f64], n: usize, out: &mut [f64]) {
    // Not `f64::max`, whose NaN rule costs instructions: there is no NaN here.
    let pick = |a: f64, b: f64| {
        if HIGHEST {
            if a > b {
                a
            } else {
                b
            }
        } else if a < b {
            a
        } else {
            b
        }
    };
    let none = if HIGHEST { f64::NEG_INFINITY } else { f64::INFINITY };
    // The tails' extremes of the block before (`tails[k]`: its values from `k` on), and of this
    // one; `tails[n]` is the empty tail, for the window that is one whole block.
    let (mut before, mut this) = (vec![none; n + 1], vec![none; n + 1]);
    for (b, block) in s.chunks(n).enumerate() {
        let start = b * n;
        let mut tail = none;
        for (k, &x) in block.iter().enumerate().rev() {
            tail = pick(x, tail);
            this[k] = tail;
        }
        let mut head = none;
        for (k, &x) in block.iter().enumerate() {
            head = pick(head, x);
            // Bar `start + k`'s window begins at `start + k + 1 − n`: index `k + 1` of the block
            // before.
            if start + k + 1 >= n {
                out[start + k] = pick(before[k + 1], head);
            }
        }
        std::mem::swap(&mut before, &mut this);
    }
}
