//! Daily bars and their CSV loader.
//!
//! The CSV has a header naming `date,open,high,low,close` and optionally `volume` (any order,
//! any case; other columns are ignored), ISO dates, and rows in any order. Loading checks every
//! row and stops at the first bad one with `file:line: reason`, because a server that starts on
//! half its data, or on a typo, gives wrong answers quietly; better to refuse to start.

use std::collections::HashMap;
use std::fmt;

use super::date::Date;

/// One trading day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub date: Date,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// 0 when the file has no volume column.
    pub volume: f64,
}

/// Why a CSV was refused: where, and what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{line}: {problem}")]
pub struct BarsError {
    pub source_name: String,
    /// 1-based line number in the file.
    pub line: usize,
    pub problem: Problem,
}

/// What was wrong with a CSV line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("the file is empty: it needs a header `date,open,high,low,close[,volume]` and at least one row")]
    Empty,
    #[error("the file has a header but no rows")]
    NoRows,
    #[error("the text is not UTF-8")]
    NotUtf8,
    #[error("the header has no `{0}` column: expected `date,open,high,low,close[,volume]`")]
    MissingColumn(&'static str),
    #[error("the header names `{0}` twice")]
    DuplicateColumn(String),
    #[error("expected {expected} fields as in the header, found {found}")]
    FieldCount { expected: usize, found: usize },
    #[error("{0}")]
    BadDate(String),
    #[error("{column} {text:?} is not a number")]
    BadNumber { column: &'static str, text: String },
    #[error("{column} is {value}: prices must be positive")]
    NonPositivePrice { column: &'static str, value: f64 },
    #[error("volume is {0}: it must be 0 or more")]
    NegativeVolume(f64),
    #[error("high {high} is below low {low}")]
    HighBelowLow { high: f64, low: f64 },
    #[error("date {date} appears again (first on line {first_line})")]
    DuplicateDate { date: Date, first_line: usize },
}

const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];

/// Parses and checks a CSV of daily bars; returns them sorted by date.
///
/// `source_name` is what error messages call the file (its path, or `sample`).
pub fn parse_csv(source_name: &str, bytes: &[u8]) -> Result<Vec<Bar>, BarsError> {
    let fail = |line: usize, problem: Problem| BarsError { source_name: source_name.to_string(), line, problem };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(fail(line, Problem::NotUtf8));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    // Numbered lines, without line ends; blank lines (a trailing newline, say) are skipped.
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line.strip_suffix('\r').unwrap_or(line)))
        .filter(|(_, line)| !line.trim().is_empty());

    let (header_line, header) = lines.next().ok_or_else(|| fail(1, Problem::Empty))?;
    let columns = Columns::parse(header).map_err(|problem| fail(header_line, problem))?;

    let mut bars = Vec::new();
    let mut first_seen: HashMap<Date, usize> = HashMap::new();
    for (number, line) in lines {
        let bar = columns.parse_row(line).map_err(|problem| fail(number, problem))?;
        if let Some(&first_line) = first_seen.get(&bar.date) {
            return Err(fail(number, Problem::DuplicateDate { date: bar.date, first_line }));
        }
        first_seen.insert(bar.date, number);
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(fail(header_line, Problem::NoRows));
    }
    bars.sort_by_key(|bar| bar.date);
    Ok(bars)
}

/// Where each field sits in a row.
struct Columns {
    count: usize,
    date: usize,
    prices: [usize; 4],
    volume: Option<usize>,
}

impl Columns {
    fn parse(header: &str) -> Result<Columns, Problem> {
        let names: Vec<String> = header.split(',').map(|name| name.trim().to_ascii_lowercase()).collect();
        for (i, name) in names.iter().enumerate() {
            if !name.is_empty() && names[..i].contains(name) {
                return Err(Problem::DuplicateColumn(name.clone()));
            }
        }
        let find = |wanted: &'static str| names.iter().position(|name| name == wanted);
        let require = |wanted: &'static str| find(wanted).ok_or(Problem::MissingColumn(wanted));
        Ok(Columns {
            count: names.len(),
            date: require("date")?,
            prices: [require("open")?, require("high")?, require("low")?, require("close")?],
            volume: find("volume"),
        })
    }

