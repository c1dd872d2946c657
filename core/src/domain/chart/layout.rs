//! Where every part of the chart goes, worked out before anything is drawn: [`plan`] is a pure
//! function from the request (the bars, the title, the size) to a [`Plan`], and
//! [`paint`](super::paint) only draws what the plan says, where it says.
//!
//! The picture is a stack of bands: the title, the price panel, then panels below it, each with
//! an optional legend band above it (today one, the MACD panel; the v2 chart adds more). Every
//! panel shares one [`Frame`] (margins, label areas, text sizes), so their x axes line up, and
//! the panels share the height the title, legends and frames leave in proportion to their
//! weights (62 to 38 today). Text is measured with [`text::width`] and every label placed here,
//! including the date and tick labels, whose positions follow plotters' own mapping from values
//! to pixels (`paint` checks that plotters puts each plotting area where the plan does).

use std::ops::Range;

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;

use super::fit::{fit_title, wrap};
use super::legend::{self, LegendEntry};
use super::text::{self, Label};
use super::ticks::{date_ticks, padded, ticks_inside};
use super::Window;
use super::{no_macd_message, ChartSize, Layout, Rect};
use crate::domain::macd::MacdPoint;

/// Sizes in pixels for a chart size: everything scales with the smaller side of the 1280x800
/// design, so a small chart keeps its proportions and a large one stays readable; text never
/// gets smaller than a legible minimum.
pub(super) struct Metrics {
    scale: f64,
}

impl Metrics {
    pub(super) fn new(size: ChartSize) -> Metrics {
        Metrics { scale: (f64::from(size.width) / 1280.0).min(f64::from(size.height) / 800.0) }
    }

    /// `v` pixels of the 1280x800 design, at this size.
    pub(super) fn px(&self, v: f64) -> u32 {
        ((v * self.scale).round() as u32).max(1)
    }

    /// A font size, in whole pixels: `design` at 1280x800, scaled, and at least `min`.
    pub(super) fn font(&self, design: f64, min: f64) -> f64 {
        (design * self.scale).max(min).round()
    }
}

/// One panel: a band of the picture with a value axis over the bars' x positions.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PanelRect {
    /// The axis title, at the left: "price", "MACD".
    pub(super) name: String,
    /// The whole band: margins, label areas and the plotting area.
    pub(super) area: Rect,
    /// The plotting area, as plotters' `ChartBuilder` makes it from `area` and the [`Frame`].
    pub(super) plot: Rect,
    pub(super) y_range: Range<f64>,
    pub(super) y_ticks: Vec<(f64, String)>,
    /// Date labels under the plot, tick labels at its left, and the axis title, in that order.
    pub(super) labels: Vec<Label>,
    /// The box around the date labels.
    pub(super) dates: Rect,
    /// The legend, in a band of its own above the panel so it never hides data.
    pub(super) legend: Vec<LegendEntry>,
    /// Words that stand in the plot instead of values, and their box.
    pub(super) message: Option<(Vec<Label>, Rect)>,
}

/// What every panel shares: margins, label areas and text sizes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Frame {
    pub(super) left: i32,
    pub(super) right: i32,
    pub(super) margin: i32,
    pub(super) x_label_area: i32,
    /// The axis title, a gap and the widest tick label.
    pub(super) y_label_area: i32,
    pub(super) tick: i32,
    pub(super) label: f64,
    pub(super) desc: f64,
    /// The width of grid lines and axes.
    pub(super) stroke: u32,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub(super) title: Vec<Label>,
    pub(super) title_box: Rect,
    pub(super) frame: Frame,
    /// Bar `i` is at `x = i`; the axis runs half a bar past the first and the last.
    pub(super) x_range: Range<f64>,
    /// The bars labelled with their dates.
    pub(super) x_ticks: Vec<f64>,
    /// Candle body width (also the histogram bars'), and the wicks'.
    pub(super) candle_width: u32,
    pub(super) wick: u32,
    /// Series lines; a series of one value is a disc of radius `marker` instead.
    pub(super) line_width: u32,
    pub(super) marker: i32,
    pub(super) price: PanelRect,
    /// The panels below the price panel, top to bottom: today the MACD panel.
    pub(super) panels: Vec<PanelRect>,
}

