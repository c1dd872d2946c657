//! MACD (moving average convergence/divergence) over daily closes.
//!
//! DIF = EMA(close, fast) − EMA(close, slow); DEA = EMA(DIF, signal); the histogram compares the
//! two. The conventions differ in how the EMAs start and in the histogram's scale:
//!
//! * [`Convention::Cn`], as 通达信 and 同花顺 chart it (and pandas `ewm(span=n, adjust=False)`):
//!   every EMA starts at its first input, so every bar has a value from the first one on, and
//!   `macd = 2 × (DIF − DEA)`.
//! * [`Convention::Talib`], as TA-Lib's `MACD`: each price EMA starts at the simple average of
//!   its first `n` closes, both windows ending on bar `slow − 1`, so the fast EMA ignores the
//!   closes before `slow − fast`; the signal EMA starts at the average of the first `signal` DIF
//!   values. The first `(slow − 1) + (signal − 1)` bars (33 for 12/26/9) have no value.
//!   `macd = DIF − DEA` (TA-Lib's `macdhist`).
//!
//! The computation is the indicator engine's MACD ([`crate::domain::indicators`]), so the article's
//! `GetMACD` and v2's `MACD(12,26,9)` are one code. Values are computed over the whole history once; a request for a window takes a slice, so a
//! day's value never depends on the window asked for, and the bars before the window serve as
//! warm-up.

/// The three EMA periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacdParams {
    pub fast: usize,
    pub slow: usize,
    pub signal: usize,
}

impl Default for MacdParams {
    fn default() -> Self {
        MacdParams { fast: 12, slow: 26, signal: 9 }
    }
}

/// Periods that make no MACD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("MACD periods must be at least 1 (got fast {fast}, slow {slow}, signal {signal})")]
    Zero { fast: usize, slow: usize, signal: usize },
    #[error("the fast period ({fast}) must be shorter than the slow one ({slow})")]
    FastNotFaster { fast: usize, slow: usize },
    #[error("MACD periods must be at most {MAX_PERIOD} bars")]
    TooLong,
}

/// The longest EMA period accepted (about 40 years of daily bars).
pub const MAX_PERIOD: usize = 10_000;

impl MacdParams {
    pub fn validate(self) -> Result<MacdParams, ParamsError> {
        let MacdParams { fast, slow, signal } = self;
        if fast == 0 || slow == 0 || signal == 0 {
            return Err(ParamsError::Zero { fast, slow, signal });
        }
        if fast >= slow {
            return Err(ParamsError::FastNotFaster { fast, slow });
        }
        if slow > MAX_PERIOD || signal > MAX_PERIOD {
            return Err(ParamsError::TooLong);
        }
        Ok(self)
    }
}

/// How the EMAs are seeded and the histogram scaled; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Convention {
    #[default]
    Cn,
    Talib,
}

impl std::str::FromStr for Convention {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "cn" => Ok(Convention::Cn),
            "talib" => Ok(Convention::Talib),
            other => Err(format!("unknown MACD convention {other:?}: use cn or talib")),
        }
    }
}

impl std::fmt::Display for Convention {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Convention::Cn => "cn",
            Convention::Talib => "talib",
        })
    }
}

/// The MACD of one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdPoint {
    /// EMA(fast) − EMA(slow).
    pub dif: f64,
    /// EMA(signal) of `dif`.
    pub dea: f64,
    /// The histogram: `2 × (dif − dea)` (cn) or `dif − dea` (talib).
    pub macd: f64,
}

