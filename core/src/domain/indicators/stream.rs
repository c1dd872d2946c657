//! Indicators one bar at a time: what a live subscription keeps per key, and what the batch
//! [`super::Indicator::compute`] runs over a whole history.
//!
//! A [`Stream`] is an indicator's state after the bars it has been given; [`Stream::step`] takes
//! the next bar and writes one value per output. Revising the last bar is the caller's affair:
//! it keeps the state from before that bar and steps a copy ([`Stream::boxed_clone`]), so a
//! stream never needs to undo a step.
//!
//! Batch and live are one computation: [`run`] steps a fresh stream over every bar, so a value
//! that a subscription sends is, bit for bit, the value `Compute` gives over the same history.
//! A state may instead run over whole columns at once ([`Step::columns`], and a filter of one
//! column [`Filter::column_into`]): the same operations in the same order over the slices
//! themselves, in a tight loop, so the same bits, without a row of outputs handed through memory
//! a bar.

use super::Prices;

/// One bar's prices, as an indicator reads them.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quote {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// The bar's adj_factor, NaN when the history has none (only formulas read it).
    pub adj_factor: f64,
}

impl Prices<'_> {
    /// Bar `i`.
    pub fn quote(&self, i: usize) -> Quote {
        Quote {
            open: self.open[i],
            high: self.high[i],
            low: self.low[i],
            close: self.close[i],
            volume: self.volume[i],
            adj_factor: self.adj_factor.get(i).copied().unwrap_or(f64::NAN),
        }
    }

    pub fn len(&self) -> usize {
        self.close.len()
    }

    /// The five price columns cut to the close's length, as stepping reads them (a shorter one
    /// panics, as stepping would): what a built-in's own columns read.
    pub fn trimmed(&self) -> Prices<'_> {
        let n = self.len();
        Prices {
            open: &self.open[..n],
            high: &self.high[..n],
            low: &self.low[..n],
            close: self.close,
            volume: &self.volume[..n],
            adj_factor: self.adj_factor,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }
}

/// An indicator's state, stepped one bar at a time.
pub trait Stream: Send + Sync {
    /// Takes the next bar; writes one value per output into `out` (NaN in the warm-up).
    fn step(&mut self, quote: &Quote, out: &mut [f64]);

    /// A copy of this state, to step a revised last bar from.
    fn boxed_clone(&self) -> Box<dyn Stream>;

    /// Makes `into` a copy of this state, in place when it holds a state of the same kind (no
    /// allocation for a state without heap parts): what a revision steps, again and again.
    fn clone_into(&self, into: &mut Box<dyn Stream>);

    /// For [`Stream::clone_into`]: the state as `Any`, to see whether it is of the same kind.
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
}

/// Every `Clone` state is a stream's state once it can step.
pub trait Step: Clone + Send + Sync + 'static {
    fn step(&mut self, quote: &Quote, out: &mut [f64]);

    /// A fresh state's columns over every bar of `prices` at once, when it has a faster way
    /// than a step a bar that gives the same values; `None` (the default): step it. The state
    /// is used up.
    fn columns(&mut self, _prices: &Prices) -> Option<Vec<Vec<f64>>> {
        None
    }
}

impl<T: Step> Stream for T {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        Step::step(self, quote, out)
    }

    fn boxed_clone(&self) -> Box<dyn Stream> {
        Box::new(self.clone())
    }

    fn clone_into(&self, into: &mut Box<dyn Stream>) {
        match into.as_any_mut().downcast_mut::<T>() {
            Some(same) => same.clone_from(self),
            None => *into = Box::new(self.clone()),
        }
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// `stream` stepped over every bar of `prices`: one column per output.
pub fn run(mut stream: Box<dyn Stream>, outputs: usize, prices: &Prices) -> Vec<Vec<f64>> {
    let mut columns: Vec<Vec<f64>> = (0..outputs).map(|_| Vec::with_capacity(prices.len())).collect();
    let mut out = vec![f64::NAN; outputs];
    for i in 0..prices.len() {
        stream.step(&prices.quote(i), &mut out);
        for (column, &value) in columns.iter_mut().zip(&out) {
            column.push(value);
        }
    }
    columns
}

/// A one-input, one-output step (a moving average, an EWM, a lag): the building blocks of
/// [`super::mytt`] and [`super::talib`], each a state that takes the next value of its column.
pub trait Filter: Clone + Send + Sync + 'static {
    /// Whether [`Filter::column_into`] beats the batch's block of rows for this filter, as
    /// measured (bench/indicators): a running sum or a lag does; pandas' EWM, whose loop the
    /// compiler already keeps tight in the rows, does not.
    const WHOLE_COLUMN: bool = false;

    fn step(&mut self, x: f64) -> f64;

    /// Appends to `out` what [`Filter::step`] would give for each value of `s`, in order. A
    /// filter may do it over the slice itself (a window read from `s`, not kept in a ring) when
    /// its state is fresh; the state is used up.
    fn column_into(&mut self, s: &[f64], out: &mut Vec<f64>) {
        step_each(self, s, out);
    }
}

