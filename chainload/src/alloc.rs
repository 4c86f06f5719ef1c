//! The memory allocator of every tool, when built for musl (the default target).
//!
//! musl's allocator returns memory to the kernel eagerly: a buffer that grows a few
//! times costs an mmap and a munmap each time, and parsing the command line alone made
//! dozens of those system calls per start-up. dlmalloc keeps what it mapped, so a
//! short-lived tool makes a handful. (glibc builds keep glibc's allocator.)

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
