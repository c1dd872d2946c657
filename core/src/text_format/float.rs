//! Floats as upb writes them: C's `%g` with the fewest digits that read back as the same value.

/// A `float` as upb writes it: the shortest of `%.6g` and `%.9g` that reads back as `v`.
pub fn float_text(v: f32) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    // C's printf promotes the float to double; the digits are those of the exact f32 value.
    let short = format_g(f64::from(v), 6);
    if short.parse::<f32>().ok() == Some(v) {
        short
    } else {
        format_g(f64::from(v), 9)
    }
}

/// A `double` as upb writes it: `%.15g`, or `%.17g` when that does not read back.
pub fn double_text(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    let short = format_g(v, 15);
    if short.parse::<f64>().ok() == Some(v) {
        short
    } else {
        format_g(v, 17)
    }
}

/// C's `printf("%.{precision}g", v)` for a non-NaN `v`, in the "C" locale.
///
/// `%g` picks the `%e` form when the decimal exponent `x` of the value rounded to `precision`
/// significant digits is below -4 or at least `precision`, and `%f` with `precision - 1 - x`
/// decimals otherwise; then it drops trailing zeros and a trailing point. Rust's `{:.*e}` and
/// `{:.*}` round the exact binary value half-to-even, as glibc does.
pub fn format_g(v: f64, precision: usize) -> String {
    debug_assert!(precision >= 1 && !v.is_nan());
    if v.is_infinite() {
        return if v < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let scientific = format!("{:.*e}", precision - 1, v);
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes an integer exponent");
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip_fraction_zeros(mantissa), exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent) as usize;
        strip_fraction_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn strip_fraction_zeros(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_c_for_reference_values() {
        // Expected strings are C's printf output (glibc), following the C standard's %g rules.
        let cases: &[(f64, usize, &str)] = &[
            (1.1, 6, "1.1"),
            (100000.0, 6, "100000"),
            (1000000.0, 6, "1e+06"),
            (0.0001, 6, "0.0001"),
            (0.00001, 6, "1e-05"),
            (123456789.0, 9, "123456789"),
            (1.5e300, 6, "1.5e+300"),
            (-2.5, 6, "-2.5"),
            (0.125, 2, "0.12"),
            (0.375, 2, "0.38"),
            (2.5, 1, "2"),
            (999999.5, 6, "1e+06"),
        ];
        for &(v, p, want) in cases {
            assert_eq!(format_g(v, p), want, "%.{p}g of {v}");
        }
    }

    #[test]
    fn floats_take_the_shortest_form_that_round_trips() {
        assert_eq!(float_text((1.0f64 * 1.1) as f32), "1.1");
        assert_eq!(float_text((3.0f64 * 1.1) as f32), "3.3");
        assert_eq!(float_text(1.0 / 3.0), "0.333333343");
        assert_eq!(float_text(16777216.0), "16777216");
        assert_eq!(float_text(-0.0), "-0");
        assert_eq!(float_text(f32::NAN), "nan");
        assert_eq!(float_text(-f32::NAN), "nan");
        assert_eq!(float_text(f32::INFINITY), "inf");
        assert_eq!(float_text(f32::NEG_INFINITY), "-inf");
        // "1.4013e-45" reads back as the smallest subnormal, so the short form wins.
        assert_eq!(float_text(f32::from_bits(1)), "1.4013e-45");
        assert_eq!(float_text(f32::MIN_POSITIVE), "1.17549435e-38");
    }
}