impl Plan {
    /// The parts' boxes, as [`render_rgb`](super::render_rgb) reports them.
    pub(super) fn summary(&self) -> Layout {
        let macd = &self.panels[0];
        let mut legend = [(0, 0, 0, 0); 3];
        for (entry, bounds) in macd.legend.iter().zip(&mut legend) {
            *bounds = entry.bounds;
        }
        Layout {
            price: self.price.plot,
            macd: macd.plot,
            title: self.title_box,
            legend,
            price_dates: self.price.dates,
            message: macd.message.as_ref().map(|(_, bounds)| *bounds),
        }
    }
}

/// The MACD values of `window` with their x positions; the warm-up has none.
pub(super) fn macd_points(window: &Window<'_>) -> Vec<(f64, MacdPoint)> {
    window.macd.iter().enumerate().filter_map(|(i, p)| p.map(|p| (i as f64, p))).collect()
}

/// The sizes of the chart's parts, in pixels, at one chart size.
pub(super) struct Sizes {
    pub(super) m: Metrics,
    /// Tick and date labels, and the gap between a label and what it labels.
    pub(super) label: f64,
    pub(super) gap: i32,
    pub(super) tick: i32,
    /// The least room left and right of the title and the legend.
    pub(super) side: i32,
    pub(super) margin: i32,
    pub(super) x_label_area: i32,
    pub(super) legend: f64,
    pub(super) legend_height: i32,
    /// The axis titles, "price" and "MACD".
    pub(super) desc: f64,
    pub(super) line_width: u32,
    /// One value makes no line: a disc for each of DIF and DEA instead, this big.
    pub(super) marker: i32,
}

impl Sizes {
    pub(super) fn new(size: ChartSize) -> Sizes {
        let m = Metrics::new(size);
        let label = m.font(13.0, 11.0);
        let gap = (label * 0.5).round() as i32;
        let tick = m.px(5.0).max(3) as i32;
        let legend = m.font(13.0, 11.0);
        let line_width = m.px(2.0);
        Sizes {
            label,
            gap,
            tick,
            side: (m.px(16.0) as i32).max(gap),
            margin: m.px(6.0) as i32,
            // Date labels hang 2 ticks below the axis; digits have no descent.
            x_label_area: 2 * tick + (label * text::Face::Latin.ascent_fraction()).ceil() as i32 + 2,
            legend,
            legend_height: (legend * 1.8).round() as i32,
            desc: m.font(14.0, 11.0),
            line_width,
            marker: (4 * line_width).max(5) as i32,
            m,
        }
    }

    /// The frame every panel shares: its y label area holds the axis title, a gap and the
    /// widest tick label of any panel, and its right margin half the last date label.
    pub(super) fn frame(&self, date_width: i32, widest: i32) -> Frame {
        Frame {
            left: self.m.px(10.0) as i32,
            right: (self.m.px(16.0) as i32).max(date_width / 2 + self.gap),
            margin: self.margin,
            x_label_area: self.x_label_area,
            y_label_area: self.desc.round() as i32 + self.gap + widest + 2 * self.tick,
            tick: self.tick,
            label: self.label,
            desc: self.desc,
            stroke: self.m.px(1.0),
        }
    }
}

