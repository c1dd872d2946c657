//! A compiled formula: a list of operations, each reading earlier ones, and their states. It is
//! run over blocks of bars for `Compute` ([`Program::compute`], in [`super::batch`]) or stepped
//! one bar at a time for `Subscribe` ([`Program::stream`]). Both run the same operations on the
//! same states, in the same order for each state, so a live value is the batch value, bit for bit.
//!
//! The operations are plain data shared by every run (`Arc<[Op]>`); the states they step are
//! kept apart ([`States`]), so that a live revision, which copies the state from before the last
//! bar again and again, copies only the numbers that change.

use std::sync::Arc;

use super::ast::{BinaryOp, UnaryOp};
use super::batch::Plan;
use super::ema::Ema;
use super::ops::{self, Cross, Stateful};
use crate::domain::indicators::stream::{Filter, Step};
use crate::domain::indicators::{Indicator, Prices, Quote, Stream};

/// A price column; its number is its place in [`Field::all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Open = 0,
    High = 1,
    Low = 2,
    Close = 3,
    Volume = 4,
    AdjFactor = 5,
}

impl Field {
    /// A bar's prices, indexed by field: a stream step reads a field with a load, not a match.
    fn all(q: &Quote) -> [f64; 6] {
        [q.open, q.high, q.low, q.close, q.volume, q.adj_factor]
    }

    /// The column; `None` for factors the history does not have (NaN then).
    pub(super) fn column<'a>(self, p: &Prices<'a>) -> Option<&'a [f64]> {
        Some(match self {
            Field::Open => p.open,
            Field::High => p.high,
            Field::Low => p.low,
            Field::Close => p.close,
            Field::Volume => p.volume,
            Field::AdjFactor if p.adj_factor.is_empty() => return None,
            Field::AdjFactor => p.adj_factor,
        })
    }
}

/// One operation; its operands are earlier operations, by index, and its state, if it has one,
/// is an index into the [`States`] of its kind.
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Field(Field),
    Const(f64),
    Unary(UnaryOp, usize),
    Abs(usize),
    Binary(BinaryOp, usize, usize),
    /// `a op c`, a constant `c`.
    BinaryConst(BinaryOp, usize, f64),
    /// `c op b`, a constant `c`.
    ConstBinary(BinaryOp, f64, usize),
    Extreme(usize, usize, bool),
    If(usize, usize, usize),
    Round(usize, i32),
    /// An exponential average (`EMA`, `SMA`, `DMA`) of its operand: `States::ewms[state]`. Kept
    /// apart from the other functions with state because the batch steps several at once.
    Ewm(usize, usize),
    /// Another one-input function with state: `States::filters[state]`.
    Stateful(usize, usize),
    /// `CROSS(a, b)`: `States::crosses[state]`.
    Cross(usize, usize, usize),
    /// A built-in indicator over the bars, `States::built[state]`; `Pick` reads its outputs.
    BuiltIn(usize),
    /// Output `k` of the built-in of operation `op`: `Pick(op, k)`.
    Pick(usize, usize),
}

impl Op {
    /// The operations this one reads.
    pub(super) fn operands(&self) -> impl Iterator<Item = usize> {
        let (a, b, c) = match *self {
            Op::Field(_) | Op::Const(_) | Op::BuiltIn(_) => (None, None, None),
            Op::Unary(_, a)
            | Op::Abs(a)
            | Op::BinaryConst(_, a, _)
            | Op::ConstBinary(_, _, a)
            | Op::Round(a, _)
            | Op::Ewm(a, _)
            | Op::Stateful(a, _)
            | Op::Pick(a, _) => (Some(a), None, None),
            Op::Binary(_, a, b) | Op::Extreme(a, b, _) | Op::Cross(a, b, _) => (Some(a), Some(b), None),
            Op::If(c, a, b) => (Some(c), Some(a), Some(b)),
        };
        a.into_iter().chain(b).chain(c)
    }
}

/// A built-in's state, and its outputs at the bar just stepped.
pub(super) struct BuiltIn {
    pub(super) indicator: Indicator,
    pub(super) stream: Box<dyn Stream>,
    pub(super) values: Vec<f64>,
}

impl Clone for BuiltIn {
    fn clone(&self) -> Self {
        BuiltIn { indicator: self.indicator.clone(), stream: self.stream.boxed_clone(), values: self.values.clone() }
    }

    /// In place, keeping the box when it holds a state of the same kind.
    fn clone_from(&mut self, source: &Self) {
        source.stream.clone_into(&mut self.stream);
        self.values.clone_from(&source.values);
    }
}

/// The states of a program's operations, by kind; fresh in a compiled [`Program`].
#[derive(Default)]
pub(super) struct States {
    pub(super) ewms: Vec<Ema>,
    pub(super) filters: Vec<Stateful>,
    pub(super) crosses: Vec<Cross>,
    pub(super) built: Vec<BuiltIn>,
}

impl Clone for States {
    fn clone(&self) -> Self {
        States {
            ewms: self.ewms.clone(),
            filters: self.filters.clone(),
            crosses: self.crosses.clone(),
            built: self.built.clone(),
        }
    }

