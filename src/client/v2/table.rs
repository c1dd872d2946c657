//! Compute's `Series` and ListInstruments' instruments as tables: CSV (the `csv` crate) or JSON
//! lines (`serde_json`), one row per bar, written as each message arrives and flushed after it,
//! so that a reader downstream (`| pandas`, `| jq`) sees each instrument as soon as it is in.
//!
//! CSV: the header `symbol,date,open,high,low,close,volume,<columns...>` once, then the rows of
//! every instrument. A missing value (NaN, an indicator's warm-up) is an empty field, which
//! pandas' `read_csv` reads as NaN; infinities are `inf` and `-inf`, which it reads too. Every
//! number is written in the shortest form that reads back as the same `f64`.
//!
//! JSON lines: one object per row with the same keys in the same order; JSON has no NaN, so a
//! missing value (NaN, and an infinity) is `null`.

use std::io::{self, Write};

use clap::ValueEnum;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::V2Error;
use crate::protocol::indicators as pb;

/// The bar fields every row starts with, after `symbol`.
const BAR_FIELDS: [&str; 6] = ["date", "open", "high", "low", "close", "volume"];

/// How a table is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// CSV with a header line.
    #[default]
    Csv,
    /// One JSON object per line.
    Json,
}

/// Writes `Series` messages as one table.
pub struct SeriesWriter<W: Write> {
    sink: Sink<W>,
    /// The indicator columns of the first `Series`, which the CSV header names; every later one
    /// must have the same.
    columns: Option<Vec<String>>,
}

enum Sink<W: Write> {
    Csv(csv::Writer<W>),
    Json(io::BufWriter<W>),
}

impl<W: Write> SeriesWriter<W> {
    pub fn new(format: Format, out: W) -> SeriesWriter<W> {
        let sink = match format {
            Format::Csv => Sink::Csv(csv::Writer::from_writer(out)),
            Format::Json => Sink::Json(io::BufWriter::new(out)),
        };
        SeriesWriter { sink, columns: None }
    }

    /// Writes one instrument's rows (and, before the first, the CSV header), then flushes.
    pub fn write(&mut self, series: &pb::Series) -> Result<(), V2Error> {
        check_lengths(series)?;
        let names: Vec<String> = series.columns.iter().map(|c| c.name.clone()).collect();
        match &self.columns {
            Some(columns) if *columns != names => {
                return Err(reply_error(
                    series,
                    format!("its columns {names:?} are not the first instrument's {columns:?}"),
                ))
            }
            Some(_) => {}
            None => {
                if let Sink::Csv(csv) = &mut self.sink {
                    let header = ["symbol"].into_iter().chain(BAR_FIELDS).chain(names.iter().map(String::as_str));
                    csv.write_record(header).map_err(csv_error)?;
                }
                self.columns = Some(names);
            }
        }
        match &mut self.sink {
            Sink::Csv(csv) => {
                for row in 0..series.date.len() {
                    csv.write_record(csv_row(series, row)).map_err(csv_error)?;
                }
                csv.flush().map_err(V2Error::Stdout)
            }
            Sink::Json(out) => {
                for row in 0..series.date.len() {
                    serde_json::to_writer(&mut *out, &JsonRow { series, row })
                        .map_err(|e| V2Error::Stdout(e.into()))?;
                    out.write_all(b"\n").map_err(V2Error::Stdout)?;
                }
                out.flush().map_err(V2Error::Stdout)
            }
        }
    }
}

fn reply_error(series: &pb::Series, reason: String) -> V2Error {
    V2Error::Reply { symbol: series.symbol.clone(), reason }
}

pub(super) fn csv_error(error: csv::Error) -> V2Error {
    match error.into_kind() {
        csv::ErrorKind::Io(e) => V2Error::Stdout(e),
        other => V2Error::Stdout(io::Error::other(format!("{other:?}"))),
    }
}

/// Every field as long as `date`: a table cannot hold a ragged reply.
fn check_lengths(series: &pb::Series) -> Result<(), V2Error> {
    let rows = series.date.len();
    let fields = [
        ("open", series.open.len()),
        ("high", series.high.len()),
        ("low", series.low.len()),
        ("close", series.close.len()),
        ("volume", series.volume.len()),
    ];
    let columns = series.columns.iter().map(|c| (c.name.as_str(), c.values.len()));
    match fields.into_iter().chain(columns).find(|&(_, len)| len != rows) {
        Some((name, len)) => Err(reply_error(series, format!("{name} has {len} values for {rows} dates"))),
        None => Ok(()),
    }
}

/// The row's values after `symbol` and `date`, in header order.
fn values(series: &pb::Series, row: usize) -> impl Iterator<Item = f64> + '_ {
    [&series.open, &series.high, &series.low, &series.close, &series.volume]
        .into_iter()
        .map(move |field| field[row])
        .chain(series.columns.iter().map(move |c| c.values[row]))
}

fn csv_row(series: &pb::Series, row: usize) -> Vec<String> {
    let mut fields = vec![series.symbol.clone(), series.date[row].clone()];
    fields.extend(values(series, row).map(csv_number));
    fields
}

