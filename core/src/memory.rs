//! How the binaries that compute over long histories (`idc_server`, bench/indicators) take
//! memory: glibc's malloc, with its thresholds fixed where its heuristic at most goes
//! ([`fix_malloc_thresholds`]), and the blocks it maps afresh advised onto transparent huge
//! pages ([`Allocator`]).
//!
//! A batch over a million bars writes columns of 8 MB each, and a new page is a page fault on
//! its first write (in a virtual machine a microsecond or two for each 4 KiB, with the kernel
//! zeroing it), which took longer than the arithmetic. Whether a column got new pages depended
//! on the process's history: glibc maps an allocation of `M_MMAP_THRESHOLD` or more afresh, and
//! returns a heap's free top above `M_TRIM_THRESHOLD` to the kernel, and it raises both from
//! 128 KiB to the size of the largest mapped block freed so far (and twice that), at most 32 and
//! 64 MiB. So the same MACD over 1M bars took 13 ns a bar when it ran first in a process and 4.5
//! after another indicator's larger columns had been freed (bench/indicators, `--only MACD`
//! against `--only SMA,MACD`).
//!
//! * [`fix_malloc_thresholds`] sets them to those ceilings (32 and 64 MiB) from the start: a
//!   column up to 32 MiB (4 million bars) is then taken from the heap and its pages reused call
//!   after call, whatever ran before. The cost: an arena may keep up to 64 MiB free at its top
//!   (with the arenas capped at one per completion queue, `server::memory`, that many times),
//!   where glibc's heuristic keeps twice the largest block it has seen freed, as little as 256
//!   KiB in a process that never freed a large one. The parity load's peak RSS at 16×8 rose from
//!   22.5 to 23.4–24.0 MB.
//! * [`Allocator`] asks for huge pages for the blocks glibc then still maps afresh (32 MiB and
//!   more: the catalog's columns of a long history, a batch over more than 4 million bars), as
//!   numpy does for its arrays: they fault once per 2 MiB instead of once per 4 KiB. Only those
//!   are advised, never a heap's range, so the advice never outlives its block (an advised heap
//!   range would stay advised for the small blocks that reuse it). The advice covers the whole
//!   2 MiB pages inside the block; where the kernel's THP mode is `never` it does nothing, and
//!   with its `defrag` setting at `madvise` (the default) a fault in such a block may compact
//!   memory first.
//!
//! Written by hand because each is one call (`mallopt`, `madvise`) on top of glibc's allocator;
//! no allocator crate offers them without replacing malloc itself.

use std::alloc::{GlobalAlloc, Layout, System};

/// The size from which an allocation is advised onto huge pages: [`MMAP_THRESHOLD`], from which
/// glibc maps every block afresh once the thresholds are fixed.
pub const HUGE_FROM: usize = MMAP_THRESHOLD;

/// The huge page size of x86-64 and arm64 with 4 KiB pages.
const HUGE_PAGE: usize = 2 << 20;

/// glibc's mmap threshold and trim threshold, fixed where its dynamic adjustment stops.
pub const MMAP_THRESHOLD: usize = 32 << 20;
pub const TRIM_THRESHOLD: usize = 2 * MMAP_THRESHOLD;

