//! Daily bars and their CSV loader.
//!
//! The CSV has a header naming `date,open,high,low,close` and optionally `volume` (any order,
//! any case; other columns are ignored), ISO dates, and rows in any order. It is read with the
//! `csv` crate: fields may be quoted (`"1,000.5"`, `"date"`), lines may end in LF or CRLF, a
//! UTF-8 byte order mark is skipped, and so are blank lines. The delimiter is `,`, `;` or tab,
//! given or detected from the header ([`Delimiter`]).
//!
//! Numbers use `.` as the decimal point. In a comma-separated file a quoted number may group
//! thousands with commas (`"1,000.5"`); in a `;`- or tab-separated file a number may use a
//! decimal comma instead (`1,5`), as European spreadsheets export it, but never both a comma and a
//! point, nor any thousands separator (`1.000,5` is refused: its meaning depends on the locale).
//!
//! Loading checks every row and stops at the first bad one with `file:line: reason` (the line
//! where the record starts in the file), because a server that starts on half its data, or on a
//! typo, gives wrong answers quietly; better to refuse to start. Beyond being numbers, prices
//! must be positive, fit the `float` that carries them on the wire, and be consistent: low <=
//! open, close <= high.

use std::borrow::Cow;
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

/// The field delimiter of a CSV of bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// The first of `,`, `;` and tab that splits the header into the needed columns.
    Auto,
    Comma,
    Semicolon,
    Tab,
}

impl Delimiter {
    /// What [`Delimiter::Auto`] tries, in this order.
    pub const DETECTED: [Delimiter; 3] = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab];

    /// The byte between fields; `None` for [`Delimiter::Auto`].
    pub fn byte(self) -> Option<u8> {
        match self {
            Delimiter::Auto => None,
            Delimiter::Comma => Some(b','),
            Delimiter::Semicolon => Some(b';'),
            Delimiter::Tab => Some(b'\t'),
        }
    }

    /// How messages show it: `` `,` ``, `` `;` `` or `tab`.
    fn shown(self) -> &'static str {
        match self {
            Delimiter::Auto => "a detected delimiter",
            Delimiter::Comma => "`,`",
            Delimiter::Semicolon => "`;`",
            Delimiter::Tab => "tab",
        }
    }
}

impl std::str::FromStr for Delimiter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Delimiter::Auto),
            "comma" => Ok(Delimiter::Comma),
            "semicolon" => Ok(Delimiter::Semicolon),
            "tab" => Ok(Delimiter::Tab),
            other => Err(format!("unknown CSV delimiter {other:?}: use auto, comma, semicolon or tab")),
        }
    }
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delimiter::Auto => "auto",
            Delimiter::Comma => "comma",
            Delimiter::Semicolon => "semicolon",
            Delimiter::Tab => "tab",
        })
    }
}

/// Why a CSV was refused: where, and what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{line}: {problem}")]
pub struct BarsError {
    pub source_name: String,
    /// 1-based line number in the file: where the offending record starts.
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
    /// A header problem, with the delimiter or delimiters it was read with.
    #[error("{problem} ({delimiters})")]
    Header { problem: Box<Problem>, delimiters: String },
    /// `hint` is empty, or says what probably went wrong.
    #[error("expected {expected} fields as in the header, found {found}{hint}")]
    FieldCount { expected: usize, found: usize, hint: &'static str },
    #[error("{0}")]
    BadDate(String),
    /// `hint` is empty, or says which separators a number may have in this file.
    #[error("{column} {text:?} is not a number{hint}")]
    BadNumber { column: &'static str, text: String, hint: &'static str },
    #[error("{column} is {value}: prices must be positive")]
    NonPositivePrice { column: &'static str, value: f64 },
    #[error(
        "{column} {text} does not fit a 32-bit float (the wire type of prices), which holds about 1e-45 to 3.4e38"
    )]
    NotFloat32 { column: &'static str, text: String },
    #[error("volume is {0}: it must be 0 or more")]
    NegativeVolume(f64),
    #[error("high {high} is below low {low}")]
    HighBelowLow { high: f64, low: f64 },
    /// Open or close outside [low, high]: `relation` is `above high` or `below low`.
    #[error("{column} {value} is {relation} {bound}")]
    OutsideRange { column: &'static str, value: f64, relation: &'static str, bound: f64 },
    #[error("date {date} appears again (first on line {first_line})")]
    DuplicateDate { date: Date, first_line: usize },
    /// An error of the CSV reader itself (not expected on text already checked as UTF-8).
    #[error("{0}")]
    Unreadable(String),
}

const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];
const REQUIRED_COLUMNS: [&str; 5] = ["date", "open", "high", "low", "close"];

