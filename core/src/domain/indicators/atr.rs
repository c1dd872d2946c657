//! ATR(N): the average true range. TR = max(high − low, |prev close − high|, |prev close − low|),
//! from bar 1 (bar 0 has no previous close).
//!
//! * cn (MyTT `ATR`): MA(TR, N), first on bar N.
//! * talib (`ATR(high, low, close, timeperiod=N)`): Wilder's average, seeded with the simple
//!   average of the first N TRs on bar N, then `ATR = (ATR'·(N − 1) + TR) / N`.

use super::stream::{Filter, Step, SUM_START};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Quote, Visit};

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

impl<A: Filter> Step for Atr<A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = self.average.step(self.tr.step(quote));
    }
}

/// TA-Lib's ATR loop over TR (NaN on bar 0): the mean of the TRs of bars 1..=N, then
/// `(ATR·(N − 1) + TR) / N` in that order. N = 1 is the TR itself.
#[derive(Clone)]
struct Wilder {
    n: usize,
    bars: usize,
    /// The seed's sum while it lasts, then the average.
    atr: f64,
}

impl Filter for Wilder {
    fn step(&mut self, tr: f64) -> f64 {
        if self.n == 1 {
            return tr;
        }
        let (i, period) = (self.bars, self.n as f64);
        self.bars += 1;
        if i == 0 {
            return f64::NAN;
        }
        if i < self.n {
            self.atr += tr;
            return f64::NAN;
        }
        if i == self.n {
            self.atr = (self.atr + tr) / period;
        } else {
            self.atr *= period - 1.0;
            self.atr += tr;
            self.atr /= period;
        }
        self.atr
    }
}
