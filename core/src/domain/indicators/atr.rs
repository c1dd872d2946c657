//! ATR(N): the average true range. TR = max(high − low, |prev close − high|, |prev close − low|),
//! from bar 1 (bar 0 has no previous close).
//!
//! * cn (MyTT `ATR`): MA(TR, N), first on bar N.
//! * talib (`ATR(high, low, close, timeperiod=N)`): Wilder's average, seeded with the simple
//!   average of the first N TRs on bar N, then `ATR = ATR'·k + TR·(1 − k)` with k = (N − 1)/N
//!   (the multiply-add fused, as TA-Lib computes it).

use super::stream::{column, Filter, Step, SUM_START};
use super::{batch, boxed, fused, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "ATR",
    params: &[period("N")],
    cn_defaults: &[20.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

/// TR of each bar against the close before it, NaN on bar 0.
#[derive(Clone)]
pub(super) struct TrueRange(Option<f64>);

impl TrueRange {
    pub(super) fn new() -> TrueRange {
        TrueRange(None)
    }

    pub(super) fn step(&mut self, quote: &Quote) -> f64 {
        let tr = self.0.map_or(f64::NAN, |prev| talib::true_range(quote.high, quote.low, prev));
        self.0 = Some(quote.close);
        tr
    }
}

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    let tr = TrueRange::new();
    match convention {
        Convention::Cn => v.visit(Atr { tr, average: mytt::Ma::new(n) }),
        Convention::Talib => v.visit(Atr { tr, average: Wilder { n, bars: 0, atr: SUM_START } }),
    }
}

/// TR and its average in one convention.
#[derive(Clone)]
struct Atr<A> {
    tr: TrueRange,
    average: A,
}

impl<A: Average> Step for Atr<A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = self.average.step(self.tr.step(quote));
    }

    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        if self.tr.0.is_some() {
            return None;
        }
        Some(vec![self.average.over(prices)?])
    }
}

/// TA-Lib's ATR loop over TR (NaN on bar 0), as its C library 0.6 computes it (the one TA-Lib
/// 0.8's wheels bundle; its disassembly read): the sum of the TRs of bars 1..=N divided by N,
/// then `fma(ATR, k, TR·(1 − k))` with k = (N − 1)/N, one rounding for the multiply-add. TA-Lib
/// calls C's `fma` in its plain build and the instruction in its FMA build, so the bits are the
/// same on every machine, as `f64::mul_add`'s are (tests/v2_compute.rs checks them). N = 1 is
/// the TR itself.
#[derive(Clone)]
struct Wilder {
    n: usize,
    bars: usize,
    /// The seed's sum while it lasts, then the average.
    atr: f64,
}

impl Wilder {
    /// k and 1 − k.
    fn weights(&self) -> (f64, f64) {
        let keep = (self.n as f64 - 1.0) / self.n as f64;
        (keep, 1.0 - keep)
    }
}

impl Filter for Wilder {
    fn step(&mut self, tr: f64) -> f64 {
        if self.n == 1 {
            return tr;
        }
        let i = self.bars;
        self.bars += 1;
        if i == 0 {
            return f64::NAN;
        }
        if i < self.n {
            self.atr += tr;
            return f64::NAN;
        }
        if i == self.n {
            self.atr = (self.atr + tr) / self.n as f64;
        } else {
            let (keep, rest) = self.weights();
            self.atr = self.atr.mul_add(keep, tr * rest);
        }
        self.atr
    }
}

/// An average of TR, and how it runs over a whole history at once.
trait Average: Filter {
    /// Its values over every bar of `prices` from a fresh state, where it has a loop faster than
    /// a step a bar; the state is used up.
    fn over(&mut self, prices: &Prices) -> Option<Vec<f64>>;
}

impl Average for mytt::Ma {
    /// TR as a column, then the MA's own loop over it.
    fn over(&mut self, prices: &Prices) -> Option<Vec<f64>> {
        Self::WHOLE_COLUMN.then(|| column(self.clone(), &true_ranges(prices)))
    }
}

impl Average for Wilder {
    /// The seed stepped, then TR and the multiply-add of each bar in one loop, as TA-Lib's, in a
    /// function compiled for FMA where the processor has it (the same bits either way).
    fn over(&mut self, prices: &Prices) -> Option<Vec<f64>> {
        let prices = prices.trimmed();
        let (n, (high, low, close)) = (self.n, (prices.high, prices.low, prices.close));
        if self.bars != 0 || n == 1 || close.len() <= n + 1 {
            return None;
        }
        let mut values = Vec::with_capacity(close.len());
        values.push(self.step(f64::NAN));
        values.extend((1..=n).map(|i| self.step(talib::true_range(high[i], low[i], close[i - 1]))));
        let ((keep, rest), seed) = (self.weights(), self.atr);
        // A `for` loop, not `extend` of a `map`: an iterator's `fold` is a function of its own,
        // compiled without FMA, where each `mul_add` would be a call. The average is the
        // closure's own local, so that it stays in a register (a captured one went to memory
        // and back every bar, on the chain).
        fused::fast(
            #[inline(always)]
            || {
                let mut atr = seed;
                for ((&high, &low), &prev) in high[n + 1..].iter().zip(&low[n + 1..]).zip(&close[n..close.len() - 1]) {
                    atr = atr.mul_add(keep, talib::true_range(high, low, prev) * rest);
                    values.push(atr);
                }
            },
        );
        Some(values)
    }
}

/// TR over every bar of `prices`, NaN on bar 0: what [`TrueRange`] gives bar by bar.
fn true_ranges(prices: &Prices) -> Vec<f64> {
    let prices = prices.trimmed();
    let mut column = Vec::with_capacity(prices.len());
    if !prices.is_empty() {
        column.push(f64::NAN);
    }
    column.extend((1..prices.len()).map(|i| talib::true_range(prices.high[i], prices.low[i], prices.close[i - 1])));
    column
}
