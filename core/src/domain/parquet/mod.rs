//! Parquet files of daily bars, as pandas' `DataFrame.to_parquet` (pyarrow) writes them: the
//! same column names and aliases as the CSV loader (`date,open,high,low,close`, optional
//! `volume` and `adj_factor`, any case, tushare's and akshare's names too), and the same checks
//! of every row, shared with it (`bar::check`, `bar::TableBuilder`): so a file loads the same
//! bars whichever format it was saved in.
//!
//! The date may be a string in the CSV's forms, a `date32`, a timestamp of any unit at midnight
//! (a time-zone-aware one is read in UTC), or an integer `YYYYMMDD`; numbers may be double,
//! float, int64 or int32. A row whose four prices are all null or NaN (pyarrow stores pandas'
//! NaN as null) is a suspended day, skipped and counted. Other columns, the pandas index among
//! them, are ignored.
//!
//! Read with the `parquet` crate of arrow-rs through its column readers, without arrow and with
//! Snappy alone among the codecs (pandas' default); a file compressed otherwise is refused with
//! how to write it. Refusals read `file: row N: reason` (rows counted from 1 in the file's
//! order), or `file: reason` for the file as a whole.

mod read;
mod schema;

use ::parquet::errors::ParquetError;
use ::parquet::file::reader::{FileReader, SerializedFileReader};

use super::bar::check::{check_adj_factor, check_bar};
use super::bar::dates::{from_days, from_timestamp, parse_date};
use super::bar::{BarsError, Format, Problem, Table, TableBuilder};
use super::date::Date;
use read::Dates;
use schema::{DateKind, Layout};

/// Parses and checks a Parquet file of daily bars: the bars sorted by date, their `adj_factor`
/// when the file has the column, and how many suspended days were skipped.
///
/// `source_name` is what error messages call the file.
pub fn parse_table(source_name: &str, bytes: &[u8]) -> Result<Table, BarsError> {
    // The parquet crate panics, rather than returns an error, on some malformed files (55.2: an
    // RLE run cut short, `encodings/rle.rs`; a level length past the page's end, sliced in
    // `column/reader.rs`, both fixed in parquet 57; a list length in the footer's thrift that
    // overflows `Vec::with_capacity`, `format.rs`: all three found by the fuzz target `parquet`).
    // A file is whatever someone saved in the data directory: a panic while decoding it is that
    // file's refusal, not the end of the server. Only our own values are inside, so nothing is
    // left half-changed. Not caught: a list length in the footer that is merely huge, which 55.2
    // reserves before reading (apache/arrow-rs#9874; bounded by the bytes left from parquet 60).
    std::panic::catch_unwind(|| parse(source_name, bytes)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        Err(BarsError {
            source_name: source_name.to_string(),
            line: 0,
            problem: Problem::Unreadable(format!("not a Parquet file that can be read: the decoder failed ({why})")),
            format: Format::Parquet,
        })
    })
}

fn parse(source_name: &str, bytes: &[u8]) -> Result<Table, BarsError> {
    let fail = |row: usize, problem: Problem| BarsError {
        source_name: source_name.to_string(),
        line: row,
        problem,
        format: Format::Parquet,
    };
    let reader =
        SerializedFileReader::new(bytes::Bytes::copy_from_slice(bytes)).map_err(|e| fail(0, unreadable(&e)))?;
    let layout = Layout::find(reader.metadata().file_metadata().schema_descr()).map_err(|p| fail(0, p))?;
    let mut table = TableBuilder::new(layout.adj_factor.is_some());
    let mut first_row = 1;
    for index in 0..reader.num_row_groups() {
        let group = reader.get_row_group(index).map_err(|e| fail(0, unreadable(&e)))?;
        let rows = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
        let columns = GroupColumns::read(&*group, &layout, rows).map_err(|e| fail(0, unreadable(&e)))?;
        for i in 0..rows {
            let row = first_row + i;
            columns
                .add_row(i, row, &layout, &mut table)
                .map_err(|problem| fail(row, problem))?
                .map_err(|(date, first)| fail(row, Problem::DuplicateDateRow { date, first_row: first }))?;
        }
        first_row += rows;
    }
    table.finish().map_err(|table| match table.skipped {
        0 => fail(0, Problem::NoParquetRows),
        skipped => fail(0, Problem::OnlySkipped(skipped)),
    })
}

/// What the decoder said, with what to do when it is the codec.
fn unreadable(error: &ParquetError) -> Problem {
    let text = error.to_string();
    if text.contains("Disabled feature") || text.contains("not supported") && text.contains("codec") {
        Problem::Unreadable(format!(
            "cannot decode the file ({text}): only Snappy-compressed or uncompressed Parquet is read; write it with \
             pandas' default, `df.to_parquet(path)` (or compression=\"snappy\")"
        ))
    } else {
        Problem::Unreadable(format!("not a Parquet file that can be read: {text}"))
    }
}

