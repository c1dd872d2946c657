//! Every built-in indicator in both conventions against its reference: MyTT 2.9.3 (cn, `RD`
//! patched to the identity) and TA-Lib 0.8 (talib), run by `tests/python/indicators_reference.py`
//! on the two sample instruments and on a seeded 3,000-bar random walk with a run of unchanged
//! bars. At every bar the reference has a value ours must agree to 1e-9 relative (1e-9 absolute
//! where the reference is within 1 of zero); where it has NaN or ±inf, so must ours. Where ours
//! computes as the reference does ([`exact`]), every bar is the reference's bits.
//!
//! The Python interpreter is `$IDC_PYTHON` (scripts/test.sh sets it to the venv that has MyTT,
//! TA-Lib and pandas). Without it the test fails under `CI=true` and says how to run it otherwise;
//! it never passes without comparing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use idc_core::domain::indicators::{parse_spec, Convention, Indicator, Prices};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Runs the reference script and returns its table: the header and the columns.
fn reference(args: &[&str]) -> Option<(Vec<String>, Vec<Vec<f64>>)> {
    let python = common::python("MyTT and TA-Lib")?;
    let out = tempfile_path(&args.join("_").replace(['/', '.'], "_"));
    let status = Command::new(python)
        .arg(repo_root().join("tests/python/indicators_reference.py"))
        .args(args)
        .arg(&out)
        .status()
        .expect("the Python interpreter runs");
    assert!(status.success(), "indicators_reference.py {args:?} failed");
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut columns = vec![Vec::new(); header.len()];
    for record in reader.records() {
        for (column, field) in columns.iter_mut().zip(record.unwrap().iter()) {
            column.push(parse(field));
        }
    }
    std::fs::remove_file(&out).ok();
    Some((header, columns))
}

fn tempfile_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("idc-indicators-{}-{name}.csv", std::process::id()))
}

/// pandas writes NaN as an empty field and infinities as `inf`/`-inf`; the date column is not
/// a number and reads as NaN (it is not compared).
fn parse(field: &str) -> f64 {
    match field {
        "" => f64::NAN,
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

fn agrees(ours: f64, theirs: f64) -> bool {
    if theirs.is_nan() || theirs.is_infinite() {
        return ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan());
    }
    common::close_to(ours, theirs)
}

/// Whether TA-Lib's library runs its FMA clones here (x86-64 with FMA).
fn talib_fuses() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Where ours computes as the reference does, so that its bits are the reference's, not only
/// within 1e-9 (tests/v2_compute.rs says why for each): MyTT's CCI; TA-Lib's EMAs where it fuses;
/// every other TA-Lib function here on x86-64 (its C library 0.6's loops). The random walk's flat
/// run takes their tolerance branches (a flat window, a zero deviation or variance, MFI's sums
/// started again after a window without a flow).
fn exact(convention: Convention, spec: &str) -> bool {
    let any = |names: &[&str]| names.iter().any(|n| spec.starts_with(n));
    match convention {
        Convention::Cn => any(&["CCI"]),
        Convention::Talib if any(&["EMA", "MACD", "TRIX"]) => talib_fuses(),
        Convention::Talib => {
            cfg!(target_arch = "x86_64")
                && any(&["MA(", "RSI", "ATR", "WR", "KDJ", "CCI", "BOLL", "DMI", "OBV", "MFI", "ROC", "MTM"])
        }
    }
}

/// Compares every reference column; returns how many columns were compared.
fn compare(name: &str, header: &[String], columns: &[Vec<f64>]) -> usize {
    let column = |key: &str| &columns[header.iter().position(|h| h == key).unwrap_or_else(|| panic!("no {key}"))];
    let prices = Prices {
        open: column("open"),
        high: column("high"),
        low: column("low"),
        close: column("close"),
        volume: column("volume"),
        adj_factor: &[],
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    for (key, theirs) in header.iter().zip(columns) {
        let parts: Vec<&str> = key.split('|').collect();
        let [convention, spec, output] = parts[..] else { continue };
        let convention: Convention = convention.parse().unwrap();
        let (indicator_name, params) = parse_spec(spec).unwrap();
        let indicator = Indicator::new(&indicator_name, &params, convention).unwrap();
        assert_eq!(indicator.label(), spec, "the canonical label");
        let index = indicator.output_names().iter().position(|o| *o == output).unwrap();
        let ours = &indicator.compute(&prices)[index];
        let bad: Vec<usize> = (0..theirs.len()).filter(|&i| !agrees(ours[i], theirs[i])).collect();
        if let Some(&first) = bad.first() {
            failures.push(format!(
                "{name} {key}: {} bars differ, the first at bar {first}: ours {} reference {}",
                bad.len(),
                ours[first],
                theirs[first]
            ));
        } else if exact(convention, spec) {
            let inexact: Vec<usize> = (0..theirs.len())
                .filter(|&i| !theirs[i].is_nan() && ours[i].to_bits() != theirs[i].to_bits())
                .collect();
            if let Some(&first) = inexact.first() {
                failures.push(format!(
                    "{name} {key}: {} bars are not the reference's bits, the first at bar {first}: ours {:e} reference {:e}",
                    inexact.len(),
                    ours[first],
                    theirs[first]
                ));
            }
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{} columns differ:\n{}", failures.len(), failures.join("\n"));
    compared
}

fn check(name: &str, args: &[&str]) {
    let Some((header, columns)) = reference(args) else { return };
    let compared = compare(name, &header, &columns);
    // 38 specs, 64 outputs, in two conventions: every one was compared.
    assert_eq!(compared, 2 * 64, "{name}: every reference column was compared");
}

#[test]
fn every_indicator_matches_mytt_and_talib_on_the_sp500_sample() {
    let path = repo_root().join("data/sp500.csv");
    check("sp500", &[path.to_str().unwrap()]);
}

#[test]
fn every_indicator_matches_mytt_and_talib_on_the_aapl_sample() {
    let path = repo_root().join("data/aapl.csv");
    check("aapl", &[path.to_str().unwrap()]);
}

#[test]
fn every_indicator_matches_mytt_and_talib_on_a_random_walk_with_a_flat_run() {
    check("random walk", &["--random-walk"]);
}
