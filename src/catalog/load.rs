//! Loading a catalog from what `--data` names: a directory of instrument files, one file, or the
//! embedded sample.
//!
//! * `--data DIR`: every `*.csv` and `*.parquet` file directly in DIR is one instrument, its
//!   symbol the file name without the extension (`600519.SH.csv` is `600519.SH`). Subdirectories, hidden files (a
//!   leading `.`: editors' and rsync's temporaries) and other extensions are not instruments.
//!   `DIR/instruments.csv` is not an instrument either: when present, its header `symbol,name`
//!   (any order and case; other columns ignored) gives display names, UTF-8, Chinese included;
//!   read with the `csv` crate like the bars. A name defaults to the symbol.
//! * `--data FILE`: one instrument, the file's stem; Parquet when it ends in `.parquet`, CSV
//!   otherwise.
//! * `--data sample`: the two instruments of [`crate::domain::sample`].
//!
//! At start-up anything that does not load stops the server, with `file:line: reason` (Parquet:
//! `file: row N: reason`), as the loaders of [`crate::domain::bar`] and
//! [`crate::domain::parquet`] word it: a server
//! that starts on half its data gives wrong answers quietly. A reload ([`super::reload`]) uses the
//! same pieces, but keeps the last good version of what fails.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::domain::bar::{parse_table, BarsError, Delimiter};
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::series::BarColumns;
use crate::domain::{parquet, plural, sample};

/// The file of display names in a catalog directory.
pub const NAMES_FILE: &str = "instruments.csv";

/// The extensions of instrument files (compared ignoring ASCII case).
const EXTENSIONS: [&str; 2] = ["csv", PARQUET];

const PARQUET: &str = "parquet";

/// What `--data` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A directory: one instrument a file.
    Dir(PathBuf),
    /// One file: one instrument.
    File(PathBuf),
    /// The embedded sample.
    Sample,
    /// A PostgreSQL database (its URL): loaded and kept current by [`crate::pg`], not here.
    Postgres(String),
}

impl Source {
    /// `sample`, a directory or a file, as `--data` takes it.
    pub fn parse(text: &str) -> Source {
        let path = PathBuf::from(text);
        if text == sample::NAME {
            Source::Sample
        } else if path.is_dir() {
            Source::Dir(path)
        } else {
            Source::File(path)
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Dir(path) | Source::File(path) => write!(f, "{}", path.display()),
            Source::Sample => f.write_str(sample::NAME),
            Source::Postgres(url) => f.write_str(&crate::pg::redact(url)),
        }
    }
}

/// Why (part of) a catalog does not load.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: std::io::Error },
    /// A bars file: `file:line: reason`.
    #[error(transparent)]
    Bars(#[from] BarsError),
    /// The names file: `DIR/instruments.csv:line: reason`.
    #[error("{}:{line}: {problem}", .path.display())]
    Names { path: PathBuf, line: u64, problem: String },
    #[error("{}: the file name is not UTF-8, and a symbol must be: rename the file", .path.display())]
    FileName { path: PathBuf },
    #[error("{} and {} both give the symbol {symbol}: keep one of them", .first.display(), .second.display())]
    SameSymbol { symbol: String, first: PathBuf, second: PathBuf },
    #[error("--data {}: no instrument files (*.csv, *.parquet) in the directory", .dir.display())]
    NoInstruments { dir: PathBuf },
}

/// A version of a file, to tell whether it changed without reading it. A file replaced by a
/// rename has a new inode even when its length and time are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileVersion {
    pub(crate) fn of(metadata: &std::fs::Metadata) -> FileVersion {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        FileVersion { len: metadata.len(), modified: metadata.modified().ok(), inode }
    }

    /// The version of the file at `path` now; `None` when it is gone or not a regular file.
    pub(crate) fn stat(path: &Path) -> Option<FileVersion> {
        std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| FileVersion::of(&m))
    }
}

/// One instrument file found in a directory, with the version it had when it was listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InstrumentFile {
    pub symbol: String,
    pub path: PathBuf,
    pub version: FileVersion,
}

/// One instrument's bars as loaded, with the rows the loader skipped.
#[derive(Debug)]
pub(crate) struct LoadedBars {
    pub bars: BarColumns,
    pub skipped: usize,
}

/// Parses the bars of the file at `path`, already read as `bytes`: Parquet when its name ends in
/// `.parquet`, CSV otherwise.
pub(crate) fn parse_bars(path: &Path, bytes: &[u8], delimiter: Delimiter) -> Result<LoadedBars, BarsError> {
    let name = path.display().to_string();
    let is_parquet = path.extension().is_some_and(|e| e.eq_ignore_ascii_case(PARQUET));
    let table = if is_parquet { parquet::parse_table(&name, bytes)? } else { parse_table(&name, bytes, delimiter)? };
    Ok(LoadedBars { bars: BarColumns::from_bars(&table.bars, table.adj_factor.as_deref()), skipped: table.skipped })
}

