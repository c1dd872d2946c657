//! An instrument's bars as columns, adjusted for corporate actions and resampled to weeks or
//! months, and the indicator columns computed over them: what one `Compute` message carries.
//!
//! The order is fixed, so that a value never depends on the range asked: the whole history is
//! adjusted, then resampled, then every indicator runs over all of it, and only then is the
//! result cut to the range.
//!
//! * Adjustment (Tushare's `pro_bar` conventions): [`Adjust::Backward`] (后复权, hfq) multiplies
//!   every price by its bar's `adj_factor`; [`Adjust::Forward`] (前复权, qfq) by `adj_factor /
//!   adj_factor of the latest bar held`, so the latest prices are the traded ones. Volume is not
//!   adjusted.
//! * Resampling: [`Frequency::Weekly`] groups by ISO week (Monday to Sunday), [`Frequency::Monthly`]
//!   by calendar month; a period's bar opens with its first bar's open, has the highest high, the
//!   lowest low, the last close and the summed volume, and is dated by its last bar.

use super::date::{Date, DateRange};
use super::indicators::{Indicator, Prices};

/// How prices are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Adjust {
    #[default]
    None,
    Forward,
    Backward,
}

/// The length of a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frequency {
    #[default]
    Daily,
    Weekly,
    Monthly,
}

impl std::fmt::Display for Frequency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        })
    }
}

/// The adjustment factors of a history, held as the bars where the factor changes: corporate
/// actions are rare, so a factor per bar would cost 8 bytes a bar for nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AdjFactors {
    /// (index of the first bar with this factor, factor), by index; empty when the file has none.
    changes: Vec<(u32, f64)>,
}

impl AdjFactors {
    /// From one factor per bar.
    pub fn from_values(values: impl IntoIterator<Item = f64>) -> AdjFactors {
        let mut changes: Vec<(u32, f64)> = Vec::new();
        for (i, factor) in values.into_iter().enumerate() {
            if changes.last().is_none_or(|&(_, last)| last != factor) {
                changes.push((i as u32, factor));
            }
        }
        AdjFactors { changes }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The factor of every bar of a history `len` bars long.
    pub fn values(&self, len: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(len);
        for (k, &(start, factor)) in self.changes.iter().enumerate() {
            let end = self.changes.get(k + 1).map_or(len, |&(next, _)| next as usize);
            out.extend(std::iter::repeat_n(factor, end.saturating_sub(start as usize)));
        }
        out.truncate(len);
        out
    }

    /// The factor of the last bar, if there are factors.
    pub fn last(&self) -> Option<f64> {
        self.changes.last().map(|&(_, factor)| factor)
    }

    /// The factor of bar `i`, if there are factors.
    pub fn at(&self, i: usize) -> Option<f64> {
        let k = self.changes.partition_point(|&(start, _)| start as usize <= i);
        k.checked_sub(1).map(|k| self.changes[k].1)
    }

    /// Keeps the factors of the first `len` bars.
    pub fn truncate(&mut self, len: usize) {
        let keep = self.changes.partition_point(|&(start, _)| (start as usize) < len);
        self.changes.truncate(keep);
    }

    /// Gives bar `i`, the bar after the last one with a factor, the factor `factor`.
    pub fn push(&mut self, i: usize, factor: f64) {
        if self.last() != Some(factor) {
            self.changes.push((i as u32, factor));
        }
    }
}

/// Bars as columns, oldest first; every column has one value per date.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarColumns {
    pub date: Vec<Date>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
    pub adj_factor: AdjFactors,
}

/// The bars `from..to` of a [`BarColumns`], read in place: what a window of the article's analysis
/// hands its chart and rows, so that the analysis needs no copy of the catalog's bars.
#[derive(Debug, Clone, Copy)]
pub struct BarSlice<'a> {
    columns: &'a BarColumns,
    from: usize,
    to: usize,
}

impl<'a> BarSlice<'a> {
    /// `from..to` of `columns`; the range must lie inside them.
    pub fn new(columns: &'a BarColumns, from: usize, to: usize) -> BarSlice<'a> {
        assert!(from <= to && to <= columns.len(), "bars {from}..{to} of {}", columns.len());
        BarSlice { columns, from, to }
    }

    pub fn len(&self) -> usize {
        self.to - self.from
    }

    pub fn is_empty(&self) -> bool {
        self.from == self.to
    }

    /// The `i`th bar of the slice.
    pub fn get(&self, i: usize) -> super::bar::Bar {
        assert!(i < self.len(), "bar {i} of {}", self.len());
        let c = self.columns;
        let j = self.from + i;
        super::bar::Bar {
            date: c.date[j],
            open: c.open[j],
            high: c.high[j],
            low: c.low[j],
            close: c.close[j],
            volume: c.volume[j],
        }
    }

    /// The slice's dates.
    pub fn dates(&self) -> &'a [Date] {
        &self.columns.date[self.from..self.to]
    }

