//! MFI(N): the money flow index, an RSI of typical price × volume. TP = (high + low + close) / 3;
//! a bar's flow TP·V counts as positive when TP rose, negative when it fell.
//!
//! * cn (MyTT `MFI`): V1 = SUM(positive, N) / SUM(negative, N); MFI = 100 − 100 / (1 + V1), from
//!   bar N − 1 (bar 0's flow counts as neither).
//! * talib (`MFI(high, low, close, volume, timeperiod=N)`): 100 · positive / (positive +
//!   negative) over the last N changes, from bar N, as TA-Lib 0.6 computes it (`Talib`); a
//!   typical price within 1e-14 of the two prices' size of the one before
//!   (`|TP − TP'| ≤ (|TP| + |TP'|)·1e-14`) counts as unchanged, as TA-Lib counts it (measured
//!   against it too: a move of 1.99e-14 of the price is none, 2.01e-14 one).

use super::stream::{Filter, Ring, Step, SUM_START};
use super::{batch, boxed, mytt, no_check, period, talib, Convention, Def, Quote, Visit};

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
            let flows = Flows { before: None, talib: false };
            v.visit(Mfi { flows, sums: Cn { up: mytt::Sum::new(n), down: mytt::Sum::new(n) } })
        }
        Convention::Talib => {
            let flows = Flows { before: None, talib: true };
            let (up, down) = (SUM_START, SUM_START);
            let sums = Talib { n, bars: 0, up, down, ups: Ring::new(n), downs: Ring::new(n), quiet: 0 };
            v.visit(Mfi { flows, sums })
        }
    }
}

/// Each bar's positive and negative flow, against the typical price before it (`None` before
/// bar 0, whose flow counts as neither). In MyTT's convention any rise or fall moves; in TA-Lib's
/// a change within 1e-14 of the two prices' size is none, and any other that is not a fall is a
/// rise.
#[derive(Clone)]
struct Flows {
    before: Option<f64>,
    talib: bool,
}

impl Flows {
    fn step(&mut self, quote: &Quote) -> (f64, f64) {
        let tp = (quote.high + quote.low + quote.close) / 3.0;
        let flow = tp * quote.volume;
        let flows = match self.before {
            Some(prev) => {
                // TA-Lib's "moved and did not fall" is a change above its tolerance, its "moved
                // and fell" the opposite change above it (prev − tp is −(tp − prev) exactly); so
                // written, both compile to selects (as booleans, to branches that a random walk
                // mispredicts: twice the time). A NaN change is no flow here, a NaN one in
                // TA-Lib; a catalog's prices are numbers.
                let within = if self.talib { talib::tolerance(tp, prev) } else { 0.0 };
                (if tp - prev > within { flow } else { 0.0 }, if prev - tp > within { flow } else { 0.0 })
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

/// TA-Lib 0.6's running sums over the last `n` flows, from bar 1 (its C library in TA-Lib 0.8's
/// wheels; the disassembly read, and checked bit for bit in Python first): the oldest removed,
/// then the newest added; after `n` bars in a row without a flow (unchanged, or no volume) both
/// sums start again from 0, so a running sum's residue does not outlive a quiet window; the
/// value is 100 · positive / total with the positive clamped into [0, total], and 0 where the
/// total is not above 0.
#[derive(Clone)]
struct Talib {
    n: usize,
    bars: usize,
    up: f64,
    down: f64,
    ups: Ring,
    downs: Ring,
    /// How many bars in a row had no flow (at most `n`).
    quiet: usize,
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
        self.quiet = if positive == 0.0 && negative == 0.0 { self.quiet + 1 } else { 0 };
        if self.quiet >= self.n {
            (self.up, self.down, self.quiet) = (0.0, 0.0, self.n);
        }
        if i < self.n {
            return f64::NAN;
        }
        let (up, total) = (self.up, self.up + self.down);
        let up = if 0.0 > up {
            0.0
        } else if total < up {
            total
        } else {
            up
        };
        if 0.0 >= total {
            0.0
        } else {
            up / total * 100.0
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
                let (talib, cn) = (Flows { before: None, talib: true }, Flows { before: None, talib: false });
                for (mut flows, moves) in [(talib, talib_moves), (cn, true)] {
                    flows.step(&quote(price));
                    let (up, down) = flows.step(&quote(price * (1.0 + fraction)));
                    assert_eq!((up > 0.0, down), (moves, 0.0), "{price} moved by {fraction} of it");
                }
            }
        }
    }
}
