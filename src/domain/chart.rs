//! The MACD chart: candlesticks over a date axis, and below them DIF, DEA and the histogram.
//!
//! Drawn with `plotters` into an in-memory RGB buffer and encoded as PNG with the `image` crate;
//! nothing touches the file system or the machine's fonts. Text uses DejaVu Sans, embedded in
//! the binary (`assets/fonts/`, Bitstream Vera licence) and drawn through plotters' `ab_glyph`
//! backend, so a container without any fonts renders the same picture. The same input always
//! gives the same bytes.
//!
//! Colours follow the A-share convention of the `cn` default: a rising candle or a positive
//! histogram bar is red, a falling one green.

use std::ops::Range;
use std::sync::Once;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::analysis::{Analysis, Window};
use super::date::DateRange;

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

/// Where the chart put its two panels, in pixels (for tests and callers that annotate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Plotting area of the price panel: (left, top, right, bottom).
    pub price: (i32, i32, i32, i32),
    /// Plotting area of the MACD panel.
    pub macd: (i32, i32, i32, i32),
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

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The embedded font is a valid TTF; a failure here is a build defect, caught by tests.
            if plotters::style::register_font(FONT, style, FONT_BYTES).is_err() {
                log::error!("the embedded chart font could not be loaded");
            }
        }
    });
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
    register_font();
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
/// 93 KB, where zlib's default level takes 9 to 10 ms for 43 KB and no filter gives 1.3 MB
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

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

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
    let metrics = Metrics::new(size);
    let px = |v: f64| metrics.px(v);
    let text = |pt: f64| metrics.text(pt);

    // Title, centred on top.
    let title_height = px(44.0);
    let (title_area, body) = root.split_vertically(title_height);
    let (w, _) = title_area.dim_in_pixel();
    title_area.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, title_height as i32 / 2),
        text(20.0).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;

    let (_, body_height) = body.dim_in_pixel();
    let (price_area, macd_area) = body.split_vertically(body_height * 62 / 100);

    let n = window.bars.len();
    let x_range = -0.5..(n as f64 - 0.5);
    // Bars sit at whole x positions; a tick between two bars (short ranges get ticks at halves
    // and fifths) gets no label rather than a repeat of its neighbour's date.
    let date_label = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 || i as usize >= n {
            return String::new();
        }
        window.bars[i as usize].date.to_string()
    };
    // Candle body width: most of the space per bar, at least one pixel.
    let plot_width = f64::from(size.width) - f64::from(px(90.0)) - f64::from(px(48.0));
    let candle_width = ((plot_width / n as f64) * 0.7).floor().clamp(1.0, f64::from(px(24.0))) as u32;

    // Price panel.
    let low = window.bars.iter().map(|b| b.low).fold(f64::INFINITY, f64::min);
    let high = window.bars.iter().map(|b| b.high).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((high - low) * 0.05).max(high.abs() * 1e-4).max(1e-9);
    let price_decimals = decimals_for(high - low + 2.0 * pad);
    let mut price = panel(&price_area, &metrics, x_range.clone(), (low - pad)..(high + pad))?;
    mesh(&mut price, &metrics, &date_label, 8, "price", price_decimals)?;
    price.draw_series(window.bars.iter().enumerate().map(|(i, bar)| {
        CandleStick::new(
            i as f64,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            palette::RISING.filled(),
            palette::FALLING.filled(),
            candle_width,
        )
    }))?;

    // MACD panel: histogram first, so the lines are drawn over it.
    let points: Vec<(f64, super::macd::MacdPoint)> =
        window.macd.iter().enumerate().filter_map(|(i, p)| p.map(|p| (i as f64, p))).collect();
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for (_, p) in &points {
        for v in [p.dif, p.dea, p.macd] {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let pad = ((hi - lo) * 0.08).max(1e-9);
    let macd_decimals = decimals_for(hi - lo + 2.0 * pad);
    let legend_height = px(26.0);
    let (legend_area, macd_area) = macd_area.split_vertically(legend_height);
    draw_legend(&legend_area, px(90.0) as i32, &text(13.0), px(2.0))?;
    let mut macd = panel(&macd_area, &metrics, x_range, (lo - pad)..(hi + pad))?;
    mesh(&mut macd, &metrics, &date_label, 6, "MACD", macd_decimals)?;
    // As wide as a candle body, in bar units.
    let half_bar = f64::from(candle_width) / 2.0 * n as f64 / plot_width;
    macd.draw_series(points.iter().map(|&(x, p)| {
        let colour = if p.macd >= 0.0 { palette::RISING } else { palette::FALLING };
        Rectangle::new([(x - half_bar, 0.0), (x + half_bar, p.macd)], colour.filled())
    }))?;
    macd.draw_series(std::iter::once(PathElement::new(
        vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
        palette::AXIS.stroke_width(1),
    )))?;
    let line_width = px(2.0);
    macd.draw_series(LineSeries::new(points.iter().map(|&(x, p)| (x, p.dif)), palette::DIF.stroke_width(line_width)))?;
    macd.draw_series(LineSeries::new(points.iter().map(|&(x, p)| (x, p.dea)), palette::DEA.stroke_width(line_width)))?;

    let area = |chart: &Panel<'_, DB>| {
        let (x, y) = chart.plotting_area().get_pixel_range();
        (x.start, y.start, x.end, y.end)
    };
    Ok(Layout { price: area(&price), macd: area(&macd) })
}

