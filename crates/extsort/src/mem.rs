//! Memory: huge pages for the large buffers, faulting them in ahead of the reader, prefetch.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;

/// Ask for transparent huge pages on a large buffer: 512 times fewer page faults while it
/// fills, and far fewer TLB misses when records are read in sorted (random) order.
pub fn advise_huge(ptr: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    if len < 4 * HUGE || std::env::var_os("BATCHKIT_NO_THP").is_some() {
        return;
    }
    let start = (ptr as usize).div_ceil(HUGE) * HUGE;
    let end = (ptr as usize + len) / HUGE * HUGE;
    if end > start {
        // SAFETY: the range lies inside an allocation we own; madvise only changes how the
        // kernel backs it and fails harmlessly where huge pages are not available.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

/// Faults pages of the first chunk's buffers in on another thread, a little ahead of the
/// reader. With huge pages the kernel may compact memory at each fault; that stall is then
/// taken on the core the single-threaded read leaves idle. MADV_POPULATE_WRITE never changes
/// the contents, so it may run beside the writer; it runs only while the buffers cannot
/// move (the guard is dropped, and the thread joined, before any sort or reallocation).
pub(crate) struct Prefault {
    used: Arc<[std::sync::atomic::AtomicUsize; 2]>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Prefault {
    /// Populate `regions` (the buffer and the index, each reserved at the whole budget)
    /// ahead of use, never beyond `budget` resident in both together: each may grow to the
    /// whole budget, but not both at once (issue 14: that overshot -S by half).
    pub(crate) fn start(regions: [(usize, usize); 2], budget: usize) -> Option<Prefault> {
        use std::sync::atomic::AtomicUsize;
        let used = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let stop = Arc::new(AtomicBool::new(false));
        let (u, st) = (Arc::clone(&used), Arc::clone(&stop));
        let handle = std::thread::Builder::new()
            .name("prefault".into())
            .spawn(move || {
                const STEP: usize = 2 << 20;
                let regions = regions.map(|(base, cap)| page_aligned(base, cap));
                let mut done = [0usize; 2];
                while !st.load(AtomicOrdering::Relaxed) {
                    let mut worked = false;
                    for (r, &(base, cap)) in regions.iter().enumerate() {
                        let used = u[r].load(AtomicOrdering::Relaxed);
                        let both =
                            u[0].load(AtomicOrdering::Relaxed) + u[1].load(AtomicOrdering::Relaxed);
                        let ahead = (used / 2)
                            .clamp(4 << 20, 32 << 20)
                            .min(budget.saturating_sub(both) / 2);
                        let target = (used + ahead).min(cap);
                        if done[r] < used {
                            done[r] = used - used % STEP;
                        }
                        if done[r] + STEP <= target {
                            // Failure (old kernels) only means no help.
                            if !populate(base + done[r], STEP) {
                                return;
                            }
                            done[r] += STEP;
                            worked = true;
                        }
                    }
                    if !worked {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
            })
            .ok()?;
        Some(Prefault {
            used,
            stop,
            handle: Some(handle),
        })
    }

    #[inline]
    pub(crate) fn report(&self, buf: usize, entries: usize) {
        self.used[0].store(buf, AtomicOrdering::Relaxed);
        self.used[1].store(entries, AtomicOrdering::Relaxed);
    }
}

/// The part of `[base, base + len)` that starts on a page boundary. madvise wants an aligned
/// start, and a Vec's pointer is not one (malloc puts its header first): the unaligned start
/// failed with EINVAL, which stopped the prefault thread at once and left every page fault
/// (and the kernel's zeroing of each huge page) to the reader.
pub(crate) fn page_aligned(base: usize, len: usize) -> (usize, usize) {
    const PAGE: usize = 4096;
    let aligned = base.div_ceil(PAGE) * PAGE;
    (aligned, len.saturating_sub(aligned - base))
}

/// Fault in `[addr, addr + len)` for writing (MADV_POPULATE_WRITE); false when the kernel
/// refuses. The range must lie inside a live allocation that does not move meanwhile.
pub(crate) fn populate(addr: usize, len: usize) -> bool {
    // SAFETY: the caller keeps the range inside a live allocation; populating never changes
    // its contents.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) == 0 }
}

impl Drop for Prefault {
    fn drop(&mut self) {
        self.stop.store(true, AtomicOrdering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Hint the CPU to load the record at `off` soon.
#[inline]
pub(crate) fn prefetch(buf: &[u8], off: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = buf.get(off) {
        // SAFETY: prefetching is only a hint; the pointer is in bounds and never dereferenced.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                p as *const u8 as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
}
