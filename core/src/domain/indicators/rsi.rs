//! RSI(N): the relative strength index.
//!
//! * cn (MyTT `RSI`): DIF = close − REF(close, 1); RSI = SMA(MAX(DIF, 0), N, 1) / SMA(ABS(DIF), N, 1)
//!   × 100 (Chinese SMAs, α = 1/N, from bar 1).
//! * talib (`RSI(close, timeperiod=N)`): Wilder's averages of gains and losses, seeded with their
//!   simple averages over the first N changes; the first value is on bar N; 0 where both are 0.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "RSI",
    params: &[period("N")],
    cn_defaults: &[24.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => v.visit(Cn { prev: mytt::Ref::new(1), up: mytt::Ewm::sma(n, 1), all: mytt::Ewm::sma(n, 1) }),
        Convention::Talib => v.visit(Wilder { n, bars: 0, prev: f64::NAN, gain: 0.0, loss: 0.0 }),
    }
}

/// MyTT's RSI: Chinese SMAs of the gains and of the absolute changes.
#[derive(Clone)]
struct Cn {
    prev: mytt::Ref,
    up: mytt::Ewm,
    all: mytt::Ewm,
}

impl Step for Cn {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let dif = quote.close - self.prev.step(quote.close);
        let (u, a) = (self.up.step(mytt::max(dif, 0.0)), self.all.step(dif.abs()));
        out[0] = u / a * 100.0;
    }
}

/// TA-Lib's RSI loop: the average gain and loss, summed over the first `n` changes, then Wilder's
/// update (multiply by N − 1, add, divide by N, in that order).
#[derive(Clone)]
struct Wilder {
    n: usize,
    bars: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Step for Wilder {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (i, period) = (self.bars, self.n as f64);
        self.bars += 1;
        let change = quote.close - self.prev;
        self.prev = quote.close;
        out[0] = f64::NAN;
        if i == 0 {
            return;
        }
        if i > self.n {
            self.gain *= period - 1.0;
            self.loss *= period - 1.0;
        }
        if change < 0.0 {
            self.loss -= change;
        } else {
            self.gain += change;
        }
        if i < self.n {
            return;
        }
        self.gain /= period;
        self.loss /= period;
        let (gain, loss) = (self.gain, self.loss);
        out[0] = if !talib::is_zero(gain + loss) { 100.0 * (gain / (gain + loss)) } else { 0.0 };
    }
}
