//! Chart v2 first render (issue 24, part 5): the v2 `Chart`'s picture of the S&P 500's last 250
//! bars (candles, MA(5), MA(10), MA(20) and BOLL over them, VOL, MACD and KDJ panels, 1280x800
//! PNG), drawn through the domain as the server draws a chart it has not cached (the series
//! computed from the bars, drawn, encoded), against mplfinance 0.12 drawing the same chart
//! (`bench/mplfinance_chart.py`, a fresh figure per call); and the candles alone, on both sides.
//!
//! Before timing, both pictures are checked: each PNG decodes to 1280x800, and idc's layout has
//! the three panels and the overlays' legend. Prints a Markdown table under a `###` heading and a
//! last line `CHART_V2 {json}` that bench/lib/chart_v2.py reads; `--out PATH` writes idc's PNG
//! there (bench/run checks that the server's cached chart is those bytes). `--smoke`: 3 runs.
//! The peer is required: without mplfinance the bench fails (bench/run installs it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use idc::domain::chart::{self, ChartSize, SeriesChart, SeriesLayout};
use idc::domain::date::DateRange;
use idc::domain::indicators::{Convention, Indicator};
use idc::domain::sample;
use idc::domain::series::{self, Adjust, BarColumns, Frequency, Labelled};

const BARS: usize = 250;

fn labelled(specs: &[(&str, &[f64])]) -> Vec<Labelled> {
    let make = |(name, params): &(&str, &[f64])| {
        let indicator = Indicator::new(name, params, Convention::Cn).expect("a built-in");
        Labelled { label: indicator.label(), indicator }
    };
    specs.iter().map(make).collect()
}

/// One first render, as the server's `Chart` does it for a request it has not seen: the series
/// over the overlays then the panels, drawn and encoded.
fn render(bars: &BarColumns, range: DateRange, overlays: &[Labelled], panels: &[Labelled]) -> (Vec<u8>, SeriesLayout) {
    let specs: Vec<Labelled> = overlays.iter().chain(panels).cloned().collect();
    let series = series::compute(bars, Adjust::None, Frequency::Daily, &specs, range).expect("the series");
    let spec = SeriesChart {
        name: sample::INSTRUMENT,
        frequency: Frequency::Daily,
        convention: Convention::Cn,
        adjust: Adjust::None,
        overlays,
        panels,
    };
    let size = ChartSize::default();
    let (pixels, layout) = chart::render_series_rgb(&series, &spec, size).expect("drawn");
    (chart::encode_png(&pixels, size).expect("encoded"), layout)
}

