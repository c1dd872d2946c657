//! Keeping a served catalog in step with its files: what the [`super::Watcher`] and SIGHUP call.
//!
//! A [`Reloader`] loads its [`Source`] once, strictly (see [`super::load`]), and then, on each
//! [`Reloader::scan`], compares every file's version (length, modification time, inode) with the
//! one it loaded, and parses only the files that changed. What changed is swapped into the
//! [`SharedCatalog`] in one [`SharedCatalog::update`], so a call sees one version of every
//! instrument. Each file that loads, fails or goes away writes a log line and moves
//! `idc_catalog_reloads{outcome}`; `idc_catalog_instruments` follows the count.
//!
//! A file that no longer loads keeps its last good version served; its reason is logged and
//! counted once for that version of the file, not at every scan. A file written in place may be
//! read half-written: then it fails (or loads short) and the next scan, which sees its final
//! version, loads it whole. Writing to a temporary name and renaming it over (what `mv`, rsync
//! and pandas-then-`os.replace` do) never shows a half file.
//!
//! [`Reloader::reload_all`] (SIGHUP) rereads every file whatever its version, for a file
//! rewritten in place with the same length within one tick of the clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use super::load::{self, CatalogError, FileVersion, InstrumentFile, Listing, Source, NAMES_FILE};
use super::SharedCatalog;
use crate::domain::bar::Delimiter;
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::plural;
use crate::metrics::{Metrics, ReloadOutcome};

/// Keeps a [`SharedCatalog`] in step with the files of its [`Source`]; cheap to clone (the clones
/// share one state, so the watcher and SIGHUP never disagree on what is served).
#[derive(Clone)]
pub struct Reloader {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    delimiter: Delimiter,
    shared: Arc<SharedCatalog>,
    metrics: Option<Arc<Metrics>>,
    /// Held for a whole scan: scans never overlap.
    state: Mutex<State>,
    /// What pushed bars to merge into a reloaded instrument (the live store), once there is one.
    hook: OnceLock<Weak<dyn ReloadHook>>,
}

/// What the owner of pushed bars does when files are reloaded: it merges the pushes not yet in a
/// file into that file's reloaded instrument, and hears of every change, so that a reload never
/// loses a push and subscribers see an appended row as a pushed bar.
pub trait ReloadHook: Send + Sync {
    /// Serves `puts` (merged) and drops `removed` by calling `update` once, and returns what it
    /// returned.
    fn reload(
        &self,
        puts: Vec<Instrument>,
        removed: &[String],
        update: &mut dyn FnMut(Vec<Instrument>) -> Arc<Catalog>,
    ) -> Arc<Catalog>;
}

/// What was loaded from where, and what was already reported as failing.
struct State {
    /// The file each served symbol was loaded from, with the version loaded.
    files: BTreeMap<String, InstrumentFile>,
    names: BTreeMap<String, String>,
    names_version: Option<FileVersion>,
    /// Versions (by path) that failed and were reported; `None` for a path that failed without
    /// a version (a directory that cannot be read, a missing `--data FILE`).
    failed: HashMap<PathBuf, Option<FileVersion>>,
}

/// What one scan changed, in files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub loaded: usize,
    pub failed: usize,
    pub removed: usize,
}

/// One change to apply to the catalog.
enum Edit {
    Put(Instrument),
    Remove(String),
}

impl Reloader {
    /// Loads `source` as start-up does (anything that fails stops it), into a new
    /// [`SharedCatalog`]. `metrics`, when given, counts the reloads.
    pub fn start(
        source: Source,
        delimiter: Delimiter,
        metrics: Option<Arc<Metrics>>,
    ) -> Result<Reloader, CatalogError> {
        let loaded = load::load_all(&source, delimiter)?;
        if let Some(metrics) = &metrics {
            metrics.set_catalog_instruments(loaded.catalog.len());
        }
        let state = State {
            files: loaded.files,
            names: loaded.names,
            names_version: loaded.names_version,
            failed: HashMap::new(),
        };
        let shared = Arc::new(SharedCatalog::new(loaded.catalog));
        let hook = OnceLock::new();
        Ok(Reloader { inner: Arc::new(Inner { source, delimiter, shared, metrics, state: Mutex::new(state), hook }) })
    }

    /// The catalog this keeps current: what the services read.
    pub fn shared(&self) -> &Arc<SharedCatalog> {
        &self.inner.shared
    }

    pub fn source(&self) -> &Source {
        &self.inner.source
    }

    /// Sends every later reload through `hook` (held weakly: the hook owns this reloader).
    pub fn set_hook(&self, hook: Arc<dyn ReloadHook>) {
        let _ = self.inner.hook.set(Arc::downgrade(&hook));
    }

