//! CCI(N): the commodity channel index. TP = (high + low + close) / 3;
//! CCI = (TP − MA(TP, N)) / (0.015 · AVEDEV(TP, N)).
//!
//! * cn (MyTT `CCI`): exactly that (a zero deviation divides by zero, as numpy does).
//! * talib (`CCI(high, low, close, timeperiod=N)`): the same, 0 where the deviation or the
//!   difference is 0; first on bar N − 1 in both.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Quote, Visit};

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

impl Step for Cci {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tp = (quote.high + quote.low + quote.close) / 3.0;
        let (difference, deviation) = (tp - self.mean.step(tp), self.deviation.step(tp));
        out[0] = match self.convention {
            Convention::Cn => difference / (0.015 * deviation),
            Convention::Talib if deviation.is_nan() => f64::NAN,
            Convention::Talib if difference != 0.0 && deviation != 0.0 => difference / (0.015 * deviation),
            Convention::Talib => 0.0,
        };
    }
}