/// Reads and parses one instrument file.
pub(crate) fn read_bars(path: &Path, delimiter: Delimiter) -> Result<LoadedBars, CatalogError> {
    let bytes = std::fs::read(path).map_err(|reason| CatalogError::Read { path: path.to_path_buf(), reason })?;
    Ok(parse_bars(path, &bytes, delimiter)?)
}

/// At most this many threads read and parse a directory's files at start-up.
const LOAD_THREADS: usize = 8;

/// Reads and parses `files` on up to [`LOAD_THREADS`] threads (one per core), and returns what
/// each gave, in the order of `files`. Parsing is CPU-bound (a 10M-bar CSV catalog took 5 s on one
/// core), so the files are handed out one at a time to the threads, in order; after a failure no
/// file past it is started, but every file before it is finished, so the first error in file order
/// is the one a sequential load would stop at.
fn read_all(files: &[InstrumentFile], delimiter: Delimiter) -> Vec<Result<LoadedBars, CatalogError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(LOAD_THREADS).min(files.len());
    if threads <= 1 {
        let mut done = Vec::with_capacity(files.len());
        for file in files {
            let loaded = read_bars(&file.path, delimiter);
            let failed = loaded.is_err();
            done.push(loaded);
            if failed {
                break;
            }
        }
        return done;
    }
    let next = AtomicUsize::new(0);
    // The lowest index that failed so far: no later file is started.
    let failed = AtomicUsize::new(usize::MAX);
    let slots: Mutex<Vec<Option<Result<LoadedBars, CatalogError>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(files.len()).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= files.len() || i > failed.load(Ordering::Relaxed) {
                    return;
                }
                let loaded = read_bars(&files[i].path, delimiter);
                if loaded.is_err() {
                    failed.fetch_min(i, Ordering::Relaxed);
                }
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(loaded);
            });
        }
    });
    // Every file up to the first failure was read; the results stop there.
    slots.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map_while(|slot| slot).collect()
}

/// The symbol of an instrument file in a catalog directory, or `None` when `name` is not one.
fn symbol_of(name: &str) -> Option<&str> {
    if name.starts_with('.') || name == NAMES_FILE {
        return None;
    }
    let (stem, extension) = name.rsplit_once('.')?;
    let known = EXTENSIONS.iter().any(|e| extension.eq_ignore_ascii_case(e));
    (known && !stem.is_empty()).then_some(stem)
}

/// A file in a catalog directory that looks like an instrument but cannot be one.
#[derive(Debug)]
pub(crate) struct Refused {
    pub path: PathBuf,
    /// The symbol it would give, when it has one (two files with the same symbol).
    pub symbol: Option<String>,
    pub error: CatalogError,
}

/// What a catalog directory holds.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// In symbol order.
    pub files: Vec<InstrumentFile>,
    /// Names that are not UTF-8, and every file of a symbol that two files give.
    pub refused: Vec<Refused>,
}

/// The instrument files directly in `dir`; `Err` when the directory cannot be read.
pub(crate) fn list_dir(dir: &Path) -> Result<Listing, CatalogError> {
    let read_error = |reason| CatalogError::Read { path: dir.to_path_buf(), reason };
    let mut found: BTreeMap<String, InstrumentFile> = BTreeMap::new();
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            let lossy = entry.file_name().to_string_lossy().into_owned();
            if symbol_of(&lossy).is_some() && FileVersion::stat(&path).is_some() {
                let error = CatalogError::FileName { path: path.clone() };
                listing.refused.push(Refused { path, symbol: None, error });
            }
            continue;
        };
        let (Some(symbol), Some(version)) = (symbol_of(&name), FileVersion::stat(&path)) else { continue };
        let file = InstrumentFile { symbol: symbol.to_string(), path, version };
        match found.get(symbol) {
            Some(held) => {
                // The pair in name order, whatever order the directory lists them in.
                let (first, second) =
                    if held.path < file.path { (held.path.clone(), file.path) } else { (file.path, held.path.clone()) };
                let error = CatalogError::SameSymbol { symbol: symbol.to_string(), first, second: second.clone() };
                listing.refused.push(Refused { path: second, symbol: Some(symbol.to_string()), error });
            }
            None => {
                found.insert(symbol.to_string(), file);
            }
        }
    }
    let clashing: HashSet<&str> = listing.refused.iter().filter_map(|r| r.symbol.as_deref()).collect();
    listing.files = found.into_values().filter(|file| !clashing.contains(file.symbol.as_str())).collect();
    Ok(listing)
}

