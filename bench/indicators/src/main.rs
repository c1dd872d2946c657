//! Issue 24's "indicators per bar" benchmark, the Rust side of bench/run's `indicators` section
//! (bench/lib/indicators.py): idc-core's twenty built-ins in both conventions, batch
//! (`Indicator::compute`) and incremental (a `Stream` stepped bar by bar, as a live subscription
//! steps it), beside the Rust peers `ta`, `kand` and `yata` where they have the indicator.
//!
//! The bars come from a file the Python side writes (bench/lib/indicators.py), so that TA-Lib,
//! timed there, sees the same numbers. Before any timing, each peer's values are checked against
//! idc's matching convention (1e-9 relative; absolute below 1), and the stream against the batch
//! bit for bit; a failed check ends the run with status 1. The talib-convention columns are
//! written to `--out` for the Python side to check TA-Lib against. Results go to stdout as JSON
//! lines (`kind` "idc" or "peer"), times best of `--rounds` in ns per bar.
//!
//! Usage: idc-bench-indicators --bars FILE --rounds R --out DIR [--only NAME,...]

mod peers;

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use idc_core::domain::indicators::{Convention, Indicator, Prices, ALL};

/// The server's allocator and malloc thresholds (idc_core::memory, `main`'s first line), so that
/// idc's rows are timed as the server computes them.
#[global_allocator]
static ALLOCATOR: idc_core::memory::Allocator = idc_core::memory::Allocator;

/// The bars as the Python side wrote them: a little-endian u64 count, then open, high, low,
/// close and volume, each that many little-endian f64s.
pub struct Bars {
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl Bars {
    fn read(path: &str) -> Bars {
        let bytes = std::fs::read(path).unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
        let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        if bytes.len() != 8 + 5 * 8 * n {
            fail(&format!("{path}: {} bytes, not a count and 5 columns of {n}", bytes.len()));
        }
        let column = |k: usize| -> Vec<f64> {
            bytes[8 + k * 8 * n..8 + (k + 1) * 8 * n]
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect()
        };
        Bars { open: column(0), high: column(1), low: column(2), close: column(3), volume: column(4) }
    }

    pub fn len(&self) -> usize {
        self.close.len()
    }

    fn prices(&self) -> Prices<'_> {
        Prices {
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
            adj_factor: &[],
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("idc-bench-indicators: {message}");
    std::process::exit(1)
}

/// The fastest of `rounds` runs of `f`, in ns per bar.
fn best_of(rounds: usize, bars: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed().as_secs_f64() * 1e9 / bars as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The columns of a stream stepped over every bar, as a live subscription steps it.
fn stepped(indicator: &Indicator, prices: &Prices) -> Vec<Vec<f64>> {
    let mut columns = vec![Vec::with_capacity(prices.len()); indicator.outputs()];
    let mut stream = indicator.stream();
    let mut out = vec![f64::NAN; indicator.outputs()];
    for i in 0..prices.len() {
        stream.step(&prices.quote(i), &mut out);
        for (column, &value) in columns.iter_mut().zip(&out) {
            column.push(value);
        }
    }
    columns
}

/// Within 1e-9 relative (absolute for values below 1).
pub fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn convention_name(convention: Convention) -> &'static str {
    match convention {
        Convention::Cn => "cn",
        Convention::Talib => "talib",
    }
}

fn main() {
    // As idc_server does before its threads start.
    let _ = idc_core::memory::fix_malloc_thresholds();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .unwrap_or_else(|| fail(&format!("{name} is missing (usage: --bars FILE --rounds R --out DIR)")))
            .clone()
    };
    let bars = Bars::read(&arg("--bars"));
    let rounds: usize = arg("--rounds").parse().unwrap_or_else(|_| fail("--rounds takes a number"));
    let out_dir = arg("--out");
    std::fs::create_dir_all(&out_dir).unwrap_or_else(|e| fail(&format!("cannot create {out_dir}: {e}")));
    let prices = bars.prices();
    let n = bars.len();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let peers = peers::all();
    // `--only NAME[,NAME...]`: just these indicators (to profile or re-time one).
    let only: Vec<String> = match args.iter().position(|a| a == "--only") {
        Some(i) => args.get(i + 1).map(|s| s.split(',').map(str::to_uppercase).collect()).unwrap_or_default(),
        None => Vec::new(),
    };
    for def in ALL.iter().filter(|def| only.is_empty() || only.iter().any(|name| name == def.name)) {
        for convention in [Convention::Cn, Convention::Talib] {
            let indicator = Indicator::new(def.name, &[], convention).expect("the defaults are valid");
            let batch = indicator.compute(&prices);
            // The product's promise, checked on these bars before anything is timed.
            let live = stepped(&indicator, &prices);
            for (k, (b, l)) in batch.iter().zip(&live).enumerate() {
                if let Some(i) = (0..n).find(|&i| b[i].to_bits() != l[i].to_bits() && !(b[i].is_nan() && l[i].is_nan()))
                {
                    fail(&format!("{indicator:?}: the stream differs from the batch at bar {i} output {k}"));
                }
            }
            if convention == Convention::Talib {
                let path = format!("{out_dir}/{}.f64", def.name);
                let bytes: Vec<u8> = batch.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
                std::fs::write(&path, bytes).unwrap_or_else(|e| fail(&format!("cannot write {path}: {e}")));
            }
            let checks: Vec<_> = peers
                .iter()
                .filter(|p| p.indicator == def.name && p.convention == convention)
                .map(|p| (p, p.check(&bars, &batch)))
                .collect();
            let batch_ns = best_of(rounds, n, || {
                black_box(indicator.compute(black_box(&prices)));
            });
            let stream_ns = best_of(rounds, n, || {
                let mut stream = indicator.stream();
                let mut out = vec![f64::NAN; indicator.outputs()];
                for i in 0..n {
                    stream.step(black_box(&prices.quote(i)), &mut out);
                    black_box(&out);
                }
            });
            let conv = convention_name(convention);
            writeln!(
                stdout,
                r#"{{"kind":"idc","indicator":"{}","convention":"{conv}","label":"{}","batch_ns":{batch_ns:.4},"stream_ns":{stream_ns:.4}}}"#,
                def.name,
                indicator.label()
            )
            .expect("stdout");
            for (peer, check) in checks {
                let ns = best_of(rounds, n, || {
                    black_box((peer.run)(black_box(&bars)));
                });
                writeln!(
                    stdout,
                    r#"{{"kind":"peer","peer":"{}","indicator":"{}","convention":"{conv}","how":"{}","match":"{}","from":{},"ns":{ns:.4}}}"#,
                    peer.crate_name, def.name, peer.how, check.verdict, check.from
                )
                .expect("stdout");
            }
            stdout.flush().expect("stdout");
        }
    }
}
