//! The chart as a picture: decoded from PNG, checked for size and for each colour in the panel
//! where it belongs, and at the edges (one bar, no MACD yet, the smallest and largest sizes,
//! Chinese and very long instrument names) for what a person would see.

use idc::domain::analysis::Analysis;
use idc::domain::chart::{self, palette, ChartSize, Layout, Rect};
use idc::domain::date::{Date, DateRange};
use idc::domain::macd::{Convention, MacdParams};
use idc::domain::sample;
use plotters::style::RGBColor;

fn sample_analysis() -> Analysis {
    analysis(sample::INSTRUMENT, Convention::Cn)
}

fn analysis(instrument: &str, convention: Convention) -> Analysis {
    Analysis::new(instrument, sample::bars().unwrap(), MacdParams::default(), convention).unwrap()
}

fn year_2018() -> DateRange {
    DateRange { start: Date::new(2018, 1, 1), end: Date::new(2018, 12, 31) }
}

/// Pixels of exactly `colour` inside `area` (left, top, right, bottom) of a decoded image.
fn count(image: &image::RgbImage, area: (i32, i32, i32, i32), colour: RGBColor) -> usize {
    let (left, top, right, bottom) = area;
    let mut n = 0;
    for y in top.max(0)..bottom.min(image.height() as i32) {
        for x in left.max(0)..right.min(image.width() as i32) {
            if image.get_pixel(x as u32, y as u32).0 == [colour.0, colour.1, colour.2] {
                n += 1;
            }
        }
    }
    n
}

fn render(range: DateRange, size: ChartSize) -> (image::RgbImage, Layout) {
    render_of(&sample_analysis(), range, size)
}

fn render_of(analysis: &Analysis, range: DateRange, size: ChartSize) -> (image::RgbImage, Layout) {
    let window = analysis.window(range);
    render_titled(analysis, range, &analysis.title(window), size)
}

/// The chart with any title, decoded from its PNG as a client gets it, not the buffer behind it.
fn render_titled(analysis: &Analysis, range: DateRange, title: &str, size: ChartSize) -> (image::RgbImage, Layout) {
    let window = analysis.window(range);
    let (_, layout) = chart::render_rgb(window, title, size).unwrap();
    let png = chart::render_png(window, title, size).unwrap();
    let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgb8();
    assert_eq!(decoded.dimensions(), (size.width, size.height));
    (decoded, layout)
}

fn size(width: u32, height: u32) -> ChartSize {
    ChartSize { width, height }
}

fn day(y: u16, m: u8, d: u8) -> DateRange {
    DateRange { start: Date::new(y, m, d), end: Date::new(y, m, d) }
}

/// A pixel that is not the background: text, its anti-aliased edges, lines, grid.
fn inked(image: &image::RgbImage, x: i32, y: i32) -> bool {
    let [r, g, b] = image.get_pixel(x as u32, y as u32).0;
    let bg = palette::BACKGROUND;
    (i32::from(r) - i32::from(bg.0)).abs()
        + (i32::from(g) - i32::from(bg.1)).abs()
        + (i32::from(b) - i32::from(bg.2)).abs()
        > 30
}

/// A dark pixel: text (even a thin minus sign) or an axis, not a light grid line.
fn dark(image: &image::RgbImage, x: i32, y: i32) -> bool {
    let [r, g, b] = image.get_pixel(x as u32, y as u32).0;
    u32::from(r) + u32::from(g) + u32::from(b) < 3 * 200
}

/// The smallest rectangle around the pixels of `area` that `test` picks, if any.
fn ink_box(image: &image::RgbImage, area: Rect, test: fn(&image::RgbImage, i32, i32) -> bool) -> Option<Rect> {
    let (left, top, right, bottom) = area;
    let mut found: Option<Rect> = None;
    for y in top.max(0)..bottom.min(image.height() as i32) {
        for x in left.max(0)..right.min(image.width() as i32) {
            if test(image, x, y) {
                let b = found.get_or_insert((x, y, x + 1, y + 1));
                *b = (b.0.min(x), b.1.min(y), b.2.max(x + 1), b.3.max(y + 1));
            }
        }
    }
    found
}