/// The display names of `DIR/instruments.csv`, by symbol; empty when there is no such file.
pub(crate) fn read_names(path: &Path) -> Result<BTreeMap<String, String>, CatalogError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(reason) => return Err(CatalogError::Read { path: path.to_path_buf(), reason }),
    };
    parse_names(path, &bytes)
}

/// Parses a names file: header `symbol,name`, one row a symbol.
pub(crate) fn parse_names(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, String>, CatalogError> {
    let fail = |line: u64, problem: String| CatalogError::Names { path: path.to_path_buf(), line, problem };
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let why = |e: &csv::Error| match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the text is not UTF-8: convert it, e.g. `iconv -f GBK -t UTF-8` for a GBK file".to_string()
        }
        _ => e.to_string(),
    };
    let line_of = |e: &csv::Error| e.position().map_or(1, |p| p.line());
    let header = reader.headers().map_err(|e| fail(line_of(&e), why(&e)))?.clone();
    let column = |wanted: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(wanted));
    let (Some(symbol_at), Some(name_at)) = (column("symbol"), column("name")) else {
        let read: Vec<&str> = header.iter().collect();
        return Err(fail(1, format!("the header is `{}`; expected `symbol,name`", read.join(","))));
    };
    let mut names = BTreeMap::new();
    let mut first_lines: BTreeMap<String, u64> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(line_of(&e), why(&e)))?;
        let line = record.position().map_or(0, |p| p.line());
        let symbol = record.get(symbol_at).unwrap_or("").trim();
        if symbol.is_empty() {
            return Err(fail(line, "the symbol is empty".into()));
        }
        if let Some(first) = first_lines.insert(symbol.to_string(), line) {
            return Err(fail(line, format!("{symbol} is named again (first on line {first})")));
        }
        let name = record.get(name_at).unwrap_or("").trim();
        if !name.is_empty() {
            names.insert(symbol.to_string(), name.to_string());
        }
    }
    Ok(names)
}

/// The display name of `symbol`.
pub(crate) fn name_of(names: &BTreeMap<String, String>, symbol: &str) -> String {
    names.get(symbol).cloned().unwrap_or_else(|| symbol.to_string())
}

/// A catalog as loaded at start-up, with what a reload needs to tell what changed since.
pub(crate) struct Loaded {
    pub catalog: Catalog,
    /// The files loaded, by symbol (none for the sample).
    pub files: BTreeMap<String, InstrumentFile>,
    pub names: BTreeMap<String, String>,
    /// The names file's version when it was read; `None` when there was none.
    pub names_version: Option<FileVersion>,
}

/// Loads everything `source` names, or the first reason it cannot; logs one line for it.
pub fn load(source: &Source) -> Result<Catalog, CatalogError> {
    load_with(source, Delimiter::Auto)
}

/// [`load`], with the delimiter of the CSV files given (`--csv-delimiter`).
pub fn load_with(source: &Source, delimiter: Delimiter) -> Result<Catalog, CatalogError> {
    load_all(source, delimiter).map(|loaded| loaded.catalog)
}

