//! The numbers of a CSV of bars: `.` as the decimal point; thousands grouped with commas in a
//! quoted field of a comma-separated file; a decimal comma in a `;`- or tab-separated one; never a
//! separator whose meaning depends on the locale.

use std::borrow::Cow;

use super::{quoted, Problem};

const THOUSANDS_ONLY: &str = ": in a comma-separated file a comma in a number can only group thousands, as in \
                              \"1,000.5\"; a decimal comma needs `;` or tab as the delimiter";
const ONE_SEPARATOR: &str = ": with `;` or tab as the delimiter, a number has one decimal separator, `,` or `.`, \
                             and no thousands separators";

/// A finite decimal number; `nan`, `inf` and empty fields are not numbers here. With `,` as the
/// delimiter, commas may group thousands (`1,000.5`); with `;` or tab, one comma may be the
/// decimal separator (`1,5`) in a number without a point.
pub(super) fn number(column: &'static str, text: &str, separator: u8) -> Result<f64, Problem> {
    // A hint about separators only for what looks like a number; looked at only on an error,
    // since the scan cost a tenth of a large catalog's load when it ran on every field.
    let bad = |hint: &'static str| {
        let numeric = text.bytes().any(|b| b.is_ascii_digit())
            && text.bytes().all(|b| b.is_ascii_digit() || b",.+-eE".contains(&b));
        Problem::BadNumber { column, text: quoted(text), hint: if numeric { hint } else { "" } }
    };
    let plain: Cow<'_, str> = if separator == b',' {
        if text.contains(',') {
            Cow::Owned(without_thousands_commas(text).ok_or_else(|| bad(THOUSANDS_ONLY))?)
        } else {
            Cow::Borrowed(text)
        }
    } else {
        match text.matches([',', '.']).count() {
            0 | 1 => Cow::Owned(text.replace(',', ".")),
            _ => return Err(bad(ONE_SEPARATOR)),
        }
    };
    match plain.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(bad("")),
    }
}

/// `1,000.5` as `1000.5`: the commas must group the digits before the point in threes.
fn without_thousands_commas(text: &str) -> Option<String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let sign = &text[..text.len() - unsigned.len()];
    let end = unsigned.find(['.', 'e', 'E']).unwrap_or(unsigned.len());
    let (integer, rest) = unsigned.split_at(end);
    if rest.contains(',') {
        return None;
    }
    let mut groups = integer.split(',');
    let first = groups.next()?;
    let digits = |group: &str| group.bytes().all(|b| b.is_ascii_digit());
    if !(1..=3).contains(&first.len()) || !digits(first) {
        return None;
    }
    let mut plain = format!("{sign}{first}");
    for group in groups {
        if group.len() != 3 || !digits(group) {
            return None;
        }
        plain.push_str(group);
    }
    plain.push_str(rest);
    Some(plain)
}

#[cfg(test)]
mod tests {
    use crate::domain::bar::parse_csv;
    use crate::domain::bar::tests::{prices, problem};

    #[test]
    fn reads_quoted_thousands_separators_with_comma_delimiter() {
        let csv = "date,open,high,low,close,volume\n2020-01-02,\"1,000.5\",\"1,200\",999,1000,\"12,345,678\"\n";
        let bars = parse_csv("x", csv.as_bytes()).unwrap();
        assert_eq!(prices(&bars[0]), (1000.5, 1200.0, 999.0, 1000.0, 12_345_678.0));
    }

    #[test]
    fn refuses_ambiguous_separators_in_numbers_with_the_reason() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,\"1,5\",2,1,1\n");
        assert_eq!(line, 2);
        assert!(msg.starts_with("bars.csv:2: open \"1,5\" is not a number: in a comma-separated file"), "{msg}");
        assert!(msg.contains("decimal comma needs `;` or tab"), "{msg}");
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1.000,5;2000;1;1000\n");
        assert!(msg.starts_with("bars.csv:2: open \"1.000,5\" is not a number: with `;` or tab"), "{msg}");
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1;2;1;1\n2020-01-03;1;2;1;1.000.000\n");
        assert!(msg.starts_with("bars.csv:3: close \"1.000.000\" is not a number: with `;` or tab"), "{msg}");
        // Text that is not a number at all gets no hint about separators.
        let (_, _, msg) = problem("date;open;high;low;close\n2020-01-02;1;a,b.c;1;1\n");
        assert_eq!(msg, "bars.csv:2: high \"a,b.c\" is not a number");
    }

    #[test]
    fn rejects_a_bad_number() {
        let (line, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,1,1\n2020-01-03,1,abc,1,1\n");
        assert_eq!(line, 3);
        assert_eq!(msg, "bars.csv:3: high \"abc\" is not a number");
        let (_, _, msg) = problem("date,open,high,low,close\n2020-01-02,1,2,NaN,1\n");
        assert_eq!(
            msg,
            "bars.csv:2: low \"NaN\" is not a number (a day without trading has all four prices empty or NaN, and \
             is skipped; this row has some)"
        );
    }
}
