//! The MACD chart: candlesticks over a date axis, and below them DIF, DEA and the histogram.
//!
//! Drawn with `plotters` into an in-memory RGB buffer and encoded as PNG with the `image` crate;
//! nothing touches the file system or the machine's fonts. Text is drawn through plotters'
//! `ab_glyph` backend with two fonts embedded in the binary (`assets/fonts/`): DejaVu Sans
//! (Bitstream Vera licence) for every character it has, and a subset of Droid Sans Fallback
//! (Apache-2.0, every character of GB2312 and Big5) for Chinese, so that an instrument named
//! `贵州茅台 600519.SH` reads as it should. Text is laid out here, glyph by glyph, each in the
//! first font that has it, on a common baseline and em (see [`text`]). A container without any
//! fonts renders the same picture, and the same input always gives the same bytes.
//!
//! Sizes follow the chart: text and every distance scale with the smaller side of the 1280x800
//! design, text never below a legible minimum, and the title, the axis label areas and the legend
//! are laid out from measured text widths, so nothing overlaps from 320x240 to 8192x8192.
//!
//! Colours follow the A-share convention of the `cn` default: a rising candle or a positive
//! histogram bar is red, a falling one green.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontDesc, FontFamily, FontStyle};

use super::analysis::{Analysis, Window};
use super::date::DateRange;
use super::macd::{Convention, MacdPoint};

/// Chart size in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartSize {
    pub width: u32,
    pub height: u32,
}

impl Default for ChartSize {
    fn default() -> Self {
        ChartSize { width: 1280, height: 800 }
    }
}

impl ChartSize {
    /// The smallest chart that still has room for its labels.
    pub const MIN: ChartSize = ChartSize { width: 320, height: 240 };
    /// The largest chart served: 201 MB of pixels in memory while it is drawn, on one of the
    /// blocking threads (so `--blocking-threads` bounds how many such buffers exist at once).
    pub const MAX: ChartSize = ChartSize { width: 8192, height: 8192 };
}

impl std::str::FromStr for ChartSize {
    type Err = String;

    /// `WIDTHxHEIGHT`, e.g. `1280x800`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            format!(
                "{text:?} is not a chart size: use WIDTHxHEIGHT in pixels, from {}x{} to {}x{}, e.g. 1280x800",
                Self::MIN.width,
                Self::MIN.height,
                Self::MAX.width,
                Self::MAX.height
            )
        };
        let (w, h) = text.split_once(['x', 'X']).ok_or_else(invalid)?;
        let (width, height): (u32, u32) = (w.parse().map_err(|_| invalid())?, h.parse().map_err(|_| invalid())?);
        let fits = (Self::MIN.width..=Self::MAX.width).contains(&width)
            && (Self::MIN.height..=Self::MAX.height).contains(&height);
        if fits {
            Ok(ChartSize { width, height })
        } else {
            Err(invalid())
        }
    }
}

impl std::fmt::Display for ChartSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// The colours of the chart; the chart tests look for them.
pub mod palette {
    use plotters::style::RGBColor;

    pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
    pub const RISING: RGBColor = RGBColor(214, 39, 40);
    pub const FALLING: RGBColor = RGBColor(26, 150, 65);
    pub const DIF: RGBColor = RGBColor(31, 91, 200);
    pub const DEA: RGBColor = RGBColor(245, 150, 0);
    pub const GRID: RGBColor = RGBColor(232, 232, 232);
    pub const AXIS: RGBColor = RGBColor(90, 90, 90);
    pub const TEXT: RGBColor = RGBColor(20, 20, 20);
}

/// A rectangle in pixels: (left, top, right, bottom), the right and bottom edges excluded.
pub type Rect = (i32, i32, i32, i32);

/// Where the chart put its parts, in pixels of the whole picture (for tests and callers that
/// annotate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Plotting area of the price panel.
    pub price: Rect,
    /// Plotting area of the MACD panel.
    pub macd: Rect,
    /// The title's text, all its lines.
    pub title: Rect,
    /// The legend's entries, DIF, DEA and the histogram, each its sample and its label.
    pub legend: [Rect; 3],
    /// The price panel's date labels, all of them.
    pub price_dates: Rect,
    /// The words that stand in the MACD panel when the range has no MACD value yet.
    pub message: Option<Rect>,
}

/// Why no chart could be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("there are no bars to chart")]
    Empty,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// The chart of `analysis` over `range`, as PNG bytes; [`ChartError::Empty`] when the range has
/// no bars.
pub fn render(analysis: &Analysis, range: DateRange, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    let window = analysis.window(range);
    render_png(window, &analysis.title(window), size)
}

/// The chart of the last `count` bars of `analysis`.
pub fn render_recent(analysis: &Analysis, count: usize, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    let window = analysis.last_bars(count);
    render_png(window, &analysis.title(window), size)
}

/// Draws the chart of `window` and returns it as PNG bytes.
pub fn render_png(window: Window<'_>, title: &str, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    let (pixels, _) = render_rgb(window, title, size)?;
    encode_png(&pixels, size)
}

/// Draws the chart into an RGB buffer of `width × height × 3` bytes.
pub fn render_rgb(window: Window<'_>, title: &str, size: ChartSize) -> Result<(Vec<u8>, Layout), ChartError> {
    if window.is_empty() {
        return Err(ChartError::Empty);
    }
    text::load_fonts();
    let mut pixels = vec![0u8; size.width as usize * size.height as usize * 3];
    let layout = {
        let root = BitMapBackend::with_buffer(&mut pixels, (size.width, size.height)).into_drawing_area();
        let layout = draw(&root, window, title, size).map_err(|e| ChartError::Draw(e.to_string()))?;
        root.present().map_err(|e| ChartError::Draw(e.to_string()))?;
        layout
    };
    Ok((pixels, layout))
}

/// PNG with a fast deflate and adaptive filtering: for a 250-bar 1280x800 chart about 1.4 ms and
/// 103 KB, where zlib's default level takes 10 ms for 46 KB and no filter gives 1.3 MB
/// (`cargo bench --bench chart` prints the whole table).
pub fn encode_png(pixels: &[u8], size: ChartSize) -> Result<Vec<u8>, ChartError> {
    let mut png = Vec::with_capacity(64 * 1024);
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive).write_image(
        pixels,
        size.width,
        size.height,
        ExtendedColorType::Rgb8,
    )?;
    Ok(png)
}

