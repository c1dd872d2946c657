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

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tempfile::NamedTempFile;

/// The former name of [`OutputFile`], for callers written before it handled stdout and devices.
pub type AtomicFile = OutputFile;

/// The most symbolic links followed to a dangling link's target, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

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

/// What a destination path turned out to be.
#[derive(Debug)]
enum Resolved {
    Stdout,
    /// A character device or FIFO (or, through a magic link of `/proc`, a deleted file), opened
    /// through the user's path.
    Direct(File),
    /// A regular file to replace (or create): never a symbolic link.
    Replace {
        destination: PathBuf,
        existing: Option<Metadata>,
    },
}

/// An error with the reason a user can act on.
fn refuse(kind: io::ErrorKind, message: String) -> io::Error {
    io::Error::new(kind, message)
}

/// `what: the system's reason`, keeping its kind.
fn reason(error: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

fn resolve(path: &Path, flag: &str) -> io::Result<Resolved> {
    if path.as_os_str() == "-" {
        return Ok(Resolved::Stdout);
    }
    let is_folder = || refuse(io::ErrorKind::InvalidInput, "it is a folder; give a file name in it".into());
    if path.as_os_str().is_empty() {
        return Err(refuse(io::ErrorKind::InvalidInput, "the path is empty; give a file name".into()));
    }
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(is_folder());
    }
    let link = fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    // `metadata` follows every link, /proc's magic links (`/dev/stdout` → `/proc/self/fd/1` →
    // `pipe:[…]`) included.
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound && link => {
            let target = dangling_target(path, flag)?;
            return Ok(Resolved::Replace { destination: target, existing: None });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Resolved::Replace { destination: path.to_path_buf(), existing: None })
        }
        Err(e) => return Err(reason(e, "cannot look it up")),
    };
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(is_folder());
    }
    if !(kind.is_file() || kind.is_char_device() || kind.is_fifo()) {
        let what = if kind.is_socket() {
            "a socket"
        } else if kind.is_block_device() {
            "a block device"
        } else {
            "not a file"
        };
        return Err(refuse(
            io::ErrorKind::InvalidInput,
            format!("it is {what}; give a regular file, a character device, a FIFO, or - for stdout"),
        ));
    }
    if meta.permissions().mode() & 0o200 == 0 {
        let shown =
            if link { fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()) } else { path.to_path_buf() };
        let what = if link { format!("it links to {}, which", shown.display()) } else { "it".to_string() };
        return Err(refuse(
            io::ErrorKind::PermissionDenied,
            format!(
                "{what} is read-only (mode {:04o}); make it writable with `chmod u+w {}`, or give another {flag}",
                meta.permissions().mode() & 0o7777,
                shown.display()
            ),
        ));
    }
    // Opened as Python's open() opens it, without truncating: the kernel has its say on the
    // permissions (for a user who is not root) and on following links (fs.protected_symlinks).
    // A FIFO's open waits for a reader, as Python's does.
    let opened = OpenOptions::new().write(true).open(path).map_err(|e| reason(e, "cannot open it for writing"))?;
    if !kind.is_file() {
        return Ok(Resolved::Direct(opened));
    }
    let existing = opened.metadata()?;
    // A link is replaced at its final target. `canonicalize` fails, or lands on another file, only
    // for a magic link of /proc to a deleted file, which is then written through.
    let destination = if link {
        fs::canonicalize(path)
            .ok()
            .filter(|t| fs::metadata(t).is_ok_and(|m| (m.dev(), m.ino()) == (existing.dev(), existing.ino())))
    } else {
        Some(path.to_path_buf())
    };
    match destination {
        Some(destination) => Ok(Resolved::Replace { destination, existing: Some(existing) }),
        None => {
            opened.set_len(0)?;
            Ok(Resolved::Direct(opened))
        }
    }
}

/// The path a dangling symbolic link finally points to, following a chain of links.
///
/// A link in a folder that anyone may write to and only owners may delete from (`/tmp`: sticky
/// and writable by all) is followed only when the folder's owner made it: another user could
/// have planted it there to make this process create a file of its choosing, which Linux's
/// `fs.protected_symlinks` forbids `open` too.
fn dangling_target(link: &Path, flag: &str) -> io::Result<PathBuf> {
    let mut current = link.to_path_buf();
    for _ in 0..MAX_LINKS {
        let folder = match current.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let planted = match (fs::symlink_metadata(&current), fs::metadata(&folder)) {
            (Ok(link), Ok(folder)) => folder.permissions().mode() & 0o1002 == 0o1002 && link.uid() != folder.uid(),
            _ => false,
        };
        if planted {
            return Err(refuse(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is a symbolic link to a file that does not exist, in {}, a folder anyone may write to, \
                     and not the folder owner's: it is not followed; create the file it points to first, \
                     or give another {flag}",
                    current.display(),
                    folder.display()
                ),
            ));
        }
        let next =
            fs::read_link(&current).map_err(|e| reason(e, format!("cannot read the link {}", current.display())))?;
        current = if next.is_relative() { folder.join(next) } else { next };
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => continue,
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(reason(e, format!("cannot look up {}, which it links to", current.display()))),
        }
    }
    Err(refuse(io::ErrorKind::InvalidInput, format!("it is a chain of more than {MAX_LINKS} symbolic links")))
}

