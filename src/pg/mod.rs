//! PostgreSQL as the catalog several replicas share (`--data postgres://USER@HOST:PORT/DB`).
//!
//! * [`schema`]: the tables and their idempotent migration.
//! * [`load`]: the catalog read at start-up (`COPY ... TO STDOUT`), or one instrument again.
//! * [`push`]: a push as one transaction, notified at commit.
//! * `listen`: every replica `LISTEN`s on `idc_bars` and reads an instrument again when it is
//!   notified; after a lost connection it compares every instrument's revision and last date
//!   with its own, so that a notification missed is never a change missed.
//!
//! The client is `tokio-postgres`, on a tokio runtime of its own (one worker thread): nothing of
//! it runs on a gRPC completion-queue thread. The blocking pool's push jobs wait for it with
//! `block_on`. The password comes from `PGPASSWORD` or `--pg-password-file`, never from the log:
//! the URL is shown without it.

mod listen;
pub mod load;
mod push;
pub mod schema;
mod tls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::SinkExt;
use tokio_postgres::config::SslMode;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::catalog::SharedCatalog;
use crate::domain::catalog::{Catalog, Instrument};
use crate::live::Hub;
use crate::metrics::Metrics;
use crate::protocol::indicators as pb;
use idc_core::query::QueryError;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{0}")]
    Refused(QueryError),
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    #[error("the database refused: {0}")]
    Database(String),
    #[error("the database holds a row idc cannot read: {0}")]
    Data(String),
    #[error("--data {url}: {reason}")]
    Url { url: String, reason: String },
}

impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> PgError {
        use std::error::Error as _;
        if let Some(db) = e.as_db_error() {
            let (code, text) = (db.code().code(), format!("{} ({})", db.message(), db.code().code()));
            // Class 08 (connection exception) and 57P01-57P03 (terminated, shutting down,
            // starting up): the database going or not there yet, not a refusal of the request.
            if code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03") {
                return PgError::Unreachable(text);
            }
            return PgError::Database(text);
        }
        // A closed connection or a socket error is the database away; anything else (a value
        // that does not fit its column) is a fault of the request.
        let text = match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
        // Away: the socket could not be made or broke. A TLS handshake that fails (an untrusted
        // certificate) is no outage, and is not retried.
        let away = |k: std::io::ErrorKind| {
            use std::io::ErrorKind::*;
            matches!(
                k,
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | NotConnected
                    | BrokenPipe
                    | UnexpectedEof
                    | AddrNotAvailable
                    | NotFound
                    | Interrupted
                    | WouldBlock
                    | HostUnreachable
                    | NetworkUnreachable
            )
        };
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        if e.is_closed() || io.is_some_and(|io| away(io.kind())) || text.contains("timed out") {
            PgError::Unreachable(text)
        } else {
            PgError::Database(text)
        }
    }
}

/// How to reach the database.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    /// For the log: the URL without its password.
    shown: String,
}

/// A connection's socket: TLS or not, one type (the connector is never used with TLS off).
type Connection = tokio_postgres::Connection<
    tokio_postgres::Socket,
    <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>>::Stream,
>;

