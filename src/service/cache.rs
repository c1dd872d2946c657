//! What `GetMACDGraph` keeps between calls: the graph file's bytes, and recently rendered charts.
//!
//! Both are small and bounded (see [`crate::config::GRAPH_FILE_CACHE_MAX`],
//! [`crate::config::CHART_CACHE_CHARTS`] and [`crate::config::CHART_CACHE_BYTES`]). The chart
//! cache is a few lines over a `Vec` rather than a crate: it holds a few dozen entries, so a
//! linear scan costs nothing next to a render, and the `lru` crate carried advisories
//! (RUSTSEC-2021-0130, RUSTSEC-2026-0002) we would rather not take on.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::domain::chart::ChartSize;

/// What identifies a regular file's content without reading it: a rename brings another inode, a
/// write in place another modification (and change) time, a truncation another size.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileIdentity {
    pub fn of(meta: &Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// When the file last changed, as the file system recorded it.
    fn changed_at(&self) -> SystemTime {
        let (secs, nanos) = self.changed;
        let since_epoch = Duration::new(secs.max(0) as u64, nanos.clamp(0, 999_999_999) as u32);
        SystemTime::UNIX_EPOCH + since_epoch
    }
}

/// A file that changed less than this long before it was read is not kept. File times come from
/// a coarse clock (a few milliseconds a tick), so two writes within one tick leave the same
/// times: bytes read between them would be kept under an identity that the second write does not
/// change. Once a file has been still for longer than a tick before it is read, any later write
/// gets a later time. (Git calls this the "racy" case and solves it the same way.)
const SETTLED: Duration = Duration::from_millis(100);

/// The last graph file read whole, with the identity it had while it was read.
pub struct FileCache {
    last: Mutex<Option<(FileIdentity, Arc<[u8]>)>>,
    settled: Duration,
}

impl Default for FileCache {
    fn default() -> Self {
        FileCache { last: Mutex::new(None), settled: SETTLED }
    }
}

/// Why a file could not be read whole.
pub enum ReadWhole {
    Io(io::Error),
    /// The file's identity changed while it was read: it is being written.
    Changed,
}

impl FileCache {
    /// The bytes of `file`, whose identity is `identity`: from memory when they were read before
    /// with the same identity, else read now and kept. A file that changes while it is read is
    /// not kept, and its bytes are not returned. `on_read` is called when the file is read.
    pub fn bytes(
        &self,
        file: &mut File,
        identity: FileIdentity,
        on_read: impl FnOnce(),
    ) -> Result<Arc<[u8]>, ReadWhole> {
        if let Some((known, bytes)) = &*self.last.lock().unwrap_or_else(PoisonError::into_inner) {
            if *known == identity {
                return Ok(Arc::clone(bytes));
            }
        }
        on_read();
        let read_at = SystemTime::now();
        let mut bytes = Vec::with_capacity(identity.len as usize);
        file.by_ref().take(identity.len).read_to_end(&mut bytes).map_err(ReadWhole::Io)?;
        let after = FileIdentity::of(&file.metadata().map_err(ReadWhole::Io)?);
        if after != identity || bytes.len() as u64 != identity.len {
            return Err(ReadWhole::Changed);
        }
        let bytes: Arc<[u8]> = bytes.into();
        let settled = identity.changed_at() + self.settled < read_at;
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        *last = settled.then(|| (identity, Arc::clone(&bytes)));
        Ok(bytes)
    }
}

/// What a chart is drawn from: the bars `bars` (indices into the loaded data) at `size`. The data
/// and the MACD parameters are fixed for a server's life, so they need no place in the key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ChartKey {
    pub bars: Range<usize>,
    pub size: ChartSize,
}

/// Recently rendered charts, most recently used last, keyed by what they were drawn from: a
/// [`ChartKey`] for `GetMACDGraph`'s, v2's own key for `Chart`'s.
pub struct ChartCache<K = ChartKey> {
    max_charts: usize,
    max_bytes: usize,
    entries: Mutex<Vec<(K, Arc<[u8]>)>>,
}

impl<K: PartialEq> ChartCache<K> {
    pub fn new(max_charts: usize, max_bytes: usize) -> ChartCache<K> {
        ChartCache { max_charts, max_bytes, entries: Mutex::new(Vec::new()) }
    }

