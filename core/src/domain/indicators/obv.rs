//! OBV: on-balance volume, the running total of the volume signed by the close's move.
//!
//! * cn (MyTT `OBV`): SUM(IF(C > REF(C,1), V, IF(C < REF(C,1), −V, 0)), 0) / 10000, so bar 0
//!   counts 0 and the total is in units of 10,000 (as 通达信 shows it).
//! * talib (`OBV(close, volume)`): starts at bar 0's volume, in shares.

use super::stream::Step;
use super::{batch, boxed, no_check, Convention, Def, Quote, Visit};

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

impl Step for Obv {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        match self.prev_close {
            None if self.convention == Convention::Talib => self.total = quote.volume,
            None => {}
            Some(prev) if quote.close > prev => self.total += quote.volume,
            Some(prev) if quote.close < prev => self.total -= quote.volume,
            Some(_) => {}
        }
        self.prev_close = Some(quote.close);
        out[0] = match self.convention {
            Convention::Cn => self.total / 10000.0,
            Convention::Talib => self.total,
        };
    }
}
