//! Date ticks of the v2 chart on period starts: the first bar of each week, month, quarter,
//! half-year or run of years, at the finest of these whose labels fit the plot, so a tick always
//! means "a new month starts here" rather than "every 36th bar".
//!
//! Bars are spaced evenly by index, not by time, so "fit" is measured between the ticks
//! themselves: two neighbouring labels must be at least a label and a gap apart.

use super::text;
use crate::domain::date::Date;
use crate::domain::series::Frequency;

/// A kind of period, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Period {
    Day,
    Week,
    /// Runs of this many months (1, 3, 6).
    Months(u8),
    /// Runs of this many years, aligned on multiples of it (2020, 2025, ...).
    Years(u16),
}

const PERIODS: &[Period] = &[
    Period::Day,
    Period::Week,
    Period::Months(1),
    Period::Months(3),
    Period::Months(6),
    Period::Years(1),
    Period::Years(2),
    Period::Years(5),
    Period::Years(10),
    Period::Years(20),
    Period::Years(50),
    Period::Years(100),
];

impl Period {
    /// Periods shorter than a bar mean nothing: weekly bars have no day ticks.
    fn applies(self, frequency: Frequency) -> bool {
        match (self, frequency) {
            (Period::Day, Frequency::Daily) => true,
            (Period::Day, _) => false,
            (Period::Week, Frequency::Monthly) => false,
            _ => true,
        }
    }

    /// Which period `date` is in.
    fn key(self, date: Date) -> i64 {
        let (year, month) = (i64::from(date.year()), i64::from(date.month()) - 1);
        match self {
            Period::Day => date.days_since_epoch(),
            Period::Week => {
                let (y, w) = date.iso_week();
                y * 100 + w
            }
            Period::Months(k) => (year * 12 + month) / i64::from(k),
            Period::Years(k) => year / i64::from(k),
        }
    }

    /// Whether the first bar shown, dated `date`, starts its period. Nothing before it is known,
    /// so a bar within the period's first week counts (a month's first trading day can be the
    /// 4th), and a monthly bar, dated by its last day, stands for its whole month.
    fn starts_at(self, date: Date, frequency: Frequency) -> bool {
        let early = frequency == Frequency::Monthly || date.day() <= 7;
        let (year, month) = (date.year(), date.month());
        match self {
            Period::Day => true,
            // 1970-01-01 was a Thursday: Monday is 4 days after it, modulo 7.
            Period::Week => frequency == Frequency::Weekly || (date.days_since_epoch() - 4).rem_euclid(7) == 0,
            Period::Months(k) => early && (month - 1) % k == 0,
            Period::Years(k) => early && month == 1 && year % k == 0,
        }
    }

    fn label(self, date: Date) -> String {
        match self {
            Period::Day | Period::Week => date.to_string(),
            Period::Months(_) => format!("{:04}-{:02}", date.year(), date.month()),
            Period::Years(_) => format!("{:04}", date.year()),
        }
    }
}

/// The bars of `dates` that start a period of `period`, with their labels.
fn starts(dates: &[Date], period: Period, frequency: Frequency) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, &date) in dates.iter().enumerate() {
        let new = match i {
            0 => period.starts_at(date, frequency),
            _ => period.key(dates[i - 1]) != period.key(date),
        };
        if new {
            out.push((i, period.label(date)));
        }
    }
    out
}

/// Date ticks for `dates` (bars at x = 0, 1, ...) across a plot `plot_width` pixels wide, labels
/// at `size` at least `gap` pixels apart: (bar index, label) on the starts of the finest period
/// that fits. When no period starts within the bars (a few days mid-month), the first bar with
/// its date.
pub(super) fn period_ticks(
    dates: &[Date],
    frequency: Frequency,
    plot_width: i32,
    gap: i32,
    size: f64,
) -> Vec<(usize, String)> {
    if dates.is_empty() {
        return Vec::new();
    }
    let per_bar = f64::from(plot_width.max(1)) / dates.len() as f64;
    let fits = |ticks: &[(usize, String)]| {
        ticks.windows(2).all(|pair| {
            let apart = (pair[1].0 - pair[0].0) as f64 * per_bar;
            let half_widths = (text::width(&pair[0].1, size) + text::width(&pair[1].1, size)) / 2;
            apart >= f64::from(half_widths + gap)
        })
    };
    for &period in PERIODS.iter().filter(|p| p.applies(frequency)) {
        let ticks = starts(dates, period, frequency);
        if !ticks.is_empty() && fits(&ticks) {
            return ticks;
        }
    }
    vec![(0, dates[0].to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(from: &str, count: usize) -> Vec<Date> {
        // Weekdays only, as an exchange trades.
        let start = Date::parse(from).unwrap();
        let (mut y, mut m, mut d) = (start.year(), start.month(), start.day());
        let mut out = Vec::new();
        while out.len() < count {
            match Date::new(y, m, d) {
                Some(date) => {
                    if (date.days_since_epoch() - 4).rem_euclid(7) < 5 {
                        out.push(date);
                    }
                    d += 1;
                }
                None if m == 12 => (y, m, d) = (y + 1, 1, 1),
                None => (m, d) = (m + 1, 1),
            }
        }
        out
    }

    #[test]
    fn ticks_fall_on_the_finest_period_starts_that_fit() {
        text::load_fonts();
        let year = days("2018-01-01", 261);
        let quarters = period_ticks(&year, Frequency::Daily, 1100, 70, 13.0);
        let labels: Vec<&str> = quarters.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["2018-01", "2018-04", "2018-07", "2018-10"], "{quarters:?}");
        for (i, _) in &quarters {
            assert!(year[*i].day() <= 3, "{:?} starts its month", year[*i]);
        }
        let wide = period_ticks(&year, Frequency::Daily, 4000, 20, 13.0);
        assert_eq!(wide.len(), 12, "every month at 4000 px: {wide:?}");
        // Twenty years of bars: years, every so many.
        let long = days("1999-01-04", 5200);
        let ticks = period_ticks(&long, Frequency::Daily, 1100, 70, 13.0);
        assert!(ticks.iter().all(|(i, l)| l.len() == 4 && long[*i].month() == 1), "{ticks:?}");
        assert!(ticks.len() >= 4, "{ticks:?}");
        // Mid-month, a few days: each day when there is room, else the week's start, else the
        // first bar alone.
        let few = days("2018-03-14", 3);
        let each: Vec<usize> = period_ticks(&few, Frequency::Daily, 1100, 70, 13.0).iter().map(|t| t.0).collect();
        assert_eq!(each, [0, 1, 2]);
        let week = days("2018-03-14", 8);
        assert_eq!(period_ticks(&week, Frequency::Daily, 300, 70, 13.0), [(3, "2018-03-19".to_string())]);
        assert_eq!(period_ticks(&few, Frequency::Daily, 100, 70, 13.0), [(0, "2018-03-14".to_string())]);
    }
}
