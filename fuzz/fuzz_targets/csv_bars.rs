//! The CSV loader on arbitrary bytes, with every delimiter setting.
//!
//! It must never panic, and whatever it accepts must satisfy what `idc_core::domain::bar`
//! promises: bars sorted by date with no date twice, low <= open, close <= high, prices finite,
//! positive and representable as a non-zero finite `f32` (their wire type), volume 0 or more. A
//! refusal names a line of the file. `Auto` agrees with the explicit delimiter it detects, and
//! what it accepts, written back as a plain comma-separated file, loads as the same bars.

#![no_main]

use idc_core::domain::bar::{parse_csv, parse_csv_with, Bar, BarsError, Delimiter};
use libfuzzer_sys::fuzz_target;

const SOURCE: &str = "fuzz.csv";

fuzz_target!(|data: &[u8]| {
    let auto = parse_csv_with(SOURCE, data, Delimiter::Auto);
    let explicit: Vec<Result<Vec<Bar>, BarsError>> =
        Delimiter::DETECTED.iter().map(|&delimiter| parse_csv_with(SOURCE, data, delimiter)).collect();

    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
    for result in std::iter::once(&auto).chain(&explicit) {
        match result {
            Ok(bars) => check_bars(bars),
            Err(e) => {
                assert!((1..=lines).contains(&e.line), "line {} of a {lines}-line file: {e}", e.line);
                assert!(e.to_string().starts_with("fuzz.csv:"), "{e}");
            }
        }
    }

    // Auto reads the file with the first delimiter whose header names every column, so what it
    // accepts, that delimiter accepts alike; and comma, tried first, is taken whenever it works.
    if let Ok(bars) = &auto {
        assert!(explicit.iter().any(|r| r.as_ref() == Ok(bars)), "Auto accepted what no delimiter accepts alike");
    }
    if let Ok(bars) = &explicit[0] {
        assert_eq!(auto.as_ref(), Ok(bars), "comma works, so Auto must read the file as comma does");
    }
    if let Ok(bars) = &auto {
        // `{}` writes the shortest decimal that reads back as the same f64.
        let mut plain = String::from("date,open,high,low,close,volume\n");
        for b in bars {
            plain += &format!("{},{},{},{},{},{}\n", b.date, b.open, b.high, b.low, b.close, b.volume);
        }
        assert_eq!(parse_csv(SOURCE, plain.as_bytes()).as_ref(), Ok(bars), "written back as:\n{plain}");
    }
});

fn check_bars(bars: &[Bar]) {
    assert!(!bars.is_empty(), "an accepted file has at least one bar");
    for pair in bars.windows(2) {
        assert!(pair[0].date < pair[1].date, "dates not sorted and unique: {} then {}", pair[0].date, pair[1].date);
    }
    for bar in bars {
        for (name, price) in [("open", bar.open), ("high", bar.high), ("low", bar.low), ("close", bar.close)] {
            assert!(price.is_finite() && price > 0.0, "{name} of {bar}");
            let wire = price as f32;
            assert!(wire.is_finite() && wire > 0.0, "{name} of {bar} as f32");
        }
        assert!(bar.low <= bar.open && bar.open <= bar.high, "open outside [low, high]: {bar}");
        assert!(bar.low <= bar.close && bar.close <= bar.high, "close outside [low, high]: {bar}");
        assert!(bar.volume.is_finite() && bar.volume >= 0.0, "volume of {bar}");
        // The date of an accepted bar is a real day, and prints as it parses.
        let text = bar.date.to_string();
        assert_eq!(idc_core::domain::date::Date::parse(&text), Ok(bar.date));
    }
}
