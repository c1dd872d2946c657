//! The formulas' exponential averages (`EMA`, `SMA`, `DMA`): pandas' `ewm(alpha=α,
//! adjust=False).mean()`, [`mytt::Ewm`], stepped one bar at a time, and several averages over
//! blocks of bars together ([`lockstep`], checked bit for bit against the step below), which is
//! where a formula like MACD spends its time.
//!
//! [`mytt::Ewm`]: crate::domain::indicators::mytt::Ewm

/// One average's state: [`mytt::Ewm`] itself, so that a formula's `EMA` is the built-in's
/// arithmetic, not a copy of it.
pub(super) use crate::domain::indicators::mytt::Ewm as Ema;
use crate::domain::indicators::stream::Filter;

/// After a number (a value, and the old weight back at 1), while the inputs are numbers,
/// [`Filter::step`] takes the same branches every bar: [`Steady`] steps without them.
fn steady(ema: &Ema) -> bool {
    !ema.value.is_nan() && ema.old_weight == 1.0
}

/// [`Filter::step`] from a steady state ([`steady`]) over numbers: the old weight is
/// `1 × (1 − α)`, the weights' sum `(1 − α) + α`, the same every bar. Over a NaN input, or once
/// the value is NaN (∞ − ∞), this gives NaN where `step` does not; but then its value stays NaN
/// to the end of the block (NaN differs from every input, and NaN times anything is NaN), so a
/// number at the end proves that every bar took the steady branches, and a NaN sends the block
/// back to `step`.
#[derive(Clone, Copy)]
struct Steady {
    alpha: f64,
    keep: f64,
    weight: f64,
    value: f64,
}

impl Steady {
    fn of(ema: &Ema) -> Steady {
        Steady { alpha: ema.alpha, keep: ema.keep, weight: 1.0 * ema.keep + ema.alpha, value: ema.value }
    }

    #[inline(always)]
    fn step(&mut self, x: f64) -> f64 {
        let sum = self.keep * self.value + self.alpha * x;
        let next = if self.weight == 1.0 { sum } else { sum / self.weight };
        if self.value != x {
            self.value = next;
        }
        self.value
    }
}

/// `K` averages over a block each, stepped together bar by bar so that their chains (each bar's
/// value waits for the one before) overlap: `outs[k][i]` is `emas[k]`'s step of `ins[k][i]`,
/// bit for bit. The blocks may differ in length (a last block is shorter).
pub(super) fn lockstep<const K: usize>(emas: &mut [Ema; K], ins: &[&[f64]; K], outs: &mut [&mut [f64]; K]) {
    let before = *emas;
    // Each one stepped as it is until it is steady (the first bar, after a NaN).
    let mut start = [0; K];
    for k in 0..K {
        while start[k] < outs[k].len() && !steady(&emas[k]) {
            outs[k][start[k]] = emas[k].step(ins[k][start[k]]);
            start[k] += 1;
        }
    }
    let mut steady: [Steady; K] = std::array::from_fn(|k| Steady::of(&emas[k]));
    let len = (0..K).map(|k| outs[k].len() - start[k]).min().unwrap_or(0);
    {
        let ins: [&[f64]; K] = std::array::from_fn(|k| &ins[k][start[k]..][..len]);
        let mut fast: [&mut [f64]; K] = std::array::from_fn(|_| &mut [][..]);
        for (k, out) in outs.iter_mut().enumerate() {
            fast[k] = &mut out[start[k]..][..len];
        }
        for i in 0..len {
            for k in 0..K {
                fast[k][i] = steady[k].step(ins[k][i]);
            }
        }
    }
    for k in 0..K {
        // The rest of a longer block, alone.
        for i in start[k] + len..outs[k].len() {
            outs[k][i] = steady[k].step(ins[k][i]);
        }
        if steady[k].value.is_nan() && start[k] < outs[k].len() {
            // A NaN on the way: the whole block again, as `step` takes it.
            emas[k] = before[k];
            for (out, &x) in outs[k].iter_mut().zip(ins[k]) {
                *out = emas[k].step(x);
            }
        } else if start[k] < outs[k].len() {
            emas[k].value = steady[k].value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// Inputs with runs of NaN, infinities, repeats and huge values, from a fixed seed.
    fn inputs(n: usize, seed: u64) -> Vec<f64> {
        let mut next = crate::domain::testing::uniform(seed);
        let mut x = 100.0;
        (0..n)
            .map(|i| {
                let r = next();
                if (40..55).contains(&(i % 700)) {
                    return f64::NAN;
                }
                match (r * 1000.0) as u32 {
                    0..=4 => f64::NAN,
                    5 => f64::INFINITY,
                    6 => f64::NEG_INFINITY,
                    7 => f64::MAX,
                    8..=80 => x,
                    _ => {
                        x = (x + (next() - 0.5) * 4.0).max(1.0);
                        x
                    }
                }
            })
            .collect()
    }

    fn alphas() -> Vec<f64> {
        let mut a: Vec<f64> = (1..40).map(|n| 2.0 / (n as f64 + 1.0)).collect();
        a.extend([1.0, 0.3, 0.1, 2.0 / 7.0, 1.0 / 3.0, 1e-9]);
        a
    }

    /// Blocks of every length, three averages of different α at once, each block from the state
    /// the one before left, give the values of one step at a time.
    #[test]
    fn lockstep_steps_as_step_does() {
        let alphas = alphas();
        for seed in 1..4 {
            let xs: Vec<Vec<f64>> = (0..3).map(|k| inputs(3000, seed * 10 + k)).collect();
            for lanes in alphas.windows(3) {
                let mut one: [Ema; 3] = std::array::from_fn(|k| Ema::new(lanes[k]));
                let expected: Vec<Vec<f64>> = (0..3).map(|k| xs[k].iter().map(|&x| one[k].step(x)).collect()).collect();
                let mut emas: [Ema; 3] = std::array::from_fn(|k| Ema::new(lanes[k]));
                let mut got: Vec<Vec<f64>> = vec![vec![0.0; 3000]; 3];
                let mut at = [0; 3];
                let mut block = 1;
                while at.iter().any(|&a| a < 3000) {
                    // Lanes a few bars out of step with each other, as stages are.
                    let ends: [usize; 3] = std::array::from_fn(|k| (at[k] + block + k * 3).min(3000));
                    let ins: [&[f64]; 3] = std::array::from_fn(|k| &xs[k][at[k]..ends[k]]);
                    let (g0, rest) = got.split_at_mut(1);
                    let (g1, g2) = rest.split_at_mut(1);
                    let mut outs: [&mut [f64]; 3] =
                        [&mut g0[0][at[0]..ends[0]], &mut g1[0][at[1]..ends[1]], &mut g2[0][at[2]..ends[2]]];
                    lockstep(&mut emas, &ins, &mut outs);
                    at = ends;
                    block = block * 3 % 1000 + 1;
                }
                for k in 0..3 {
                    for i in 0..3000 {
                        assert!(same(got[k][i], expected[k][i]), "α {}, bar {i}", lanes[k]);
                    }
                }
            }
        }
    }
}
