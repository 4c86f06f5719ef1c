//! clone3(2) with `CLONE_INTO_CGROUP`: fork a child that is born inside a cgroup v2
//! group. Unlike writing to `cgroup.procs` afterwards, this takes no global write lock
//! (`cgroup_threadgroup_rwsem`), whose RCU grace period can cost milliseconds.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// `struct clone_args` of the kernel's uapi (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3(2) like fork(2) (SIGCHLD on exit, no shared memory), the child placed in the
/// cgroup v2 directory `cgroup`. Returns `Some(child)` in the parent, `None` in the child.
///
/// # Safety
///
/// As for fork(2): the caller must be single-threaded. The child must not rely on
/// the C library's cached thread id (no `raise`, no pthread calls) before it execs: a
/// raw clone3 does not update it as the library's fork does (glibc and musl alike).
pub unsafe fn clone_into_cgroup(cgroup: BorrowedFd<'_>) -> Result<Option<Pid>, Errno> {
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: args is a valid clone_args of the size passed; no stack is given, so the
    // child continues on a copy of this stack, as with fork.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) };
    match Errno::result(rc)? {
        0 => Ok(None),
        pid => Ok(Some(Pid::from_raw(pid as i32))),
    }
}
