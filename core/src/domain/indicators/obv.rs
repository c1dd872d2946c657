//! OBV: on-balance volume, the running total of the volume signed by the close's move.
//!
//! * cn (MyTT `OBV`): SUM(IF(C > REF(C,1), V, IF(C < REF(C,1), −V, 0)), 0) / 10000, so bar 0
//!   counts 0 and the total is in units of 10,000 (as 通达信 shows it).
//! * talib (`OBV(close, volume)`): starts at bar 0's volume, in shares.

use super::stream::Step;
use super::{batch, boxed, no_check, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "OBV",
    params: &[],
    cn_defaults: &[],
    talib_defaults: &[],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(_: &[f64], convention: Convention, v: V) -> V::Out {
    v.visit(Obv { convention, total: 0.0, prev_close: None })
}

/// The running total and the close it moves against (`None` before bar 0).
#[derive(Clone)]
struct Obv {
    convention: Convention,
    total: f64,
    prev_close: Option<f64>,
}

impl Obv {
    /// The total as the convention shows it.
    fn shown(&self, total: f64) -> f64 {
        match self.convention {
            Convention::Cn => total / 10000.0,
            Convention::Talib => total,
        }
    }
}

/// What a bar adds to the total: its volume on a rise, minus it on a fall, and −0.0 (which
/// leaves any total as it is, ±0 included) otherwise. Subtracting a number is adding its
/// negation, bit for bit, so the total is the one `if`s gave (a NaN volume makes it NaN either
/// way, of another sign perhaps); as one expression it compiles to selects, not a branch a bar
/// that a random walk mispredicts half the time.
#[inline(always)]
fn signed(close: f64, prev: f64, volume: f64) -> f64 {
    let fall = if close < prev { -volume } else { -0.0 };
    if close > prev {
        volume
    } else {
        fall
    }
}

impl Step for Obv {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        match self.prev_close {
            None if self.convention == Convention::Talib => self.total = quote.volume,
            None => {}
            Some(prev) => self.total += signed(quote.close, prev, quote.volume),
        }
        self.prev_close = Some(quote.close);
        out[0] = self.shown(self.total);
    }

    /// From bar 0, over the close and volume columns: the same additions in one loop.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let (close, volume) = (prices.close, prices.volume);
        if self.prev_close.is_some() || close.is_empty() {
            return None;
        }
        let mut total = if self.convention == Convention::Talib { volume[0] } else { self.total };
        let mut values = Vec::with_capacity(close.len());
        values.push(self.shown(total));
        values.extend(close.windows(2).zip(&volume[1..]).map(|(pair, &volume)| {
            total += signed(pair[1], pair[0], volume);
            self.shown(total)
        }));
        Some(vec![values])
    }
}
