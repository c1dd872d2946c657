//! BBI(M1, M2, M3, M4): the bull and bear index, the mean of four moving averages of the close:
//! (MA(C,M1) + MA(C,M2) + MA(C,M3) + MA(C,M4)) / 4 (MyTT `BBI`). TA-Lib has no such function; both
//! conventions give this.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "BBI",
    params: &[period("M1"), period("M2"), period("M3"), period("M4")],
    cn_defaults: &[3.0, 6.0, 12.0, 20.0],
    talib_defaults: &[3.0, 6.0, 12.0, 20.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], _: Convention, v: V) -> V::Out {
    v.visit(Bbi(std::array::from_fn(|i| mytt::Ma::new(super::bars(a, i)))))
}

#[derive(Clone)]
struct Bbi([mytt::Ma; 4]);

impl Step for Bbi {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let [a1, a2, a3, a4] = self.0.each_mut().map(|ma| ma.step(quote.close));
        out[0] = (a1 + a2 + a3 + a4) / 4.0;
    }
}
