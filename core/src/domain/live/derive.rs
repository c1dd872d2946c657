//! One derived bar (adjusted, then resampled) from the raw bars of its period, with the
//! arithmetic of [`BarColumns::adjusted`] and [`BarColumns::resampled`], in their order: each
//! price times its factor (FORWARD: `factor / latest` first), then the period's first open, the
//! running `max` of highs and `min` of lows, the last close and the volumes summed in order. The
//! same operations give the same bits, so a live value equals the batch one exactly.

use std::ops::RangeInclusive;

use crate::domain::date::Date;
use crate::domain::indicators::Quote;
use crate::domain::series::{Adjust, BarColumns, Frequency};

/// The key of the period `date` falls in.
pub(super) fn period(frequency: Frequency, date: Date) -> (i64, i64) {
    match frequency {
        Frequency::Daily => (date.days_since_epoch(), 0),
        Frequency::Weekly => date.iso_week(),
        Frequency::Monthly => (i64::from(date.year()), i64::from(date.month())),
    }
}

/// The bar of the raw bars `range` (one period), adjusted as asked; `latest` is the factor of the
/// last bar held (FORWARD divides by it).
pub(super) fn bar(bars: &BarColumns, range: RangeInclusive<usize>, adjust: Adjust, latest: Option<f64>) -> Quote {
    let scaled = |i: usize| -> Quote {
        let mut raw = bars.prices().quote(i);
        raw.adj_factor = bars.adj_factor.at(i).unwrap_or(f64::NAN);
        let factor = match (adjust, bars.adj_factor.at(i)) {
            (Adjust::None, _) | (_, None) => return raw,
            (Adjust::Backward, Some(f)) => f,
            (Adjust::Forward, Some(f)) => f / latest.expect("a history with factors has a latest one"),
        };
        Quote {
            open: raw.open * factor,
            high: raw.high * factor,
            low: raw.low * factor,
            close: raw.close * factor,
            volume: raw.volume,
            adj_factor: raw.adj_factor,
        }
    };
    let (start, end) = (*range.start(), *range.end());
    let mut out = scaled(start);
    for i in start + 1..=end {
        let next = scaled(i);
        out.high = out.high.max(next.high);
        out.low = out.low.min(next.low);
        out.close = next.close;
        out.volume += next.volume;
        out.adj_factor = next.adj_factor;
    }
    out
}
