//! Which values an axis marks, and how it writes them: the numbers of a value axis, the padding
//! around a range of values, and which bars get a date label. Pure arithmetic, no pixels drawn.

use std::ops::Range;

/// Tick values between `lo` and `hi`, at most `max_ticks` of them (at least one), on a step of
/// 1, 2 or 5 times a power of ten, with their labels: as many decimals as the step needs, so two
/// labels never read the same. A zero span gives the one value.
pub fn axis_ticks(lo: f64, hi: f64, max_ticks: usize) -> Vec<(f64, String)> {
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let span = hi - lo;
    let magnitude = lo.abs().max(hi.abs());
    if span <= magnitude * 1e-12 || span < f64::MIN_POSITIVE {
        // One value: up to six significant digits of it.
        let decimals = if magnitude == 0.0 { 0 } else { (5 - magnitude.log10().floor() as i32).clamp(0, 15) };
        let text = format_number(lo, decimals as usize);
        let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
        return vec![(lo, text.to_string())];
    }
    let raw = span / max_ticks.clamp(1, 1000) as f64;
    let power = 10f64.powi(raw.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| *step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power);
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
    (first..=last)
        .map(|k| {
            let value = k as f64 * step;
            (value, format_number(value, decimals))
        })
        .collect()
}

/// An axis number with `decimals` decimals, never `-0`.
pub(super) fn format_number(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// `lo..hi` with `frac` of the span added at both ends; a zero span (one bar, a flat price, no
/// MACD movement) becomes 1% of the value either side, or ±1 around zero.
pub(super) fn padded(lo: f64, hi: f64, frac: f64) -> Range<f64> {
    let span = hi - lo;
    let magnitude = lo.abs().max(hi.abs());
    if span > magnitude * 1e-9 && span > 0.0 {
        let pad = span * frac;
        (lo - pad)..(hi + pad)
    } else {
        let half = if magnitude > 0.0 { magnitude * 0.01 } else { 1.0 };
        (lo - half)..(hi + half)
    }
}

/// Ticks of `range` that keep `inset` (a fraction of the span) from both ends, so that a label
/// centred on a tick stays within its panel.
pub(super) fn ticks_inside(range: &Range<f64>, max_ticks: usize, inset: f64) -> Vec<(f64, String)> {
    let span = range.end - range.start;
    let (lo, hi) = (range.start + span * inset, range.end - span * inset);
    axis_ticks(lo, hi, max_ticks)
}

/// Bar positions to label with their dates: every `step`-th bar from the first, as many as fit
/// in `plot_width` with `slot` pixels each.
pub(super) fn date_ticks(n: usize, plot_width: i32, slot: i32) -> Vec<f64> {
    let fit = (plot_width / slot.max(1)).max(1) as usize;
    let step = n.div_ceil(fit).max(1);
    (0..n).step_by(step).map(|i| i as f64).collect()
}
