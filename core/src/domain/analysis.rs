//! A loaded instrument: its bars and their MACD over the whole history, computed once at start-up.
//!
//! Requests then only take slices, so the rows and the chart for any window agree with each
//! other and with the full history (the bars before a window are its warm-up). Drawing is the
//! chart module's business: it takes an `Analysis` and a window, and this module knows nothing of
//! pictures.
//!
//! The bars are the catalog's own columns, shared ([`Analysis::over`]): a copy would double what
//! a million-bar file costs in memory.

use std::sync::Arc;

use super::bar::Bar;
use super::catalog::Instrument;
use super::date::{Date, DateRange};
use super::macd::{self, Convention, MacdParams, MacdPoint, ParamsError};
use super::series::{BarColumns, BarSlice};
use super::IndicatorRow;

/// Bars and MACD of one instrument.
#[derive(Debug, Clone)]
pub struct Analysis {
    instrument: String,
    params: MacdParams,
    convention: Convention,
    /// Where the bars are: the catalog's instrument, or one of this analysis's own.
    source: Arc<Instrument>,
    macd: Vec<Option<MacdPoint>>,
}

/// The bars of a date range with their MACD values, aligned index by index, and what the values
/// were computed with (a chart says why a window has none).
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub bars: BarSlice<'a>,
    pub macd: &'a [Option<MacdPoint>],
    pub params: MacdParams,
    pub convention: Convention,
}

impl Analysis {
    /// `bars` must be sorted by date, as [`super::bar::parse_csv`] returns them; periods that make
    /// no MACD are refused.
    pub fn new(
        instrument: impl Into<String>,
        bars: Vec<Bar>,
        params: MacdParams,
        convention: Convention,
    ) -> Result<Analysis, ParamsError> {
        let name: String = instrument.into();
        let source = Instrument { symbol: name.clone(), name: name.clone(), bars: BarColumns::from_bars(&bars, None) };
        Analysis::over(name, Arc::new(source), params, convention)
    }

    /// Over a catalog's instrument (its bars sorted by date), without a copy of them; `title`
    /// names it in charts.
    pub fn over(
        title: impl Into<String>,
        source: Arc<Instrument>,
        params: MacdParams,
        convention: Convention,
    ) -> Result<Analysis, ParamsError> {
        debug_assert!(source.bars.date.windows(2).all(|w| w[0] < w[1]));
        let macd = macd::compute(&source.bars.close, params, convention)?;
        Ok(Analysis { instrument: title.into(), params, convention, source, macd })
    }

    fn bars(&self) -> &BarColumns {
        &self.source.bars
    }

    pub fn instrument(&self) -> &str {
        &self.instrument
    }

    /// The first and last day with data.
    pub fn span(&self) -> Option<(Date, Date)> {
        Some((*self.bars().date.first()?, *self.bars().date.last()?))
    }

    /// The bars with `start <= date <= end`.
    pub fn window(&self, range: DateRange) -> Window<'_> {
        let (from, to) = self.bounds(range);
        self.slice(from, to)
    }

    /// The indices of the bars in `range`, with or without a MACD value: what a chart of it draws.
    pub fn bar_range(&self, range: DateRange) -> std::ops::Range<usize> {
        let (from, to) = self.bounds(range);
        from..to
    }

    /// The indices `from..to` of the bars in `range`.
    fn bounds(&self, range: DateRange) -> (usize, usize) {
        let indices = self.bars().index_range(range);
        (indices.start, indices.end)
    }

    /// The last `count` bars (fewer if there are not that many).
    pub fn last_bars(&self, count: usize) -> Window<'_> {
        let from = self.bars().len().saturating_sub(count);
        self.slice(from, self.bars().len())
    }

    fn slice(&self, from: usize, to: usize) -> Window<'_> {
        let (params, convention) = (self.params, self.convention);
        Window { bars: BarSlice::new(self.bars(), from, to), macd: &self.macd[from..to], params, convention }
    }

    /// The reply rows for a range: one per bar that has a MACD value.
    pub fn rows(&self, range: DateRange) -> Vec<IndicatorRow> {
        let window = self.window(range);
        window
            .bars
            .iter()
            .zip(window.macd)
            .filter_map(|(bar, point)| {
                let point = point.as_ref()?;
                Some(IndicatorRow {
                    date: bar.date.to_string(),
                    open: bar.open,
                    close: bar.close,
                    high: bar.high,
                    low: bar.low,
                    macd: point.macd,
                })
            })
            .collect()
    }

    /// The indices of the bars in `range` that have a MACD value: the bars of the reply rows.
    pub fn value_range(&self, range: DateRange) -> std::ops::Range<usize> {
        let (from, to) = self.bounds(range);
        // Bars without a value (TA-Lib's warm-up) only ever start the history, so the ones in a
        // window are a prefix of it.
        let first_value = self.macd.partition_point(Option::is_none);
        from.max(first_value).min(to)..to
    }

    /// The bars at `indices`, as [`value_range`](Self::value_range) gives them.
    pub fn bars_with_values(&self, indices: std::ops::Range<usize>) -> Window<'_> {
        self.slice(indices.start, indices.end)
    }

    /// How many rows [`rows`](Self::rows) would return for `range`, without building them, so a
    /// caller can refuse an oversized range before it costs anything.
    pub fn row_count(&self, range: DateRange) -> usize {
        self.value_range(range).len()
    }

    /// Why `range` has no bars: it lies outside the data, or inside it on days without trading.
    pub fn no_bars_reason(&self, range: DateRange) -> String {
        let Some((first, last)) = self.span() else {
            return "the data has no bars at all".to_string();
        };
        let outside = range.end.is_some_and(|end| end < first) || range.start.is_some_and(|start| start > last);
        if outside {
            format!("the data covers {first} to {last}; ask for dates inside that span")
        } else {
            format!("there are no bars on those days (no trading); the data covers {first} to {last}")
        }
    }

    /// `S&P 500 · MACD(12,26,9) cn · 2018-01-02 to 2018-12-31`.
    pub fn title(&self, window: Window<'_>) -> String {
        let MacdParams { fast, slow, signal } = self.params;
        let convention = self.convention;
        let span = match (window.bars.first(), window.bars.last()) {
            (Some(first), Some(last)) => format!("{} to {}", first.date, last.date),
            _ => "no data".to_string(),
        };
        format!("{} · daily · MACD({fast},{slow},{signal}) {convention} · {span}", self.instrument)
    }
}

