//! The chart as a picture: decoded from PNG, checked for size and for each colour in the panel
//! where it belongs.

use idc::domain::analysis::Analysis;
use idc::domain::chart::{self, palette, ChartSize, Layout};
use idc::domain::date::{Date, DateRange};
use idc::domain::macd::{Convention, MacdParams};
use idc::domain::sample;
use plotters::style::RGBColor;

fn sample_analysis() -> Analysis {
    Analysis::new(sample::INSTRUMENT, sample::bars().unwrap(), MacdParams::default(), Convention::Cn).unwrap()
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
    let analysis = sample_analysis();
    let window = analysis.window(range);
    let (_, layout) = chart::render_rgb(window, &analysis.title(window), size).unwrap();
    // Check the PNG as a client gets it, not the buffer behind it.
    let png = chart::render(&analysis, range, size).unwrap();
    let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgb8();
    (decoded, layout)
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
    assert!(first.len() <= 100 * 1024, "a 250-bar chart stays under 100 KB: {} bytes", first.len());

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
