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

use super::{atr, mytt, no_check, period, talib, Convention, Def, Prices};

pub(super) const DEF: Def = Def {
    name: "DMI",
    params: &[period("M1"), period("M2")],
    cn_defaults: &[14.0, 6.0],
    talib_defaults: &[14.0, 6.0],
    outputs: &["PDI", "MDI", "ADX", "ADXR"],
    check: no_check,
    compute,
};

/// +DM and −DM of every bar (0 on bar 0).
fn directional_moves(p: &Prices) -> (Vec<f64>, Vec<f64>) {
    (0..p.close.len())
        .map(|i| {
            if i == 0 {
                return (0.0, 0.0);
            }
            let (hd, ld) = (p.high[i] - p.high[i - 1], p.low[i - 1] - p.low[i]);
            (if hd > 0.0 && hd > ld { hd } else { 0.0 }, if ld > 0.0 && ld > hd { ld } else { 0.0 })
        })
        .unzip()
}

fn compute(p: &Prices, a: &[f64], convention: Convention) -> Vec<Vec<f64>> {
    let (m1, m2) = (super::bars(a, 0), super::bars(a, 1));
    let (plus, minus) = directional_moves(p);
    let tr = atr::true_range(p);
    match convention {
        Convention::Cn => {
            let tr = mytt::sum(&tr, m1);
            let pdi = mytt::zip(&mytt::sum(&plus, m1), &tr, |dm, tr| dm * 100.0 / tr);
            let mdi = mytt::zip(&mytt::sum(&minus, m1), &tr, |dm, tr| dm * 100.0 / tr);
            let dx = mytt::zip(&pdi, &mdi, |pdi, mdi| (mdi - pdi).abs() / (pdi + mdi) * 100.0);
            let adx = mytt::ma(&dx, m2);
            let adxr = mytt::zip(&adx, &mytt::shift(&adx, m2), |now, then| (now + then) / 2.0);
            vec![pdi, mdi, adx, adxr]
        }
        Convention::Talib => wilder(&plus, &minus, &tr, m1),
    }
}

/// TA-Lib's PLUS_DI, MINUS_DI, ADX and ADXR loops, which share their running sums.
fn wilder(plus: &[f64], minus: &[f64], tr: &[f64], n: usize) -> Vec<Vec<f64>> {
    let len = tr.len();
    let mut out = vec![vec![f64::NAN; len]; 4];
    if len <= n {
        return out;
    }
    let period = n as f64;
    let (mut s_plus, mut s_minus, mut s_tr): (f64, f64, f64) =
        (plus[1..n].iter().sum(), minus[1..n].iter().sum(), tr[1..n].iter().sum());
    let ratio = |dm: f64, tr: f64| if talib::is_zero(tr) { 0.0 } else { 100.0 * (dm / tr) };
    let (mut dx_sum, mut adx) = (0.0, f64::NAN);
    for i in n..len {
        s_plus = s_plus - s_plus / period + plus[i];
        s_minus = s_minus - s_minus / period + minus[i];
        s_tr = s_tr - s_tr / period + tr[i];
        out[0][i] = ratio(s_plus, s_tr);
        out[1][i] = ratio(s_minus, s_tr);
        let dx = if talib::is_zero(s_tr) {
            None
        } else {
            let (pdi, mdi) = (100.0 * (s_plus / s_tr), 100.0 * (s_minus / s_tr));
            (!talib::is_zero(pdi + mdi)).then(|| 100.0 * ((mdi - pdi).abs() / (mdi + pdi)))
        };
        // ADX: the first is the mean of the DX on bars n..2n−1, then Wilder's average.
        if i < 2 * n {
            dx_sum += dx.unwrap_or(0.0);
            if i == 2 * n - 1 {
                adx = dx_sum / period;
            }
        } else if let Some(dx) = dx {
            adx = (adx * (period - 1.0) + dx) / period;
        }
        if i >= 2 * n - 1 {
            out[2][i] = adx;
        }
        if i >= 3 * n - 2 {
            out[3][i] = (adx + out[2][i + 1 - n]) / 2.0;
        }
    }
    out
}