/// [`Filter::step`] over each value of `s`, appended to `out`: [`Filter::column_into`]'s default,
/// and what a filter's own falls back to when its state is not fresh.
pub fn step_each<F: Filter>(filter: &mut F, s: &[f64], out: &mut Vec<f64>) {
    // Stepped as a local: its fields then stay in registers across the loop.
    let mut state = filter.clone();
    out.extend(s.iter().map(|&x| state.step(x)));
    *filter = state;
}

/// `filter` over every value of `s`: what the column functions of [`super::mytt`] and
/// [`super::talib`] are, so that a column and a stream are one computation.
pub fn column(mut filter: impl Filter, s: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(s.len());
    filter.column_into(s, &mut out);
    out
}

/// `step` over each value of `input`, its `K` outputs appended to `columns`, with no call in
/// the loop that steps: each block of outputs goes to buffers on the stack, then is appended
/// whole. Pushing a value at a time puts a call (the vector's growth, however unlikely) on the
/// loop's path, across which the compiler keeps the state in memory: MACD's EMAs were stored
/// and loaded again every bar, on their chains. Pass `step` as an `#[inline(always)]` closure.
#[inline(always)]
pub fn in_blocks<const K: usize>(input: &[f64], columns: &mut [Vec<f64>; K], mut step: impl FnMut(f64) -> [f64; K]) {
    const BLOCK: usize = 256;
    for column in columns.iter_mut() {
        column.reserve(input.len());
    }
    let mut buffers = [[0.0; BLOCK]; K];
    let mut blocks = input.chunks_exact(BLOCK);
    for block in &mut blocks {
        for (i, &x) in block.iter().enumerate() {
            for (buffer, value) in buffers.iter_mut().zip(step(x)) {
                buffer[i] = value;
            }
        }
        for (column, buffer) in columns.iter_mut().zip(&buffers) {
            column.extend_from_slice(buffer);
        }
    }
    for &x in blocks.remainder() {
        for (column, value) in columns.iter_mut().zip(step(x)) {
            column.push(value);
        }
    }
}

/// Whether every value of `s` is a number (no NaN): what a filter checks before it reads its
/// windows from a column. Every value is looked at (no early exit), so that the loop runs wide.
pub fn all_numbers(s: &[f64]) -> bool {
    #[allow(clippy::eq_op)] // `x == x` is false for NaN alone.
    s.chunks(8).fold(true, |ok, chunk| ok & chunk.iter().fold(true, |ok, &x| ok & (x == x)))
}

/// What `Iterator::sum` of `f64` starts from (−0.0, so that a sum of only −0.0 stays −0.0): the
/// running sums start there too, and so add, bit for bit, as the slices' sums they replace did.
pub const SUM_START: f64 = -0.0;

/// The last `n` values pushed, oldest first: the window a rolling formula needs, and no more.
/// A plain vector written round (not a `VecDeque`): once full, a push overwrites the oldest
/// value in place, one store and one index step, which the rolling indicators do every bar.
#[derive(Debug, Clone)]
pub struct Ring {
    n: usize,
    /// Where the oldest value is, once the ring is full.
    head: usize,
    values: Vec<f64>,
}

impl Ring {
    pub fn new(n: usize) -> Ring {
        // A period is at most MAX_PERIOD, so the capacity is bounded.
        Ring { n, head: 0, values: Vec::with_capacity(n.min(super::MAX_PERIOD)) }
    }

    /// Pushes `x`; returns the value pushed `n` pushes before it, once there is one (so `x`
    /// itself when `n` is 0).
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        if self.values.len() < self.n {
            self.values.push(x);
            return None;
        }
        if self.n == 0 {
            return Some(x);
        }
        let oldest = std::mem::replace(&mut self.values[self.head], x);
        self.head += 1;
        if self.head == self.n {
            self.head = 0;
        }
        Some(oldest)
    }

    /// The window's length.
    pub fn n(&self) -> usize {
        self.n
    }

    /// How many values are kept (at most `n`).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The oldest value kept, once the ring is full: the one the next push overwrites.
    #[inline]
    pub fn oldest(&self) -> Option<f64> {
        (self.values.len() == self.n).then(|| self.values.get(self.head).copied()).flatten()
    }

    /// The kept values in the order they are stored: the value of push i at i mod n, as a
    /// circular buffer written round from its start keeps them (TA-Lib's CCI sums them so).
    pub fn stored(&self) -> &[f64] {
        &self.values
    }

    /// The kept values, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.values.split_at(self.head);
        older.iter().chain(newer).copied()
    }
}

/// An indicator of the close alone, through one filter (MA, EMA, SMA).
#[derive(Clone)]
pub(super) struct OnClose<F>(pub(super) F);

impl<F: Filter> Step for OnClose<F> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        out[0] = self.0.step(quote.close);
    }

    fn columns(&mut self, prices: &Prices) -> Option<Vec<Vec<f64>>> {
        F::WHOLE_COLUMN.then(|| vec![column(self.0.clone(), prices.close)])
    }
}

/// A filter of the close, then a filter of its values: the `(line, average)` pair of MTM and
/// ROC, one column after the other.
pub(super) fn with_average(line: impl Filter, average: impl Filter, close: &[f64]) -> Vec<Vec<f64>> {
    let first = column(line, close);
    let second = column(average, &first);
    vec![first, second]
}
