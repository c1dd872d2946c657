//! TA-Lib's EMA step, `(x − prev)·k + prev`, as TA-Lib's own build computes it on a processor
//! with fused multiply-add: its x86-64 library resolves `TA_EMA`, `TA_MACD` and others to clones
//! compiled for FMA, whose step is `fma(x − prev, k, prev)`, one rounding for the multiply and
//! the add. `f64::mul_add` is that operation on every machine (IEEE 754 defines it exactly), so
//! the talib convention's EMAs give the same bits everywhere, and TA-Lib's own bits wherever
//! TA-Lib fuses (checked against it, tests/v2_compute.rs).
//!
//! Written by hand because it is the product's arithmetic. Without the `fma` target feature a
//! `mul_add` is a call into libm (exact, slower), so the loops that step a whole column run in
//! [`fast`], a function compiled for FMA, when the processor has it.

/// One EMA step in TA-Lib's form, fused.
#[inline(always)]
pub fn ema_step(prev: f64, x: f64, k: f64) -> f64 {
    (x - prev).mul_add(k, prev)
}

/// The EMA steps over `s` from `value`, appended to `out`, fused; the last value.
#[inline(always)]
pub fn ema_steps(s: &[f64], mut value: f64, k: f64, out: &mut Vec<f64>) -> f64 {
    out.reserve(s.len());
    for &x in s {
        value = ema_step(value, x, k);
        out.push(value);
    }
    value
}

/// `f()`, compiled with FMA where the processor has it (what `f` inlines then uses the
/// instruction for its `mul_add`s; the values are the same either way).
#[inline(always)]
pub fn fast<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the processor has FMA, as just checked.
        return unsafe { with_fma(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn with_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step rounds once. With prev = −1, x = 2⁻³⁰ and k = 1 + 2⁻³⁰, (x − prev)·k + prev is
    /// exactly 2⁻²⁹ + 2⁻⁶⁰; a multiply rounded before the add loses the 2⁻⁶⁰. The same in
    /// [`fast`] as outside it.
    #[test]
    fn the_step_rounds_once() {
        let (prev, x, k) = (-1.0, 2f64.powi(-30), 1.0 + 2f64.powi(-30));
        let exact = 2f64.powi(-29) + 2f64.powi(-60);
        let twice = (x - prev) * k + prev;
        assert_eq!(twice, 2f64.powi(-29), "the unfused form rounds the product away");
        assert_eq!(ema_step(prev, x, k), exact);
        assert_eq!(fast(|| ema_step(prev, x, k)), exact);
    }
}
