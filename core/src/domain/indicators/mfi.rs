//! MFI(N): the money flow index, an RSI of typical price × volume. TP = (high + low + close) / 3;
//! a bar's flow TP·V counts as positive when TP rose, negative when it fell.
//!
//! * cn (MyTT `MFI`): V1 = SUM(positive, N) / SUM(negative, N); MFI = 100 − 100 / (1 + V1), from
//!   bar N − 1 (bar 0's flow counts as neither).
//! * talib (`MFI(high, low, close, volume, timeperiod=N)`): 100 · positive / (positive +
//!   negative) over the last N changes, from bar N; 0 where the total flow is below 1. A typical
//!   price within 2e-14 of the one before (relative) counts as unchanged, as TA-Lib 0.8 counts
//!   it (measured against it: 1.99e-14 is no move, 2.01e-14 one, at prices from 1 to 10,000).

use super::stream::{Filter, Ring, Step, SUM_START};
use super::{batch, boxed, mytt, no_check, period, Convention, Def, Quote, Visit};

pub(super) const DEF: Def = Def {
    name: "MFI",
    params: &[period("N")],
    cn_defaults: &[14.0],
    talib_defaults: &[14.0],
    outputs: &[""],
    check: no_check,
    stream: boxed!(build),
    batch: batch!(build, 1),
};

fn build<V: Visit>(a: &[f64], convention: Convention, v: V) -> V::Out {
    let n = super::bars(a, 0);
    match convention {
        Convention::Cn => {
            let flows = Flows { before: None, tolerance: 0.0 };
            v.visit(Mfi { flows, sums: Cn { up: mytt::Sum::new(n), down: mytt::Sum::new(n) } })
        }
        Convention::Talib => {
            let flows = Flows { before: None, tolerance: TALIB_UNCHANGED };
            let sums = Talib { n, bars: 0, up: SUM_START, down: SUM_START, ups: Ring::new(n), downs: Ring::new(n) };
            v.visit(Mfi { flows, sums })
        }
    }
}

/// TA-Lib's "unchanged": a typical price within this fraction of the one before.
const TALIB_UNCHANGED: f64 = 2e-14;

/// Each bar's positive and negative flow, against the typical price before it (`None` before
/// bar 0, whose flow counts as neither); a move within `tolerance` of it (relative) is none.
#[derive(Clone)]
struct Flows {
    before: Option<f64>,
    tolerance: f64,
}

impl Flows {
    fn step(&mut self, quote: &Quote) -> (f64, f64) {
        let tp = (quote.high + quote.low + quote.close) / 3.0;
        let flow = |moved: bool| if moved { tp * quote.volume } else { 0.0 };
        let flows = match self.before {
            Some(prev) => {
                let within = self.tolerance * prev.abs();
                (flow(tp - prev > within), flow(prev - tp > within))
            }
            None => (0.0, 0.0),
        };
        self.before = Some(tp);
        flows
    }
}

#[derive(Clone)]
struct Mfi<S> {
    flows: Flows,
    sums: S,
}

trait Sums: Clone + Send + Sync + 'static {
    /// The MFI after a bar of these flows.
    fn step(&mut self, positive: f64, negative: f64) -> f64;
}

impl<S: Sums> Step for Mfi<S> {
    fn step(&mut self, quote: &Quote, out: &mut [f64]) {
        let (positive, negative) = self.flows.step(quote);
        out[0] = self.sums.step(positive, negative);
    }
}

/// MyTT's `SUM`s of the last N flows.
#[derive(Clone)]
struct Cn {
    up: mytt::Sum,
    down: mytt::Sum,
}

impl Sums for Cn {
    fn step(&mut self, positive: f64, negative: f64) -> f64 {
        let (u, d) = (self.up.step(positive), self.down.step(negative));
        100.0 - 100.0 / (1.0 + u / d)
    }
}

/// TA-Lib's running sums over the last `n` flows, from bar 1: the oldest removed, then the
/// newest added.
#[derive(Clone)]
struct Talib {
    n: usize,
    bars: usize,
    up: f64,
    down: f64,
    ups: Ring,
    downs: Ring,
}

impl Sums for Talib {
    fn step(&mut self, positive: f64, negative: f64) -> f64 {
        let i = self.bars;
        self.bars += 1;
        let (old_up, old_down) = (self.ups.push(positive), self.downs.push(negative));
        if i == 0 {
            return f64::NAN;
        }
        if i > self.n {
            self.up -= old_up.expect("the last n flows are kept");
            self.down -= old_down.expect("the last n flows are kept");
        }
        self.up += positive;
        self.down += negative;
        if i < self.n {
            return f64::NAN;
        }
        let (up, down) = (self.up, self.down);
        if up + down < 1.0 {
            0.0
        } else {
            100.0 * (up / (up + down))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TA-Lib 0.8's MFI, probed with a bar whose typical price moves by a tiny fraction of the
    /// one before (at prices 1 to 10,000): 1.99e-14 of it counts as no move, 2.01e-14 as one.
    #[test]
    fn a_move_within_talib_s_tolerance_is_none_in_talib_and_one_in_cn() {
        for price in [1.0, 100.0, 10_000.0] {
            for (fraction, talib_moves) in [(1.98e-14, false), (2.02e-14, true)] {
                let quote = |close: f64| Quote { high: close, low: close, close, volume: 1.0, ..Quote::default() };
                let (talib, cn) =
                    (Flows { before: None, tolerance: TALIB_UNCHANGED }, Flows { before: None, tolerance: 0.0 });
                for (mut flows, moves) in [(talib, talib_moves), (cn, true)] {
                    flows.step(&quote(price));
                    let (up, down) = flows.step(&quote(price * (1.0 + fraction)));
                    assert_eq!((up > 0.0, down), (moves, 0.0), "{price} moved by {fraction} of it");
                }
            }
        }
    }
}
