//! Where a program's output goes: files that appear whole or not at all, and the few outputs that
//! cannot (stdout, devices, pipes).
//!
//! An [`OutputFile`] resolves the path the user gave once, when it is created:
//!
//! * `-` is stdout, written directly.
//! * A character device (`/dev/null`, a terminal) or a FIFO, named directly or through symbolic
//!   links (`/dev/stdout` when stdout is a pipe), is opened and written directly, as Python's
//!   `open(path, "wb")` would: there is nothing to replace.
//! * A regular file, new or existing, is written to a temporary file beside it, renamed over it
//!   only by [`OutputFile::commit`], and the folder is then synced, so that the rename survives a
//!   crash. A symbolic link is followed to its final target, which is replaced in its own folder;
//!   the link stays as it was. A dangling link gets its target created, as `open` would. A new file
//!   gets the mode `open` would give it (0666 less the umask); a replaced one keeps its mode (and,
//!   where the process may, its owner and group).
//! * A folder, an existing file without its owner's write bit (even for root, as a safeguard),
//!   and anything else (a socket, a block device) are refused with a message that says why.
//!
//! Dropping an uncommitted `OutputFile` deletes its temporary file, so an error or a cut stream
//! never leaves a truncated file, and an earlier file at the destination survives intact. A
//! process stopped by a signal runs no destructors, so a binary that handles signals calls
//! [`remove_partial_files`] before it exits; a temporary file stays registered for it until the
//! moment it has been renamed.

//!
//! In parts: `resolve` looks the path up and refuses what cannot be written; `partial` holds the
//! temporary file of a regular file and the registry of those in progress.

mod partial;
mod resolve;

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use partial::remove_partial_files;
use partial::Partial;
use resolve::{resolve, Resolved};

/// The former name of [`OutputFile`], for callers written before it handled stdout and devices.
pub type AtomicFile = OutputFile;

/// Whether `path` is this process's stdout: `-`, or a path to the same file, device or pipe as
/// file descriptor 1 (`/dev/stdout`, the file stdout was redirected to). A program that writes
/// its output there must print nothing else to stdout.
pub fn is_stdout(path: &Path) -> bool {
    if path.as_os_str() == "-" {
        return true;
    }
    let Ok(target) = fs::metadata(path) else { return false };
    let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else { return false };
    let Ok(stdout) = File::from(fd).metadata() else { return false };
    (target.dev(), target.ino()) == (stdout.dev(), stdout.ino())
}

/// A file being written to its destination (see the module documentation).
pub struct OutputFile {
    sink: Sink,
}

enum Sink {
    /// A regular file, replaced whole by a temporary file.
    Replace(Partial),
    /// Stdout, a character device or a FIFO.
    Direct(Box<dyn Write + Send>),
}

impl OutputFile {
    /// Starts the output to `destination`, refusing what cannot be written (see the module
    /// documentation). Error messages say why, and what to do, without repeating the path.
    pub fn create(destination: &Path) -> io::Result<OutputFile> {
        OutputFile::create_for(destination, "output path")
    }

    /// As [`OutputFile::create`], with the flag that named `destination` (`--output`), which a
    /// refusal suggests changing.
    pub fn create_for(destination: &Path, flag: &str) -> io::Result<OutputFile> {
        let sink = match resolve(destination, flag)? {
            Resolved::Stdout => Sink::Direct(Box::new(io::stdout())),
            Resolved::Direct(file) => Sink::Direct(Box::new(file)),
            Resolved::Replace { destination, existing } => Sink::Replace(Partial::create(destination, existing)?),
        };
        Ok(OutputFile { sink })
    }

    /// Writes `bytes` to `destination` in one go.
    pub fn write(destination: &Path, bytes: &[u8]) -> io::Result<()> {
        OutputFile::write_for(destination, "output path", bytes)
    }

    /// As [`OutputFile::write`], with the flag that named `destination`.
    pub fn write_for(destination: &Path, flag: &str, bytes: &[u8]) -> io::Result<()> {
        let mut file = OutputFile::create_for(destination, flag)?;
        file.write_all(bytes)?;
        file.commit()
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            // Through the plain file: tempfile's own writer would add the hidden file's path to
            // the error, and the user's message names the destination instead.
            Sink::Replace(partial) => partial.file.as_mut().expect("not yet committed").as_file_mut().write_all(bytes),
            Sink::Direct(out) => out.write_all(bytes),
        }
    }

    /// Puts the file in place: flushes its bytes to disk, renames it over the destination and
    /// syncs the folder. A direct output is only flushed.
    pub fn commit(self) -> io::Result<()> {
        match self.sink {
            Sink::Replace(partial) => partial.commit(),
            Sink::Direct(mut out) => out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::sync::{Mutex, MutexGuard};

    use super::*;

    /// The registry is the process's: one test's [`remove_partial_files`] would delete another's
    /// files in progress. Tests that write take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    pub(super) fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn nothing_appears_until_commit_and_a_dropped_file_leaves_no_trace() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        fs::write(&target, b"old").unwrap();

        let mut file = OutputFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        drop(file);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.png"]);

        AtomicFile::write(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.png"]);
    }

    #[test]
    fn a_new_file_follows_the_umask_and_a_replaced_one_keeps_its_mode() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        // The umask is the process's; read it from a file the kernel creates.
        let probe = dir.path().join("probe");
        OpenOptions::new().write(true).create_new(true).mode(0o666).open(&probe).unwrap();
        let expected = mode(&probe);

        let new = dir.path().join("new.png");
        OutputFile::write(&new, b"x").unwrap();
        assert_eq!(mode(&new), expected, "0666 less the umask, as open() gives");

        let old = dir.path().join("old.png");
        fs::write(&old, b"old").unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o640)).unwrap();
        OutputFile::write(&old, b"x").unwrap();
        assert_eq!(mode(&old), 0o640);
    }
}
