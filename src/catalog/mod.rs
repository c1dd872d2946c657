//! The catalog the server serves, shared by every call and swapped whole when it changes.
//!
//! A call takes [`SharedCatalog::current`] once, at its start, and keeps that `Arc<Catalog>` to
//! its end: a reload that lands meanwhile is seen by the next call, never half by this one.

use std::sync::{Arc, RwLock};

use crate::domain::catalog::Catalog;

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
}
