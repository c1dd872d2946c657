//! MTM(N, M): momentum, the change over N bars, and its M-bar average.
//!
//! * cn (MyTT `MTM`): MTM = C − REF(C, N); MTMMA = MA(MTM, M).
//! * talib: `MOM(close, timeperiod=N)`, and MTMMA = `SMA(MOM, timeperiod=M)`.

use super::stream::{self, Filter, Step};
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "MTM",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["MTM", "MTMMA"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 2),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    let mtm = FromFirstNumber::new(talib::Lagged::change(n));
    match convention {
        Convention::Cn => v.visit(Mtm { mtm, mtmma: mytt::Ma::new(m) }),
        Convention::Talib => v.visit(Mtm { mtm, mtmma: FromFirstNumber::new(talib::Sma::new(m)) }),
    }
}

/// MTM and its average (MyTT's MA or TA-Lib's SMA).
#[derive(Clone)]
struct Mtm<A> {
    mtm: FromFirstNumber<talib::Lagged>,
    mtmma: A,
}

impl<A: Filter> Step for Mtm<A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = self.mtm.step(quote.close);
        out[1] = self.mtmma.step(out[0]);
    }

    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        Some(stream::with_average(self.mtm.clone(), self.mtmma.clone(), prices.close))
    }
}