const UNQUOTED_COMMA: &str = " (a field that holds a comma, such as 1,000.5, must be quoted)";
const OPEN_QUOTE: &str = " (a quoted field runs on over the next lines: is a closing `\"` missing?)";
const THOUSANDS_ONLY: &str = ": in a comma-separated file a comma in a number can only group thousands, as in \
                              \"1,000.5\"; a decimal comma needs `;` or tab as the delimiter";
const ONE_SEPARATOR: &str = ": with `;` or tab as the delimiter, a number has one decimal separator, `,` or `.`, \
                             and no thousands separators";

/// At most this many characters of a bad field are quoted back.
const QUOTED_CHARS: usize = 32;

fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Parses and checks a CSV of daily bars, detecting its delimiter; returns them sorted by date.
///
/// `source_name` is what error messages call the file (its path, or `sample`).
pub fn parse_csv(source_name: &str, bytes: &[u8]) -> Result<Vec<Bar>, BarsError> {
    parse_csv_with(source_name, bytes, Delimiter::Auto)
}

/// [`parse_csv`] with the given delimiter ([`Delimiter::Auto`] detects it from the header).
pub fn parse_csv_with(source_name: &str, bytes: &[u8], delimiter: Delimiter) -> Result<Vec<Bar>, BarsError> {
    let fail = |line: usize, problem: Problem| BarsError { source_name: source_name.to_string(), line, problem };
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        return Err(fail(line, Problem::NotUtf8));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);

    let (mut records, header_line, columns) = match delimiter.byte() {
        Some(separator) => {
            let mut records = Records::new(bytes, separator);
            let (line, header) =
                records.next_header().map_err(|(line, p)| fail(line, p))?.ok_or_else(|| fail(1, Problem::Empty))?;
            let columns = Columns::parse(&header, separator).map_err(|problem| {
                let delimiters = format!("with {} as the delimiter", delimiter.shown());
                fail(line, Problem::Header { problem: Box::new(problem), delimiters })
            })?;
            (records, line, columns)
        }
        None => detect(bytes).map_err(|(line, p)| fail(line, p))?,
    };

    let mut bars = Vec::new();
    // Duplicate dates: while the rows come in ascending order, as files usually have them, a new
    // date after the last one cannot repeat an earlier one, and costs one comparison. At the
    // first row out of order, every line so far goes into a map, which then checks each row.
    let mut lines: Vec<usize> = Vec::new();
    let mut first_seen: Option<HashMap<Date, usize>> = None;
    let mut record = csv::StringRecord::new();
    while let Some(number) = records.next_record(&mut record).map_err(|(line, p)| fail(line, p))? {
        let bar = columns.parse_row(&record).map_err(|problem| fail(number, problem))?;
        let ascending = first_seen.is_none() && bars.last().is_none_or(|last: &Bar| last.date < bar.date);
        if !ascending {
            let seen = first_seen.get_or_insert_with(|| bars.iter().map(|b| b.date).zip(lines.drain(..)).collect());
            if let Some(&first_line) = seen.get(&bar.date) {
                return Err(fail(number, Problem::DuplicateDate { date: bar.date, first_line }));
            }
            seen.insert(bar.date, number);
        } else {
            lines.push(number);
        }
        bars.push(bar);
    }
    if bars.is_empty() {
        return Err(fail(header_line, Problem::NoRows));
    }
    bars.sort_by_key(|bar| bar.date);
    Ok(bars)
}

/// Reads the header with each of [`Delimiter::DETECTED`] in turn and takes the first that gives
/// every needed column. When none does, the problem reported is that of the delimiter that found
/// the most needed columns, with what was tried.
fn detect(bytes: &[u8]) -> Result<(Records<'_>, usize, Columns), (usize, Problem)> {
    let mut best: Option<(usize, usize, Problem)> = None;
    for delimiter in Delimiter::DETECTED {
        let separator = delimiter.byte().expect("a detected delimiter is a byte");
        let mut records = Records::new(bytes, separator);
        let (line, header) = records.next_header()?.ok_or((1, Problem::Empty))?;
        match Columns::parse(&header, separator) {
            Ok(columns) => return Ok((records, line, columns)),
            Err(problem) => {
                let found =
                    REQUIRED_COLUMNS.iter().filter(|&&wanted| header_names(&header).any(|n| n == wanted)).count();
                if best.as_ref().is_none_or(|(most, _, _)| found > *most) {
                    best = Some((found, line, problem));
                }
            }
        }
    }
    let (_, line, problem) = best.expect("at least one delimiter was tried");
    let delimiters = "tried `,`, `;` and tab as the delimiter".to_string();
    Err((line, Problem::Header { problem: Box::new(problem), delimiters }))
}