/// The dark pixels of `area`, cropped to their bounding box: a glyph or a label as a bitmap.
fn bitmap(image: &image::RgbImage, area: Rect) -> Vec<Vec<bool>> {
    let Some((left, top, right, bottom)) = ink_box(image, area, dark) else { return Vec::new() };
    (top..bottom).map(|y| (left..right).map(|x| dark(image, x, y)).collect()).collect()
}

/// How alike two bitmaps are, aligned at their top-left corners: shared dark pixels over all
/// the dark pixels of either (1 for the same picture).
fn likeness(a: &[Vec<bool>], b: &[Vec<bool>]) -> f64 {
    let at = |m: &[Vec<bool>], x: usize, y: usize| m.get(y).and_then(|row| row.get(x)).copied().unwrap_or(false);
    let (h, w) = (a.len().max(b.len()), a.iter().chain(b).map(Vec::len).max().unwrap_or(0));
    let (mut both, mut either) = (0, 0);
    for y in 0..h {
        for x in 0..w {
            both += usize::from(at(a, x, y) && at(b, x, y));
            either += usize::from(at(a, x, y) || at(b, x, y));
        }
    }
    if either == 0 {
        1.0
    } else {
        both as f64 / either as f64
    }
}

/// The tick labels at the left of a panel's plotting area, each as a bitmap: the columns from
/// the axis leftwards up to the first gap of 5 blank columns (the axis title lies beyond it; a
/// decimal point leaves 2 or 3 at 1280x800), cut into rows of ink.
fn tick_labels(image: &image::RgbImage, plot: Rect) -> Vec<Vec<Vec<bool>>> {
    let (left, top, _, bottom) = plot;
    let column_inked = |x: i32| (top..bottom).any(|y| dark(image, x, y));
    // Skip the axis and its tick marks, then take the labels' columns up to a gap of 5.
    let mut x = left - 1;
    while x > 0 && column_inked(x) {
        x -= 1;
    }
    while x > 0 && !column_inked(x) {
        x -= 1;
    }
    let right = x + 1;
    let mut blank = 0;
    while x > 0 && blank < 5 {
        blank = if column_inked(x) { 0 } else { blank + 1 };
        x -= 1;
    }
    let columns = (x + 1, right);
    let row_inked = |y: i32| (columns.0..columns.1).any(|x| dark(image, x, y));
    let mut labels = Vec::new();
    let mut y = top;
    while y < bottom {
        if row_inked(y) {
            let start = y;
            while y < bottom && row_inked(y) {
                y += 1;
            }
            labels.push(bitmap(image, (columns.0, start, columns.1, y)));
        }
        y += 1;
    }
    labels
}

#[test]
fn each_colour_is_in_its_panel() {
    let (image, layout) = render(year_2018(), ChartSize::default());
    assert_eq!(image.dimensions(), (1280, 800));
    let (price, macd) = (layout.price, layout.macd);
    assert!(price.3 <= macd.1, "the price panel is above the MACD panel: {layout:?}");

    // Candles: 2018 had rising and falling days, drawn as filled bodies.
    assert!(count(&image, price, palette::RISING) > 1000, "rising candles");
    assert!(count(&image, price, palette::FALLING) > 1000, "falling candles");
    // The MACD lines are in the MACD panel only.
    assert!(count(&image, macd, palette::DIF) > 500, "DIF line");
    assert!(count(&image, macd, palette::DEA) > 500, "DEA line");
    assert_eq!(count(&image, price, palette::DIF), 0, "DIF in the price panel");
    assert_eq!(count(&image, price, palette::DEA), 0, "DEA in the price panel");
    // The histogram has both signs in 2018.
    assert!(count(&image, macd, palette::RISING) > 300, "positive histogram bars");
    assert!(count(&image, macd, palette::FALLING) > 300, "negative histogram bars");
    // Nothing is drawn outside the picture's panels but text, axes and the legend key.
    let outside = (0, 0, 1280, price.1 - 1);
    assert_eq!(count(&image, outside, palette::RISING) + count(&image, outside, palette::FALLING), 0);
}

