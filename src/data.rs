//! What a [`Config`] names on disk for the article's services: which instrument of the catalog
//! they serve (`--instrument`), its MACD, and the one chart file that `--render-chart` writes.
//!
//! The domain parses and computes; this module only reads the files and names them in errors, so
//! that every message carries the path the user gave.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::{self, CatalogError, Source};
use crate::config::{Config, DataSource};
use crate::domain::analysis::Analysis;
use crate::domain::bar::BarsError;
use crate::domain::catalog::{Catalog, Instrument};
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
    #[error(transparent)]
    Catalog(CatalogError),
    #[error("--data has no instruments")]
    NoInstruments,
    #[error("--instrument {symbol}: no such symbol in --data; it has {known}")]
    UnknownInstrument { symbol: String, known: String },
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

/// The catalog `--data` names (the embedded sample without it), as start-up loads it.
pub fn catalog_source(config: &Config) -> Source {
    match &config.data.source {
        None | Some(DataSource::Sample) => Source::Sample,
        Some(DataSource::Csv(path)) => Source::parse(&path.to_string_lossy()),
        Some(DataSource::Postgres(url)) => Source::Postgres(url.clone()),
    }
}

/// A catalog error, with `--data` named when it is the path the user gave that cannot be read.
pub fn catalog_error(config: &Config, error: CatalogError) -> DataError {
    match error {
        CatalogError::Read { path, reason } if config.data.source == Some(DataSource::Csv(path.clone())) => {
            DataError::Read { path, reason }
        }
        other => DataError::Catalog(other),
    }
}

/// The instrument the article's services serve: `--instrument SYMBOL`, by default the sample's
/// S&P 500 or else the first in symbol order; and the name its charts are titled with. A
/// one-file catalog keeps `--instrument` as the title when it is no symbol, as it always was.
fn pick<'a>(config: &Config, catalog: &'a Catalog) -> Result<(&'a Arc<Instrument>, String), DataError> {
    let asked = config.data.instrument.as_deref();
    if let Some(instrument) = asked.and_then(|symbol| catalog.get(symbol)) {
        return Ok((instrument, instrument.name.clone()));
    }
    let default = catalog.get(sample::SYMBOL).filter(|_| catalog_source(config) == Source::Sample);
    let first = default.or_else(|| catalog.iter().next()).ok_or(DataError::NoInstruments)?;
    match asked {
        None => Ok((first, first.name.clone())),
        Some(name) if catalog.len() == 1 => Ok((first, name.to_string())),
        Some(symbol) => Err(DataError::UnknownInstrument {
            symbol: symbol.to_string(),
            known: catalog.iter().map(|i| i.symbol.clone()).take(20).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// The article's data mode over one instrument of `catalog`: its bars and their MACD with the
/// config's parameters.
pub fn analysis(config: &Config, catalog: &Catalog) -> Result<Analysis, DataError> {
    let started = std::time::Instant::now();
    let (instrument, name) = pick(config, catalog)?;
    // The catalog's bars themselves: the article's services and v2 share one copy.
    let analysis = Analysis::over(name, Arc::clone(instrument), config.data.macd(), config.data.convention)?;
    give_back_freed_memory();
    if let Some((first, last)) = analysis.span() {
        let count = analysis.window(DateRange::default()).bars.len();
        // The timing lets an operator (and the benchmark) see what start-up costs as data grows.
        log::info!(
            "GetMACD and GetMACDGraph serve {} ({}): {} from {first} to {last}; MACD computed in {:.1} ms",
            instrument.symbol,
            analysis.instrument(),
            plural(count, "bar"),
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(analysis)
}

/// The analysis data mode serves, or `None` in parity mode.
pub fn load_for(config: &Config, catalog: &Catalog) -> Result<Option<Arc<Analysis>>, DataError> {
    if matches!(config.data.source, Some(DataSource::Postgres(_))) && catalog.is_empty() {
        log::warn!(
            "the database holds no instruments yet: GetMACD and GetMACDGraph answer as the article's server does \
             (placeholder rows) until a restart finds some; v2 serves pushed instruments at once"
        );
        return Ok(None);
    }
    config.data.source.as_ref().map(|_| analysis(config, catalog).map(Arc::new)).transpose()
}

/// Writes the chart of `start..=end` (empty: open ends) to `out`, from `--data` or the sample,
/// and returns its size in bytes. `out` follows [`OutputFile`]'s rules: `-` is stdout.
pub fn render_chart_file(config: &Config, start: &str, end: &str, out: &Path) -> Result<usize, DataError> {
    let catalog =
        catalog::load_with(&catalog_source(config), config.data.csv_delimiter).map_err(|e| catalog_error(config, e))?;
    let analysis = analysis(config, &catalog)?;
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
    fn a_missing_file_is_named_as_data_in_the_error() {
        let mut config = Config::default();
        config.data.source = Some(DataSource::Csv("no/such/prices.csv".into()));
        let e = catalog::load(&catalog_source(&config)).map_err(|e| catalog_error(&config, e)).unwrap_err();
        assert!(e.to_string().starts_with("cannot read --data no/such/prices.csv: "), "{e}");
    }
}