/// What the MACD panel says instead of an axis when `window` has no MACD value at all: in the
/// `talib` convention, a range that ends within the warm-up at the start of the history.
pub fn no_macd_message(window: &Window<'_>) -> Option<String> {
    if window.macd.iter().any(Option::is_some) {
        return None;
    }
    Some(match window.convention {
        Convention::Talib => format!(
            "no MACD yet: TA-Lib's convention needs {} bars of warm-up before the first value",
            window.warm_up_bars()
        ),
        Convention::Cn => "no MACD values in this range".to_string(),
    })
}

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
fn format_number(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

/// `lo..hi` with `frac` of the span added at both ends; a zero span (one bar, a flat price, no
/// MACD movement) becomes 1% of the value either side, or ±1 around zero.
fn padded(lo: f64, hi: f64, frac: f64) -> Range<f64> {
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

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The title's words between its parts: `S&P 500 · daily · MACD(12,26,9) cn · …`.
const TITLE_SEPARATOR: &str = " · ";

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    window: Window<'_>,
    title: &str,
    size: ChartSize,
) -> DrawResult<Layout>
where
    DB::ErrorType: 'static,
{
    root.fill(&palette::BACKGROUND)?;
    let m = Metrics::new(size);
    let (width, height) = (size.width as i32, size.height as i32);
    let label = m.font(13.0, 11.0);
    let gap = (label * 0.5).round() as i32;
    let tick = m.px(5.0).max(3) as i32;

    // Title, centred on top, fitted to the width.
    let title_size = m.font(20.0, 12.0);
    let side = (m.px(16.0) as i32).max(gap);
    let fitted = fit_title(title, width - 2 * side, title_size, (title_size * 0.75).max(12.0).min(title_size));
    let line_height = (fitted.size * 1.25).round() as i32;
    let title_pad = (fitted.size * 0.4).round() as i32;
    let title_height = 2 * title_pad + line_height * fitted.lines.len() as i32;
    let mut title_box = (width, height, 0, 0);
    for (i, line) in fitted.lines.iter().enumerate() {
        let top = title_pad + i as i32 * line_height + (line_height - fitted.size.round() as i32) / 2;
        let left = (width - text::width(line, fitted.size)) / 2;
        title_box = union(title_box, text::draw(root, line, fitted.size, (left, top), &palette::TEXT)?);
    }

    // Bands: the price panel, the legend, the MACD panel; the plots share what the labels, the
    // legend and the margins leave, 62 to 38.
    let margin = m.px(6.0) as i32;
    // Date labels hang 2 ticks below the axis; digits have no descent.
    let x_label_area = 2 * tick + (label * text::Face::Latin.ascent_fraction()).ceil() as i32 + 2;
    let (_, body) = root.split_vertically(title_height);
    let body_height = height - title_height;
    let legend_size = m.font(13.0, 11.0);
    let legend_height = (legend_size * 1.8).round() as i32;
    let panel_frame = 2 * margin + x_label_area;
    let plots = (body_height - legend_height - 2 * panel_frame).max(2);
    let price_height = plots * 62 / 100 + panel_frame;
    let (price_area, lower) = body.split_vertically(price_height);
    let legend_top = title_height + price_height;
    let (_, macd_area) = lower.split_vertically(legend_height);
    let macd_height = body_height - price_height - legend_height;
    let (price_plot, macd_plot) = (price_height - panel_frame, macd_height - panel_frame);
    // Tick labels at least 1.8 line heights apart, and never closer than 0.6 of one to the
    // panel's top or bottom, where they would meet the date labels or the legend.
    let max_ticks = |plot: i32, most: usize| ((f64::from(plot) / (label * 1.8)) as usize + 1).clamp(2, most);
    let inset = |plot: i32| label * 0.6 / f64::from(plot.max(1));

    // Price panel range and ticks.
    let low = window.bars.iter().map(|b| b.low).fold(f64::INFINITY, f64::min);
    let high = window.bars.iter().map(|b| b.high).fold(f64::NEG_INFINITY, f64::max);
    let price_range = padded(low, high, 0.05);
    let price_ticks = ticks_inside(&price_range, max_ticks(price_plot, 8), inset(price_plot));

    // MACD values, or the message that stands for them.
    let points: Vec<(f64, MacdPoint)> =
        window.macd.iter().enumerate().filter_map(|(i, p)| p.map(|p| (i as f64, p))).collect();
    let message = no_macd_message(&window);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (_, p) in &points {
        for v in [p.dif, p.dea, p.macd] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let line_width = m.px(2.0);
    // One value makes no line: a disc for each of DIF and DEA instead.
    let marker = (4 * line_width).max(5) as i32;
    let (macd_range, macd_ticks) = if message.is_some() {
        (0.0..1.0, Vec::new())
    } else {
        let mut range = padded(lo, hi, 0.08);
        if points.len() == 1 {
            // Room for the discs at both ends of the axis.
            let room = f64::from(marker + 2);
            let span = range.end - range.start;
            let extra = span * room / (f64::from(macd_plot) - 2.0 * room).max(room);
            range = (range.start - extra)..(range.end + extra);
        }
        let ticks = ticks_inside(&range, max_ticks(macd_plot, 6), inset(macd_plot));
        (range, ticks)
    };

    // Both panels share their margins and label areas, so their x axes line up: the y label
    // area holds the axis title, a gap and the widest tick label of either panel.
    let n = window.bars.len();
    let date_width = text::width(&window.bars[0].date.to_string(), label);
    let desc = m.font(14.0, 11.0);
    let widest = price_ticks.iter().chain(&macd_ticks).map(|(_, t)| text::width(t, label)).max().unwrap_or(0);
    let stroke = m.px(1.0);
    let frame = Frame {
        left: m.px(10.0) as i32,
        right: (m.px(16.0) as i32).max(date_width / 2 + gap),
        margin,
        x_label_area,
        y_label_area: desc.round() as i32 + gap + widest + 2 * tick,
        tick,
        label,
        desc,
        stroke,
    };
    let plot_width = width - frame.left - frame.y_label_area - frame.right;
    let x_ticks = date_ticks(n, plot_width, date_width + (2 * gap).max(m.px(70.0) as i32));
    let date_label = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= n {
            return String::new();
        }
        window.bars[i as usize].date.to_string()
    };
    let x_range = -0.5..(n as f64 - 0.5);

    let mut price = frame.panel(&price_area, x_range.clone(), &x_ticks, price_range, &price_ticks)?;
    let price_dates = frame.mesh(root, &mut price, &date_label, &x_ticks, "price", &price_ticks)?;
    let price_box = area(&price);
    let plot_width = price_box.2 - price_box.0;
    // Candle body width: most of the space per bar, at least one pixel.
    let candle_width = ((f64::from(plot_width) / n as f64) * 0.7).floor().clamp(1.0, f64::from(m.px(24.0))) as u32;
    // Wicks as wide as the grid lines, but never wider than a third of the body.
    let wick = stroke.min((candle_width / 3).max(1));
    price.draw_series(window.bars.iter().enumerate().map(|(i, bar)| {
        CandleStick::new(
            i as f64,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            palette::RISING.filled().stroke_width(wick),
            palette::FALLING.filled().stroke_width(wick),
            candle_width,
        )
    }))?;

    // Legend, in a band of its own above the MACD plot so it never hides data.
    let legend = draw_legend(root, (price_box.0, legend_top, width - side, legend_height), legend_size, line_width)?;

    // MACD panel: histogram first, so the lines are drawn over it.
    let mut macd = frame.panel(&macd_area, x_range, &x_ticks, macd_range, &macd_ticks)?;
    frame.mesh(root, &mut macd, &date_label, &x_ticks, "MACD", &macd_ticks)?;
    let macd_box = area(&macd);
    let message_box = match &message {
        Some(message) => Some(draw_message(root, macd_box, message, m.font(15.0, 11.0))?),
        None => {
            // As wide as a candle body, in bar units.
            let half_bar = f64::from(candle_width) / 2.0 * n as f64 / f64::from(plot_width);
            macd.draw_series(points.iter().map(|&(x, p)| {
                let colour = if p.macd >= 0.0 { palette::RISING } else { palette::FALLING };
                Rectangle::new([(x - half_bar, 0.0), (x + half_bar, p.macd)], colour.filled())
            }))?;
            macd.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
                palette::AXIS.stroke_width(stroke),
            )))?;
            if let [(x, p)] = points[..] {
                // A disc for each, DIF smaller where it would hide DEA, so both colours show
                // even when the two values are equal.
                let radius = marker;
                let (dif, dea) = (macd.backend_coord(&(x, p.dif)), macd.backend_coord(&(x, p.dea)));
                let apart = (dif.1 - dea.1).abs() >= 2 * radius;
                let dif_radius = if apart { radius } else { (radius * 3 / 5).max(2) };
                macd.draw_series([
                    Circle::new((x, p.dea), radius, palette::DEA.filled()),
                    Circle::new((x, p.dif), dif_radius, palette::DIF.filled()),
                ])?;
            } else {
                let dif = points.iter().map(|&(x, p)| (x, p.dif));
                macd.draw_series(LineSeries::new(dif, palette::DIF.stroke_width(line_width)))?;
                let dea = points.iter().map(|&(x, p)| (x, p.dea));
                macd.draw_series(LineSeries::new(dea, palette::DEA.stroke_width(line_width)))?;
            }
            None
        }
    };

    Ok(Layout { price: price_box, macd: macd_box, title: title_box, legend, price_dates, message: message_box })
}

