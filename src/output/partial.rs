//! The temporary file beside a regular file being replaced, and the registry of those still in
//! progress, which a signal handler empties before the process exits without destructors.

use std::fs::{self, File, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

use super::resolve::{reason, refuse};

/// Temporary files not yet renamed or dropped, for [`remove_partial_files`].
static PARTIAL_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn partial_files() -> MutexGuard<'static, Vec<PathBuf>> {
    PARTIAL_FILES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deletes every temporary file of an [`OutputFile`] still in progress. For signal handlers:
/// the process is about to exit without running destructors. A file being renamed holds the
/// registry until it is in place, so this deletes it before or not at all.
pub fn remove_partial_files() {
    for path in partial_files().iter() {
        let _ = fs::remove_file(path);
    }
}

/// The temporary file of a regular file, registered for [`remove_partial_files`] until it is
/// renamed or deleted.
pub(super) struct Partial {
    destination: PathBuf,
    folder: PathBuf,
    /// `None` once renamed or deleted.
    pub(super) file: Option<NamedTempFile>,
}

impl Partial {
    pub(super) fn create(destination: PathBuf, existing: Option<Metadata>) -> io::Result<Partial> {
        let folder = match destination.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = destination.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".part");
        if existing.is_none() {
            // A new file gets what open() gives it: 0666 less the umask, applied by the kernel
            // as it creates the file. A replacement starts private (0600) and takes the old
            // file's mode below.
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        // Say what is wrong with the folder itself, rather than that a hidden file in it failed.
        match fs::metadata(&folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(refuse(io::ErrorKind::InvalidInput, format!("{} is not a folder", folder.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let message = format!("the folder {} does not exist; create it first", folder.display());
                return Err(refuse(io::ErrorKind::NotFound, message));
            }
            Err(e) => return Err(reason(e, format!("cannot use the folder {}", folder.display()))),
        }
        let create_error = |e: io::Error| reason(e, format!("cannot create a file in the folder {}", folder.display()));
        // Registered before any byte is written; the registry is held across the creation so
        // that a signal handler never misses the file.
        let mut registry = partial_files();
        let file = builder.tempfile_in(&folder).map_err(create_error)?;
        registry.push(file.path().to_path_buf());
        drop(registry);
        let partial = Partial { destination, folder, file: Some(file) };
        if let Some(existing) = existing {
            let file = partial.file.as_ref().expect("just created").as_file();
            // Only root may give a file away; a user keeps their own group. Then the mode, which
            // a change of owner may have cleared set-id bits from.
            let _ = std::os::unix::fs::fchown(file, Some(existing.uid()), Some(existing.gid()));
            file.set_permissions(existing.permissions()).map_err(|e| {
                reason(e, format!("cannot give a file in {} the mode of the old one", partial.folder.display()))
            })?;
        }
        Ok(partial)
    }

    pub(super) fn commit(mut self) -> io::Result<()> {
        let file = self.file.as_ref().expect("committed once");
        checkpoint("before sync", file.path());
        file.as_file().sync_all()?;
        {
            // Still registered: a signal before this point deletes the file; one that comes
            // now waits for the rename, after which there is nothing to delete.
            let mut registry = partial_files();
            let file = self.file.take().expect("committed once");
            let path = file.path().to_path_buf();
            checkpoint("before rename", &path);
            // On failure the temporary file comes back in the error and is deleted with it.
            let renamed = file.persist(&self.destination).map(drop).map_err(|e| e.error);
            registry.retain(|p| p != &path);
            renamed?;
        }
        checkpoint("renamed", &self.destination);
        // The rename is durable only once the folder that records it is on disk. The file is in
        // place already, so a failure here is not worth failing the whole output for.
        if let Err(e) = File::open(&self.folder).and_then(|folder| folder.sync_all()) {
            log::warn!(
                "cannot sync the folder {} after writing {}: {e}",
                self.folder.display(),
                self.destination.display()
            );
        } else {
            checkpoint("folder synced", &self.folder);
        }
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let path = file.path().to_path_buf();
            // Deleted first, then forgotten: a signal in between finds nothing to delete.
            drop(file);
            partial_files().retain(|p| p != &path);
        }
    }
}

/// Called at each step of a commit, in tests, to observe it or to play a signal there.
#[cfg(test)]
type Checkpoint = Option<Box<dyn FnMut(&str, &Path)>>;

#[cfg(test)]
thread_local! {
    static CHECKPOINT: std::cell::RefCell<Checkpoint> = const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
fn checkpoint(step: &str, path: &Path) {
    CHECKPOINT.with(|hook| {
        if let Some(hook) = hook.borrow_mut().as_mut() {
            hook(step, path);
        }
    });
}

#[cfg(not(test))]
fn checkpoint(_step: &str, _path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{names, serial};
    use crate::output::OutputFile;

    fn on_checkpoint(hook: impl FnMut(&str, &Path) + 'static) {
        CHECKPOINT.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    fn registered(path: &Path) -> bool {
        partial_files().iter().any(|p| p == path)
    }

    #[test]
    fn a_signal_handler_can_remove_files_in_progress() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let mut file = OutputFile::create(&dir.path().join("out.png")).unwrap();
        file.write_all(b"half").unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        remove_partial_files();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        drop(file);
    }

    #[test]
    fn the_temporary_file_stays_registered_until_it_is_renamed_and_the_folder_is_synced_after() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        let steps = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = std::rc::Rc::clone(&steps);
        on_checkpoint(move |step, path| {
            // The registry is held across the rename; look at it only outside.
            let registered = step == "before sync" && registered(path);
            seen.borrow_mut().push((step.to_string(), registered));
        });
        let mut file = OutputFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        on_checkpoint(|_, _| {});
        let steps: Vec<(String, bool)> = steps.borrow().clone();
        let order: Vec<&str> = steps.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(order, ["before sync", "before rename", "renamed", "folder synced"]);
        assert!(steps[0].1, "registered while it is synced");
        assert_eq!(names(dir.path()), ["out.png"]);
        assert!(partial_files().iter().all(|p| !p.starts_with(dir.path())), "forgotten once renamed");
    }

    #[test]
    fn a_signal_while_the_file_is_synced_leaves_no_partial_file_and_the_old_file_intact() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.png");
        fs::write(&target, b"old").unwrap();
        let mut file = OutputFile::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        // What a signal handler on another thread does while the file is being synced.
        on_checkpoint(|step, _| {
            if step == "before sync" {
                remove_partial_files();
            }
        });
        let committed = file.commit();
        on_checkpoint(|_, _| {});
        assert!(committed.is_err(), "nothing left to rename");
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.png"], "no partial file left behind");
    }
}
