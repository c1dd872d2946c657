//! The v2 chart: one instrument's [`Series`] (from [`series::compute`](crate::domain::series::compute)
//! over its overlays, then its panels) as candles with the overlays drawn over them as lines, and
//! one panel per panel spec below, each spec's outputs as lines: MACD's histogram (its `MACD`
//! output) as red and green bars as the article's chart draws it, and `VOL` as volume bars
//! coloured by their candle. Every line is named in a legend above its panel.
//!
//! It shares the article's chart's pieces: the [`ChartSize`] bounds, the fonts and their text
//! layout, the title fitting, the bands, frames and panels of `layout`, the grid, axes and candles
//! of `paint`; its own placement is in `v2_layout` and its drawing in `v2_paint`. The date ticks
//! fall on period starts (`periods`), and only the bottom panel carries date labels, so more
//! panels still leave room to plot.

use plotters::prelude::*;
use plotters::style::RGBColor;

use super::{encode_png, text, v2_layout, v2_paint, ChartError, ChartSize, Rect};
use crate::domain::indicators::Convention;
use crate::domain::series::{Adjust, Frequency, Labelled, Series};

/// What is charted, besides the series: the instrument's display name, how its bars were made,
/// and the specs its columns were computed from, overlays first (in the order given to
/// `series::compute`).
#[derive(Debug, Clone, Copy)]
pub struct SeriesChart<'a> {
    pub name: &'a str,
    pub frequency: Frequency,
    pub convention: Convention,
    pub adjust: Adjust,
    pub overlays: &'a [Labelled],
    pub panels: &'a [Labelled],
}

/// Where the v2 chart put its parts, in pixels of the whole picture (for tests and callers that
/// annotate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesLayout {
    /// The title's text, all its lines.
    pub title: Rect,
    /// Plotting area of the price panel.
    pub price: Rect,
    /// Each panel's axis title and plotting area, top to bottom.
    pub panels: Vec<(String, Rect)>,
    /// The legend entries (name, box) above the price panel, then above each panel.
    pub legends: Vec<Vec<(String, Rect)>>,
    /// The bars labelled with dates, and their labels.
    pub date_ticks: Vec<(usize, String)>,
}

/// Line colours, in the order a panel's lines take them: the article's DIF blue and DEA orange
/// first (so MACD looks as it does there), never the candles' red or green.
pub const LINES: [RGBColor; 8] = [
    RGBColor(31, 91, 200),
    RGBColor(245, 150, 0),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(100, 100, 100),
];

/// How a column is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Line,
    /// Bars from zero, red above it and green below (MACD's histogram).
    Histogram,
    /// Bars from zero, coloured as the bar's candle (volume).
    Volume,
}

/// One column to draw: its legend name, values (NaN in the warm-up), colour and style.
pub(super) struct Drawn<'s> {
    pub(super) name: String,
    pub(super) values: &'s [f64],
    pub(super) colour: RGBColor,
    pub(super) style: Style,
}

/// One panel below the candles: its axis title and its columns.
pub(super) struct Group<'s> {
    pub(super) axis: String,
    pub(super) label: String,
    pub(super) columns: Vec<Drawn<'s>>,
}

/// "Apple · weekly · cn · forward-adjusted · 2018-01-05 to 2018-12-28": the instrument, the
/// frequency asked, the convention, any adjustment, and the dates shown.
pub fn title(chart: &SeriesChart<'_>, series: &Series) -> String {
    let mut parts = vec![chart.name.to_string(), chart.frequency.to_string(), chart.convention.to_string()];
    match chart.adjust {
        Adjust::None => {}
        Adjust::Forward => parts.push("forward-adjusted (qfq)".to_string()),
        Adjust::Backward => parts.push("backward-adjusted (hfq)".to_string()),
    }
    if let (Some(first), Some(last)) = (series.bars.date.first(), series.bars.date.last()) {
        parts.push(format!("{first} to {last}"));
    }
    parts.join(super::fit::TITLE_SEPARATOR)
}

/// The chart of `series` as PNG bytes; [`ChartError::Empty`] when it has no bars.
pub fn render_series(series: &Series, chart: &SeriesChart<'_>, size: ChartSize) -> Result<Vec<u8>, ChartError> {
    let (pixels, _) = render_series_rgb(series, chart, size)?;
    encode_png(&pixels, size)
}

