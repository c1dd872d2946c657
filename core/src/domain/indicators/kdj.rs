//! KDJ(N, M1, M2): the stochastic oscillator.
//!
//! RSV = (close − LLV(low, N)) / (HHV(high, N) − LLV(low, N)) × 100.
//!
//! * cn (MyTT `KDJ`): K = EMA(RSV, 2·M1 − 1), D = EMA(K, 2·M2 − 1) (pandas EMAs, so α = 1/M1 and
//!   1/M2), J = 3K − 2D.
//! * talib (`STOCH(high, low, close, fastk_period=N, slowk_period=M1, slowd_period=M2)`, SMA
//!   smoothing): K = SMA(RSV, M1), D = SMA(K, M2), J = 3K − 2D; the RSV as TA-Lib 0.6 computes
//!   it, `(close − LLV) / (HHV − LLV) × 100`, and 0 where the range is within 1e-14 of the
//!   extremes' size (`talib::flat`). TA-Lib's bits.
//!   Both K and D start on bar (N − 1) + (M1 − 1) + (M2 − 1), as TA-Lib returns them.

use super::stream::{column, Filter, Step};
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "KDJ",
    params: &[period("N"), period("M1"), period("M2")],
    cn_defaults: &[9.0, 3.0, 3.0],
    talib_defaults: &[9.0, 3.0, 3.0],
    outputs: &["K", "D", "J"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 3),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (n, m1, m2) = (super::bars(a, 0), super::bars(a, 1), super::bars(a, 2));
    let (hhv, llv) = (mytt::Extreme::highest(n), mytt::Extreme::lowest(n));
    match convention {
        Convention::Cn => {
            let smooth = Cn { k: mytt::Ewm::ema(2 * m1 - 1), d: mytt::Ewm::ema(2 * m2 - 1) };
            v.visit(Kdj { hhv, llv, smooth })
        }
        Convention::Talib => {
            let (k, d) = (FromFirstNumber::new(talib::Sma::new(m1)), FromFirstNumber::new(talib::Sma::new(m2)));
            // TA-Lib returns K from where D starts.
            let start = (n - 1) + (m1 - 1) + (m2 - 1);
            v.visit(Kdj { hhv, llv, smooth: Talib { k, d, start, bars: 0 } })
        }
    }
}

/// The window's extremes, and the convention's RSV, K and D.
#[derive(Clone)]
struct Kdj<S> {
    hhv: mytt::Extreme,
    llv: mytt::Extreme,
    smooth: S,
}

trait Smooth: Clone + Send + Sync + 'static {
    /// K and D after the bar of this close and window.
    fn step(&mut self, close: f64, hhv: f64, llv: f64) -> (f64, f64);

    /// K, D and J of every bar from a fresh state, given the extremes' columns.
    fn columns(&self, close: &[f64], hhv: Vec<f64>, llv: Vec<f64>) -> Vec<Vec<f64>> {
        step_columns(self, close, hhv, llv)
    }
}

impl<S: Smooth> Step for Kdj<S> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (hhv, llv) = (self.hhv.step(quote.high), self.llv.step(quote.low));
        let (k, d) = self.smooth.step(quote.close, hhv, llv);
        out.copy_from_slice(&[k, d, 3.0 * k - 2.0 * d]);
    }

    /// The two extremes as columns (each read from its own column), then the smoothing.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        let prices = prices.trimmed();
        let hhv = column(self.hhv.clone(), prices.high);
        let llv = column(self.llv.clone(), prices.low);
        Some(self.smooth.columns(prices.close, hhv, llv))
    }
}

/// K, D and J over whole columns: the smoothing stepped a bar, K and D written over the extremes
/// they were computed from (a smoothing with columns of its own overrides it).
fn step_columns<S: Smooth>(smooth: &S, close: &[f64], mut k: Vec<f64>, mut d: Vec<f64>) -> Vec<Vec<f64>> {
    let mut j = vec![f64::NAN; k.len()];
    let mut smooth = smooth.clone();
    for (((k, d), j), &close) in k.iter_mut().zip(&mut d).zip(&mut j).zip(close) {
        (*k, *d) = smooth.step(close, *k, *d);
        *j = 3.0 * *k - 2.0 * *d;
    }
    vec![k, d, j]
}

/// pandas EMAs of the RSV.
#[derive(Clone)]
struct Cn {
    k: mytt::Ewm,
    d: mytt::Ewm,
}

impl Smooth for Cn {
    fn step(&mut self, close: f64, hhv: f64, llv: f64) -> (f64, f64) {
        let rsv = (close - llv) / (hhv - llv) * 100.0;
        let k = self.k.step(rsv);
        (k, self.d.step(k))
    }
}

/// TA-Lib's SMAs of the RSV (0 in a flat window), nothing before bar `start`.
#[derive(Clone)]
struct Talib {
    k: FromFirstNumber<talib::Sma>,
    d: FromFirstNumber<talib::Sma>,
    start: usize,
    bars: usize,
}

/// TA-Lib's RSV: 0 in a flat window.
fn rsv(close: f64, hhv: f64, llv: f64) -> f64 {
    let value = (close - llv) / (hhv - llv) * 100.0;
    if talib::flat(hhv, llv) {
        0.0
    } else {
        value
    }
}

impl Smooth for Talib {
    /// The RSV as a column, K and D as columns of their SMAs (each read from the column before),
    /// then nothing before bar `start`.
    fn columns(&self, close: &[f64], mut hhv: Vec<f64>, llv: Vec<f64>) -> Vec<Vec<f64>> {
        if self.bars != 0 {
            return step_columns(self, close, hhv, llv);
        }
        for ((value, &llv), &close) in hhv.iter_mut().zip(&llv).zip(close) {
            *value = rsv(close, *value, llv);
        }
        let mut k = column(self.k.clone(), &hhv);
        let mut d = column(self.d.clone(), &k);
        let start = self.start.min(k.len());
        k[..start].fill(f64::NAN);
        d[..start].fill(f64::NAN);
        // The RSV's column is J's now.
        for ((j, &k), &d) in hhv.iter_mut().zip(&k).zip(&d) {
            *j = 3.0 * k - 2.0 * d;
        }
        vec![k, d, hhv]
    }

    fn step(&mut self, close: f64, hhv: f64, llv: f64) -> (f64, f64) {
        let rsv = rsv(close, hhv, llv);
        let k = self.k.step(rsv);
        let d = self.d.step(k);
        self.bars += 1;
        if self.bars <= self.start {
            (f64::NAN, f64::NAN)
        } else {
            (k, d)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::indicators::wr::tests::assert_bits;
    use crate::domain::indicators::{Convention, Indicator};

    /// STOCH's fast K over wr.rs's bars (a flat window first), unsmoothed (M1 = M2 = 1).
    #[test]
    fn a_flat_window_is_0_and_the_rest_talib_s_bits() {
        let k = [f64::NAN, f64::NAN, 0.0, 24.91103202846975, 50.177935943060504, 50.0, 100.0];
        assert_bits(&Indicator::new("KDJ", &[3.0, 1.0, 1.0], Convention::Talib).unwrap(), &k);
    }
}
