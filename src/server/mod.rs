//! Transport: everything between a [`Config`] and a serving gRPC server.
//!
//! [`start`] does it all, in order: checks the config, loads the data, reads the TLS files and
//! the token, builds the services, checks the listening address, binds, and starts. It returns at
//! once with the real port, so the caller can announce it; [`RunningServer::serve_until`] then
//! blocks until the shutdown future it is given resolves, and stops gracefully: no new calls are
//! accepted, calls in flight get the grace period to finish, and whatever is left is cancelled.
//! `idc_server` passes [`shutdown::signal`]; tests start a complete server in process and pass a
//! channel of their own.
//!
//! * [`listen`]: the listening address, checked before gRPC binds it.
//! * [`health`]: `grpc.health.v1.Health`, which turns NOT_SERVING when shutdown starts.
//! * [`reflection`]: server reflection, v1 and v1alpha.
//! * [`shutdown`]: the SIGINT/SIGTERM future.
//! * [`memory`]: glibc's malloc arenas, capped before the threads start.
//!
//! A shutdown drains in steps ([`Drain`](crate::config::Drain) holds both durations): health
//! turns NOT_SERVING at once; new calls are still taken for the drain delay, so that load
//! balancers notice; then the server stops taking calls, health watches end, and calls in flight
//! get the grace period to finish; what is left is cancelled.
//!
//! TLS ([`crate::tls`]) and the token ([`crate::auth`]) live beside this module, since the
//! clients use them too.

pub mod health;
pub mod listen;
pub mod memory;
pub mod reflection;
pub mod shutdown;
mod waiting;

use std::ffi::CString;
use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use futures::executor::block_on;
use futures::future::{self, Either};
use grpcio::{ChannelBuilder, EnvBuilder, Environment, ResourceQuota, ServerBuilder, ServerCredentials};

use crate::auth::{AuthChecker, Token, TokenError};
use crate::catalog::{Reloader, Source, Watcher, POLL_EVERY};
use crate::config::{seconds, Config, ConfigError, GrpcArgValue, Listen};
use crate::data::{self, DataError};
use crate::live::{Ended, Live, LiveError};
use crate::metrics::{Metrics, MetricsEndpoint};
use crate::pg::{self, PgError, PgStore};
use crate::protocol::health_grpc;
use crate::service::{ServiceError, Services};
use crate::tls::{self, TlsError};
use health::{HealthService, HealthState};
use listen::ListenError;

