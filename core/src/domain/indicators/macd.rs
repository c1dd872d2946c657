//! MACD(SHORT, LONG, M): DIF = EMA(close, SHORT) − EMA(close, LONG); DEA = EMA(DIF, M); and the
//! histogram MACD.
//!
//! * cn (MyTT `MACD`): pandas EMAs from the first close; MACD = 2 × (DIF − DEA).
//! * talib (`MACD(close, fastperiod=SHORT, slowperiod=LONG, signalperiod=M)`: macd, macdsignal,
//!   macdhist): seeded EMAs, the first (LONG − 1) + (M − 1) bars without a value; MACD = DIF − DEA.
//!
//! The article's `GetMACD` serves this computation too, through [`crate::domain::macd::compute`]
//! (its parameters and point type).

use super::fused;
use super::stream::in_blocks;
use super::stream::{Step, SUM_START};
use super::{batch, boxed, period, Convention, Def, Prices, Quote, Visit};
use crate::domain::macd::{MacdParams, MacdPoint};

pub(super) const DEF: Def = Def {
    name: "MACD",
    params: &[period("SHORT"), period("LONG"), period("M")],
    cn_defaults: &[12.0, 26.0, 9.0],
    talib_defaults: &[12.0, 26.0, 9.0],
    outputs: &["DIF", "DEA", "MACD"],
    check,
    stream: boxed!(build),
    batch: batch!(build, 3),
};

/// The article's MACD refuses a fast EMA that is not faster; so does this one.
fn check(a: &[f64]) -> Result<(), String> {
    if a[0] >= a[1] {
        return Err(format!("SHORT ({}) must be below LONG ({})", a[0], a[1]));
    }
    Ok(())
}

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let params = MacdParams { fast: super::bars(a, 0), slow: super::bars(a, 1), signal: super::bars(a, 2) };
    match convention {
        Convention::Cn => v.visit(Cn::new(params)),
        Convention::Talib => v.visit(Talib::new(params)),
    }
}

/// The MACD of every close in `convention`, `None` in TA-Lib's warm-up; `params` are checked.
/// The stream's values, bar for bar (a NaN close after the warm-up is a point of NaNs, as before).
pub(crate) fn points(closes: &[f64], params: MacdParams, convention: Convention) -> Vec<Option<MacdPoint>> {
    match convention {
        Convention::Cn => stepped(Cn::new(params), 0, closes),
        Convention::Talib => {
            let talib = Talib::new(params);
            let lookback = talib.lookback;
            stepped(talib, lookback, closes)
        }
    }
}

/// `state` stepped over every close with its type known (no call through a `Box<dyn Stream>` a
/// bar, which doubled the cost of the article's MACD over a million bars), as the batch does.
fn stepped<S: Step>(mut state: S, lookback: usize, closes: &[f64]) -> Vec<Option<MacdPoint>> {
    let mut out = [f64::NAN; 3];
    closes
        .iter()
        .enumerate()
        .map(|(i, &close)| {
            Step::step(&mut state, &Quote { close, ..Quote::default() }, &mut out);
            let [dif, dea, macd] = out;
            (i >= lookback).then_some(MacdPoint { dif, dea, macd })
        })
        .collect()
}

/// The smoothing factor of an `n`-period EMA.
fn alpha(n: usize) -> f64 {
    2.0 / (n as f64 + 1.0)
}

/// One EMA step, in TA-Lib's form (pandas' `(1 − α)·prev + α·x` differs in the last bit only).
fn step(prev: f64, x: f64, k: f64) -> f64 {
    (x - prev) * k + prev
}

/// The three columns of a MACD whose state has passed its warm-up: `warm` bars stepped as the
/// stream steps them (`state`), then the rest in a loop of the steady step alone, `[fast, slow,
/// DEA]` from `emas` of the state, with the histogram `hist(dif, dea)`. The same operations in
/// the same order as the stream's, so the same bits, without its branches and its row of
/// outputs a bar: the three EMAs' chains then overlap. `step` is the convention's EMA step.
#[inline(always)]
fn columns<S: Step>(
    state: &mut S,
    closes: &[f64],
    warm: usize,
    emas: impl FnOnce(&S) -> [f64; 3],
    k: [f64; 3],
    step: impl Fn(f64, f64, f64) -> f64,
    hist: impl Fn(f64, f64) -> f64,
) -> Vec<Vec<f64>> {
    let n = closes.len();
    let warm = warm.min(n);
    let (mut difs, mut deas, mut hists) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut out = [f64::NAN; 3];
    for &close in &closes[..warm] {
        state.step(&Quote { close, ..Quote::default() }, &mut out);
        difs.push(out[0]);
        deas.push(out[1]);
        hists.push(out[2]);
    }
    let ([mut fast, mut slow, mut dea], [kf, ks, kg]) = (emas(state), k);
    let mut columns = [difs, deas, hists];
    in_blocks(
        &closes[warm..],
        &mut columns,
        #[inline(always)]
        |close| {
            fast = step(fast, close, kf);
            slow = step(slow, close, ks);
            let dif = fast - slow;
            dea = step(dea, dif, kg);
            [dif, dea, hist(dif, dea)]
        },
    );
    columns.into()
}

