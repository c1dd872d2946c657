//! The instruments a server holds: one [`Instrument`] a symbol, in symbol order.
//!
//! A [`Catalog`] is immutable once built; the server swaps in a new one when files change, and a
//! call keeps the `Arc<Catalog>` it started with, so it sees one version of every instrument from
//! start to end, never a mix.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::date::Date;
use super::series::BarColumns;

/// One instrument: its symbol (the file's stem, e.g. `600519.SH`), display name and bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub symbol: String,
    /// For chart titles; the symbol when no name is given.
    pub name: String,
    pub bars: BarColumns,
}

impl Instrument {
    pub fn first_date(&self) -> Option<Date> {
        self.bars.date.first().copied()
    }

    pub fn last_date(&self) -> Option<Date> {
        self.bars.date.last().copied()
    }

    pub fn has_adj_factor(&self) -> bool {
        !self.bars.adj_factor.is_empty()
    }
}

/// Every instrument, by symbol.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    instruments: BTreeMap<String, Arc<Instrument>>,
}

impl Catalog {
    pub fn new(instruments: impl IntoIterator<Item = Instrument>) -> Catalog {
        Catalog { instruments: instruments.into_iter().map(|i| (i.symbol.clone(), Arc::new(i))).collect() }
    }

    pub fn get(&self, symbol: &str) -> Option<&Arc<Instrument>> {
        self.instruments.get(symbol)
    }

    /// In symbol order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Instrument>> {
        self.instruments.values()
    }

    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }

    /// A copy with `instrument` added or replaced (instruments are shared, not copied).
    pub fn with(&self, instrument: Instrument) -> Catalog {
        let mut instruments = self.instruments.clone();
        instruments.insert(instrument.symbol.clone(), Arc::new(instrument));
        Catalog { instruments }
    }

    /// A copy without `symbol`.
    pub fn without(&self, symbol: &str) -> Catalog {
        let mut instruments = self.instruments.clone();
        instruments.remove(symbol);
        Catalog { instruments }
    }
}
