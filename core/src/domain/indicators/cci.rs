//! CCI(N): the commodity channel index. TP = (high + low + close) / 3;
//! CCI = (TP − MA(TP, N)) / (0.015 · AVEDEV(TP, N)).
//!
//! * cn (MyTT `CCI`): exactly that (a zero deviation divides by zero, as numpy does).
//! * talib (`CCI(high, low, close, timeperiod=N)`): the same, 0 where the deviation or the
//!   difference is 0; first on bar N − 1 in both.

use super::stream::{column, Filter, Step};
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
    v.visit(Cci { convention, mean: mytt::Ma::new(n), deviation: mytt::Avedev::new(n) })
}

#[derive(Clone)]
struct Cci {
    convention: Convention,
    mean: mytt::Ma,
    deviation: mytt::Avedev,
}

impl Cci {
    /// The convention's index from TP's difference to its mean and its deviation.
    fn index(&self, difference: f64, deviation: f64) -> f64 {
        match self.convention {
            Convention::Cn => difference / (0.015 * deviation),
            Convention::Talib if deviation.is_nan() => f64::NAN,
            Convention::Talib if difference != 0.0 && deviation != 0.0 => difference / (0.015 * deviation),
            Convention::Talib => 0.0,
        }
    }
}

impl Step for Cci {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tp = (quote.high + quote.low + quote.close) / 3.0;
        let (difference, deviation) = (tp - self.mean.step(tp), self.deviation.step(tp));
        out[0] = self.index(difference, deviation);
    }

    /// TP as a column, its mean and deviation as columns (the deviation's windows read from TP
    /// itself), then the index a bar.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let tp: Vec<f64> =
            prices.high.iter().zip(prices.low).zip(prices.close).map(|((&h, &l), &c)| (h + l + c) / 3.0).collect();
        let mut values = column(self.mean.clone(), &tp);
        let deviation = column(self.deviation.clone(), &tp);
        for ((value, &tp), &deviation) in values.iter_mut().zip(&tp).zip(&deviation) {
            *value = self.index(tp - *value, deviation);
        }
        Some(vec![values])
    }
}
