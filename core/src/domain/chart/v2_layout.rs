//! Where every part of the v2 chart goes: the title, the overlays' legend, the price panel, and
//! below it one legend band and panel per panel spec, laid out with the article's chart's
//! [`Sizes`], [`Bands`] and [`Frame`] so the two charts look alike. A pure function, like
//! [`layout::plan`](super::layout); `v2_paint` draws what it says.
//!
//! Only the bottom panel has date labels; the panels above it keep their grid lines and ticks
//! at the same dates, in a frame with a label area just tall enough for the tick marks. The price
//! panel takes the larger share of the height (5 to each panel's 3, and never less than 40%).

use std::ops::Range;

use super::layout::{message, Bands, Frame, PanelRect, Plan, Sizes, XAxis};
use super::legend::{self, Key};
use super::periods::period_ticks;
use super::text;
use super::ticks::{padded, ticks_inside};
use super::v2::{Drawn, Group, SeriesLayout, Style};
use super::{ChartSize, Rect};
use crate::domain::series::{BarColumns, Frequency};

/// The plan, and what the v2 chart adds to it.
pub(super) struct V2Plan {
    pub(super) plan: Plan,
    /// The frame of the panels above the bottom one (no date labels).
    pub(super) upper: Frame,
    pub(super) date_ticks: Vec<(usize, String)>,
}

impl V2Plan {
    /// The frame panel `i` (the price panel is `None`) is drawn in.
    pub(super) fn frame(&self, i: Option<usize>) -> &Frame {
        let bottom = match i {
            None => self.plan.panels.is_empty(),
            Some(i) => i + 1 == self.plan.panels.len(),
        };
        if bottom {
            &self.plan.frame
        } else {
            &self.upper
        }
    }

    pub(super) fn summary(&self) -> SeriesLayout {
        let entries =
            |p: &PanelRect| p.legend.iter().map(|e| (e.label.text.clone(), e.bounds)).collect::<Vec<(String, Rect)>>();
        SeriesLayout {
            title: self.plan.title_box,
            price: self.plan.price.plot,
            panels: self.plan.panels.iter().map(|p| (p.name.clone(), p.plot)).collect(),
            legends: std::iter::once(&self.plan.price).chain(&self.plan.panels).map(entries).collect(),
            date_ticks: self.date_ticks.clone(),
        }
    }
}

/// A panel's values before it has pixels: its legend, value range and whether it has any value.
struct Axis {
    items: Vec<(String, Key)>,
    range: Range<f64>,
    empty: bool,
}

