//! One `idc_server --data postgres://...` replica with its Prometheus endpoint: what the tests
//! that run two replicas on one database (behind nginx, or side by side) start.

use std::path::Path;

use idc::protocol::indicators_grpc::IndicatorsClient;

use super::{free_port, rust_bin, scrape_metrics, start_or_exit, Server};

pub struct Replica {
    pub server: Server,
    pub client: IndicatorsClient,
    /// Its `--metrics-addr`.
    pub metrics: String,
}

impl Replica {
    /// A replica on `url` taking pushes with the token in `token`, with `extra` flags; a metrics
    /// port taken meanwhile by another process is tried again with another.
    pub fn start(url: &str, token: &Path, extra: &[&str]) -> Replica {
        for _ in 0..5 {
            let metrics = format!("127.0.0.1:{}", free_port());
            let mut cmd = rust_bin("idc_server");
            cmd.args(["--host", "127.0.0.1", "--port", "0", "--drain-delay", "0", "--metrics-addr", &metrics]);
            cmd.args(["--data", url, "--push-token-file", token.to_str().unwrap()]).args(extra);
            match start_or_exit(cmd) {
                (Some(server), _) => {
                    let client = IndicatorsClient::new(super::channel(&server.target()));
                    return Replica { server, client, metrics };
                }
                (None, Some(out)) if out.stderr.contains("--metrics-addr") => continue,
                (None, out) => panic!("idc_server --data {url} did not start: {out:?}"),
            }
        }
        panic!("no free port for --metrics-addr in 5 tries");
    }

    pub fn target(&self) -> String {
        self.server.target()
    }

    /// The value of the series `name` on its /metrics (`None` when it has none).
    pub fn metric(&self, name: &str) -> Option<f64> {
        scrape_metrics(&self.metrics).get(name).copied()
    }
}