/// Best and median of `runs` timed calls after one warm-up (the fonts load once per process).
fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, T) {
    let mut out = f();
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            out = f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    (samples[0], samples[samples.len() / 2], out)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (width, height) of a PNG, decoded (not read from its header only).
fn decoded_size(png: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("a PNG that decodes");
    (image.width(), image.height())
}

/// idc_server's allocator and malloc thresholds (idc_core::memory), so that what is computed
/// here in-process is computed as the server computes it.
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

fn main() {
    let _ = idc_core::memory::fix_malloc_thresholds();
    // `cargo bench` passes `--bench`; `--smoke` and `--out PATH` mean something here.
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let out = args.iter().position(|a| a == "--out").map(|i| PathBuf::from(&args[i + 1]));
    let runs = if smoke { 3 } else { 21 };

    let bars = BarColumns::from_bars(&sample::bars().expect("the sample"), None);
    let first = bars.date[bars.len() - BARS];
    let last = bars.date[bars.len() - 1];
    let range = DateRange::parse(&first.to_string(), &last.to_string()).expect("the window");
    let overlays = labelled(&[("MA", &[5.0]), ("MA", &[10.0]), ("MA", &[20.0]), ("BOLL", &[])]);
    let panels = labelled(&[("VOL", &[]), ("MACD", &[]), ("KDJ", &[])]);

    let (best, median, (png, layout)) = timed(runs, || render(&bars, range, &overlays, &panels));
    let (c_best, c_median, (candles, _)) = timed(runs, || render(&bars, range, &[], &[]));
    // The checks: the size, the panels and the overlays' legend, before any figure is printed.
    assert_eq!(decoded_size(&png), (1280, 800), "idc's chart");
    assert_eq!(decoded_size(&candles), (1280, 800), "idc's candles");
    let names: Vec<&str> = layout.panels.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["VOL", "MACD", "KDJ"], "idc's panels");
    let legend: Vec<&str> = layout.legends[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(legend, ["MA(5)", "MA(10)", "MA(20)", "BOLL(20,2).UPPER", "BOLL(20,2).MID", "BOLL(20,2).LOWER"]);
    if let Some(path) = &out {
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    let (mpf, mpf_size) = mplfinance(runs);
    assert_eq!(mpf_size, (1280, 800), "mplfinance's chart");
    let number = |object: &str, key: &str| mpf[object][key].as_f64().unwrap_or_else(|| panic!("{object}.{key}: {mpf}"));
    assert_eq!(mpf["panels"], 4, "mplfinance's panels: price, VOL, MACD, KDJ");
    let (m_best, m_median, m_bytes) =
        (number("full", "best_ms"), number("full", "median_ms"), number("full", "png_bytes"));
    let (mc_best, mc_median, mc_bytes) =
        (number("candles", "best_ms"), number("candles", "median_ms"), number("candles", "png_bytes"));

    println!(
        "chart v2 bench ({}): {BARS} bars ({first} to {last}), 1280x800, {runs} runs",
        if smoke { "smoke" } else { "full" }
    );
    println!();
    println!("### Chart v2: first render ({BARS} bars, 1280x800 PNG; best and median of {runs} runs after a warm-up)");
    println!();
    println!("| chart | renderer | best ms | median ms | PNG bytes | mplfinance/idc (best) |");
    println!("| --- | --- | --: | --: | --: | --: |");
    for (what, name, b, m, bytes, peer) in [
        ("candles + MA 5/10/20 + BOLL, VOL, MACD, KDJ", "mplfinance 0.12", m_best, m_median, m_bytes, m_best),
        (
            "candles + MA 5/10/20 + BOLL, VOL, MACD, KDJ",
            "idc (plotters)",
            ms(best),
            ms(median),
            png.len() as f64,
            m_best,
        ),
        ("candles alone", "mplfinance 0.12", mc_best, mc_median, mc_bytes, mc_best),
        ("candles alone", "idc (plotters)", ms(c_best), ms(c_median), candles.len() as f64, mc_best),
    ] {
        println!("| {what} | {name} | {b:.2} | {m:.2} | {bytes:.0} | {:.1}x |", peer / b);
    }
    let facts = serde_json::json!({
        "idc_best_ms": ms(best), "idc_median_ms": ms(median), "idc_png_bytes": png.len(),
        "idc_candles_best_ms": ms(c_best), "mpf_best_ms": m_best, "mpf_median_ms": m_median,
        "mpf_candles_best_ms": mc_best, "start": first.to_string(), "end": last.to_string(), "runs": runs,
    });
    println!("CHART_V2 {facts}");
}

/// mplfinance's figures (its JSON line) and the decoded size of the PNG it wrote.
fn mplfinance(runs: usize) -> (serde_json::Value, (u32, u32)) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("IDC_PYTHON").map_or_else(|| root.join(".venv/bin/python"), Into::into);
    let png_path = std::env::temp_dir().join(format!("idc-chart-v2-mplfinance-{}.png", std::process::id()));
    let output = std::process::Command::new(&python)
        .arg(root.join("bench/mplfinance_chart.py"))
        .args(["--runs", &runs.to_string(), "--bars", &BARS.to_string(), "--out"])
        .arg(&png_path)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench/mplfinance_chart.py failed (bench/run installs mplfinance):\n{stderr}");
    let png = std::fs::read(&png_path).expect("mplfinance's PNG");
    let _ = std::fs::remove_file(&png_path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let facts = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("mplfinance's JSON {stdout}: {e}"));
    (facts, decoded_size(&png))
}
