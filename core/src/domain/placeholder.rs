//! The article's placeholder MACD rows, kept so that existing clients see exactly what the Python
//! reference server sends them.
//!
//! The reference computes `i * 1.1` and friends with Python floats (`f64`) and assigns them to
//! `float` fields, which rounds each to the nearest `f32`. Doing the same arithmetic in `f64` here
//! is what makes the reply bytes identical: computing in `f32` would give different bits for some
//! rows (`3 * 1.1f32` is not the `f32` nearest to `3 * 1.1`).

use super::IndicatorRow;

/// How many rows the reference returns.
pub const ROWS: u32 = 4;

/// The reference's reply to `GetMACD(start_date, _)`: four rows dated `start_date`, whatever it
/// holds, since the reference does not look at it.
pub fn rows(start_date: &str) -> Vec<IndicatorRow> {
    (1..=ROWS)
        .map(|i| {
            let i = f64::from(i);
            IndicatorRow {
                date: start_date.to_owned(),
                open: i * 1.1,
                close: i * 2.1,
                high: i * 3.1,
                low: i * 0.1,
                macd: i * 2.5,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_reference_formula() {
        let rows = rows("2023-01-01");
        assert_eq!(rows.len(), 4);
        assert!(rows.iter().all(|r| r.date == "2023-01-01"));
        // Spot checks written out by hand from the article's printed output.
        assert_eq!(rows[0].open as f32, 1.1f32);
        assert_eq!(rows[1].close as f32, 4.2f32);
        assert_eq!(rows[2].high as f32, 9.3f32);
        assert_eq!(rows[3].macd as f32, 10.0f32);
        // The f64 detour matters: 3 * 1.1 in f32 arithmetic lands on another f32.
        assert_ne!((3.0f64 * 1.1) as f32, 3.0f32 * 1.1f32);
    }
}
