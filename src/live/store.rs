//! Pushed bars made durable and served: the one writer of pushed instruments.
//!
//! A push is checked ([`idc_core::query::push`]), written to the journal, applied to the catalog
//! in one [`SharedCatalog::update`], and handed to the [`Hub`], all under one lock, so that pushes
//! are applied and sent in the order they were journaled. Then, outside the lock, its reply waits
//! for the journal's fsync, which concurrent pushes share ([`super::journal::Syncer`]), and only
//! then is it acknowledged: a reply is sent only for a push that is on disk. Subscribers may hear a
//! push before that fsync ends: a process killed meanwhile loses nothing (its written record is
//! in the kernel's page cache, and replayed at start-up); only a machine that loses power may
//! lose a push that was never acknowledged (documented in docs/operations.md).
//!
//! A folder thread writes the instruments pushed to back into their files
//! ([`super::files::write`]) shortly after, then replaces the journal by one that holds only the
//! bars still forming. Until an instrument's pushes are in its file they are *pending*: when the
//! catalog's watcher reloads that file (another program appended a row to it, or the folder's own
//! write was seen before it was adopted), the pending pushes are applied again on top of what the
//! file holds, skipping the bars the file already has, so a reload never loses a push. At
//! start-up the journal is replayed the same way, then folded.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::hub::Hub;
use super::journal::{Journal, Syncer};
use super::Ack;
use super::{files, LiveError};
use crate::catalog::Reloader;
use crate::domain::catalog::{Catalog, Instrument};
use crate::domain::date::Date;
use crate::domain::live;
use crate::metrics::Metrics;
use crate::protocol::indicators as pb;
use idc_core::query;

/// The pushed bars of one catalog directory.
pub struct Store {
    dir: PathBuf,
    reloader: Reloader,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    syncer: Syncer,
    /// Held through a fold: the folder thread and the drain's last fold ([`super::Live::close`])
    /// must not both write and drain the same pending pushes.
    folding: Mutex<()>,
}

struct State {
    /// `None` on a server that takes no pushes and found no journal (see [`Store::open`]).
    journal: Option<Journal>,
    /// Pushes not yet written into their instrument's file, by symbol, in order.
    pending: BTreeMap<String, Vec<pb::PushBarsRequest>>,
    /// Symbols whose last bar is forming.
    forming: HashSet<String>,
    /// Files idc has written (no copy of the original to keep).
    ours: HashSet<PathBuf>,
}

