//! The operations a compiled formula is made of, with MyTT 2.9.3's meaning, each stepped one bar
//! at a time; a column is the same steps over every bar, so batch and live values are the same.
//!
//! NaN follows numpy: arithmetic with NaN is NaN; a comparison with NaN is 0 (false), but `<>`
//! is 1; as a condition (`IF`, `AND`, `NOT`, `COUNT`, `BARSLAST`) a number is true when it is not
//! 0, so NaN is true, as `np.where` and `np.logical_and` take it. Division by zero is NaN.

use super::ast::BinaryOp;
use crate::domain::indicators::mytt;
use crate::domain::indicators::stream::{Filter, Ring};

/// numpy's truth of a number: anything but 0 (NaN included).
pub(super) fn truthy(x: f64) -> bool {
    x != 0.0
}

fn bool(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// `a op b`.
pub(super) fn binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => {
            if b == 0.0 {
                f64::NAN
            } else {
                a / b
            }
        }
        BinaryOp::Gt => bool(a > b),
        BinaryOp::Lt => bool(a < b),
        BinaryOp::Ge => bool(a >= b),
        BinaryOp::Le => bool(a <= b),
        BinaryOp::Eq => bool(a == b),
        BinaryOp::Ne => bool(a != b),
        BinaryOp::And => bool(truthy(a) && truthy(b)),
        BinaryOp::Or => bool(truthy(a) || truthy(b)),
    }
}

/// numpy's `maximum` and `minimum`: NaN when either is.
pub(super) fn extreme(a: f64, b: f64, highest: bool) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if highest {
        a.max(b)
    } else {
        a.min(b)
    }
}

/// numpy's `round(x, n)`: scaled, rounded half to even, scaled back.
pub(super) fn round(x: f64, digits: i32) -> f64 {
    if digits >= 0 {
        let scale = 10f64.powi(digits);
        (x * scale).round_ties_even() / scale
    } else {
        let scale = 10f64.powi(-digits);
        (x / scale).round_ties_even() * scale
    }
}

/// A one-input function with state.
#[derive(Debug, Clone)]
pub(super) enum Stateful {
    Ref(mytt::Ref),
    Sum(mytt::Sum),
    Ma(mytt::Ma),
    Std(mytt::Std),
    Extreme(mytt::Extreme),
    Avedev(mytt::Avedev),
    Wma(Window),
    Slope(Window),
    /// `EVERY(S, N)`: `SUM(S, N) == N`.
    Every(mytt::Sum, f64),
    /// `EXIST(S, N)`: `SUM(S, N) > 0`.
    Exist(mytt::Sum),
    /// `BARSLAST(S)`: bars since `S` was last true (counting from the first bar before that).
    BarsLast(f64),
}

impl Filter for Stateful {
    fn step(&mut self, x: f64) -> f64 {
        match self {
            Stateful::Ref(f) => f.step(x),
            Stateful::Sum(f) => f.step(x),
            Stateful::Ma(f) => f.step(x),
            Stateful::Std(f) => f.step(x),
            Stateful::Extreme(f) => f.step(x),
            Stateful::Avedev(f) => f.step(x),
            Stateful::Wma(w) => w.push(x).map_or(f64::NAN, wma),
            Stateful::Slope(w) => w.push(x).map_or(f64::NAN, slope),
            Stateful::Every(sum, n) => bool(sum.step(x) == *n),
            Stateful::Exist(sum) => bool(sum.step(x) > 0.0),
            Stateful::BarsLast(count) => {
                *count = if truthy(x) { 0.0 } else { *count + 1.0 };
                *count
            }
        }
    }
}

impl Stateful {
    /// [`Filter::step`] over a block: `out[i]` is the step of `x[i]`. The kind is matched once a
    /// block, not once a bar, so that each loop is the function's own.
    pub(super) fn column(&mut self, x: &[f64], out: &mut [f64]) {
        fn each(x: &[f64], out: &mut [f64], mut f: impl FnMut(f64) -> f64) {
            for (o, &x) in out.iter_mut().zip(x) {
                *o = f(x);
            }
        }
        match self {
            Stateful::Ref(f) => each(x, out, |x| f.step(x)),
            Stateful::Sum(f) => each(x, out, |x| f.step(x)),
            Stateful::Ma(f) => each(x, out, |x| f.step(x)),
            Stateful::Std(f) => each(x, out, |x| f.step(x)),
            Stateful::Extreme(f) => each(x, out, |x| f.step(x)),
            Stateful::Avedev(f) => each(x, out, |x| f.step(x)),
            // The rest look at whole windows, or are a comparison after a sum: one step each.
            f => each(x, out, |x| f.step(x)),
        }
    }
}

/// The last `n` values, for the functions that look at a whole window each bar (pandas'
/// `rolling(N).apply`): a value only where all `n` are numbers.
#[derive(Debug, Clone)]
pub(super) struct Window {
    ring: Ring,
    n: usize,
    nans: usize,
    scratch: Vec<f64>,
}

impl Window {
    pub(super) fn new(n: usize) -> Window {
        Window { ring: Ring::new(n), n, nans: 0, scratch: Vec::with_capacity(n.min(10_000)) }
    }

    /// Takes `x`; the window, oldest first, when it holds `n` numbers.
    fn push(&mut self, x: f64) -> Option<&[f64]> {
        self.nans += usize::from(x.is_nan());
        if let Some(old) = self.ring.push(x) {
            self.nans -= usize::from(old.is_nan());
        }
        if self.ring.len() < self.n || self.nans > 0 {
            return None;
        }
        self.scratch.clear();
        self.scratch.extend(self.ring.iter());
        Some(&self.scratch)
    }
}

/// MyTT's `WMA`: `x[::-1].cumsum().sum() * 2 / N / (N + 1)`, the newest value weighing N.
fn wma(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut running = 0.0;
    let mut total = 0.0;
    for &v in x.iter().rev() {
        running += v;
        total += running;
    }
    total * 2.0 / n / (n + 1.0)
}

/// MyTT's `SLOPE`: the slope of the least-squares line through `(0, x0) ... (N-1, xN-1)`
/// (`np.polyfit(range(N), x, 1)[0]`).
fn slope(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean_t = (n - 1.0) / 2.0;
    let mean_x = x.iter().sum::<f64>() / n;
    let (mut sxy, mut stt) = (0.0, 0.0);
    for (t, &v) in x.iter().enumerate() {
        let dt = t as f64 - mean_t;
        sxy += dt * (v - mean_x);
        stt += dt * dt;
    }
    sxy / stt
}

/// `CROSS(A, B)`: `A > B` now and not on the bar before (never on the first bar).
#[derive(Debug, Clone, Default)]
pub(super) struct Cross {
    before: Option<bool>,
}

impl Cross {
    pub(super) fn step(&mut self, a: f64, b: f64) -> f64 {
        let above = a > b;
        let crossed = self.before.is_some_and(|before| !before) && above;
        self.before = Some(above);
        bool(crossed)
    }
}