    /// In place: a program of averages only (MACD's EMAs) copies a few numbers and allocates
    /// nothing.
    fn clone_from(&mut self, source: &Self) {
        /// `into` as `from`, with nothing to do when both are empty (most programs have one or two
        /// kinds of state, and a revision comes again and again).
        fn copy<T: Clone>(into: &mut Vec<T>, from: &Vec<T>) {
            if !(into.is_empty() && from.is_empty()) {
                into.clone_from(from);
            }
        }
        copy(&mut self.ewms, &source.ewms);
        copy(&mut self.filters, &source.filters);
        copy(&mut self.crosses, &source.crosses);
        copy(&mut self.built, &source.built);
    }
}

/// A checked, compiled formula.
#[derive(Clone)]
pub struct Program {
    pub(super) ops: Arc<[Op]>,
    /// The states before the first bar.
    pub(super) states: States,
    /// Output names, upper case, and the operation each reads.
    pub(super) outputs: Vec<(String, usize)>,
    /// How the batch runs the operations over blocks of bars.
    pub(super) plan: Arc<Plan>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} operations, outputs {:?})", self.ops.len(), self.output_names())
    }
}

impl Program {
    /// The program of `ops` (each reading only earlier ones) with their fresh `states`.
    pub(super) fn new(ops: Vec<Op>, states: States, outputs: Vec<(String, usize)>) -> Program {
        let plan = Arc::new(Plan::new(&ops, &outputs));
        Program { ops: ops.into(), states, outputs, plan }
    }

    /// The output lines' names, in order.
    pub fn output_names(&self) -> Vec<&str> {
        self.outputs.iter().map(|(name, _)| name.as_str()).collect()
    }

    pub fn outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Every output over the whole of `prices`, one column each.
    pub fn compute(&self, prices: &Prices) -> Vec<Vec<f64>> {
        self.compute_until(prices, &|| false).expect("never stopped")
    }

    /// As [`Program::compute`], but gives up (`None`) once `stop` says so, asked before each
    /// block of bars.
    pub fn compute_until(&self, prices: &Prices, stop: &dyn Fn() -> bool) -> Option<Vec<Vec<f64>>> {
        super::batch::run(self, prices, stop)
    }

    /// A fresh state, stepped one bar at a time.
    pub fn stream(&self) -> Box<dyn Stream> {
        Box::new(Running {
            ops: self.ops.clone(),
            states: self.states.clone(),
            values: vec![f64::NAN; self.ops.len()],
            outputs: self.outputs.iter().map(|o| o.1).collect(),
        })
    }
}

/// `op x`.
pub(super) fn unary(op: UnaryOp, x: f64) -> f64 {
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Not => {
            if ops::truthy(x) {
                0.0
            } else {
                1.0
            }
        }
    }
}

/// A program's state between bars.
struct Running {
    ops: Arc<[Op]>,
    states: States,
    /// Every operation's value at the last bar.
    values: Vec<f64>,
    outputs: Arc<[usize]>,
}

impl Clone for Running {
    fn clone(&self) -> Self {
        Running {
            ops: self.ops.clone(),
            states: self.states.clone(),
            values: self.values.clone(),
            outputs: self.outputs.clone(),
        }
    }

    /// In place: a live revision copies the state from before the last bar again and again
    /// ([`Stream::clone_into`]); the operations are shared, and the values need no copy (a step
    /// writes each before it is read), so only the states are copied.
    fn clone_from(&mut self, source: &Self) {
        if Arc::ptr_eq(&self.ops, &source.ops) {
            self.states.clone_from(&source.states);
        } else {
            *self = source.clone();
        }
    }
}

impl Step for Running {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (v, s) = (&mut self.values, &mut self.states);
        let fields = Field::all(quote);
        for (i, op) in self.ops.iter().enumerate() {
            let value = match *op {
                Op::Field(field) => fields[field as usize],
                Op::Const(c) => c,
                Op::Unary(op, a) => unary(op, v[a]),
                Op::Abs(a) => v[a].abs(),
                Op::Binary(op, a, b) => ops::binary(op, v[a], v[b]),
                Op::BinaryConst(op, a, c) => ops::binary(op, v[a], c),
                Op::ConstBinary(op, c, b) => ops::binary(op, c, v[b]),
                Op::Extreme(a, b, high) => ops::extreme(v[a], v[b], high),
                Op::If(c, a, b) => {
                    if ops::truthy(v[c]) {
                        v[a]
                    } else {
                        v[b]
                    }
                }
                Op::Round(a, digits) => ops::round(v[a], digits),
                Op::Ewm(a, k) => s.ewms[k].step(v[a]),
                Op::Stateful(a, k) => s.filters[k].step(v[a]),
                Op::Cross(a, b, k) => s.crosses[k].step(v[a], v[b]),
                Op::BuiltIn(k) => {
                    let b = &mut s.built[k];
                    b.stream.step(quote, &mut b.values);
                    f64::NAN
                }
                Op::Pick(b, k) => match self.ops[b] {
                    Op::BuiltIn(state) => s.built[state].values[k],
                    _ => unreachable!("a pick reads a built-in"),
                },
            };
            v[i] = value;
        }
        for (slot, &op) in out.iter_mut().zip(self.outputs.iter()) {
            *slot = v[op];
        }
    }
}
