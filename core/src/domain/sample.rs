//! The embedded sample: real daily bars of the S&P 500 index, 1999-01-04 to 2018-12-31 (5,031
//! days), from the `arch` Python package (NCSA licence). `data/README.md` gives the source, the
//! licence and the command that extracted it.

use super::bar::{parse_csv, Bar, BarsError};

/// What `--data sample` serves, and what error messages call it.
pub const NAME: &str = "sample";
/// The instrument, for chart titles.
pub const INSTRUMENT: &str = "S&P 500";

static CSV: &[u8] = include_bytes!("../../../data/sp500.csv");

/// The sample's bars, checked like any other file.
pub fn bars() -> Result<Vec<Bar>, BarsError> {
    parse_csv(NAME, CSV)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sample_is_five_thousand_real_days() {
        let bars = super::bars().unwrap();
        assert_eq!(bars.len(), 5031);
        assert_eq!(bars[0].date.to_string(), "1999-01-04");
        assert_eq!(bars[5030].date.to_string(), "2018-12-31");
    }
}
