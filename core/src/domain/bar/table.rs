//! What a loader returns, and how it is gathered row by row whatever the file's format: the
//! bars with their `adj_factor` when the file has one, the suspended days skipped, a repeated
//! date caught at the row that repeats it, and everything sorted by date at the end.

use std::collections::HashMap;

use super::Bar;
use crate::domain::date::Date;

/// A loaded file: its bars, oldest first, and what else it held.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub bars: Vec<Bar>,
    /// One factor per bar, aligned with `bars`, when the file has an `adj_factor` column: each
    /// finite and positive.
    pub adj_factor: Option<Vec<f64>>,
    /// Rows whose prices were all empty or NaN (suspended days, as pandas and data vendors write
    /// them): left out and counted.
    pub skipped: usize,
}

/// Which way the dates have run so far. Files are usually sorted, oldest first (most tools) or
/// newest first (tushare): then a new date past the last one cannot repeat an earlier one, and
/// costs one comparison. At the first row out of that order every date so far goes into a map,
/// which then checks each row.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Unknown,
    Ascending,
    Descending,
    Mixed,
}

/// Gathers the rows of one file, in file order.
pub(crate) struct TableBuilder {
    table: Table,
    order: Order,
    /// Where each bar so far came from (a line or a row number), until the order is mixed.
    positions: Vec<usize>,
    first_seen: HashMap<Date, usize>,
}

impl TableBuilder {
    pub(crate) fn new(has_adj_factor: bool) -> TableBuilder {
        let table = Table { adj_factor: has_adj_factor.then(Vec::new), ..Table::default() };
        TableBuilder { table, order: Order::Unknown, positions: Vec::new(), first_seen: HashMap::new() }
    }

    /// A row that was skipped (a suspended day).
    pub(crate) fn skip(&mut self) {
        self.table.skipped += 1;
    }

    /// Adds a checked bar from `position` (its line or row); when its date was seen before, the
    /// position of the first, and nothing is added. `adj_factor` is `Some` exactly when the
    /// builder was made with one.
    pub(crate) fn push(&mut self, position: usize, bar: Bar, adj_factor: Option<f64>) -> Result<(), usize> {
        self.check_unique(position, bar.date)?;
        self.table.bars.push(bar);
        if let (Some(column), Some(value)) = (self.table.adj_factor.as_mut(), adj_factor) {
            column.push(value);
        }
        Ok(())
    }

    fn check_unique(&mut self, position: usize, date: Date) -> Result<(), usize> {
        let next = match (self.order, self.table.bars.last()) {
            (Order::Mixed, _) => Order::Mixed,
            (_, None) => Order::Unknown,
            (Order::Unknown, Some(last)) if date > last.date => Order::Ascending,
            (Order::Unknown, Some(last)) if date < last.date => Order::Descending,
            (Order::Ascending, Some(last)) if date > last.date => Order::Ascending,
            (Order::Descending, Some(last)) if date < last.date => Order::Descending,
            _ => Order::Mixed,
        };
        if next != Order::Mixed {
            self.order = next;
            self.positions.push(position);
            return Ok(());
        }
        if self.order != Order::Mixed {
            self.order = Order::Mixed;
            let dates = self.table.bars.iter().map(|b| b.date);
            self.first_seen = dates.zip(self.positions.drain(..)).collect();
        }
        if let Some(&first) = self.first_seen.get(&date) {
            return Err(first);
        }
        self.first_seen.insert(date, position);
        Ok(())
    }

    /// The table sorted by date; `Err` with the count of skipped rows when no bar was added.
    pub(crate) fn finish(self) -> Result<Table, Table> {
        let mut table = self.table;
        if table.bars.is_empty() {
            return Err(table);
        }
        match self.order {
            Order::Unknown | Order::Ascending => {}
            Order::Descending => {
                table.bars.reverse();
                if let Some(column) = table.adj_factor.as_mut() {
                    column.reverse();
                }
            }
            Order::Mixed => match table.adj_factor.take() {
                None => table.bars.sort_unstable_by_key(|bar| bar.date),
                Some(column) => {
                    let mut pairs: Vec<(Bar, f64)> = table.bars.drain(..).zip(column).collect();
                    pairs.sort_unstable_by_key(|(bar, _)| bar.date);
                    let (bars, column) = pairs.into_iter().unzip();
                    table.bars = bars;
                    table.adj_factor = Some(column);
                }
            },
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(day: u8) -> Bar {
        Bar {
            date: Date::new(2024, 1, day).unwrap(),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: f64::from(day),
        }
    }

    fn build(days: &[u8]) -> Result<Table, (usize, usize)> {
        let mut builder = TableBuilder::new(true);
        for (i, &day) in days.iter().enumerate() {
            builder.push(i + 2, bar(day), Some(f64::from(day) * 10.0)).map_err(|first| (i + 2, first))?;
        }
        Ok(builder.finish().expect("rows"))
    }

    #[test]
    fn sorts_any_order_with_the_factors_alongside() {
        for days in [&[1, 2, 3][..], &[3, 2, 1], &[2, 3, 1], &[3, 1, 2], &[2]] {
            let table = build(days).unwrap();
            let sorted: Vec<f64> = table.bars.iter().map(|b| b.volume).collect();
            let mut want: Vec<f64> = days.iter().map(|&d| f64::from(d)).collect();
            want.sort_by(f64::total_cmp);
            assert_eq!(sorted, want, "{days:?}");
            let factors: Vec<f64> = want.iter().map(|v| v * 10.0).collect();
            assert_eq!(table.adj_factor, Some(factors), "{days:?}");
        }
    }

    #[test]
    fn a_repeat_names_the_first_position_in_any_order() {
        assert_eq!(build(&[1, 2, 2]).unwrap_err(), (4, 3));
        assert_eq!(build(&[3, 2, 3]).unwrap_err(), (4, 2));
        assert_eq!(build(&[3, 2, 1, 2]).unwrap_err(), (5, 3));
        assert_eq!(build(&[1, 5, 3, 4, 5]).unwrap_err(), (6, 3));
        assert_eq!(build(&[4, 4]).unwrap_err(), (3, 2));
    }
}
