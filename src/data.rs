//! What a [`Config`] names on disk: the bars of `--data` (a CSV file or the embedded sample) with
//! their MACD, and the one chart file that `--render-chart` writes.
//!
//! The domain parses and computes; this module only reads the files and names them in errors, so
//! that every message carries the path the user gave.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, DataSource};
use crate::domain::analysis::Analysis;
use crate::domain::bar::{parse_csv_with, BarsError};
use crate::domain::chart::{self, ChartError};
use crate::domain::date::{DateRange, RangeError};
use crate::domain::macd::ParamsError;
use crate::domain::{plural, sample};
use crate::output::OutputFile;

/// The data could not be loaded, or the chart not written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read --data {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: std::io::Error },
    #[error(transparent)]
    Bars(#[from] BarsError),
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("no chart {}: {reason}", chart_span(.range))]
    Chart { range: DateRange, reason: String },
    #[error("cannot write {}: {reason}", .path.display())]
    Write { path: PathBuf, reason: std::io::Error },
}

/// The range a chart was asked for, as it reads after "no chart": `for 2018-01-02 to 2018-12-31`,
/// `from 2030-01-01 on`, `up to 1998-12-31`, `for all dates`. [`DateRange`]'s own form (`from
/// 2030-01-01`) would read "no chart for from 2030-01-01".
fn chart_span(range: &DateRange) -> String {
    match (range.start, range.end) {
        (Some(start), None) => format!("from {start} on"),
        (None, Some(end)) => format!("up to {end}"),
        _ => format!("for {range}"),
    }
}

/// Loads the bars `source` names and computes their MACD with the config's parameters.
pub fn load(source: &DataSource, config: &Config) -> Result<Analysis, DataError> {
    let started = std::time::Instant::now();
    let (mut bars, default_name) = match source {
        DataSource::Sample => (sample::bars()?, sample::INSTRUMENT.to_string()),
        DataSource::Csv(path) => {
            let bytes = std::fs::read(path).map_err(|reason| DataError::Read { path: path.clone(), reason })?;
            let name = path.display().to_string();
            let stem = path.file_stem().map_or_else(|| name.clone(), |s| s.to_string_lossy().into_owned());
            (parse_csv_with(&name, &bytes, config.data.csv_delimiter)?, stem)
        }
    };
    // The loader's vector grew by doubling; a million bars would keep room for 48,576 more.
    bars.shrink_to_fit();
    let parsed = started.elapsed();
    let instrument = config.data.instrument.clone().unwrap_or(default_name);
    let analysis = Analysis::new(instrument, bars, config.data.macd(), config.data.convention)?;
    let computed = started.elapsed() - parsed;
    give_back_freed_memory();
    if let Some((first, last)) = analysis.span() {
        let count = analysis.window(DateRange::default()).bars.len();
        // The timings let an operator (and the benchmark) see what start-up costs as data grows.
        log::info!(
            "loaded {}: {} from {first} to {last}; read and parsed in {:.1} ms, MACD computed in {:.1} ms",
            analysis.instrument(),
            plural(count, "bar"),
            parsed.as_secs_f64() * 1e3,
            computed.as_secs_f64() * 1e3
        );
    }
    Ok(analysis)
}

/// The analysis data mode serves, or `None` in parity mode.
pub fn load_for(config: &Config) -> Result<Option<Arc<Analysis>>, DataError> {
    config.data.source.as_ref().map(|source| load(source, config).map(Arc::new)).transpose()
}

/// Writes the chart of `start..=end` (empty: open ends) to `out`, from `--data` or the sample,
/// and returns its size in bytes. `out` follows [`OutputFile`]'s rules: `-` is stdout.
pub fn render_chart_file(config: &Config, start: &str, end: &str, out: &Path) -> Result<usize, DataError> {
    let analysis = load(config.data.source.as_ref().unwrap_or(&DataSource::Sample), config)?;
    let range = DateRange::parse(start, end)?;
    let png = chart::render(&analysis, range, config.chart.chart_size).map_err(|e| DataError::Chart {
        range,
        reason: match e {
            ChartError::Empty => analysis.no_bars_reason(range),
            other => other.to_string(),
        },
    })?;
    OutputFile::write_for(out, "--render-chart", &png)
        .map_err(|reason| DataError::Write { path: out.to_path_buf(), reason })?;
    Ok(png.len())
}

/// Returns to the system what loading freed: the CSV's bytes and the parser's and the MACD's
/// temporaries, tens of MB for a million bars. glibc keeps freed memory in its heap for reuse,
/// so without this the server's resident memory would stay at its start-up peak for its whole
/// life; the server allocates little afterwards.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's heaps; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_error_reads_well_for_every_kind_of_range() {
        let message = |start: &str, end: &str| {
            let range = DateRange::parse(start, end).unwrap();
            DataError::Chart { range, reason: "why".into() }.to_string()
        };
        assert_eq!(message("2018-01-02", "2018-12-31"), "no chart for 2018-01-02 to 2018-12-31: why");
        assert_eq!(message("2030-01-01", ""), "no chart from 2030-01-01 on: why");
        assert_eq!(message("", "1998-12-31"), "no chart up to 1998-12-31: why");
        assert_eq!(message("", ""), "no chart for all dates: why");
    }

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let config = Config::default();
        let e = load(&DataSource::Csv("no/such/prices.csv".into()), &config).unwrap_err().to_string();
        assert!(e.contains("no/such/prices.csv"), "{e}");
    }
}
