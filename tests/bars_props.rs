//! Property tests of the CSV loader: no input makes it panic, and what it accepts is sorted,
//! unique and valid.

use idc::domain::bar::parse_csv;
use proptest::prelude::*;

/// Lines that look like bar rows, with every kind of damage mixed in.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..2500, 1u8..13, 1u8..32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (-1e6f64..1e6).prop_map(|v| v.to_string()),
        Just(String::new()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e400".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn csv_like() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("date,open,high,low,close,volume".to_string()),
        Just("date,open,high,low,close".to_string()),
        Just("Date,Close,Low,High,Open".to_string()),
        "[a-z,]{0,40}",
    ];
    let row = prop::collection::vec(field(), 0..8).prop_map(|fields| fields.join(","));
    (header, prop::collection::vec(row, 0..20), prop::bool::ANY).prop_map(|(header, rows, crlf)| {
        let end = if crlf { "\r\n" } else { "\n" };
        std::iter::once(header).chain(rows).collect::<Vec<_>>().join(end)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_csv("fuzz.csv", &bytes);
    }

    #[test]
    fn csv_like_text_never_panics_and_accepted_bars_are_valid(text in csv_like()) {
        match parse_csv("fuzz.csv", text.as_bytes()) {
            Ok(bars) => {
                prop_assert!(!bars.is_empty());
                for pair in bars.windows(2) {
                    prop_assert!(pair[0].date < pair[1].date, "sorted and unique");
                }
                for bar in &bars {
                    prop_assert!(bar.open > 0.0 && bar.close > 0.0 && bar.low > 0.0);
                    prop_assert!(bar.high >= bar.low);
                    prop_assert!(bar.volume >= 0.0 && bar.volume.is_finite());
                }
            }
            Err(e) => {
                // Every refusal names the file and a line that exists.
                let message = e.to_string();
                prop_assert!(message.starts_with("fuzz.csv:"), "{}", message);
                prop_assert!(e.line >= 1 && e.line <= text.split('\n').count().max(1));
            }
        }
    }
}
