//! Files that appear whole or not at all.
//!
//! Bytes go to a temporary file beside the destination, which is renamed over the destination
//! only by [`AtomicFile::commit`]. Dropping an uncommitted `AtomicFile` deletes the temporary
//! file, so an error or a cut stream never leaves a truncated file, and an earlier file at the
//! destination survives intact.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

pub struct AtomicFile {
    destination: PathBuf,
    partial: NamedTempFile,
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
        Ok(AtomicFile { destination: destination.to_path_buf(), partial })
    }

    /// Writes `bytes` to `destination` in one go.
    pub fn write(destination: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = AtomicFile::create(destination)?;
        file.write_all(bytes)?;
        file.commit()
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.partial.write_all(bytes)
    }

    /// Flushes the bytes to disk and puts the file in place.
    pub fn commit(self) -> io::Result<()> {
        self.partial.as_file().sync_all()?;
        set_permissions(self.partial.path(), &self.destination)?;
        self.partial.persist(&self.destination).map_err(|e| e.error)?;
        Ok(())
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
}