/// The plan of the chart of `window` under `title` at `size`; `window` has at least one bar.
pub(super) fn plan(window: &Window<'_>, title: &str, size: ChartSize) -> Plan {
    let s = Sizes::new(size);
    let (width, height) = (size.width as i32, size.height as i32);
    let (title_labels, title_box, title_height) = title_block(title, &s, width);

    // Bands: the price panel, the legend, the MACD panel; the plots share what the labels, the
    // legend and the margins leave, 62 to 38.
    let bands = Bands { top: title_height, bottom: height, width, frame: 2 * s.margin + s.x_label_area };
    let [(price_area, _), (macd_area, macd_legend)] = bands.split([(62, 0), (38, s.legend_height)]);
    let plot_height = |area: Rect| area.3 - area.1 - bands.frame;
    // Tick labels at least 1.8 line heights apart, and never closer than 0.6 of one to the
    // panel's top or bottom, where they would meet the date labels or the legend.
    let ticks = |range: &Range<f64>, plot: i32, most: usize| {
        let max_ticks = ((f64::from(plot) / (s.label * 1.8)) as usize + 1).clamp(2, most);
        ticks_inside(range, max_ticks, s.label * 0.6 / f64::from(plot.max(1)))
    };
    let low = window.bars.iter().map(|b| b.low).fold(f64::INFINITY, f64::min);
    let high = window.bars.iter().map(|b| b.high).fold(f64::NEG_INFINITY, f64::max);
    let price_range = padded(low, high, 0.05);
    let price_ticks = ticks(&price_range, plot_height(price_area), 8);
    let macd_plot = plot_height(macd_area);
    let (macd_range, macd_ticks) = macd_axis(window, macd_plot, s.marker, |range| ticks(range, macd_plot, 6));

    // Both panels share their margins and label areas, so their x axes line up.
    let n = window.bars.len();
    let date_width = text::width(&window.bars.get(0).date.to_string(), s.label);
    let widest = price_ticks.iter().chain(&macd_ticks).map(|(_, t)| text::width(t, s.label)).max().unwrap_or(0);
    let frame = s.frame(date_width, widest);
    let plot_width = width - frame.left - frame.y_label_area - frame.right;
    let x_ticks = date_ticks(n, plot_width, date_width + (2 * s.gap).max(s.m.px(70.0) as i32));
    let date_label = |x: f64| -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= n {
            return String::new();
        }
        window.bars.dates()[i as usize].to_string()
    };
    let x = XAxis { range: -0.5..(n as f64 - 0.5), ticks: &x_ticks, dates: &date_label };

    let price = frame.panel("price", price_area, &x, price_range, price_ticks);
    let mut macd = frame.panel("MACD", macd_area, &x, macd_range, macd_ticks);
    macd.legend = legend::macd((macd.plot.0, macd_legend.1, width - s.side, macd_legend.3), s.legend);
    macd.message = no_macd_message(window).map(|text| message(macd.plot, &text, s.m.font(15.0, 11.0)));

    let plot_width = price.plot.2 - price.plot.0;
    // Candle body width: most of the space per bar, at least one pixel.
    let candle_width = ((f64::from(plot_width) / n as f64) * 0.7).floor().clamp(1.0, f64::from(s.m.px(24.0))) as u32;
    Plan {
        title: title_labels,
        title_box,
        x_range: x.range,
        x_ticks,
        candle_width,
        // Wicks as wide as the grid lines, but never wider than a third of the body.
        wick: frame.stroke.min((candle_width / 3).max(1)),
        frame,
        line_width: s.line_width,
        marker: s.marker,
        price,
        panels: vec![macd],
    }
}

/// The title, centred on top and fitted to the width: its lines, their box, and the height of
/// the band they take.
pub(super) fn title_block(title: &str, s: &Sizes, width: i32) -> (Vec<Label>, Rect, i32) {
    let title_size = s.m.font(20.0, 12.0);
    let fitted = fit_title(title, width - 2 * s.side, title_size, (title_size * 0.75).max(12.0).min(title_size));
    let line_height = (fitted.size * 1.25).round() as i32;
    let title_pad = (fitted.size * 0.4).round() as i32;
    let band = 2 * title_pad + line_height * fitted.lines.len() as i32;
    // Every title has a line, so the box is theirs alone.
    let mut bounds = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    let mut labels = Vec::with_capacity(fitted.lines.len());
    for (i, line) in fitted.lines.into_iter().enumerate() {
        let top = title_pad + i as i32 * line_height + (line_height - fitted.size.round() as i32) / 2;
        let left = (width - text::width(&line, fitted.size)) / 2;
        let label = Label::new(line, fitted.size, (left, top));
        bounds = union(bounds, label.bounds());
        labels.push(label);
    }
    (labels, bounds, band)
}

/// The bands of the picture below the title, from `top` to `bottom`, `width` wide.
pub(super) struct Bands {
    pub(super) top: i32,
    pub(super) bottom: i32,
    pub(super) width: i32,
    /// Each panel's height beyond its plot: two margins and the date labels.
    pub(super) frame: i32,
}

