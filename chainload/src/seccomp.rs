//! The seccomp filter of the final confinement: docker's default policy (an allow-list;
//! every other system call fails with EPERM), compiled to classic BPF here, in Rust,
//! and installed last, just before the exec.
//!
//! The policy, as docker's default profile has it (our own table, for x86_64):
//! - the ordinary system calls of a process ([`ALLOWED`]) are allowed (io_uring is not:
//!   docker dropped it from its default profile in 2023);
//! - `personality` only with the personas docker allows, `socket` for every family but
//!   AF_VSOCK, `clone` only without namespace flags, `clone3` fails with ENOSYS (so that
//!   libcs fall back to `clone`, whose flags can be checked);
//! - system calls tied to a capability (mount, unshare, setns, bpf, ptrace,
//!   init_module, reboot, settimeofday, ...) are allowed only when the container keeps
//!   that capability ([`BY_CAPABILITY`]), as docker opens them for `--cap-add`;
//! - a call of another architecture (i386, x32) is refused, and a process of a foreign
//!   architecture is killed.

use nix::errno::Errno;

use crate::caps::CapSet;

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}
const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Offsets in `struct seccomp_data`: nr, arch, instruction pointer, args[6] (u64 each).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}
const fn off_arg_hi(i: u32) -> u32 {
    20 + 8 * i
}

macro_rules! nrs {
    ($($name:ident),* $(,)?) => { &[$(libc::$name),*] };
}

