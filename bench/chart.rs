//! Chart render and PNG encode: time and size per compression/filter choice, on one year (250
//! bars) of the embedded sample at 1280x800, and the same chart drawn by matplotlib, the
//! article's tool (`bench/matplotlib_chart.py`). Prints tables; run with `scripts/bench.sh`,
//! which installs matplotlib into `.venv`, or `cargo bench --bench chart`.
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

/// idc_server's allocator and malloc thresholds (idc_core::memory), so that what is computed
/// here in-process is computed as the server computes it.
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

fn main() {
    let _ = idc_core::memory::fix_malloc_thresholds();
    let analysis =
        Analysis::new(sample::INSTRUMENT, sample::bars().unwrap(), MacdParams::default(), Convention::Cn).unwrap();
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
    let (total, png) = time(|| chart::render_recent(&analysis, 250, size).unwrap());
    println!();
    println!("| renderer                         | draw+encode ms | PNG KB | speed vs matplotlib |");
    println!("|----------------------------------|----------------|--------|---------------------|");
    match matplotlib() {
        Ok((mpl_ms, mpl_bytes)) => {
            println!(
                "| matplotlib Agg (the article's)   | {mpl_ms:>14.2} | {:>6.1} | {:>18.1}x |",
                mpl_bytes / 1024.0,
                1.0
            );
            println!(
                "| plotters + image (idc, served)   | {:>14.2} | {:>6.1} | {:>18.1}x |",
                ms(total),
                png.len() as f64 / 1024.0,
                mpl_ms / ms(total)
            );
        }
        Err(why) => {
            println!("| matplotlib Agg (the article's)   | not run: {why}");
            println!("| plotters + image (idc, served)   | {:>14.2} | {:>6.1} |", ms(total), png.len() as f64 / 1024.0);
        }
    }
}

/// Median ms and PNG bytes of matplotlib drawing the same chart, from `bench/matplotlib_chart.py`.
fn matplotlib() -> Result<(f64, f64), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("IDC_PYTHON").map_or_else(|| root.join(".venv/bin/python"), Into::into);
    let out = std::process::Command::new(&python)
        .arg(root.join("bench/matplotlib_chart.py"))
        .args(["--runs", &RUNS.to_string()])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{} (use scripts/bench.sh)", stderr.lines().last().unwrap_or("failed")));
    }
    // One line of JSON; two numbers are all we need from it.
    let text = String::from_utf8_lossy(&out.stdout);
    let number = |key: &str| -> Result<f64, String> {
        let start = text.find(&format!("\"{key}\": ")).ok_or(format!("no {key} in {text}"))? + key.len() + 4;
        let end = text[start..].find([',', '}']).ok_or("bad JSON")? + start;
        text[start..end].trim().parse().map_err(|e| format!("{key}: {e}"))
    };
    Ok((number("median_ms")?, number("png_bytes")?))
}