/// One value per close, `None` where the convention has none yet (TA-Lib's warm-up).
///
/// The periods are checked here, not only by the callers that parse them: a fast period not
/// shorter than the slow one would index out of the seed window in the TA-Lib convention, and a
/// period of 0 would underflow its lookback.
pub fn compute(
    closes: &[f64],
    params: MacdParams,
    convention: Convention,
) -> Result<Vec<Option<MacdPoint>>, ParamsError> {
    let params = params.validate()?;
    Ok(crate::domain::indicators::macd::points(closes, params, convention))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closes(n: usize) -> Vec<f64> {
        (0..n).map(|i| 100.0 + (i as f64 * 0.7).sin() * 5.0 + i as f64 * 0.1).collect()
    }

    #[test]
    fn cn_starts_at_zero_and_follows_the_recurrence() {
        let c = closes(60);
        let m = compute(&c, MacdParams::default(), Convention::Cn).unwrap();
        assert_eq!(m.len(), 60);
        let first = m[0].unwrap();
        assert_eq!((first.dif, first.dea, first.macd), (0.0, 0.0, 0.0));
        // Bar 1 by hand: each EMA moves by alpha of the change.
        let d = c[1] - c[0];
        let dif = d * (2.0 / 13.0) - d * (2.0 / 27.0);
        let dea = dif * 0.2;
        let p1 = m[1].unwrap();
        assert!((p1.dif - dif).abs() < 1e-12 && (p1.dea - dea).abs() < 1e-12);
        assert!((p1.macd - 2.0 * (dif - dea)).abs() < 1e-12);
    }

    #[test]
    fn talib_leaves_out_the_lookback_and_seeds_with_averages() {
        let c = closes(40);
        let p = MacdParams { fast: 3, slow: 5, signal: 2 };
        let m = compute(&c, p, Convention::Talib).unwrap();
        let lookback = 4 + 1;
        assert!(m[..lookback].iter().all(Option::is_none));
        assert!(m[lookback..].iter().all(Option::is_some));
        // By hand: seeds on bar 4, one step to bar 5, signal seed = mean of DIF on bars 4 and 5.
        let (kf, ks) = (0.5, 1.0 / 3.0);
        let fast4 = (c[2] + c[3] + c[4]) / 3.0;
        let slow4 = (c[0] + c[1] + c[2] + c[3] + c[4]) / 5.0;
        let (fast5, slow5) = (fast4 + (c[5] - fast4) * kf, slow4 + (c[5] - slow4) * ks);
        let (dif4, dif5) = (fast4 - slow4, fast5 - slow5);
        let point = m[5].unwrap();
        assert!((point.dif - dif5).abs() < 1e-12);
        assert!((point.dea - (dif4 + dif5) / 2.0).abs() < 1e-12);
        assert!((point.macd - (point.dif - point.dea)).abs() < 1e-15);
        // Too short for any value.
        assert!(compute(&c[..5], p, Convention::Talib).unwrap().iter().all(Option::is_none));
        assert_eq!(
            compute(&c, MacdParams::default(), Convention::Talib).unwrap().iter().filter(|v| v.is_none()).count(),
            33
        );
    }

    #[test]
    fn params_are_checked() {
        assert!(MacdParams::default().validate().is_ok());
        assert!(MacdParams { fast: 26, slow: 12, signal: 9 }.validate().is_err());
        assert!(MacdParams { fast: 0, slow: 12, signal: 9 }.validate().is_err());
        assert!(MacdParams { fast: 12, slow: usize::MAX, signal: usize::MAX }.validate().is_err());
        assert!("talib".parse::<Convention>().is_ok());
        assert!("TDX".parse::<Convention>().unwrap_err().contains("cn or talib"));
    }

    #[test]
    fn empty_input_gives_no_values() {
        assert!(compute(&[], MacdParams::default(), Convention::Cn).unwrap().is_empty());
        assert!(compute(&[], MacdParams::default(), Convention::Talib).unwrap().is_empty());
    }

    #[test]
    fn invalid_periods_are_refused_by_the_domain_itself() {
        let closes: Vec<f64> = (0..100).map(f64::from).collect();
        for (fast, slow, signal) in [(26, 12, 9), (12, 12, 9), (0, 26, 9), (12, 26, 0), (12, 0, 9), (1, 20_000, 9)] {
            let params = MacdParams { fast, slow, signal };
            for convention in [Convention::Cn, Convention::Talib] {
                assert!(compute(&closes, params, convention).is_err(), "{params:?} {convention}");
            }
        }
    }
}
