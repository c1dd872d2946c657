//! PSY(N, M): the psychological line, the share of the last N bars that closed up, in percent:
//! PSY = COUNT(C > REF(C,1), N) / N × 100; PSYMA = MA(PSY, M) (MyTT `PSY`). TA-Lib has no such
//! function; both conventions give this.

use super::stream::{Filter, Step};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "PSY",
    params: &[period("N"), period("M")],
    cn_defaults: &[12.0, 6.0],
    talib_defaults: &[12.0, 6.0],
    outputs: &["PSY", "PSYMA"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 2),
};

fn build<V: Visit>(a: &[f64], _: Convention, v: V) -> V::Out {
    let (n, m) = (super::bars(a, 0), super::bars(a, 1));
    v.visit(Psy { n, prev_close: None, up: mytt::Sum::new(n), psyma: mytt::Ma::new(m) })
}

#[derive(Clone)]
struct Psy {
    n: usize,
    prev_close: Option<f64>,
    up: mytt::Sum,
    psyma: mytt::Ma,
}

impl Step for Psy {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let up = f64::from(self.prev_close.is_some_and(|prev| quote.close > prev));
        self.prev_close = Some(quote.close);
        let psy = self.up.step(up) / self.n as f64 * 100.0;
        out[0] = psy;
        out[1] = self.psyma.step(psy);
    }
}
