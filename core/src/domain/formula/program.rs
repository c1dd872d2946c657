//! A compiled formula: a list of operations, each reading earlier ones, that is run over whole
//! columns for `Compute` ([`Program::compute`]) or stepped one bar at a time for `Subscribe`
//! ([`Program::stream`]). Both run the same operations on the same states, in the same order, so
//! a live value is the batch value, bit for bit.

use std::sync::Arc;

use super::ast::{BinaryOp, UnaryOp};
use super::ops::{self, Cross, Stateful};
use crate::domain::indicators::stream::{column, Filter, Step};
use crate::domain::indicators::{Indicator, Prices, Quote, Stream};

/// A price column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
    AdjFactor,
}

impl Field {
    fn of(self, q: &Quote) -> f64 {
        match self {
            Field::Open => q.open,
            Field::High => q.high,
            Field::Low => q.low,
            Field::Close => q.close,
            Field::Volume => q.volume,
            Field::AdjFactor => q.adj_factor,
        }
    }

    /// The column; `None` for factors the history does not have (NaN then).
    fn column<'a>(self, p: &Prices<'a>) -> Option<&'a [f64]> {
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

/// One operation; its operands are earlier operations, by index.
#[derive(Clone)]
pub(super) enum Op {
    Field(Field),
    Const(f64),
    Unary(UnaryOp, usize),
    Abs(usize),
    Binary(BinaryOp, usize, usize),
    Extreme(usize, usize, bool),
    If(usize, usize, usize),
    Round(usize, i32),
    Stateful(usize, Stateful),
    Cross(usize, usize, Cross),
    /// A built-in indicator over the bars; `Pick` reads its outputs.
    BuiltIn(BuiltIn),
    Pick(usize, usize),
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
}

/// A checked, compiled formula.
#[derive(Clone)]
pub struct Program {
    pub(super) ops: Arc<Vec<Op>>,
    /// Output names, upper case, and the operation each reads.
    pub(super) outputs: Vec<(String, usize)>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} operations, outputs {:?})", self.ops.len(), self.output_names())
    }
}

impl Program {
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
    /// operation.
    pub fn compute_until(&self, prices: &Prices, stop: &dyn Fn() -> bool) -> Option<Vec<Vec<f64>>> {
        let ops = &*self.ops;
        // Each column is dropped after its last reader, so a long formula over a long history
        // holds only the columns still needed.
        let mut last_use: Vec<usize> = (0..ops.len()).collect();
        for (i, op) in ops.iter().enumerate() {
            for operand in operands(op) {
                last_use[operand] = i;
            }
        }
        for &(_, op) in &self.outputs {
            last_use[op] = usize::MAX;
        }
        let n = prices.len();
        let mut columns: Vec<Option<Vec<f64>>> = vec![None; ops.len()];
        let mut built: Vec<Option<Vec<Vec<f64>>>> = vec![None; ops.len()];
        for (i, op) in ops.iter().enumerate() {
            if stop() {
                return None;
            }
            let col = |j: usize| columns[j].as_deref().expect("operands come first and are kept until read");
            let value: Vec<f64> = match op {
                Op::Field(field) => field.column(prices).map_or_else(|| vec![f64::NAN; n], <[f64]>::to_vec),
                Op::Const(c) => vec![*c; n],
                Op::Unary(op, a) => col(*a).iter().map(|&x| unary(*op, x)).collect(),
                Op::Abs(a) => col(*a).iter().map(|x| x.abs()).collect(),
                Op::Binary(op, a, b) => col(*a).iter().zip(col(*b)).map(|(&x, &y)| ops::binary(*op, x, y)).collect(),
                Op::Extreme(a, b, high) => {
                    col(*a).iter().zip(col(*b)).map(|(&x, &y)| ops::extreme(x, y, *high)).collect()
                }
                Op::If(c, a, b) => {
                    (0..n).map(|k| if ops::truthy(col(*c)[k]) { col(*a)[k] } else { col(*b)[k] }).collect()
                }
                Op::Round(a, digits) => col(*a).iter().map(|&x| ops::round(x, *digits)).collect(),
                Op::Stateful(a, state) => column(state.clone(), col(*a)),
                Op::Cross(a, b, state) => {
                    let mut state = state.clone();
                    col(*a).iter().zip(col(*b)).map(|(&x, &y)| state.step(x, y)).collect()
                }
                Op::BuiltIn(b) => {
                    built[i] = Some(b.indicator.compute(prices));
                    Vec::new()
                }
                Op::Pick(b, k) => built[*b].as_ref().expect("the built-in comes first")[*k].clone(),
            };
            columns[i] = Some(value);
            for operand in operands(op) {
                if last_use[operand] == i {
                    columns[operand] = None;
                }
            }
        }
        Some(self.outputs.iter().map(|&(_, op)| columns[op].clone().unwrap_or_default()).collect())
    }

    /// A fresh state, stepped one bar at a time.
    pub fn stream(&self) -> Box<dyn Stream> {
        Box::new(Running {
            ops: (*self.ops).clone(),
            values: vec![f64::NAN; self.ops.len()],
            outputs: self.outputs.iter().map(|o| o.1).collect(),
        })
    }
}

fn unary(op: UnaryOp, x: f64) -> f64 {
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

/// The operations `op` reads.
fn operands(op: &Op) -> Vec<usize> {
    match op {
        Op::Field(_) | Op::Const(_) | Op::BuiltIn(_) => vec![],
        Op::Unary(_, a) | Op::Abs(a) | Op::Round(a, _) | Op::Stateful(a, _) | Op::Pick(a, _) => vec![*a],
        Op::Binary(_, a, b) | Op::Extreme(a, b, _) | Op::Cross(a, b, _) => vec![*a, *b],
        Op::If(c, a, b) => vec![*c, *a, *b],
    }
}

/// A program's state between bars.
#[derive(Clone)]
struct Running {
    ops: Vec<Op>,
    values: Vec<f64>,
    outputs: Vec<usize>,
}

impl Step for Running {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        for i in 0..self.ops.len() {
            let v = &self.values;
            let (before, rest) = self.ops.split_at_mut(i);
            let value = match &mut rest[0] {
                Op::Field(field) => field.of(quote),
                Op::Const(c) => *c,
                Op::Unary(op, a) => unary(*op, v[*a]),
                Op::Abs(a) => v[*a].abs(),
                Op::Binary(op, a, b) => ops::binary(*op, v[*a], v[*b]),
                Op::Extreme(a, b, high) => ops::extreme(v[*a], v[*b], *high),
                Op::If(c, a, b) => {
                    if ops::truthy(v[*c]) {
                        v[*a]
                    } else {
                        v[*b]
                    }
                }
                Op::Round(a, digits) => ops::round(v[*a], *digits),
                Op::Stateful(a, state) => state.step(v[*a]),
                Op::Cross(a, b, state) => state.step(v[*a], v[*b]),
                Op::BuiltIn(b) => {
                    b.stream.step(quote, &mut b.values);
                    f64::NAN
                }
                Op::Pick(b, k) => match &before[*b] {
                    Op::BuiltIn(built) => built.values[*k],
                    _ => unreachable!("a pick reads a built-in"),
                },
            };
            self.values[i] = value;
        }
        for (slot, &op) in out.iter_mut().zip(&self.outputs) {
            *slot = self.values[op];
        }
    }
}
