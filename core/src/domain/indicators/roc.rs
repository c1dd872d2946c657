//! ROC(N, M): the rate of change over N bars, in percent, and its M-bar average.
//!
//! * cn (MyTT `ROC`): ROC = 100 · (C − REF(C, N)) / REF(C, N); MAROC = MA(ROC, M).
//! * talib: `ROC(close, timeperiod=N)` = (C / REF(C, N) − 1) · 100 (0 where REF is 0), and MAROC =
//!   `SMA(ROC, timeperiod=M)`.

use super::stream::{self, Filter, Step};
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "ROC",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["ROC", "MAROC"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 2),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    match convention {
        Convention::Cn => v.visit(Roc { roc: Cn(mytt::Ref::new(n)), maroc: mytt::Ma::new(m) }),
        Convention::Talib => v.visit(Roc {
            roc: FromFirstNumber::new(talib::Lagged::roc(n)),
            maroc: FromFirstNumber::new(talib::Sma::new(m)),
        }),
    }
}

/// MyTT's ROC: `100 · (C − REF(C, N)) / REF(C, N)`.
#[derive(Clone)]
struct Cn(mytt::Ref);

impl Filter for Cn {
    fn step(&mut self, c: f64) -> f64 {
        let then = self.0.step(c);
        100.0 * (c - then) / then
    }
}

/// ROC and its average, in one convention.
#[derive(Clone)]
struct Roc<R, A> {
    roc: R,
    maroc: A,
}

impl<R: Filter, A: Filter> Step for Roc<R, A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = self.roc.step(quote.close);
        out[1] = self.maroc.step(out[0]);
    }

    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        Some(stream::with_average(self.roc.clone(), self.maroc.clone(), prices.close))
    }
}