/// The system calls docker's default profile allows whatever the capabilities.
pub const ALLOWED: &[libc::c_long] = nrs![
    SYS_accept,
    SYS_accept4,
    SYS_access,
    SYS_adjtimex,
    SYS_alarm,
    SYS_arch_prctl,
    SYS_bind,
    SYS_brk,
    SYS_capget,
    SYS_capset,
    SYS_chdir,
    SYS_chmod,
    SYS_chown,
    SYS_clock_adjtime,
    SYS_clock_getres,
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_close,
    SYS_close_range,
    SYS_connect,
    SYS_copy_file_range,
    SYS_creat,
    SYS_dup,
    SYS_dup2,
    SYS_dup3,
    SYS_epoll_create,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_epoll_wait,
    SYS_eventfd,
    SYS_eventfd2,
    SYS_execve,
    SYS_execveat,
    SYS_exit,
    SYS_exit_group,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_fadvise64,
    SYS_fallocate,
    SYS_fanotify_mark,
    SYS_fchdir,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_fchmodat2,
    SYS_fchown,
    SYS_fchownat,
    SYS_fcntl,
    SYS_fdatasync,
    SYS_fgetxattr,
    SYS_flistxattr,
    SYS_flock,
    SYS_fork,
    SYS_fremovexattr,
    SYS_fsetxattr,
    SYS_fstat,
    SYS_fstatfs,
    SYS_fsync,
    SYS_ftruncate,
    SYS_futex,
    SYS_futex_waitv,
    SYS_futimesat,
    SYS_getcpu,
    SYS_getcwd,
    SYS_getdents,
    SYS_getdents64,
    SYS_getegid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getgroups,
    SYS_getitimer,
    SYS_getpeername,
    SYS_getpgid,
    SYS_getpgrp,
    SYS_getpid,
    SYS_getppid,
    SYS_getpriority,
    SYS_getrandom,
    SYS_getresgid,
    SYS_getresuid,
    SYS_getrlimit,
    SYS_get_robust_list,
    SYS_getrusage,
    SYS_getsid,
    SYS_getsockname,
    SYS_getsockopt,
    SYS_get_thread_area,
    SYS_gettid,
    SYS_gettimeofday,
    SYS_getuid,
    SYS_getxattr,
    SYS_inotify_add_watch,
    SYS_inotify_init,
    SYS_inotify_init1,
    SYS_inotify_rm_watch,
    SYS_io_cancel,
    SYS_ioctl,
    SYS_io_destroy,
    SYS_io_getevents,
    SYS_io_pgetevents,
    SYS_ioprio_get,
    SYS_ioprio_set,
    SYS_io_setup,
    SYS_io_submit,
    SYS_kill,
    SYS_landlock_add_rule,
    SYS_landlock_create_ruleset,
    SYS_landlock_restrict_self,
    SYS_lchown,
    SYS_lgetxattr,
    SYS_link,
    SYS_linkat,
    SYS_listen,
    SYS_listxattr,
    SYS_llistxattr,
    SYS_lremovexattr,
    SYS_lseek,
    SYS_lsetxattr,
    SYS_lstat,
    SYS_madvise,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_memfd_secret,
    SYS_mincore,
    SYS_mkdir,
    SYS_mkdirat,
    SYS_mknod,
    SYS_mknodat,
    SYS_mlock,
    SYS_mlock2,
    SYS_mlockall,
    SYS_mmap,
    SYS_mprotect,
    SYS_mq_getsetattr,
    SYS_mq_notify,
    SYS_mq_open,
    SYS_mq_timedreceive,
    SYS_mq_timedsend,
    SYS_mq_unlink,
    SYS_mremap,
    SYS_msgctl,
    SYS_msgget,
    SYS_msgrcv,
    SYS_msgsnd,
    SYS_msync,
    SYS_munlock,
    SYS_munlockall,
    SYS_munmap,
    SYS_name_to_handle_at,
    SYS_nanosleep,
    SYS_newfstatat,
    SYS_open,
    SYS_openat,
    SYS_openat2,
    SYS_pause,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pipe,
    SYS_pipe2,
    SYS_pkey_alloc,
    SYS_pkey_free,
    SYS_pkey_mprotect,
    SYS_poll,
    SYS_ppoll,
    SYS_prctl,
    SYS_pread64,
    SYS_preadv,
    SYS_preadv2,
    SYS_prlimit64,
    SYS_process_mrelease,
    SYS_pselect6,
    SYS_pwrite64,
    SYS_pwritev,
    SYS_pwritev2,
    SYS_read,
    SYS_readahead,
    SYS_readlink,
    SYS_readlinkat,
    SYS_readv,
    SYS_recvfrom,
    SYS_recvmmsg,
    SYS_recvmsg,
    SYS_remap_file_pages,
    SYS_removexattr,
    SYS_rename,
    SYS_renameat,
    SYS_renameat2,
    SYS_restart_syscall,
    SYS_rmdir,
    SYS_rseq,
    SYS_rt_sigaction,
    SYS_rt_sigpending,
    SYS_rt_sigprocmask,
    SYS_rt_sigqueueinfo,
    SYS_rt_sigreturn,
    SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait,
    SYS_rt_tgsigqueueinfo,
    SYS_sched_getaffinity,
    SYS_sched_getattr,
    SYS_sched_getparam,
    SYS_sched_get_priority_max,
    SYS_sched_get_priority_min,
    SYS_sched_getscheduler,
    SYS_sched_rr_get_interval,
    SYS_sched_setaffinity,
    SYS_sched_setattr,
    SYS_sched_setparam,
    SYS_sched_setscheduler,
    SYS_sched_yield,
    SYS_seccomp,
    SYS_select,
    SYS_semctl,
    SYS_semget,
    SYS_semop,
    SYS_semtimedop,
    SYS_sendfile,
    SYS_sendmmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_setfsgid,
    SYS_setfsuid,
    SYS_setgid,
    SYS_setgroups,
    SYS_setitimer,
    SYS_setpgid,
    SYS_setpriority,
    SYS_setregid,
    SYS_setresgid,
    SYS_setresuid,
    SYS_setreuid,
    SYS_setrlimit,
    SYS_set_robust_list,
    SYS_setsid,
    SYS_setsockopt,
    SYS_set_thread_area,
    SYS_set_tid_address,
    SYS_setuid,
    SYS_setxattr,
    SYS_shmat,
    SYS_shmctl,
    SYS_shmdt,
    SYS_shmget,
    SYS_shutdown,
    SYS_sigaltstack,
    SYS_signalfd,
    SYS_signalfd4,
    SYS_socketpair,
    SYS_splice,
    SYS_stat,
    SYS_statfs,
    SYS_statx,
    SYS_symlink,
    SYS_symlinkat,
    SYS_sync,
    SYS_sync_file_range,
    SYS_syncfs,
    SYS_sysinfo,
    SYS_tee,
    SYS_tgkill,
    SYS_time,
    SYS_timer_create,
    SYS_timer_delete,
    SYS_timer_getoverrun,
    SYS_timer_gettime,
    SYS_timer_settime,
    SYS_timerfd_create,
    SYS_timerfd_gettime,
    SYS_timerfd_settime,
    SYS_times,
    SYS_tkill,
    SYS_truncate,
    SYS_umask,
    SYS_uname,
    SYS_unlink,
    SYS_unlinkat,
    SYS_utime,
    SYS_utimensat,
    SYS_utimes,
    SYS_vfork,
    SYS_vmsplice,
    SYS_wait4,
    SYS_waitid,
    SYS_write,
    SYS_writev,
    SYS_modify_ldt,
    SYS_epoll_ctl_old,
    SYS_epoll_wait_old,
    // Allowed by docker on kernels from 4.8 on (where seccomp cannot be bypassed with
    // ptrace), which is every kernel these tools run on.
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_ptrace,
];