/// Fixes glibc's mmap and trim thresholds at [`MMAP_THRESHOLD`] and [`TRIM_THRESHOLD`], where
/// its own adjustment would take them after large frees, so that a long history's columns reuse
/// the heap's pages from the first call. Call it before the threads start. Does nothing where the
/// C library is not glibc, or where the environment sets the threshold (`MALLOC_MMAP_THRESHOLD_`
/// or `MALLOC_TRIM_THRESHOLD_`, or `glibc.malloc.mmap_threshold` or `.trim_threshold` in
/// `GLIBC_TUNABLES`): the operator's choice stands. Returns whether glibc took every value it
/// was given.
pub fn fix_malloc_thresholds() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let set = |variable: &str, parameter: libc::c_int, value: usize| {
            let tunable = format!(
                "glibc.malloc.{}=",
                variable.trim_start_matches("MALLOC_").trim_end_matches('_').to_lowercase()
            );
            if std::env::var_os(variable).is_some() || tunables.contains(&tunable) {
                return true;
            }
            let value = libc::c_int::try_from(value).unwrap_or(libc::c_int::MAX);
            // SAFETY: mallopt sets a number in glibc's malloc parameters; it takes no pointers.
            unsafe { libc::mallopt(parameter, value) == 1 }
        };
        set("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD)
            & set("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    true
}

/// glibc's malloc, with allocations of [`HUGE_FROM`] bytes or more advised onto huge pages.
/// Declare it as the binary's `#[global_allocator]`.
pub struct Allocator;

impl Allocator {
    /// Advises the whole huge pages inside `[start, start + size)` onto huge pages, when the
    /// allocation is large.
    fn advise(start: *mut u8, size: usize) {
        #[cfg(target_os = "linux")]
        if size >= HUGE_FROM && !start.is_null() {
            let first = (start as usize).next_multiple_of(HUGE_PAGE);
            let end = (start as usize + size) / HUGE_PAGE * HUGE_PAGE;
            if end > first {
                // SAFETY: the range lies inside an allocation just made; MADV_HUGEPAGE is
                // advice on how to back it, which changes neither its contents nor its mapping.
                // A failure (a kernel without THP) leaves the pages as they were.
                unsafe {
                    libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE);
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (start, size);
    }
}

// SAFETY: every call is `System`'s with the same arguments; `advise` only gives advice on the
// memory `System` returned.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        Self::advise(p, layout.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        Self::advise(p, layout.size());
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        Self::advise(p, new_size);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's THP mode, where it has one.
    fn thp_mode() -> Option<String> {
        let modes = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
        let start = modes.find('[')? + 1;
        Some(modes[start..start + modes[start..].find(']')?].to_string())
    }

    /// A large allocation's huge pages carry the advice (`hg` in its mapping's VmFlags, as
    /// /proc/self/smaps shows them); a smaller one's range does not.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_large_allocation_is_advised_onto_huge_pages() {
        if thp_mode().is_none_or(|mode| mode == "never") {
            // A kernel feature, not a peer; but CI's machines have it, so there it must be seen.
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "this kernel has no transparent huge pages");
            eprintln!("skipped: this kernel has no transparent huge pages");
            return;
        }
        let flags = |address: usize| -> String {
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let mut inside = false;
            for line in smaps.lines() {
                if let Some((range, _)) = line.split_once(' ').filter(|(r, _)| r.contains('-')) {
                    let (from, to) = range.split_once('-').unwrap();
                    if let (Ok(from), Ok(to)) = (usize::from_str_radix(from, 16), usize::from_str_radix(to, 16)) {
                        inside = (from..to).contains(&address);
                    }
                } else if inside && line.starts_with("VmFlags:") {
                    return line.to_string();
                }
            }
            panic!("no mapping holds {address:#x}")
        };
        let size = 3 * HUGE_FROM;
        let layout = Layout::from_size_align(size, 8).unwrap();
        unsafe {
            let p = Allocator.alloc(layout);
            let inner = (p as usize).next_multiple_of(HUGE_PAGE);
            assert!(flags(inner).split_whitespace().any(|f| f == "hg"), "{}", flags(inner));
            // A block under the threshold comes from a heap, whose range is never advised.
            let small = Layout::from_size_align(HUGE_FROM / 4, 8).unwrap();
            let q = Allocator.alloc(small);
            let inner = (q as usize).next_multiple_of(HUGE_PAGE);
            assert!(!flags(inner).split_whitespace().any(|f| f == "hg"), "{}", flags(inner));
            Allocator.dealloc(q, small);
            Allocator.dealloc(p, layout);
        }
    }

    /// glibc takes both thresholds (it refuses an mmap threshold above 32 MiB, its largest).
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_thresholds() {
        assert!(fix_malloc_thresholds());
    }

    /// Large and small allocations through it hold what was written, and keep it when grown.
    #[test]
    fn it_allocates_as_the_system_does() {
        for size in [16, HUGE_FROM - 8, HUGE_FROM + 24] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            unsafe {
                let p = Allocator.alloc(layout);
                assert!(!p.is_null());
                p.write_bytes(7, size);
                let q = Allocator.realloc(p, layout, 2 * size);
                assert!((0..size).all(|i| *q.add(i) == 7), "realloc kept the contents");
                Allocator.dealloc(q, Layout::from_size_align(2 * size, 8).unwrap());
                let z = Allocator.alloc_zeroed(layout);
                assert!((0..size).step_by(4093).all(|i| *z.add(i) == 0));
                Allocator.dealloc(z, layout);
            }
        }
    }
}
