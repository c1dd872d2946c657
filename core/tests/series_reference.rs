//! Adjusted and resampled bars against pandas (`tests/python/bars_reference.py`: Tushare's
//! qfq/hfq arithmetic, `resample("W-SUN")` and `resample("ME")`), on the seeded random walk with
//! its adj_factor column; and a range in the middle against the whole history.
//!
//! Needs `$IDC_PYTHON` (set by scripts/test.sh); under `CI=true` a missing one fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use idc_core::domain::date::{Date, DateRange};
use idc_core::domain::indicators::{Convention, Indicator};
use idc_core::domain::series::{self, AdjFactors, Adjust, BarColumns, Frequency, Labelled};

fn records(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path).unwrap().records().map(Result::unwrap).collect()
}

fn number(field: &str) -> f64 {
    field.parse().unwrap()
}

/// The random walk and pandas' adjusted and resampled versions of it.
fn reference() -> Option<(BarColumns, Vec<csv::StringRecord>)> {
    let python = common::python("pandas")?;
    // One file a call: the tests run in parallel, and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("idc-bars-reference-{}-{call}.csv", std::process::id()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/bars_reference.py");
    let status = Command::new(python).arg(script).arg(&out).status().unwrap();
    assert!(status.success(), "bars_reference.py failed");
    let bars_path = PathBuf::from(format!("{}.bars.csv", out.display()));
    let rows = records(&bars_path);
    let column = |i: usize| rows.iter().map(|r| number(&r[i])).collect::<Vec<f64>>();
    let bars = BarColumns {
        date: rows.iter().map(|r| Date::parse(&r[0]).unwrap()).collect(),
        open: column(1),
        high: column(2),
        low: column(3),
        close: column(4),
        volume: column(5),
        adj_factor: AdjFactors::from_values(column(6)),
    };
    let expected = records(&out);
    std::fs::remove_file(&out).ok();
    std::fs::remove_file(&bars_path).ok();
    Some((bars, expected))
}

#[test]
fn adjusted_weekly_and_monthly_bars_match_pandas() {
    let Some((bars, expected)) = reference() else { return };
    let mut compared = 0;
    for (adjust, adjust_name) in [(Adjust::None, "none"), (Adjust::Forward, "forward"), (Adjust::Backward, "backward")]
    {
        for (frequency, frequency_name) in
            [(Frequency::Daily, "daily"), (Frequency::Weekly, "weekly"), (Frequency::Monthly, "monthly")]
        {
            let ours = bars.adjusted(adjust).unwrap().resampled(frequency);
            let theirs: Vec<&csv::StringRecord> =
                expected.iter().filter(|r| &r[0] == adjust_name && &r[1] == frequency_name).collect();
            assert_eq!(ours.len(), theirs.len(), "{adjust_name} {frequency_name}: bar count");
            for (i, row) in theirs.iter().enumerate() {
                let what = format!("{adjust_name} {frequency_name} bar {i} ({})", &row[2]);
                assert_eq!(ours.date[i].to_string(), &row[2], "{what}: date");
                let columns = [&ours.open, &ours.high, &ours.low, &ours.close, &ours.volume];
                for (k, column) in columns.iter().enumerate() {
                    assert!(
                        common::close_to(column[i], number(&row[3 + k])),
                        "{what}: column {k}: {} vs {}",
                        column[i],
                        &row[3 + k]
                    );
                }
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 9);
}

#[test]
fn a_range_in_the_middle_has_the_values_of_the_whole_history() {
    let Some((bars, _)) = reference() else { return };
    let indicators: Vec<Labelled> = ["MACD", "KDJ", "RSI", "BOLL", "DMI", "TRIX", "OBV"]
        .iter()
        .flat_map(|name| {
            [Convention::Cn, Convention::Talib].map(|convention| {
                let indicator = Indicator::new(name, &[], convention).unwrap();
                Labelled { label: format!("{}/{convention}", indicator.label()), indicator }
            })
        })
        .collect();
    for frequency in [Frequency::Daily, Frequency::Weekly, Frequency::Monthly] {
        let all = series::compute(&bars, Adjust::Forward, frequency, &indicators, DateRange::default()).unwrap();
        let range = DateRange::parse("2013-03-01", "2016-06-30").unwrap();
        let part = series::compute(&bars, Adjust::Forward, frequency, &indicators, range).unwrap();
        let offset = all.bars.date.iter().position(|d| *d == part.bars.date[0]).unwrap();
        assert!(part.bars.len() > 10 && offset > 0, "{frequency}: a real middle range");
        assert_eq!(part.bars.date[..], all.bars.date[offset..offset + part.bars.len()]);
        for ((name, values), (all_name, all_values)) in part.columns.iter().zip(&all.columns) {
            assert_eq!(name, all_name);
            let same = values.iter().zip(&all_values[offset..]).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{frequency} {name}: a range in the middle gives the whole history's values");
        }
    }
}

#[test]
fn adjusting_without_factors_is_refused() {
    let bars = BarColumns { date: vec![Date::parse("2024-01-02").unwrap()], open: vec![1.0], ..Default::default() };
    assert!(bars.adjusted(Adjust::Forward).is_err());
    assert!(bars.adjusted(Adjust::None).is_ok());
}