/// The system calls docker allows only with a capability, by capability number.
pub const BY_CAPABILITY: &[(u32, &[libc::c_long])] = &[
    (2, nrs![SYS_open_by_handle_at]), // CAP_DAC_READ_SEARCH
    (
        21, // CAP_SYS_ADMIN
        nrs![
            SYS_bpf,
            SYS_fanotify_init,
            SYS_fsconfig,
            SYS_fsmount,
            SYS_fsopen,
            SYS_fspick,
            SYS_lookup_dcookie,
            SYS_mount,
            SYS_mount_setattr,
            SYS_move_mount,
            SYS_open_tree,
            SYS_perf_event_open,
            SYS_quotactl,
            SYS_quotactl_fd,
            SYS_setdomainname,
            SYS_sethostname,
            SYS_setns,
            SYS_syslog,
            SYS_umount2,
            SYS_unshare
        ],
    ),
    (22, nrs![SYS_reboot]),                                           // CAP_SYS_BOOT
    (18, nrs![SYS_chroot]),                                           // CAP_SYS_CHROOT
    (16, nrs![SYS_delete_module, SYS_init_module, SYS_finit_module]), // CAP_SYS_MODULE
    (20, nrs![SYS_acct]),                                             // CAP_SYS_PACCT
    (19, nrs![SYS_kcmp, SYS_pidfd_getfd, SYS_process_madvise]),       // CAP_SYS_PTRACE
    (17, nrs![SYS_iopl, SYS_ioperm]),                                 // CAP_SYS_RAWIO
    (25, nrs![SYS_settimeofday, SYS_clock_settime]),                  // CAP_SYS_TIME
    (26, nrs![SYS_vhangup]),                                          // CAP_SYS_TTY_CONFIG
    (23, nrs![SYS_get_mempolicy, SYS_mbind, SYS_set_mempolicy, SYS_set_mempolicy_home_node]), // CAP_SYS_NICE
    (34, nrs![SYS_syslog]),                                           // CAP_SYSLOG
    (39, nrs![SYS_bpf]),                                              // CAP_BPF
    (38, nrs![SYS_perf_event_open]),                                  // CAP_PERFMON
];

const CAP_SYS_ADMIN: u32 = 21;
/// The namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
/// NEWPID, NEWNET (and NEWTIME is in clone3 only).
const CLONE_NAMESPACES: u32 = 0x7E02_0000;
/// The personas docker allows: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and
/// the query 0xffffffff.
const PERSONAS: [u32; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];
const AF_VSOCK: u32 = 40;

