//! An instrument's bars written back to its CSV file after pushes, so that the file stays the
//! instrument: loadable by idc's loader (and pandas) with every acknowledged bar.
//!
//! The file is written whole beside the old one, fsynced, renamed over it, and the directory
//! fsynced: a reader (the catalog's watcher, another program) sees the old file or the new one,
//! never half of one. It is written in the canonical columns `date,open,high,low,close,volume`
//! and `adj_factor` when the instrument has factors, numbers in Rust's shortest form that reads
//! back to the same `f64`. A file that idc did not write has columns and forms of its own (a
//! tushare file's `pre_close` and `amount`, `20240102` dates): before the first rewrite it is
//! copied to `DIR/.SYMBOL.EXT.orig`, which the catalog never lists, so nothing of the user's is
//! lost.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::journal::sync_dir;
use crate::domain::catalog::Instrument;

/// The file a new instrument gets in `dir`.
pub fn new_path(dir: &Path, symbol: &str) -> PathBuf {
    dir.join(format!("{symbol}.csv"))
}

/// The copy kept of a file before idc first rewrites it.
pub fn original_copy(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.orig"))
}

/// The CSV text of `instrument`'s bars.
pub fn csv(instrument: &Instrument) -> String {
    let bars = &instrument.bars;
    let factors = (!bars.adj_factor.is_empty()).then(|| bars.adj_factor.values(bars.len()));
    let mut out = String::with_capacity(bars.len() * 64 + 64);
    out.push_str("date,open,high,low,close,volume");
    out.push_str(if factors.is_some() { ",adj_factor\n" } else { "\n" });
    for i in 0..bars.len() {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            bars.date[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]
        );
        if let Some(factors) = &factors {
            let _ = write!(out, ",{}", factors[i]);
        }
        out.push('\n');
    }
    out
}

/// Writes `instrument` to `path` atomically and durably; `ours` says whether idc wrote the file
/// there now (else its original is copied aside first, once).
pub fn write(path: &Path, instrument: &Instrument, ours: bool) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !ours && path.exists() {
        let copy = original_copy(path);
        if !copy.exists() {
            // Written beside and renamed into place: a copy cut short (a full disk) is removed
            // with its temporary file, never kept as the original (which the next write would
            // then overwrite, trusting the copy).
            let mut aside = tempfile::Builder::new().prefix(".idc-orig.").tempfile_in(dir)?;
            aside.as_file().set_permissions(std::fs::metadata(path)?.permissions())?;
            io::copy(&mut std::fs::File::open(path)?, aside.as_file_mut())?;
            aside.as_file().sync_all()?;
            aside.persist_noclobber(&copy).map_err(|e| e.error)?;
            sync_dir(dir)?;
            log::info!("kept {} as {} before writing pushed bars into it", path.display(), copy.display());
        }
    }
    let mut next = tempfile::Builder::new().prefix(".idc-write.").tempfile_in(dir)?;
    // A temporary file is private (0600); the instrument keeps the mode its file had, and a new
    // one gets the usual 0644, so that the programs that read the directory still can.
    let mode = std::fs::metadata(path).map(|m| m.permissions()).unwrap_or_else(|_| default_permissions());
    next.as_file().set_permissions(mode)?;
    next.write_all(csv(instrument).as_bytes())?;
    next.as_file().sync_all()?;
    next.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

#[cfg(unix)]
fn default_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn default_permissions() -> std::fs::Permissions {
    std::fs::metadata(".").map(|m| m.permissions()).expect("the working directory has metadata")
}