impl Window<'_> {
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// How many bars at the start of a history have no MACD value in this convention: none in
    /// `cn`, `(slow − 1) + (signal − 1)` in `talib` (33 for 12/26/9), as [`macd::compute`] leaves
    /// them.
    pub fn warm_up_bars(&self) -> usize {
        match self.convention {
            Convention::Cn => 0,
            Convention::Talib => (self.params.slow - 1) + (self.params.signal - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bar::parse_csv;

    fn sample() -> Analysis {
        let mut csv = String::from("date,open,high,low,close\n");
        for day in 1..=28 {
            let close = 10.0 + f64::from(day % 7);
            csv.push_str(&format!("2021-02-{day:02},{close},{},{},{close}\n", close + 1.0, close - 1.0));
        }
        let bars = parse_csv("t", csv.as_bytes()).unwrap();
        Analysis::new("T", bars, MacdParams { fast: 3, slow: 6, signal: 3 }, Convention::Talib).unwrap()
    }

    #[test]
    fn windows_are_inclusive_and_may_be_empty() {
        let a = sample();
        let d = |s: &str| Some(Date::parse(s).unwrap());
        let w = a.window(DateRange { start: d("2021-02-05"), end: d("2021-02-07") });
        assert_eq!(w.bars.len(), 3);
        assert_eq!(w.bars.get(0).date.to_string(), "2021-02-05");
        assert!(a.window(DateRange { start: d("2022-01-01"), end: None }).is_empty());
        assert_eq!(a.window(DateRange::default()).bars.len(), 28);
    }

    #[test]
    fn rows_skip_the_warm_up_and_equal_slices_of_the_full_history() {
        let a = sample();
        let all = a.rows(DateRange::default());
        assert_eq!(all.len(), 28 - 7); // lookback (6-1)+(3-1)
        let d = |s: &str| Some(Date::parse(s).unwrap());
        let part = a.rows(DateRange { start: d("2021-02-10"), end: d("2021-02-20") });
        let first = all.iter().position(|r| r.date == "2021-02-10").unwrap();
        assert_eq!(part, all[first..first + 11].to_vec());
    }

    #[test]
    fn an_empty_range_says_whether_it_is_outside_the_data_or_between_trading_days() {
        let csv = "date,open,high,low,close\n2021-02-05,1,2,1,2\n2021-02-08,2,3,1,2\n";
        let bars = parse_csv("t", csv.as_bytes()).unwrap();
        let a = Analysis::new("T", bars, MacdParams::default(), Convention::Cn).unwrap();
        let d = |s: &str| Some(Date::parse(s).unwrap());
        let weekend = DateRange { start: d("2021-02-06"), end: d("2021-02-07") };
        assert!(a.window(weekend).is_empty());
        assert!(a.no_bars_reason(weekend).contains("no bars on those days"), "{}", a.no_bars_reason(weekend));
        let later = DateRange { start: d("2022-01-01"), end: None };
        assert!(a.no_bars_reason(later).contains("ask for dates inside that span"));
        let earlier = DateRange { start: None, end: d("2021-01-31") };
        assert!(a.no_bars_reason(earlier).contains("covers 2021-02-05 to 2021-02-08"));
        assert_eq!(crate::domain::plural(1, "bar"), "1 bar");
        assert_eq!(crate::domain::plural(3, "bar"), "3 bars");
    }

    #[test]
    fn row_count_agrees_with_rows_across_the_warm_up() {
        let a = sample();
        let d = |s: &str| Some(Date::parse(s).unwrap());
        for (start, end) in [(None, None), (d("2021-02-01"), d("2021-02-05")), (d("2021-02-05"), d("2021-02-12"))] {
            let range = DateRange { start, end };
            assert_eq!(a.row_count(range), a.rows(range).len(), "{range}");
        }
    }
}
