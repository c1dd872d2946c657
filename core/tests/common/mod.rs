//! What idc-core's reference tests share: the Python that has the references, and the agreement
//! rule of the v2 issue.

use std::path::PathBuf;

/// `$IDC_PYTHON`, the venv that scripts/test.sh fills with `needs`. Under `CI=true` a missing one
/// fails the test; elsewhere the test says so and compares nothing.
#[allow(dead_code)] // not every test file runs Python
pub fn python(needs: &str) -> Option<PathBuf> {
    match std::env::var_os("IDC_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("IDC_PYTHON is not set: run the tests with scripts/test.sh, which installs {needs}")
        }
        None => {
            eprintln!("IDC_PYTHON is not set: skipping the comparison with {needs} (scripts/test.sh sets it)");
            None
        }
    }
}

/// Within 1e-9 relative of `theirs`, or 1e-9 absolute where `theirs` is within 1 of zero.
#[allow(dead_code)] // not every test file compares floats
pub fn close_to(ours: f64, theirs: f64) -> bool {
    let tolerance = if theirs.abs() < 1.0 { 1e-9 } else { 1e-9 * theirs.abs() };
    (ours - theirs).abs() <= tolerance
}