pub(crate) fn load_all(source: &Source, delimiter: Delimiter) -> Result<Loaded, CatalogError> {
    let started = Instant::now();
    let mut skipped = 0;
    let mut files = BTreeMap::new();
    let (mut names, mut names_version) = (BTreeMap::new(), None);
    let catalog = match source {
        Source::Sample => sample::catalog()?,
        // Read by crate::pg, which replaces this empty catalog before anything is served.
        Source::Postgres(_) => Catalog::default(),
        Source::File(path) => {
            let version = FileVersion::stat(path);
            let loaded = read_bars(path, delimiter)?;
            let symbol = path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into());
            skipped = loaded.skipped;
            if let Some(version) = version {
                files.insert(symbol.clone(), InstrumentFile { symbol: symbol.clone(), path: path.clone(), version });
            }
            Catalog::new([Instrument { name: symbol.clone(), symbol, bars: loaded.bars }])
        }
        Source::Dir(dir) => {
            let names_path = dir.join(NAMES_FILE);
            // The version is taken before the read: a change during the read is seen by the next scan.
            names_version = FileVersion::stat(&names_path);
            names = read_names(&names_path)?;
            let mut instruments = Vec::new();
            let listing = list_dir(dir)?;
            // The refusals first, so that start-up stops before parsing anything.
            if let Some(refused) = listing.refused.into_iter().next() {
                return Err(refused.error);
            }
            let parsed = read_all(&listing.files, delimiter);
            for (file, loaded) in listing.files.into_iter().zip(parsed) {
                let loaded = loaded?;
                skipped += loaded.skipped;
                let name = name_of(&names, &file.symbol);
                instruments.push(Instrument { symbol: file.symbol.clone(), name, bars: loaded.bars });
                files.insert(file.symbol.clone(), file);
            }
            if instruments.is_empty() {
                return Err(CatalogError::NoInstruments { dir: dir.clone() });
            }
            Catalog::new(instruments)
        }
    };
    let bars: usize = catalog.iter().map(|i| i.bars.len()).sum();
    if matches!(source, Source::Postgres(_)) {
        // crate::pg says what it loaded.
        return Ok(Loaded { catalog, files, names, names_version });
    }
    log::info!(
        "catalog {source}: {}, {}, {} skipped; loaded in {:.1} ms",
        plural(catalog.len(), "instrument"),
        plural(bars, "bar"),
        plural(skipped, "row"),
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(Loaded { catalog, files, names, names_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_file_names_without_the_extension() {
        assert_eq!(symbol_of("600519.SH.csv"), Some("600519.SH"));
        assert_eq!(symbol_of("AAPL.CSV"), Some("AAPL"));
        assert_eq!(symbol_of("000001.SZ.parquet"), Some("000001.SZ"));
        for not_one in ["instruments.csv", ".600519.SH.csv", "x.csv.tmp", "README", ".csv", "notes.txt"] {
            assert_eq!(symbol_of(not_one), None, "{not_one}");
        }
    }

    /// Many files, read on the load threads: each as a sequential read gives it, in file order,
    /// and with bad files the first in file order is the error, as a sequential load reports.
    #[test]
    fn a_directory_is_read_on_threads_in_file_order_and_stops_at_its_first_bad_file() {
        let dir = std::env::temp_dir().join(format!("idc-load-threads-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..40 {
            // k % 28 + 1 days of January, each bar open 10+k, high 12+k, low 9+k, close 10.5+k.
            let rows: String = (1..=k % 28 + 1)
                .map(|d| format!("2020-01-{d:02},{},{},{},{}.5\n", 10 + k, 12 + k, 9 + k, 10 + k))
                .collect();
            std::fs::write(dir.join(format!("S{k:02}.csv")), format!("date,open,high,low,close\n{rows}")).unwrap();
        }
        let listing = list_dir(&dir).unwrap();
        let threaded = read_all(&listing.files, Delimiter::Auto);
        assert_eq!(threaded.len(), 40);
        for (file, loaded) in listing.files.iter().zip(&threaded) {
            let alone = read_bars(&file.path, Delimiter::Auto).unwrap().bars;
            assert_eq!(loaded.as_ref().unwrap().bars, alone, "{}", file.symbol);
        }
        for bad in ["S29.csv", "S17.csv"] {
            std::fs::write(dir.join(bad), "date,open,high,low,close\n2020-01-02,1,2,x,1\n").unwrap();
        }
        let listing = list_dir(&dir).unwrap();
        let threaded = read_all(&listing.files, Delimiter::Auto);
        assert!(threaded[..17].iter().all(Result::is_ok));
        let first = threaded[17].as_ref().unwrap_err().to_string();
        assert!(first.contains("S17.csv:2:"), "{first}");
        let refused = load(&Source::Dir(dir.clone())).unwrap_err().to_string();
        assert_eq!(refused, first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_read_with_their_lines() {
        let path = Path::new("d/instruments.csv");
        let names = parse_names(path, "\u{feff}Name,Symbol\n贵州茅台,600519.SH\n,AAPL\n".as_bytes()).unwrap();
        assert_eq!(names.get("600519.SH").map(String::as_str), Some("贵州茅台"));
        assert_eq!(name_of(&names, "AAPL"), "AAPL");
        let e = parse_names(path, b"symbol,name\nA,x\nB,y\nA,z\n").unwrap_err().to_string();
        assert_eq!(e, "d/instruments.csv:4: A is named again (first on line 2)");
        let e = parse_names(path, b"code,title\nA,x\n").unwrap_err().to_string();
        assert_eq!(e, "d/instruments.csv:1: the header is `code,title`; expected `symbol,name`");
        let e = parse_names(path, b"symbol,name\nA,\xb9\xf3\xd6\xdd\n").unwrap_err().to_string();
        assert!(e.starts_with("d/instruments.csv:2: the text is not UTF-8"), "{e}");
        assert!(e.contains("iconv -f GBK -t UTF-8"), "{e}");
    }
}
