//! Draws a [`V2Plan`]: the title, the overlays' legend, the candles and the overlay lines over
//! them, then each panel's legend, grid and columns (bars first, so lines are drawn over them).
//! The grid, axes, labels, legends and candles are drawn by the article's chart's `paint`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::paint::{draw_candles, draw_label, draw_legend, panel_in, Chart};
use super::v2::{Drawn, Group, Style};
use super::v2_layout::V2Plan;
use super::{palette, DrawResult};
use crate::domain::series::BarColumns;

/// Draws the chart of `bars` with `overlays` and `panels` as `v2` lays it out.
pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    bars: &BarColumns,
    overlays: &[Drawn<'_>],
    panels: &[Group<'_>],
    v2: &V2Plan,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let plan = &v2.plan;
    if plan.panels.len() != panels.len() {
        return Err(format!("{} panels laid out for {} asked", plan.panels.len(), panels.len()).into());
    }
    root.fill(&palette::BACKGROUND)?;
    for label in &plan.title {
        draw_label(root, label)?;
    }
    draw_legend(root, &plan.price, plan.line_width)?;
    let mut price = panel_in(root, v2.frame(None), plan, &plan.price)?;
    let ohlc = (0..bars.len()).map(|i| (bars.open[i], bars.high[i], bars.low[i], bars.close[i]));
    draw_candles(&mut price, plan, ohlc)?;
    for column in overlays {
        draw_line(&mut price, column, v2)?;
    }
    for (i, (rect, group)) in plan.panels.iter().zip(panels).enumerate() {
        draw_legend(root, rect, plan.line_width)?;
        let mut chart = panel_in(root, v2.frame(Some(i)), plan, rect)?;
        if let Some((lines, _)) = &rect.message {
            for line in lines {
                draw_label(root, line)?;
            }
            continue;
        }
        for column in group.columns.iter().filter(|c| c.style != Style::Line) {
            draw_bars(&mut chart, column, bars, v2)?;
        }
        if group.columns.iter().any(|c| c.style == Style::Histogram) {
            let zero = vec![(plan.x_range.start, 0.0), (plan.x_range.end, 0.0)];
            chart
                .draw_series(std::iter::once(PathElement::new(zero, palette::AXIS.stroke_width(plan.frame.stroke))))?;
        }
        for column in group.columns.iter().filter(|c| c.style == Style::Line) {
            draw_line(&mut chart, column, v2)?;
        }
    }
    Ok(())
}

/// A column as a line through its values; a gap where a value is missing (the warm-up), and a
/// disc for a value alone between gaps, which would otherwise make no line.
fn draw_line<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, column: &Drawn<'_>, v2: &V2Plan) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let style = column.colour.stroke_width(v2.plan.line_width);
    let mut run: Vec<(f64, f64)> = Vec::new();
    let values = column.values.iter().copied().chain(std::iter::once(f64::NAN));
    for (i, v) in values.enumerate() {
        if v.is_finite() {
            run.push((i as f64, v));
            continue;
        }
        match run.len() {
            0 => {}
            1 => {
                chart.draw_series(std::iter::once(Circle::new(run[0], v2.plan.marker, column.colour.filled())))?;
            }
            _ => {
                chart.draw_series(LineSeries::new(run.iter().copied(), style))?;
            }
        }
        run.clear();
    }
    Ok(())
}

/// A column as bars from zero, as wide as a candle body: a histogram red above zero and green
/// below, volume as its bar's candle (red when it closed at or above its open).
fn draw_bars<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    column: &Drawn<'_>,
    bars: &BarColumns,
    v2: &V2Plan,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let plan = &v2.plan;
    let n = column.values.len();
    let plot_width = plan.price.plot.2 - plan.price.plot.0;
    let half_bar = f64::from(plan.candle_width) / 2.0 * n as f64 / f64::from(plot_width.max(1));
    let colour = |i: usize, v: f64| {
        let rising = match column.style {
            Style::Volume => bars.close[i] >= bars.open[i],
            _ => v >= 0.0,
        };
        if rising {
            palette::RISING
        } else {
            palette::FALLING
        }
    };
    chart.draw_series(column.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| {
        let x = i as f64;
        Rectangle::new([(x - half_bar, 0.0), (x + half_bar, v)], colour(i, v).filled())
    }))?;
    Ok(())
}