/// Sizes in pixels for a chart size: everything scales with the smaller side, so a small chart
/// keeps its proportions and a large one stays readable.
struct Metrics {
    scale: f64,
}

impl Metrics {
    fn new(size: ChartSize) -> Metrics {
        Metrics { scale: f64::from(size.height.min(size.width * 5 / 8)) / 800.0 }
    }

    /// `v` pixels of the 1280x800 design, at this size.
    fn px(&self, v: f64) -> u32 {
        ((v * self.scale).round() as u32).max(1)
    }

    fn text(&self, points: f64) -> TextStyle<'static> {
        (FONT, self.px(points)).into_font().color(&palette::TEXT)
    }
}

type Panel<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel over the bars' x positions (bar `i` at `x = i`), with the same margins for both
/// panels so that their x axes line up.
fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    metrics: &Metrics,
    x_range: Range<f64>,
    y_range: Range<f64>,
) -> DrawResult<Panel<'a, DB>>
where
    DB::ErrorType: 'static,
{
    Ok(ChartBuilder::on(area)
        .margin_left(metrics.px(10.0))
        .margin_right(metrics.px(48.0))
        .margin_top(metrics.px(6.0))
        .margin_bottom(metrics.px(6.0))
        .x_label_area_size(metrics.px(30.0))
        .y_label_area_size(metrics.px(80.0))
        .build_cartesian_2d(x_range, y_range)?)
}

/// Grid, axes and labels: dates below, `y_labels` numbers with `decimals` decimals at the left.
fn mesh<DB: DrawingBackend>(
    chart: &mut Panel<'_, DB>,
    metrics: &Metrics,
    date_label: &dyn Fn(&f64) -> String,
    y_labels: usize,
    y_desc: &str,
    decimals: usize,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_mesh()
        .max_light_lines(0)
        .bold_line_style(palette::GRID)
        .axis_style(palette::AXIS)
        .x_labels(8)
        .y_labels(y_labels)
        .x_label_formatter(date_label)
        .y_label_formatter(&|y| format_number(*y, decimals))
        .label_style(metrics.text(13.0))
        .y_desc(y_desc)
        .axis_desc_style(metrics.text(14.0))
        .draw()?;
    Ok(())
}

/// The key of the MACD panel, in a band of its own above the plot so it never hides data:
/// DIF and DEA as line samples, the histogram as a red and a green bar.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    left: i32,
    font: &TextStyle,
    line_width: u32,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let (_, height) = area.dim_in_pixel();
    let y = height as i32 / 2;
    let sample = 22;
    let mut x = left;
    for (label, colour) in [("DIF", palette::DIF), ("DEA", palette::DEA)] {
        area.draw(&PathElement::new(vec![(x, y), (x + sample, y)], colour.stroke_width(line_width)))?;
        area.draw(&Text::new(label, (x + sample + 6, y), font.pos(Pos::new(HPos::Left, VPos::Center))))?;
        x += sample + 60;
    }
    let bar = 5;
    area.draw(&Rectangle::new([(x, y - 7), (x + bar, y + 7)], palette::RISING.filled()))?;
    area.draw(&Rectangle::new([(x + bar + 2, y - 4), (x + 2 * bar + 2, y + 7)], palette::FALLING.filled()))?;
    let label = "MACD histogram";
    area.draw(&Text::new(label, (x + 2 * bar + 10, y), font.pos(Pos::new(HPos::Left, VPos::Center))))?;
    Ok(())
}

/// Decimals for axis labels over a span of values: about three significant digits of the span.
fn decimals_for(span: f64) -> usize {
    (2 - span.log10().floor() as i32).clamp(0, 8) as usize
}

/// An axis number with `decimals` decimals, never `-0`.
fn format_number(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
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

    #[test]
    fn axis_numbers_fit_the_span() {
        assert_eq!(format_number(2750.0, decimals_for(1500.0)), "2750");
        assert_eq!(format_number(12.5, decimals_for(40.0)), "12.5");
        assert_eq!(format_number(-0.0001, decimals_for(0.5)), "0.000");
        assert_eq!(format_number(-0.25, decimals_for(0.5)), "-0.250");
    }
}
