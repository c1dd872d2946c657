//! RSI(N): the relative strength index.
//!
//! * cn (MyTT `RSI`): DIF = close − REF(close, 1); RSI = SMA(MAX(DIF, 0), N, 1) / SMA(ABS(DIF), N, 1)
//!   × 100 (Chinese SMAs, α = 1/N, from bar 1).
//! * talib (`RSI(close, timeperiod=N)`): Wilder's averages of gains and losses, seeded with their
//!   simple averages over the first N changes; RSI = 100 × gain / (gain + loss), 0 where both
//!   are 0; the first value is on bar N.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Prices, Quote, Visit};

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

/// TA-Lib's RSI loop (its C library 0.6, which TA-Lib 0.8's wheels bundle; its disassembly
/// read): a change's gain is the change where it is above 0 and 0 otherwise, its loss the gain
/// minus the change; the averages are the first `n` gains' and losses' sums times 1/N, then
/// `(average·(N − 1) + gain)·(1/N)`, multiplied by the reciprocal, not divided; the value is
/// `100·(gain / (gain + loss))` where that sum is above 0, else 0 (so a NaN close, whose loss is
/// NaN, makes every later value 0, as TA-Lib's loop does; a catalog's closes are numbers). The
/// same bits as TA-Lib's x86-64 library (it fuses nothing here; tests/v2_compute.rs checks it).
#[derive(Clone)]
struct Wilder {
    n: usize,
    bars: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Wilder {
    /// A change's gain and loss, as TA-Lib splits it (a select, no branch on the change).
    #[inline(always)]
    fn split(change: f64) -> (f64, f64) {
        let gain = if 0.0 < change { change } else { 0.0 };
        (gain, gain - change)
    }

    /// One of Wilder's steps of both averages, from bar N + 1 on.
    #[inline(always)]
    fn update(&mut self, change: f64, keep: f64, reciprocal: f64) {
        let (gain, loss) = Self::split(change);
        self.gain = (self.gain * keep + gain) * reciprocal;
        self.loss = (loss + self.loss * keep) * reciprocal;
    }

    fn value(&self) -> f64 {
        let sum = self.gain + self.loss;
        if sum > 0.0 {
            100.0 * (self.gain / sum)
        } else {
            0.0
        }
    }
}

impl Step for Wilder {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let i = self.bars;
        self.bars += 1;
        let change = quote.close - self.prev;
        self.prev = quote.close;
        out[0] = f64::NAN;
        if i == 0 {
            return;
        }
        let reciprocal = 1.0 / self.n as f64;
        if i > self.n {
            self.update(change, self.n as f64 - 1.0, reciprocal);
        } else {
            let (gain, loss) = Self::split(change);
            self.gain += gain;
            self.loss += loss;
            if i < self.n {
                return;
            }
            self.gain *= reciprocal;
            self.loss *= reciprocal;
        }
        out[0] = self.value();
    }

    /// The warm-up stepped, then Wilder's steps over the rest of the close in one loop, the
    /// constants hoisted: the same operations in the same order.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let close = prices.close;
        if self.bars != 0 || close.len() <= self.n + 1 {
            return None;
        }
        let mut values = Vec::with_capacity(close.len());
        let mut out = [f64::NAN];
        for &close in &close[..=self.n] {
            self.step(&Quote { close, ..Quote::default() }, &mut out);
            values.push(out[0]);
        }
        let (keep, reciprocal) = (self.n as f64 - 1.0, 1.0 / self.n as f64);
        let mut state = self.clone();
        values.extend(close.windows(2).skip(self.n).map(|pair| {
            state.update(pair[1] - pair[0], keep, reciprocal);
            state.value()
        }));
        Some(vec![values])
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::indicators::{Convention, Indicator, Prices};

    /// Moves about 1.0 of 1e-10, and of 4 ulps (8.9e-16, so the averages' sum is far below
    /// TA_IS_ZERO's 1e-8 and its 1e-14 alike): TA-Lib 0.8 (`talib.RSI(c, timeperiod=14)`, its
    /// values printed with `repr`) still divides, from bar 14: its rule is a sum above 0. Batch
    /// and stream alike give its bits.
    #[test]
    fn tiny_moves_are_divided_as_talib_divides_them() {
        let cases: [(f64, [f64; 5]); 2] = [
            (1e-10, [f64::NAN, 53.846153846153854, 49.72677595628415, 53.553398058252434, 49.49612082056379]),
            (
                4.0 * f64::EPSILON,
                [f64::NAN, 53.84615384615385, 49.72677595628415, 53.553398058252434, 49.496120820563796],
            ),
        ];
        for (step, talib) in cases {
            let close: Vec<f64> = std::iter::once(1.0).chain((0..20).map(|i| 1.0 + step * (i % 2) as f64)).collect();
            let other = vec![1.0; close.len()];
            let prices =
                Prices { open: &other, high: &other, low: &other, close: &close, volume: &other, adj_factor: &[] };
            let rsi = Indicator::new("RSI", &[14.0], Convention::Talib).unwrap();
            let batch = &rsi.compute(&prices)[0];
            let mut stream = rsi.stream();
            let mut out = [f64::NAN];
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
            for i in 0..close.len() {
                stream.step(&prices.quote(i), &mut out);
                if let Some(&expected) = i.checked_sub(13).and_then(|k| talib.get(k)) {
                    assert!(same(expected, batch[i]), "moves of {step}, bar {i}: {} against {expected}", batch[i]);
                    assert!(same(expected, out[0]), "moves of {step}, bar {i} stepped: {} against {expected}", out[0]);
                }
            }
        }
    }
}