impl Store {
    /// Opens the journal of `dir`, replays it onto the catalog, and folds it into the files.
    /// Without `pushing` (no `--push-token-file`) and no journal there, none is created: a server
    /// that takes no pushes writes nothing, so it serves a directory it cannot write to (a
    /// read-only mount, another user's files), and still tells subscribers of changed files.
    pub fn open(
        dir: &Path,
        pushing: bool,
        reloader: Reloader,
        hub: Arc<Hub>,
        metrics: Arc<Metrics>,
    ) -> Result<Store, LiveError> {
        let path = dir.join(super::journal::FILE_NAME);
        let (journal, records) = if pushing || path.exists() {
            let (journal, records) =
                Journal::open(dir).map_err(|reason| LiveError::Journal { path: path.clone(), reason })?;
            (Some(journal), records)
        } else {
            (None, Vec::new())
        };
        let state = State { journal, pending: BTreeMap::new(), forming: HashSet::new(), ours: HashSet::new() };
        let syncer = Syncer::start().map_err(|reason| LiveError::Journal { path: dir.to_path_buf(), reason })?;
        let store = Store {
            dir: dir.to_path_buf(),
            reloader,
            hub,
            metrics,
            state: Mutex::new(state),
            syncer,
            folding: Mutex::new(()),
        };
        if !records.is_empty() {
            let mut state = store.lock();
            let shared = Arc::clone(store.reloader.shared());
            for record in &records {
                shared.update(|catalog| {
                    let held = catalog.get(&record.symbol).map(|i| Instrument::clone(i));
                    match replay(held, record) {
                        Some(instrument) => catalog.with(instrument),
                        None => catalog.clone(),
                    }
                });
                note_forming(&mut state.forming, record);
                state.pending.entry(record.symbol.clone()).or_default().push(record.clone());
            }
            log::info!("push journal {}: replayed {} pushes", path.display(), records.len());
            let catalog = shared.current();
            for symbol in &state.forming {
                store.hub.changed(symbol, catalog.get(symbol), None, None, true);
            }
            drop(state);
            store.fold().map_err(|reason| LiveError::Fold { reason })?;
        }
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Checks, journals, applies and publishes one push; its reply is to be sent once the
    /// journal's fsync says so ([`Ack`]).
    pub fn push(&self, request: &pb::PushBarsRequest) -> Result<Ack, LiveError> {
        // Before the lock: a scan holds the reloader's lock while it waits for this one (the
        // reload hook), so this never waits for the reloader's lock while holding its own.
        if let Some(path) = self.reloader.file_of(&request.symbol).filter(|p| !is_csv(p)) {
            return Err(LiveError::NotCsv { symbol: request.symbol.clone(), path });
        }
        if let Some(reason) = self.syncer.failure() {
            return Err(LiveError::Disk { reason });
        }
        let mut state = self.lock();
        let shared = self.reloader.shared();
        let before = shared.current();
        let held = before.get(&request.symbol).cloned();
        let query = query::push(request, held.as_deref()).map_err(LiveError::Refused)?;
        let Some(journal) = state.journal.as_mut() else { return Err(LiveError::Disabled) };
        journal.write(request).map_err(|reason| LiveError::Disk { reason })?;
        // What the reply waits for: this record's fsync (no other record is written meanwhile:
        // the lock is held).
        let point = journal.sync_point();
        let mut instrument = held.as_deref().cloned().unwrap_or_else(|| Instrument {
            symbol: query.symbol.clone(),
            name: query.symbol.clone(),
            bars: Default::default(),
        });
        let applied = live::apply(&mut instrument.bars, &query);
        let last_date = instrument.last_date().map(|d| d.to_string()).unwrap_or_default();
        let now = shared.update(|catalog| catalog.with(instrument));
        note_forming(&mut state.forming, request);
        state.pending.entry(query.symbol.clone()).or_default().push(request.clone());
        self.metrics.pushed(query.bars.len());
        self.metrics.set_catalog_instruments(now.len());
        let forming = state.forming.contains(&query.symbol);
        self.hub.changed(&query.symbol, now.get(&query.symbol), held.as_ref(), Some(applied.first_changed), forming);
        let reply = pb::PushBarsReply {
            appended: applied.appended as u32,
            revised: applied.revised as u32,
            last_date,
            ..Default::default()
        };
        let durable = self.syncer.after(point);
        Ok(Ack { reply, durable: Some(durable) })
    }

    /// Whether there are pushes not yet in their files.
    pub fn has_pending(&self) -> bool {
        !self.lock().pending.is_empty()
    }

    /// Writes every instrument with pending pushes into its file, then replaces the journal by
    /// the forming bars and the pushes that came meanwhile. The files are written outside the
    /// lock, so pushes go on meanwhile; on an error the pushes stay pending (and journaled), and
    /// the next fold tries again.
    pub fn fold(&self) -> io::Result<()> {
        let _one = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        let (catalog, taken, ours) = {
            let state = self.lock();
            if state.pending.is_empty() {
                return Ok(());
            }
            let taken: Vec<(String, usize)> =
                state.pending.iter().map(|(s, pushes)| (s.clone(), pushes.len())).collect();
            (self.reloader.shared().current(), taken, state.ours.clone())
        };
        let mut written = Vec::new();
        for (symbol, _) in &taken {
            let Some(instrument) = catalog.get(symbol) else { continue };
            let path = self.reloader.file_of(symbol).unwrap_or_else(|| files::new_path(&self.dir, symbol));
            let ours = ours.contains(&path) || !path.exists();
            files::write(&path, instrument, ours)?;
            written.push((symbol.clone(), path));
        }
        let mut state = self.lock();
        for (symbol, count) in &taken {
            if let Some(pushes) = state.pending.get_mut(symbol) {
                pushes.drain(..*count);
                if pushes.is_empty() {
                    state.pending.remove(symbol);
                }
            }
        }
        let mut journal = restate_forming(&state.forming, &self.reloader.shared().current());
        journal.extend(state.pending.values().flatten().cloned());
        if let Some(open) = state.journal.as_mut() {
            open.replace(&journal)?;
            self.syncer.synced(open.written());
        }
        for (_, path) in &written {
            state.ours.insert(path.clone());
        }
        drop(state);
        // After the lock: a scan that saw a file before this adopts it reloaded what the catalog
        // already held, pending pushes applied again on top (see the module doc).
        for (symbol, path) in written {
            self.reloader.adopt(&symbol, &path);
        }
        Ok(())
    }
}

impl crate::catalog::ReloadHook for Store {
    fn reload(
        &self,
        puts: Vec<Instrument>,
        removed: &[String],
        update: &mut dyn FnMut(Vec<Instrument>) -> Arc<Catalog>,
    ) -> Arc<Catalog> {
        let mut state = self.lock();
        let before = self.reloader.shared().current();
        let symbols: Vec<String> = puts.iter().map(|i| i.symbol.clone()).collect();
        let merged: Vec<Instrument> = puts
            .into_iter()
            .map(|mut instrument| {
                for record in state.pending.get(&instrument.symbol).into_iter().flatten() {
                    if let Some(next) = replay(Some(instrument.clone()), record) {
                        instrument = next;
                    }
                }
                instrument
            })
            .collect();
        let now = update(merged);
        for symbol in &symbols {
            let instrument = now.get(symbol);
            // A file whose last bar moved on has no forming bar any more.
            let forming_date = forming_date(&state.forming, &before, symbol);
            if forming_date.is_some() && instrument.and_then(|i| i.last_date()) != forming_date {
                state.forming.remove(symbol);
            }
            let forming = state.forming.contains(symbol);
            self.hub.changed(symbol, instrument, before.get(symbol), None, forming);
        }
        for symbol in removed {
            state.forming.remove(symbol);
            self.hub.changed(symbol, None, before.get(symbol), None, false);
        }
        now
    }
}

/// The last date held of `symbol`, when its last bar is forming.
fn forming_date(forming: &HashSet<String>, catalog: &Catalog, symbol: &str) -> Option<Date> {
    forming.contains(symbol).then(|| catalog.get(symbol).and_then(|i| i.last_date())).flatten()
}

/// One push restating each forming last bar, for the journal after a fold.
fn restate_forming(forming: &HashSet<String>, catalog: &Catalog) -> Vec<pb::PushBarsRequest> {
    let mut out = Vec::new();
    for symbol in forming {
        let Some(instrument) = catalog.get(symbol) else { continue };
        let bars = &instrument.bars;
        let Some(last) = bars.len().checked_sub(1) else { continue };
        let bar = pb::Bar {
            date: bars.date[last].to_string(),
            open: bars.open[last],
            high: bars.high[last],
            low: bars.low[last],
            close: bars.close[last],
            volume: bars.volume[last],
            adj_factor: bars.adj_factor.at(last).unwrap_or(0.0),
            ..Default::default()
        };
        out.push(pb::PushBarsRequest { symbol: symbol.clone(), bars: vec![bar], forming: true, ..Default::default() });
    }
    out
}

fn note_forming(forming: &mut HashSet<String>, record: &pb::PushBarsRequest) {
    if record.forming {
        forming.insert(record.symbol.clone());
    } else {
        forming.remove(&record.symbol);
    }
}

/// `record` applied again to `held`: the bars dated before its last bar are already in it (a
/// fold wrote them), the rest are applied as the push was. `None` when nothing is left to apply,
/// or the record no longer applies (logged).
fn replay(held: Option<Instrument>, record: &pb::PushBarsRequest) -> Option<Instrument> {
    let last = held.as_ref().and_then(Instrument::last_date);
    let mut record = record.clone();
    record.bars.retain(|bar| match (Date::parse(&bar.date), last) {
        (Ok(date), Some(last)) => date >= last,
        _ => true,
    });
    if record.bars.is_empty() {
        return None;
    }
    let query = match query::push(&record, held.as_ref()) {
        Ok(query) => query,
        Err(e) => {
            log::warn!("push journal: a push to {} no longer applies ({e}); skipped", record.symbol);
            return None;
        }
    };
    let mut instrument = held.unwrap_or_else(|| Instrument {
        symbol: record.symbol.clone(),
        name: record.symbol.clone(),
        bars: Default::default(),
    });
    live::apply(&mut instrument.bars, &query);
    Some(instrument)
}

fn is_csv(path: &Path) -> bool {
    path.extension().is_some_and(|e| !e.eq_ignore_ascii_case("parquet"))
}