fn area<DB: DrawingBackend>(chart: &Panel<'_, DB>) -> Rect {
    let (x, y) = chart.plotting_area().get_pixel_range();
    (x.start, y.start, x.end, y.end)
}

/// The smallest rectangle around both.
fn union(a: Rect, b: Rect) -> Rect {
    (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3))
}

/// Ticks of `range` that keep `inset` (a fraction of the span) from both ends, so that a label
/// centred on a tick stays within its panel.
fn ticks_inside(range: &Range<f64>, max_ticks: usize, inset: f64) -> Vec<(f64, String)> {
    let span = range.end - range.start;
    let (lo, hi) = (range.start + span * inset, range.end - span * inset);
    axis_ticks(lo, hi, max_ticks)
}

/// Bar positions to label with their dates: every `step`-th bar from the first, as many as fit
/// in `plot_width` with `slot` pixels each.
fn date_ticks(n: usize, plot_width: i32, slot: i32) -> Vec<f64> {
    let fit = (plot_width / slot.max(1)).max(1) as usize;
    let step = n.div_ceil(fit).max(1);
    (0..n).step_by(step).map(|i| i as f64).collect()
}

/// Sizes in pixels for a chart size: everything scales with the smaller side of the 1280x800
/// design, so a small chart keeps its proportions and a large one stays readable; text never
/// gets smaller than a legible minimum.
struct Metrics {
    scale: f64,
}

impl Metrics {
    fn new(size: ChartSize) -> Metrics {
        Metrics { scale: (f64::from(size.width) / 1280.0).min(f64::from(size.height) / 800.0) }
    }

    /// `v` pixels of the 1280x800 design, at this size.
    fn px(&self, v: f64) -> u32 {
        ((v * self.scale).round() as u32).max(1)
    }

    /// A font size, in whole pixels: `design` at 1280x800, scaled, and at least `min`.
    fn font(&self, design: f64, min: f64) -> f64 {
        (design * self.scale).max(min).round()
    }
}

/// A linear axis with grid lines and labels at the given values only.
struct Axis {
    linear: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(range: Range<f64>, ticks: Vec<f64>) -> Axis {
        Axis { linear: range.into(), ticks }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.linear.range()
    }
}

type Panel<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// What the two panels share: margins, label areas and text sizes.
struct Frame {
    left: i32,
    right: i32,
    margin: i32,
    x_label_area: i32,
    /// The axis title, a gap and the widest tick label.
    y_label_area: i32,
    tick: i32,
    label: f64,
    desc: f64,
    /// The width of grid lines and axes.
    stroke: u32,
}

