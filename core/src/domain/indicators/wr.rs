//! WR(N): Williams %R over the last N bars.
//!
//! * cn (MyTT `WR`, its first output): (HHV(high, N) − close) / (HHV(high, N) − LLV(low, N)) × 100,
//!   from 0 (at the high) to 100.
//! * talib (`WILLR(high, low, close, timeperiod=N)`): the same ratio × −100, from −100 to 0, and 0
//!   where the range is 0.

use super::stream::{column, Filter, Step};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "WR",
    params: &[period("N")],
    cn_defaults: &[10.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    v.visit(Wr { convention, hhv: mytt::Extreme::highest(n), llv: mytt::Extreme::lowest(n) })
}

#[derive(Clone)]
struct Wr {
    convention: Convention,
    hhv: mytt::Extreme,
    llv: mytt::Extreme,
}

impl Wr {
    /// The convention's ratio of this close to its window's extremes.
    fn ratio(&self, hhv: f64, llv: f64, close: f64) -> f64 {
        match self.convention {
            Convention::Cn => (hhv - close) / (hhv - llv) * 100.0,
            Convention::Talib => talib::over_range(hhv - close, (hhv - llv) / -100.0),
        }
    }
}

impl Step for Wr {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (hhv, llv) = (self.hhv.step(quote.high), self.llv.step(quote.low));
        out[0] = self.ratio(hhv, llv, quote.close);
    }

    /// The two extremes as columns (each read from its own column), then the ratio a bar.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let mut values = column(self.hhv.clone(), prices.high);
        let llv = column(self.llv.clone(), prices.low);
        for ((value, &llv), &close) in values.iter_mut().zip(&llv).zip(prices.close) {
            *value = self.ratio(*value, llv, close);
        }
        Some(vec![values])
    }
}
