//! Date and date-range parsing on arbitrary text.
//!
//! An accepted date prints back as the very text it was parsed from (`to_string` and `iso_bytes`
//! alike), so `YYYY-MM-DD` is the only form accepted; dates order as their texts do; a refusal's
//! message is bounded (it travels in a gRPC status) and shows the expected form. The input is
//! split at its first `\n` into a request's `start_date` and `end_date`.

#![no_main]

use idc_core::domain::date::{Date, DateError, DateRange, RangeError};
use libfuzzer_sys::fuzz_target;

/// The longest message a refusal may have: 32 quoted characters (each at most `\u{10ffff}` once
/// escaped), "…", and the fixed text around them.
const MAX_MESSAGE: usize = 32 * 10 + 300;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (start, end) = text.split_once('\n').unwrap_or((text, ""));
    let parsed_start = check_date(start);
    let parsed_end = check_date(end);
    let _ = check_date(text);

    match DateRange::parse(start, end) {
        Ok(range) => {
            assert_eq!(range.start, (!start.is_empty()).then(|| parsed_start.clone().unwrap()));
            assert_eq!(range.end, (!end.is_empty()).then(|| parsed_end.clone().unwrap()));
            if let (Some(s), Some(e)) = (range.start, range.end) {
                assert!(s <= e && start <= end, "{range}");
            }
            let _ = range.to_string();
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.len() <= MAX_MESSAGE, "{} bytes: {message}", message.len());
            assert!(message.contains("YYYY-MM-DD"), "{message}");
            match error {
                RangeError::Start(e) => assert_eq!(Err(e), parsed_start),
                RangeError::End(e) => {
                    assert!(start.is_empty() || parsed_start.is_ok());
                    assert_eq!(Err(e), parsed_end);
                }
                RangeError::Reversed { start: s, end: e } => {
                    // Dates order as their texts, which are exactly the inputs.
                    assert!(s > e && start > end, "{s} > {e}");
                }
            }
        }
    }
});

fn check_date(text: &str) -> Result<Date, DateError> {
    let result = Date::parse(text);
    match &result {
        Ok(date) => {
            assert_eq!(date.to_string(), text);
            assert_eq!(&date.iso_bytes()[..], text.as_bytes());
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.len() <= MAX_MESSAGE, "{} bytes: {message}", message.len());
            assert!(message.contains("YYYY-MM-DD"), "{message}");
        }
    }
    result
}
