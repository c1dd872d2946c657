//! While a PostgreSQL catalog cannot be loaded yet (the database is down as a deployment
//! starts): a placeholder server on the address the real one will take, answering only health,
//! and NOT_SERVING for every service, so that a load balancer's probe sees "not yet" rather than
//! a refused connection. Once the catalog is loaded it is stopped, and the real server binds the
//! same port; between the two, for the moment of the handover, connections are refused.

use std::sync::Arc;

use grpcio::{EnvBuilder, ServerBuilder, ServerCredentials};

use super::health::{HealthService, HealthState};
use super::{listen, StartError};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::protocol::health_grpc;

/// The placeholder, serving.
pub struct Waiting {
    server: grpcio::Server,
    port: u16,
    _env: Arc<grpcio::Environment>,
}

impl Waiting {
    /// Listens on the configured address (its port when it is 0: the real server takes the same).
    pub fn start(
        config: &Config,
        credentials: ServerCredentials,
        metrics: &Arc<Metrics>,
    ) -> Result<Waiting, StartError> {
        let listen = &config.listen;
        listen::check_available(&listen.host, listen.port, listen.reuse_port)?;
        let health = HealthState::default();
        health.add_store(Arc::new(std::sync::atomic::AtomicBool::new(false)));
        health.set_not_serving();
        let env = Arc::new(EnvBuilder::new().cq_count(1).name_prefix("idc-wait").build());
        let service = health_grpc::create_health(HealthService::new(health, Arc::clone(metrics)));
        let mut server = ServerBuilder::new(Arc::clone(&env)).register_service(service).build()?;
        let address = listen::grpc_address(&listen.host, listen.port)?;
        let port = server
            .add_listening_port(address.clone(), credentials)
            .map_err(|_| listen::ListenError::Grpc { address, detail: ": the port was taken just now" })?;
        server.start();
        log::info!("health answers NOT_SERVING on port {port} until the catalog is loaded");
        Ok(Waiting { server, port, _env: env })
    }

    /// Stops, and returns the port the real server is to take.
    pub fn stop(mut self) -> u16 {
        let _ = futures::executor::block_on(self.server.shutdown());
        self.port
    }
}
