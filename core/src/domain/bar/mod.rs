//! Daily bars and their loaders: CSV here, Parquet in `domain::parquet`, with the same
//! column names, date forms and checks.
//!
//! The CSV has a header naming `date,open,high,low,close` and optionally `volume` and
//! `adj_factor` (any order, any case; other columns are ignored), and rows in any order. Each
//! column may go by the names its tools give it (tushare's `trade_date` and `vol`, akshare's
//! `日期`, `开盘`, ...), all in one table in `aliases`:
//!
//! | column | names |
//! |---|---|
//! | date | `date`, `trade_date`, `日期`, `datetime`, `time` |
//! | open | `open`, `开盘` |
//! | high | `high`, `最高` |
//! | low | `low`, `最低` |
//! | close | `close`, `收盘` |
//! | volume | `volume`, `vol`, `成交量` |
//! | adj_factor | `adj_factor`, `复权因子` |
//!
//! `Adj Close` (Yahoo's adjusted close) is not a factor and is ignored. Dates are `YYYY-MM-DD`,
//! `YYYYMMDD` or `YYYY/MM/DD`, optionally followed by the midnight time ` 00:00:00`; any other
//! time of day is refused, since these are daily bars (`dates`). A row whose four prices are all
//! empty or NaN is a suspended day: it is skipped and counted ([`Table::skipped`]).
//!
//! It is read with the `csv` crate: fields may be quoted (`"1,000.5"`, `"date"`), lines may end
//! in LF or CRLF, a UTF-8 byte order mark is skipped, and so are blank lines. The delimiter is
//! `,`, `;` or tab, given or detected from the header ([`Delimiter`]). A file that is not UTF-8
//! but reads as GBK is refused with the `iconv` command that converts it.
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
//! open, close <= high; an `adj_factor` must be finite and positive. A refused header is quoted
//! back with the names its missing column may have.
//!
//! The loader is in parts: [`Delimiter`] (given or detected), the records with the physical
//! lines they start on (`records`), where each column sits (`columns`, by the names in
//! `aliases`), the dates (`dates`) and the numbers with their locale's separators (`number`); the
//! checks of a row (`check`) and the gathering of rows into a sorted [`Table`] (`table`) are
//! shared with the Parquet loader, and so are the errors (`error`).

pub(crate) mod aliases;
pub(crate) mod check;
mod columns;
pub(crate) mod dates;
mod delimiter;
mod error;
mod number;
#[cfg(test)]
mod quant_files;
mod records;
mod table;

use std::fmt;

use super::date::Date;
use columns::{Columns, Row};
pub use delimiter::Delimiter;
pub(crate) use error::{quoted, quoted_header};
pub use error::{BarsError, Format, Problem};
use records::Records;
pub use table::Table;
pub(crate) use table::TableBuilder;

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

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} o={} h={} l={} c={} v={}", self.date, self.open, self.high, self.low, self.close, self.volume)
    }
}

/// Parses and checks a CSV of daily bars, detecting its delimiter; returns them sorted by date.
///
/// `source_name` is what error messages call the file (its path, or `sample`). Days whose prices
/// are all empty or NaN are left out, and an `adj_factor` column is checked but not returned:
/// [`parse_table`] returns both.
pub fn parse_csv(source_name: &str, bytes: &[u8]) -> Result<Vec<Bar>, BarsError> {
    parse_csv_with(source_name, bytes, Delimiter::Auto)
}

/// [`parse_csv`] with the given delimiter ([`Delimiter::Auto`] detects it from the header).
pub fn parse_csv_with(source_name: &str, bytes: &[u8], delimiter: Delimiter) -> Result<Vec<Bar>, BarsError> {
    parse_table(source_name, bytes, delimiter).map(|table| table.bars)
}

/// Parses and checks a CSV of daily bars: the bars sorted by date, their `adj_factor` when the
/// file has the column, and how many suspended days (all prices empty or NaN) were skipped.
pub fn parse_table(source_name: &str, bytes: &[u8], delimiter: Delimiter) -> Result<Table, BarsError> {
    let fail = |line: usize, problem: Problem| BarsError {
        source_name: source_name.to_string(),
        line,
        problem,
        format: Format::Csv,
    };
    if let Err(e) = std::str::from_utf8(bytes) {
        let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        let problem = match error::looks_like_gbk(bytes) {
            true => Problem::NotUtf8Gbk(error::shell_word(source_name)),
            false => Problem::NotUtf8,
        };
        return Err(fail(line, problem));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);

    let (mut records, header_line, columns) = match delimiter.byte() {
        Some(separator) => {
            let mut records = Records::new(bytes, separator);
            let (line, header) =
                records.next_header().map_err(|(line, p)| fail(line, p))?.ok_or_else(|| fail(1, Problem::Empty))?;
            let columns = Columns::parse(&header, separator).map_err(|problem| {
                let delimiters = format!("with {} as the delimiter", delimiter.shown());
                let found = columns::shown(&header, separator);
                fail(line, Problem::Header { problem: Box::new(problem), delimiters, found })
            })?;
            (records, line, columns)
        }
        None => detect(bytes).map_err(|(line, p)| fail(line, p))?,
    };

    let mut table = TableBuilder::new(columns.adj_factor.is_some());
    let mut record = csv::StringRecord::new();
    while let Some(number) = records.next_record(&mut record).map_err(|(line, p)| fail(line, p))? {
        match columns.parse_row(&record).map_err(|problem| fail(number, problem))? {
            Row::Skipped => table.skip(),
            Row::Bar(bar, adj_factor) => table
                .push(number, bar, adj_factor)
                .map_err(|first_line| fail(number, Problem::DuplicateDate { date: bar.date, first_line }))?,
        }
    }
    table.finish().map_err(|table| match table.skipped {
        0 => fail(header_line, Problem::NoRows),
        skipped => fail(header_line, Problem::OnlySkipped(skipped)),
    })
}

