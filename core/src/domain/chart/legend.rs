//! Legends: each entry a swatch (a line sample, or a histogram's two bars) and the series'
//! name, placed by measured widths in a band of their own above a panel, so a legend never hides
//! data. Pure placement, like [`layout`](super::layout), which puts the bands.

use plotters::style::RGBColor;

use super::text::{self, Label};
use super::{palette, Rect};

/// What a legend entry shows before its name.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Swatch {
    /// A short line in the series' colour.
    Line { from: (i32, i32), to: (i32, i32), colour: RGBColor },
    /// A histogram's sample: a rising bar and a shorter falling one.
    Bars { rising: Rect, falling: Rect },
}

/// One entry of a legend: its swatch, its name, and the box around both.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LegendEntry {
    pub(super) swatch: Swatch,
    pub(super) label: Label,
    pub(super) bounds: Rect,
}

/// The key of the MACD panel in `band`: DIF and DEA as line samples, the histogram as a red and
/// a green bar, each followed by its name; entries are placed by their measured widths. Where
/// they do not fit, the histogram's name shortens to "MACD" and then the text shrinks.
pub(super) fn macd(band: Rect, size: f64) -> Vec<LegendEntry> {
    let (left, top, right, bottom) = band;
    let available = right - left;
    let layout = |size: f64, histogram: &'static str| {
        let sample = (size * 1.3).round() as i32;
        let bar = ((size * 0.25).round() as i32).max(2);
        let bar_gap = ((size * 0.12).round() as i32).max(1);
        let entries = [("DIF", sample), ("DEA", sample), (histogram, 2 * bar + bar_gap)];
        let inner = (size * 0.35).round() as i32;
        let spacing = (size * 1.1).round() as i32;
        let widths = entries.map(|(label, sample)| sample + inner + text::width(label, size));
        let total = widths.iter().sum::<i32>() + 2 * spacing;
        (entries, widths, total, inner, spacing, bar, bar_gap)
    };
    let mut size = size;
    let mut histogram = "MACD histogram";
    if layout(size, histogram).2 > available {
        histogram = "MACD";
    }
    let total = layout(size, histogram).2;
    if total > available {
        size = (size * f64::from(available) / f64::from(total)).floor().max(1.0);
    }
    let (entries, widths, _, inner, spacing, bar, bar_gap) = layout(size, histogram);

    let box_top = top + (bottom - top - size.round() as i32) / 2;
    let baseline = box_top + (size * text::Face::Latin.ascent_fraction()).round() as i32;
    let middle = baseline - (size * 0.25).round() as i32;
    let mut x = left;
    let mut out = Vec::with_capacity(entries.len());
    for (i, ((name, sample), entry_width)) in entries.into_iter().zip(widths).enumerate() {
        let swatch = match i {
            0 | 1 => {
                let colour = if i == 0 { palette::DIF } else { palette::DEA };
                Swatch::Line { from: (x, middle), to: (x + sample, middle), colour }
            }
            _ => {
                let tall = baseline - (size * 0.6).round() as i32;
                let short = baseline - (size * 0.35).round() as i32;
                let x2 = x + bar + bar_gap;
                Swatch::Bars { rising: (x, tall, x + bar, baseline), falling: (x2, short, x2 + bar, baseline) }
            }
        };
        let label = Label::new(name, size, (x + sample + inner, box_top));
        let label_box = label.bounds();
        out.push(LegendEntry { swatch, label, bounds: (x, box_top, label_box.2.max(x + entry_width), label_box.3) });
        x += entry_width + spacing;
    }
    out
}

/// What a legend entry of the v2 chart shows before its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Key {
    /// A line in this colour.
    Line(RGBColor),
    /// Bars, red and green (a histogram, volume).
    Bars,
}

/// Where each of `items` goes when they flow left to right in rows `width` wide at `size`:
/// (row, x from the row's start, sample width) each. An entry wider than a row gets one alone.
fn flow(width: i32, size: f64, items: &[(String, Key)]) -> Vec<(i32, i32, i32)> {
    let (sample, bars) = ((size * 1.3).round() as i32, bar_sizes(size));
    let inner = (size * 0.35).round() as i32;
    let spacing = (size * 1.1).round() as i32;
    let (mut row, mut x) = (0, 0);
    let mut out = Vec::with_capacity(items.len());
    for (name, key) in items {
        let sample = match key {
            Key::Line(_) => sample,
            Key::Bars => 2 * bars.0 + bars.1,
        };
        let entry = sample + inner + text::width(name, size);
        if x > 0 && x + entry > width {
            row += 1;
            x = 0;
        }
        out.push((row, x, sample));
        x += entry + spacing;
    }
    out
}

/// A histogram sample's bar width and the gap between its two bars, as [`macd`] draws them.
fn bar_sizes(size: f64) -> (i32, i32) {
    (((size * 0.25).round() as i32).max(2), ((size * 0.12).round() as i32).max(1))
}

/// How many rows `items` take in `width` pixels at `size` (at least one).
pub(super) fn row_count(width: i32, size: f64, items: &[(String, Key)]) -> i32 {
    flow(width, size, items).last().map_or(1, |&(row, _, _)| row + 1)
}

/// The entries of `items` placed in rows of `row_height` from `(left, top)`, within `width`
/// pixels, in the order given: a line sample or the two bars, then the name.
pub(super) fn rows(
    (left, top): (i32, i32),
    width: i32,
    row_height: i32,
    size: f64,
    items: &[(String, Key)],
) -> Vec<LegendEntry> {
    let inner = (size * 0.35).round() as i32;
    let (bar, bar_gap) = bar_sizes(size);
    let mut out = Vec::with_capacity(items.len());
    for ((name, key), (row, offset, sample)) in items.iter().zip(flow(width, size, items)) {
        let box_top = top + row * row_height + (row_height - size.round() as i32) / 2;
        let baseline = box_top + (size * text::Face::Latin.ascent_fraction()).round() as i32;
        let x = left + offset;
        let swatch = match key {
            Key::Line(colour) => {
                let middle = baseline - (size * 0.25).round() as i32;
                Swatch::Line { from: (x, middle), to: (x + sample, middle), colour: *colour }
            }
            Key::Bars => {
                let tall = baseline - (size * 0.6).round() as i32;
                let short = baseline - (size * 0.35).round() as i32;
                let x2 = x + bar + bar_gap;
                Swatch::Bars { rising: (x, tall, x + bar, baseline), falling: (x2, short, x2 + bar, baseline) }
            }
        };
        let label = Label::new(name.clone(), size, (x + sample + inner, box_top));
        let label_box = label.bounds();
        out.push(LegendEntry { swatch, label, bounds: (x, box_top, label_box.2, label_box.3) });
    }
    out
}
