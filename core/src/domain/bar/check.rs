//! The checks of one row, whatever the file's format: positive prices that fit a `float`,
//! low <= open, close <= high, a volume of 0 or more, and an `adj_factor` that is finite and
//! positive. The CSV and Parquet loaders turn their fields into numbers and call these.

use super::{Bar, Problem};
use crate::domain::date::Date;

pub(crate) const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];

/// Empty or NaN: what pandas and data vendors write for a price on a day without trading.
pub(crate) fn is_missing_text(text: &str) -> bool {
    text.is_empty() || text.eq_ignore_ascii_case("nan")
}

/// A bar from its date, its prices in [`PRICE_COLUMNS`] order, and its volume, all checked.
/// `text` gives a price as the file wrote it, for the message when it does not fit a `float`.
pub(crate) fn check_bar(
    date: Date,
    prices: [f64; 4],
    volume: f64,
    text: impl Fn(usize) -> String,
) -> Result<Bar, Problem> {
    for (i, (&value, column)) in prices.iter().zip(PRICE_COLUMNS).enumerate() {
        if value.is_nan() || value.is_infinite() {
            return Err(Problem::BadNumber { column, text: value.to_string(), hint: "" });
        }
        if value <= 0.0 {
            return Err(Problem::NonPositivePrice { column, value });
        }
        // Prices travel as `float`: one that overflows would be served as infinity, one that
        // underflows as 0.
        let wire = value as f32;
        if !wire.is_finite() || wire == 0.0 {
            return Err(Problem::NotFloat32 { column, text: text(i) });
        }
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
    if volume.is_nan() || volume.is_infinite() {
        return Err(Problem::BadNumber { column: "volume", text: volume.to_string(), hint: "" });
    }
    if volume < 0.0 {
        return Err(Problem::NegativeVolume(volume));
    }
    Ok(Bar { date, open, high, low, close, volume })
}

/// An `adj_factor`: the price multiplier of 复权; 0, negative or NaN would make adjusted prices
/// meaningless.
pub(crate) fn check_adj_factor(value: f64) -> Result<f64, Problem> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Problem::BadAdjFactor(value))
    }
}
