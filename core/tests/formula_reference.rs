//! Every formula of the corpus (`tests/formulas/corpus.json`: MyTT 2.9.3's indicator definitions
//! rewritten as 通达信 formulas, and conditions over each function of the language) against MyTT
//! evaluating the same computation in Python (`tests/python/formula_reference.py`, `RD` patched to
//! the identity, division by zero NaN as the language has it), on the two sample instruments and
//! on the seeded 3,000-bar random walk with a run of unchanged bars. Each formula compiles in the
//! cn convention, has the corpus's output lines in order (names compared ignoring case), and at
//! every bar agrees with the reference to 1e-9 relative (1e-9 absolute where the reference is
//! within 1 of zero); where the reference has NaN or ±inf, so must ours.
//!
//! The Python interpreter is `$IDC_PYTHON` (scripts/test.sh sets it to the venv that has MyTT and
//! pandas). Without it the test fails under `CI=true` and says how to run it otherwise; it never
//! passes without comparing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use idc_core::domain::formula::Program;
use idc_core::domain::indicators::{Convention, Prices};

/// The corpus has at least this many formulas (the acceptance).
const MIN_FORMULAS: usize = 30;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

struct Reference {
    /// The values table: its header and its columns.
    header: Vec<String>,
    columns: Vec<Vec<f64>>,
    /// The corpus as the script read it: name, formula text, output names.
    formulas: Vec<(String, String, Vec<String>)>,
}

fn tempfile_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("idc-formulas-{}-{name}.csv", std::process::id()))
}

/// Runs the reference script; `None` when there is no Python and this is not CI.
fn reference(args: &[&str]) -> Option<Reference> {
    let python = common::python("MyTT and pandas")?;
    let tag = args.join("_").replace(['/', '.'], "_");
    let out = tempfile_path(&tag);
    let formulas_out = tempfile_path(&format!("{tag}-formulas"));
    let status = Command::new(python)
        .arg(repo_root().join("tests/python/formula_reference.py"))
        .arg("--formulas")
        .arg(&formulas_out)
        .args(args)
        .arg(&out)
        .status()
        .expect("the Python interpreter runs");
    assert!(status.success(), "formula_reference.py {args:?} failed");

    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let mut columns = vec![Vec::new(); header.len()];
    for record in reader.records() {
        for (column, field) in columns.iter_mut().zip(record.unwrap().iter()) {
            column.push(parse(field));
        }
    }
    let mut reader = csv::Reader::from_path(&formulas_out).unwrap();
    let formulas = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let outputs = record[2].split_whitespace().map(String::from).collect();
            (record[0].to_string(), record[1].to_string(), outputs)
        })
        .collect();
    std::fs::remove_file(&out).ok();
    std::fs::remove_file(&formulas_out).ok();
    Some(Reference { header, columns, formulas })
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

/// Compiles and computes every formula and compares every output column with the reference.
fn check(instrument: &str, args: &[&str]) {
    let Some(reference) = reference(args) else { return };
    let Reference { header, columns, formulas } = &reference;
    let column = |key: &str| -> &[f64] {
        &columns[header.iter().position(|h| h == key).unwrap_or_else(|| panic!("{instrument}: no column {key}"))]
    };
    let prices = Prices {
        open: column("open"),
        high: column("high"),
        low: column("low"),
        close: column("close"),
        volume: column("volume"),
        adj_factor: &[],
    };
    let bars = prices.close.len();
    assert!(formulas.len() >= MIN_FORMULAS, "the corpus has {} formulas, fewer than {MIN_FORMULAS}", formulas.len());

    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, text, outputs) in formulas {
        let program = match Program::compile(text, Convention::Cn) {
            Ok(program) => program,
            Err(e) => {
                failures.push(format!("{instrument} {name}: does not compile: {e}\n  {text}"));
                continue;
            }
        };
        let names = program.output_names();
        let same_names = names.len() == outputs.len()
            && names.iter().zip(outputs).all(|(ours, theirs)| ours.eq_ignore_ascii_case(theirs));
        if !same_names || program.outputs() != outputs.len() {
            failures.push(format!("{instrument} {name}: outputs {names:?}, the corpus has {outputs:?}"));
            continue;
        }
        let values = program.compute(&prices);
        assert_eq!(values.len(), outputs.len(), "{name}: one column per output");
        for (output, ours) in outputs.iter().zip(&values) {
            let theirs = column(&format!("{name}|{output}"));
            if ours.len() != bars {
                failures.push(format!("{instrument} {name}.{output}: {} values for {bars} bars", ours.len()));
                continue;
            }
            let bad: Vec<usize> = (0..bars).filter(|&i| !agrees(ours[i], theirs[i])).collect();
            if let Some(&first) = bad.first() {
                failures.push(format!(
                    "{instrument} {name}.{output}: {} bars differ, the first at bar {first}: ours {} MyTT {}",
                    bad.len(),
                    ours[first],
                    theirs[first]
                ));
            }
            compared += 1;
        }
    }
    assert!(failures.is_empty(), "{} formula outputs differ:\n{}", failures.len(), failures.join("\n"));
    let expected: usize = formulas.iter().map(|f| f.2.len()).sum();
    assert_eq!(compared, expected, "{instrument}: every output of every formula was compared");
    assert_eq!(header.iter().filter(|h| h.contains('|')).count(), expected, "every reference column is an output");
}

#[test]
fn every_formula_matches_mytt_on_the_sp500_sample() {
    let path = repo_root().join("data/sp500.csv");
    check("sp500", &[path.to_str().unwrap()]);
}

#[test]
fn every_formula_matches_mytt_on_the_aapl_sample() {
    let path = repo_root().join("data/aapl.csv");
    check("aapl", &[path.to_str().unwrap()]);
}

#[test]
fn every_formula_matches_mytt_on_a_random_walk_with_a_flat_run() {
    check("random walk", &["--random-walk"]);
}
