//! BOLL(N, P): Bollinger bands around the N-bar average of the close.
//!
//! MID = MA(close, N); UPPER = MID + P·σ; LOWER = MID − P·σ, σ the population standard deviation
//! of the last N closes.
//!
//! * cn (MyTT `BOLL`): pandas' rolling mean and `std(ddof=0)`.
//! * talib (`BBANDS(close, timeperiod=N, nbdevup=P, nbdevdn=P, matype=SMA)`: upper, middle,
//!   lower): σ² by running sums of the differences to a shift and of their squares, taken anew
//!   where they lose precision, as TA-Lib 0.6 computes it; TA-Lib's bits.

use super::stream::{all_numbers, column, Filter, Ring, Step};
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
            bands: Talib { mid: FromFirstNumber::new(talib::Sma::new(n)), ring: Ring::new(n), sums: Shifted::new(n) },
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

/// TA-Lib 0.6's BBANDS (its C library in TA-Lib 0.8's wheels; the disassembly read): MID is its
/// SMA; σ comes from running sums of the window's differences to a shift `K` and of their
/// squares, `σ² = S2/N − (S1/N)²`, K first the first close. When the sums lose precision (the
/// window's variance under 1e-6 of the mean square left, a removed square over 1e6 times the
/// rest) or every 32·N bars, K becomes the window's mean and both sums are taken anew (σ is then
/// 0 where σ² is under 1e-12 of the mean square). σ is 0 where σ² is exactly 0. The same bits as
/// TA-Lib's, which fuses nothing here. Everything starts at the first number, as TA-Lib's binding
/// starts.
#[derive(Clone)]
struct Talib {
    mid: FromFirstNumber<talib::Sma>,
    /// The window, for the value leaving it and for taking the sums anew.
    ring: Ring,
    sums: Shifted,
}

/// The shifted sums of a window, and what is left until they are taken anew.
#[derive(Clone, Copy)]
struct Shifted {
    /// 1/N, and 32·N: how many bars the sums run before they are taken anew.
    reciprocal: f64,
    every: usize,
    shift: f64,
    s1: f64,
    s2: f64,
    left: usize,
}

impl Shifted {
    fn new(n: usize) -> Shifted {
        // A period is at least 1; `max` keeps the count above 0 regardless.
        let every = 32 * n.max(1);
        Shifted { reciprocal: 1.0 / n as f64, every, shift: f64::NAN, s1: 0.0, s2: 0.0, left: every }
    }

    /// Adds a value of the window.
    #[inline(always)]
    fn add(&mut self, x: f64) {
        let d = x - self.shift;
        self.s1 += d;
        self.s2 += d * d;
    }

    /// σ of the full window (the sums hold its N values), then `oldest` taken out of the sums;
    /// `window` gives the window's values oldest first, should the sums be taken anew.
    #[inline(always)]
    fn sigma<I: Iterator<Item = f64>>(&mut self, oldest: f64, window: impl Fn() -> I) -> f64 {
        let r = self.reciprocal;
        let mean = r * self.s1;
        let variance = r * self.s2 - mean * mean;
        let d = oldest - self.shift;
        let square = d * d;
        self.s2 -= square;
        let anew = (r * self.s2) * 1e-6 > variance || square > self.s2 * 1e6 || {
            self.left -= 1;
            self.left == 0
        };
        if !anew {
            self.s1 -= d;
            return root(variance);
        }
        self.shift = r * window().fold(0.0, |sum, x| sum + x);
        (self.s1, self.s2) = (0.0, 0.0);
        window().for_each(|x| self.add(x));
        let (mean, squares) = (r * self.s1, r * self.s2);
        let variance = squares - mean * mean;
        let d = oldest - self.shift;
        self.s1 -= d;
        self.s2 -= d * d;
        self.left = self.every;
        if squares * 1e-12 > variance {
            0.0
        } else {
            root(variance)
        }
    }
}

/// σ from σ²: 0 where it is exactly 0 (a negative one is NaN, as TA-Lib's `sqrt` gives).
#[inline(always)]
fn root(variance: f64) -> f64 {
    if variance == 0.0 {
        0.0
    } else {
        variance.sqrt()
    }
}

impl Bands for Talib {
    fn step(&mut self, x: f64) -> (f64, f64) {
        let mean = self.mid.step(x);
        if self.ring.is_empty() {
            if x.is_nan() {
                return (mean, f64::NAN);
            }
            self.sums.shift = x;
        }
        self.sums.add(x);
        self.ring.push(x);
        if self.ring.len() < self.ring.n() {
            return (mean, f64::NAN);
        }
        let oldest = self.ring.oldest().expect("the window is full");
        let ring = &self.ring;
        (mean, self.sums.sigma(oldest, || ring.iter()))
    }

    /// Over a column without NaN: MID as the SMA's own column, then the sums in the step's
    /// order with each window read from `close` itself, and the two bands.
    fn columns(&self, close: &[f64], width: f64) -> Option<Vec<Vec<f64>>> {
        let n = self.ring.n();
        if n == 0 || !self.ring.is_empty() || !all_numbers(close) {
            return None;
        }
        let mid = column(self.mid.clone(), close);
        let warm = (n - 1).min(close.len());
        let mut sums = self.sums;
        sums.shift = close.first().copied().unwrap_or(f64::NAN);
        close[..warm].iter().for_each(|&x| sums.add(x));
        let (mut upper, mut lower) = (vec![f64::NAN; warm], vec![f64::NAN; warm]);
        upper.reserve(close.len() - warm);
        lower.reserve(close.len() - warm);
        for (i, &mean) in (warm..close.len()).zip(&mid[warm..]) {
            sums.add(close[i]);
            let window = &close[i + 1 - n..=i];
            let sigma = sums.sigma(window[0], || window.iter().copied());
            upper.push(mean + sigma * width);
            lower.push(mean - sigma * width);
        }
        Some(vec![upper, mid, lower])
    }
}
