//! BOLL(N, P): Bollinger bands around the N-bar average of the close.
//!
//! MID = MA(close, N); UPPER = MID + P·σ; LOWER = MID − P·σ, σ the population standard deviation
//! of the last N closes.
//!
//! * cn (MyTT `BOLL`): pandas' rolling mean and `std(ddof=0)`.
//! * talib (`BBANDS(close, timeperiod=N, nbdevup=P, nbdevdn=P, matype=SMA)`: upper, middle,
//!   lower): σ² = mean(x²) − MID² by running sums, 0 where that is below 1e-8, as TA-Lib does.

use super::stream::{all_numbers, column, Filter, Ring, Step, SUM_START};
use super::talib::FromFirstNumber;
use super::{batch, boxed, mytt, period, talib, Convention, Def, Param, ParamKind, Prices, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "BOLL",
    params: &[period("N"), Param { name: "P", kind: ParamKind::Positive }],
    cn_defaults: &[20.0, 2.0],
    talib_defaults: &[20.0, 2.0],
    outputs: &["UPPER", "MID", "LOWER"],
    check: super::no_check,
    stream: boxed!(build),
    batch: batch!(build, 3),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (n, width) = (super::bars(a, 0), a[1]);
    match convention {
        Convention::Cn => v.visit(Boll { width, bands: Cn { mid: mytt::Ma::new(n), sigma: mytt::Std::new(n) } }),
        Convention::Talib => v.visit(Boll {
            width,
            bands: Talib { mid: FromFirstNumber::new(talib::Sma::new(n)), n, squares: SUM_START, ring: Ring::new(n) },
        }),
    }
}

/// The bands around MID at `width` σ; `B` gives MID and σ of each bar.
#[derive(Clone)]
struct Boll<B> {
    width: f64,
    bands: B,
}

trait Bands: Clone + Send + Sync + 'static {
    /// MID and σ after `close`.
    fn step(&mut self, close: f64) -> (f64, f64);

    /// UPPER, MID and LOWER at `width` σ of every bar of `close`, from a fresh state, where a
    /// loop of its own beats the steps.
    fn columns(&self, _close: &[f64], _width: f64) -> Option<Vec<Vec<f64>>> {
        None
    }
}

impl<B: Bands> Step for Boll<B> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (mid, sigma) = self.bands.step(quote.close);
        out.copy_from_slice(&[mid + sigma * self.width, mid, mid - sigma * self.width]);
    }

    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        self.bands.columns(prices.close, self.width)
    }
}

/// pandas' rolling mean and `std(ddof=0)`.
#[derive(Clone)]
struct Cn {
    mid: mytt::Ma,
    sigma: mytt::Std,
}

impl Bands for Cn {
    fn step(&mut self, close: f64) -> (f64, f64) {
        (self.mid.step(close), self.sigma.step(close))
    }
}

/// TA-Lib's SMA, and `TA_INT_stddev_using_precalc_ma`: the running sum of squares of the last N
/// closes against that average. The squares start at bar 0 even where the SMA starts later (at
/// the first number), as TA-Lib's binding does.
#[derive(Clone)]
struct Talib {
    mid: FromFirstNumber<talib::Sma>,
    n: usize,
    squares: f64,
    ring: Ring,
}

impl Bands for Talib {
    fn step(&mut self, x: f64) -> (f64, f64) {
        let mean = self.mid.step(x);
        self.squares += x * x;
        self.ring.push(x);
        if self.ring.len() < self.n {
            return (mean, f64::NAN);
        }
        let variance = self.squares / self.n as f64 - mean * mean;
        let oldest = self.ring.iter().next().expect("the window is full");
        self.squares -= oldest * oldest;
        (mean, sigma(variance))
    }

    /// Over a column without NaN (so the SMA starts at bar 0 too): MID as the SMA's own column,
    /// then the squares' running sum with each window's oldest read from `close` itself, in the
    /// step's order (the addition, its use, the removal), and the two bands.
    fn columns(&self, close: &[f64], width: f64) -> Option<Vec<Vec<f64>>> {
        if self.n == 0 || !self.ring.is_empty() || !all_numbers(close) {
            return None;
        }
        let mid = column(self.mid.clone(), close);
        let (n, len) = (self.n, close.len());
        let warm = (n - 1).min(len);
        let mut squares = self.squares;
        for &x in &close[..warm] {
            squares += x * x;
        }
        let (mut upper, mut lower) = (vec![f64::NAN; warm], vec![f64::NAN; warm]);
        upper.reserve(len - warm);
        lower.reserve(len - warm);
        let count = n as f64;
        for ((&x, &oldest), &mean) in close[warm..].iter().zip(close).zip(&mid[warm..]) {
            squares += x * x;
            let variance = squares / count - mean * mean;
            squares -= oldest * oldest;
            let sigma = sigma(variance);
            upper.push(mean + sigma * width);
            lower.push(mean - sigma * width);
        }
        Some(vec![upper, mid, lower])
    }
}

/// σ from TA-Lib's variance: 0 below 1e-8 (a rounding residue, or a flat window).
fn sigma(variance: f64) -> f64 {
    if variance >= 0.000_000_01 {
        variance.sqrt()
    } else {
        0.0
    }
}
