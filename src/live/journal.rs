//! The push journal: every acknowledged push, written and fsynced before its reply, in
//! `DIR/.idc-journal` (a dot file, which the catalog never lists).
//!
//! A record is the push's `PushBarsRequest` as protobuf, framed as `length (u32 LE)`,
//! `CRC-32 of the bytes (u32 LE)`, the bytes. A record is one `write` and the file is fsynced
//! (`fdatasync`) after it, so a crash leaves at most one record half written, always the last:
//! reading stops at the first record whose length runs past the end or whose checksum fails, and
//! the file is cut there. A push that was not acknowledged is therefore in the journal whole or
//! not at all.
//!
//! Fsyncs are shared (group commit, [`Syncer`]): a push writes its record under the store's lock,
//! and its reply waits, on no thread, until the journal's sync thread has fsynced the file after
//! that write. The thread syncs for every record waited for at once, so concurrent pushes cost
//! one fsync between them, not one each, and a reply still waits for its own record to be on
//! disk. A failed fsync is sticky: the pages it
//! could not write may be gone (Linux forgets them), so every later push is refused until a
//! restart reads back what the journal really holds.
//!
//! The journal only holds what the instrument files do not have yet: once the pushes are folded
//! into their files, it is replaced (written beside, fsynced, renamed over) by one that restates
//! only the bars still forming, the one thing a CSV file cannot say.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;

use futures::channel::oneshot;

use protobuf::Message;

use crate::protocol::indicators as pb;

/// The journal's name in the catalog directory.
pub const FILE_NAME: &str = ".idc-journal";
/// The largest record read back: far above any request `--max-receive-message` lets in.
const MAX_RECORD: usize = 64 << 20;

/// The open journal, positioned at its end.
pub struct Journal {
    path: PathBuf,
    file: Arc<File>,
    /// Records written since it was opened: the last one's sequence number.
    written: u64,
}

