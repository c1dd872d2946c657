//! The Rust peers of the benchmark: `ta` 0.5 (incremental `next` only), `kand` 0.2 (batch over
//! slices, TA-Lib's formulas) and `yata` 0.7 (incremental `Method::next`), each where it has the
//! indicator, with idc's default parameters of the convention it is compared with.
//!
//! Each peer says how far its values agree with idc's: the same convention (checked to 1e-9 on
//! every bar where idc has a value), the same formula seeded otherwise (checked from the bar
//! where the seed has decayed below 1e-9), or a different formula (timed, never called equal).

use idc_core::domain::indicators::Convention::{self, Cn, Talib};
use ta::Next;
use yata::core::Method;

use crate::{close_to, fail, Bars};

/// How a peer's values relate to idc's in the row's convention.
pub enum Agreement {
    /// Equal wherever idc has a value (the peer's warm-up values, if any, are not compared).
    Same,
    /// The same formula with another seed: equal from this bar on, once the seed has decayed.
    Seeded(usize),
    /// The same formula, whose running update drifts over a long history (ta's rolling variance,
    /// updated without ever being summed anew): checked on the first this many bars.
    Drifts(usize),
    /// Another formula: timed beside idc, not compared.
    Differs(&'static str),
}

pub struct Peer {
    pub crate_name: &'static str,
    pub indicator: &'static str,
    pub convention: Convention,
    /// "batch" (a function over slices) or "next" (stepped bar by bar).
    pub how: &'static str,
    pub agreement: Agreement,
    /// The idc output each of the peer's columns is compared with.
    pub outputs: &'static [usize],
    pub run: fn(&Bars) -> Vec<Vec<f64>>,
}

/// What [`Peer::check`] found: `equal`, `seeded` (equal from bar `from`), `drifts` (equal on
/// the first `from` bars) or `differs: WHY`.
pub struct Check {
    pub verdict: String,
    pub from: usize,
}

impl Peer {
    /// Compares the peer's columns with idc's `batch`; a mismatch ends the run.
    pub fn check(&self, bars: &Bars, batch: &[Vec<f64>]) -> Check {
        let (from, end) = match self.agreement {
            Agreement::Same => (0, bars.len()),
            Agreement::Seeded(from) => (from, bars.len()),
            Agreement::Drifts(end) => (0, end.min(bars.len())),
            Agreement::Differs(why) => return Check { verdict: format!("differs: {why}"), from: 0 },
        };
        let columns = (self.run)(bars);
        let mut compared = 0;
        for (column, &k) in columns.iter().zip(self.outputs) {
            // The peer's own warm-up (leading NaNs, sometimes longer than idc's) is skipped.
            let start = from.max(column.iter().position(|x| !x.is_nan()).unwrap_or(bars.len()));
            for i in start..end {
                let (ours, theirs) = (batch[k][i], column[i]);
                if ours.is_nan() {
                    continue;
                }
                if !close_to(ours, theirs) {
                    fail(&format!(
                        "{} {} ({:?}) output {k} differs from idc at bar {i}: {theirs} against {ours}",
                        self.crate_name, self.indicator, self.convention
                    ));
                }
                compared += 1;
            }
        }
        if compared == 0 {
            fail(&format!("{} {}: no value to compare", self.crate_name, self.indicator));
        }
        match self.agreement {
            Agreement::Drifts(_) => Check { verdict: "drifts".to_string(), from: end },
            Agreement::Seeded(_) => Check { verdict: "seeded".to_string(), from },
            _ => Check { verdict: "equal".to_string(), from },
        }
    }
}

/// One bar as `ta` reads it.
struct TaBar {
    high: f64,
    low: f64,
    close: f64,
    volume: f64,
}

impl ta::Open for TaBar {
    fn open(&self) -> f64 {
        self.close
    }
}
impl ta::High for TaBar {
    fn high(&self) -> f64 {
        self.high
    }
}
impl ta::Low for TaBar {
    fn low(&self) -> f64 {
        self.low
    }
}
impl ta::Close for TaBar {
    fn close(&self) -> f64 {
        self.close
    }
}
impl ta::Volume for TaBar {
    fn volume(&self) -> f64 {
        self.volume
    }
}

fn ta_bar(b: &Bars, i: usize) -> TaBar {
    TaBar { high: b.high[i], low: b.low[i], close: b.close[i], volume: b.volume[i] }
}

/// `next` of `ta` over every bar, one column per output.
fn ta_each<const K: usize>(b: &Bars, mut f: impl FnMut(&TaBar) -> [f64; K]) -> Vec<Vec<f64>> {
    let mut columns = vec![Vec::with_capacity(b.len()); K];
    for i in 0..b.len() {
        for (column, value) in columns.iter_mut().zip(f(&ta_bar(b, i))) {
            column.push(value);
        }
    }
    columns
}

/// `f` over every close, one column.
fn each_close(b: &Bars, mut f: impl FnMut(f64) -> f64) -> Vec<Vec<f64>> {
    vec![b.close.iter().map(|&x| f(x)).collect()]
}

fn nan(n: usize) -> Vec<f64> {
    vec![f64::NAN; n]
}

/// kand's output buffers: zeros, as its own examples pass (its STOCH smooths its fast %K buffer
/// from bar 0, so a NaN there would spread).
fn zeros(n: usize) -> Vec<f64> {
    vec![0.0; n]
}

/// A kand call's result, which only fails on bad input.
fn ok<E: std::fmt::Debug>(result: Result<(), E>) {
    result.unwrap_or_else(|e| fail(&format!("kand failed: {e:?}")));
}

/// kand's SMA(m) over `s` from its first number (as TA-Lib's binding starts an SMA of an
/// indicator), NaN before.
fn kand_sma_after(s: &[f64], m: usize) -> Vec<f64> {
    let start = s.iter().position(|x| !x.is_nan()).unwrap_or(s.len());
    let mut out = nan(s.len());
    ok(kand::ohlcv::sma::sma(&s[start..], m, &mut out[start..]));
    out
}

fn yata_sma(n: u8, first: f64) -> yata::methods::SMA {
    yata::methods::SMA::new(n, &first).expect("a period")
}

macro_rules! peer {
    ($crate_name:literal, $indicator:literal, $convention:expr, $how:literal, $agreement:expr, $outputs:expr, $run:expr) => {
        Peer {
            crate_name: $crate_name,
            indicator: $indicator,
            convention: $convention,
            how: $how,
            agreement: $agreement,
            outputs: $outputs,
            run: $run,
        }
    };
}

/// Every peer, with idc's defaults: cn MA 5, EMA 12, SMA(5,1), MACD(12,26,9), KDJ(9,3,3), BOLL(20,2),
/// CCI 14, ROC(12,6), MTM(12,6), BBI(3,6,12,20); talib RSI 14, ATR 14, WR 14, DMI 14, MFI 14.
pub fn all() -> Vec<Peer> {
    use Agreement::*;
    vec![
        // -- ta 0.5, stepped with `next`.
        peer!("ta", "MA", Cn, "next", Same, &[0], |b| {
            let mut m = ta::indicators::SimpleMovingAverage::new(5).unwrap();
            each_close(b, |x| m.next(x))
        }),
        peer!("ta", "EMA", Cn, "next", Same, &[0], |b| {
            let mut m = ta::indicators::ExponentialMovingAverage::new(12).unwrap();
            each_close(b, |x| m.next(x))
        }),
        peer!("ta", "MACD", Cn, "next", Same, &[0, 1], |b| {
            let mut m = ta::indicators::MovingAverageConvergenceDivergence::new(12, 26, 9).unwrap();
            ta_each(b, |bar| {
                let o = m.next(bar);
                [o.macd, o.signal, o.histogram]
            })
        }),
        peer!("ta", "KDJ", Cn, "next", Seeded(300), &[0], |b| {
            // EMA(5) of the fast stochastic: α = 1/3, cn's K with M1 = 3, seeded on bar 0.
            let mut m = ta::indicators::SlowStochastic::new(9, 5).unwrap();
            ta_each(b, |bar| [m.next(bar)])
        }),
        peer!("ta", "RSI", Talib, "next", Differs("EMAs with k = 2/(N+1), seeded with 0.1"), &[0], |b| {
            let mut m = ta::indicators::RelativeStrengthIndex::new(14).unwrap();
            each_close(b, |x| m.next(x))
        }),
        peer!("ta", "BOLL", Cn, "next", Drifts(20_000), &[0, 1, 2], |b| {
            let mut m = ta::indicators::BollingerBands::new(20, 2.0).unwrap();
            ta_each(b, |bar| {
                let o = m.next(bar.close);
                [o.upper, o.average, o.lower]
            })
        }),
        peer!("ta", "ATR", Talib, "next", Differs("an EMA of TR, k = 2/(N+1)"), &[0], |b| {
            let mut m = ta::indicators::AverageTrueRange::new(14).unwrap();
            ta_each(b, |bar| [m.next(bar)])
        }),
        peer!("ta", "CCI", Cn, "next", Differs("the mean deviation of the close, not of TP"), &[0], |b| {
            let mut m = ta::indicators::CommodityChannelIndex::new(14).unwrap();
            ta_each(b, |bar| [m.next(bar)])
        }),
        peer!("ta", "OBV", Talib, "next", Same, &[0], |b| {
            let mut m = ta::indicators::OnBalanceVolume::new();
            ta_each(b, |bar| [m.next(bar)])
        }),
        peer!(
            "ta",
            "MFI",
            Talib,
            "next",
            Differs("its window of flows is not TA-Lib's: 63.4 against 71.2 on bar 4,894 here"),
            &[0],
            |b| {
                let mut m = ta::indicators::MoneyFlowIndex::new(14).unwrap();
                ta_each(b, |bar| [m.next(bar)])
            }
        ),
        peer!("ta", "ROC", Cn, "next", Same, &[0, 1], |b| {
            let mut roc = ta::indicators::RateOfChange::new(12).unwrap();
            let mut ma = ta::indicators::SimpleMovingAverage::new(6).unwrap();
            ta_each(b, |bar| {
                let r = roc.next(ta::Close::close(bar));
                [r, ma.next(r)]
            })
        }),
        peer!("ta", "BBI", Cn, "next", Same, &[0], |b| {
            let mut m: Vec<_> =
                [3, 6, 12, 20].iter().map(|&n| ta::indicators::SimpleMovingAverage::new(n).unwrap()).collect();
            each_close(b, |x| (m[0].next(x) + m[1].next(x) + m[2].next(x) + m[3].next(x)) / 4.0)
        }),
        // -- kand 0.2, batch over slices, TA-Lib's formulas.
        peer!("kand", "MA", Talib, "batch", Same, &[0], |b| {
            let mut out = zeros(b.len());
            ok(kand::ohlcv::sma::sma(&b.close, 5, &mut out));
            vec![out]
        }),
        peer!("kand", "EMA", Talib, "batch", Same, &[0], |b| {
            let mut out = zeros(b.len());
            ok(kand::ohlcv::ema::ema(&b.close, 12, None, &mut out));
            vec![out]
        }),
        peer!("kand", "MACD", Talib, "batch", Seeded(400), &[0, 1, 2], |b| {
            let mut o: Vec<Vec<f64>> = (0..5).map(|_| zeros(b.len())).collect();
            let [m, s, h, f, l] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::macd::macd(&b.close, 12, 26, 9, m, s, h, f, l));
            o.truncate(3);
            o
        }),
        peer!("kand", "KDJ", Talib, "batch", Same, &[0, 1], |b| {
            let mut o: Vec<Vec<f64>> = (0..3).map(|_| zeros(b.len())).collect();
            let [fast, k, d] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::stoch::stoch(&b.high, &b.low, &b.close, 9, 3, 3, fast, k, d));
            o.remove(0);
            o
        }),
        peer!("kand", "RSI", Talib, "batch", Same, &[0], |b| {
            let mut o: Vec<Vec<f64>> = (0..3).map(|_| zeros(b.len())).collect();
            let [r, g, l] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::rsi::rsi(&b.close, 14, r, g, l));
            o.truncate(1);
            o
        }),
        peer!("kand", "BOLL", Talib, "batch", Same, &[0, 1, 2], |b| {
            let mut o: Vec<Vec<f64>> = (0..7).map(|_| zeros(b.len())).collect();
            let [u, m, l, s, v, sum, sq] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::bbands::bbands(&b.close, 20, 2.0, 2.0, u, m, l, s, v, sum, sq));
            o.truncate(3);
            o
        }),
        peer!("kand", "ATR", Talib, "batch", Same, &[0], |b| {
            let mut out = zeros(b.len());
            ok(kand::ohlcv::atr::atr(&b.high, &b.low, &b.close, 14, &mut out));
            vec![out]
        }),
        peer!("kand", "CCI", Talib, "batch", Drifts(2_000), &[0], |b| {
            let mut o: Vec<Vec<f64>> = (0..4).map(|_| zeros(b.len())).collect();
            let [c, tp, sma, dev] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::cci::cci(&b.high, &b.low, &b.close, 14, c, tp, sma, dev));
            o.truncate(1);
            o
        }),
        peer!("kand", "WR", Talib, "batch", Same, &[0], |b| {
            let mut o: Vec<Vec<f64>> = (0..3).map(|_| zeros(b.len())).collect();
            let [w, h, l] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::willr::willr(&b.high, &b.low, &b.close, 14, w, h, l));
            o.truncate(1);
            o
        }),
        peer!("kand", "DMI", Talib, "batch", Same, &[0, 1, 2, 3], |b| {
            let (h, l, c) = (&b.high[..], &b.low[..], &b.close[..]);
            let mut o: Vec<Vec<f64>> = (0..4).map(|_| zeros(b.len())).collect();
            let mut s: Vec<Vec<f64>> = (0..3).map(|_| zeros(b.len())).collect();
            let [pdi, mdi, adx, adxr] = &mut o[..] else { unreachable!() };
            let [sp, sm, st] = &mut s[..] else { unreachable!() };
            ok(kand::ohlcv::plus_di::plus_di(h, l, c, 14, pdi, sp, st));
            ok(kand::ohlcv::minus_di::minus_di(h, l, c, 14, mdi, sm, st));
            ok(kand::ohlcv::adxr::adxr(h, l, c, 14, adxr, adx, sp, sm, st));
            o
        }),
        peer!("kand", "OBV", Talib, "batch", Same, &[0], |b| {
            let mut out = zeros(b.len());
            ok(kand::ohlcv::obv::obv(&b.close, &b.volume, &mut out));
            vec![out]
        }),
        peer!(
            "kand",
            "MFI",
            Talib,
            "batch",
            Differs("a typical price within 2e-14 of the one before is a move to kand, none to TA-Lib 0.8 and idc: 39.66 against 39.89 on bar 171,129 here"),
            &[0],
            |b| {
                let mut o: Vec<Vec<f64>> = (0..5).map(|_| zeros(b.len())).collect();
                let [m, tp, f, p, n] = &mut o[..] else { unreachable!() };
                ok(kand::ohlcv::mfi::mfi(&b.high, &b.low, &b.close, &b.volume, 14, m, tp, f, p, n));
                o.truncate(1);
                o
            }
        ),
        peer!("kand", "ROC", Talib, "batch", Same, &[0, 1], |b| {
            let mut roc = zeros(b.len());
            ok(kand::ohlcv::roc::roc(&b.close, 12, &mut roc));
            let ma = kand_sma_after(&roc, 6);
            vec![roc, ma]
        }),
        peer!("kand", "MTM", Talib, "batch", Same, &[0, 1], |b| {
            let mut mom = zeros(b.len());
            ok(kand::ohlcv::mom::mom(&b.close, 12, &mut mom));
            let ma = kand_sma_after(&mom, 6);
            vec![mom, ma]
        }),
        peer!("kand", "TRIX", Talib, "batch", Same, &[0, 1], |b| {
            let mut o: Vec<Vec<f64>> = (0..4).map(|_| zeros(b.len())).collect();
            let [t, e1, e2, e3] = &mut o[..] else { unreachable!() };
            ok(kand::ohlcv::trix::trix(&b.close, 12, t, e1, e2, e3));
            let ma = kand_sma_after(&o[0], 20);
            vec![o.swap_remove(0), ma]
        }),
        // -- yata 0.7, stepped with `Method::next`; each method starts as if its window were full
        // of the first value, so only its warm-up differs (not compared: idc has NaN there).
        peer!("yata", "MA", Cn, "next", Same, &[0], |b| {
            let mut m = yata_sma(5, b.close[0]);
            each_close(b, |x| m.next(&x))
        }),
        peer!("yata", "EMA", Cn, "next", Same, &[0], |b| {
            let mut m = yata::methods::EMA::new(12, &b.close[0]).unwrap();
            each_close(b, |x| m.next(&x))
        }),
        peer!("yata", "SMA", Cn, "next", Same, &[0], |b| {
            // RMA: α = 1/N from the first value, cn's SMA(N, 1).
            let mut m = yata::methods::RMA::new(5, &b.close[0]).unwrap();
            each_close(b, |x| m.next(&x))
        }),
        peer!("yata", "CCI", Cn, "next", Drifts(2_000), &[0], |b| {
            // yata's CCI is (TP − MA) / AVEDEV, without TA's 0.015.
            let tp = |i: usize| (b.high[i] + b.low[i] + b.close[i]) / 3.0;
            let mut m = yata::methods::CCI::new(14, &tp(0)).unwrap();
            vec![(0..b.len()).map(|i| m.next(&tp(i)) / 0.015).collect()]
        }),
        peer!("yata", "ROC", Cn, "next", Same, &[0, 1], |b| {
            let mut roc = yata::methods::RateOfChange::new(12, &b.close[0]).unwrap();
            let mut ma = yata_sma(6, 0.0);
            ta_each(b, |bar| {
                let r = roc.next(&bar.close) * 100.0;
                [r, ma.next(&r)]
            })
        }),
        peer!("yata", "MTM", Cn, "next", Same, &[0, 1], |b| {
            let mut mtm = yata::methods::Momentum::new(12, &b.close[0]).unwrap();
            let mut ma = yata_sma(6, 0.0);
            ta_each(b, |bar| {
                let m = mtm.next(&bar.close);
                [m, ma.next(&m)]
            })
        }),
        peer!("yata", "BBI", Cn, "next", Same, &[0], |b| {
            let mut m: Vec<_> = [3, 6, 12, 20].iter().map(|&n| yata_sma(n, b.close[0])).collect();
            each_close(b, |x| (m[0].next(&x) + m[1].next(&x) + m[2].next(&x) + m[3].next(&x)) / 4.0)
        }),
    ]
}
