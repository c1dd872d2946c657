//! Files that appear whole or not at all.
//!
//! Bytes go to a temporary file beside the destination, which is renamed over the destination
//! only by [`AtomicFile::commit`]. Dropping an uncommitted `AtomicFile` deletes the temporary
//! file, so an error or a cut stream never leaves a truncated file, and an earlier file at the
//! destination survives intact. A process stopped by a signal runs no destructors, so a binary
//! that handles SIGINT calls [`remove_partial_files`] before it exits.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

/// Temporary files not yet committed or dropped, for [`remove_partial_files`].
static PARTIAL_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary file of an [`AtomicFile`] still in progress. For signal handlers:
/// the process is about to exit without running destructors.
pub fn remove_partial_files() {
    let partial = PARTIAL_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for path in partial.iter() {
        let _ = fs::remove_file(path);
    }
}

fn forget_partial(path: &Path) {
    let mut partial = PARTIAL_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    partial.retain(|p| p != path);
}

pub struct AtomicFile {
    destination: PathBuf,
    /// `None` once committed.
    partial: Option<NamedTempFile>,
}

impl AtomicFile {
    /// Starts a file that will become `destination`.
    pub fn create(destination: &Path) -> io::Result<AtomicFile> {
        let folder = match destination.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = destination.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let partial = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".part").tempfile_in(folder)?;
        PARTIAL_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(partial.path().to_path_buf());
        Ok(AtomicFile { destination: destination.to_path_buf(), partial: Some(partial) })
    }

    /// Writes `bytes` to `destination` in one go.
    pub fn write(destination: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = AtomicFile::create(destination)?;
        file.write_all(bytes)?;
        file.commit()
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.partial.as_mut().expect("not yet committed").write_all(bytes)
    }

    /// Flushes the bytes to disk and puts the file in place.
    pub fn commit(mut self) -> io::Result<()> {
        let partial = self.partial.take().expect("committed once");
        let path = partial.path().to_path_buf();
        forget_partial(&path);
        partial.as_file().sync_all()?;
        set_permissions(&path, &self.destination)?;
        // On failure the temporary file comes back in the error and is deleted with it.
        partial.persist(&self.destination).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // Dropping `partial` right after this deletes its file.
        if let Some(partial) = &self.partial {
            forget_partial(partial.path());
        }
    }
}

/// A temporary file is private (0600); the file it becomes should look like any other file the
/// user writes, so it keeps the permissions of the file it replaces, or gets 0644.
fn set_permissions(partial: &Path, destination: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let permissions = match fs::metadata(destination) {
            Ok(existing) => existing.permissions(),
            Err(_) => fs::Permissions::from_mode(0o644),
        };
        fs::set_permissions(partial, permissions)?;
    }
    #[cfg(not(unix))]
    let _ = (partial, destination);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_appears_until_commit_and_a_dropped_file_leaves_no_trace() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        fs::write(&target, b"old").unwrap();

        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        drop(file);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);

        AtomicFile::write(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_signal_handler_can_remove_files_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = AtomicFile::create(&dir.path().join("out.png")).unwrap();
        file.write_all(b"half").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        remove_partial_files();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        drop(file);
    }
}
