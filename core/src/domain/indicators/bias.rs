//! BIAS(N): how far the close is from its N-bar average, in percent:
//! (close − MA(close, N)) / MA(close, N) × 100 (MyTT `BIAS`'s first output, with L1 = N). TA-Lib
//! has no such function; both conventions give this.

use super::stream::{Filter, Step};
use super::{mytt, no_check, period, Convention, Def, Quote, Stream};

pub(super) const DEF: Def = Def {
    name: "BIAS",
    params: &[period("N")],
    cn_defaults: &[6.0],
    talib_defaults: &[6.0],
    outputs: &[""],
    check: no_check,
    stream,
};

fn stream(a: &[f64], _: Convention) -> Box<dyn Stream> {
    Box::new(Bias(mytt::Ma::new(super::bars(a, 0))))
}

#[derive(Clone)]
struct Bias(mytt::Ma);

impl Step for Bias {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (c, m) = (quote.close, self.0.step(quote.close));
        out[0] = (c - m) / m * 100.0;
    }
}