    fn parse_row(&self, line: &str) -> Result<Bar, Problem> {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != self.count {
            return Err(Problem::FieldCount { expected: self.count, found: fields.len() });
        }
        let date = Date::parse(fields[self.date]).map_err(|e| Problem::BadDate(e.to_string()))?;
        let mut prices = [0.0; 4];
        for (slot, (&index, column)) in prices.iter_mut().zip(self.prices.iter().zip(PRICE_COLUMNS)) {
            let value = number(column, fields[index])?;
            if value <= 0.0 {
                return Err(Problem::NonPositivePrice { column, value });
            }
            *slot = value;
        }
        let [open, high, low, close] = prices;
        if high < low {
            return Err(Problem::HighBelowLow { high, low });
        }
        let volume = match self.volume {
            Some(index) => number("volume", fields[index])?,
            None => 0.0,
        };
        if volume < 0.0 {
            return Err(Problem::NegativeVolume(volume));
        }
        Ok(Bar { date, open, high, low, close, volume })
    }
}

/// A finite decimal number; `nan`, `inf` and empty fields are not numbers here.
fn number(column: &'static str, text: &str) -> Result<f64, Problem> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(Problem::BadNumber { column, text: text.to_string() }),
    }
}

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} o={} h={} l={} c={} v={}", self.date, self.open, self.high, self.low, self.close, self.volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(csv: &str) -> (usize, Problem, String) {
        let e = parse_csv("bars.csv", csv.as_bytes()).unwrap_err();
        let message = e.to_string();
        (e.line, e.problem, message)
    }

    #[test]
    fn loads_and_sorts() {
        let csv = "Date,Open,High,Low,Close,Volume\r\n2020-01-03,2,3,1,2.5,100\r\n2020-01-02,1,2,0.5,1.5,50\r\n\r\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].date.to_string(), "2020-01-02");
        assert_eq!(bars[1].close, 2.5);
        assert_eq!(bars[1].volume, 100.0);
    }

    #[test]
    fn volume_is_optional_and_columns_may_move() {
        let bars = parse_csv("x", b"close,low,high,open,date\n4,1,5,2,2021-06-01\n").unwrap();
        assert_eq!((bars[0].open, bars[0].high, bars[0].low, bars[0].close, bars[0].volume), (2.0, 5.0, 1.0, 4.0, 0.0));
    }

    #[test]
    fn rejects_a_duplicate_date() {
        let (line, p, msg) =
            problem("date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,2,1,1\n2020-01-02,1,2,1,1\n");
        assert_eq!(line, 4);
        assert!(matches!(p, Problem::DuplicateDate { first_line: 2, .. }));
        assert_eq!(msg, "bars.csv:4: date 2020-01-02 appears again (first on line 2)");
    }

    #[test]
    fn rejects_a_bad_number() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,abc,1,1\n");
        assert_eq!(line, 3);
        assert_eq!(msg, "bars.csv:3: high \"abc\" is not a number");
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,NaN,1\n");
        assert_eq!(msg, "bars.csv:2: low \"NaN\" is not a number");
    }

    #[test]
    fn rejects_high_below_low() {
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,3,1\n");
        assert_eq!(msg, "bars.csv:2: high 2 is below low 3");
    }

    #[test]
    fn rejects_a_non_positive_price() {
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,0,2,1,1\n");
        assert_eq!(msg, "bars.csv:2: open is 0: prices must be positive");
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1,-1\n");
        assert_eq!(msg, "bars.csv:2: close is -1: prices must be positive");
    }

    #[test]
    fn rejects_a_missing_column() {
        let (line, _, msg) = problem("date,open,high,close\n2020-01-02,1,2,1\n");
        assert_eq!(line, 1);
        assert_eq!(msg, "bars.csv:1: the header has no `low` column: expected `date,open,high,low,close[,volume]`");
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1\n");
        assert_eq!(line, 2);
        assert_eq!(msg, "bars.csv:2: expected 5 fields as in the header, found 4");
    }

    #[test]
    fn rejects_a_bad_date() {
        let (_, _, msg) = problem("date,open,high,low,close\n2023-02-30,1,2,1,1\n");
        assert!(msg.starts_with("bars.csv:2: \"2023-02-30\" is not a real day"), "{msg}");
        let (_, _, msg) = problem("date,open,high,low,close\n1/2/2023,1,2,1,1\n");
        assert!(msg.contains("use YYYY-MM-DD"), "{msg}");
    }

    #[test]
    fn rejects_negative_volume_empty_files_and_non_utf8() {
        let (_, _, msg) = problem("date,open,high,low,close,volume\n2020-01-02,1,2,1,1,-5\n");
        assert_eq!(msg, "bars.csv:2: volume is -5: it must be 0 or more");
        assert_eq!(problem("").1, Problem::Empty);
        assert_eq!(problem("date,open,high,low,close\n").1, Problem::NoRows);
        let e = parse_csv("b", b"date,open,high,low,close\n\xff\n").unwrap_err();
        assert_eq!((e.line, e.problem), (2, Problem::NotUtf8));
    }
}