/// Docker's default filter for a process that keeps the capabilities `caps`.
pub fn default_filter(caps: CapSet) -> Vec<SockFilter> {
    let deny = RET_ERRNO | Errno::EPERM as u32;
    let mut allowed: Vec<u32> = ALLOWED.iter().map(|n| *n as u32).collect();
    for (cap, nrs) in BY_CAPABILITY {
        if caps.contains(*cap) {
            allowed.extend(nrs.iter().map(|n| *n as u32));
        }
    }
    allowed.sort_unstable();
    allowed.dedup();
    let admin = caps.contains(CAP_SYS_ADMIN);

    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
        // x32 system calls (the same numbers with bit 30 set) are refused.
        jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, deny),
    ];
    // The allowed numbers as runs of consecutive numbers: most of the table is such runs,
    // so the program is a fraction of one compare per call (smaller to JIT at start,
    // fewer instructions for every system call the container makes).
    for (lo, hi) in runs(&allowed) {
        if lo == hi {
            p.push(jump(JEQ_K, lo, 0, 1));
        } else {
            p.push(jump(JGE_K, lo, 0, 2));
            p.push(jump(JGT_K, hi, 1, 0));
        }
        p.push(stmt(RET_K, RET_ALLOW));
    }
    // personality(PERSONA): only docker's personas (high word 0, low word one of them).
    let n = PERSONAS.len() as u8;
    p.push(jump(JEQ_K, libc::SYS_personality as u32, 0, 4 + n + 1));
    p.push(stmt(LD_W_ABS, off_arg_hi(0)));
    p.push(jump(JEQ_K, 0, 0, n + 1));
    p.push(stmt(LD_W_ABS, off_arg_lo(0)));
    for (i, v) in PERSONAS.iter().enumerate() {
        p.push(jump(JEQ_K, *v, n - i as u8, 0));
    }
    p.push(stmt(RET_K, deny));
    p.push(stmt(RET_K, RET_ALLOW));
    // socket(FAMILY, ...): every family but AF_VSOCK.
    p.push(jump(JEQ_K, libc::SYS_socket as u32, 0, 4));
    p.push(stmt(LD_W_ABS, off_arg_lo(0)));
    p.push(jump(JEQ_K, AF_VSOCK, 0, 1));
    p.push(stmt(RET_K, deny));
    p.push(stmt(RET_K, RET_ALLOW));
    if !admin {
        // clone(FLAGS, ...) without namespace flags; clone3 says ENOSYS, so that a libc
        // falls back to clone.
        p.push(jump(JEQ_K, libc::SYS_clone as u32, 0, 4));
        p.push(stmt(LD_W_ABS, off_arg_lo(0)));
        p.push(jump(JSET_K, CLONE_NAMESPACES, 0, 1));
        p.push(stmt(RET_K, deny));
        p.push(stmt(RET_K, RET_ALLOW));
        p.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
        p.push(stmt(RET_K, RET_ERRNO | Errno::ENOSYS as u32));
    } else {
        for nr in [libc::SYS_clone, libc::SYS_clone3] {
            p.push(jump(JEQ_K, nr as u32, 0, 1));
            p.push(stmt(RET_K, RET_ALLOW));
        }
    }
    p.push(stmt(RET_K, deny));
    p
}