/// The temporary file of a regular file, registered for [`remove_partial_files`] until it is
/// renamed or deleted.
struct Partial {
    destination: PathBuf,
    folder: PathBuf,
    /// `None` once renamed or deleted.
    file: Option<NamedTempFile>,
}

impl Partial {
    fn create(destination: PathBuf, existing: Option<Metadata>) -> io::Result<Partial> {
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

    fn commit(mut self) -> io::Result<()> {
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
    use std::os::unix::fs::{symlink, OpenOptionsExt};

    use super::*;

    /// The registry is the process's: one test's [`remove_partial_files`] would delete another's
    /// files in progress. Tests that write take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn on_checkpoint(hook: impl FnMut(&str, &Path) + 'static) {
        CHECKPOINT.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
    }

    fn registered(path: &Path) -> bool {
        partial_files().iter().any(|p| p == path)
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

    #[test]
    fn a_symlink_is_followed_to_its_target_which_is_replaced() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/chart.png");
        fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.png");
        let chain = dir.path().join("chain.png");
        symlink("real/chart.png", &link).unwrap();
        symlink("link.png", &chain).unwrap();

        OutputFile::write(&chain, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("real/chart.png"));
        assert_eq!(fs::read_link(&chain).unwrap(), Path::new("link.png"));
        assert_eq!(names(dir.path()), ["chain.png", "link.png", "real"]);
        assert_eq!(names(&dir.path().join("real")), ["chart.png"]);

        // A dangling link gets its target, as open() would create it.
        let dangling = dir.path().join("dangling.png");
        symlink("real/new.png", &dangling).unwrap();
        OutputFile::write(&dangling, b"created").unwrap();
        assert_eq!(fs::read(dir.path().join("real/new.png")).unwrap(), b"created");
        assert!(fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());

        let looping = dir.path().join("loop.png");
        symlink("loop.png", &looping).unwrap();
        assert!(OutputFile::create(&looping).is_err());
    }

    #[test]
    fn a_dangling_link_planted_in_a_shared_folder_is_not_followed() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        let owner = fs::metadata(&shared).unwrap().uid();
        let planted = shared.join("chart.png");
        let victim = dir.path().join("victim");
        symlink(&victim, &planted).unwrap();
        // Another user's link: only root can give one away.
        let someone_else = if owner == 0 { 65534 } else { 0 };
        if std::os::unix::fs::lchown(&planted, Some(someone_else), None).is_err() {
            return;
        }
        let e = OutputFile::create_for(&planted, "--output").err().expect("refused").to_string();
        assert!(e.contains("anyone may write to") && e.contains("another --output"), "{e}");
        assert!(!victim.exists());

        // The folder owner's own link is followed.
        std::os::unix::fs::lchown(&planted, Some(owner), None).unwrap();
        OutputFile::write(&planted, b"chart").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"chart");
    }

    #[test]
    fn devices_and_fifos_are_written_directly() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null.png");
        symlink("/dev/null", &null).unwrap();
        let resolved = resolve(&null, "--output").unwrap();
        assert!(matches!(&resolved, Resolved::Direct(_)), "{resolved:?}");
        OutputFile::write(&null, b"gone").unwrap();
        assert_eq!(fs::read_link(&null).unwrap(), Path::new("/dev/null"));
        assert!(matches!(resolve(Path::new("-"), "--output").unwrap(), Resolved::Stdout));
    }

    #[test]
    fn folders_read_only_files_and_sockets_are_refused_with_a_reason() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let e = OutputFile::create(dir.path()).err().unwrap();
        assert!(e.to_string().contains("it is a folder"), "{e}");

        let locked = dir.path().join("locked.png");
        fs::write(&locked, b"keep").unwrap();
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
        let e = OutputFile::create_for(&locked, "--output").err().unwrap().to_string();
        assert!(
            e.contains("read-only (mode 0444)") && e.contains("chmod u+w") && e.contains("another --output"),
            "{e}"
        );
        let link = dir.path().join("link.png");
        symlink(&locked, &link).unwrap();
        let e = OutputFile::create(&link).err().unwrap().to_string();
        assert!(e.contains(&format!("links to {}", locked.display())) && e.contains("read-only"), "{e}");
        assert_eq!(fs::read(&locked).unwrap(), b"keep");

        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let e = OutputFile::create(&socket).err().unwrap().to_string();
        assert!(e.contains("a socket"), "{e}");
        assert_eq!(names(dir.path()), ["link.png", "locked.png", "socket"]);
    }
}
