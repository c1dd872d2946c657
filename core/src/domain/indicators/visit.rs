//! How a built-in's one state becomes a live stream ([`Boxed`]) or a batch over a whole history
//! ([`Batch`]): each built-in builds its state in one function generic over [`Visit`], so that
//! the two cannot build different states, and the batch steps it as [`stream::run`] steps the
//! boxed one (or runs its own columns, [`stream::Step::columns`], where it has them).

use super::stream::{self, Quote, Stream};
use super::Prices;

/// What a built-in's fresh state is handed to, with its type: boxed as a [`Stream`] ([`Boxed`])
/// or stepped over a whole history ([`Batch`]). Each built-in builds its state once, in a
/// function generic over this, so that the stream and the batch cannot build different states.
pub trait Visit {
    type Out;
    fn visit<S: stream::Step>(self, state: S) -> Self::Out;
}

/// The state as a live stream.
pub struct Boxed;

impl Visit for Boxed {
    type Out = Box<dyn Stream>;
    fn visit<S: stream::Step>(self, state: S) -> Box<dyn Stream> {
        Box::new(state)
    }
}

/// The state stepped over every bar of the prices, `K` outputs (one column each), as
/// [`stream::run`] steps the boxed one: the same steps on the same quotes, so the same values.
pub struct Batch<'a, 'b, const K: usize>(pub &'a Prices<'b>);

impl<const K: usize> Visit for Batch<'_, '_, K> {
    type Out = Vec<Vec<f64>>;
    fn visit<S: stream::Step>(self, mut state: S) -> Vec<Vec<f64>> {
        let prices = self.0;
        if let Some(columns) = state.columns(prices) {
            debug_assert_eq!(columns.len(), K);
            return columns;
        }
        let n = prices.len();
        let (open, high, low, close, volume) =
            (&prices.open[..n], &prices.high[..n], &prices.low[..n], &prices.close[..n], &prices.volume[..n]);
        let mut columns: [Vec<f64>; K] = std::array::from_fn(|_| Vec::with_capacity(n));
        let quote = |i: usize| Quote {
            open: open[i],
            high: high[i],
            low: low[i],
            close: close[i],
            volume: volume[i],
            adj_factor: prices.adj_factor.get(i).copied().unwrap_or(f64::NAN),
        };
        // Stepped into a block of rows, then each column extended from the block: no capacity
        // check a value, and memory bounded whatever the history. Each row starts as the row
        // before it, as the one `out` that `stream::run` steps into keeps the last values.
        const BLOCK: usize = 256;
        let mut block = [[f64::NAN; K]; BLOCK];
        let mut last = [f64::NAN; K];
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let rows = &mut block[..end - start];
            for (row, i) in rows.iter_mut().zip(start..end) {
                *row = last;
                state.step(&quote(i), row);
                last = *row;
            }
            for (k, column) in columns.iter_mut().enumerate() {
                column.extend(rows.iter().map(|row| row[k]));
            }
            start = end;
        }
        columns.into()
    }
}

/// A built-in's `stream` from its one generic builder `$build(params, convention, visit)`.
macro_rules! boxed {
    ($build:ident) => {
        |a: &[f64], c: Convention| $build(a, c, $crate::domain::indicators::Boxed)
    };
}

/// A built-in's `batch` of `$k` outputs from that builder.
macro_rules! batch {
    ($build:ident, $k:literal) => {
        |a: &[f64], c: Convention, p: &$crate::domain::indicators::Prices| {
            $build(a, c, $crate::domain::indicators::Batch::<$k>(p))
        }
    };
}
pub(super) use {batch, boxed};
