//! Property tests of the CSV loader: no input makes it panic, what it accepts is sorted, unique
//! and valid, and the same bars written in any dialect it accepts (delimiter, quoting, line ends,
//! byte order mark, thousands separators, decimal commas) load the same.

use std::collections::BTreeMap;

use idc::domain::bar::{parse_csv, parse_csv_with, Bar, Delimiter};
use idc::domain::date::Date;
use proptest::prelude::*;

/// Fields that look like bar fields, with every kind of damage mixed in.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..2500, 1u8..13, 1u8..32).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (-1e6f64..1e6).prop_map(|v| v.to_string()),
        Just(String::new()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("1e400".to_string()),
        Just("1e39".to_string()),
        Just("1,000.5".to_string()),
        Just("1.000,5".to_string()),
        Just("1,5".to_string()),
        Just("\"".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

/// A field as written: bare, or quoted with its quotes doubled.
fn written(field: String, quote: bool) -> String {
    if quote {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

fn csv_like() -> impl Strategy<Value = String> {
    let header = prop_oneof![
        Just("date,open,high,low,close,volume".to_string()),
        Just("date,open,high,low,close".to_string()),
        Just("Date,Close,Low,High,Open".to_string()),
        "[a-z,]{0,40}",
    ];
    let row = prop::collection::vec((field(), prop::bool::weighted(0.2)), 0..8);
    let delimiter = prop::sample::select(vec![",", ";", "\t"]);
    (header, prop::collection::vec(row, 0..20), prop::bool::ANY, delimiter, prop::bool::ANY).prop_map(
        |(header, rows, crlf, delimiter, quote_header)| {
            let end = if crlf { "\r\n" } else { "\n" };
            let header = header
                .split(',')
                .map(|name| written(name.to_string(), quote_header))
                .collect::<Vec<_>>()
                .join(delimiter);
            let rows = rows.into_iter().map(|fields| {
                fields.into_iter().map(|(field, quote)| written(field, quote)).collect::<Vec<_>>().join(delimiter)
            });
            std::iter::once(header).chain(rows).collect::<Vec<_>>().join(end)
        },
    )
}

/// One valid day in cents, so that every dialect writes it exactly.
#[derive(Debug, Clone)]
struct Day {
    date: Date,
    open: u64,
    high: u64,
    low: u64,
    close: u64,
    volume: u64,
    note: &'static str,
}

fn days() -> impl Strategy<Value = Vec<Day>> {
    let day = (
        (1990u16..2030, 1u8..13, 1u8..29),
        1u64..1_000_000_000,
        0u64..10_000_000,
        (0u64..=100, 0u64..=100),
        0u64..10_000_000_000,
        prop::sample::select(vec!["", "plain", "a;b", "x,y", "tab\there", "he said \"hi\"", "two\nlines", "\"", "  "]),
    )
        .prop_map(|((y, m, d), low, spread, (o, c), volume, note)| Day {
            date: Date::new(y, m, d).unwrap(),
            open: low + spread * o / 100,
            high: low + spread,
            low,
            close: low + spread * c / 100,
            volume,
            note,
        });
    prop::collection::vec(day, 1..30).prop_map(|days| {
        // One row per date: the last one generated wins.
        days.into_iter().map(|day| (day.date, day)).collect::<BTreeMap<_, _>>().into_values().collect()
    })
}

/// How a file writes its bars.
#[derive(Debug, Clone)]
struct Dialect {
    delimiter: char,
    /// Quote every field, or only those that need it.
    quote_all: bool,
    crlf: bool,
    bom: bool,
    /// Comma files: group thousands with commas (quoted, since they hold the delimiter).
    thousands: bool,
    /// `;` and tab files: a decimal comma.
    decimal_comma: bool,
    /// Columns in this order (indices into date, open, high, low, close, volume, note).
    order: Vec<usize>,
}

fn dialect() -> impl Strategy<Value = Dialect> {
    (
        prop::sample::select(vec![',', ';', '\t']),
        prop::bool::ANY,
        prop::bool::ANY,
        prop::bool::ANY,
        prop::bool::ANY,
        Just((0..7).collect::<Vec<usize>>()).prop_shuffle(),
    )
        .prop_map(|(delimiter, quote_all, crlf, bom, separators, order)| Dialect {
            delimiter,
            quote_all,
            crlf,
            bom,
            thousands: separators && delimiter == ',',
            decimal_comma: separators && delimiter != ',',
            order,
        })
}

impl Dialect {
    fn number(&self, value: u64, cents: bool) -> String {
        let whole = if cents { value / 100 } else { value };
        let mut digits = whole.to_string();
        if self.thousands {
            let grouped: Vec<String> =
                digits.as_bytes().rchunks(3).rev().map(|g| String::from_utf8(g.to_vec()).unwrap()).collect();
            digits = grouped.join(",");
        }
        if cents {
            let point = if self.decimal_comma { ',' } else { '.' };
            format!("{digits}{point}{:02}", value % 100)
        } else {
            digits
        }
    }

    fn field(&self, text: String) -> String {
        let needs_quotes = text.contains([self.delimiter, '"', '\n', '\r']) || text.trim() != text;
        written(text, self.quote_all || needs_quotes)
    }

    fn write(&self, days: &[Day]) -> Vec<u8> {
        let end = if self.crlf { "\r\n" } else { "\n" };
        let names = ["Date", "Open", "High", "Low", "Close", "Volume", "Note"];
        let line = |fields: [String; 7]| {
            let mut fields = fields.map(Some);
            let ordered: Vec<String> = self.order.iter().map(|&i| self.field(fields[i].take().unwrap())).collect();
            ordered.join(&self.delimiter.to_string())
        };
        let mut text = String::from(if self.bom { "\u{feff}" } else { "" });
        text.push_str(&line(names.map(String::from)));
        for day in days {
            text.push_str(end);
            text.push_str(&line([
                day.date.to_string(),
                self.number(day.open, true),
                self.number(day.high, true),
                self.number(day.low, true),
                self.number(day.close, true),
                self.number(day.volume, false),
                day.note.to_string(),
            ]));
        }
        text.push_str(end);
        text.into_bytes()
    }

    fn delimiter(&self) -> Delimiter {
        match self.delimiter {
            ',' => Delimiter::Comma,
            ';' => Delimiter::Semicolon,
            _ => Delimiter::Tab,
        }
    }
}

fn bars(days: &[Day]) -> Vec<Bar> {
    let price = |cents: u64| cents as f64 / 100.0;
    days.iter()
        .map(|d| Bar {
            date: d.date,
            open: price(d.open),
            high: price(d.high),
            low: price(d.low),
            close: price(d.close),
            volume: d.volume as f64,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_csv("fuzz.csv", &bytes);
        for delimiter in [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab] {
            let _ = parse_csv_with("fuzz.csv", &bytes, delimiter);
        }
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
                    prop_assert!(bar.low <= bar.open && bar.open <= bar.high, "{}", bar);
                    prop_assert!(bar.low <= bar.close && bar.close <= bar.high, "{}", bar);
                    for price in [bar.open, bar.high, bar.low, bar.close] {
                        prop_assert!((price as f32).is_finite() && price as f32 > 0.0, "{}", bar);
                    }
                    prop_assert!(bar.volume >= 0.0 && bar.volume.is_finite());
                }
            }
            Err(e) => {
                // Every refusal names the file and a line that exists.
                let message = e.to_string();
                prop_assert!(message.starts_with("fuzz.csv:"), "{}", message);
                prop_assert!(e.line >= 1 && e.line <= text.split('\n').count().max(1), "{}", message);
            }
        }
    }

    #[test]
    fn every_dialect_loads_the_same_bars(days in days(), dialect in dialect()) {
        let bytes = dialect.write(&days);
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let detected = parse_csv("dialect.csv", &bytes);
        prop_assert_eq!(detected.as_ref().map_err(ToString::to_string), Ok(&bars(&days)), "{}", shown);
        let given = parse_csv_with("dialect.csv", &bytes, dialect.delimiter());
        prop_assert_eq!(given, detected, "{}", shown);
    }

    #[test]
    fn an_error_in_any_dialect_names_the_physical_line(
        days in days(),
        dialect in dialect(),
        pick in any::<prop::sample::Index>(),
    ) {
        // Make one row's open exceed its high; the message names the line that row starts on.
        let mut days = days;
        let bad = pick.index(days.len());
        days[bad].open = days[bad].high + 1;
        let bytes = dialect.write(&days);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let e = parse_csv("dialect.csv", &bytes).unwrap_err();
        let expected_line = 2 + days[..bad].iter().map(|d| 1 + d.note.matches('\n').count()).sum::<usize>();
        prop_assert_eq!(e.line, expected_line, "{}\n{}", e, text);
        prop_assert!(e.to_string().contains("open") && e.to_string().contains("is above high"), "{}", e);
    }
}