    pub fn first(&self) -> Option<super::bar::Bar> {
        (!self.is_empty()).then(|| self.get(0))
    }

    pub fn last(&self) -> Option<super::bar::Bar> {
        (!self.is_empty()).then(|| self.get(self.len() - 1))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = super::bar::Bar> + 'a {
        let slice = *self;
        (0..slice.len()).map(move |i| slice.get(i))
    }
}

/// Why bars cannot be adjusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error(
        "has no adj_factor column, which FORWARD and BACKWARD adjustment need; ask ADJUST_NONE, or add the column"
    )]
    NoAdjFactor,
}

impl BarColumns {
    /// From loaded bars (oldest first) and, when the file has them, one factor per bar.
    pub fn from_bars(bars: &[super::bar::Bar], adj_factor: Option<&[f64]>) -> BarColumns {
        let column = |f: fn(&super::bar::Bar) -> f64| bars.iter().map(f).collect();
        BarColumns {
            date: bars.iter().map(|b| b.date).collect(),
            open: column(|b| b.open),
            high: column(|b| b.high),
            low: column(|b| b.low),
            close: column(|b| b.close),
            volume: column(|b| b.volume),
            adj_factor: adj_factor.map(|f| AdjFactors::from_values(f.iter().copied())).unwrap_or_default(),
        }
    }

    pub fn len(&self) -> usize {
        self.date.len()
    }

    /// Keeps the first `len` bars (and their factors).
    pub fn truncate(&mut self, len: usize) {
        self.date.truncate(len);
        self.open.truncate(len);
        self.high.truncate(len);
        self.low.truncate(len);
        self.close.truncate(len);
        self.volume.truncate(len);
        self.adj_factor.truncate(len);
    }

    pub fn is_empty(&self) -> bool {
        self.date.is_empty()
    }

    /// The prices, without factors.
    pub fn prices(&self) -> Prices<'_> {
        self.prices_with(&[])
    }

    /// The prices with `factors` (one a bar, or none: [`BarColumns::factor_values`]).
    pub fn prices_with<'a>(&'a self, factors: &'a [f64]) -> Prices<'a> {
        Prices {
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
            adj_factor: factors,
        }
    }

    /// One factor a bar, or none when the history has no factors.
    pub fn factor_values(&self) -> Vec<f64> {
        if self.adj_factor.is_empty() {
            Vec::new()
        } else {
            self.adj_factor.values(self.len())
        }
    }

    /// The prices adjusted as asked; the factors are kept (formulas read them as `ADJ_FACTOR`).
    pub fn adjusted(&self, adjust: Adjust) -> Result<BarColumns, SeriesError> {
        let factors = match adjust {
            Adjust::None => return Ok(self.clone()),
            _ if self.adj_factor.is_empty() => return Err(SeriesError::NoAdjFactor),
            Adjust::Backward => self.adj_factor.values(self.len()),
            Adjust::Forward => {
                let latest = self.adj_factor.last().expect("factors are not empty");
                self.adj_factor.values(self.len()).into_iter().map(|f| f / latest).collect()
            }
        };
        let scale = |column: &[f64]| column.iter().zip(&factors).map(|(price, f)| price * f).collect();
        Ok(BarColumns {
            date: self.date.clone(),
            open: scale(&self.open),
            high: scale(&self.high),
            low: scale(&self.low),
            close: scale(&self.close),
            volume: self.volume.clone(),
            adj_factor: self.adj_factor.clone(),
        })
    }

    /// One bar per week or month, with the factor of the period's last bar.
    pub fn resampled(&self, frequency: Frequency) -> BarColumns {
        let period = |date: Date| -> (i64, i64) {
            match frequency {
                Frequency::Daily => (date.days_since_epoch(), 0),
                Frequency::Weekly => date.iso_week(),
                Frequency::Monthly => (i64::from(date.year()), i64::from(date.month())),
            }
        };
        if frequency == Frequency::Daily {
            return self.clone();
        }
        let mut out = BarColumns::default();
        let mut factors = Vec::new();
        let mut current = None;
        for i in 0..self.len() {
            let key = period(self.date[i]);
            if current == Some(key) {
                let last = out.len() - 1;
                out.date[last] = self.date[i];
                out.high[last] = out.high[last].max(self.high[i]);
                out.low[last] = out.low[last].min(self.low[i]);
                out.close[last] = self.close[i];
                out.volume[last] += self.volume[i];
                factors[last] = self.adj_factor.at(i);
            } else {
                current = Some(key);
                out.date.push(self.date[i]);
                out.open.push(self.open[i]);
                out.high.push(self.high[i]);
                out.low.push(self.low[i]);
                out.close.push(self.close[i]);
                out.volume.push(self.volume[i]);
                factors.push(self.adj_factor.at(i));
            }
        }
        if !self.adj_factor.is_empty() {
            out.adj_factor = AdjFactors::from_values(factors.into_iter().flatten());
        }
        out
    }

    /// The bars from the first on or after `range.start` to the last on or before `range.end`.
    pub fn index_range(&self, range: DateRange) -> std::ops::Range<usize> {
        let start = range.start.map_or(0, |d| self.date.partition_point(|&x| x < d));
        let end = range.end.map_or(self.len(), |d| self.date.partition_point(|&x| x <= d));
        start..end.max(start)
    }
}

