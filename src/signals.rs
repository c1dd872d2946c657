//! No half-written file left behind when a signal ends the process.
//!
//! [`crate::output`] writes a file under a temporary name and renames it when it is whole; a
//! destructor removes the temporary file on an error, but none runs when SIGINT, SIGTERM or
//! SIGHUP ends the process. `idc_server --render-chart` and `idc_graph_client` both install this
//! handler, which removes the temporary files and then exits as the signal would have.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

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
                    std::process::exit(128 + signal);
                }
            });
        }
        Err(e) => log::warn!("cannot handle SIGINT/SIGTERM/SIGHUP ({e}); an interrupted {what} may leave a .part file"),
    }
}
