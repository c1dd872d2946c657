//! Chart render and PNG encode: time and size per compression/filter choice, on one year (250
//! bars) of the embedded sample at 1280x800. Prints a table; run with `cargo bench --bench chart`.
//!
//! Times are medians of repeated runs in one process, so the rows compare with each other even
//! on a shared, noisy machine.

use std::time::{Duration, Instant};

use idc::domain::analysis::Analysis;
use idc::domain::chart::{self, ChartSize};
use idc::domain::macd::{Convention, MacdParams};
use idc::domain::sample;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};

const RUNS: usize = 31;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = None;
    let samples = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            out = Some(f());
            start.elapsed()
        })
        .collect();
    (median(samples), out.expect("RUNS > 0"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let analysis = Analysis::new(sample::INSTRUMENT, sample::bars().unwrap(), MacdParams::default(), Convention::Cn);
    let window = analysis.last_bars(250);
    let size = ChartSize::default();
    let title = analysis.title(window);

    let (draw, (pixels, _)) = time(|| chart::render_rgb(window, &title, size).unwrap());
    println!("chart: {} bars, {}x{}, median of {RUNS} runs", window.bars.len(), size.width, size.height);
    println!("draw (plotters, in memory): {:.2} ms", ms(draw));
    println!();
    println!("| compression | filter   | encode ms | draw+encode ms | PNG KB | 1 KiB chunks |");
    println!("|-------------|----------|-----------|----------------|--------|--------------|");
    let compressions =
        [("Fast", CompressionType::Fast), ("Default", CompressionType::Default), ("Best", CompressionType::Best)];
    let filters = [
        ("None", FilterType::NoFilter),
        ("Sub", FilterType::Sub),
        ("Up", FilterType::Up),
        ("Paeth", FilterType::Paeth),
        ("Adaptive", FilterType::Adaptive),
    ];
    for (cname, compression) in compressions {
        for (fname, filter) in filters {
            let (encode, png) = time(|| {
                let mut png = Vec::new();
                PngEncoder::new_with_quality(&mut png, compression, filter)
                    .write_image(&pixels, size.width, size.height, ExtendedColorType::Rgb8)
                    .unwrap();
                png
            });
            println!(
                "| {cname:<11} | {fname:<8} | {:>9.2} | {:>14.2} | {:>6.1} | {:>12} |",
                ms(encode),
                ms(draw + encode),
                png.len() as f64 / 1024.0,
                png.len().div_ceil(1024)
            );
        }
    }
    let (total, png) = time(|| analysis.recent_chart(250, size).unwrap());
    println!();
    println!("as served (chart::encode_png): {:.2} ms, {:.1} KB", ms(total), png.len() as f64 / 1024.0);
}