#[test]
fn positive_bars_sit_above_zero_and_negative_below() {
    // October 2018 to year end: MACD went strongly negative.
    let range = DateRange { start: Date::new(2018, 10, 1), end: Date::new(2018, 12, 31) };
    let analysis = sample_analysis();
    let window = analysis.window(range);
    let negative = window.macd.iter().flatten().filter(|p| p.macd < 0.0).count();
    let positive = window.macd.len() - negative;
    assert!(negative > positive, "the period is mostly negative: {negative} vs {positive}");
    let (image, layout) = render(range, ChartSize::default());
    let (left, top, right, bottom) = layout.macd;
    // The lowest green pixel is well below the highest red one.
    let rows_with = |colour: RGBColor| -> Vec<i32> {
        (top..bottom).filter(|&y| count(&image, (left, y, right, y + 1), colour) > 0).collect()
    };
    let (red, green) = (rows_with(palette::RISING), rows_with(palette::FALLING));
    let (Some(lowest_red), Some(lowest_green)) = (red.iter().max(), green.iter().max()) else {
        panic!("both signs of histogram bar are drawn: {} red rows, {} green rows", red.len(), green.len());
    };
    assert!(lowest_green > lowest_red, "negative bars extend further down");
}

#[test]
fn the_same_input_gives_the_same_bytes_and_sizes_are_honoured() {
    let analysis = sample_analysis();
    let first = chart::render(&analysis, year_2018(), ChartSize::default()).unwrap();
    let second = chart::render(&analysis, year_2018(), ChartSize::default()).unwrap();
    assert_eq!(first, second);
    // 105 KB since the labels scale and sit apart (from 97 KB): about 1.4 KB per date label.
    assert!(first.len() <= 110 * 1024, "a 250-bar chart stays under 110 KB: {} bytes", first.len());

    let small = chart::render(&analysis, year_2018(), ChartSize { width: 640, height: 400 }).unwrap();
    let decoded = image::load_from_memory(&small).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (640, 400));
}

#[test]
fn an_empty_window_is_an_error_not_a_picture() {
    let analysis = sample_analysis();
    let empty = DateRange { start: Date::new(2030, 1, 1), end: None };
    assert!(matches!(chart::render(&analysis, empty, ChartSize::default()), Err(chart::ChartError::Empty)));
}

#[test]
fn one_bar_and_five_thousand_bars_both_render() {
    let analysis = sample_analysis();
    let one = DateRange { start: Date::new(2018, 12, 31), end: None };
    let all = DateRange::default();
    for range in [one, all] {
        let png = chart::render(&analysis, range, ChartSize::default()).unwrap();
        assert_eq!(image::load_from_memory(&png).unwrap().width(), 1280);
    }
}

#[test]
fn one_bar_shows_its_dif_and_dea_inside_the_axis() {
    // 2018-12-31: DIF and DEA about -66 and -62, the histogram about -7.
    for chart_size in [ChartSize::default(), size(320, 240), size(4096, 4096)] {
        let (image, layout) = render(day(2018, 12, 31), chart_size);
        let (dif, dea) = (count(&image, layout.macd, palette::DIF), count(&image, layout.macd, palette::DEA));
        let min = (chart_size.height / 40) as usize;
        assert!(dif >= min && dea >= min, "{chart_size}: DIF {dif} and DEA {dea} pixels, want {min} of each");
        // Both sit inside the plotting area, away from its edges: the axis was made for them.
        let (left, top, right, bottom) = layout.macd;
        for colour in [palette::DIF, palette::DEA] {
            let edges = count(&image, (left, top, right, top + 2), colour)
                + count(&image, (left, bottom - 2, right, bottom), colour);
            assert_eq!(edges, 0, "{chart_size}: a marker touches the panel's edge");
        }
    }
}

#[test]
fn a_flat_macd_gets_tick_labels_that_differ() {
    // The first bar in the cn convention: DIF, DEA and the histogram are all 0.
    let (image, layout) = render(day(1999, 1, 4), ChartSize::default());
    let labels = tick_labels(&image, layout.macd);
    assert!(labels.len() >= 2, "the MACD axis has {} labels", labels.len());
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            assert!(a != b, "two MACD tick labels look the same");
        }
    }
    assert!(count(&image, layout.macd, palette::DIF) > 0 && count(&image, layout.macd, palette::DEA) > 0);
}