/// The legend items of these columns.
fn items(columns: &[Drawn<'_>]) -> Vec<(String, Key)> {
    let key = |d: &Drawn<'_>| if d.style == Style::Line { Key::Line(d.colour) } else { Key::Bars };
    columns.iter().map(|d| (d.name.clone(), key(d))).collect()
}

/// The value range of a panel's columns: bars always stand on zero.
fn panel_axis(columns: &[Drawn<'_>]) -> Axis {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for d in columns {
        if d.style != Style::Line {
            (lo, hi) = (lo.min(0.0), hi.max(0.0));
        }
        for v in d.values.iter().filter(|v| v.is_finite()) {
            (lo, hi) = (lo.min(*v), hi.max(*v));
        }
    }
    let empty = !columns.iter().any(|d| d.values.iter().any(|v| v.is_finite()));
    let range = match (empty, columns.iter().all(|d| d.style == Style::Volume)) {
        (true, _) => 0.0..1.0,
        // Volume from zero up: no room below it.
        (false, true) => 0.0..padded(lo, hi, 0.08).end,
        (false, false) => padded(lo, hi, 0.08),
    };
    Axis { items: items(columns), range, empty }
}

/// The price axis: the bars' lows to highs, and every overlay value shown.
fn price_axis(bars: &BarColumns, overlays: &[Drawn<'_>]) -> Axis {
    let finite = |v: &&f64| v.is_finite();
    let values = || bars.low.iter().chain(&bars.high).chain(overlays.iter().flat_map(|d| d.values)).filter(finite);
    let lo = values().copied().fold(f64::INFINITY, f64::min);
    let hi = values().copied().fold(f64::NEG_INFINITY, f64::max);
    Axis { items: items(overlays), range: padded(lo, hi, 0.05), empty: false }
}

/// Tick labels of large numbers (volumes) in thousands, millions or billions, with as many
/// decimals as the step needs: "250M" rather than "250000000".
fn compact(ticks: Vec<(f64, String)>) -> Vec<(f64, String)> {
    let top = ticks.iter().map(|(v, _)| v.abs()).fold(0.0, f64::max);
    let units = [(1e9, "B"), (1e6, "M"), (1e3, "K")];
    let Some((unit, suffix)) = units.into_iter().find(|(u, _)| top >= *u).filter(|_| top >= 1e4) else {
        return ticks;
    };
    let step = match &ticks[..] {
        [a, b, ..] => (b.0 - a.0) / unit,
        _ => 1.0,
    };
    let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
    ticks.into_iter().map(|(v, _)| (v, format!("{:.decimals$}{suffix}", v / unit))).collect()
}

/// The plan of the chart of `bars` (at least one) with `overlays` over the candles and `panels`
/// below them, under `title`, at `size`.
pub(super) fn plan(
    bars: &BarColumns,
    frequency: Frequency,
    title: &str,
    overlays: &[Drawn<'_>],
    panels: &[Group<'_>],
    size: ChartSize,
) -> V2Plan {
    let s = Sizes::new(size);
    let width = size.width as i32;
    let (title_labels, title_box, title_height) = super::layout::title_block(title, &s, width);
    let axes: Vec<Axis> =
        std::iter::once(price_axis(bars, overlays)).chain(panels.iter().map(|g| panel_axis(&g.columns))).collect();
    let bands = Bands { top: title_height, bottom: size.height as i32, width, frame: 2 * s.margin + s.x_label_area };
    let upper_frame = 2 * s.margin + s.tick + 1;
    let count = panels.len() as i32;
    // The price panel 5 to a panel's 3, and at least 40% of the plots: 2 to 3 for each panel.
    let weights = std::iter::once((2 * count).max(5)).chain(panels.iter().map(|_| 3));
    let frames: Vec<i32> =
        (0..axes.len()).map(|i| if i == axes.len() - 1 { bands.frame } else { upper_frame }).collect();
    let weights: Vec<i32> = weights.collect();

    let Settled { split, y_ticks, frame } = settle(&s, &bands, &axes, &weights, &frames, width);

    let n = bars.len();
    let plot_width = width - frame.left - frame.y_label_area - frame.right;
    let gap = (2 * s.gap).max(s.m.px(40.0) as i32);
    let date_ticks = period_ticks(&bars.date, frequency, plot_width, gap, s.label);
    let x_ticks: Vec<f64> = date_ticks.iter().map(|(i, _)| *i as f64).collect();
    let date_label = |x: f64| -> String {
        let at = date_ticks.iter().find(|(i, _)| (*i as f64 - x).abs() < 1e-6);
        at.map(|(_, label)| label.clone()).unwrap_or_default()
    };
    let x = XAxis { range: -0.5..(n as f64 - 0.5), ticks: &x_ticks, dates: &date_label };
    let no_dates = XAxis { range: x.range.clone(), ticks: &[], dates: &date_label };
    let upper = Frame { x_label_area: s.tick + 1, ..frame.clone() };

    let xs = [&no_dates, &x];
    let mut rects = panel_rects(&s, &axes, panels, &split, y_ticks, [&upper, &frame], xs, width);
    let price = rects.remove(0);
    let plot_width = price.plot.2 - price.plot.0;
    // As the article's chart: the body most of the space per bar, at least one pixel.
    let candle_width = ((f64::from(plot_width) / n as f64) * 0.7).floor().clamp(1.0, f64::from(s.m.px(24.0))) as u32;
    let plan = Plan {
        title: title_labels,
        title_box,
        x_range: x.range.clone(),
        x_ticks: x_ticks.clone(),
        candle_width,
        wick: frame.stroke.min((candle_width / 3).max(1)),
        frame,
        line_width: s.line_width,
        marker: s.marker,
        price,
        panels: rects,
    };
    V2Plan { plan, upper, date_ticks }
}

/// What [`settle`] settles: each panel's band and legend band, its tick labels, and the frame.
struct Settled {
    split: Vec<(Rect, Rect)>,
    y_ticks: Vec<Vec<(f64, String)>>,
    frame: Frame,
}

/// The bands, tick labels and frame of the chart's panels: legends wrap to as many rows as their
/// entries need right of the plots, whose left edge the widest tick label decides, so a second
/// pass settles it when a wider label area leaves a legend less room.
fn settle(s: &Sizes, bands: &Bands, axes: &[Axis], weights: &[i32], frames: &[i32], width: i32) -> Settled {
    let ticks = |range: &Range<f64>, plot: i32, most: usize| {
        let max_ticks = ((f64::from(plot) / (s.label * 1.8)) as usize + 1).clamp(2, most);
        compact(ticks_inside(range, max_ticks, s.label * 0.6 / f64::from(plot.max(1))))
    };
    let date_width = text::width("2000-00-00", s.label);
    let mut rows: Vec<i32> = axes.iter().map(|a| legend::row_count(width - 2 * s.side, s.legend, &a.items)).collect();
    loop {
        let spec: Vec<(i32, i32, i32)> = (0..axes.len())
            .map(|i| (weights[i], if axes[i].items.is_empty() { 0 } else { rows[i] * s.legend_height }, frames[i]))
            .collect();
        let split = bands.split_all(&spec);
        let y_ticks: Vec<Vec<(f64, String)>> = (0..axes.len())
            .map(|i| {
                let plot = split[i].0 .3 - split[i].0 .1 - frames[i];
                let most = if i == 0 { 8 } else { 6 };
                if axes[i].empty {
                    Vec::new()
                } else {
                    ticks(&axes[i].range, plot, most)
                }
            })
            .collect();
        let widest = y_ticks.iter().flatten().map(|(_, t)| text::width(t, s.label)).max().unwrap_or(0);
        let frame = s.frame(date_width, widest);
        let legend_width = width - s.side - (frame.left + frame.y_label_area);
        let needed: Vec<i32> = axes.iter().map(|a| legend::row_count(legend_width, s.legend, &a.items)).collect();
        if needed.iter().zip(&rows).all(|(n, r)| n <= r) {
            return Settled { split, y_ticks, frame };
        }
        rows = needed.iter().zip(&rows).map(|(n, r)| *n.max(r)).collect();
    }
}

/// Every panel, the price panel first: its plot and labels in its band, its legend in the band
/// above it, and the words that stand in for values it has none of. `frames` and `xs` are those
/// of the upper panels and of the bottom one.
#[allow(clippy::too_many_arguments)]
fn panel_rects(
    s: &Sizes,
    axes: &[Axis],
    panels: &[Group<'_>],
    split: &[(Rect, Rect)],
    y_ticks: Vec<Vec<(f64, String)>>,
    frames: [&Frame; 2],
    xs: [&XAxis<'_>; 2],
    width: i32,
) -> Vec<PanelRect> {
    let mut rects = Vec::with_capacity(axes.len());
    for (i, ((axis, (band, legend_band)), ticks)) in axes.iter().zip(split).zip(y_ticks).enumerate() {
        let name = if i == 0 { "price" } else { panels[i - 1].axis.as_str() };
        let bottom = usize::from(i == axes.len() - 1);
        let mut rect = frames[bottom].panel(name, *band, xs[bottom], axis.range.clone(), ticks);
        let legend_width = width - s.side - rect.plot.0;
        rect.legend = legend::rows((rect.plot.0, legend_band.1), legend_width, s.legend_height, s.legend, &axis.items);
        if axis.empty {
            let label = &panels[i - 1].label;
            let text = format!("no {label} values in this range: it ends within the warm-up {label} needs");
            rect.message = Some(message(rect.plot, &text, s.m.font(15.0, 11.0)));
        }
        rects.push(rect);
    }
    rects
}
