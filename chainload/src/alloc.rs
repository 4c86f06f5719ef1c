//! The memory allocator of every tool, when built for musl (the default target).
//!
//! musl's allocator returns memory to the kernel eagerly: a buffer that grows a few
//! times costs an mmap and a munmap each time, and parsing the command line alone made
//! dozens of those system calls per start-up. dlmalloc keeps what it mapped, so a
//! short-lived tool makes a handful. (glibc builds keep glibc's allocator.)
//!
//! It is guarded by std's mutex (a futex: one atomic instruction each way when nobody
//! else holds it, inlined) rather than dlmalloc's own global lock, a call into musl's
//! `pthread_mutex_lock` and `_unlock` around every allocation and every free: that was
//! about a tenth of a tool's start-up CPU, clap's parsing allocating as much as it does.

#[cfg(target_env = "musl")]
mod musl {
    use std::alloc::{GlobalAlloc, Layout};
    use std::sync::{Mutex, MutexGuard};

    /// dlmalloc behind a std mutex.
    pub struct Allocator(Mutex<dlmalloc::Dlmalloc>);

    impl Allocator {
        fn heap(&self) -> MutexGuard<'_, dlmalloc::Dlmalloc> {
            // (dlmalloc does not panic while it holds the heap: a poisoned lock is still good.)
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    // SAFETY: each call is dlmalloc's, made while holding the mutex, with the layout the
    // caller gave (GlobalAlloc's contract is dlmalloc's).
    unsafe impl GlobalAlloc for Allocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            unsafe { self.heap().malloc(layout.size(), layout.align()) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { self.heap().free(ptr, layout.size(), layout.align()) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            unsafe { self.heap().calloc(layout.size(), layout.align()) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            unsafe { self.heap().realloc(ptr, layout.size(), layout.align(), new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Allocator = Allocator(Mutex::new(dlmalloc::Dlmalloc::new()));
}
