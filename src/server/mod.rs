//! Transport: the gRPC environment, the listener and its credentials, start-up and shutdown.
//!
//! [`start`] binds and starts a server for the given services and returns at once with the real
//! port, so the caller can announce it; [`RunningServer::serve_until`] then blocks until the
//! shutdown future it is given resolves, and stops gracefully: no new calls are accepted, calls in
//! flight get [`ServerConfig::grace`] to finish, and whatever is left is cancelled. The binary
//! passes [`crate::shutdown::signal`]; tests pass a channel of their own.

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use futures::executor::block_on;
use futures::future::{self, Either};
use grpcio::{EnvBuilder, Environment, ServerBuilder, ServerCredentials};

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Host or address to bind: `[::]` (all interfaces, IPv6 and IPv4), `0.0.0.0`, `127.0.0.1`,
    /// `[::1]`, `localhost`. A bare IPv6 address is bracketed for you.
    pub host: String,
    /// TCP port; 0 lets the system pick a free one, which [`RunningServer::port`] reports.
    pub port: u16,
    /// gRPC completion queues, each polled by one thread.
    pub completion_queues: usize,
    /// How long calls in flight may run on after shutdown starts before they are cancelled.
    pub grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "[::]".into(),
            port: 50051,
            completion_queues: default_parallelism().into(),
            grace: Duration::from_secs(5),
        }
    }
}

/// The number of CPUs we may use, at least 1.
pub fn default_parallelism() -> u16 {
    thread::available_parallelism().map_or(1, |n| n.get().min(256) as u16)
}

/// The server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "cannot listen on {address}: the address is in use or not available here; choose another --host or --port"
    )]
    Bind { address: String },
    #[error("invalid --host {0:?}: give a host name or an IP address, such as [::], 0.0.0.0 or 127.0.0.1")]
    Host(String),
    #[error("cannot create the gRPC server: {0}")]
    Grpc(#[from] grpcio::Error),
}

/// A started server. Dropping it without [`serve_until`](Self::serve_until) or
/// [`shutdown`](Self::shutdown) stops it abruptly.
pub struct RunningServer {
    server: grpcio::Server,
    port: u16,
    grace: Duration,
    // The completion-queue threads live as long as this.
    _env: Arc<Environment>,
}

/// Binds `config.host:config.port` and starts serving `services`.
pub fn start(config: &ServerConfig, services: Vec<grpcio::Service>) -> Result<RunningServer, ServerError> {
    let address = listen_address(&config.host, config.port)?;
    let env = Arc::new(EnvBuilder::new().cq_count(config.completion_queues.max(1)).name_prefix("idc-cq").build());
    let mut builder = ServerBuilder::new(Arc::clone(&env));
    for service in services {
        builder = builder.register_service(service);
    }
    let mut server = builder.build()?;
    let port = server
        .add_listening_port(address.clone(), credentials())
        .map_err(|_| ServerError::Bind { address: address.clone() })?;
    server.start();
    // The address as asked for, but with the port actually bound (port 0 picks one).
    let bound = listen_address(&config.host, port)?;
    log::info!("listening on {bound}, {} completion queue(s)", config.completion_queues.max(1));
    Ok(RunningServer { server, port, grace: config.grace, _env: env })
}

/// The credentials every listener uses. Plaintext for now, like the reference; this is the one
/// place where TLS will be configured.
fn credentials() -> ServerCredentials {
    ServerCredentials::insecure()
}

fn listen_address(host: &str, port: u16) -> Result<String, ServerError> {
    let valid = !host.is_empty() && !host.contains(char::is_whitespace) && !host.contains(['/', '\0', '@', '?', '#']);
    if !valid {
        return Err(ServerError::Host(host.to_string()));
    }
    // `::1` is ambiguous next to a port; gRPC wants `[::1]:port`.
    if host.contains(':') && !host.starts_with('[') {
        return Ok(format!("[{host}]:{port}"));
    }
    Ok(format!("{host}:{port}"))
}

impl RunningServer {
    /// The port the server listens on (the real one when the config asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` resolves, then stops gracefully. Blocks the calling thread; the
    /// calls themselves run on the completion-queue threads.
    pub fn serve_until(self, shutdown: impl Future<Output = ()>) {
        block_on(shutdown);
        self.shutdown();
    }

    /// Stops accepting calls, lets calls in flight finish for up to the grace period, then
    /// cancels the rest.
    pub fn shutdown(mut self) {
        log::info!("shutting down: waiting up to {:?} for calls in flight", self.grace);
        let mut stopped = self.server.shutdown();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_bracket_bare_ipv6() {
        assert_eq!(listen_address("[::]", 1).unwrap(), "[::]:1");
        assert_eq!(listen_address("::1", 2).unwrap(), "[::1]:2");
        assert_eq!(listen_address("127.0.0.1", 3).unwrap(), "127.0.0.1:3");
        assert_eq!(listen_address("localhost", 4).unwrap(), "localhost:4");
        assert!(listen_address("", 5).is_err());
        assert!(listen_address("unix:/tmp/x", 5).is_err());
    }
}
