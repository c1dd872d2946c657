//! BIAS(N): how far the close is from its N-bar average, in percent:
//! (close − MA(close, N)) / MA(close, N) × 100 (MyTT `BIAS`'s first output, with L1 = N). TA-Lib
//! has no such function; both conventions give this.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "BIAS",
    params: &[period("N")],
    cn_defaults: &[6.0],
    talib_defaults: &[6.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], _: Convention, v: V) -> V::Out {
    v.visit(Bias(mytt::Ma::new(super::bars(a, 0))))
}

#[derive(Clone)]
struct Bias(mytt::Ma);

impl Step for Bias {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (c, m) = (quote.close, self.0.step(quote.close));
        out[0] = (c - m) / m * 100.0;
    }
}
