//! The MACD chart: candlesticks over a date axis, and below them DIF, DEA and the histogram.
//!
//! Drawn with `plotters` into an in-memory RGB buffer and encoded as PNG with the `image` crate;
//! nothing touches the file system or the machine's fonts. Text is drawn through plotters'
//! `ab_glyph` backend with two fonts embedded in the binary (`assets/fonts/`): DejaVu Sans
//! (Bitstream Vera licence) for every character it has, and a subset of Droid Sans Fallback
//! (Apache-2.0, every character of GB2312 and Big5) for Chinese, so that an instrument named
//! `贵州茅台 600519.SH` reads as it should. Text is laid out glyph by glyph, each in the first
//! font that has it, on a common baseline and em. A container without any fonts renders the same
//! picture, and the same input always gives the same bytes.
//!
//! Sizes follow the chart: text and every distance scale with the smaller side of the 1280x800
//! design, text never below a legible minimum, and the title, the axis label areas and the legend
//! are laid out from measured text widths, so nothing overlaps from 320x240 to 8192x8192.
//!
//! Colours follow the A-share convention of the `cn` default: a rising candle or a positive
//! histogram bar is red, a falling one green.
//!
//! # Parts
//!
//! This module holds the API (sizes, colours, errors, the render functions). Below it, each
//! concern in a file of its own, each using only those listed before it:
//!
//! * `ticks`: which values an axis marks and how it writes them ([`axis_ticks`]).
//! * `text`: the two fonts, their glyph metrics from `ab_glyph`, a line of text placed (a
//!   `Label`), and drawing it.
//! * `fit`: a title fitted to the width, a message wrapped.
//! * `legend`: a legend's entries (swatch and name) placed in a band.
//! * `layout`: a pure function from the bars, the title and the size to a `Plan` of where every
//!   panel, label and legend goes: a price panel and any number of panels below it.
//! * `paint`: draws a plan with plotters.
//! * `periods`: the v2 chart's date ticks, on the starts of weeks, months, quarters or years.
//! * [`v2`], `v2_layout`, `v2_paint`: the v2 chart (candles, overlays, any number of indicator
//!   panels) from a `Series`, built from the pieces above.

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;

use super::analysis::{Analysis, Window};
use super::date::DateRange;
use super::macd::Convention;

mod fit;
mod layout;
mod legend;
mod paint;
mod periods;
mod text;
mod ticks;
pub mod v2;
mod v2_layout;
mod v2_paint;

pub use ticks::axis_ticks;
pub use v2::{render_series, render_series_rgb, SeriesChart, SeriesLayout};

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
/// annotate): the boxes of the plan the chart was laid out by (`layout`), which has them all
/// before anything is drawn.
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
    let plan = layout::plan(&window, title, size);
    let mut pixels = vec![0u8; size.width as usize * size.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (size.width, size.height)).into_drawing_area();
        paint::draw(&root, &window, &plan).map_err(|e| ChartError::Draw(e.to_string()))?;
        root.present().map_err(|e| ChartError::Draw(e.to_string()))?;
    }
    Ok((pixels, plan.summary()))
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

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::fit::{fit_title, wrap, Fitted};
    use super::ticks::{date_ticks, format_number, padded};
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

    #[test]
    fn the_readme_picture_is_what_the_chart_draws() {
        use crate::domain::date::Date;
        use crate::domain::macd::MacdParams;
        use crate::domain::sample;
        // README.md shows docs/macd.png, made by `idc_server --data sample --render-chart
        // docs/macd.png --start-date 2018-01-01 --end-date 2018-12-31`: a chart change that moves
        // a pixel makes that again (pixels are compared, so a PNG encoder update alone does not).
        let analysis =
            Analysis::new(sample::INSTRUMENT, sample::bars().unwrap(), MacdParams::default(), Convention::Cn).unwrap();
        let window = analysis.window(DateRange { start: Date::new(2018, 1, 1), end: Date::new(2018, 12, 31) });
        let (pixels, _) = render_rgb(window, &analysis.title(window), ChartSize::default()).unwrap();
        let readme = include_bytes!("../../../../docs/macd.png");
        let readme = image::load_from_memory_with_format(readme, image::ImageFormat::Png).unwrap().to_rgb8();
        assert_eq!(readme.dimensions(), (1280, 800));
        assert!(readme.as_raw() == &pixels, "docs/macd.png is not what the chart draws now: make it again");
    }
}