#[test]
fn tick_labels_never_repeat() {
    for (lo, hi) in [(0.0, 0.0), (-1e-9, 1e-9), (2500.0, 2500.0 + 1e-7), (-66.0, 4.0), (0.001, 0.0012), (1e6, 3e6)] {
        for max in 1..=8 {
            let ticks = chart::axis_ticks(lo, hi, max);
            assert!(!ticks.is_empty(), "{lo}..{hi}");
            let labels: std::collections::BTreeSet<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
            assert_eq!(labels.len(), ticks.len(), "{lo}..{hi} at most {max}: {ticks:?}");
            assert!(ticks.iter().all(|(v, _)| (lo..=hi).contains(v) || lo == hi), "{ticks:?}");
        }
    }
}

#[test]
fn a_range_in_the_warm_up_says_so_instead_of_drawing_an_axis() {
    let talib = analysis(sample::INSTRUMENT, Convention::Talib);
    let range = DateRange { start: Date::new(1999, 1, 1), end: Date::new(1999, 2, 10) };
    let window = talib.window(range);
    assert!(window.macd.iter().all(Option::is_none), "the range lies in TA-Lib's 33-bar warm-up");
    assert_eq!(window.warm_up_bars(), 33);
    let message = chart::no_macd_message(&window).unwrap();
    assert!(message.contains("no MACD yet") && message.contains("33 bars"), "{message}");
    // The warm-up is the bars without a value at the start of the full history.
    let all = talib.window(DateRange::default());
    assert_eq!(all.macd.iter().take_while(|p| p.is_none()).count(), window.warm_up_bars());
    assert_eq!(chart::no_macd_message(&all), None);

    for chart_size in [ChartSize::default(), size(320, 240)] {
        let (image, layout) = render_of(&talib, range, chart_size);
        // Words stand in the MACD panel: grey pixels of text, not the axis colour of a line.
        let (left, top, right, bottom) = layout.macd;
        let mut words = 0;
        for y in top..bottom {
            for x in left..right {
                let [r, g, b] = image.get_pixel(x as u32, y as u32).0;
                let line = [palette::AXIS.0, palette::GRID.0].contains(&r);
                words += usize::from(r == g && g == b && r < 200 && !line);
            }
        }
        assert!(words > 100, "{chart_size}: {words} pixels of text in the MACD panel");
        assert_eq!(layout.message.map(|m| m.1 >= top && m.3 <= bottom), Some(true), "{layout:?}");
        // No axis of made-up numbers: no tick label repeats another (there are none).
        let labels = tick_labels(&image, layout.macd);
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(a != b, "{chart_size}: two MACD tick labels look the same");
            }
        }
        assert_eq!(count(&image, layout.macd, palette::DIF) + count(&image, layout.macd, palette::DEA), 0);
    }
}

#[test]
fn legend_entries_stand_apart_and_clear_of_the_date_labels() {
    for chart_size in [size(320, 240), ChartSize::default(), size(4096, 4096), size(8192, 8192)] {
        let (image, layout) = render(year_2018(), chart_size);
        let legend = layout.legend;
        let grow = |r: Rect| (r.0 - 1, r.1 - 1, r.2 + 1, r.3 + 1);
        for (i, entry) in legend.iter().enumerate() {
            assert!(entry.0 >= 0 && entry.2 <= chart_size.width as i32, "{chart_size}: entry {i} {entry:?}");
            assert!(ink_box(&image, *entry, dark).is_some(), "{chart_size}: entry {i} is empty");
            if let Some(next) = legend.get(i + 1) {
                let gap = next.0 - entry.2;
                assert!(gap >= 4, "{chart_size}: legend entries {i} and {} are {gap} px apart: {legend:?}", i + 1);
            }
        }
        assert!(count(&image, legend[0], palette::DIF) > 0 && count(&image, legend[1], palette::DEA) > 0);
        assert!(count(&image, legend[2], palette::RISING) > 0 && count(&image, legend[2], palette::FALLING) > 0);
        // The boxes hold all that is drawn at the legend's height...
        let (top, bottom) = (legend.iter().map(|r| r.1).min().unwrap(), legend.iter().map(|r| r.3).max().unwrap());
        for y in top..bottom {
            for x in 0..chart_size.width as i32 {
                let inside = legend.iter().any(|r| {
                    let r = grow(*r);
                    (r.0..r.2).contains(&x) && (r.1..r.3).contains(&y)
                });
                assert!(inside || !inked(&image, x, y), "{chart_size}: ink at ({x}, {y}) outside the legend entries");
            }
        }
        // ...and the date labels of the price panel are all above them, with blank rows between.
        let dates = layout.price_dates;
        assert!(ink_box(&image, dates, dark).is_some(), "{chart_size}: no date labels");
        let below_dates = ink_box(&image, (0, dates.3 + 1, chart_size.width as i32, top - 1), inked);
        assert_eq!(below_dates, None, "{chart_size}: ink between the date labels {dates:?} and the legend");
        assert!(dates.3 < top, "{chart_size}: date labels {dates:?} reach the legend {legend:?}");
    }
}