/// The cn MACD: every EMA starts at its first input (the fast and slow at the first close, DEA
/// at the first DIF), so every bar has a value.
#[derive(Clone)]
struct Cn {
    k: [f64; 3],
    /// The fast and slow EMAs and DEA, from bar 0 on.
    emas: Option<[f64; 3]>,
}

impl Cn {
    fn new(p: MacdParams) -> Cn {
        Cn { k: [alpha(p.fast), alpha(p.slow), alpha(p.signal)], emas: None }
    }
}

impl Step for Cn {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let close = quote.close;
        let [kf, ks, kg] = self.k;
        let (fast, slow, dea) = match self.emas {
            None => (close, close, None),
            Some([fast, slow, dea]) => (step(fast, close, kf), step(slow, close, ks), Some(dea)),
        };
        let dif = fast - slow;
        // DEA starts at the first DIF (0, or NaN for a NaN close).
        let dea = dea.map_or(dif, |dea| step(dea, dif, kg));
        self.emas = Some([fast, slow, dea]);
        out.copy_from_slice(&[dif, dea, 2.0 * (dif - dea)]);
    }

    /// From a fresh state: bar 0 stepped, then the steady step.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        if self.emas.is_some() {
            return None;
        }
        let emas = |s: &Cn| s.emas.unwrap_or([f64::NAN; 3]);
        Some(columns(self, prices.close, 1, emas, self.k, step, |dif, dea| 2.0 * (dif - dea)))
    }
}

/// The talib MACD: both price EMAs seeded with averages whose windows end on bar slow − 1 (so
/// the fast one ignores the closes before slow − fast), DEA with the average of the first
/// `signal` DIFs; nothing before bar (slow − 1) + (signal − 1). Each EMA step is fused, as
/// TA-Lib's build steps them ([`super::fused`]).
#[derive(Clone)]
struct Talib {
    p: MacdParams,
    k: [f64; 3],
    lookback: usize,
    bars: usize,
    /// The seeds' sums while they last, then the EMAs: fast, slow and DEA.
    emas: [f64; 3],
}

impl Talib {
    fn new(p: MacdParams) -> Talib {
        let lookback = (p.slow - 1) + (p.signal - 1);
        Talib { p, k: [alpha(p.fast), alpha(p.slow), alpha(p.signal)], lookback, bars: 0, emas: [SUM_START; 3] }
    }
}

impl Step for Talib {
    /// In [`fused::fast`]: the three EMA steps then fuse with the processor's instruction.
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        fused::fast(
            #[inline(always)]
            || self.step_fused(quote, out),
        );
    }

    /// From a fresh state: the seeds stepped through bar `lookback`, then the steady step.
    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        if self.bars != 0 {
            return None;
        }
        let (warm, k) = (self.lookback + 1, self.k);
        let emas = |s: &Talib| s.emas;
        Some(fused::fast(
            #[inline(always)]
            || {
                columns(
                    self,
                    prices.close,
                    warm,
                    emas,
                    k,
                    fused::ema_step,
                    #[inline(always)]
                    |dif, dea| dif - dea,
                )
            },
        ))
    }
}

impl Talib {
    #[inline(always)]
    fn step_fused(&mut self, quote: &Quote, out: &mut [f64]) {
        let (i, close, p) = (self.bars, quote.close, self.p);
        self.bars += 1;
        let [kf, ks, kg] = self.k;
        let [fast, slow, dea] = &mut self.emas;
        out.fill(f64::NAN);
        if i + 1 < p.slow {
            // The seeds' sums: the last `fast` and all `slow` of the closes up to bar slow − 1.
            if i >= p.slow - p.fast {
                *fast += close;
            }
            *slow += close;
            return;
        }
        if i + 1 == p.slow {
            *fast = (*fast + close) / p.fast as f64;
            *slow = (*slow + close) / p.slow as f64;
        } else {
            *fast = fused::ema_step(*fast, close, kf);
            *slow = fused::ema_step(*slow, close, ks);
        }
        let dif = *fast - *slow;
        if i < self.lookback {
            *dea += dif;
            return;
        }
        *dea = if i == self.lookback { (*dea + dif) / p.signal as f64 } else { fused::ema_step(*dea, dif, kg) };
        out.copy_from_slice(&[dif, *dea, dif - *dea]);
    }
}
