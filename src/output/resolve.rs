//! What the path the user gave turns out to be, looked up once when the output is created:
//! stdout, a device or FIFO to write directly, or a regular file to replace (following symbolic
//! links to the file they finally name); and the refusals, each with a reason a user can act on.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most symbolic links followed to a dangling link's target, as Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// What a destination path turned out to be.
#[derive(Debug)]
pub(super) enum Resolved {
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
pub(super) fn refuse(kind: io::ErrorKind, message: String) -> io::Error {
    io::Error::new(kind, message)
}

/// `what: the system's reason`, keeping its kind.
pub(super) fn reason(error: io::Error, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

/// Looks `path` up and says how to write it; `flag` (`--output`) is what a refusal suggests
/// changing.
pub(super) fn resolve(path: &Path, flag: &str) -> io::Result<Resolved> {
    if path.as_os_str() == "-" {
        return Ok(Resolved::Stdout);
    }
    check_form(path)?;
    let link = fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false);
    // `metadata` follows every link, /proc's magic links (`/dev/stdout` → `/proc/self/fd/1` →
    // `pipe:[…]`) included.
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let destination = if link { dangling_target(path, flag)? } else { path.to_path_buf() };
            return Ok(Resolved::Replace { destination, existing: None });
        }
        Err(e) => return Err(reason(e, "cannot look it up")),
    };
    check_kind(&meta)?;
    check_writable(path, &meta, link, flag)?;
    // Opened as Python's open() opens it, without truncating: the kernel has its say on the
    // permissions (for a user who is not root) and on following links (fs.protected_symlinks).
    // A FIFO's open waits for a reader, as Python's does.
    let opened = OpenOptions::new().write(true).open(path).map_err(|e| reason(e, "cannot open it for writing"))?;
    if !meta.file_type().is_file() {
        return Ok(Resolved::Direct(opened));
    }
    replace_at_target(path, opened, link)
}

fn is_folder() -> io::Error {
    refuse(io::ErrorKind::InvalidInput, "it is a folder; give a file name in it".into())
}

/// What the path's text alone shows: empty, or a folder (a trailing `/`).
fn check_form(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() {
        return Err(refuse(io::ErrorKind::InvalidInput, "the path is empty; give a file name".into()));
    }
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(is_folder());
    }
    Ok(())
}

/// A regular file, a character device or a FIFO may be written; a folder, a socket or a block
/// device may not.
fn check_kind(meta: &Metadata) -> io::Result<()> {
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(is_folder());
    }
    if kind.is_file() || kind.is_char_device() || kind.is_fifo() {
        return Ok(());
    }
    let what = if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a file"
    };
    Err(refuse(
        io::ErrorKind::InvalidInput,
        format!("it is {what}; give a regular file, a character device, a FIFO, or - for stdout"),
    ))
}

/// A file without its owner's write bit is refused, even for root, as a safeguard: the message
/// names the file a link leads to, since that is the one to `chmod`.
fn check_writable(path: &Path, meta: &Metadata, link: bool, flag: &str) -> io::Result<()> {
    if meta.permissions().mode() & 0o200 != 0 {
        return Ok(());
    }
    let shown = if link { fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()) } else { path.to_path_buf() };
    let what = if link { format!("it links to {}, which", shown.display()) } else { "it".to_string() };
    Err(refuse(
        io::ErrorKind::PermissionDenied,
        format!(
            "{what} is read-only (mode {:04o}); make it writable with `chmod u+w {}`, or give another {flag}",
            meta.permissions().mode() & 0o7777,
            shown.display()
        ),
    ))
}

/// An existing regular file, `opened` through `path`, is replaced where it is; a link at its
/// final target. `canonicalize` fails, or lands on another file, only for a magic link of /proc
/// to a deleted file, which is then written through.
fn replace_at_target(path: &Path, opened: File, link: bool) -> io::Result<Resolved> {
    let existing = opened.metadata()?;
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::output::tests::{names, serial};
    use crate::output::OutputFile;

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
