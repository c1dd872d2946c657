//! The date forms a file of daily bars may use: `YYYY-MM-DD`, `YYYYMMDD` (tushare),
//! `YYYY/MM/DD`, each optionally followed by a midnight time ` 00:00:00` (pandas writes one for a
//! datetime column); and, for Parquet, days since 1970-01-01 (`date32`) and timestamps, which
//! must be at midnight. A time of day other than midnight is refused: these are daily bars, and
//! an intraday file read as daily would serve wrong bars quietly.

use super::{quoted, Problem};
use crate::domain::date::{Date, DateError};

const FORMS: &str = "use YYYY-MM-DD, e.g. 2023-01-31 (or YYYYMMDD, or YYYY/MM/DD; a midnight time \
                     ` 00:00:00` may follow)";

/// A date in any of the text forms.
pub(crate) fn parse_date(text: &str) -> Result<Date, Problem> {
    let (day, time) = match text.split_once(' ') {
        Some((day, time)) => (day, Some(time.trim_start())),
        None => (text, None),
    };
    if let Some(time) = time {
        if !is_midnight(time) {
            return Err(not_midnight(text, time));
        }
    }
    let bytes = day.as_bytes();
    let iso = match bytes.len() {
        10 if bytes[4] == b'/' && bytes[7] == b'/' => day.replace('/', "-"),
        8 if bytes.iter().all(u8::is_ascii_digit) => format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..]),
        _ if time.is_none() => return Date::parse(text).map_err(|e| bad_date(text, e)),
        _ => day.to_string(),
    };
    Date::parse(&iso).map_err(|e| bad_date(text, e))
}

/// `00:00:00`, `00:00`, with any fraction of zeros (`00:00:00.000`).
fn is_midnight(time: &str) -> bool {
    let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
    matches!(clock, "00:00:00" | "00:00") && !fraction.is_empty() && fraction.bytes().all(|b| b == b'0')
}

fn not_midnight(text: &str, time: &str) -> Problem {
    let looks_like_time =
        time.bytes().any(|b| b == b':') && time.bytes().all(|b| b.is_ascii_digit() || b":.".contains(&b));
    if looks_like_time {
        Problem::BadDate(format!(
            "{:?} has a time of day ({}): the bars must be daily, dated by their day or by midnight",
            quoted(text),
            quoted(time)
        ))
    } else {
        Problem::BadDate(format!("{:?} is not a date: {FORMS}", quoted(text)))
    }
}

/// The message of a date that does not parse, naming the forms that do.
fn bad_date(text: &str, error: DateError) -> Problem {
    match error {
        DateError::Format(_) => Problem::BadDate(format!("{:?} is not a date: {FORMS}", quoted(text))),
        DateError::Impossible(_, reason) => {
            Problem::BadDate(format!("{:?} is not a real day: {reason}; {FORMS}", quoted(text)))
        }
    }
}

/// The day `days` after 1970-01-01, refused outside years 1 to 9999.
#[cfg_attr(not(feature = "parquet"), allow(dead_code))]
pub(crate) fn from_days(days: i64) -> Result<Date, Problem> {
    let out_of_range = || Problem::BadDate(format!("day {days} after 1970-01-01 is outside years 1 to 9999"));
    if !(-719_162..=2_932_896).contains(&days) {
        return Err(out_of_range());
    }
    Ok(Date::from_days_since_epoch(days))
}

/// A timestamp of `per_day` units a day (86 400 000 for milliseconds, ...), since 1970-01-01
/// 00:00: its day, if it is at midnight. `utc` when the column is time-zone aware, for the hint.
#[cfg_attr(not(feature = "parquet"), allow(dead_code))]
pub(crate) fn from_timestamp(value: i64, per_day: i64, unit: &str, utc: bool) -> Result<Date, Problem> {
    let (days, rest) = (value.div_euclid(per_day), value.rem_euclid(per_day));
    let date = from_days(days)?;
    if rest != 0 {
        let seconds = rest / (per_day / 86_400);
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        let fraction = if rest % (per_day / 86_400) != 0 { " and a fraction" } else { "" };
        let hint = match utc {
            true => " (a time-zone-aware column is read in UTC: write naive dates, e.g. with `.dt.tz_localize(None)`)",
            false => "",
        };
        return Err(Problem::BadDate(format!(
            "timestamp {value} ({unit}) is {date} {h:02}:{m:02}:{s:02}{fraction}: the bars must be daily, dated by \
             midnight{hint}"
        )));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> String {
        parse_date(text).map(|d| d.to_string()).unwrap_or_else(|p| p.to_string())
    }

    #[test]
    fn reads_every_form_with_or_without_a_midnight_time() {
        for text in
            ["2024-01-02", "20240102", "2024/01/02", "2024-01-02 00:00:00", "20240102 00:00", "2024/01/02 00:00:00.000"]
        {
            assert_eq!(day(text), "2024-01-02", "{text}");
        }
    }

    #[test]
    fn refuses_a_time_of_day_and_names_the_forms() {
        assert_eq!(
            day("2024-01-02 09:30:00"),
            "\"2024-01-02 09:30:00\" has a time of day (09:30:00): the bars must be daily, dated by their day or by \
             midnight"
        );
        assert!(day("2024-01-02T00:00:00").starts_with("\"2024-01-02T00:00:00\" is not a date: use YYYY-MM-DD"));
        assert!(day("1/2/2023").contains("use YYYY-MM-DD, e.g. 2023-01-31 (or YYYYMMDD, or YYYY/MM/DD;"));
        assert!(day("20230230").starts_with("\"20230230\" is not a real day: that month has no such day; use"));
        assert!(day("2023-02-30").starts_with("\"2023-02-30\" is not a real day: that month has no such day"));
        assert!(day("2024-1-2").contains("is not a date"));
    }

    #[test]
    fn days_and_timestamps() {
        for date in ["1970-01-01", "1969-12-31", "2000-02-29", "2024-12-31", "0001-01-01", "9999-12-31"] {
            let d = Date::parse(date).unwrap();
            assert_eq!(from_days(d.days_since_epoch()).unwrap(), d);
        }
        assert!(from_days(2_932_897).is_err() && from_days(-719_163).is_err());
        let ns = 86_400_000_000_000;
        assert_eq!(from_timestamp(19_724 * ns, ns, "ns", false).unwrap().to_string(), "2024-01-02");
        let late = from_timestamp(19_724 * 86_400_000 + 34_200_000, 86_400_000, "ms", true).unwrap_err().to_string();
        assert!(
            late.starts_with("timestamp 1704187800000 (ms) is 2024-01-02 09:30:00: the bars must be daily"),
            "{late}"
        );
    }
}
