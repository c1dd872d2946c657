//! What the live and formula benchmarks share (each includes this file): the random-walk history
//! they run over, and the statistics of their samples.

use std::time::Duration;

use idc_core::domain::date::Date;
use idc_core::domain::series::BarColumns;

/// `n` daily bars from 2000-01-03, one per calendar day, a random walk from 100 seeded by `seed`.
pub fn walk(n: usize, seed: u64) -> BarColumns {
    let mut state = seed.max(1);
    let mut unit = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let first = Date::new(2000, 1, 3).expect("a date").days_since_epoch();
    let mut b = BarColumns::default();
    let mut close = 100.0_f64;
    for i in 0..n {
        let open = close;
        close = (close * (1.0 + (unit() - 0.5) * 0.04)).max(1.0);
        b.date.push(Date::from_days_since_epoch(first + i as i64));
        b.open.push(open);
        b.high.push(open.max(close) * (1.0 + unit() * 0.01));
        b.low.push(open.min(close) * (1.0 - unit() * 0.01));
        b.close.push(close);
        b.volume.push((1000.0 + unit() * 9000.0).round());
    }
    b
}

/// The first `n` bars of `bars` (a walk: no factors).
pub fn head(bars: &BarColumns, n: usize) -> BarColumns {
    BarColumns {
        date: bars.date[..n].to_vec(),
        open: bars.open[..n].to_vec(),
        high: bars.high[..n].to_vec(),
        low: bars.low[..n].to_vec(),
        close: bars.close[..n].to_vec(),
        volume: bars.volume[..n].to_vec(),
        adj_factor: Default::default(),
    }
}

/// The middle sample.
pub fn median(samples: impl IntoIterator<Item = Duration>) -> Duration {
    let mut samples: Vec<Duration> = samples.into_iter().collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

pub fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}
