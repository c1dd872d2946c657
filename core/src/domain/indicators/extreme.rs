//! `HHV(S, N)` and `LLV(S, N)`: the highest and lowest of the last `N` values, with pandas'
//! `rolling(N).max()`/`.min()` semantics (NaN until `N` values, and while a NaN is inside).
//!
//! Written by hand because it is the product (WR and KDJ read two of these a bar). Both the
//! stream ([`Extreme`]) and the batch over a column ([`Filter::column_into`]) find each window's
//! extreme by van Herk and Gil-Werman's blocks: cut the values into blocks of `N`; a window ending
//! at bar `i` is a tail of the block before `i`'s and a head of `i`'s own, so its extreme is the
//! better of that tail's (from one backward pass over the block before, when it was complete)
//! and that head's (a running extreme). Three comparisons a value, none of them a branch on the
//! values, whatever `N` and whatever the series (a falling one made the old rescans O(N) a bar);
//! the stream's bar that completes a block makes that block's backward pass, N comparisons, so a
//! step is O(1) amortized. A stream holds 2N + 1 values whatever the series.
//!
//! Of values that compare equal the newest is kept, in all three comparisons (a tail keeps its
//! newer value, a head takes the new one, the head wins over the tail), so a −0 and a 0 give the
//! newer. An extreme is one of the inputs, not a rounding: the batch and the stream, two loops
//! of the same comparisons, give the same bits.

use super::stream::{all_numbers, step_each, Filter};

/// The running extreme of the last `n` values (`HHV`, `LLV`); NaN while the window holds a NaN or
/// fewer than `n` values. A NaN takes no part (it is the comparisons' identity, −∞ for HHV, in
/// the blocks) and makes the windows that hold it NaN.
#[derive(Debug)]
pub struct Extreme {
    n: usize,
    bars: usize,
    /// The last bar whose value was NaN.
    last_nan: Option<usize>,
    /// HHV (the greater is better) or LLV (the less).
    highest: bool,
    /// The current block's values so far (`block[..k]`, NaN as the identity).
    block: Vec<f64>,
    k: usize,
    /// The extreme of `block[..k]`.
    head: f64,
    /// `tails[j]`: the extreme of the block before's values from `j` on; `tails[n]` (the empty
    /// tail) is the identity, for the window that is one whole block.
    tails: Vec<f64>,
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
        // A period is at most MAX_PERIOD, so the buffers are bounded.
        let n = n.min(super::MAX_PERIOD);
        let none = identity(highest);
        Extreme {
            n,
            bars: 0,
            last_nan: None,
            highest,
            block: vec![none; n],
            k: 0,
            head: none,
            tails: vec![none; n + 1],
        }
    }
}

/// By hand for `clone_from`: a revision copies the committed state into the same scratch state
/// again and again (`Stream::clone_into`), which then reuses its two buffers.
impl Clone for Extreme {
    fn clone(&self) -> Extreme {
        let mut copy = Extreme { block: Vec::new(), tails: Vec::new(), ..*self };
        copy.block.clone_from(&self.block);
        copy.tails.clone_from(&self.tails);
        copy
    }

    fn clone_from(&mut self, source: &Extreme) {
        let (mut block, mut tails) = (std::mem::take(&mut self.block), std::mem::take(&mut self.tails));
        block.clone_from(&source.block);
        tails.clone_from(&source.tails);
        *self = Extreme { block, tails, ..*source };
    }
}

/// What no value is worse than: −∞ for HHV, +∞ for LLV.
fn identity(highest: bool) -> f64 {
    if highest {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }
}

/// The better of `older` and `newer`, the newer where they compare equal. Not `f64::max`, whose
/// NaN rule costs instructions: the blocks hold no NaN.
#[inline(always)]
fn pick(highest: bool, older: f64, newer: f64) -> f64 {
    if highest {
        if older > newer {
            older
        } else {
            newer
        }
    } else if older < newer {
        older
    } else {
        newer
    }
}

/// `tails[j]` for every `j < block.len()`: the extreme of `block[j..]`, the newer kept on ties.
#[inline(always)]
fn tails_of(highest: bool, block: &[f64], tails: &mut [f64]) {
    let mut tail = identity(highest);
    for (slot, &x) in tails.iter_mut().zip(block).rev() {
        tail = pick(highest, x, tail);
        *slot = tail;
    }
}

impl Filter for Extreme {
    const WHOLE_COLUMN: bool = true;

    /// Inlined: WR and KDJ step two of these a bar, and their work then overlaps.
    #[inline]
    fn step(&mut self, x: f64) -> f64 {
        let (i, n, highest) = (self.bars, self.n, self.highest);
        self.bars += 1;
        if n == 0 {
            return f64::NAN;
        }
        let value = if x.is_nan() {
            self.last_nan = Some(i);
            identity(highest)
        } else {
            x
        };
        self.block[self.k] = value;
        self.head = pick(highest, self.head, value);
        let extreme = pick(highest, self.tails[self.k + 1], self.head);
        self.k += 1;
        if self.k == n {
            // The block is whole: its tails are the next block's to combine with.
            tails_of(highest, &self.block, &mut self.tails[..n]);
            (self.k, self.head) = (0, identity(highest));
        }
        let nan_inside = self.last_nan.is_some_and(|j| j + n > i);
        if i + 1 >= n && !nan_inside {
            extreme
        } else {
            f64::NAN
        }
    }

    /// From a fresh state over a column without NaN, the blocks read from the column itself (no
    /// copy into a block, no NaN to track); anything else is stepped value by value.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        let (n, highest) = (self.n, self.highest);
        if self.bars != 0 || n == 0 || !all_numbers(s) {
            return step_each(self, s, out);
        }
        // Monomorphic, so that each comparison is one instruction.
        if highest {
            blocks_into::<true>(s, n, out);
        } else {
            blocks_into::<false>(s, n, out);
        }
    }
}

/// The extreme of every window of `n` values of `s` without NaN, appended to `out` (NaN for the
/// first `n − 1`). Each block's values are appended in one `extend` of a zip of slices, so the
/// loop has neither a bounds check nor a capacity check a value, and no value is written twice.
fn blocks_into<const HIGHEST: bool>(s: &[f64], n: usize, out: &mut Vec<f64>) {
    out.reserve(s.len());
    // The tails of the block before, and of this one; the first block has none before it.
    let (mut before, mut this) = (vec![identity(HIGHEST); n + 1], vec![identity(HIGHEST); n + 1]);
    let mut blocks = s.chunks(n);
    if let Some(first) = blocks.next() {
        tails_of(HIGHEST, first, &mut before[..first.len()]);
        out.resize(out.len() + first.len() - 1, f64::NAN);
        if first.len() == n {
            out.push(before[0]);
        } else {
            out.push(f64::NAN);
        }
    }
    for block in blocks {
        tails_of(HIGHEST, block, &mut this[..block.len()]);
        let mut head = identity(HIGHEST);
        out.extend(block.iter().zip(&before[1..]).map(|(&x, &tail)| {
            head = pick(HIGHEST, head, x);
            pick(HIGHEST, tail, head)
        }));
        std::mem::swap(&mut before, &mut this);
    }
}
