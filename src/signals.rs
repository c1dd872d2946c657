//! No half-written file left behind when a signal ends the process.
//!
//! [`crate::output`] writes a file under a temporary name and renames it when it is whole; a
//! destructor removes the temporary file on an error, but none runs when SIGINT, SIGTERM or
//! SIGHUP ends the process. `idc_server --render-chart` and `idc_graph_client` both install this
//! handler, which removes the temporary files and then exits as the signal would have.

use std::sync::OnceLock;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// What runs before the process ends at once ([`exit_now`]): the bins flush their queued log
/// lines there, since no destructor runs at `process::exit`.
static BEFORE_EXIT: OnceLock<fn()> = OnceLock::new();

/// Registers `hook` to run before [`exit_now`] ends the process (once; later calls are ignored).
pub fn before_forced_exit(hook: fn()) {
    let _ = BEFORE_EXIT.set(hook);
}

/// Ends the process with `status` now (a second SIGTERM, an interrupted download), after the
/// hook of [`before_forced_exit`].
pub fn exit_now(status: i32) -> ! {
    if let Some(hook) = BEFORE_EXIT.get() {
        hook();
    }
    std::process::exit(status)
}

/// On SIGINT, SIGTERM or SIGHUP: removes the partial files, calls `before_exit` (to say what
/// was interrupted), and exits with status 128 + the signal. `what` names the work in the
/// warning logged when the handler cannot be installed ("download", "--render-chart").
pub fn remove_partial_files_on_signal(what: &str, before_exit: impl FnOnce() + Send + 'static) {
    match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    crate::output::remove_partial_files();
                    before_exit();
                    exit_now(128 + signal);
                }
            });
        }
        Err(e) => log::warn!("cannot handle SIGINT/SIGTERM/SIGHUP ({e}); an interrupted {what} may leave a .part file"),
    }
}
