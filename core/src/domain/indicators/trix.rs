//! TRIX(M1, M2): the one-bar rate of change of a triple EMA, in percent, and its M2-bar average.
//! TR = EMA(EMA(EMA(C, M1), M1), M1); TRIX = (TR − REF(TR, 1)) / REF(TR, 1) × 100.
//!
//! * cn (MyTT `TRIX`): pandas EMAs from the first close; TRMA = MA(TRIX, M2).
//! * talib: `TRIX(close, timeperiod=M1)` (each EMA seeded TA-Lib's way, the first value on bar
//!   3·(M1 − 1) + 1), and TRMA = `SMA(TRIX, timeperiod=M2)`.

use super::stream::{column, Filter, Step};
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "TRIX",
    params: &[period("M1"), period("M2")],
    cn_defaults: &[12.0, 20.0],
    talib_defaults: &[12.0, 20.0],
    outputs: &["TRIX", "TRMA"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 2),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (m1, m2) = (super::bars(a, 0), super::bars(a, 1));
    match convention {
        Convention::Cn => v.visit(Trix {
            tr: [mytt::Ewm::ema(m1), mytt::Ewm::ema(m1), mytt::Ewm::ema(m1)],
            trix: Cn(mytt::Ref::new(1)),
            trma: mytt::Ma::new(m2),
        }),
        Convention::Talib => {
            let ema = || FromFirstNumber::new(talib::Ema::new(m1));
            v.visit(Trix {
                tr: [ema(), ema(), ema()],
                trix: FromFirstNumber::new(talib::Lagged::roc(1)),
                trma: FromFirstNumber::new(talib::Sma::new(m2)),
            })
        }
    }
}

/// MyTT's one-bar rate of change: `(TR − REF(TR, 1)) / REF(TR, 1) × 100`.
#[derive(Clone)]
struct Cn(mytt::Ref);

impl Filter for Cn {
    fn step(&mut self, now: f64) -> f64 {
        let then = self.0.step(now);
        (now - then) / then * 100.0
    }
}

/// The triple EMA, its rate of change and its average, in one convention.
#[derive(Clone)]
struct Trix<E, R, A> {
    tr: [E; 3],
    trix: R,
    trma: A,
}

impl<E: Filter, R: Filter, A: Filter> Step for Trix<E, R, A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tr = self.tr.iter_mut().fold(quote.close, |x, ema| ema.step(x));
        out[0] = self.trix.step(tr);
        out[1] = self.trma.step(out[0]);
    }

    /// Where the EMAs run whole columns faster (talib's, compiled for FMA), each filter over the
    /// column before: a filter's values depend only on the values it is given, so the same bits.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        if !E::WHOLE_COLUMN {
            return None;
        }
        let [first, second, third] = &self.tr;
        let tr = column(third.clone(), &column(second.clone(), &column(first.clone(), prices.close)));
        let trix = column(self.trix.clone(), &tr);
        let trma = column(self.trma.clone(), &trix);
        Some(vec![trix, trma])
    }
}