    pub fn get(&self, key: &K) -> Option<Arc<[u8]>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let at = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(at);
        let png = Arc::clone(&entry.1);
        entries.push(entry);
        Some(png)
    }

    /// Keeps `png`, dropping the least recently used charts to stay within bounds; a chart larger
    /// than the whole budget is not kept.
    pub fn insert(&self, key: K, png: Arc<[u8]>) {
        if png.len() > self.max_bytes || self.max_charts == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(k, _)| *k != key);
        entries.push((key, png));
        let mut bytes: usize = entries.iter().map(|(_, png)| png.len()).sum();
        while entries.len() > self.max_charts || bytes > self.max_bytes {
            let (_, dropped) = entries.remove(0);
            bytes -= dropped.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn key(from: usize) -> ChartKey {
        ChartKey { bars: from..from + 10, size: ChartSize { width: 320, height: 240 } }
    }

    #[test]
    fn chart_cache_drops_the_least_recently_used_by_count_and_by_bytes() {
        let cache = ChartCache::new(2, 100);
        cache.insert(key(0), vec![0; 10].into());
        cache.insert(key(1), vec![1; 10].into());
        assert!(cache.get(&key(0)).is_some()); // 0 is now the most recent
        cache.insert(key(2), vec![2; 10].into());
        assert!(cache.get(&key(1)).is_none(), "1 was the least recently used");
        assert_eq!(cache.get(&key(0)).unwrap()[0], 0);
        assert_eq!(cache.get(&key(2)).unwrap()[0], 2);
        cache.insert(key(3), vec![3; 95].into());
        assert!(cache.get(&key(0)).is_none() && cache.get(&key(2)).is_none(), "over 100 bytes");
        assert!(cache.get(&key(3)).is_some());
        cache.insert(key(4), vec![4; 101].into());
        assert!(cache.get(&key(4)).is_none(), "larger than the whole budget");
        assert!(cache.get(&key(3)).is_some());
    }

    fn read(cache: &FileCache, path: &std::path::Path) -> (Vec<u8>, bool) {
        let mut file = File::open(path).unwrap();
        let identity = FileIdentity::of(&file.metadata().unwrap());
        let bytes = cache.bytes(&mut file, identity, || ()).ok().unwrap();
        let kept = cache.last.lock().unwrap().as_ref().is_some_and(|(_, kept)| Arc::ptr_eq(kept, &bytes));
        (bytes.to_vec(), kept)
    }

    #[test]
    fn file_cache_keeps_a_settled_file_and_rereads_it_once_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        std::fs::write(&path, b"first").unwrap();
        let cache = FileCache { settled: Duration::from_millis(20), ..FileCache::default() };
        // Just written: not kept, since another write could land in the same clock tick.
        assert_eq!(read(&cache, &path), (b"first".to_vec(), false));
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(read(&cache, &path), (b"first".to_vec(), true));
        let kept = cache.last.lock().unwrap().clone().unwrap().1;
        let mut file = File::open(&path).unwrap();
        let identity = FileIdentity::of(&file.metadata().unwrap());
        let again = cache.bytes(&mut file, identity, || panic!("read again")).ok().unwrap();
        assert!(Arc::ptr_eq(&kept, &again), "a settled, unchanged file comes from memory");
        // Same size, written in place: its change time moves.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().write_all(b"FIRST").unwrap();
        assert_eq!(read(&cache, &path).0, b"FIRST");
        // Replaced by a rename: another inode.
        std::thread::sleep(Duration::from_millis(50));
        let other = dir.path().join("new");
        std::fs::write(&other, b"second!").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(read(&cache, &path).0, b"second!");
    }

    #[test]
    fn file_cache_refuses_a_file_that_is_not_what_its_identity_says() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut file = File::open(&path).unwrap();
        let identity = FileIdentity::of(&file.metadata().unwrap());
        // Truncated after its identity was taken, as a writer would do between open and read.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(4).unwrap();
        assert!(matches!(FileCache::default().bytes(&mut file, identity, || ()), Err(ReadWhole::Changed)));
    }
}