impl Bands {
    /// Splits the bands among panels of the given (weight, legend height above it): each gets
    /// its frame and its share of what legends and frames leave, the last what remains. Returns
    /// each panel's band and its legend's band.
    fn split<const N: usize>(&self, panels: [(i32, i32); N]) -> [(Rect, Rect); N] {
        let bands = self.split_all(&panels.map(|(weight, legend)| (weight, legend, self.frame)));
        std::array::from_fn(|i| bands[i])
    }

    /// [`split`](Self::split) for any number of panels, each with its own frame height (a panel
    /// without date labels needs less): (weight, legend height, frame height) each.
    pub(super) fn split_all(&self, panels: &[(i32, i32, i32)]) -> Vec<(Rect, Rect)> {
        let legends: i32 = panels.iter().map(|(_, legend, _)| legend).sum();
        let weights: i32 = panels.iter().map(|(weight, _, _)| weight).sum();
        let frames: i32 = panels.iter().map(|(_, _, frame)| frame).sum();
        let plots = (self.bottom - self.top - legends - frames).max(2);
        let mut top = self.top;
        let last = panels.len().saturating_sub(1);
        let mut out = Vec::with_capacity(panels.len());
        for (i, &(weight, legend, frame)) in panels.iter().enumerate() {
            let legend_band = (0, top, self.width, top + legend);
            top += legend;
            let height = if i == last { self.bottom - top } else { plots * weight / weights.max(1) + frame };
            let band = (0, top, self.width, top + height);
            top += height;
            out.push((band, legend_band));
        }
        out
    }
}

/// The MACD axis for a plot `plot` pixels high: its range and ticks, from `ticks`; none when the
/// window has no MACD value (a message stands there instead).
fn macd_axis(
    window: &Window<'_>,
    plot: i32,
    marker: i32,
    ticks: impl Fn(&Range<f64>) -> Vec<(f64, String)>,
) -> (Range<f64>, Vec<(f64, String)>) {
    let points = macd_points(window);
    if points.is_empty() {
        return (0.0..1.0, Vec::new());
    }
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (_, p) in &points {
        for v in [p.dif, p.dea, p.macd] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let mut range = padded(lo, hi, 0.08);
    if points.len() == 1 {
        // Room for the discs at both ends of the axis.
        let room = f64::from(marker + 2);
        let span = range.end - range.start;
        let extra = span * room / (f64::from(plot) - 2.0 * room).max(room);
        range = (range.start - extra)..(range.end + extra);
    }
    let ticks = ticks(&range);
    (range, ticks)
}

/// The x axis every panel shares.
pub(super) struct XAxis<'a> {
    pub(super) range: Range<f64>,
    pub(super) ticks: &'a [f64],
    /// The date label at an x position: the bar's date, or nothing between bars.
    pub(super) dates: &'a dyn Fn(f64) -> String,
}

impl Frame {
    /// The panel in band `area`: its plotting area, where plotters' `ChartBuilder` puts it with
    /// these margins and label areas, and its labels: dates below, the tick labels and the axis
    /// title at the left.
    pub(super) fn panel(
        &self,
        name: &str,
        area: Rect,
        x: &XAxis<'_>,
        y_range: Range<f64>,
        y_ticks: Vec<(f64, String)>,
    ) -> PanelRect {
        let plot = (
            area.0 + self.left + self.y_label_area,
            area.1 + self.margin,
            area.2 - self.right,
            area.3 - self.margin - self.x_label_area,
        );
        // plotters maps the axes onto the plot's first to last pixel, y upwards.
        let x_map = RangedCoordf64::from(x.range.clone());
        let y_map = RangedCoordf64::from(y_range.clone());
        let mut labels = Vec::with_capacity(x.ticks.len() + y_ticks.len() + 1);
        let mut dates = (plot.2, plot.3, plot.0, plot.3);
        for value in x.ticks {
            let date = (x.dates)(*value);
            let centre = x_map.map(value, (plot.0, plot.2 - 1));
            let left = (centre - text::width(&date, self.label) / 2).max(0);
            let label = Label::new(date, self.label, (left, plot.3 + 2 * self.tick));
            dates = union(dates, label.bounds());
            labels.push(label);
        }
        // A number's digits are centred on its tick.
        let half_digit = (self.label * 0.48).round() as i32;
        for (value, text) in &y_ticks {
            let middle = y_map.map(value, (plot.3 - 1, plot.1));
            let left = plot.0 - 2 * self.tick - text::width(text, self.label);
            labels.push(Label::new(text.clone(), self.label, (left, middle - half_digit)));
        }
        let bottom = (plot.1 + plot.3 + text::width(name, self.desc)) / 2;
        labels.push(Label { upwards: true, ..Label::new(name, self.desc, (plot.0 - self.y_label_area, bottom)) });
        PanelRect {
            name: name.to_string(),
            area,
            plot,
            y_range,
            y_ticks,
            labels,
            dates,
            legend: Vec::new(),
            message: None,
        }
    }
}