impl Target {
    /// From `--data`'s URL and the password (`--pg-password-file` or `PGPASSWORD`), if any.
    pub fn new(url: &str, password: Option<String>) -> Result<Target, PgError> {
        let (rest, mode, root) = tls::split(url)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| PgError::Url { url: redact(url), reason: e.to_string() })?;
        config.ssl_mode(if mode == tls::Mode::Off { SslMode::Disable } else { SslMode::Require });
        let tls = tls::connector(mode, root.as_deref())?;
        if let Some(password) = password.or_else(|| std::env::var("PGPASSWORD").ok()) {
            config.password(password);
        }
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("idc");
        Ok(Target { config, tls, shown: redact(url) })
    }

    async fn connect(&self) -> Result<(Client, Connection), PgError> {
        Ok(self.config.connect(self.tls.clone()).await?)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The first line of `--pg-password-file` (the error names the file, never what is in it).
pub fn read_password_file(path: &std::path::Path) -> Result<String, PgError> {
    let text = std::fs::read_to_string(path).map_err(|e| PgError::Url {
        url: format!("--pg-password-file {}", path.display()),
        reason: format!("cannot read it: {e}"),
    })?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (authority, tail) = rest.split_once('/').map_or((rest, ""), |(a, t)| (a, t));
    let Some((userinfo, host)) = authority.rsplit_once('@') else { return url.to_string() };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    let shown = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
    let sep = if tail.is_empty() && !rest.contains('/') { "" } else { "/" };
    format!("{scheme}://{shown}@{host}{sep}{tail}")
}

/// The catalog in PostgreSQL: the pushes of this replica, and the changes of every other one.
pub struct PgStore {
    runtime: tokio::runtime::Runtime,
    target: Target,
    /// The connection pushes use; `None` after it broke (the next push reconnects).
    client: tokio::sync::Mutex<Option<Client>>,
    state: Mutex<Held>,
    /// Whether the database answers; health's `idc.v2.store`.
    up: Arc<AtomicBool>,
    /// Told when `up` flips (health's watchers).
    on_flip: std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>,
    metrics: Arc<Metrics>,
}

/// What this replica holds of each instrument: the revision its bars are at, and whether its
/// last bar is forming; and what it serves and tells.
struct Held {
    revisions: HashMap<String, i64>,
    forming: HashSet<String>,
    shared: Option<Arc<SharedCatalog>>,
    hub: Option<Arc<Hub>>,
}

impl PgStore {
    /// Connects (retrying with backoff while the database is down, as it may be while a
    /// deployment starts), migrates the schema, and loads the catalog.
    /// `waiting` is called once, at the first failed try (the server puts up its placeholder).
    pub fn open(
        target: Target,
        metrics: Arc<Metrics>,
        waiting: &mut dyn FnMut(),
    ) -> Result<(PgStore, Catalog), PgError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("idc-pg")
            .enable_all()
            .build()
            .map_err(|e| PgError::Unreachable(format!("cannot start the database client's thread: {e}")))?;
        let (client, catalog, flags) = runtime.block_on(async {
            let mut wait = Duration::from_millis(100);
            let mut waiting = Some(waiting);
            loop {
                match first_load(&target).await {
                    Ok(done) => break Ok::<_, PgError>(done),
                    Err(PgError::Unreachable(reason)) => {
                        if let Some(waiting) = waiting.take() {
                            waiting();
                        }
                        log::warn!("database {target}: {reason}; retrying in {} ms", wait.as_millis());
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                    Err(e) => break Err(e),
                }
            }
        })?;
        log::info!("catalog from {target}: {} instruments", catalog.len());
        let revisions = flags.iter().map(|(s, &(_, r))| (s.clone(), r)).collect();
        let forming = flags.iter().filter(|(_, &(f, _))| f).map(|(s, _)| s.clone()).collect();
        let state = Held { revisions, forming, shared: None, hub: None };
        let store = PgStore {
            runtime,
            target,
            client: tokio::sync::Mutex::new(Some(client)),
            state: Mutex::new(state),
            up: Arc::new(AtomicBool::new(true)),
            on_flip: std::sync::OnceLock::new(),
            metrics,
        };
        Ok((store, catalog))
    }

    /// Serves changes into `shared` and `hub` from now on, and starts listening for the other
    /// replicas' changes.
    pub fn attach(self: &Arc<Self>, shared: Arc<SharedCatalog>, hub: Arc<Hub>) {
        {
            let mut state = self.lock();
            for symbol in &state.forming.clone() {
                hub.changed(symbol, shared.current().get(symbol), None, None, true);
            }
            (state.shared, state.hub) = (Some(shared), Some(hub));
        }
        let store = Arc::clone(self);
        self.runtime.spawn(async move { listen::run(store).await });
    }

    /// Whether the database answers now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// The flag health's `idc.v2.store` follows.
    pub fn up_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.up)
    }

    /// Calls `flipped` whenever the database goes away or comes back.
    pub fn on_flip(&self, flipped: impl Fn() + Send + Sync + 'static) {
        let _ = self.on_flip.set(Box::new(flipped));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commits `request`, then serves it here (the other replicas hear of it by notification).
    pub fn push(&self, request: &pb::PushBarsRequest) -> Result<pb::PushBarsReply, PgError> {
        self.runtime.block_on(async {
            let mut slot = self.client.lock().await;
            if slot.as_ref().is_none_or(Client::is_closed) {
                *slot = None;
                let (client, connection) = self.target.connect().await.inspect_err(|_| self.set_up(false))?;
                self.runtime.spawn(async move {
                    let _ = connection.await;
                });
                *slot = Some(client);
            }
            let client = slot.as_mut().expect("connected above");
            let committed = match push::push(client, request).await {
                Err(PgError::Unreachable(reason)) => {
                    *slot = None;
                    self.set_up(false);
                    return Err(PgError::Unreachable(reason));
                }
                other => other?,
            };
            self.set_up(true);
            let forming = committed.query.forming;
            let first = committed.applied.first_changed;
            self.apply(committed.instrument.clone(), committed.revision, forming, Some(first));
            self.metrics.pushed(committed.query.bars.len());
            Ok(pb::PushBarsReply {
                appended: committed.applied.appended as u32,
                revised: committed.applied.revised as u32,
                last_date: committed.instrument.last_date().map(|d| d.to_string()).unwrap_or_default(),
                ..Default::default()
            })
        })
    }

    fn set_up(&self, up: bool) {
        if self.up.swap(up, Ordering::SeqCst) != up {
            if let Some(flipped) = self.on_flip.get() {
                flipped();
            }
            if up {
                log::info!("database {}: reachable again", self.target);
            } else {
                log::warn!("database {}: unreachable; reads go on from memory, pushes are refused", self.target);
            }
        }
    }

    /// Serves `instrument` at `revision`, unless this replica holds that revision or a later one
    /// (its own push, heard again by notification). `first_changed` is known for this replica's
    /// own pushes.
    fn apply(&self, instrument: Instrument, revision: i64, forming: bool, first_changed: Option<usize>) {
        let mut state = self.lock();
        let symbol = instrument.symbol.clone();
        let held = state.revisions.get(&symbol).copied();
        if held.is_some_and(|held| held > revision) {
            return;
        }
        // The same revision is news only when the bars differ: an ETL job's rows announced by a
        // bare NOTIFY, which bumps no revision; this replica's own push, heard back, is not.
        if held == Some(revision) {
            let served = state.shared.as_ref().and_then(|s| s.current().get(&symbol).cloned());
            if served.is_some_and(|served| served.bars == instrument.bars) {
                return;
            }
        }
        state.revisions.insert(symbol.clone(), revision);
        if forming {
            state.forming.insert(symbol.clone());
        } else {
            state.forming.remove(&symbol);
        }
        let (Some(shared), Some(hub)) = (state.shared.clone(), state.hub.clone()) else { return };
        let before = shared.current();
        let previous = before.get(&symbol).cloned();
        let now = shared.update(|catalog| catalog.with(instrument));
        self.metrics.set_catalog_instruments(now.len());
        hub.changed(&symbol, now.get(&symbol), previous.as_ref(), first_changed, forming);
    }

    /// The revision this replica holds of every instrument.
    fn revisions(&self) -> HashMap<String, i64> {
        self.lock().revisions.clone()
    }
}

