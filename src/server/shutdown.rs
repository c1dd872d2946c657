//! The shutdown signal that `idc_server` hands to [`super::RunningServer::serve_until`].
//!
//! The server takes any future as its stop signal, so tests pass their own; this module makes the
//! one the binary uses: the first SIGINT or SIGTERM starts a graceful shutdown, and a second one
//! ends the process at once, for an operator who does not want to wait out the grace period.

use std::future::Future;
use std::thread;

use futures::channel::oneshot;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Resolves on the first SIGINT or SIGTERM.
pub fn signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let (tx, rx) = oneshot::channel::<()>();
    thread::Builder::new().name("idc-signals".into()).spawn(move || {
        let mut received = signals.forever();
        if let Some(sig) = received.next() {
            log::info!("received signal {sig}; shutting down gracefully (send it again to stop now)");
            let _ = tx.send(());
        }
        if let Some(sig) = received.next() {
            log::warn!("received signal {sig} again; stopping now");
            crate::signals::exit_now(128 + sig);
        }
    })?;
    Ok(async move {
        // An error means the signal thread is gone, which only happens at process exit.
        let _ = rx.await;
    })
}
