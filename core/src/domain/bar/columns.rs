//! Where each column of a CSV sits in a row, and one row's fields read as a date and numbers
//! (the checks shared with Parquet are in `check`).

use super::aliases::{self, ADJ_FACTOR, ALIASES, DATE, PRICES, VOLUME};
use super::check::{check_adj_factor, check_bar, is_missing_text, PRICE_COLUMNS};
use super::dates::parse_date;
use super::number::number;
use super::{quoted, quoted_header, Bar, Problem};

const UNQUOTED_COMMA: &str = " (a field that holds a comma, such as 1,000.5, must be quoted)";
const PARTLY_MISSING: &str =
    " (a day without trading has all four prices empty or NaN, and is skipped; this row has some)";
const OPEN_QUOTE: &str = " (a quoted field runs on over the next lines: is a closing `\"` missing?)";

/// The header's column names, trimmed and lowercased.
fn header_names(header: &csv::StringRecord) -> Vec<String> {
    header.iter().map(aliases::normalized).collect()
}

/// How many of the five needed columns a header has (detection keeps the best delimiter's).
pub(super) fn required_found(header: &csv::StringRecord) -> usize {
    aliases::locate(&header_names(header))[..=PRICES[3]].iter().filter(|found| found.is_some()).count()
}

/// The header as it was read, for messages: its fields joined by the delimiter, quoted.
pub(super) fn shown(header: &csv::StringRecord, separator: u8) -> String {
    quoted_header(&header.iter().collect::<Vec<_>>().join(&char::from(separator).to_string()))
}

/// Where each field sits in a row.
pub(super) struct Columns {
    separator: u8,
    count: usize,
    date: usize,
    prices: [usize; 4],
    volume: Option<usize>,
    pub(super) adj_factor: Option<usize>,
}

/// One row of the file: a bar (with its factor when the file has the column), or a day whose
/// prices are all empty or NaN.
pub(super) enum Row {
    Bar(Bar, Option<f64>),
    Skipped,
}

impl Columns {
    pub(super) fn parse(header: &csv::StringRecord, separator: u8) -> Result<Columns, Problem> {
        let names = header_names(header);
        for (i, name) in names.iter().enumerate() {
            if !name.is_empty() && names[..i].contains(name) {
                return Err(Problem::DuplicateColumn(quoted(name)));
            }
        }
        let located = aliases::locate(&names);
        let require = |column: usize| located[column].ok_or(Problem::MissingColumn(ALIASES[column].0));
        // pandas' `to_csv` of a frame indexed by an unnamed DatetimeIndex: the dates are there,
        // under no name; guessing that they are dates would be wrong for other files.
        if located[DATE].is_none() && names.first().is_some_and(String::is_empty) {
            return Err(Problem::UnnamedFirstColumn);
        }
        Ok(Columns {
            separator,
            count: names.len(),
            date: require(DATE)?,
            prices: [require(PRICES[0])?, require(PRICES[1])?, require(PRICES[2])?, require(PRICES[3])?],
            volume: located[VOLUME],
            adj_factor: located[ADJ_FACTOR],
        })
    }

    pub(super) fn parse_row(&self, record: &csv::StringRecord) -> Result<Row, Problem> {
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
        let date = parse_date(field(self.date))?;
        if self.prices.iter().all(|&index| is_missing_text(field(index))) {
            return Ok(Row::Skipped);
        }
        let mut prices = [0.0; 4];
        for (slot, (&index, column)) in prices.iter_mut().zip(self.prices.iter().zip(PRICE_COLUMNS)) {
            let text = field(index);
            *slot = number(column, text, self.separator).map_err(|problem| match problem {
                Problem::BadNumber { column, text: shown, .. } if is_missing_text(text) => {
                    Problem::BadNumber { column, text: shown, hint: PARTLY_MISSING }
                }
                other => other,
            })?;
        }
        let volume = match self.volume {
            Some(index) => number("volume", field(index), self.separator)?,
            None => 0.0,
        };
        let bar = check_bar(date, prices, volume, |i| quoted(field(self.prices[i])))?;
        let adj_factor = match self.adj_factor {
            Some(index) => Some(check_adj_factor(number("adj_factor", field(index), self.separator)?)?),
            None => None,
        };
        Ok(Row::Bar(bar, adj_factor))
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::bar::tests::problem;
    use crate::domain::bar::{parse_csv, Problem};

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
    fn an_unquoted_thousands_comma_says_to_quote_it() {
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,000.5,2000,1,1000\n");
        assert_eq!(
            msg,
            "bars.csv:2: expected 5 fields as in the header, found 6 (a field that holds a comma, such as 1,000.5, \
             must be quoted)"
        );
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
}
