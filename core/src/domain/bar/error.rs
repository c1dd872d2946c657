//! Why a file of bars was refused: where (`file:line` for CSV, `file: row N` for Parquet), and
//! what was wrong, with what was found and how to fix it where that can be told.

use std::fmt;

use super::aliases::accepted_names;
use crate::domain::date::Date;

/// Why a file was refused: where, and what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct BarsError {
    pub source_name: String,
    /// CSV: the 1-based line of the file where the offending record starts. Parquet: the 1-based
    /// row (in the file's order), or 0 for the file as a whole.
    pub line: usize,
    pub problem: Problem,
    pub format: Format,
}

/// The kind of file, which decides how a place in it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `file:line: reason`
    #[default]
    Csv,
    /// `file: row N: reason`, or `file: reason` for the file as a whole.
    Parquet,
}

impl fmt::Display for BarsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, line, problem) = (&self.source_name, self.line, &self.problem);
        match self.format {
            Format::Csv => write!(f, "{name}:{line}: {problem}"),
            Format::Parquet if line == 0 => write!(f, "{name}: {problem}"),
            Format::Parquet => write!(f, "{name}: row {line}: {problem}"),
        }
    }
}

/// What was wrong with a file, a header or a row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("the file is empty: it needs a header `date,open,high,low,close[,volume]` and at least one row")]
    Empty,
    #[error("the file has a header but no rows")]
    NoRows,
    #[error("the file has no rows")]
    NoParquetRows,
    #[error("the file has no bars: all its rows ({0}) have prices that are empty or NaN")]
    OnlySkipped(usize),
    #[error("the text is not UTF-8")]
    NotUtf8,
    /// Not UTF-8, but every high-bit byte pairs up as GBK's do; the file name is for the command.
    #[error(
        "the text is not UTF-8; it looks like GBK (Chinese Windows and Excel save CSV so): convert it with \
         `iconv -f GBK -t UTF-8 {0} > {0}.utf8` and load that"
    )]
    NotUtf8Gbk(String),
    #[error("the header has no `{0}` column: expected `date,open,high,low,close[,volume]`")]
    MissingColumn(&'static str),
    /// No date column, and the first column is unnamed: pandas' index, most likely.
    #[error(
        "the header has no `date` column, and its first column has no name, as pandas writes an unnamed index: \
         name it, e.g. `df.rename_axis(\"date\").to_csv(path)`"
    )]
    UnnamedFirstColumn,
    #[error("the header names `{0}` twice")]
    DuplicateColumn(String),
    /// A header problem, with the delimiter or delimiters it was read with, the header as read
    /// (quoted, cut short), and for a missing column the names it may have.
    #[error("{problem} ({delimiters}); the header read is {found}{}", names_hint(problem))]
    Header { problem: Box<Problem>, delimiters: String, found: String },
    /// A Parquet file without a needed column: its columns (quoted, cut short).
    #[error(
        "the file has no `{missing}` column: expected date, open, high, low, close and optional volume and \
         adj_factor; its columns are {found}; {}",
        accepted_names(missing)
    )]
    MissingField { missing: &'static str, found: String },
    /// A Parquet column of a type that cannot hold what it should.
    #[error("column `{column}` is {found}: {expected}")]
    ColumnType { column: String, found: String, expected: &'static str },
    /// `hint` is empty, or says what probably went wrong.
    #[error("expected {expected} fields as in the header, found {found}{hint}")]
    FieldCount { expected: usize, found: usize, hint: &'static str },
    #[error("{0}")]
    BadDate(String),
    /// A Parquet value that is null where one is needed.
    #[error("{0} is null")]
    Null(&'static str),
    /// A Parquet price that is null or NaN in a row whose other prices are not.
    #[error(
        "{0} is null or NaN (a day without trading has all four prices null or NaN, and is skipped; this row has \
         some)"
    )]
    PartlyMissing(&'static str),
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
    #[error("adj_factor is {0}: it must be a finite number above 0")]
    BadAdjFactor(f64),
    #[error("high {high} is below low {low}")]
    HighBelowLow { high: f64, low: f64 },
    /// Open or close outside [low, high]: `relation` is `above high` or `below low`.
    #[error("{column} {value} is {relation} {bound}")]
    OutsideRange { column: &'static str, value: f64, relation: &'static str, bound: f64 },
    #[error("date {date} appears again (first on line {first_line})")]
    DuplicateDate { date: Date, first_line: usize },
    #[error("date {date} appears again (first on row {first_row})")]
    DuplicateDateRow { date: Date, first_row: usize },
    /// An error of the CSV reader or the Parquet decoder itself.
    #[error("{0}")]
    Unreadable(String),
}

/// For a missing column: the names it may have.
fn names_hint(problem: &Problem) -> String {
    match problem {
        Problem::MissingColumn(column) => format!("; {}", accepted_names(column)),
        Problem::UnnamedFirstColumn => format!("; {}", accepted_names("date")),
        _ => String::new(),
    }
}

/// At most this many characters of a bad field are quoted back.
const QUOTED_CHARS: usize = 32;

/// At most this many characters of a header are quoted back.
const HEADER_CHARS: usize = 120;

pub(crate) fn quoted(text: &str) -> String {
    cut(text, QUOTED_CHARS)
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A header or a list of columns as messages show it: in quotes, cut short.
pub(crate) fn quoted_header(text: &str) -> String {
    format!("{:?}", cut(text, HEADER_CHARS))
}

/// Whether bytes that are not UTF-8 read as GBK (or GB18030's two-byte part): every byte above
/// 0x7F starts a pair whose second byte is 0x40 to 0xFE but not 0x7F, and there is at least one.
pub(crate) fn looks_like_gbk(bytes: &[u8]) -> bool {
    let mut pairs = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x00..=0x7f => i += 1,
            0x81..=0xfe => match bytes.get(i + 1) {
                Some(&trail) if (0x40..=0xfe).contains(&trail) && trail != 0x7f => {
                    pairs += 1;
                    i += 2;
                }
                _ => return false,
            },
            _ => return false,
        }
    }
    pairs > 0
}

/// A file name as a shell word: as it is when it needs no quoting, else in single quotes.
pub(crate) fn shell_word(name: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || "._-/+@%:,".contains(c);
    if !name.is_empty() && name.chars().all(plain) {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', r"'\''"))
    }
}
