//! What triggers a reload: a [`Watcher`] thread that scans the catalog's files twice a second,
//! and SIGHUP ([`reload_on_sighup`]), which rereads every file at once, as nginx rereads its
//! configuration.
//!
//! The watcher polls rather than asking the kernel for events (`notify`, inotify): a scan is one
//! directory read and one `stat` a file, nothing next to a parse; it sees changes on every file
//! system alike, including network mounts and container bind mounts, where inotify stays silent
//! about changes made on the other side; and an event watcher would still need to wait for a
//! burst of events to settle, and a periodic scan for the events it drops when its queue
//! overflows. Every [`POLL_EVERY`], a change is served well within the 2 s promised, and an
//! unchanged file is never read again.

use std::io;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use signal_hook::consts::SIGHUP;
use signal_hook::iterator::{Handle, Signals};

use super::reload::Reloader;

/// How often the [`Watcher`] looks at the files.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// A thread that calls [`Reloader::scan`] every so often; it stops when dropped or
/// [`Watcher::stop`]ped.
pub struct Watcher {
    /// Dropping it wakes the thread, which then ends.
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watcher {
    /// Starts scanning `reloader`'s files every `every` ([`POLL_EVERY`] for the server).
    pub fn start(reloader: &Reloader, every: Duration) -> io::Result<Watcher> {
        let reloader = reloader.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new().name("idc-catalog".into()).spawn(move || {
            // Woken early only by the stop (a message, or the sender dropped).
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                reloader.scan();
            }
        })?;
        Ok(Watcher { stop: Some(stop), thread: Some(thread) })
    }

    /// Stops the thread and waits for it (a scan under way finishes first).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// SIGHUP handled by reloading; dropping it stops the thread that waits for the signal.
///
/// Once installed, SIGHUP no longer ends the process, even after this is dropped: signal-hook
/// does not restore the default action. That is what a server wants; without this, SIGHUP kills
/// it with no drain.
pub struct SighupReload {
    handle: Handle,
    thread: Option<thread::JoinHandle<()>>,
}

/// Installs a SIGHUP handler that calls [`Reloader::reload_all`]: every file of the catalog is
/// reread at once, changed or not. The handler is in place when this returns.
pub fn reload_on_sighup(reloader: &Reloader) -> io::Result<SighupReload> {
    let mut signals = Signals::new([SIGHUP])?;
    let handle = signals.handle();
    let reloader = reloader.clone();
    let thread = thread::Builder::new().name("idc-sighup".into()).spawn(move || {
        // Signals that arrive during a reload are merged into one more reload after it.
        for _ in signals.forever() {
            log::info!("received SIGHUP; reloading the catalog {}", reloader.source());
            reloader.reload_all();
        }
    })?;
    Ok(SighupReload { handle, thread: Some(thread) })
}

impl Drop for SighupReload {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