/// Draws the chart of `series` into an RGB buffer of `width × height × 3` bytes (encode it with
/// [`encode_png`]), and says where its parts are.
pub fn render_series_rgb(
    series: &Series,
    chart: &SeriesChart<'_>,
    size: ChartSize,
) -> Result<(Vec<u8>, SeriesLayout), ChartError> {
    if series.bars.is_empty() {
        return Err(ChartError::Empty);
    }
    text::load_fonts();
    let (overlays, panels) = columns(series, chart)?;
    let plan = v2_layout::plan(&series.bars, chart.frequency, &title(chart, series), &overlays, &panels, size);
    let mut pixels = vec![0u8; size.width as usize * size.height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (size.width, size.height)).into_drawing_area();
        v2_paint::draw(&root, &series.bars, &overlays, &panels, &plan).map_err(|e| ChartError::Draw(e.to_string()))?;
        root.present().map_err(|e| ChartError::Draw(e.to_string()))?;
    }
    Ok((pixels, plan.summary()))
}

/// The series' columns as the chart draws them: the overlays' lines, coloured in turn, and one
/// group per panel spec.
fn columns<'s>(series: &'s Series, chart: &SeriesChart<'_>) -> Result<(Vec<Drawn<'s>>, Vec<Group<'s>>), ChartError> {
    let wanted: usize = chart.overlays.iter().chain(chart.panels).map(|l| l.indicator.outputs()).sum();
    if series.columns.len() != wanted {
        return Err(ChartError::Draw(format!(
            "the series has {} columns, and its overlays and panels make {wanted}",
            series.columns.len()
        )));
    }
    let mut columns = series.columns.iter();
    // Over the candles every column is a line, on the price axis; bars belong to panels.
    let mut take = |spec: &Labelled, overlay: bool, colours: &mut dyn Iterator<Item = RGBColor>| -> Vec<Drawn<'s>> {
        let name = spec.indicator.def().map_or("", |def| def.name);
        spec.indicator
            .output_names()
            .into_iter()
            .zip(columns.by_ref())
            .map(|(output, (column, values))| {
                let style = match (name, output) {
                    _ if overlay => Style::Line,
                    ("MACD", "MACD") => Style::Histogram,
                    ("VOL", _) => Style::Volume,
                    _ => Style::Line,
                };
                let colour = if style == Style::Line { colours.next().unwrap_or(LINES[0]) } else { LINES[0] };
                Drawn { name: column.clone(), values, colour, style }
            })
            .collect()
    };
    let mut overlay_colours = LINES.into_iter().cycle();
    let overlays = chart.overlays.iter().flat_map(|spec| take(spec, true, &mut overlay_colours)).collect();
    let panels = chart
        .panels
        .iter()
        .map(|spec| {
            let columns = take(spec, false, &mut LINES.into_iter().cycle());
            let axis = spec.indicator.def().map_or_else(|| spec.label.clone(), |def| def.name.to_string());
            Group { axis, label: spec.label.clone(), columns }
        })
        .collect();
    Ok((overlays, panels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::date::{Date, DateRange};
    use crate::domain::indicators::Indicator;
    use crate::domain::sample;
    use crate::domain::series::{compute, BarColumns};

    fn specs(names: &[(&str, &[f64])]) -> Vec<Labelled> {
        let make = |(name, params): &(&str, &[f64])| {
            let indicator = Indicator::new(name, params, Convention::Cn).unwrap();
            Labelled { label: indicator.label(), indicator }
        };
        names.iter().map(make).collect()
    }

    /// The sample's 2018 with the overlays and panels; `IDC_CHART_OUT` keeps the PNG to
    /// look at.
    #[test]
    fn the_sample_with_overlays_and_three_panels() {
        let bars = BarColumns::from_bars(&sample::bars().unwrap(), None);
        let overlays = specs(&[("MA", &[5.0]), ("MA", &[10.0]), ("BOLL", &[])]);
        let panels = specs(&[("VOL", &[]), ("MACD", &[]), ("KDJ", &[])]);
        let all: Vec<Labelled> = overlays.iter().chain(&panels).cloned().collect();
        let range = DateRange { start: Date::new(2018, 1, 1), end: Date::new(2018, 12, 31) };
        let series = compute(&bars, Adjust::None, Frequency::Daily, &all, range).unwrap();
        let chart = SeriesChart {
            name: "S&P 500",
            frequency: Frequency::Daily,
            convention: Convention::Cn,
            adjust: Adjust::None,
            overlays: &overlays,
            panels: &panels,
        };
        assert_eq!(title(&chart, &series), "S&P 500 · daily · cn · 2018-01-02 to 2018-12-31");
        for (width, height) in [(1280, 800), (320, 240), (8192, 8192)] {
            let size = ChartSize { width, height };
            let (pixels, layout) = render_series_rgb(&series, &chart, size).unwrap();
            assert_eq!(pixels.len(), (width * height * 3) as usize);
            let names: Vec<&str> = layout.panels.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["VOL", "MACD", "KDJ"], "{size}");
            // Stacked top to bottom, none overlapping, the price panel the tallest.
            let mut above = layout.price;
            for (_, plot) in &layout.panels {
                assert!(above.3 < plot.1 && plot.3 <= height as i32, "{size}: {layout:?}");
                assert!(plot.3 - plot.1 < layout.price.3 - layout.price.1, "{size}");
                assert_eq!((plot.0, plot.2), (layout.price.0, layout.price.2), "{size}: x axes aligned");
                above = *plot;
            }
            let legend: Vec<&str> = layout.legends[0].iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(legend, ["MA(5)", "MA(10)", "BOLL(20,2).UPPER", "BOLL(20,2).MID", "BOLL(20,2).LOWER"]);
            for (entries, plot) in
                layout.legends.iter().zip(std::iter::once(&layout.price).chain(layout.panels.iter().map(|p| &p.1)))
            {
                for (name, b) in entries {
                    assert!(b.3 <= plot.1 && b.2 <= width as i32, "{size}: legend {name} {b:?} above {plot:?}");
                }
            }
            let ticks: Vec<&str> = layout.date_ticks.iter().map(|(_, l)| l.as_str()).collect();
            assert!(ticks.iter().all(|l| l.starts_with("2018")) && !ticks.is_empty(), "{size}: {ticks:?}");
            if let Ok(dir) = std::env::var("IDC_CHART_OUT") {
                let png = encode_png(&pixels, size).unwrap();
                std::fs::write(format!("{dir}/v2_{width}x{height}.png"), png).unwrap();
            }
        }
    }

    #[test]
    fn weekly_bars_name_their_frequency_and_a_warm_up_says_so() {
        let bars = BarColumns::from_bars(&sample::bars().unwrap(), None);
        let make = |name: &str| {
            let indicator = Indicator::new(name, &[], Convention::Talib).unwrap();
            Labelled { label: indicator.label(), indicator }
        };
        let (overlays, panels) = (vec![make("EMA")], vec![make("MACD"), make("RSI")]);
        let all: Vec<Labelled> = overlays.iter().chain(&panels).cloned().collect();
        let chart = |frequency| SeriesChart {
            name: "Apple",
            frequency,
            convention: Convention::Talib,
            adjust: Adjust::None,
            overlays: &overlays,
            panels: &panels,
        };
        let size = ChartSize::default();
        let range = DateRange { start: Date::new(2015, 1, 1), end: Date::new(2018, 12, 31) };
        let weekly = compute(&bars, Adjust::None, Frequency::Weekly, &all, range).unwrap();
        assert!(title(&chart(Frequency::Weekly), &weekly).starts_with("Apple · weekly · talib · "));
        let (pixels, layout) = render_series_rgb(&weekly, &chart(Frequency::Weekly), size).unwrap();
        let years: Vec<&str> = layout.date_ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert!(years.iter().all(|l| l.len() == 7 || l.len() == 4), "months or years: {years:?}");
        let first = weekly.bars.date[layout.date_ticks[0].0];
        assert!(first.day() <= 7, "a tick on the first week of its period: {first}");
        // The first 30 daily bars of the history: TA-Lib's MACD has no value yet; RSI(14) has.
        let start = DateRange { start: None, end: Date::new(1999, 2, 16) };
        let early = compute(&bars, Adjust::None, Frequency::Daily, &all, start).unwrap();
        let (early_pixels, early_layout) = render_series_rgb(&early, &chart(Frequency::Daily), size).unwrap();
        assert_eq!(early_layout.panels.len(), 2);
        if let Ok(dir) = std::env::var("IDC_CHART_OUT") {
            std::fs::write(format!("{dir}/v2_weekly.png"), encode_png(&pixels, size).unwrap()).unwrap();
            std::fs::write(format!("{dir}/v2_warm_up.png"), encode_png(&early_pixels, size).unwrap()).unwrap();
        }
    }
}
