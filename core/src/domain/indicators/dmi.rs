//! DMI(M1, M2): the directional movement index. HD = high − REF(high, 1), LD = REF(low, 1) − low;
//! +DM = HD where HD > 0 and HD > LD (else 0), −DM = LD where LD > 0 and LD > HD (else 0); TR the
//! true range.
//!
//! * cn (MyTT `DMI`): PDI = SUM(+DM, M1) · 100 / SUM(TR, M1), MDI likewise; ADX = MA(|MDI − PDI| /
//!   (PDI + MDI) · 100, M2); ADXR = (ADX + REF(ADX, M2)) / 2.
//! * talib: `PLUS_DI`, `MINUS_DI`, `ADX` and `ADXR`, each with `timeperiod=M1` (M2 is not used):
//!   Wilder's running sums (`S = S − S/M1 + x`) of +DM, −DM and TR seeded over the first M1 − 1
//!   changes; DX = 100 · |−DI − +DI| / (−DI + +DI); ADX is Wilder's average of DX seeded with the
//!   mean of the first M1; ADXR = (ADX + ADX of M1 − 1 bars before) / 2. Ratios whose divisor is
//!   within 1e-8 of 0 give 0 (the DIs) or keep the last value (ADX), as TA-Lib does.

use super::atr::TrueRange;
use super::stream::{Filter, Step, SUM_START};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "DMI",
    params: &[period("M1"), period("M2")],
    cn_defaults: &[14.0, 6.0],
    talib_defaults: &[14.0, 6.0],
    outputs: &["PDI", "MDI", "ADX", "ADXR"],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 4),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let (m1, m2) = (super::bars(a, 0), super::bars(a, 1));
    let moves = Moves { prev: None, tr: TrueRange::new() };
    match convention {
        Convention::Cn => v.visit(Dmi {
            moves,
            lines: Cn {
                plus: mytt::Sum::new(m1),
                minus: mytt::Sum::new(m1),
                tr: mytt::Sum::new(m1),
                adx: mytt::Ma::new(m2),
                adx_before: mytt::Ref::new(m2),
            },
        }),
        Convention::Talib => v.visit(Dmi {
            moves,
            lines: Wilder {
                n: m1,
                bars: 0,
                sums: [SUM_START; 3],
                dx_sum: 0.0,
                adx: f64::NAN,
                adx_before: mytt::Ref::new(m1 - 1),
            },
        }),
    }
}

/// +DM, −DM and TR of each bar against the one before (0, 0 and NaN on bar 0).
#[derive(Clone)]
struct Moves {
    /// The high and low before.
    prev: Option<(f64, f64)>,
    tr: TrueRange,
}

impl Moves {
    fn step(&mut self, quote: &Quote) -> [f64; 3] {
        let tr = self.tr.step(quote);
        let Some((high, low)) = self.prev.replace((quote.high, quote.low)) else { return [0.0, 0.0, tr] };
        let (hd, ld) = (quote.high - high, low - quote.low);
        [if hd > 0.0 && hd > ld { hd } else { 0.0 }, if ld > 0.0 && ld > hd { ld } else { 0.0 }, tr]
    }
}

#[derive(Clone)]
struct Dmi<L> {
    moves: Moves,
    lines: L,
}

trait Lines: Clone + Send + Sync + 'static {
    /// PDI, MDI, ADX and ADXR after a bar of these moves.
    fn step(&mut self, moves: [f64; 3], out: &mut [f64]);
}

impl<L: Lines> Step for Dmi<L> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let moves = self.moves.step(quote);
        self.lines.step(moves, out);
    }
}

/// MyTT's sums and averages.
#[derive(Clone)]
struct Cn {
    plus: mytt::Sum,
    minus: mytt::Sum,
    tr: mytt::Sum,
    adx: mytt::Ma,
    adx_before: mytt::Ref,
}

impl Lines for Cn {
    fn step(&mut self, [plus, minus, tr]: [f64; 3], out: &mut [f64]) {
        let tr = self.tr.step(tr);
        let pdi = self.plus.step(plus) * 100.0 / tr;
        let mdi = self.minus.step(minus) * 100.0 / tr;
        let dx = (mdi - pdi).abs() / (pdi + mdi) * 100.0;
        let adx = self.adx.step(dx);
        let adxr = (adx + self.adx_before.step(adx)) / 2.0;
        out.copy_from_slice(&[pdi, mdi, adx, adxr]);
    }
}

/// TA-Lib's PLUS_DI, MINUS_DI, ADX and ADXR loops, which share their running sums.
#[derive(Clone)]
struct Wilder {
    n: usize,
    bars: usize,
    /// Wilder's sums of +DM, −DM and TR.
    sums: [f64; 3],
    dx_sum: f64,
    adx: f64,
    /// The ADX column (NaN before bar 2n − 1), n − 1 bars back.
    adx_before: mytt::Ref,
}

impl Lines for Wilder {
    fn step(&mut self, moves: [f64; 3], out: &mut [f64]) {
        let (i, n, period) = (self.bars, self.n, self.n as f64);
        self.bars += 1;
        out.fill(f64::NAN);
        if i == 0 {
            return;
        }
        if i < n {
            // The seeds: the sums over bars 1..n − 1.
            for (sum, x) in self.sums.iter_mut().zip(moves) {
                *sum += x;
            }
            return;
        }
        for (sum, x) in self.sums.iter_mut().zip(moves) {
            *sum = *sum - *sum / period + x;
        }
        let [s_plus, s_minus, s_tr] = self.sums;
        let ratio = |dm: f64, tr: f64| if talib::is_zero(tr) { 0.0 } else { 100.0 * (dm / tr) };
        out[0] = ratio(s_plus, s_tr);
        out[1] = ratio(s_minus, s_tr);
        let dx = if talib::is_zero(s_tr) {
            None
        } else {
            let (pdi, mdi) = (100.0 * (s_plus / s_tr), 100.0 * (s_minus / s_tr));
            (!talib::is_zero(pdi + mdi)).then(|| 100.0 * ((mdi - pdi).abs() / (mdi + pdi)))
        };
        // ADX: the first is the mean of the DX on bars n..2n−1, then Wilder's average.
        if i < 2 * n {
            self.dx_sum += dx.unwrap_or(0.0);
            if i == 2 * n - 1 {
                self.adx = self.dx_sum / period;
            }
        } else if let Some(dx) = dx {
            self.adx = (self.adx * (period - 1.0) + dx) / period;
        }
        let adx = if i >= 2 * n - 1 { self.adx } else { f64::NAN };
        out[2] = adx;
        let before = self.adx_before.step(adx);
        if i >= 3 * n - 2 {
            out[3] = (adx + before) / 2.0;
        }
    }
}
