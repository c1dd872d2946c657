//! CCI(N): the commodity channel index. TP = (high + low + close) / 3;
//! CCI = (TP − MA(TP, N)) / (0.015 · AVEDEV(TP, N)).
//!
//! * cn (MyTT `CCI`): exactly that (a zero deviation divides by zero, as numpy does), MA and
//!   AVEDEV as pandas and numpy sum them.
//! * talib (`CCI(high, low, close, timeperiod=N)`): the same formula as TA-Lib 0.6 computes it
//!   (its C library in TA-Lib 0.8's wheels, the disassembly read): the last N TPs kept in a ring
//!   written round, the mean and the deviation each summed one value after another in the
//!   ring's order (not the bars'), and 0 where the difference or the deviation is within 1e-14
//!   of the mean's size. TA-Lib's bits.
//!
//! First on bar N − 1 in both.

use super::stream::{column, Filter, Ring, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "CCI",
    params: &[period("N")],
    cn_defaults: &[14.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => v.visit(Cci { mean: mytt::Ma::new(n), deviation: mytt::Avedev::new(n) }),
        Convention::Talib => v.visit(Talib { tps: Ring::new(n) }),
    }
}

/// MyTT's CCI.
#[derive(Clone)]
struct Cci {
    mean: mytt::Ma,
    deviation: mytt::Avedev,
}

impl Cci {
    /// The index from TP's difference to its mean and its deviation.
    fn index(&self, difference: f64, deviation: f64) -> f64 {
        difference / (0.015 * deviation)
    }
}

/// The typical price of a bar.
#[inline]
fn typical(high: f64, low: f64, close: f64) -> f64 {
    (high + low + close) / 3.0
}

impl Step for Cci {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tp = typical(quote.high, quote.low, quote.close);
        let (difference, deviation) = (tp - self.mean.step(tp), self.deviation.step(tp));
        out[0] = self.index(difference, deviation);
    }

    /// TP as a column, its mean and deviation as columns (the deviation's windows read from TP
    /// itself), then the index a bar.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let tp: Vec<f64> =
            prices.high.iter().zip(prices.low).zip(prices.close).map(|((&h, &l), &c)| typical(h, l, c)).collect();
        let mut values = column(self.mean.clone(), &tp);
        let deviation = column(self.deviation.clone(), &tp);
        for ((value, &tp), &deviation) in values.iter_mut().zip(&tp).zip(&deviation) {
            *value = self.index(tp - *value, deviation);
        }
        Some(vec![values])
    }
}

/// TA-Lib 0.6's CCI: its ring of the last N TPs, summed in the ring's order.
#[derive(Clone)]
struct Talib {
    tps: Ring,
}

impl Step for Talib {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tp = typical(quote.high, quote.low, quote.close);
        out[0] = f64::NAN;
        self.tps.push(tp);
        if self.tps.len() < self.tps.n() {
            return;
        }
        // Where TA-Lib's circular buffer has them: bar i at i mod N.
        let window = self.tps.stored();
        let period = window.len() as f64;
        let mean = window.iter().fold(0.0, |sum, &x| sum + x) / period;
        let deviations = window.iter().fold(0.0, |sum, &x| sum + (x - mean).abs());
        let (difference, tolerance) = (tp - mean, mean.abs() * 1e-14);
        out[0] = 0.0;
        if tolerance >= difference.abs() {
            return;
        }
        let deviation = deviations / period;
        if tolerance >= deviation.abs() {
            return;
        }
        let denominator = deviation * 0.015;
        if denominator != 0.0 {
            out[0] = difference / denominator;
        }
    }
}
