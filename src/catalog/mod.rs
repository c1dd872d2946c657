//! The catalog the server serves: loaded from what `--data` names, shared by every call, and
//! swapped whole when its files change.
//!
//! * [`load`]: a directory of instrument files (one a symbol, display names from
//!   `instruments.csv`), one file, or the embedded sample, into a [`Catalog`]; at start-up,
//!   anything that does not load stops the server with `file:line: reason`.
//! * [`Reloader`] (`reload`): keeps a [`SharedCatalog`] in step with the files, parsing only
//!   those that changed and keeping the last good version of one that no longer loads.
//! * [`Watcher`] and [`reload_on_sighup`] (`watch`): what runs the reloader, a scan twice a
//!   second and SIGHUP.
//!
//! A call takes [`SharedCatalog::current`] once, at its start, and keeps that `Arc<Catalog>` to
//! its end: a reload that lands meanwhile is seen by the next call, never half by this one.

mod load;
mod reload;
mod watch;

use std::sync::{Arc, RwLock};

use crate::domain::catalog::Catalog;

pub use load::{load, load_with, CatalogError, Source, NAMES_FILE};
pub use reload::{ReloadHook, Reloader, ScanReport};
pub use watch::{reload_on_sighup, SighupReload, Watcher, POLL_EVERY};

/// The current catalog, replaceable while calls run.
#[derive(Debug, Default)]
pub struct SharedCatalog {
    current: RwLock<Arc<Catalog>>,
}

impl SharedCatalog {
    pub fn new(catalog: Catalog) -> SharedCatalog {
        SharedCatalog { current: RwLock::new(Arc::new(catalog)) }
    }

    /// The catalog as it is now; later replacements do not change it.
    pub fn current(&self) -> Arc<Catalog> {
        // A writer that panicked left a whole catalog behind (replacement is one assignment).
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Serves `catalog` from the next call on.
    pub fn replace(&self, catalog: Catalog) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(catalog);
    }

    /// Serves `change(current)` from the next call on, and returns it. The change is made under
    /// the write lock, so that two writers (a reload, pushed bars) never lose each other's
    /// changes; it should be quick (cloning a catalog shares its instruments).
    pub fn update(&self, change: impl FnOnce(&Catalog) -> Catalog) -> Arc<Catalog> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        let next = Arc::new(change(&current));
        *current = Arc::clone(&next);
        next
    }
}
