//! TRIX(M1, M2): the one-bar rate of change of a triple EMA, in percent, and its M2-bar average.
//! TR = EMA(EMA(EMA(C, M1), M1), M1); TRIX = (TR − REF(TR, 1)) / REF(TR, 1) × 100.
//!
//! * cn (MyTT `TRIX`): pandas EMAs from the first close; TRMA = MA(TRIX, M2).
//! * talib: `TRIX(close, timeperiod=M1)` (each EMA seeded TA-Lib's way, the first value on bar
//!   3·(M1 − 1) + 1), and TRMA = `SMA(TRIX, timeperiod=M2)`.

use super::stream::{column, in_blocks, Filter, Step};
use super::talib::FromFirstNumber;
use super::{batch, boxed, fused, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

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

/// How the triple EMA runs over a whole column of closes.
trait Triple: Filter {
    /// TR over every close from fresh states, where a loop beats the steps: by default each EMA
    /// over the column before, where the EMA has a column loop of its own.
    fn triple(emas: &[Self; 3], close: &[f64]) -> Option<Vec<f64>> {
        let [first, second, third] = emas;
        Self::WHOLE_COLUMN.then(|| column(third.clone(), &column(second.clone(), &column(first.clone(), close))))
    }
}

impl Triple for mytt::Ewm {}

impl Triple for FromFirstNumber<talib::Ema> {
    /// The bars stepped until all three EMAs are past their seeds, then their three steps in
    /// one loop, compiled for FMA where the processor has it: each EMA's chain runs beside the
    /// others' (the second reads the first's value of the same bar, not of the one before), as
    /// MACD's three do. The same operations in the same order as the steps, so the same bits.
    fn triple(emas: &[Self; 3], close: &[f64]) -> Option<Vec<f64>> {
        let mut emas = emas.clone();
        let mut tr = Vec::with_capacity(close.len());
        let mut i = 0;
        while i < close.len() && !emas.iter().all(|ema| ema.steady().is_some()) {
            tr.push(emas.iter_mut().fold(close[i], |x, ema| ema.step(x)));
            i += 1;
        }
        let [Some((mut a, ka)), Some((mut b, kb)), Some((mut c, kc))] = emas.each_ref().map(|ema| ema.steady()) else {
            return Some(tr);
        };
        let mut columns = [tr];
        fused::fast(
            #[inline(always)]
            || {
                in_blocks(
                    &close[i..],
                    &mut columns,
                    #[inline(always)]
                    |x| {
                        a = fused::ema_step(a, x, ka);
                        b = fused::ema_step(b, a, kb);
                        c = fused::ema_step(c, b, kc);
                        [c]
                    },
                )
            },
        );
        let [tr] = columns;
        Some(tr)
    }
}

impl<E: Triple, R: Filter, A: Filter> Step for Trix<E, R, A> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let tr = self.tr.iter_mut().fold(quote.close, |x, ema| ema.step(x));
        out[0] = self.trix.step(tr);
        out[1] = self.trma.step(out[0]);
    }

    /// Where the triple EMA has a loop of its own (talib's), TR as a column, then each filter
    /// over the column before: a filter's values depend only on the values it is given, so the
    /// same bits.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let tr = E::triple(&self.tr, prices.close)?;
        let trix = column(self.trix.clone(), &tr);
        let trma = column(self.trma.clone(), &trix);
        Some(vec![trix, trma])
    }
}