/// An indicator with the label its columns are named under.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub label: String,
    pub indicator: Indicator,
}

/// One instrument's bars in a range with its indicator columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub bars: BarColumns,
    /// (column name, values), in the order of the indicators, then their outputs.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// Adjusts and resamples `bars`, computes every indicator over the whole history, and cuts the
/// result to `range`.
pub fn compute(
    bars: &BarColumns,
    adjust: Adjust,
    frequency: Frequency,
    indicators: &[Labelled],
    range: DateRange,
) -> Result<Series, SeriesError> {
    let never = || false;
    compute_until(bars, adjust, frequency, indicators, range, &never).map(|s| s.expect("never stopped"))
}

/// As [`compute`], but gives up (`Ok(None)`) once `stop` says so: it is asked before each
/// indicator, and by a formula before each of its operations, so that a costly request stops
/// soon after its caller has gone.
pub fn compute_until(
    bars: &BarColumns,
    adjust: Adjust,
    frequency: Frequency,
    indicators: &[Labelled],
    range: DateRange,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Series>, SeriesError> {
    let full = bars.adjusted(adjust)?.resampled(frequency);
    let factors = full.factor_values();
    let window = full.index_range(range);
    let cut = |column: &[f64]| column[window.clone()].to_vec();
    let mut columns = Vec::new();
    for Labelled { label, indicator } in indicators {
        if stop() {
            return Ok(None);
        }
        let Some(values) = indicator.compute_until(&full.prices_with(&factors), stop) else { return Ok(None) };
        for (name, values) in indicator.column_names(label).into_iter().zip(values) {
            columns.push((name, cut(&values)));
        }
    }
    let bars = BarColumns {
        date: full.date[window.clone()].to_vec(),
        open: cut(&full.open),
        high: cut(&full.high),
        low: cut(&full.low),
        close: cut(&full.close),
        volume: cut(&full.volume),
        adj_factor: AdjFactors::default(),
    };
    Ok(Some(Series { bars, columns }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn factors_are_held_as_changes() {
        let f = AdjFactors::from_values([1.0, 1.0, 2.0, 2.0, 2.0, 3.0]);
        assert_eq!(f.changes, [(0, 1.0), (2, 2.0), (5, 3.0)]);
        assert_eq!(f.values(6), [1.0, 1.0, 2.0, 2.0, 2.0, 3.0]);
        assert_eq!(f.last(), Some(3.0));
        assert_eq!(
            (f.at(0), f.at(1), f.at(2), f.at(4), f.at(9)),
            (Some(1.0), Some(1.0), Some(2.0), Some(2.0), Some(3.0))
        );
        let mut g = f.clone();
        g.truncate(5);
        assert_eq!(g.values(5), [1.0, 1.0, 2.0, 2.0, 2.0]);
        g.push(5, 2.0);
        g.push(6, 4.0);
        assert_eq!(g.values(7), [1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 4.0]);
        assert_eq!(AdjFactors::default().at(0), None);
    }

    #[test]
    fn iso_weeks_and_epoch_days() {
        assert_eq!(day("1970-01-01").days_since_epoch(), 0);
        assert_eq!(day("2000-03-01").days_since_epoch(), 11_017);
        // 2021-01-03 (a Sunday) is in 2020's week 53; 2021-01-04 starts week 1.
        assert_eq!(day("2021-01-03").iso_week(), (2020, 53));
        assert_eq!(day("2021-01-04").iso_week(), (2021, 1));
        assert_eq!(day("2024-12-30").iso_week(), (2025, 1));
    }
}