    /// The file `symbol` was loaded from.
    pub fn file_of(&self, symbol: &str) -> Option<PathBuf> {
        self.inner.lock().files.get(symbol).map(|file| file.path.clone())
    }

    /// Takes `path`, just written by idc with what the catalog serves for `symbol`, as loaded:
    /// a scan does not read it again.
    pub fn adopt(&self, symbol: &str, path: &Path) {
        let Some(version) = FileVersion::stat(path) else { return };
        let mut state = self.inner.lock();
        state.failed.remove(path);
        state.files.insert(
            symbol.to_string(),
            InstrumentFile { symbol: symbol.to_string(), path: path.to_path_buf(), version },
        );
    }

    /// Loads the files that changed since they were last looked at, and drops the instruments
    /// whose files went away.
    pub fn scan(&self) -> ScanReport {
        self.inner.scan(false)
    }

    /// Rereads every file, changed or not (SIGHUP).
    pub fn reload_all(&self) -> ScanReport {
        if matches!(self.inner.source, Source::Sample | Source::Postgres(_)) {
            log::info!(
                "catalog {}: no files to reload (the sample never changes; a database notifies)",
                self.inner.source
            );
            return ScanReport::default();
        }
        let report = self.inner.scan(true);
        log::info!(
            "catalog {}: reloaded every file: {} loaded, {} failed, {} removed",
            self.inner.source,
            report.loaded,
            report.failed,
            report.removed
        );
        report
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn scan(&self, force: bool) -> ScanReport {
        let mut state = self.lock();
        let mut report = ScanReport::default();
        if force {
            // Asked for: every failure is reported again.
            state.failed.clear();
        }
        let Some(listing) = self.list(&mut state, &mut report) else { return report };
        // What failed without a version (a directory that could not be read, a missing file) is
        // back: if it fails again, that is news.
        state.failed.retain(|_, version| version.is_some());
        let names_changed = self.reload_names(&mut state, &mut report, force);
        let mut edits = Vec::new();
        // A symbol that two files give keeps its last good version: it is not a removal.
        let mut listed: HashSet<String> = listing.refused.iter().filter_map(|r| r.symbol.clone()).collect();
        for refused in listing.refused {
            let held = refused.symbol.as_ref().is_some_and(|s| state.files.contains_key(s));
            let keeps = if held { "still serving its last good version" } else { "not served" };
            let version = FileVersion::stat(&refused.path);
            self.failed(&mut state, &mut report, &refused.path, version, &refused.error, keeps);
        }
        for file in listing.files {
            listed.insert(file.symbol.clone());
            edits.extend(self.reload_file(&mut state, &mut report, file, force));
        }
        let gone: Vec<String> = state.files.keys().filter(|s| !listed.contains(*s)).cloned().collect();
        for symbol in gone {
            let file = state.files.remove(&symbol).expect("listed from the map");
            log::info!("catalog: {} is gone; no longer serving {symbol}", file.path.display());
            self.count(&mut report, ReloadOutcome::Removed);
            edits.push(Edit::Remove(symbol));
        }
        if !edits.is_empty() || names_changed {
            let renames = names_changed.then(|| (state.names.clone(), state.files.keys().cloned().collect()));
            let (mut puts, mut removed) = (Vec::new(), Vec::new());
            for edit in edits {
                match edit {
                    Edit::Put(instrument) => puts.push(instrument),
                    Edit::Remove(symbol) => removed.push(symbol),
                }
            }
            let mut renames = Some(renames);
            let shared = &self.shared;
            let removes = removed.clone();
            let mut update = |puts: Vec<Instrument>| {
                let edits = puts.into_iter().map(Edit::Put).chain(removes.iter().cloned().map(Edit::Remove)).collect();
                let renames = renames.take().expect("the catalog is updated once a scan");
                shared.update(|catalog| apply(catalog, edits, renames))
            };
            let now = match self.hook.get().and_then(Weak::upgrade) {
                Some(hook) => hook.reload(puts, &removed, &mut update),
                None => update(puts),
            };
            if let Some(metrics) = &self.metrics {
                metrics.set_catalog_instruments(now.len());
            }
        }
        report
    }

    /// The files to look at now; `None` when there are none to look at (the sample), or when the
    /// directory cannot be read or `--data FILE` is gone, which keeps everything served.
    fn list(&self, state: &mut State, report: &mut ScanReport) -> Option<Listing> {
        match &self.source {
            Source::Sample | Source::Postgres(_) => None,
            Source::Dir(dir) => match load::list_dir(dir) {
                Ok(listing) => Some(listing),
                Err(e) => {
                    self.failed(state, report, dir, None, &e, "still serving every instrument");
                    None
                }
            },
            Source::File(path) => {
                let file = state.files.values().next().cloned()?;
                match FileVersion::stat(path) {
                    Some(version) => Some(Listing { files: vec![InstrumentFile { version, ..file }], refused: vec![] }),
                    None => {
                        let reason = std::io::Error::from(std::io::ErrorKind::NotFound);
                        let e = CatalogError::Read { path: path.clone(), reason };
                        self.failed(state, report, path, None, &e, "still serving its last good version");
                        None
                    }
                }
            }
        }
    }

    /// Rereads `instruments.csv` if it changed; whether the names did.
    fn reload_names(&self, state: &mut State, report: &mut ScanReport, force: bool) -> bool {
        let Source::Dir(dir) = &self.source else { return false };
        let path = dir.join(NAMES_FILE);
        let version = FileVersion::stat(&path);
        if !force && (version == state.names_version || state.failed.get(&path) == Some(&version)) {
            return false;
        }
        match load::read_names(&path) {
            Ok(names) => {
                state.failed.remove(&path);
                state.names_version = version;
                let changed = names != state.names;
                if changed {
                    log::info!("catalog: display names from {} ({})", path.display(), plural(names.len(), "name"));
                    state.names = names;
                }
                changed
            }
            Err(e) => {
                self.failed(state, report, &path, version, &e, "still serving the names it had");
                false
            }
        }
    }

    /// Loads `file` if it is new or changed; the edit that serves it.
    fn reload_file(
        &self,
        state: &mut State,
        report: &mut ScanReport,
        file: InstrumentFile,
        force: bool,
    ) -> Option<Edit> {
        let served = state.files.get(&file.symbol);
        let unchanged = served.is_some_and(|s| s.path == file.path && s.version == file.version);
        let reported = state.failed.get(&file.path) == Some(&Some(file.version));
        if !force && (unchanged || reported) {
            return None;
        }
        match load::read_bars(&file.path, self.delimiter) {
            Ok(loaded) => {
                log::info!(
                    "catalog: loaded {} from {}: {}, {} skipped",
                    file.symbol,
                    file.path.display(),
                    plural(loaded.bars.len(), "bar"),
                    plural(loaded.skipped, "row")
                );
                self.count(report, ReloadOutcome::Loaded);
                state.failed.remove(&file.path);
                let instrument = Instrument {
                    symbol: file.symbol.clone(),
                    name: load::name_of(&state.names, &file.symbol),
                    bars: loaded.bars,
                };
                state.files.insert(file.symbol.clone(), file);
                Some(Edit::Put(instrument))
            }
            Err(e) => {
                let keeps = if served.is_some() { "still serving its last good version" } else { "not served" };
                self.failed(state, report, &file.path.clone(), Some(file.version), &e, keeps);
                None
            }
        }
    }

    /// Logs and counts a failure, once per version of `path`; `keeps` says what is served instead.
    fn failed(
        &self,
        state: &mut State,
        report: &mut ScanReport,
        path: &Path,
        version: Option<FileVersion>,
        error: &CatalogError,
        keeps: &str,
    ) {
        if state.failed.get(path) == Some(&version) {
            return;
        }
        state.failed.insert(path.to_path_buf(), version);
        log::warn!("catalog: {error}; {keeps}");
        self.count(report, ReloadOutcome::Failed);
    }

    fn count(&self, report: &mut ScanReport, outcome: ReloadOutcome) {
        match outcome {
            ReloadOutcome::Loaded => report.loaded += 1,
            ReloadOutcome::Failed => report.failed += 1,
            ReloadOutcome::Removed => report.removed += 1,
        }
        if let Some(metrics) = &self.metrics {
            metrics.catalog_reloaded(outcome);
        }
    }
}

/// `catalog` with `edits` applied and, when the names changed (`renames`: the names and the
/// symbols loaded from files), every instrument not just loaded renamed. Instruments of other
/// symbols (pushed ones) are kept as they are.
fn apply(catalog: &Catalog, edits: Vec<Edit>, renames: Option<(BTreeMap<String, String>, Vec<String>)>) -> Catalog {
    let mut next = catalog.clone();
    let mut put = HashSet::new();
    for edit in edits {
        next = match edit {
            Edit::Put(instrument) => {
                put.insert(instrument.symbol.clone());
                next.with(instrument)
            }
            Edit::Remove(symbol) => next.without(&symbol),
        };
    }
    let Some((names, served)) = renames else { return next };
    for symbol in served.iter().filter(|s| !put.contains(*s)) {
        let name = load::name_of(&names, symbol);
        if let Some(held) = next.get(symbol).filter(|held| held.name != name) {
            let renamed = Instrument { name, ..Instrument::clone(held) };
            next = next.with(renamed);
        }
    }
    next
}