/// One row group's columns.
struct GroupColumns {
    dates: Dates,
    prices: [Vec<Option<f64>>; 4],
    volume: Option<Vec<Option<f64>>>,
    adj_factor: Option<Vec<Option<f64>>>,
}

/// Adding a row: a problem with the row, or its date repeated (with the row it first came on).
type Added = Result<Result<(), (Date, usize)>, Problem>;

impl GroupColumns {
    fn read(
        group: &dyn ::parquet::file::reader::RowGroupReader,
        layout: &Layout,
        rows: usize,
    ) -> Result<Self, ParquetError> {
        let numbers = |column| read::numbers(group, column, rows);
        let [open, high, low, close] = layout.prices;
        Ok(GroupColumns {
            dates: read::dates(group, layout.date, rows)?,
            prices: [numbers(open)?, numbers(high)?, numbers(low)?, numbers(close)?],
            volume: layout.volume.map(numbers).transpose()?,
            adj_factor: layout.adj_factor.map(numbers).transpose()?,
        })
    }

    fn date(&self, i: usize, kind: DateKind) -> Result<Date, Problem> {
        let null = || Problem::Null("date");
        match (&self.dates, kind) {
            (Dates::Text(values), _) => {
                let value = values[i].as_ref().ok_or_else(null)?;
                let text = std::str::from_utf8(value.data()).map_err(|_| Problem::NotUtf8)?;
                parse_date(text.trim())
            }
            (Dates::Int32(values), DateKind::Days) => from_days(i64::from(values[i].ok_or_else(null)?)),
            (Dates::Int64(values), DateKind::Timestamp { per_day, unit, utc }) => {
                from_timestamp(values[i].ok_or_else(null)?, per_day, unit, utc)
            }
            (Dates::Int32(values), _) => parse_date(&values[i].ok_or_else(null)?.to_string()),
            (Dates::Int64(values), _) => parse_date(&values[i].ok_or_else(null)?.to_string()),
        }
    }

    /// Checks row `i` of the group, row `row` of the file, and adds it to `table` (or counts it
    /// as skipped).
    fn add_row(&self, i: usize, row: usize, layout: &Layout, table: &mut TableBuilder) -> Added {
        let date = self.date(i, layout.date.kind)?;
        let prices = self.prices.each_ref().map(|column| column[i]);
        if prices.iter().all(|p| p.is_none_or(f64::is_nan)) {
            table.skip();
            return Ok(Ok(()));
        }
        let mut values = [0.0; 4];
        for (slot, (price, column)) in values.iter_mut().zip(prices.iter().zip(super::bar::check::PRICE_COLUMNS)) {
            *slot = price.filter(|p| !p.is_nan()).ok_or(Problem::PartlyMissing(column))?;
        }
        let volume = match &self.volume {
            Some(column) => column[i].ok_or(Problem::Null("volume"))?,
            None => 0.0,
        };
        let bar = check_bar(date, values, volume, |k| values[k].to_string())?;
        let adj_factor = match &self.adj_factor {
            Some(column) => Some(check_adj_factor(column[i].ok_or(Problem::Null("adj_factor"))?)?),
            None => None,
        };
        Ok(table.push(row, bar, adj_factor).map_err(|first| (date, first)))
    }
}

#[cfg(test)]
mod tests {
    /// Found by the fuzz target `parquet` (minimized): a file pandas wrote, changed so that an RLE
    /// run in a data page is cut short, on which parquet 55.2 asserts (`encodings/rle.rs`) rather
    /// than return an error.
    #[test]
    fn a_panic_in_the_decoder_is_the_file_s_refusal() {
        let cases: [(&[u8], &str); 3] = [
            (include_bytes!("testdata/rle_run_cut_short.parquet"), "assertion failed"),
            // The second file: a definition level's length that runs past the end of its page.
            (include_bytes!("testdata/level_length_past_the_end.parquet"), "range end out of bounds"),
            // The third: a list in the footer's metadata of more elements than memory has room for.
            (include_bytes!("testdata/footer_list_length_overflows.parquet"), "capacity overflow"),
        ];
        for (bytes, why) in cases {
            let e = super::parse_table("cut.parquet", bytes).unwrap_err();
            assert_eq!(e.line, 0, "{e}");
            let text = e.to_string();
            let expected = format!("cut.parquet: not a Parquet file that can be read: the decoder failed ({why}");
            assert!(text.starts_with(&expected), "{text}");
        }
    }
}