impl Journal {
    /// Opens (or creates) the journal of `dir`, and returns it with the whole records it holds;
    /// a torn last record is cut off.
    pub fn open(dir: &Path) -> io::Result<(Journal, Vec<pb::PushBarsRequest>)> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, whole) = parse(&bytes);
        if whole < bytes.len() {
            log::warn!(
                "push journal {}: {} bytes at its end are a record cut short (a crash while it was written, \
                 before its push was acknowledged); dropping them",
                path.display(),
                bytes.len() - whole
            );
            file.set_len(whole as u64)?;
            file.sync_all()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((Journal { path, file: Arc::new(file), written: 0 }, records))
    }

    /// Writes `request` at the end, not yet synced: its push is acknowledged once the
    /// [`Syncer`] has synced [`Journal::sync_point`] taken after it.
    pub fn write(&mut self, request: &pb::PushBarsRequest) -> io::Result<()> {
        let record = frame(request)?;
        let mut file: &File = &self.file;
        let at = file.seek(SeekFrom::End(0))?;
        if let Err(e) = file.write_all(&record) {
            // Whatever part of the record was written must not be read back as the next one's
            // start: cut it off (a failed push was not acknowledged).
            let _ = file.set_len(at);
            return Err(e);
        }
        self.written += 1;
        Ok(())
    }

    /// What an fsync started now makes durable: the records written so far, in this file (the
    /// ones before a [`Journal::replace`] are durable already).
    pub fn sync_point(&self) -> (u64, Arc<File>) {
        (self.written, Arc::clone(&self.file))
    }

    /// The sequence number of the last record written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Replaces the journal by one holding just `records`, atomically: written beside it,
    /// fsynced, renamed over it, and the directory fsynced.
    pub fn replace(&mut self, records: &[pb::PushBarsRequest]) -> io::Result<()> {
        let dir = self.path.parent().expect("the journal is in a directory");
        let mut next = tempfile::Builder::new().prefix(".idc-journal.").tempfile_in(dir)?;
        for record in records {
            next.write_all(&frame(record)?)?;
        }
        next.as_file().sync_all()?;
        next.persist(&self.path).map_err(|e| e.error)?;
        sync_dir(dir)?;
        self.file = Arc::new(OpenOptions::new().read(true).append(true).open(&self.path)?);
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Group commit: a thread that fsyncs the journal for the pushes waiting on it, and tells each
/// when its record is on disk (see the module doc). No push holds a thread while it waits.
pub struct Syncer {
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<Synced>,
    wake: Condvar,
}

#[derive(Default)]
struct Synced {
    waiting: Vec<Waiter>,
    /// Every record up to this sequence number is on disk.
    upto: u64,
    /// The fsync that failed, for every push after it.
    failed: Option<(io::ErrorKind, String)>,
    closed: bool,
}

/// A push waiting for record `seq`, written to `file`.
struct Waiter {
    seq: u64,
    file: Arc<File>,
    done: oneshot::Sender<io::Result<()>>,
}

impl Synced {
    fn failure(&self) -> Option<io::Error> {
        self.failed.as_ref().map(|(kind, message)| io::Error::new(*kind, message.clone()))
    }

    /// Tells the waiters that are on disk now (all of them, with the error, after a failure).
    fn resolve(&mut self) {
        let (upto, failure) = (self.upto, self.failure());
        for waiter in std::mem::take(&mut self.waiting) {
            match &failure {
                Some(e) => drop(waiter.done.send(Err(io::Error::new(e.kind(), e.to_string())))),
                None if waiter.seq <= upto => drop(waiter.done.send(Ok(()))),
                None => self.waiting.push(waiter),
            }
        }
    }
}

impl Syncer {
    pub fn start() -> io::Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new().name("idc-journal-sync".into()).spawn(move || worker.run())?;
        Ok(Syncer { shared, thread: Some(thread) })
    }

    /// Resolves once record `seq` (written to `file`, the journal's file then) is on disk.
    pub fn after(&self, (seq, file): (u64, Arc<File>)) -> oneshot::Receiver<io::Result<()>> {
        let (done, receiver) = oneshot::channel();
        let mut state = self.shared.lock();
        state.waiting.push(Waiter { seq, file, done });
        state.resolve();
        self.shared.wake.notify_one();
        receiver
    }

    /// Records up to `seq` are on disk by other means (a [`Journal::replace`]).
    pub fn synced(&self, seq: u64) {
        let mut state = self.shared.lock();
        state.upto = state.upto.max(seq);
        state.resolve();
    }

    /// Why pushes are refused: an fsync failed.
    pub fn failure(&self) -> Option<io::Error> {
        self.shared.lock().failure()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Synced> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One fsync at a time, of the newest record waited for: every older one is in the same file,
    /// or in one that a replace made durable.
    fn run(&self) {
        let mut state = self.lock();
        loop {
            while state.waiting.is_empty() && !state.closed {
                state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            let Some(newest) = state.waiting.iter().max_by_key(|w| w.seq) else { return };
            let (target, file) = (newest.seq, Arc::clone(&newest.file));
            drop(state);
            let synced = file.sync_data();
            state = self.lock();
            match synced {
                Ok(()) => state.upto = state.upto.max(target),
                Err(e) => {
                    log::error!("push journal: fsync failed ({e}); refusing pushes until a restart");
                    let message = format!("the push journal could not be synced ({e}); restart the server");
                    state.failed = Some((e.kind(), message));
                }
            }
            state.resolve();
        }
    }
}

impl Drop for Syncer {
    /// Syncs what is waited for, then ends the thread.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A record's bytes: length, checksum, message.
fn frame(request: &pb::PushBarsRequest) -> io::Result<Vec<u8>> {
    let body = request.write_to_bytes().map_err(io::Error::other)?;
    let mut record = Vec::with_capacity(body.len() + 8);
    record.extend_from_slice(&(body.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    record.extend_from_slice(&body);
    Ok(record)
}

/// The whole records of `bytes`, and how many bytes they take.
fn parse(bytes: &[u8]) -> (Vec<pb::PushBarsRequest>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let Some(body) = bytes.get(at + 8..at + 8 + len).filter(|_| len <= MAX_RECORD) else { break };
        if crc32fast::hash(body) != crc {
            break;
        }
        let Ok(request) = pb::PushBarsRequest::parse_from_bytes(body) else { break };
        records.push(request);
        at += 8 + len;
    }
    (records, at)
}

/// fsyncs a directory, so that a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(symbol: &str, date: &str) -> pb::PushBarsRequest {
        let bar = pb::Bar { date: date.into(), open: 1.0, high: 2.0, low: 0.5, close: 1.5, ..Default::default() };
        pb::PushBarsRequest { symbol: symbol.into(), bars: vec![bar], ..Default::default() }
    }

    #[test]
    fn records_come_back_and_a_torn_one_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut journal, records) = Journal::open(dir.path()).unwrap();
            assert!(records.is_empty());
            journal.write(&push("A", "2024-01-02")).unwrap();
            journal.write(&push("B", "2024-01-03")).unwrap();
        }
        let path = dir.path().join(FILE_NAME);
        let whole = std::fs::metadata(&path).unwrap().len();
        // A third record, cut short as a crash would leave it.
        let third = frame(&push("C", "2024-01-04")).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&third[..third.len() - 3]).unwrap();
        drop(file);
        let (mut journal, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records, [push("A", "2024-01-02"), push("B", "2024-01-03")]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        // A flipped byte fails its checksum: that record and everything after it are dropped.
        journal.replace(&[push("D", "2024-01-05"), push("E", "2024-01-06")]).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let first = frame(&push("D", "2024-01-05")).unwrap().len();
        bytes[first + 9] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let (_, records) = Journal::open(dir.path()).unwrap();
        assert_eq!(records, [push("D", "2024-01-05")]);
    }
}
