//! The process's malloc arenas, capped before the server's threads start.
//!
//! glibc gives a thread that allocates while the arenas it has are busy an arena of its own, up
//! to eight per core; each keeps the memory its thread freed for reuse. The completion-queue
//! threads allocate and free every call's buffers (and C-core frees a call on whichever thread
//! ends it), so under load each ends up with an arena, and so do the blocking, logging and
//! catalog threads. Capped at one arena per completion queue (at least two), the unary parity
//! load at 16×8 on two cores peaked about 2 MB lower (VmHWM 22.6 to 22.9 MB against 24.8 to 25.1
//! with glibc's sixteen, three runs each, interleaved) at the same rate (86,500 and 86,100
//! calls/s); one arena alone cost a fifth of the rate. Written by hand because it is one
//! `mallopt` call; a different allocator for C-core would be a larger decision.

/// Caps glibc's malloc arenas at one per completion queue (at least two). Call it before the
/// server's threads start: a thread that already has an arena keeps it. Does nothing where the
/// C library is not glibc, or when `MALLOC_ARENA_MAX` is set (the operator's choice stands).
pub fn cap_malloc_arenas(completion_queues: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let arenas = libc::c_int::try_from(completion_queues.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt sets a number in glibc's malloc parameters; it takes no pointers.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = completion_queues;
}