/// The records of a CSV with the lines they start on, blank lines skipped.
///
/// The line is counted here: the `csv` crate's `Position::line` is where its read began, before
/// the empty lines it skips, and one line early after a CRLF (it counts the `\n` of a `\r\n`
/// with the next record).
struct Records<'a> {
    bytes: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    separator: u8,
    /// Line breaks in `bytes[..counted]`.
    breaks: usize,
    counted: usize,
}

impl<'a> Records<'a> {
    fn new(bytes: &'a [u8], separator: u8) -> Records<'a> {
        let reader =
            csv::ReaderBuilder::new().delimiter(separator).has_headers(false).flexible(true).from_reader(bytes);
        Records { bytes, reader, separator, breaks: 0, counted: 0 }
    }

    /// The 1-based line of the first byte at or after `offset` that is not a line end: where a
    /// record read from `offset` starts, since the reader skips empty lines.
    fn line_from(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        let start = offset + self.bytes[offset..].iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
        if start > self.counted {
            self.breaks += self.bytes[self.counted..start].iter().filter(|&&b| b == b'\n').count();
            self.counted = start;
        }
        self.breaks + 1
    }

    /// The first record that is not blank, with the line it starts on.
    fn next_header(&mut self) -> Result<Option<(usize, csv::StringRecord)>, (usize, Problem)> {
        let mut record = csv::StringRecord::new();
        Ok(self.next_record(&mut record)?.map(|line| (line, record)))
    }

    /// Reads the next record that is not blank into `record` (reused, so that a million rows do
    /// not cost a million allocations), and returns the line it starts on.
    fn next_record(&mut self, record: &mut csv::StringRecord) -> Result<Option<usize>, (usize, Problem)> {
        loop {
            let offset = self.reader.position().byte() as usize;
            match self.reader.read_record(record) {
                Ok(false) => return Ok(None),
                Ok(true) => {}
                Err(e) => {
                    let offset = e.position().map_or(offset, |p| p.byte() as usize);
                    return Err((self.line_from(offset), Problem::Unreadable(e.to_string())));
                }
            }
            // A line of white space is blank, as it was before quoting: one field, or several
            // when the delimiter is itself white space.
            let blank = (record.len() == 1 || self.separator == b'\t') && record.iter().all(|f| f.trim().is_empty());
            if !blank {
                let offset = record.position().map_or(offset, |p| p.byte() as usize);
                return Ok(Some(self.line_from(offset)));
            }
        }
    }
}

/// The header's column names, trimmed and lowercased.
fn header_names(header: &csv::StringRecord) -> impl Iterator<Item = String> + '_ {
    header.iter().map(|name| name.trim().to_ascii_lowercase())
}

/// Where each field sits in a row.
struct Columns {
    separator: u8,
    count: usize,
    date: usize,
    prices: [usize; 4],
    volume: Option<usize>,
}

impl Columns {
    fn parse(header: &csv::StringRecord, separator: u8) -> Result<Columns, Problem> {
        let names: Vec<String> = header_names(header).collect();
        for (i, name) in names.iter().enumerate() {
            if !name.is_empty() && names[..i].contains(name) {
                return Err(Problem::DuplicateColumn(quoted(name)));
            }
        }
        let find = |wanted: &'static str| names.iter().position(|name| name == wanted);
        let require = |wanted: &'static str| find(wanted).ok_or(Problem::MissingColumn(wanted));
        Ok(Columns {
            separator,
            count: names.len(),
            date: require("date")?,
            prices: [require("open")?, require("high")?, require("low")?, require("close")?],
            volume: find("volume"),
        })
    }

