//! Draws a [`Plan`] with plotters: the title, then for each panel from the top its legend, its
//! grid, axes and labels, and its series (candles in the price panel; the histogram and the DIF
//! and DEA lines in the MACD panel). Nothing is measured or placed here; the plan did that.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::layout::{macd_points, Frame, PanelRect, Plan};
use super::legend::Swatch;
use super::text::{self, Label};
use super::Window;
use super::{palette, DrawResult, Rect};

/// Draws the chart of `window` as `plan` lays it out.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    window: &Window<'_>,
    plan: &Plan,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&palette::BACKGROUND)?;
    for label in &plan.title {
        draw_label(root, label)?;
    }
    let mut price = panel(root, plan, &plan.price)?;
    draw_candles(&mut price, plan, window.bars.iter().map(|bar| (bar.open, bar.high, bar.low, bar.close)))?;
    let [macd_panel] = &plan.panels[..] else {
        return Err(format!("the chart has one panel below the price panel, not {}", plan.panels.len()).into());
    };
    draw_legend(root, macd_panel, plan.line_width)?;
    let mut macd = panel(root, plan, macd_panel)?;
    match &macd_panel.message {
        Some((lines, _)) => {
            for line in lines {
                draw_label(root, line)?;
            }
        }
        None => draw_macd(&mut macd, window, plan)?,
    }
    Ok(())
}

pub(super) fn draw_label<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, label: &Label) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    if label.upwards {
        text::draw_upwards(root, &label.text, label.size, label.at, &palette::TEXT)
    } else {
        text::draw(root, &label.text, label.size, label.at, &palette::TEXT)
    }
}

/// A linear axis with grid lines and labels at the given values only.
pub(super) struct Axis {
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

pub(super) type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<Axis, Axis>>;

/// The panel `rect` as a plotters chart over the bars' x positions (bar `i` at `x = i`), with
/// its grid, axes and labels drawn: plotters draws the grid lines and tick marks at the plan's
/// ticks only, and the text is drawn glyph by glyph (see [`text`]).
pub(super) fn panel<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    plan: &Plan,
    rect: &PanelRect,
) -> DrawResult<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    panel_in(root, &plan.frame, plan, rect)
}

/// [`panel`] with a frame of its own: the v2 chart's panels above the last have no date labels,
/// so a smaller label area below them.
pub(super) fn panel_in<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    frame: &Frame,
    plan: &Plan,
    rect: &PanelRect,
) -> DrawResult<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let area = root.clone().shrink((rect.area.0, rect.area.1), (rect.area.2 - rect.area.0, rect.area.3 - rect.area.1));
    let y_values = rect.y_ticks.iter().map(|(v, _)| *v).collect();
    let mut chart = ChartBuilder::on(&area)
        .margin_left(frame.left)
        .margin_right(frame.right)
        .margin_top(frame.margin)
        .margin_bottom(frame.margin)
        .x_label_area_size(frame.x_label_area)
        .y_label_area_size(frame.y_label_area)
        .build_cartesian_2d(
            Axis::new(plan.x_range.clone(), plan.x_ticks.clone()),
            Axis::new(rect.y_range.clone(), y_values),
        )?;
    // The plan placed the labels for this plotting area; a plotters that put it elsewhere would
    // misplace every one of them.
    let (x, y) = chart.plotting_area().get_pixel_range();
    let actual: Rect = (x.start, y.start, x.end, y.end);
    if actual != rect.plot {
        return Err(format!("the {} panel is at {actual:?}, not at {:?} as laid out", rect.name, rect.plot).into());
    }
    chart
        .configure_mesh()
        .max_light_lines(0)
        .bold_line_style(palette::GRID.stroke_width(frame.stroke))
        .axis_style(palette::AXIS.stroke_width(frame.stroke))
        .set_all_tick_mark_size(frame.tick)
        .x_label_formatter(&|_| String::new())
        .y_label_formatter(&|_| String::new())
        // plotters still lays out the empty labels, in a font it must have.
        .label_style(text::Face::Latin.style(frame.label, &palette::TEXT))
        .draw()?;
    for label in &rect.labels {
        draw_label(root, label)?;
    }
    Ok(chart)
}

/// The legend above `panel`: each entry's swatch, then its name.
pub(super) fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panel: &PanelRect,
    line_width: u32,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    for entry in &panel.legend {
        match &entry.swatch {
            Swatch::Line { from, to, colour } => {
                root.draw(&PathElement::new(vec![*from, *to], colour.stroke_width(line_width)))?;
            }
            Swatch::Bars { rising, falling } => {
                root.draw(&Rectangle::new([(rising.0, rising.1), (rising.2, rising.3)], palette::RISING.filled()))?;
                root.draw(&Rectangle::new(
                    [(falling.0, falling.1), (falling.2, falling.3)],
                    palette::FALLING.filled(),
                ))?;
            }
        }
        draw_label(root, &entry.label)?;
    }
    Ok(())
}

/// Candles at x = 0, 1, ... from (open, high, low, close), rising red and falling green.
pub(super) fn draw_candles<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    plan: &Plan,
    bars: impl Iterator<Item = (f64, f64, f64, f64)>,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    chart.draw_series(bars.enumerate().map(|(i, (open, high, low, close))| {
        CandleStick::new(
            i as f64,
            open,
            high,
            low,
            close,
            palette::RISING.filled().stroke_width(plan.wick),
            palette::FALLING.filled().stroke_width(plan.wick),
            plan.candle_width,
        )
    }))?;
    Ok(())
}

/// The MACD series: the histogram first, so the lines are drawn over it, then the zero line,
/// then DIF and DEA (a disc each when there is one value).
fn draw_macd<DB: DrawingBackend>(macd: &mut Chart<'_, DB>, window: &Window<'_>, plan: &Plan) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let points = macd_points(window);
    let n = window.bars.len();
    let plot_width = plan.price.plot.2 - plan.price.plot.0;
    // As wide as a candle body, in bar units.
    let half_bar = f64::from(plan.candle_width) / 2.0 * n as f64 / f64::from(plot_width);
    macd.draw_series(points.iter().map(|&(x, p)| {
        let colour = if p.macd >= 0.0 { palette::RISING } else { palette::FALLING };
        Rectangle::new([(x - half_bar, 0.0), (x + half_bar, p.macd)], colour.filled())
    }))?;
    macd.draw_series(std::iter::once(PathElement::new(
        vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
        palette::AXIS.stroke_width(plan.frame.stroke),
    )))?;
    if let [(x, p)] = points[..] {
        // A disc for each, DIF smaller where it would hide DEA, so both colours show even when
        // the two values are equal.
        let radius = plan.marker;
        let (dif, dea) = (macd.backend_coord(&(x, p.dif)), macd.backend_coord(&(x, p.dea)));
        let apart = (dif.1 - dea.1).abs() >= 2 * radius;
        let dif_radius = if apart { radius } else { (radius * 3 / 5).max(2) };
        macd.draw_series([
            Circle::new((x, p.dea), radius, palette::DEA.filled()),
            Circle::new((x, p.dif), dif_radius, palette::DIF.filled()),
        ])?;
    } else {
        let dif = points.iter().map(|&(x, p)| (x, p.dif));
        macd.draw_series(LineSeries::new(dif, palette::DIF.stroke_width(plan.line_width)))?;
        let dea = points.iter().map(|&(x, p)| (x, p.dea));
        macd.draw_series(LineSeries::new(dea, palette::DEA.stroke_width(plan.line_width)))?;
    }
    Ok(())
}
