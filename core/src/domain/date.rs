//! Calendar dates (`YYYY-MM-DD`) and inclusive date ranges, as trading data and requests use them.
//!
//! Only what the service needs: strict parsing (so `2023-02-30` is an error, not March 2nd),
//! ordering, and display. No time zones: a trading day is a label, not an instant.

use std::fmt;

/// A day of the proleptic Gregorian calendar, years 1 to 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    // Field order gives the derived ordering: year, then month, then day.
    year: u16,
    month: u8,
    day: u8,
}

/// Why a text is not a date. The text is quoted back (cut short if long, since the message
/// travels in a gRPC status, whose size is limited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("{0:?} is not a date: use YYYY-MM-DD, e.g. 2023-01-31")]
    Format(String),
    #[error("{0:?} is not a real day: {1}; use YYYY-MM-DD, e.g. 2023-01-31")]
    Impossible(String, &'static str),
}

/// At most this many characters of a bad input are quoted back.
const QUOTED_CHARS: usize = 32;

fn quoted(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

impl Date {
    /// The date, if it exists.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let valid =
            (1..=9999).contains(&year) && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        valid.then_some(Date { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD` (four, two and two ASCII digits).
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let format_error = || DateError::Format(quoted(text));
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(format_error());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, DateError> {
            let part = &bytes[range];
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(format_error());
            }
            Ok(part.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        if year == 0 {
            return Err(DateError::Impossible(quoted(text), "years start at 0001"));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::Impossible(quoted(text), "the month must be 01 to 12"));
        }
        let (month, day) = (month as u8, day as u8);
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateError::Impossible(quoted(text), "that month has no such day"));
        }
        Ok(Date { year, month, day })
    }

    /// `YYYY-MM-DD` as bytes, without going through a formatter: replies write one per row.
    pub fn iso_bytes(self) -> [u8; 10] {
        let digit = |n: u16| b'0' + (n % 10) as u8;
        let (y, m, d) = (self.year, u16::from(self.month), u16::from(self.day));
        [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ]
    }
}

impl Date {
    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before), by the civil-calendar arithmetic of Howard
    /// Hinnant's `days_from_civil`: weekly bars need the weekday and the ISO week.
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let year_of_era = y - era * 400;
        let day_of_year = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The ISO week: (ISO year, week 1 to 53). Weeks run Monday to Sunday, and week 1 is the one
    /// with the year's first Thursday.
    pub fn iso_week(self) -> (i64, i64) {
        let days = self.days_since_epoch();
        // 1970-01-01 was a Thursday: weekday 0 is Monday.
        let weekday = (days + 3).rem_euclid(7);
        let thursday = days - weekday + 3;
        let year = i64::from(Date::from_days(thursday).year);
        let jan1 = Date { year: year as u16, month: 1, day: 1 }.days_since_epoch();
        (year, (thursday - jan1) / 7 + 1)
    }

    /// The date `days` after 1970-01-01, for days within years 1 to 9999.
    pub fn from_days_since_epoch(days: i64) -> Date {
        Date::from_days(days)
    }

    /// The date `days` after 1970-01-01 (Hinnant's `civil_from_days`), within years 1 to 9999.
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (year_of_era + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }
}

fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// `YYYY-MM-DD`, as [`fmt::Display`] writes it. Written digit by digit: `Compute` writes one
    /// a bar, and through `core::fmt`'s padded integers a date cost about 70 ns, as much as the
    /// four indicators of a typical request together.
    pub fn iso(&self) -> String {
        match self.year {
            0..=9999 => String::from(std::str::from_utf8(&self.iso_bytes()).expect("ASCII digits and dashes")),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.year {
            0..=9999 => f.write_str(std::str::from_utf8(&self.iso_bytes()).expect("ASCII digits and dashes")),
            _ => write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day),
        }
    }
}

/// An inclusive range of days; an open end means "from the first bar" or "to the last bar".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    pub start: Option<Date>,
    pub end: Option<Date>,
}

/// Why a pair of texts is not a date range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("start_date: {0}")]
    Start(DateError),
    #[error("end_date: {0}")]
    End(DateError),
    #[error(
        "start_date {start} is after end_date {end}: give start_date <= end_date, both YYYY-MM-DD, or leave one \
         empty for an open end"
    )]
    Reversed { start: Date, end: Date },
}

impl DateRange {
    /// Parses a request's `start_date` and `end_date`; an empty text is an open end.
    pub fn parse(start: &str, end: &str) -> Result<DateRange, RangeError> {
        let optional = |text: &str| (!text.is_empty()).then(|| Date::parse(text)).transpose();
        let start = optional(start).map_err(RangeError::Start)?;
        let end = optional(end).map_err(RangeError::End)?;
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(RangeError::Reversed { start, end });
            }
        }
        Ok(DateRange { start, end })
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.start, self.end) {
            (Some(s), Some(e)) => write!(f, "{s} to {e}"),
            (Some(s), None) => write!(f, "from {s}"),
            (None, Some(e)) => write!(f, "up to {e}"),
            (None, None) => write!(f, "all dates"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_is_the_padded_format() {
        for days in (-800_000..3_000_000).step_by(997) {
            let date = Date::from_days_since_epoch(days);
            let padded = format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day());
            assert_eq!((date.iso(), date.to_string()), (padded.clone(), padded));
        }
    }

    use super::*;

    #[test]
    fn iso_bytes_are_the_displayed_form() {
        for date in [Date::new(1, 1, 1), Date::new(999, 9, 30), Date::new(2024, 2, 29), Date::new(9999, 12, 31)] {
            let date = date.unwrap();
            assert_eq!(date.iso_bytes(), date.to_string().as_bytes());
        }
    }

    #[test]
    fn parses_real_days_only() {
        assert_eq!(Date::parse("2024-02-29").unwrap(), Date::new(2024, 2, 29).unwrap());
        assert_eq!(Date::parse("2000-02-29").unwrap().to_string(), "2000-02-29");
        assert!(matches!(Date::parse("2023-02-29"), Err(DateError::Impossible(..))));
        assert!(matches!(Date::parse("1900-02-29"), Err(DateError::Impossible(..))));
        assert!(matches!(Date::parse("2023-02-30"), Err(DateError::Impossible(..))));
        assert!(matches!(Date::parse("2023-13-01"), Err(DateError::Impossible(..))));
        assert!(matches!(Date::parse("2023-04-31"), Err(DateError::Impossible(..))));
        assert!(matches!(Date::parse("0000-01-01"), Err(DateError::Impossible(..))));
        for bad in ["2023-1-01", "2023/01/01", "20230101", "2023-01-01 ", "２０２３-01-01", "", "+023-01-01"] {
            assert!(matches!(Date::parse(bad), Err(DateError::Format(_))), "{bad:?}");
        }
    }

    #[test]
    fn messages_show_the_expected_form_and_quote_at_most_a_little() {
        for bad in ["01/02/2023", "2023-02-30"] {
            let e = Date::parse(bad).unwrap_err().to_string();
            assert!(e.contains("YYYY-MM-DD") && e.contains(bad), "{e}");
        }
        let long = "9".repeat(100_000);
        let e = Date::parse(&long).unwrap_err().to_string();
        assert!(e.len() < 120, "{} bytes", e.len());
        assert!(e.contains(&format!("{}…", "9".repeat(32))), "{e}");
    }

    #[test]
    fn ranges_have_open_ends_and_refuse_reversal() {
        let r = DateRange::parse("", "2020-01-31").unwrap();
        assert_eq!(r, DateRange { start: None, end: Date::new(2020, 1, 31) });
        assert_eq!(DateRange::parse("", "").unwrap(), DateRange::default());
        let reversed = DateRange::parse("2020-02-01", "2020-01-31").unwrap_err();
        assert!(matches!(reversed, RangeError::Reversed { .. }));
        assert!(reversed.to_string().contains("YYYY-MM-DD"), "{reversed}");
        assert!(matches!(DateRange::parse("2020-02-30", ""), Err(RangeError::Start(_))));
        assert!(matches!(DateRange::parse("", "x"), Err(RangeError::End(_))));
    }
}
