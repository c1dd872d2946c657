//! The embedded sample: real daily bars of two instruments, checked like any other file.
//!
//! * `SPX`, the S&P 500 index, 1999-01-04 to 2018-12-31 (5,031 days), from the `arch` Python
//!   package (NCSA licence).
//! * `AAPL`, Apple Inc., unadjusted, 2000-03-01 to 2013-03-01 (3,270 days), from
//!   `bokeh-sampledata` (Quandl WIKI prices, public domain).
//!
//! `data/README.md` gives the sources, the licences and the command that extracted them. The
//! article's services keep serving the S&P 500 from the sample ([`bars`], [`INSTRUMENT`]); the v2
//! service serves both ([`catalog`]).

use super::bar::{parse_csv, Bar, BarsError};
use super::catalog::{Catalog, Instrument};
use super::series::BarColumns;

/// What `--data sample` serves, and what error messages call it.
pub const NAME: &str = "sample";
/// The S&P 500's display name, for chart titles.
pub const INSTRUMENT: &str = "S&P 500";
/// The S&P 500's symbol in the sample's catalog: the instrument the article's services serve
/// from the sample, although `AAPL` comes first in symbol order.
pub const SYMBOL: &str = "SPX";

/// One instrument of the sample.
#[derive(Debug, Clone, Copy)]
pub struct SampleInstrument {
    pub symbol: &'static str,
    /// For chart titles.
    pub name: &'static str,
    /// The CSV, as `data/` holds it.
    pub csv: &'static [u8],
}

/// Every instrument of the sample, in symbol order.
pub const INSTRUMENTS: [SampleInstrument; 2] = [
    SampleInstrument { symbol: "AAPL", name: "Apple", csv: include_bytes!("../../../data/aapl.csv") },
    SampleInstrument { symbol: SYMBOL, name: INSTRUMENT, csv: include_bytes!("../../../data/sp500.csv") },
];

impl SampleInstrument {
    /// Its bars, checked like any other file (error messages name it `sample/SYMBOL`).
    pub fn bars(&self) -> Result<Vec<Bar>, BarsError> {
        parse_csv(&format!("{NAME}/{}", self.symbol), self.csv)
    }

    pub fn instrument(&self) -> Result<Instrument, BarsError> {
        let bars = self.bars()?;
        Ok(Instrument {
            symbol: self.symbol.to_string(),
            name: self.name.to_string(),
            bars: BarColumns::from_bars(&bars, None),
        })
    }
}

/// The S&P 500's bars: what the article's services serve from the sample.
pub fn bars() -> Result<Vec<Bar>, BarsError> {
    parse_csv(NAME, INSTRUMENTS[1].csv)
}

/// Every instrument of the sample.
pub fn catalog() -> Result<Catalog, BarsError> {
    INSTRUMENTS.iter().map(SampleInstrument::instrument).collect::<Result<Vec<_>, _>>().map(Catalog::new)
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

    #[test]
    fn the_catalog_holds_the_sp500_and_apple() {
        let catalog = super::catalog().unwrap();
        let held: Vec<_> = catalog.iter().map(|i| (i.symbol.as_str(), i.name.as_str(), i.bars.len())).collect();
        assert_eq!(held, [("AAPL", "Apple", 3270), ("SPX", "S&P 500", 5031)]);
        let aapl = catalog.get("AAPL").unwrap();
        assert_eq!(aapl.first_date().unwrap().to_string(), "2000-03-01");
        assert_eq!(aapl.last_date().unwrap().to_string(), "2013-03-01");
        assert!(!aapl.has_adj_factor());
        // The article's services serve the same S&P 500 bars as the catalog.
        let spx = catalog.get(super::SYMBOL).unwrap();
        assert_eq!(spx.bars.close, super::bars().unwrap().iter().map(|b| b.close).collect::<Vec<_>>());
    }
}
