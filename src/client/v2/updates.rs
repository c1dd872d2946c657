//! Subscribe's `Update`s as lines, one per update, flushed after each, so that a reader
//! downstream (a script, `| tail -f`-style consumers) sees every bar the moment it arrives.
//!
//! CSV: the header `symbol,date,open,high,low,close,volume,provisional,snapshot,<values...>`,
//! written with the first update, the value columns sorted by name (an update's values are a map,
//! which has no order of its own); then one row per update, numbers as Compute's table writes
//! them ([`super::table::csv_number`]: empty for NaN), `true`/`false` for the flags.
//!
//! JSON lines: one object per update with the same keys, the values as one object `values`
//! (sorted by name, null for NaN, since JSON has none).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::table::{csv_error, csv_number, Format};
use super::V2Error;
use crate::protocol::indicators as pb;

/// The fields every line starts with; the value columns follow.
const FIELDS: [&str; 9] = ["symbol", "date", "open", "high", "low", "close", "volume", "provisional", "snapshot"];

/// Writes `Update`s, one line each.
pub struct UpdateWriter<W: Write> {
    sink: Sink<W>,
    /// The value columns of the first update, which the CSV header names.
    columns: Option<Vec<String>>,
}

enum Sink<W: Write> {
    Csv(csv::Writer<W>),
    Json(io::BufWriter<W>),
}

impl<W: Write> UpdateWriter<W> {
    pub fn new(format: Format, out: W) -> UpdateWriter<W> {
        let sink = match format {
            Format::Csv => Sink::Csv(csv::Writer::from_writer(out)),
            Format::Json => Sink::Json(io::BufWriter::new(out)),
        };
        UpdateWriter { sink, columns: None }
    }

    /// Writes one update (and, before the first, the CSV header), then flushes.
    pub fn write(&mut self, update: &pb::Update) -> Result<(), V2Error> {
        let first = self.columns.is_none();
        let columns = self.columns.get_or_insert_with(|| {
            let mut names: Vec<String> = update.values.keys().cloned().collect();
            names.sort();
            names
        });
        // Every update of a subscription has the same indicators; a name the header lacks
        // would be a value silently dropped.
        if let Some(name) = update.values.keys().find(|name| columns.binary_search(name).is_err()) {
            return Err(V2Error::Reply {
                symbol: update.symbol.clone(),
                reason: format!("its update of {} has a value {name:?} that the first update had not", update.date),
            });
        }
        let bar = update.bar.get_or_default();
        let prices = [bar.open, bar.high, bar.low, bar.close, bar.volume];
        let value = |name: &String| update.values.get(name).copied().unwrap_or(f64::NAN);
        match &mut self.sink {
            Sink::Csv(csv) => {
                if first {
                    csv.write_record(FIELDS.iter().copied().chain(columns.iter().map(String::as_str)))
                        .map_err(csv_error)?;
                }
                let mut record = vec![update.symbol.clone(), update.date.clone()];
                record.extend(prices.map(csv_number));
                record.extend([update.provisional, update.snapshot].map(|b| b.to_string()));
                record.extend(columns.iter().map(|name| csv_number(value(name))));
                csv.write_record(&record).map_err(csv_error)?;
                csv.flush().map_err(V2Error::Stdout)
            }
            Sink::Json(out) => {
                let values: BTreeMap<&str, f64> = columns.iter().map(|name| (name.as_str(), value(name))).collect();
                let line = JsonUpdate { update, prices, values };
                serde_json::to_writer(&mut *out, &line).map_err(|e| V2Error::Stdout(e.into()))?;
                out.write_all(b"\n").and_then(|()| out.flush()).map_err(V2Error::Stdout)
            }
        }
    }
}

/// One update as a JSON object, keys in [`FIELDS`] order, then `values`.
struct JsonUpdate<'a> {
    update: &'a pb::Update,
    prices: [f64; 5],
    values: BTreeMap<&'a str, f64>,
}

impl Serialize for JsonUpdate<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(FIELDS.len() + 1))?;
        map.serialize_entry("symbol", &self.update.symbol)?;
        map.serialize_entry("date", &self.update.date)?;
        for (name, price) in FIELDS[2..7].iter().zip(self.prices) {
            map.serialize_entry(name, &price)?;
        }
        map.serialize_entry("provisional", &self.update.provisional)?;
        map.serialize_entry("snapshot", &self.update.snapshot)?;
        map.serialize_entry("values", &self.values)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(date: &str, snapshot: bool, values: &[(&str, f64)]) -> pb::Update {
        let bar = pb::Bar {
            date: date.into(),
            open: 10.0,
            high: 11.0,
            low: 9.5,
            close: 10.25,
            volume: 1e6,
            ..Default::default()
        };
        pb::Update {
            symbol: "600519.SH".into(),
            date: date.into(),
            bar: Some(bar).into(),
            values: values.iter().map(|&(k, v)| (k.to_string(), v)).collect(),
            provisional: !snapshot,
            snapshot,
            ..Default::default()
        }
    }

    fn written(format: Format, all: &[pb::Update]) -> Result<String, V2Error> {
        let mut out = Vec::new();
        let mut writer = UpdateWriter::new(format, &mut out);
        for u in all {
            writer.write(u)?;
        }
        drop(writer);
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn csv_sorts_the_value_columns_and_writes_one_header() {
        let values = [("RSI(6)", 55.5), ("MACD(12,26,9).DIF", f64::NAN)];
        let text = written(Format::Csv, &[update("2024-01-04", true, &values), update("2024-01-05", false, &values)]);
        let text = text.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "symbol,date,open,high,low,close,volume,provisional,snapshot,\"MACD(12,26,9).DIF\",RSI(6)",
                "600519.SH,2024-01-04,10,11,9.5,10.25,1000000,false,true,,55.5",
                "600519.SH,2024-01-05,10,11,9.5,10.25,1000000,true,false,,55.5",
            ]
        );
    }

    #[test]
    fn json_lines_carry_the_values_as_an_object_with_null_for_nan() {
        let text = written(Format::Json, &[update("2024-01-04", true, &[("RSI(6)", f64::NAN), ("A", 1.5)])]).unwrap();
        assert_eq!(
            text,
            "{\"symbol\":\"600519.SH\",\"date\":\"2024-01-04\",\"open\":10.0,\"high\":11.0,\"low\":9.5,\"close\":10.25,\
             \"volume\":1000000.0,\"provisional\":false,\"snapshot\":true,\"values\":{\"A\":1.5,\"RSI(6)\":null}}\n"
        );
    }

    #[test]
    fn a_value_the_first_update_lacked_is_refused() {
        let e = written(Format::Csv, &[update("2024-01-04", true, &[]), update("2024-01-05", false, &[("X", 1.0)])]);
        assert!(e.unwrap_err().to_string().contains("\"X\""));
    }
}