/// The server could not be started. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error(transparent)]
    Pg(#[from] PgError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot create the gRPC server: {0}")]
    Grpc(#[from] grpcio::Error),
    #[error("cannot serve metrics on --metrics-addr {address}: {reason}")]
    Metrics { address: String, reason: std::io::Error },
}

/// A started server. Dropping it without [`serve_until`](Self::serve_until) or
/// [`shutdown`](Self::shutdown) stops it abruptly.
pub struct RunningServer {
    server: grpcio::Server,
    port: u16,
    drain_delay: Duration,
    grace: Duration,
    health: HealthState,
    metrics: Arc<Metrics>,
    endpoint: Option<MetricsEndpoint>,
    reloader: Reloader,
    /// Subscriptions end with the drain; pushes are written into their files at the end.
    live: Arc<Live>,
    // The catalog is watched for as long as the server runs.
    _watcher: Option<Watcher>,
    // The completion-queue threads live as long as this.
    _env: Arc<Environment>,
}

/// Loads, builds and starts everything `config` describes, and returns once the server listens.
pub fn start(config: &Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let metrics = Arc::new(Metrics::new());
    // The catalog first: v2 serves all of it, and the article's services one instrument of it.
    let source = data::catalog_source(config);
    let reloader = Reloader::start(source.clone(), config.data.csv_delimiter, Some(Arc::clone(&metrics)))
        .map_err(|e| data::catalog_error(config, e))?;
    // A database catalog is loaded by the store that then keeps it current.
    // While the database does not answer, a placeholder answers health (NOT_SERVING) on the
    // address; the real server takes its port once the catalog is loaded.
    let mut waiting: Option<waiting::Waiting> = None;
    let pg = match &source {
        Source::Postgres(url) => {
            let password = config.data.pg_password_file.as_deref().map(pg::read_password_file).transpose()?;
            let mut placeholder_error = None;
            let mut on_wait = || match credentials(config).and_then(|c| waiting::Waiting::start(config, c, &metrics)) {
                Ok(placeholder) => waiting = Some(placeholder),
                Err(e) => placeholder_error = Some(e),
            };
            let (store, catalog) = PgStore::open(pg::Target::new(url, password)?, Arc::clone(&metrics), &mut on_wait)?;
            if let Some(e) = placeholder_error {
                log::warn!("no placeholder answered health while the database was away: {e}");
            }
            metrics.set_catalog_instruments(catalog.len());
            reloader.shared().replace(catalog);
            Some(Arc::new(store))
        }
        _ => None,
    };
    let waited_port = waiting.take().map(waiting::Waiting::stop);
    let analysis = data::load_for(config, &reloader.shared().current())?;
    let security = &config.security;
    let limits = &config.limits;
    // Pushes the journal holds are replayed (and written into their files) before serving.
    let pushing = security.push_token_file.is_some();
    let live =
        Live::start(&reloader, pushing, limits.subscriber_queue, limits.max_subscriptions, &metrics, pg.clone())?;
    let live = Arc::new(live);
    let credentials = credentials(config)?;
    let token = security.auth_token_file.as_deref().map(Token::from_file).transpose()?;
    let push_token =
        security.push_token_file.as_deref().map(|path| Token::from_flag_file("push-token-file", path)).transpose()?;
    let health = HealthState::default();
    if let Some(pg) = &pg {
        health.add_store(pg.up_flag());
        let health = health.clone();
        pg.on_flip(move || health.store_flipped());
    }
    let services = Services::new(config, analysis, Arc::clone(reloader.shared()), Arc::clone(&live), &metrics)?;
    // Files added, replaced or removed under --data are served within a second or so.
    let watcher = match source {
        Source::Sample => None,
        _ => Some(Watcher::start(&reloader, POLL_EVERY).map_err(ServiceError::Threads)?),
    };
    let Listen { host, port, reuse_port, metrics_addr } = &config.listen;
    // The placeholder's port, when there was one (it was the configured one, or the one port 0 got).
    let port = &waited_port.unwrap_or(*port);
    let address = listen::grpc_address(host, *port)?;
    listen::check_available(host, *port, *reuse_port)?;

    let env = Arc::new(EnvBuilder::new().cq_count(config.threads.completion_queues).name_prefix("idc-cq").build());
    let builder = ServerBuilder::new(Arc::clone(&env)).channel_args(channel_args(config, &env).build_args());
    let builder = register(builder, services, &health, (token, push_token), &metrics);
    let endpoint = match metrics_addr {
        Some(address) => Some(
            MetricsEndpoint::start(address, Arc::clone(&metrics))
                .map_err(|reason| StartError::Metrics { address: address.clone(), reason })?,
        ),
        None => None,
    };
    let mut server = builder.build()?;
    let port = bind(&mut server, config, address, credentials)?;
    server.start();
    log::info!(
        "listening on {} ({}, {}), {} completion queue(s)",
        listen::grpc_address(host, port)?,
        if security.tls().is_some() { "TLS" } else { "plaintext" },
        if security.auth_token_file.is_some() { "token required" } else { "no token" },
        config.threads.completion_queues
    );
    Ok(RunningServer {
        server,
        port,
        drain_delay: config.drain.drain_delay,
        grace: config.drain.grace_period,
        health,
        metrics,
        endpoint,
        reloader,
        live,
        _watcher: watcher,
        _env: env,
    })
}

/// The listener's credentials: TLS from `--tls-cert` and `--tls-key`, else plaintext.
fn credentials(config: &Config) -> Result<ServerCredentials, StartError> {
    Ok(match config.security.tls() {
        Some(files) => tls::server_credentials(&files)?,
        None => ServerCredentials::insecure(),
    })
}

/// C-core's channel arguments: idc's limits first, then `--grpc-arg`'s, so that those win.
fn channel_args(config: &Config, env: &Arc<Environment>) -> ChannelBuilder {
    let limits = &config.limits;
    let mut args = ChannelBuilder::new(Arc::clone(env))
        // C-core sets SO_REUSEPORT unless told not to; then a second server on the same port
        // starts without complaint and the kernel splits the clients between the two.
        .reuse_port(config.listen.reuse_port)
        .max_receive_message_len(clamp_i32(limits.max_receive_message))
        .max_concurrent_stream(clamp_i32(limits.max_concurrent_streams as usize))
        .keepalive_time(limits.keepalive_time)
        .keepalive_timeout(limits.keepalive_timeout);
    if let Some(age) = limits.max_connection_age {
        args = args.raw_cfg_int(c"grpc.max_connection_age_ms".into(), clamp_i32(age.as_millis() as usize));
    }
    if limits.memory_quota_mib > 0 {
        let quota = ResourceQuota::new(Some("idc")).resize_memory(limits.memory_quota_mib << 20);
        args = args.set_resource_quota(quota);
    }
    for arg in &config.tuning.grpc_args {
        // Config::validate has checked the names and values for NUL bytes.
        let name = CString::new(arg.name.clone()).expect("no NUL in a checked argument name");
        args = match &arg.value {
            GrpcArgValue::Int(v) => args.raw_cfg_int(name, *v),
            GrpcArgValue::Text(v) => args.raw_cfg_string(name, CString::new(v.clone()).expect("no NUL")),
        };
    }
    args
}

/// The two idc services, health and reflection, and the token check when there is a token.
fn register(
    mut builder: ServerBuilder,
    services: Services,
    health: &HealthState,
    (token, push): (Option<Token>, Option<Token>),
    metrics: &Arc<Metrics>,
) -> ServerBuilder {
    let mut all = services.into_grpc();
    all.push(health_grpc::create_health(HealthService::new(health.clone(), Arc::clone(metrics))));
    all.extend(reflection::services(Arc::clone(metrics), token.clone()));
    for service in all {
        builder = builder.register_service(service);
    }
    if token.is_some() || push.is_some() {
        builder = builder.add_checker(AuthChecker::with_tokens(token, push, Arc::clone(metrics)));
    }
    builder
}

/// Binds the address [`listen::check_available`] found free, and returns the real port.
fn bind(
    server: &mut grpcio::Server,
    config: &Config,
    address: String,
    credentials: ServerCredentials,
) -> Result<u16, ListenError> {
    server.add_listening_port(address.clone(), credentials).map_err(|_| ListenError::Grpc {
        address,
        // The address was free and resolved a moment ago; with TLS, C-core also loads the key
        // here, and a key that does not belong to the certificate is the usual cause.
        detail: if config.security.tls().is_some() {
            ": check that --tls-key is the key of --tls-cert, or whether another server took the port just now"
        } else {
            ": another server may have taken the port just now; choose another --port"
        },
    })
}

fn clamp_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl RunningServer {
    /// The port the server listens on (the real one when the config asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's counters.
    /// What keeps the catalog current: the binary reloads it on SIGHUP through this.
    pub fn reloader(&self) -> &Reloader {
        &self.reloader
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where `/metrics` is served, with `--metrics-addr`.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.endpoint.as_ref().map(MetricsEndpoint::address)
    }

    /// Serves until `shutdown` resolves, then drains and stops. Blocks the calling thread; the
    /// calls themselves run on the completion-queue threads.
    pub fn serve_until(self, shutdown: impl Future<Output = ()>) {
        block_on(shutdown);
        self.shutdown();
    }

    /// Drains (see the module docs): health NOT_SERVING, new calls for the drain delay, then no
    /// new calls and up to the grace period for those in flight, then the rest cancelled.
    pub fn shutdown(mut self) {
        self.health.set_not_serving();
        if !self.drain_delay.is_zero() {
            log::info!("draining: health says NOT_SERVING; taking new calls for {} more", seconds(self.drain_delay));
            thread::sleep(self.drain_delay);
        }
        log::info!("shutting down: no new calls; waiting up to {} for calls in flight", seconds(self.grace));
        // The server takes no new call from here (C-core starts its shutdown at once).
        let mut stopped = self.server.shutdown();
        // Subscriptions and health watches never end by themselves: they end now, so that their
        // clients resubscribe elsewhere, and the calls in flight are the ones that do end. Only
        // after the shutdown began: a client that resubscribes at once must not land here again.
        self.live.close(Ended::ShuttingDown);
        self.health.end_watches();
        match block_on(future::select(&mut stopped, timer(self.grace))) {
            Either::Left(_) => log::info!("all calls finished; server stopped"),
            Either::Right(_) => {
                log::warn!("grace period over: cancelling the calls still running");
                self.server.cancel_all_calls();
                let _ = block_on(stopped);
                log::info!("server stopped");
            }
        }
    }
}

/// Resolves after `duration`. A sleeping thread is plenty for the one timer a shutdown needs.
fn timer(duration: Duration) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    thread::spawn(move || {
        thread::sleep(duration);
        let _ = tx.send(());
    });
    rx
}