/// Reads the header with each of [`Delimiter::DETECTED`] in turn and takes the first that gives
/// every needed column. When none does, the problem reported is that of the delimiter that found
/// the most needed columns, with what was tried.
fn detect(bytes: &[u8]) -> Result<(Records<'_>, usize, Columns), (usize, Problem)> {
    let mut best: Option<(usize, usize, Problem, String)> = None;
    for delimiter in Delimiter::DETECTED {
        let separator = delimiter.byte().expect("a detected delimiter is a byte");
        let mut records = Records::new(bytes, separator);
        let (line, header) = records.next_header()?.ok_or((1, Problem::Empty))?;
        match Columns::parse(&header, separator) {
            Ok(columns) => return Ok((records, line, columns)),
            Err(problem) => {
                let found = columns::required_found(&header);
                if best.as_ref().is_none_or(|(most, ..)| found > *most) {
                    best = Some((found, line, problem, columns::shown(&header, separator)));
                }
            }
        }
    }
    let (_, line, problem, found) = best.expect("at least one delimiter was tried");
    let delimiters = "tried `,`, `;` and tab as the delimiter".to_string();
    Err((line, Problem::Header { problem: Box::new(problem), delimiters, found }))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn problem(csv: &str) -> (usize, Problem, String) {
        let e = parse_csv("bars.csv", csv.as_bytes()).unwrap_err();
        let message = e.to_string();
        (e.line, e.problem, message)
    }

    pub(super) fn message_with(delimiter: Delimiter, csv: &str) -> String {
        parse_csv_with("bars.csv", csv.as_bytes(), delimiter).unwrap_err().to_string()
    }

    pub(super) fn prices(bar: &Bar) -> (f64, f64, f64, f64, f64) {
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
    fn rejects_negative_volume_empty_files_and_non_utf8() {
        let (_, _, msg) = problem("date,open,high,low,close,volume\n2020-01-02,1,2,1,1,-5\n");
        assert_eq!(msg, "bars.csv:2: volume is -5: it must be 0 or more");
        assert_eq!(problem("").1, Problem::Empty);
        assert_eq!(problem("\u{feff}\r\n \n").1, Problem::Empty);
        assert_eq!(problem("date,open,high,low,close\n").1, Problem::NoRows);
        let e = parse_csv("b", b"date,open,high,low,close\n\xff\n").unwrap_err();
        assert_eq!((e.line, e.problem), (2, Problem::NotUtf8));
    }

    #[test]
    fn a_table_has_the_factors_aligned_and_counts_the_suspended_days() {
        let csv = "date,open,high,low,close,volume,adj_factor\n2020-01-06,2,3,1,2.5,100,1.5\n\
                   2020-01-03,,,,,0,1.5\n2020-01-02,1,2,0.5,1.5,50,1.25\n2020-01-07,NaN,nan,NAN,,,\n";
        let table = parse_table("x", csv.as_bytes(), Delimiter::Auto).unwrap();
        let dates: Vec<String> = table.bars.iter().map(|b| b.date.to_string()).collect();
        assert_eq!(dates, ["2020-01-02", "2020-01-06"]);
        assert_eq!(table.adj_factor, Some(vec![1.25, 1.5]));
        assert_eq!(table.skipped, 2);
        assert_eq!(parse_csv("x", csv.as_bytes()).unwrap(), table.bars);
        let plain = parse_table("x", b"date,open,high,low,close\n2020-01-02,1,2,1,1\n", Delimiter::Comma).unwrap();
        assert_eq!((plain.adj_factor, plain.skipped), (None, 0));
    }

    #[test]
    fn refuses_a_bad_factor_a_partly_empty_row_and_a_file_of_suspended_days() {
        let head = "date,open,high,low,close,adj_factor\n";
        for (row, reason) in [
            ("2020-01-02,1,2,1,1,0", "adj_factor is 0: it must be a finite number above 0"),
            ("2020-01-02,1,2,1,1,-2", "adj_factor is -2: it must be a finite number above 0"),
            ("2020-01-02,1,2,1,1,", "adj_factor \"\" is not a number"),
            ("2020-01-02,1,2,1,1,nan", "adj_factor \"nan\" is not a number"),
            ("2020-01-02,1,,1,1,1", "high \"\" is not a number (a day without trading has all four prices empty"),
            ("2020-01-32,,,,,1", "\"2020-01-32\" is not a real day"),
        ] {
            let (_, _, msg) = problem(&format!("{head}{row}\n"));
            assert!(msg.starts_with(&format!("bars.csv:2: {reason}")), "{row}: {msg}");
        }
        let (line, p, msg) = problem(&format!("{head}2020-01-02,,,,,1\n2020-01-03,nan,nan,nan,nan,1\n"));
        assert_eq!((line, p), (1, Problem::OnlySkipped(2)));
        assert_eq!(msg, "bars.csv:1: the file has no bars: all its rows (2) have prices that are empty or NaN");
    }
}