/// Connects, migrates and loads, once.
async fn first_load(target: &Target) -> Result<(Client, Catalog, BTreeMap<String, (bool, i64)>), PgError> {
    let (client, connection) = target.connect().await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    migrate(&client).await?;
    let (catalog, flags) = load::all(target, &client).await?;
    Ok((client, catalog, flags))
}

/// Applies the schema ([`schema::MIGRATION`]), in one transaction, unless `idc_schema` says it
/// is there: replicas then need no `CREATE` privilege, only what docs/postgres.md grants.
pub async fn migrate(client: &Client) -> Result<(), PgError> {
    let applied = client
        .query_one(
            "SELECT to_regclass('idc_schema') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'idc_schema')",
            &[],
        )
        .await?;
    if applied.get::<_, bool>(0) {
        let version = client.query_one("SELECT coalesce(max(version), 0) FROM idc_schema", &[]).await?;
        if version.get::<_, i32>(0) >= schema::VERSION {
            return Ok(());
        }
    }
    client
        .batch_execute(&format!("BEGIN; SET LOCAL client_min_messages = warning; {} COMMIT;", schema::MIGRATION))
        .await?;
    Ok(())
}

/// The instruments of `catalog` written into the database at `target`, each in a transaction
/// of its own (its bars replaced by the file's, through `COPY ... FROM STDIN`), notified to the
/// replicas: `idc_server import`.
pub fn import(target: &Target, catalog: &Catalog) -> Result<usize, PgError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PgError::Unreachable(format!("cannot start the database client: {e}")))?;
    runtime.block_on(async {
        let (mut client, connection) = target.connect().await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        migrate(&client).await?;
        let mut count = 0;
        for instrument in catalog.iter() {
            import_one(&mut client, instrument).await?;
            count += 1;
        }
        Ok(count)
    })
}

async fn import_one(client: &mut Client, instrument: &Instrument) -> Result<(), PgError> {
    let tx = client.transaction().await?;
    let symbol = instrument.symbol.as_str();
    tx.execute(
        "INSERT INTO instruments (symbol, name) VALUES ($1, $2) ON CONFLICT (symbol) DO UPDATE SET name = excluded.name",
        &[&symbol, &instrument.name],
    )
    .await?;
    tx.execute("DELETE FROM bars WHERE symbol = $1", &[&symbol]).await?;
    // COPY's text form: numbers in Rust's shortest form that reads back to the same value.
    let bars = &instrument.bars;
    let factors = bars.factor_values();
    let escaped = symbol.replace('\\', "\\\\").replace('\t', "\\t").replace('\n', "\\n").replace('\r', "\\r");
    let sink = tx.copy_in("COPY bars (symbol, date, open, high, low, close, volume, adj_factor) FROM STDIN").await?;
    futures::pin_mut!(sink);
    let mut chunk = String::with_capacity(1 << 16);
    for i in 0..bars.len() {
        use std::fmt::Write as _;
        let factor = factors.get(i).map_or_else(|| "\\N".to_string(), f64::to_string);
        let _ = writeln!(
            chunk,
            "{escaped}\t{}\t{}\t{}\t{}\t{}\t{}\t{factor}",
            bars.date[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]
        );
        if chunk.len() > 60_000 {
            sink.send(bytes::Bytes::from(std::mem::take(&mut chunk))).await?;
        }
    }
    if !chunk.is_empty() {
        sink.send(bytes::Bytes::from(chunk)).await?;
    }
    sink.finish().await?;
    tx.execute("SELECT idc_bars_changed($1)", &[&symbol]).await?;
    tx.commit().await?;
    Ok(())
}