/// `message` centred in the plotting area `plot`: what comes before its first colon on a line
/// of its own, the rest wrapped to the width. Its lines and their box.
pub(super) fn message(plot: Rect, message: &str, size: f64) -> (Vec<Label>, Rect) {
    let width = plot.2 - plot.0 - 2 * (size.round() as i32);
    let mut lines = Vec::new();
    let (head, rest) = message.split_once(": ").unwrap_or((message, ""));
    lines.push(head.to_string());
    lines.extend(wrap(rest, width, size));
    let line_height = (size * 1.3).round() as i32;
    let block = line_height * lines.len() as i32;
    let mut top = (plot.1 + plot.3 - block) / 2;
    let mut bounds = (plot.2, plot.3, plot.0, plot.1);
    let mut labels = Vec::with_capacity(lines.len());
    for line in lines {
        let left = (plot.0 + plot.2 - text::width(&line, size)) / 2;
        let label = Label::new(line, size, (left, top));
        bounds = union(bounds, label.bounds());
        labels.push(label);
        top += line_height;
    }
    (labels, bounds)
}

/// The smallest rectangle around both.
pub(super) fn union(a: Rect, b: Rect) -> Rect {
    (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analysis::Analysis;
    use crate::domain::date::{Date, DateRange};
    use crate::domain::macd::{Convention, MacdParams};
    use crate::domain::sample;

    #[test]
    fn the_bands_tile_the_picture_from_the_title_down() {
        text::load_fonts();
        let analysis =
            Analysis::new(sample::INSTRUMENT, sample::bars().unwrap(), MacdParams::default(), Convention::Cn).unwrap();
        let window = analysis.window(DateRange { start: Date::new(2018, 1, 1), end: Date::new(2018, 12, 31) });
        for (width, height) in [(320, 240), (1280, 800), (1921, 241), (8192, 8192)] {
            let size = ChartSize { width, height };
            let plan = plan(&window, &analysis.title(window), size);
            assert_eq!(plan, super::plan(&window, &analysis.title(window), size), "the same request, the same plan");
            let [macd] = &plan.panels[..] else { panic!("one panel below the price panel") };
            let legend_top = macd.legend.iter().map(|e| e.bounds.1).min().unwrap();
            // Title, price panel, legend band, MACD panel: in that order, edge to edge.
            assert!(plan.title_box.3 <= plan.price.area.1, "{size}: {plan:?}");
            assert!(plan.price.area.3 <= legend_top && legend_top < macd.area.1, "{size}");
            assert_eq!(macd.area.3, height as i32, "{size}: the last panel reaches the bottom");
            for panel in [&plan.price, macd] {
                let (area, plot) = (panel.area, panel.plot);
                assert!(area.0 < plot.0 && plot.2 < area.2 && area.1 < plot.1 && plot.3 < area.3, "{size}: {panel:?}");
                assert_eq!(panel.dates.3, plot.3 + 2 * plan.frame.tick + plan.frame.label.round() as i32);
            }
            // Both panels share the x axis, so their plots line up.
            assert_eq!((plan.price.plot.0, plan.price.plot.2), (macd.plot.0, macd.plot.2), "{size}");
        }
    }
}
