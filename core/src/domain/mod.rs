//! The domain: what the indicator service computes. Nothing here knows about gRPC; the `idc`
//! crate's service layer turns these values into protocol messages.
//!
//! * [`date`]: `YYYY-MM-DD` days and inclusive [`date::DateRange`]s.
//! * [`bar`]: daily [`bar::Bar`]s and their checked CSV loader.
//! * `parquet`: the Parquet loader of bars, with the CSV's names and checks (default feature
//!   `parquet`).
//! * [`catalog`]: the instruments a server holds, by symbol, swapped whole when files change.
//! * [`macd`]: MACD in the `cn` and `talib` conventions.
//! * [`indicators`]: the indicator engine: twenty built-ins in both conventions, one a file.
//! * [`analysis`]: an instrument's bars with their MACD over the full history; windows are slices.
//! * [`chart`]: the candlestick + MACD chart, rendered in memory to PNG (with the default feature
//!   `chart`, which the fuzz targets go without).
//! * [`series`]: an instrument's bars as columns, adjusted, resampled, with indicator columns.
//! * [`sample`]: the embedded sample data set.
//! * [`placeholder`]: the article's stand-in MACD rows (parity mode).

pub mod analysis;
pub mod bar;
pub mod catalog;
#[cfg(feature = "chart")]
pub mod chart;
pub mod date;
pub mod formula;
pub mod indicators;
pub mod live;
pub mod macd;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod placeholder;
pub mod sample;
pub mod series;
#[cfg(test)]
pub(crate) mod testing;

/// One row of a `GetMACD` reply, before it is put on the wire.
///
/// Values are `f64` because that is what the analysis computes in; the protocol stores them as
/// `float`, and the narrowing happens once, in the service layer, the way Python's protobuf does
/// it (round to nearest).
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    pub date: String,
    pub open: f64,
    pub close: f64,
    pub high: f64,
    pub low: f64,
    pub macd: f64,
}

/// `1 bar`, `2 bars`: a count and its noun, for messages.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
