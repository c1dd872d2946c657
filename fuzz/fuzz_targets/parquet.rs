//! The Parquet loader (`idc_core::domain::parquet::parse_table`) on arbitrary bytes.
//!
//! It must never panic (a file in the data directory is whatever someone saved there): garbage,
//! a truncated file, or a footer whose metadata lies about sizes, counts or types is refused with
//! `fuzz.parquet: ...`, and so is a file on which the parquet crate itself panics (the loader
//! catches those: 55.2 asserts on an RLE run cut short, slices past the end of a page for a level
//! length that runs past it, and overflows a capacity for a list length in the footer). Whatever it accepts holds what the CSV
//! loader's bars hold: at least one bar, dates strictly increasing, prices finite and positive
//! with low <= open, close <= high, volume finite and 0 or more, and, with an `adj_factor` column,
//! one finite positive factor a bar.

#![no_main]

use idc_core::domain::parquet::parse_table;
use libfuzzer_sys::fuzz_target;

const SOURCE: &str = "fuzz.parquet";

fuzz_target!(init: let_decoder_panics_unwind(), |data: &[u8]| check(data));

/// libFuzzer's panic hook aborts at once, before the loader's catch_unwind can turn a panic in
/// the parquet crate's decoder into the file's refusal (which is what the loader promises: see
/// `parse_table`). A panic raised by a dependency (the parquet crate, the `bytes` it slices with,
/// or std called from them: a `Vec::with_capacity` of a length the footer gives) unwinds; any
/// other still aborts: a panic in our code is a crash, and so is one of the decoder's that the
/// loader failed to catch (libFuzzer's own catch_unwind aborts).
fn let_decoder_panics_unwind() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !raised_by_a_dependency() {
            abort(info);
        }
    }));
}

/// Whether the innermost caller of the panic outside std's own source is in a dependency's source
/// (cargo's registry), found in a backtrace taken in the hook.
fn raised_by_a_dependency() -> bool {
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    // The frames below the panic machinery (`rust_begin_unwind` and the panic functions after it).
    let Some(start) = trace.find("rust_begin_unwind") else { return false };
    let raiser = trace[start..]
        .lines()
        .filter_map(|line| line.trim().strip_prefix("at "))
        .find(|path| !path.starts_with("/rustc/"));
    raiser.is_some_and(|path| path.contains("/.cargo/registry/") && !path.contains("/libfuzzer-sys-"))
}

fn check(data: &[u8]) {
    let table = match parse_table(SOURCE, data) {
        Ok(table) => table,
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.parquet"), "{message}");
            return;
        }
    };
    let bars = &table.bars;
    assert!(!bars.is_empty(), "an accepted file has at least one bar");
    for pair in bars.windows(2) {
        assert!(pair[0].date < pair[1].date, "dates not sorted and unique: {} then {}", pair[0].date, pair[1].date);
    }
    for bar in bars {
        for price in [bar.open, bar.high, bar.low, bar.close] {
            assert!(price.is_finite() && price > 0.0, "{bar}");
        }
        assert!(bar.low <= bar.open && bar.open <= bar.high, "open outside [low, high]: {bar}");
        assert!(bar.low <= bar.close && bar.close <= bar.high, "close outside [low, high]: {bar}");
        assert!(bar.volume.is_finite() && bar.volume >= 0.0, "volume of {bar}");
    }
    if let Some(factors) = &table.adj_factor {
        assert_eq!(factors.len(), bars.len());
        assert!(factors.iter().all(|f| f.is_finite() && *f > 0.0), "{factors:?}");
    }
}
