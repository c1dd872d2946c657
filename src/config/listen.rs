//! Listen: where the server takes calls, and where it serves its metrics.

/// Listen on every interface, IPv6 and IPv4, as the article's server does.
pub const DEFAULT_HOST: &str = "[::]";
/// The article's port.
pub const DEFAULT_PORT: u16 = 50051;

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Listen")]
pub struct Listen {
    /// Address to listen on: [::] for every interface, 127.0.0.1 or [::1] for this machine only.
    #[arg(long, default_value = DEFAULT_HOST)]
    pub host: String,

    /// Port to listen on, 0 to 65535; 0 picks a free port (printed at start-up).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,

    /// Let other processes listen on the same port (SO_REUSEPORT), for restarts without downtime.
    /// Without it, a port that another server holds stops this one at start-up.
    // Off by default, so that a second server on a taken port fails to start instead of silently
    // taking half of the clients.
    #[arg(long)]
    pub reuse_port: bool,

    /// Serve Prometheus metrics at http://HOST:PORT/metrics (off by default).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
}

/// `host [::] port 50051 reuse-port false metrics-addr off`, for the start-up log line.
impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let metrics = self.metrics_addr.as_deref().unwrap_or("off");
        write!(f, "host {} port {} reuse-port {} metrics-addr {metrics}", self.host, self.port, self.reuse_port)
    }
}

impl Default for Listen {
    fn default() -> Self {
        super::defaults()
    }
}
