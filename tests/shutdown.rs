//! The server's entry point takes its shutdown signal as a future, so a test can drive shutdown
//! exactly as SIGTERM does in `idc_server`.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use idc::client::{self, Target};
use idc::config::Config;
use idc::server;

fn loopback_config() -> Config {
    let mut config = Config::default();
    (config.listen.host, config.listen.port) = ("127.0.0.1".into(), 0);
    config.threads.completion_queues = 1;
    config.drain.grace_period = Duration::from_secs(2);
    config
}

#[test]
fn serve_until_returns_when_the_shutdown_future_resolves() {
    let running = server::start(&loopback_config()).unwrap();
    let port = running.port();
    assert_ne!(port, 0, "port 0 is replaced by the real port");

    let (stop, stopped_by) = oneshot::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        running.serve_until(async move {
            let _ = stopped_by.await;
        });
        let _ = done_tx.send(());
    });

    let target = Target::new(format!("127.0.0.1:{port}"), Duration::from_secs(10));
    let reply = client::get_macd(&target, "2023-01-01", "2023-12-31").expect("served before shutdown");
    assert_eq!(reply.macd.len(), 4);

    stop.send(()).unwrap();
    done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("serve_until returns within the grace period after the signal");

    let after = Target { timeout: Duration::from_secs(2), ..target };
    let refused = client::get_macd(&after, "2023-01-01", "2023-12-31").unwrap_err();
    assert_eq!(refused.code(), Some(grpcio::RpcStatusCode::UNAVAILABLE), "{refused}");
}