    fn parse_row(&self, record: &csv::StringRecord) -> Result<Bar, Problem> {
        if record.len() != self.count {
            let hint = if record.iter().any(|field| field.contains('\n')) {
                OPEN_QUOTE
            } else if self.separator == b',' && record.len() > self.count {
                UNQUOTED_COMMA
            } else {
                ""
            };
            return Err(Problem::FieldCount { expected: self.count, found: record.len(), hint });
        }
        let field = |index: usize| record[index].trim();
        let date = Date::parse(field(self.date)).map_err(|e| Problem::BadDate(e.to_string()))?;
        let mut prices = [0.0; 4];
        for (slot, (&index, column)) in prices.iter_mut().zip(self.prices.iter().zip(PRICE_COLUMNS)) {
            let text = field(index);
            let value = number(column, text, self.separator)?;
            if value <= 0.0 {
                return Err(Problem::NonPositivePrice { column, value });
            }
            // Prices travel as `float`: one that overflows would be served as infinity, one
            // that underflows as 0.
            let wire = value as f32;
            if !wire.is_finite() || wire == 0.0 {
                return Err(Problem::NotFloat32 { column, text: quoted(text) });
            }
            *slot = value;
        }
        let [open, high, low, close] = prices;
        if high < low {
            return Err(Problem::HighBelowLow { high, low });
        }
        for (column, value) in [("open", open), ("close", close)] {
            if value > high {
                return Err(Problem::OutsideRange { column, value, relation: "above high", bound: high });
            }
            if value < low {
                return Err(Problem::OutsideRange { column, value, relation: "below low", bound: low });
            }
        }
        let volume = match self.volume {
            Some(index) => number("volume", field(index), self.separator)?,
            None => 0.0,
        };
        if volume < 0.0 {
            return Err(Problem::NegativeVolume(volume));
        }
        Ok(Bar { date, open, high, low, close, volume })
    }
}

/// A finite decimal number; `nan`, `inf` and empty fields are not numbers here. With `,` as the
/// delimiter, commas may group thousands (`1,000.5`); with `;` or tab, one comma may be the
/// decimal separator (`1,5`) in a number without a point.
fn number(column: &'static str, text: &str, separator: u8) -> Result<f64, Problem> {
    // A hint about separators only for what looks like a number.
    let numeric =
        text.bytes().any(|b| b.is_ascii_digit()) && text.bytes().all(|b| b.is_ascii_digit() || b",.+-eE".contains(&b));
    let bad =
        |hint: &'static str| Problem::BadNumber { column, text: quoted(text), hint: if numeric { hint } else { "" } };
    let plain: Cow<'_, str> = if separator == b',' {
        if text.contains(',') {
            Cow::Owned(without_thousands_commas(text).ok_or_else(|| bad(THOUSANDS_ONLY))?)
        } else {
            Cow::Borrowed(text)
        }
    } else {
        match text.matches([',', '.']).count() {
            0 | 1 => Cow::Owned(text.replace(',', ".")),
            _ => return Err(bad(ONE_SEPARATOR)),
        }
    };
    match plain.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(bad("")),
    }
}