/// Sorted, deduplicated numbers as (first, last) runs of consecutive numbers.
fn runs(sorted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some((_, hi)) if *hi + 1 == n => *hi = n,
            _ => out.push((n, n)),
        }
    }
    out
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// seccomp(SECCOMP_SET_MODE_FILTER): install `filter` on this thread (the caller is
/// single-threaded and about to exec). Needs no_new_privs, or CAP_SYS_ADMIN.
pub fn seccomp_set_mode_filter(filter: &[SockFilter]) -> Result<(), Errno> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let len = u16::try_from(filter.len()).map_err(|_| Errno::E2BIG)?;
    let prog = SockFprog { len, filter: filter.as_ptr() };
    // SAFETY: the program and the filter it points to outlive the call.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0 as libc::c_uint, &prog as *const SockFprog)
    })
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_inside_and_the_end_denies() {
        for caps in [CapSet::docker_default(), CapSet::all(), CapSet::EMPTY] {
            let p = default_filter(caps);
            for (i, ins) in p.iter().enumerate() {
                if ins.code & 0x07 == 0x05 {
                    assert!(i + 1 + (ins.jt as usize) < p.len() && i + 1 + (ins.jf as usize) < p.len(), "jump at {i}");
                }
            }
            assert_eq!(p.last().map(|i| i.k), Some(RET_ERRNO | 1));
            assert!(p.len() < 4096, "a filter the kernel takes");
        }
    }

    /// Run the filter on a system call number and first argument (a tiny cBPF
    /// interpreter for the instructions the filter uses).
    fn verdict(p: &[SockFilter], nr: libc::c_long, arg0: u64) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = p[pc];
            let next = |taken: bool| pc + 1 + if taken { i.jt as usize } else { i.jf as usize };
            pc = match i.code {
                LD_W_ABS => {
                    a = match i.k {
                        OFF_NR => nr as u32,
                        OFF_ARCH => AUDIT_ARCH_X86_64,
                        16 => arg0 as u32,
                        20 => (arg0 >> 32) as u32,
                        k => panic!("load of {k}"),
                    };
                    pc + 1
                }
                JEQ_K => next(a == i.k),
                JGE_K => next(a >= i.k),
                JGT_K => next(a > i.k),
                JSET_K => next(a & i.k != 0),
                RET_K => return i.k,
                c => panic!("opcode {c:#x}"),
            };
        }
    }

    #[test]
    fn capabilities_open_their_calls() {
        let docker = default_filter(CapSet::docker_default());
        let all = default_filter(CapSet::all());
        let eperm = RET_ERRNO | Errno::EPERM as u32;
        for nr in ALLOWED {
            assert_eq!(verdict(&docker, *nr, 0), RET_ALLOW, "{nr}");
        }
        assert_eq!(verdict(&docker, libc::SYS_mount, 0), eperm);
        assert_eq!(verdict(&all, libc::SYS_mount, 0), RET_ALLOW);
        assert_eq!(verdict(&docker, libc::SYS_keyctl, 0), eperm, "keyctl is never allowed");
        assert_eq!(verdict(&all, libc::SYS_keyctl, 0), eperm);
        assert_eq!(verdict(&docker, libc::SYS_unshare, 0), eperm);
        assert_eq!(verdict(&docker, libc::SYS_pidfd_getfd, 0), eperm, "another process's descriptors");
        assert_eq!(verdict(&all, libc::SYS_pidfd_getfd, 0), RET_ALLOW);
        for nr in [libc::SYS_io_uring_setup, libc::SYS_add_key, libc::SYS_request_key] {
            assert_eq!(verdict(&all, nr, 0), eperm, "{nr} is never allowed");
        }
        assert_eq!(verdict(&docker, libc::SYS_clone, 0x11), RET_ALLOW, "fork-like clone");
        assert_eq!(verdict(&docker, libc::SYS_clone, 0x1000_0000), eperm, "CLONE_NEWUSER");
        assert_eq!(verdict(&all, libc::SYS_clone, 0x1000_0000), RET_ALLOW);
        assert_eq!(verdict(&docker, libc::SYS_clone3, 0), RET_ERRNO | Errno::ENOSYS as u32);
        assert_eq!(verdict(&docker, libc::SYS_socket, 2), RET_ALLOW, "AF_INET");
        assert_eq!(verdict(&docker, libc::SYS_socket, 40), eperm, "AF_VSOCK");
        assert_eq!(verdict(&docker, libc::SYS_personality, 0xffff_ffff), RET_ALLOW);
        assert_eq!(verdict(&docker, libc::SYS_personality, 0x0040_0000), eperm, "READ_IMPLIES_EXEC");
        assert_eq!(verdict(&docker, libc::SYS_personality, 1 << 32), eperm);
        assert_eq!(verdict(&docker, 0x4000_0000 | libc::SYS_read, 0), eperm, "x32");
        assert_eq!(verdict(&docker, 999, 0), eperm, "unknown numbers");
    }
}
