//! WR(N): Williams %R over the last N bars.
//!
//! * cn (MyTT `WR`, its first output): (HHV(high, N) − close) / (HHV(high, N) − LLV(low, N)) × 100,
//!   from 0 (at the high) to 100.
//! * talib (`WILLR(high, low, close, timeperiod=N)`): the same ratio × −100, from −100 to 0, as
//!   TA-Lib 0.6 computes it (its C library in TA-Lib 0.8's wheels, the disassembly read):
//!   `(HHV − close) / (HHV − LLV) × −100` held within [−100, 0], and 0 where the range is within
//!   1e-14 of the extremes' size (`talib::flat`). TA-Lib's bits.

use super::stream::{column, Filter, Step};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "WR",
    params: &[period("N")],
    cn_defaults: &[10.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    v.visit(Wr { convention, hhv: mytt::Extreme::highest(n), llv: mytt::Extreme::lowest(n) })
}

#[derive(Clone)]
struct Wr {
    convention: Convention,
    hhv: mytt::Extreme,
    llv: mytt::Extreme,
}

impl Wr {
    /// The convention's ratio of this close to its window's extremes.
    fn ratio(&self, hhv: f64, llv: f64, close: f64) -> f64 {
        match self.convention {
            Convention::Cn => (hhv - close) / (hhv - llv) * 100.0,
            Convention::Talib => talib_ratio(hhv, llv, close),
        }
    }
}

/// TA-Lib 0.6's WILLR of a close against its window's extremes (selects, no branch).
#[inline]
fn talib_ratio(hhv: f64, llv: f64, close: f64) -> f64 {
    let value = (hhv - close) / (hhv - llv) * -100.0;
    let value = if value > 0.0 { 0.0 } else { value };
    let value = if -100.0 > value { -100.0 } else { value };
    if talib::flat(hhv, llv) {
        0.0
    } else {
        value
    }
}

impl Step for Wr {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (hhv, llv) = (self.hhv.step(quote.high), self.llv.step(quote.low));
        out[0] = self.ratio(hhv, llv, quote.close);
    }

    /// The two extremes as columns (each read from its own column), then the ratio a bar.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let mut values = column(self.hhv.clone(), prices.high);
        let llv = column(self.llv.clone(), prices.low);
        for ((value, &llv), &close) in values.iter_mut().zip(&llv).zip(prices.close) {
            *value = self.ratio(*value, llv, close);
        }
        Some(vec![values])
    }
}

#[cfg(test)]
pub(super) mod tests {
    use crate::domain::indicators::{Convention, Indicator, Prices};

    /// Bars about 100 whose windows of 3 span 1e-12 (flat for TA-Lib 0.6: under 2e-12, so 0),
    /// then 4e-12 and more (a ratio); the last close is at its high (−0.0). The values are
    /// TA-Lib 0.8's `WILLR(h, l, c, timeperiod=3)` and `STOCH(h, l, c, fastk_period=3,
    /// slowk_period=1, slowd_period=1)`'s K, printed with `repr`.
    pub(crate) const HIGH: [f64; 7] = [100.0, 100.0 + 1e-12, 100.0, 100.0 + 4e-12, 100.0 + 4e-12, 101.0, 101.0];
    pub(crate) const LOW: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0 + 1e-12, 100.0, 99.0];
    pub(crate) const CLOSE: [f64; 7] = [100.0, 100.0, 100.0 + 5e-13, 100.0 + 1e-12, 100.0 + 2e-12, 100.5, 101.0];

    /// `indicator`'s first output over the bars above, batch and stream, against `expected` bit
    /// for bit (NaN as NaN).
    pub(crate) fn assert_bits(indicator: &Indicator, expected: &[f64]) {
        let volume = [1.0; 7];
        let prices = Prices { open: &CLOSE, high: &HIGH, low: &LOW, close: &CLOSE, volume: &volume, adj_factor: &[] };
        let batch = &indicator.compute(&prices)[0];
        let mut stream = indicator.stream();
        let mut out = vec![f64::NAN; indicator.outputs()];
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || a.is_nan() && b.is_nan();
        for (i, &expected) in expected.iter().enumerate() {
            stream.step(&prices.quote(i), &mut out);
            assert!(same(batch[i], expected), "{indicator:?} bar {i}: {} against {expected}", batch[i]);
            assert!(same(out[0], expected), "{indicator:?} bar {i} stepped: {} against {expected}", out[0]);
        }
    }

    #[test]
    fn a_flat_window_is_0_and_the_rest_talib_s_bits() {
        let willr = [f64::NAN, f64::NAN, 0.0, -75.08896797153025, -49.8220640569395, -50.0, -0.0];
        assert_bits(&Indicator::new("WR", &[3.0], Convention::Talib).unwrap(), &willr);
    }
}