/// A CSV field for `value`: empty for NaN; otherwise the shortest text that reads back as the
/// same `f64`, without an exponent in the usual range (`1234.5`, `0.001`), with one outside it
/// (`1e-7`, `2.5e20`) so that no field runs to hundreds of digits.
pub fn csv_number(value: f64) -> String {
    if value.is_nan() {
        String::new()
    } else if value == 0.0 || !value.is_finite() || (1e-5..1e16).contains(&value.abs()) {
        format!("{value}")
    } else {
        format!("{value:e}")
    }
}

/// One row as a JSON object, keys in header order (serde_json writes NaN and infinities as null).
struct JsonRow<'a> {
    series: &'a pb::Series,
    row: usize,
}

impl Serialize for JsonRow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let series = self.series;
        let mut map = serializer.serialize_map(Some(BAR_FIELDS.len() + 1 + series.columns.len()))?;
        map.serialize_entry("symbol", &series.symbol)?;
        map.serialize_entry("date", &series.date[self.row])?;
        let names = BAR_FIELDS[1..].iter().copied().chain(series.columns.iter().map(|c| c.name.as_str()));
        for (name, value) in names.zip(values(series, self.row)) {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// One instrument as ListInstruments describes it, a row of [`write_instruments`].
#[derive(serde::Serialize)]
struct InstrumentRow<'a> {
    symbol: &'a str,
    name: &'a str,
    first_date: &'a str,
    last_date: &'a str,
    bars: u32,
    has_adj_factor: bool,
}

/// ListInstruments' reply as a table: `symbol,name,first_date,last_date,bars,has_adj_factor`.
pub fn write_instruments(format: Format, reply: &pb::ListInstrumentsReply, out: impl Write) -> Result<(), V2Error> {
    let rows = reply.instruments.iter().map(|i| InstrumentRow {
        symbol: &i.symbol,
        name: &i.name,
        first_date: &i.first_date,
        last_date: &i.last_date,
        bars: i.bars,
        has_adj_factor: i.has_adj_factor,
    });
    match format {
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            for row in rows {
                csv.serialize(row).map_err(csv_error)?;
            }
            csv.flush().map_err(V2Error::Stdout)
        }
        Format::Json => {
            let mut out = io::BufWriter::new(out);
            for row in rows {
                serde_json::to_writer(&mut out, &row).map_err(|e| V2Error::Stdout(e.into()))?;
                out.write_all(b"\n").map_err(V2Error::Stdout)?;
            }
            out.flush().map_err(V2Error::Stdout)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> pb::Series {
        pb::Series {
            symbol: "600519.SH".into(),
            date: vec!["2024-01-02".into(), "2024-01-03".into()],
            open: vec![1.5, 2.0],
            high: vec![2.0, 3.0],
            low: vec![1.0, 1.0],
            close: vec![1.75, 2.5],
            volume: vec![1e6, 0.0],
            columns: vec![pb::Column { name: "RSI(6)".into(), values: vec![f64::NAN, 1e-7], ..Default::default() }],
            ..Default::default()
        }
    }

    fn written(format: Format, all: &[pb::Series]) -> Result<String, V2Error> {
        let mut out = Vec::new();
        let mut writer = SeriesWriter::new(format, &mut out);
        for series in all {
            writer.write(series)?;
        }
        drop(writer);
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn csv_has_one_header_and_empty_fields_for_nan() {
        let text = written(Format::Csv, &[series(), series()]).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "symbol,date,open,high,low,close,volume,RSI(6)");
        assert_eq!(lines[1], "600519.SH,2024-01-02,1.5,2,1,1.75,1000000,");
        assert_eq!(lines[2], "600519.SH,2024-01-03,2,3,1,2.5,0,1e-7");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn json_lines_keep_the_header_order_and_write_nan_as_null() {
        let text = written(Format::Json, &[series()]).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            r#"{"symbol":"600519.SH","date":"2024-01-02","open":1.5,"high":2.0,"low":1.0,"close":1.75,"volume":1000000.0,"RSI(6)":null}"#
        );
    }

    #[test]
    fn numbers_read_back_as_the_same_f64() {
        for value in [0.1, 1.0 / 3.0, 1e-300, 123456789.123, -2.5e20, 5e-324, f64::MAX, -0.0] {
            assert_eq!(csv_number(value).parse::<f64>().unwrap().to_bits(), value.to_bits(), "{value}");
        }
        assert_eq!((csv_number(f64::INFINITY).as_str(), csv_number(f64::NAN).as_str()), ("inf", ""));
    }

    #[test]
    fn ragged_or_changing_replies_are_refused() {
        let mut short = series();
        short.close.pop();
        let e = written(Format::Csv, &[short]).unwrap_err().to_string();
        assert!(e.contains("close has 1 values for 2 dates"), "{e}");
        let mut other = series();
        other.columns[0].name = "RSI(12)".into();
        let e = written(Format::Csv, &[series(), other]).unwrap_err().to_string();
        assert!(e.contains("not the first instrument's"), "{e}");
    }
}
