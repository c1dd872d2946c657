//! Live bars: `PushBars` made durable and applied, and `Subscribe`'s updates.
//!
//! * [`journal`]: the push journal, fsynced before a push is acknowledged, replayed at start-up.
//! * [`files`]: an instrument written back into its CSV file, atomically.
//! * [`store`]: the one writer of pushed bars: check, journal, apply, publish; and the fold of
//!   pushes into their files, on a thread of its own ([`Live`] runs it).
//! * [`hub`]: the subscriptions, their shared indicator states and their queues.
//!
//! With a PostgreSQL catalog, pushes go to [`crate::pg::PgStore`] instead of the journal.
//!
//! The domain of it (a push applied to bars, the indicator states kept per subscription key) is
//! idc-core's [`crate::domain::live`]; here is what needs files, threads and locks.

pub mod files;
pub mod hub;
pub mod journal;
mod store;

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;

pub use hub::{Encoded, Ended, Hub, SubscribeError, Subscription};
pub use store::Store;

use crate::catalog::{Reloader, Source};
use crate::metrics::Metrics;
use crate::pg::{PgError, PgStore};
use crate::protocol::indicators as pb;
use idc_core::query::QueryError;

/// How soon after a push its instrument's file is written. The push is durable already (the
/// journal); this only bounds how long the file lags, and lets a burst of pushes share one write.
pub const FOLD_EVERY: Duration = Duration::from_millis(200);

/// Why a push was not made, or live bars cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Refused(QueryError),
    #[error("pushing is disabled on this server: start it with --push-token-file FILE (and push with that token)")]
    Disabled,
    #[error("pushing needs a catalog directory (--data DIR); this server serves {0}, which bars cannot be added to")]
    NoDirectory(String),
    #[error(
        "{symbol} is stored as {}, which pushes do not write: convert it to CSV (pandas: \
         `pd.read_parquet(p).to_csv(p.with_suffix('.csv'), index=False)`, then remove the Parquet file)",
        .path.display()
    )]
    NotCsv { symbol: String, path: PathBuf },
    #[error("the push could not be made durable ({reason}); nothing was applied: try again")]
    Disk { reason: std::io::Error },
    #[error("cannot open the push journal {}: {reason}", .path.display())]
    Journal { path: PathBuf, reason: std::io::Error },
    #[error("cannot write the replayed pushes into their files: {reason}")]
    Fold { reason: std::io::Error },
    #[error("{0}; nothing was written: push again once it is back")]
    Unreachable(String),
    #[error("{0}")]
    Database(String),
}

impl From<PgError> for LiveError {
    fn from(e: PgError) -> LiveError {
        match e {
            PgError::Refused(refused) => LiveError::Refused(refused),
            PgError::Unreachable(_) => LiveError::Unreachable(e.to_string()),
            other => LiveError::Database(other.to_string()),
        }
    }
}

impl LiveError {
    /// Whether the disk is full (a push then gets `RESOURCE_EXHAUSTED`, not `UNAVAILABLE`).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, LiveError::Disk { reason } if reason.raw_os_error() == Some(libc::ENOSPC))
    }
}

/// A push applied: its reply, to be sent once the push is on disk.
pub struct Ack {
    reply: pb::PushBarsReply,
    /// The journal's word that the push's record is on disk (`None`: it is already, as a
    /// PostgreSQL commit is).
    durable: Option<oneshot::Receiver<std::io::Result<()>>>,
}

impl Ack {
    /// The reply, once the push is durable; the journal's error if it cannot be made so.
    pub async fn durable(self) -> Result<pb::PushBarsReply, LiveError> {
        if let Some(durable) = self.durable {
            match durable.await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => return Err(LiveError::Disk { reason }),
                Err(oneshot::Canceled) => {
                    let reason = std::io::Error::other("the journal's sync thread ended; restart the server");
                    return Err(LiveError::Disk { reason });
                }
            }
        }
        Ok(self.reply)
    }
}

/// Live bars for one server: the store (when pushes can be taken) and the hub.
pub struct Live {
    backend: Backend,
    hub: Arc<Hub>,
    pushing: bool,
    folder: Option<Folder>,
}

/// Where pushes go.
enum Backend {
    /// The sample or one file: none.
    None,
    /// A catalog directory: the journal and the files.
    Files(Arc<Store>),
    /// A PostgreSQL database that several replicas share.
    Postgres(Arc<PgStore>),
}

impl Live {
    /// Live bars over `reloader`'s catalog. With a catalog directory, the journal is replayed and
    /// folded now; `pushing` says whether `--push-token-file` was given.
    pub fn start(
        reloader: &Reloader,
        pushing: bool,
        queue: usize,
        max_subscriptions: usize,
        metrics: &Arc<Metrics>,
        pg: Option<Arc<PgStore>>,
    ) -> Result<Live, LiveError> {
        let hub = Hub::new(queue, max_subscriptions, Arc::clone(metrics));
        if let Some(pg) = pg {
            pg.attach(Arc::clone(reloader.shared()), Arc::clone(&hub));
            return Ok(Live { backend: Backend::Postgres(pg), hub, pushing, folder: None });
        }
        let Source::Dir(dir) = reloader.source() else {
            return Ok(Live { backend: Backend::None, hub, pushing, folder: None });
        };
        let store = Arc::new(Store::open(dir, pushing, reloader.clone(), Arc::clone(&hub), Arc::clone(metrics))?);
        let hook: Arc<dyn crate::catalog::ReloadHook> = Arc::clone(&store) as _;
        reloader.set_hook(hook);
        let folder = Folder::start(Arc::clone(&store)).map_err(|reason| LiveError::Fold { reason })?;
        Ok(Live { backend: Backend::Files(store), hub, pushing, folder: Some(folder) })
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// One push, applied; durable once its [`Ack`] resolves.
    pub fn push(&self, request: &pb::PushBarsRequest, source: &Source) -> Result<Ack, LiveError> {
        if !self.pushing {
            return Err(LiveError::Disabled);
        }
        let reply = match &self.backend {
            Backend::None => return Err(LiveError::NoDirectory(source.to_string())),
            Backend::Files(store) => store.push(request)?,
            Backend::Postgres(pg) => {
                return pg.push(request).map(|reply| Ack { reply, durable: None }).map_err(LiveError::from)
            }
        };
        if let Some(folder) = &self.folder {
            folder.wake();
        }
        Ok(reply)
    }

    /// Ends every subscription with `why` (the drain), and writes what is pending into the files.
    pub fn close(&self, why: Ended) {
        self.hub.close(why);
        if let Backend::Files(store) = &self.backend {
            if let Err(e) = store.fold() {
                log::warn!("writing pushed bars into their files at shutdown: {e}; the journal keeps them");
            }
        }
    }
}

/// The thread that folds pushes into their files.
struct Folder {
    wake: mpsc::SyncSender<()>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Folder {
    fn start(store: Arc<Store>) -> std::io::Result<Folder> {
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = thread::Builder::new().name("idc-fold".into()).spawn(move || {
            // Woken by a push (or every FOLD_EVERY); ends when the sender is dropped.
            loop {
                match woken.recv_timeout(FOLD_EVERY) {
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Ok(()) => thread::park_timeout(FOLD_EVERY),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                if store.has_pending() {
                    if let Err(e) = store.fold() {
                        log::warn!("writing pushed bars into their files: {e}; the journal keeps them, will retry");
                    }
                }
            }
        })?;
        Ok(Folder { wake, thread: Some(thread) })
    }

    fn wake(&self) {
        // Full: a wake-up is already on its way.
        let _ = self.wake.try_send(());
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let (wake, _) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.wake, wake));
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