impl Frame {
    /// A panel over the bars' x positions (bar `i` at `x = i`), with grid lines and labels at
    /// the given ticks only.
    fn panel<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        x_range: Range<f64>,
        x_ticks: &[f64],
        y_range: Range<f64>,
        y_ticks: &[(f64, String)],
    ) -> DrawResult<Panel<'a, DB>>
    where
        DB::ErrorType: 'static,
    {
        let y_values = y_ticks.iter().map(|(v, _)| *v).collect();
        Ok(ChartBuilder::on(area)
            .margin_left(self.left)
            .margin_right(self.right)
            .margin_top(self.margin)
            .margin_bottom(self.margin)
            .x_label_area_size(self.x_label_area)
            .y_label_area_size(self.y_label_area)
            .build_cartesian_2d(Axis::new(x_range, x_ticks.to_vec()), Axis::new(y_range, y_values))?)
    }

    /// Grid, axes and labels: dates below, the tick labels and the axis title at the left.
    /// plotters draws the grid, the axes and the tick marks; the text is drawn here, glyph by
    /// glyph (see [`text`]). Returns the box around the date labels.
    fn mesh<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &mut Panel<'_, DB>,
        date_label: &dyn Fn(&f64) -> String,
        x_ticks: &[f64],
        y_desc: &str,
        y_ticks: &[(f64, String)],
    ) -> DrawResult<Rect>
    where
        DB::ErrorType: 'static,
    {
        chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(palette::GRID.stroke_width(self.stroke))
            .axis_style(palette::AXIS.stroke_width(self.stroke))
            .set_all_tick_mark_size(self.tick)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&|_| String::new())
            // plotters still lays out the empty labels, in a font it must have.
            .label_style(text::Face::Latin.style(self.label, &palette::TEXT))
            .draw()?;
        let plot = area(chart);
        let (x0, y0) = (chart.x_range().start, chart.y_range().start);
        let mut dates = (plot.2, plot.3, plot.0, plot.3);
        for x in x_ticks {
            let label = date_label(x);
            let centre = chart.backend_coord(&(*x, y0)).0;
            let left = (centre - text::width(&label, self.label) / 2).max(0);
            dates = union(dates, text::draw(root, &label, self.label, (left, plot.3 + 2 * self.tick), &palette::TEXT)?);
        }
        // A number's digits are centred on its tick.
        let half_digit = (self.label * 0.48).round() as i32;
        for (y, label) in y_ticks {
            let middle = chart.backend_coord(&(x0, *y)).1;
            let left = plot.0 - 2 * self.tick - text::width(label, self.label);
            text::draw(root, label, self.label, (left, middle - half_digit), &palette::TEXT)?;
        }
        let bottom = (plot.1 + plot.3 + text::width(y_desc, self.desc)) / 2;
        text::draw_upwards(root, y_desc, self.desc, (plot.0 - self.y_label_area, bottom), &palette::TEXT)?;
        Ok(dates)
    }
}

/// The key of the MACD panel in `band` (left, top, right limit, height): DIF and DEA as line
/// samples, the histogram as a red and a green bar, each followed by its name; entries are
/// placed by their measured widths. Where they do not fit, the histogram's name shortens to
/// "MACD" and then the text shrinks.
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    band: (i32, i32, i32, i32),
    size: f64,
    line_width: u32,
) -> DrawResult<[Rect; 3]>
where
    DB::ErrorType: 'static,
{
    let (left, top, right, height) = band;
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

    let box_top = top + (height - size.round() as i32) / 2;
    let baseline = box_top + (size * text::Face::Latin.ascent_fraction()).round() as i32;
    let middle = baseline - (size * 0.25).round() as i32;
    let mut boxes = [(0, 0, 0, 0); 3];
    let mut x = left;
    for (i, ((label, sample), entry_width)) in entries.into_iter().zip(widths).enumerate() {
        match i {
            0 | 1 => {
                let colour = if i == 0 { palette::DIF } else { palette::DEA };
                root.draw(&PathElement::new(vec![(x, middle), (x + sample, middle)], colour.stroke_width(line_width)))?;
            }
            _ => {
                let tall = baseline - (size * 0.6).round() as i32;
                let short = baseline - (size * 0.35).round() as i32;
                root.draw(&Rectangle::new([(x, tall), (x + bar, baseline)], palette::RISING.filled()))?;
                let x2 = x + bar + bar_gap;
                root.draw(&Rectangle::new([(x2, short), (x2 + bar, baseline)], palette::FALLING.filled()))?;
            }
        }
        let label_box = text::draw(root, label, size, (x + sample + inner, box_top), &palette::TEXT)?;
        boxes[i] = (x, box_top, label_box.2.max(x + entry_width), label_box.3);
        x += entry_width + spacing;
    }
    Ok(boxes)
}

/// `message` centred in the plotting area `plot`: what comes before its first colon on a line
/// of its own, the rest wrapped to the width.
fn draw_message<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: Rect,
    message: &str,
    size: f64,
) -> DrawResult<Rect>
where
    DB::ErrorType: 'static,
{
    let width = plot.2 - plot.0 - 2 * (size.round() as i32);
    let mut lines = Vec::new();
    let (head, rest) = message.split_once(": ").unwrap_or((message, ""));
    lines.push(head.to_string());
    lines.extend(wrap(rest, width, size));
    let line_height = (size * 1.3).round() as i32;
    let block = line_height * lines.len() as i32;
    let mut top = (plot.1 + plot.3 - block) / 2;
    let mut bounds = (plot.2, plot.3, plot.0, plot.1);
    for line in &lines {
        let left = (plot.0 + plot.2 - text::width(line, size)) / 2;
        bounds = union(bounds, text::draw(root, line, size, (left, top), &palette::TEXT)?);
        top += line_height;
    }
    Ok(bounds)
}