#[test]
fn text_scales_with_the_chart_and_stays_legible() {
    let title_height = |chart_size: ChartSize| {
        let (image, layout) = render(year_2018(), chart_size);
        let (_, top, _, bottom) = ink_box(&image, (0, 0, chart_size.width as i32, layout.price.1), dark).unwrap();
        bottom - top
    };
    let (small, default, large) =
        (title_height(size(320, 240)), title_height(ChartSize::default()), title_height(size(8192, 8192)));
    // "S&P 500 ... (12,26,9)": capitals, parentheses and descenders, about an em high.
    assert!(small >= 9, "the title at 320x240 is {small} px high");
    assert!(default >= 15, "the title at 1280x800 is {default} px high");
    let ratio = f64::from(large) / f64::from(default);
    assert!((5.0..8.0).contains(&ratio), "the title grows {ratio:.1} times from 1280x800 to 8192x8192");
}

#[test]
fn chinese_names_are_drawn_with_chinese_glyphs() {
    let analysis = sample_analysis();
    for chart_size in [ChartSize::default(), size(320, 240)] {
        let (image, layout) = render_titled(&analysis, year_2018(), "贵州茅台", chart_size);
        let (left, top, right, bottom) =
            ink_box(&image, (0, 0, chart_size.width as i32, layout.price.1), dark).unwrap();
        // Four characters of one em each: four cells, each a different picture (missing glyphs
        // would all be the same box).
        let cell = f64::from(right - left) / 4.0;
        let glyphs: Vec<_> = (0..4)
            .map(|i| {
                let (l, r) =
                    (left + (f64::from(i) * cell).round() as i32, left + (f64::from(i + 1) * cell).round() as i32);
                bitmap(&image, (l, top, r, bottom))
            })
            .collect();
        for (i, a) in glyphs.iter().enumerate() {
            let ink: usize = a.iter().flatten().filter(|&&p| p).count();
            assert!(ink > (bottom - top) as usize, "{chart_size}: character {i} has {ink} dark pixels");
            for (j, b) in glyphs.iter().enumerate().skip(i + 1) {
                let alike = likeness(a, b);
                assert!(alike < 0.6, "{chart_size}: characters {i} and {j} look the same ({alike:.2})");
            }
        }
        // A Chinese character is about as high as it is wide.
        let (w, h) = (cell, f64::from(bottom - top));
        assert!(h > w * 0.7 && h < w * 1.3, "{chart_size}: cells of {w:.0} x {h} px");
    }
    // With the code after it, through the server's title.
    let moutai = analysis_named("贵州茅台 600519.SH");
    let (image, layout) = render_of(&moutai, year_2018(), ChartSize::default());
    assert!(ink_box(&image, layout.title, dark).is_some());
}

fn analysis_named(instrument: &str) -> Analysis {
    analysis(instrument, Convention::Talib)
}

#[test]
fn a_long_name_is_fitted_inside_the_picture() {
    let name = "A very long instrument name that goes on and on, Incorporated, Class A common shares, ".repeat(3);
    let long = analysis(&name, Convention::Cn);
    for chart_size in [ChartSize::default(), size(320, 240), size(4096, 4096)] {
        let (image, layout) = render_of(&long, year_2018(), chart_size);
        let width = chart_size.width as i32;
        let (left, _, right, _) = ink_box(&image, (0, 0, width, layout.price.1), inked).unwrap();
        let margin = (width / 200).max(4);
        assert!(left >= margin && right <= width - margin, "{chart_size}: the title spans {left}..{right} of {width}");
        // The title's box, as laid out, says the same.
        assert!(layout.title.0 >= margin && layout.title.2 <= width - margin, "{layout:?}");
    }
}