/// `1,000.5` as `1000.5`: the commas must group the digits before the point in threes.
fn without_thousands_commas(text: &str) -> Option<String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let sign = &text[..text.len() - unsigned.len()];
    let end = unsigned.find(['.', 'e', 'E']).unwrap_or(unsigned.len());
    let (integer, rest) = unsigned.split_at(end);
    if rest.contains(',') {
        return None;
    }
    let mut groups = integer.split(',');
    let first = groups.next()?;
    let digits = |group: &str| group.bytes().all(|b| b.is_ascii_digit());
    if !(1..=3).contains(&first.len()) || !digits(first) {
        return None;
    }
    let mut plain = format!("{sign}{first}");
    for group in groups {
        if group.len() != 3 || !digits(group) {
            return None;
        }
        plain.push_str(group);
    }
    plain.push_str(rest);
    Some(plain)
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

    fn message_with(delimiter: Delimiter, csv: &str) -> String {
        parse_csv_with("bars.csv", csv.as_bytes(), delimiter).unwrap_err().to_string()
    }

    fn prices(bar: &Bar) -> (f64, f64, f64, f64, f64) {
        (bar.open, bar.high, bar.low, bar.close, bar.volume)
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
        assert_eq!(prices(&bars[0]), (2.0, 5.0, 1.0, 4.0, 0.0));
    }

    #[test]
    fn blank_lines_are_skipped_anywhere() {
        let csv = "\n  \ndate,open,high,low,close\n\n \t \n2020-01-02,1,2,1,1\n   \n2020-01-03,1,2,1,1x\n";
        let (line, _, _) = problem(csv);
        assert_eq!(line, 8);
        let csv = "\t\ndate\topen\thigh\tlow\tclose\n \t \t\n2020-01-02\t1\t2\t1\t1\n";
        assert_eq!(parse_csv("x", csv.as_bytes()).unwrap().len(), 1);
    }

    // Each of the faults of the hand-written loader, read anew with the `csv` crate.

    #[test]
    fn reads_a_quoted_header_and_quoted_fields() {
        let csv = "\"date\",\"open\",\"high\",\"low\",\"close\"\n\"2020-01-02\",\"1\",\"2\",\"1\",\"1.5\"\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.0, 2.0, 1.0, 1.5, 0.0));
    }

    #[test]
    fn reads_quoted_thousands_separators_with_comma_delimiter() {
        let csv = "date,open,high,low,close,volume\n2020-01-02,\"1,000.5\",\"1,200\",999,1000,\"12,345,678\"\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1000.5, 1200.0, 999.0, 1000.0, 12_345_678.0));
    }

    #[test]
    fn reads_semicolon_files_with_decimal_commas() {
        let csv = "Datum;x;date;open;high;low;close;volume\n1;y;2020-01-02;1,5;2,25;1;2.0;1000\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.5, 2.25, 1.0, 2.0, 1000.0));
        assert_eq!(parse_csv_with("x", csv.as_bytes(), Delimiter::Semicolon).unwrap(), bars);
    }

    #[test]
    fn reads_tab_separated_files() {
        let csv = "date\topen\thigh\tlow\tclose\n2020-01-02\t1.5\t2\t1\t1,75\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1.5, 2.0, 1.0, 1.75, 0.0));
        assert_eq!(parse_csv_with("x", csv.as_bytes(), Delimiter::Tab).unwrap(), bars);
    }

    #[test]
    fn reads_a_quoted_crlf_file_with_a_byte_order_mark() {
        let csv = "\u{feff}\"Date\",\"Open\",\"High\",\"Low\",\"Close\"\r\n\
                   \"2020-01-02\",\"1,001.5\",\"1,002\",\"1,000\",\"1,001\"\r\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1001.5, 1002.0, 1000.0, 1001.0, 0.0));
    }

    #[test]
    fn rejects_open_or_close_outside_low_high() {
        let (line, p, msg) = problem("date,open,high,low,close\n2020-01-02,11,12,10,11\n2020-01-03,12.5,12.0,10,11\n");
        assert_eq!(line, 3);
        assert!(matches!(p, Problem::OutsideRange { column: "open", .. }));
        assert_eq!(msg, "bars.csv:3: open 12.5 is above high 12");
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,11,12,10,9.5\n");
        assert_eq!(msg, "bars.csv:2: close 9.5 is below low 10");
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,9,12,10,11\n");
        assert_eq!(msg, "bars.csv:2: open 9 is below low 10");
        // At the bounds is fine.
        assert!(parse_csv("x", b"date,open,high,low,close\n2020-01-02,10,12,10,12\n").is_ok());
    }

    #[test]
    fn rejects_prices_that_do_not_fit_a_float() {
        let (line, p, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,1e39,1,1\n");
        assert_eq!(line, 3);
        assert!(matches!(p, Problem::NotFloat32 { column: "high", .. }));
        assert!(
            msg.starts_with("bars.csv:3: high 1e39 does not fit a 32-bit float (the wire type of prices)"),
            "{msg}"
        );
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1e-50,1,1e-50,1\n");
        assert!(msg.starts_with("bars.csv:2: open 1e-50 does not fit a 32-bit float"), "{msg}");
        // The largest float is fine.
        let max = f32::MAX;
        assert!(parse_csv("x", format!("date,open,high,low,close\n2020-01-02,{max},{max},1,1\n").as_bytes()).is_ok());
    }

    #[test]
    fn refuses_ambiguous_separators_in_numbers_with_the_reason() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,\"1,5\",2,1,1\n");
        assert_eq!(line, 2);
        assert!(msg.starts_with("bars.csv:2: open \"1,5\" is not a number: in a comma-separated file"), "{msg}");
        assert!(msg.contains("decimal comma needs `;` or tab"), "{msg}");
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1.000,5;2000;1;1000\n");
        assert!(msg.starts_with("bars.csv:2: open \"1.000,5\" is not a number: with `;` or tab"), "{msg}");
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1;2;1;1\n2020-01-03;1;2;1;1.000.000\n");
        assert!(msg.starts_with("bars.csv:3: close \"1.000.000\" is not a number: with `;` or tab"), "{msg}");
        // Text that is not a number at all gets no hint about separators.
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1;a,b.c;1;1\n");
        assert_eq!(msg, "bars.csv:2: high \"a,b.c\" is not a number");
    }

    #[test]
    fn an_unquoted_thousands_comma_says_to_quote_it() {
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,000.5,2000,1,1000\n");
        assert_eq!(
            msg,
            "bars.csv:2: expected 5 fields as in the header, found 6 (a field that holds a comma, such as 1,000.5, \
             must be quoted)"
        );
    }

    #[test]
    fn a_missing_closing_quote_is_named() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,\"1,2,1,1\n2020-01-03,1,2,1,1\n");
        assert_eq!(line, 2);
        assert!(msg.contains("is a closing `\"` missing?"), "{msg}");
    }

    #[test]
    fn lines_are_physical_lines_even_after_a_quoted_line_break() {
        let csv = "date,open,high,low,close,note\n2020-01-02,1,2,1,1,\"two\nlines\"\n2020-01-03,1,2,3,1,x\n";
        let (line, _, msg) = problem(csv);
        assert_eq!((line, msg.as_str()), (4, "bars.csv:4: high 2 is below low 3"));
        let csv = "\u{feff}date,open,high,low,close\r\n\r\n2020-01-02,1,2,1,1\r\n2020-01-02,1,2,1,1\r\n";
        assert_eq!(problem(csv).2, "bars.csv:4: date 2020-01-02 appears again (first on line 3)");
    }

    #[test]
    fn the_delimiter_may_be_given_and_detection_says_what_it_tried() {
        let semicolons = "date;open;high;low;close\n2020-01-02;1;2;1;1\n";
        assert_eq!(
            message_with(Delimiter::Comma, semicolons),
            "bars.csv:1: the header has no `date` column: expected `date,open,high,low,close[,volume]` (with `,` as \
             the delimiter)"
        );
        assert!(message_with(Delimiter::Tab, semicolons).ends_with("(with tab as the delimiter)"));
        let (line, _, msg) = problem("date;open;high;close\n2020-01-02;1;2;1\n");
        assert_eq!(line, 1);
        assert_eq!(
            msg,
            "bars.csv:1: the header has no `low` column: expected `date,open,high,low,close[,volume]` (tried `,`, \
             `;` and tab as the delimiter)"
        );
        for name in ["auto", "comma", "semicolon", "tab"] {
            assert_eq!(name.parse::<Delimiter>().unwrap().to_string(), name);
        }
        assert!("pipe".parse::<Delimiter>().unwrap_err().contains("auto, comma, semicolon or tab"));
    }

    #[test]
    fn rejects_a_duplicate_date() {
        let (line, p, msg) =
            problem("date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,2,1,1\n2020-01-02,1,2,1,1\n");
        assert_eq!(line, 4);
        assert!(matches!(p, Problem::DuplicateDate { first_line: 2, .. }));
        assert_eq!(msg, "bars.csv:4: date 2020-01-02 appears again (first on line 2)");
        // Ascending rows until the repeat (the fast path), then a row out of order after which
        // the map takes over: the first repeat in file order is reported either way.
        let (line, p, _) = problem(
            "date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,2,1,1\n2020-01-03,1,2,1,1\n2020-01-02,1,2,1,1\n",
        );
        assert_eq!(line, 4);
        assert!(matches!(p, Problem::DuplicateDate { first_line: 3, .. }));
        let (line, p, _) = problem(
            "date,open,high,low,close\n2020-01-05,1,2,1,1\n2020-01-01,1,2,1,1\n2020-01-09,1,2,1,1\n2020-01-01,1,2,1,1\n",
        );
        assert_eq!(line, 5);
        assert!(matches!(p, Problem::DuplicateDate { first_line: 3, .. }));
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
        assert!(
            msg.starts_with("bars.csv:1: the header has no `low` column: expected `date,open,high,low,close[,volume]`"),
            "{msg}"
        );
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1\n");
        assert_eq!(line, 2);
        assert_eq!(msg, "bars.csv:2: expected 5 fields as in the header, found 4");
        let (_, _, msg) = problem("date,open,high,low,close,Open\n2020-01-02,1,2,1,1,1\n");
        assert!(msg.starts_with("bars.csv:1: the header names `open` twice"), "{msg}");
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
        assert_eq!(problem("\u{feff}\r\n \n").1, Problem::Empty);
        assert_eq!(problem("date,open,high,low,close\n").1, Problem::NoRows);
        let e = parse_csv("b", b"date,open,high,low,close\n\xff\n").unwrap_err();
        assert_eq!((e.line, e.problem), (2, Problem::NotUtf8));
    }
}