/// `text` broken at spaces into lines no wider than `width` (a word wider than that gets a line
/// of its own).
fn wrap(text: &str, width: i32, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if text::width(&format!("{line} {word}"), size) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// A title fitted to a width: its lines and the size to draw them at.
#[derive(Debug, Clone, PartialEq)]
struct Fitted {
    lines: Vec<String>,
    size: f64,
}

/// Fits `title` into `max_width` pixels, in this order: at `size`; shrunk as far as `min_size`;
/// at `min_size` with its first part (the instrument) cut short with "…"; on two lines split
/// between parts, each cut short with "…" if it still does not fit. Never wider than
/// `max_width`, so never cut at the picture's edges.
fn fit_title(title: &str, max_width: i32, size: f64, min_size: f64) -> Fitted {
    let title: String = title.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let fits = |text: &str, size: f64| text::width(text, size) <= max_width;
    let one = |line: String, size: f64| Fitted { lines: vec![line], size };
    // The largest whole-pixel size between min_size and size at which `text` fits.
    let shrunk = |text: &str| -> f64 {
        let full = text::width(text, size);
        if full <= max_width {
            return size;
        }
        let mut s = (size * f64::from(max_width) / f64::from(full.max(1))).floor().clamp(min_size, size);
        while s > min_size && !fits(text, s) {
            s -= 1.0;
        }
        s
    };

    let s = shrunk(&title);
    if fits(&title, s) {
        return one(title, s);
    }
    let s = min_size;
    let Some((head, rest)) = title.split_once(TITLE_SEPARATOR) else {
        return one(ellipsize(&title, max_width, s, ""), s);
    };
    let rest = format!("{TITLE_SEPARATOR}{rest}");
    let short = ellipsize(head, max_width, s, &rest);
    // Keep the instrument recognisable: at least four of its characters before the "…", or else
    // two lines.
    if short.chars().count() > head.chars().count().min(4) && fits(&format!("{short}{rest}"), s) {
        return one(format!("{short}{rest}"), s);
    }
    let parts: Vec<&str> = title.split(TITLE_SEPARATOR).collect();
    let mut k = parts.len() - 1;
    while k > 1 && !fits(&parts[..k].join(TITLE_SEPARATOR), s) {
        k -= 1;
    }
    let (first, second) = (parts[..k].join(TITLE_SEPARATOR), parts[k..].join(TITLE_SEPARATOR));
    let s = shrunk(&first).min(shrunk(&second));
    Fitted { lines: vec![ellipsize(&first, max_width, s, ""), ellipsize(&second, max_width, s, "")], size: s }
}

/// The longest start of `text` that, ended with "…" and followed by `after`, fits in
/// `max_width`; `text` itself when it fits whole.
fn ellipsize(text: &str, max_width: i32, size: f64, after: &str) -> String {
    if text::width(&format!("{text}{after}"), size) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let candidate = |k: usize| -> String {
        let start: String = chars[..k].iter().collect();
        format!("{}…", start.trim_end())
    };
    // Binary search on how many characters to keep.
    let (mut lo, mut hi) = (0, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text::width(&format!("{}{after}", candidate(mid)), size) <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    candidate(lo)
}

/// Text in two embedded fonts: DejaVu Sans for every character it has, Droid Sans Fallback
/// (the GB2312 + Big5 subset) for Chinese, scaled to DejaVu's em and sharing its baseline.
///
/// Text is laid out here, from the fonts' own metrics (advances, side bearings, DejaVu's kerning
/// pairs), and drawn one glyph at a time through plotters, because plotters' `ab_glyph` text
/// draws a font per text element and places each glyph without its left side bearing (so
/// "2018-12-31" reads "2018-1 2-31" at small sizes).
mod text {
    use super::*;

    static LATIN: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
    static CJK: &[u8] = include_bytes!("../../../assets/fonts/DroidSansFallback-GB2312-Big5.ttf");

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Face {
        Latin = 0,
        Cjk = 1,
    }

    struct FaceData {
        family: &'static str,
        font: sfnt::Font,
    }

    fn faces() -> &'static [FaceData; 2] {
        static FACES: OnceLock<[FaceData; 2]> = OnceLock::new();
        FACES.get_or_init(|| [load("idc-dejavu-sans", LATIN), load("idc-droid-sans-fallback", CJK)])
    }

    /// Registers the fonts with plotters and reads their tables (once).
    pub(super) fn load_fonts() {
        faces();
    }

    fn load(family: &'static str, bytes: &'static [u8]) -> FaceData {
        // The fonts are embedded and valid; a failure here is a build defect, caught by tests.
        if plotters::style::register_font(family, FontStyle::Normal, bytes).is_err() {
            log::error!("the embedded chart font {family} could not be loaded");
        }
        let font = sfnt::Font::parse(bytes).unwrap_or_else(|| {
            log::error!("the embedded chart font {family} could not be read");
            sfnt::Font::default()
        });
        FaceData { family, font }
    }

    impl Face {
        fn data(self) -> &'static FaceData {
            &faces()[self as usize]
        }

        fn font(self) -> &'static sfnt::Font {
            &self.data().font
        }

        /// The size to ask plotters for so that this face has DejaVu Sans's em at `size`
        /// (ab_glyph scales a font's ascender − descender to the size asked for).
        fn size(self, size: f64) -> f64 {
            size * self.font().height_per_em() / Face::Latin.font().height_per_em()
        }

        /// Pixels per font unit at `size`.
        fn scale(self, size: f64) -> f64 {
            self.size(size) / self.font().height
        }

        /// Where the baseline is in a line of text `size` pixels high, from its top, as a
        /// fraction of the size.
        pub(super) fn ascent_fraction(self) -> f64 {
            self.font().ascender / self.font().height
        }

        pub(super) fn style(self, size: f64, colour: &'static RGBColor) -> TextStyle<'static> {
            let font = FontDesc::new(FontFamily::Name(self.data().family), self.size(size), FontStyle::Normal);
            TextStyle::from(font).color(colour).pos(Pos::new(HPos::Left, VPos::Top))
        }
    }

    /// The face that draws `c`: DejaVu Sans when it has the glyph, else the CJK font; `None`
    /// when neither has it.
    pub(super) fn face_for(c: char) -> Option<Face> {
        [Face::Latin, Face::Cjk].into_iter().find(|face| face.font().glyph(c).is_some())
    }

    /// A glyph placed on a line: its character, face, where its origin is on the line and
    /// where its outline starts from there (its left side bearing), in pixels.
    struct Placed {
        c: char,
        face: Face,
        pen: f64,
        bearing: f64,
    }

    /// The glyphs of `text` at `size`, and the line's advance in pixels. A character neither
    /// face has gets DejaVu Sans's missing-glyph box (and [`draw`] logs it).
    fn layout(text: &str, size: f64) -> (Vec<Placed>, f64) {
        let mut placed = Vec::with_capacity(text.len());
        let mut pen = 0.0;
        let mut previous: Option<(Face, u16)> = None;
        for c in text.chars() {
            let (face, glyph) = match face_for(c) {
                Some(face) => (face, face.font().glyph(c).unwrap_or(0)),
                None => (Face::Latin, 0),
            };
            let (font, scale) = (face.font(), face.scale(size));
            if let Some((previous_face, previous_glyph)) = previous {
                if previous_face == face {
                    pen += font.kerning(previous_glyph, glyph) * scale;
                }
            }
            let (advance, bearing) = font.horizontal(glyph);
            placed.push(Placed { c, face, pen, bearing: bearing * scale });
            pen += advance * scale;
            previous = Some((face, glyph));
        }
        (placed, pen)
    }

    /// The width of `text` at `size`, in whole pixels.
    pub(super) fn width(text: &str, size: f64) -> i32 {
        layout(text, size).1.ceil() as i32
    }

    /// Draws `text` with the top-left corner of its box at `at`, and returns the box: `size`
    /// pixels high, from the ascender to the descender, as wide as [`width`].
    pub(super) fn draw<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        text: &str,
        size: f64,
        at: (i32, i32),
        colour: &'static RGBColor,
    ) -> DrawResult<Rect>
    where
        DB::ErrorType: 'static,
    {
        let width = draw_glyphs(area, text, size, colour, None, |along, across| (at.0 + along, at.1 + across))?;
        Ok((at.0, at.1, at.0 + width, at.1 + size.round() as i32))
    }

    /// Draws `text` turned a quarter left, reading upwards, with the bottom-left corner of its
    /// box at `at`, and returns the box.
    pub(super) fn draw_upwards<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        text: &str,
        size: f64,
        at: (i32, i32),
        colour: &'static RGBColor,
    ) -> DrawResult<Rect>
    where
        DB::ErrorType: 'static,
    {
        let turn = Some(FontTransform::Rotate270);
        let width = draw_glyphs(area, text, size, colour, turn, |along, across| (at.0 + across, at.1 - along))?;
        Ok((at.0, at.1 - width, at.0 + size.round() as i32, at.1))
    }

    /// Draws each glyph of `text` where `place` maps (pixels along the line, pixels down from
    /// the top of the line) to the picture; returns the line's width.
    fn draw_glyphs<DB: DrawingBackend>(
        area: &DrawingArea<DB, Shift>,
        text: &str,
        size: f64,
        colour: &'static RGBColor,
        transform: Option<FontTransform>,
        place: impl Fn(i32, i32) -> (i32, i32),
    ) -> DrawResult<i32>
    where
        DB::ErrorType: 'static,
    {
        warn_missing(text);
        let (glyphs, advance) = layout(text, size);
        let baseline = size * Face::Latin.ascent_fraction();
        let mut styles: [Option<TextStyle<'static>>; 2] = [None, None];
        let mut buffer = [0u8; 4];
        for glyph in glyphs.iter().filter(|g| !g.c.is_whitespace()) {
            let face = glyph.face;
            let style = styles[face as usize].get_or_insert_with(|| {
                let style = face.style(size, colour);
                match &transform {
                    Some(turn) => style.transform(turn.clone()),
                    None => style,
                }
            });
            // ab_glyph rasterises an outline from the whole pixel left of it, keeping the
            // bearing's fraction, and puts the baseline half the pixel size below the top; so the
            // origin is snapped to a whole pixel and the bearing's whole pixels added.
            let across = (baseline - face.size(size) / 2.0).round() as i32;
            let position = place(glyph.pen.round() as i32 + glyph.bearing.floor() as i32, across);
            area.draw_text(glyph.c.encode_utf8(&mut buffer), style, position)?;
        }
        Ok(advance.ceil() as i32)
    }

    /// Logs, once per character and process, the characters neither font has, since they are
    /// drawn as boxes.
    fn warn_missing(text: &str) {
        let missing: BTreeSet<char> = text.chars().filter(|&c| !c.is_whitespace() && face_for(c).is_none()).collect();
        if missing.is_empty() {
            return;
        }
        static WARNED: Mutex<BTreeSet<char>> = Mutex::new(BTreeSet::new());
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        let new: Vec<String> =
            missing.into_iter().filter(|&c| warned.insert(c)).map(|c| format!("{c:?} (U+{:04X})", c as u32)).collect();
        if !new.is_empty() {
            log::warn!("the chart fonts have no glyph for {}; drawn as boxes", new.join(", "));
        }
    }

    /// Just enough of the TrueType format to lay out a line of text as ab_glyph draws it:
    /// which glyph a character has, its advance and left side bearing, kerning pairs, and the
    /// vertical metrics that ab_glyph scales by.
    mod sfnt {
        /// A font's tables, read once.
        #[derive(Debug, Default)]
        pub(in super::super) struct Font {
            /// (code point, glyph) for every code point with a glyph, sorted.
            cmap: Vec<(u32, u16)>,
            /// (advance, left side bearing) per glyph, in font units.
            hmtx: Vec<(u16, i16)>,
            /// ((left glyph << 16) | right glyph, adjustment in font units), sorted.
            kern: Vec<(u32, i16)>,
            pub(in super::super) units_per_em: f64,
            /// Ascender and ascender − descender, in font units, from `hhea` (neither font
            /// sets OS/2's USE_TYPO_METRICS, so these are the metrics ab_glyph uses).
            pub(in super::super) ascender: f64,
            pub(in super::super) height: f64,
        }

        impl Font {
            pub(in super::super) fn parse(font: &[u8]) -> Option<Font> {
                let units_per_em = f64::from(u16_at(table(font, b"head")?, 18)?);
                let hhea = table(font, b"hhea")?;
                let ascender = f64::from(u16_at(hhea, 4)? as i16);
                let descender = f64::from(u16_at(hhea, 6)? as i16);
                let metrics = usize::from(u16_at(hhea, 34)?);
                let glyphs = usize::from(u16_at(table(font, b"maxp")?, 4)?);
                let hmtx = horizontal_metrics(table(font, b"hmtx")?, metrics, glyphs)?;
                let kern = table(font, b"kern").and_then(kerning).unwrap_or_default();
                let mut cmap = character_map(table(font, b"cmap")?)?;
                cmap.sort_unstable();
                cmap.dedup_by_key(|(c, _)| *c);
                let height = ascender - descender;
                (units_per_em > 0.0 && height > 0.0).then_some(Font {
                    cmap,
                    hmtx,
                    kern,
                    units_per_em,
                    ascender,
                    height,
                })
            }

            /// The glyph of `c`, if the font has one.
            pub(in super::super) fn glyph(&self, c: char) -> Option<u16> {
                let c = c as u32;
                self.cmap.binary_search_by_key(&c, |&(code, _)| code).ok().map(|i| self.cmap[i].1)
            }

            /// (advance, left side bearing) of `glyph`, in font units.
            pub(in super::super) fn horizontal(&self, glyph: u16) -> (f64, f64) {
                self.hmtx.get(usize::from(glyph)).map_or((0.0, 0.0), |&(a, b)| (f64::from(a), f64::from(b)))
            }

            /// The kerning between two glyphs, in font units.
            pub(in super::super) fn kerning(&self, left: u16, right: u16) -> f64 {
                let pair = (u32::from(left) << 16) | u32::from(right);
                self.kern.binary_search_by_key(&pair, |&(p, _)| p).map_or(0.0, |i| f64::from(self.kern[i].1))
            }

            pub(in super::super) fn height_per_em(&self) -> f64 {
                if self.units_per_em > 0.0 {
                    self.height / self.units_per_em
                } else {
                    1.0
                }
            }
        }

        fn u16_at(data: &[u8], at: usize) -> Option<u16> {
            Some(u16::from_be_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
        }

        fn u32_at(data: &[u8], at: usize) -> Option<u32> {
            Some(u32::from_be_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
        }

        fn table<'a>(font: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
            let count = usize::from(u16_at(font, 4)?);
            (0..count).find_map(|i| {
                let record = 12 + 16 * i;
                if font.get(record..record + 4)? != tag {
                    return None;
                }
                let offset = u32_at(font, record + 8)? as usize;
                let length = u32_at(font, record + 12)? as usize;
                font.get(offset..offset.checked_add(length)?)
            })
        }

        fn horizontal_metrics(hmtx: &[u8], metrics: usize, glyphs: usize) -> Option<Vec<(u16, i16)>> {
            let mut out = Vec::with_capacity(glyphs);
            let mut advance = 0;
            for glyph in 0..glyphs.max(metrics) {
                let bearing = if glyph < metrics {
                    advance = u16_at(hmtx, 4 * glyph)?;
                    u16_at(hmtx, 4 * glyph + 2)?
                } else {
                    u16_at(hmtx, 4 * metrics + 2 * (glyph - metrics))?
                };
                out.push((advance, bearing as i16));
            }
            Some(out)
        }

        /// The horizontal pairs of a version 0 `kern` table's format 0 subtables.
        fn kerning(kern: &[u8]) -> Option<Vec<(u32, i16)>> {
            if u16_at(kern, 0)? != 0 {
                return None;
            }
            let mut pairs = Vec::new();
            let mut at = 4;
            for _ in 0..u16_at(kern, 2)? {
                let (length, coverage) = (usize::from(u16_at(kern, at + 2)?), u16_at(kern, at + 4)?);
                // Format 0, horizontal, not minimum values, not cross-stream.
                if coverage >> 8 == 0 && coverage & 0b111 == 1 {
                    for i in 0..usize::from(u16_at(kern, at + 6)?) {
                        let pair = at + 14 + 6 * i;
                        pairs.push((u32_at(kern, pair)?, u16_at(kern, pair + 4)? as i16));
                    }
                }
                at += length;
            }
            pairs.sort_unstable();
            Some(pairs)
        }

        /// Every (code point, glyph) of the font's Unicode `cmap` subtable, format 12 if it has
        /// one, else format 4; glyph 0 (the missing-glyph box) left out.
        fn character_map(cmap: &[u8]) -> Option<Vec<(u32, u16)>> {
            let mut best: Option<(u8, &[u8])> = None;
            for i in 0..usize::from(u16_at(cmap, 2)?) {
                let record = 4 + 8 * i;
                let (platform, encoding) = (u16_at(cmap, record)?, u16_at(cmap, record + 2)?);
                let subtable = cmap.get(u32_at(cmap, record + 4)? as usize..)?;
                let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
                let rank = match u16_at(subtable, 0)? {
                    12 if unicode => 2,
                    4 if unicode => 1,
                    _ => 0,
                };
                if rank > best.map_or(0, |(r, _)| r) {
                    best = Some((rank, subtable));
                }
            }
            match best? {
                (2, subtable) => format12(subtable),
                (_, subtable) => format4(subtable),
            }
        }

        fn format4(sub: &[u8]) -> Option<Vec<(u32, u16)>> {
            let seg_x2 = usize::from(u16_at(sub, 6)?);
            let (ends, starts) = (14, 16 + seg_x2);
            let (deltas, offsets) = (starts + seg_x2, starts + 2 * seg_x2);
            let mut out = Vec::new();
            for s in 0..seg_x2 / 2 {
                let end = u16_at(sub, ends + 2 * s)?;
                let start = u16_at(sub, starts + 2 * s)?;
                let delta = u16_at(sub, deltas + 2 * s)?;
                let range_offset = usize::from(u16_at(sub, offsets + 2 * s)?);
                for c in start..=end.min(0xFFFE) {
                    let glyph = if range_offset == 0 {
                        c.wrapping_add(delta)
                    } else {
                        let at = offsets + 2 * s + range_offset + 2 * usize::from(c - start);
                        match u16_at(sub, at)? {
                            0 => 0,
                            g => g.wrapping_add(delta),
                        }
                    };
                    if glyph != 0 {
                        out.push((u32::from(c), glyph));
                    }
                }
            }
            Some(out)
        }

        fn format12(sub: &[u8]) -> Option<Vec<(u32, u16)>> {
            let mut out = Vec::new();
            for g in 0..u32_at(sub, 12)? as usize {
                let at = 16 + 12 * g;
                let (first, last, glyph) = (u32_at(sub, at)?, u32_at(sub, at + 4)?, u32_at(sub, at + 8)?);
                // Unicode ends at U+10FFFF; glyph ids are 16 bits.
                for c in first..=last.min(0x10FFFF) {
                    match u16::try_from(glyph.saturating_add(c - first)) {
                        Ok(0) => {}
                        Ok(id) => out.push((c, id)),
                        Err(_) => break,
                    }
                }
            }
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_within_bounds() {
        assert_eq!("1280x800".parse::<ChartSize>().unwrap(), ChartSize::default());
        assert!("100x100".parse::<ChartSize>().unwrap_err().contains("WIDTHxHEIGHT"));
        assert!("1280".parse::<ChartSize>().is_err());
        assert!("99999x800".parse::<ChartSize>().is_err());
    }

    fn labels(lo: f64, hi: f64, max: usize) -> Vec<String> {
        axis_ticks(lo, hi, max).into_iter().map(|(_, label)| label).collect()
    }

    #[test]
    fn axis_numbers_fit_the_step_and_never_repeat() {
        assert_eq!(labels(2350.0, 2950.0, 8), ["2400", "2500", "2600", "2700", "2800", "2900"]);
        assert_eq!(labels(-70.0, 10.0, 6), ["-60", "-40", "-20", "0"]);
        assert_eq!(labels(-0.26, 0.05, 4), ["-0.2", "-0.1", "0.0"]);
        assert_eq!(labels(-1.0, 1.0, 6), ["-1.0", "-0.5", "0.0", "0.5", "1.0"]);
        // The spans that used to give five times "0.00000000": tiny, zero, and at a large value.
        for (lo, hi) in [(-1e-9, 1e-9), (0.0, 0.0), (1234.5, 1234.5), (2500.0, 2500.000001), (-3e-7, 2e-7)] {
            for max in 1..=8 {
                let labels = labels(lo, hi, max);
                assert!(!labels.is_empty() && labels.len() <= max.max(1) + 1, "{lo}..{hi}: {labels:?}");
                let distinct: BTreeSet<&String> = labels.iter().collect();
                assert_eq!(distinct.len(), labels.len(), "{lo}..{hi} at most {max}: {labels:?}");
            }
        }
        assert_eq!(labels(0.0, 0.0, 5), ["0"]);
        assert_eq!(labels(1234.5, 1234.5, 5), ["1234.5"]);
        assert_eq!(format_number(-0.0001, 3), "0.000");
        assert!(axis_ticks(f64::NAN, 1.0, 5).is_empty());
    }

    #[test]
    fn a_zero_span_is_padded_to_a_real_range() {
        assert_eq!(padded(0.0, 0.0, 0.08), -1.0..1.0);
        assert_eq!(padded(2500.0, 2500.0, 0.05), 2475.0..2525.0);
        assert_eq!(padded(10.0, 20.0, 0.1), 9.0..21.0);
    }

    #[test]
    fn each_character_goes_to_a_font_that_has_it() {
        text::load_fonts();
        use text::Face::{Cjk, Latin};
        for c in ['A', 'z', '0', '·', '…', '&', 'é'] {
            assert_eq!(text::face_for(c), Some(Latin), "{c:?}");
        }
        // Simplified (GB2312), traditional (Big5) and full-width punctuation.
        for c in "贵州茅台腾讯騰訊臺灣（），：".chars() {
            assert_eq!(text::face_for(c), Some(Cjk), "{c:?}");
        }
        assert_eq!(text::face_for('\u{20000}'), None); // CJK Extension B, in neither
        let faces: Vec<_> = "贵州 6.".chars().map(text::face_for).collect();
        assert_eq!(faces, [Some(Cjk), Some(Cjk), Some(Latin), Some(Latin), Some(Latin)]);
        assert_eq!(text::width("", 20.0), 0);
        // DejaVu's kerning pairs apply: "AV" is narrower than "A" and "V" apart.
        assert!(text::width("AV", 40.0) < text::width("A", 40.0) + text::width("V", 40.0) - 2);
        // The CJK font is scaled to DejaVu's em: a Chinese character is one em wide, as DejaVu's
        // em dash is.
        let (cjk, latin) = (text::width("贵州茅台", 20.0), text::width("————", 20.0));
        assert!((cjk - latin).abs() <= 1, "{cjk} vs {latin}");
    }

    #[test]
    fn a_long_title_is_cut_at_the_instrument_and_keeps_the_rest() {
        text::load_fonts();
        let rest = " · daily · MACD(12,26,9) cn · 2018-01-02 to 2018-12-31";
        let title = format!("{}{rest}", "A very long instrument name, Incorporated ".repeat(4));
        let fitted = fit_title(&title, 1248, 20.0, 15.0);
        assert_eq!(fitted.lines.len(), 1);
        assert!(fitted.lines[0].ends_with(&format!("…{rest}")), "{fitted:?}");
        assert!(fitted.lines[0].starts_with("A very long"), "{fitted:?}");
        assert!(text::width(&fitted.lines[0], fitted.size) <= 1248);
        // A title that fits stays as it is; one a little too long shrinks.
        let short = format!("S&P 500{rest}");
        assert_eq!(fit_title(&short, 1248, 20.0, 15.0), Fitted { lines: vec![short.clone()], size: 20.0 });
        let w = text::width(&short, 20.0);
        let shrunk = fit_title(&short, w - 40, 20.0, 15.0);
        assert_eq!(shrunk.lines, std::slice::from_ref(&short));
        assert!(shrunk.size < 20.0 && shrunk.size >= 15.0);
        // Too narrow for one line: two, split between parts, each within the width.
        let narrow = fit_title(&short, 280, 12.0, 12.0);
        assert_eq!(narrow.lines.len(), 2, "{narrow:?}");
        assert!(narrow.lines[0].starts_with("S&P 500"), "{narrow:?}");
        for line in &narrow.lines {
            assert!(text::width(line, narrow.size) <= 280, "{narrow:?}");
        }
        // No parts at all: the end is cut.
        let word = "x".repeat(500);
        let cut = fit_title(&word, 300, 12.0, 12.0);
        assert!(cut.lines[0].ends_with('…') && text::width(&cut.lines[0], 12.0) <= 300);
    }

    #[test]
    fn legends_dates_and_wrapping_follow_measured_widths() {
        text::load_fonts();
        assert_eq!(date_ticks(250, 1100, 140), (0..250).step_by(36).map(|i| i as f64).collect::<Vec<_>>());
        assert_eq!(date_ticks(1, 1100, 90), [0.0]);
        assert_eq!(date_ticks(5, 200, 90), [0.0, 3.0]);
        let lines = wrap("TA-Lib's convention needs 33 bars of warm-up before the first value", 200, 12.0);
        assert!(lines.len() >= 2 && lines.iter().all(|l| text::width(l, 12.0) <= 200), "{lines:?}");
    }
}
