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
//!
//! A policy is a [`Filter`] (a default action and rules: system call, argument
//! conditions, action), compiled by [`compile`]; docker's default is one such filter
//! ([`default_filter`]), and a docker JSON profile file is read into another
//! ([`profile`]).

use std::collections::BTreeMap;

use nix::errno::Errno;

use crate::caps::CapSet;

pub mod profile;
pub mod syscalls_x86_64;

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
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
const MAX_INSNS: usize = 4096;

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
const CLONE_NAMESPACES: u64 = 0x7E02_0000;
/// The personas docker allows: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and
/// the query 0xffffffff.
const PERSONAS: [u32; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];
const AF_VSOCK: u64 = 40;

/// What the filter does with a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Let it run.
    Allow,
    /// Fail it with this errno.
    Errno(u16),
    /// Kill the thread (SECCOMP_RET_KILL_THREAD; libseccomp's SCMP_ACT_KILL).
    KillThread,
    /// Kill the process.
    KillProcess,
    /// Send SIGSYS.
    Trap,
    /// Let it run, and log it.
    Log,
    /// Notify a ptrace tracer, with this message value.
    Trace(u16),
}

impl Action {
    fn ret(self) -> u32 {
        match self {
            Action::Allow => RET_ALLOW,
            Action::Errno(e) => RET_ERRNO | u32::from(e),
            Action::KillThread => 0,
            Action::KillProcess => RET_KILL_PROCESS,
            Action::Trap => 0x0003_0000,
            Action::Log => 0x7ffc_0000,
            Action::Trace(m) => 0x7ff0_0000 | u32::from(m),
        }
    }
}

/// How an argument is compared (libseccomp's SCMP_CMP_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `arg == value`
    Eq,
    /// `arg != value`
    Ne,
    /// `arg < value`
    Lt,
    /// `arg <= value`
    Le,
    /// `arg >= value`
    Ge,
    /// `arg > value`
    Gt,
    /// `arg & mask == value`
    MaskedEq(u64),
}

/// A condition on one argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    /// Which argument (0 to 5).
    pub arg: u8,
    /// The comparison.
    pub op: Op,
    /// The value compared with.
    pub value: u64,
    /// Compare the low 32 bits only (an argument the kernel takes as an `int`, whose
    /// high bits a caller could set to slip past a 64-bit `!=`).
    pub low32: bool,
}

/// One rule: for system call `nr`, when every condition holds, `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The system call number (x86_64).
    pub nr: u32,
    /// What to do.
    pub action: Action,
    /// All must hold (none: always).
    pub conds: Vec<Cond>,
}

/// A seccomp policy: rules, and the action for every call no rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// For calls no rule matches.
    pub default: Action,
    /// For a system call, its rules with conditions are tried in order, then its first
    /// rule without conditions, then the default.
    pub rules: Vec<Rule>,
    /// SECCOMP_FILTER_FLAG_* to install the filter with.
    pub flags: u32,
}

/// Why a filter cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A condition on an argument that does not exist.
    #[error("system call {nr}: argument {arg} does not exist (0 to 5)")]
    NoSuchArgument {
        /// The call.
        nr: u32,
        /// The argument.
        arg: u8,
    },
    /// A rule with more conditions than one program jump can pass over.
    #[error("system call {nr}: {n} conditions in one rule are too many (at most 16)")]
    TooManyConditions {
        /// The call.
        nr: u32,
        /// How many.
        n: usize,
    },
    /// The program is longer than the kernel takes.
    #[error("the filter compiles to {0} instructions, more than the kernel's 4096")]
    TooLong(usize),
}

/// Docker's default filter for a process that keeps the capabilities `caps`.
pub fn default_filter(caps: CapSet) -> Vec<SockFilter> {
    compile(&default_policy(caps)).unwrap_or_else(|e| unreachable!("docker's default policy compiles: {e}"))
}

/// Docker's default policy for a process that keeps the capabilities `caps`.
pub fn default_policy(caps: CapSet) -> Filter {
    let allow = |nr: libc::c_long, conds: Vec<Cond>| Rule { nr: nr as u32, action: Action::Allow, conds };
    let mut rules: Vec<Rule> = ALLOWED.iter().map(|nr| allow(*nr, vec![])).collect();
    for (cap, nrs) in BY_CAPABILITY {
        if caps.contains(*cap) {
            rules.extend(nrs.iter().map(|nr| allow(*nr, vec![])));
        }
    }
    // personality(PERSONA): only docker's personas (the whole 64-bit value).
    for v in PERSONAS {
        let c = Cond { arg: 0, op: Op::Eq, value: u64::from(v), low32: false };
        rules.push(allow(libc::SYS_personality, vec![c]));
    }
    // socket(FAMILY, ...): every family but AF_VSOCK (an int: the low word decides).
    let c = Cond { arg: 0, op: Op::Ne, value: AF_VSOCK, low32: true };
    rules.push(allow(libc::SYS_socket, vec![c]));
    if caps.contains(CAP_SYS_ADMIN) {
        rules.push(allow(libc::SYS_clone, vec![]));
        rules.push(allow(libc::SYS_clone3, vec![]));
    } else {
        // clone(FLAGS, ...) without namespace flags; clone3 says ENOSYS, so that a libc
        // falls back to clone, whose flags can be checked.
        let c = Cond { arg: 0, op: Op::MaskedEq(CLONE_NAMESPACES), value: 0, low32: true };
        rules.push(allow(libc::SYS_clone, vec![c]));
        rules.push(Rule { nr: libc::SYS_clone3 as u32, action: Action::Errno(Errno::ENOSYS as u16), conds: vec![] });
    }
    Filter { default: Action::Errno(Errno::EPERM as u16), rules, flags: 0 }
}

/// An instruction whose jump targets are still symbolic.
#[derive(Clone, Copy)]
enum To {
    /// The next instruction.
    Next,
    /// The end of the current condition (it holds).
    Holds,
    /// The end of the current rule (a condition failed: try the next rule).
    Fails,
}

/// The instructions of one condition, jumping to `Holds` or `Fails`.
fn cond_code(c: &Cond) -> Vec<(u16, u32, To, To)> {
    use To::{Fails, Holds, Next};
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let (ld_hi, ld_lo) = (off_arg_hi(u32::from(c.arg)), off_arg_lo(u32::from(c.arg)));
    if c.low32 {
        let lo_only: Vec<(u16, u32, To, To)> = match c.op {
            Op::Eq => vec![(JEQ_K, lo, Holds, Fails)],
            Op::Ne => vec![(JEQ_K, lo, Fails, Holds)],
            Op::Gt => vec![(JGT_K, lo, Holds, Fails)],
            Op::Ge => vec![(JGE_K, lo, Holds, Fails)],
            Op::Lt => vec![(JGE_K, lo, Fails, Holds)],
            Op::Le => vec![(JGT_K, lo, Fails, Holds)],
            Op::MaskedEq(m) => vec![(AND_K, m as u32, Next, Next), (JEQ_K, lo, Holds, Fails)],
        };
        return [vec![(LD_W_ABS, ld_lo, Next, Next)], lo_only].concat();
    }
    let ld = |k| (LD_W_ABS, k, Next, Next);
    match c.op {
        Op::Eq => vec![ld(ld_hi), (JEQ_K, hi, Next, Fails), ld(ld_lo), (JEQ_K, lo, Holds, Fails)],
        Op::Ne => vec![ld(ld_hi), (JEQ_K, hi, Next, Holds), ld(ld_lo), (JEQ_K, lo, Fails, Holds)],
        Op::Gt | Op::Ge => {
            let last = if c.op == Op::Gt { JGT_K } else { JGE_K };
            vec![ld(ld_hi), (JGT_K, hi, Holds, Next), (JEQ_K, hi, Next, Fails), ld(ld_lo), (last, lo, Holds, Fails)]
        }
        Op::Lt | Op::Le => {
            let last = if c.op == Op::Lt { JGE_K } else { JGT_K };
            vec![ld(ld_hi), (JGT_K, hi, Fails, Next), (JEQ_K, hi, Next, Holds), ld(ld_lo), (last, lo, Fails, Holds)]
        }
        Op::MaskedEq(m) => vec![
            ld(ld_hi),
            (AND_K, (m >> 32) as u32, Next, Next),
            (JEQ_K, hi, Next, Fails),
            ld(ld_lo),
            (AND_K, m as u32, Next, Next),
            (JEQ_K, lo, Holds, Fails),
        ],
    }
}

/// One rule with conditions: the conditions, then `ret action`; a failed condition
/// jumps past the ret (to the next rule).
fn rule_code(r: &Rule) -> Result<Vec<SockFilter>, CompileError> {
    if let Some(c) = r.conds.iter().find(|c| c.arg > 5) {
        return Err(CompileError::NoSuchArgument { nr: r.nr, arg: c.arg });
    }
    if r.conds.len() > 16 {
        return Err(CompileError::TooManyConditions { nr: r.nr, n: r.conds.len() });
    }
    // (pending Fails jumps: index, is-true-branch)
    let mut code: Vec<SockFilter> = Vec::new();
    let mut fails: Vec<(usize, bool)> = Vec::new();
    for c in &r.conds {
        let part = cond_code(c);
        let (start, len) = (code.len(), part.len());
        for (i, (op, k, jt, jf)) in part.into_iter().enumerate() {
            let mut resolve = |to: To, is_true: bool| match to {
                To::Next => 0,
                To::Holds => (len - i - 1) as u8,
                To::Fails => {
                    fails.push((start + i, is_true));
                    0
                }
            };
            let (t, f) = (resolve(jt, true), resolve(jf, false));
            code.push(jump(op, k, t, f));
        }
    }
    code.push(stmt(RET_K, r.action.ret()));
    let end = code.len();
    for (i, is_true) in fails {
        let off = (end - i - 1) as u8;
        if is_true {
            code[i].jt = off;
        } else {
            code[i].jf = off;
        }
    }
    Ok(code)
}

/// Where a range of system call numbers goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaf {
    /// Return this action.
    Ret(Action),
    /// Jump to the rules with conditions of the call, the `n`th block.
    Block(usize),
}

/// An instruction of the decision tree, its jump to a block still symbolic.
enum TreeInsn {
    Plain(SockFilter),
    ToBlock(usize),
}

/// The decision tree over `segs` (sorted starts, each range up to the next start): a
/// binary search on the number, so every call is decided after about log2(segments)
/// compares, and the kernel's per-number action cache (built by running the program
/// for every number when it is installed) is cheap to build.
fn tree(segs: &[(u32, Leaf)]) -> Vec<TreeInsn> {
    if let [(_, leaf)] = segs {
        return vec![match leaf {
            Leaf::Ret(a) => TreeInsn::Plain(stmt(RET_K, a.ret())),
            Leaf::Block(i) => TreeInsn::ToBlock(*i),
        }];
    }
    let mid = segs.len() / 2;
    let (left, right) = (tree(&segs[..mid]), tree(&segs[mid..]));
    let mut out = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        // `nr >= start of the right half ? right : left`
        Ok(n) => out.push(TreeInsn::Plain(jump(JGE_K, segs[mid].0, n, 0))),
        Err(_) => {
            out.push(TreeInsn::Plain(jump(JGE_K, segs[mid].0, 0, 1)));
            out.push(TreeInsn::Plain(stmt(JA, left.len() as u32)));
        }
    }
    out.extend(left);
    out.extend(right);
    out
}

/// Compile `f` to a classic BPF program for seccomp (x86_64; calls of other
/// architectures are refused, a process of a foreign one is killed).
pub fn compile(f: &Filter) -> Result<Vec<SockFilter>, CompileError> {
    // Each call's rules: those with conditions in order, then the first without.
    let mut by_nr: BTreeMap<u32, (Vec<&Rule>, Option<Action>)> = BTreeMap::new();
    for r in &f.rules {
        let e = by_nr.entry(r.nr).or_default();
        if r.conds.is_empty() {
            e.1.get_or_insert(r.action);
        } else {
            e.0.push(r);
        }
    }
    // The number line cut into ranges that share a leaf: calls, the gaps between them
    // (the default), and the x32 numbers (bit 30 set), which are refused.
    let x32 = if f.default == Action::Allow { Action::Errno(Errno::EPERM as u16) } else { f.default };
    let mut blocks: Vec<Vec<SockFilter>> = Vec::new();
    let mut segs: Vec<(u32, Leaf)> = vec![(0, Leaf::Ret(f.default))];
    let push = |start: u32, leaf: Leaf, segs: &mut Vec<(u32, Leaf)>| {
        if segs.last().is_some_and(|(s, _)| *s == start) {
            segs.pop();
        }
        match segs.last() {
            // (The same action as the range before: one range.)
            Some((_, l)) if *l == leaf && !matches!(leaf, Leaf::Block(_)) => {}
            _ => segs.push((start, leaf)),
        }
    };
    for (nr, (conditional, plain)) in by_nr.range(..X32_SYSCALL_BIT) {
        let leaf = if conditional.is_empty() {
            Leaf::Ret(plain.unwrap_or(f.default))
        } else {
            let mut block = Vec::new();
            for r in conditional {
                block.extend(rule_code(r)?);
            }
            block.push(stmt(RET_K, plain.unwrap_or(f.default).ret()));
            blocks.push(block);
            Leaf::Block(blocks.len() - 1)
        };
        push(*nr, leaf, &mut segs);
        if *nr + 1 < X32_SYSCALL_BIT {
            push(*nr + 1, Leaf::Ret(f.default), &mut segs);
        }
    }
    push(X32_SYSCALL_BIT, Leaf::Ret(x32), &mut segs);
    let mut p = vec![
        stmt(LD_W_ABS, OFF_ARCH),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL_PROCESS),
        stmt(LD_W_ABS, OFF_NR),
    ];
    let decide = tree(&segs);
    let tree_end = p.len() + decide.len();
    let mut starts = Vec::with_capacity(blocks.len());
    let mut at = tree_end;
    for b in &blocks {
        starts.push(at);
        at += b.len();
    }
    for ins in decide {
        let here = p.len();
        p.push(match ins {
            TreeInsn::Plain(i) => i,
            TreeInsn::ToBlock(i) => stmt(JA, (starts[i] - here - 1) as u32),
        });
    }
    for b in blocks {
        p.extend(b);
    }
    if p.len() > MAX_INSNS {
        return Err(CompileError::TooLong(p.len()));
    }
    Ok(p)
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

/// seccomp(SECCOMP_SET_MODE_FILTER): install `filter` on this thread (the caller is
/// single-threaded and about to exec). Needs no_new_privs, or CAP_SYS_ADMIN.
pub fn seccomp_set_mode_filter(filter: &[SockFilter], flags: u32) -> Result<(), Errno> {
    const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
    let len = u16::try_from(filter.len()).map_err(|_| Errno::E2BIG)?;
    let prog = SockFprog { len, filter: filter.as_ptr() };
    // SAFETY: the program and the filter it points to outlive the call.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags as libc::c_uint, &prog as *const SockFprog)
    })
    .map(drop)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn jumps_stay_inside_and_the_end_denies() {
        for caps in [CapSet::docker_default(), CapSet::all(), CapSet::EMPTY] {
            let p = default_filter(caps);
            for (i, ins) in p.iter().enumerate() {
                if ins.code == JA {
                    assert!(i + 1 + (ins.k as usize) < p.len(), "jump at {i}");
                } else if ins.code & 0x07 == 0x05 {
                    assert!(i + 1 + (ins.jt as usize) < p.len() && i + 1 + (ins.jf as usize) < p.len(), "jump at {i}");
                }
            }
            assert!(p.len() < 4096, "a filter the kernel takes");
        }
    }

    /// Run the filter on a system call number and first argument.
    fn verdict(p: &[SockFilter], nr: libc::c_long, arg0: u64) -> u32 {
        run(p, AUDIT_ARCH_X86_64, nr as u32, [arg0, 0, 0, 0, 0, 0])
    }

    /// A tiny cBPF interpreter for the instructions the compiler emits.
    pub(crate) fn run(p: &[SockFilter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = p[pc];
            let next = |taken: bool| pc + 1 + if taken { i.jt as usize } else { i.jf as usize };
            pc = match i.code {
                LD_W_ABS => {
                    a = match i.k {
                        OFF_NR => nr,
                        OFF_ARCH => arch,
                        k if (16..64).contains(&k) && k % 4 == 0 => {
                            let v = args[((k - 16) / 8) as usize];
                            if k % 8 == 0 {
                                v as u32
                            } else {
                                (v >> 32) as u32
                            }
                        }
                        k => panic!("load of {k}"),
                    };
                    pc + 1
                }
                AND_K => {
                    a &= i.k;
                    pc + 1
                }
                JA => pc + 1 + i.k as usize,
                JEQ_K => next(a == i.k),
                JGE_K => next(a >= i.k),
                JGT_K => next(a > i.k),
                RET_K => return i.k,
                c => panic!("opcode {c:#x}"),
            };
        }
    }

    #[test]
    fn every_comparison_on_64_bit_values() {
        let values = [0u64, 1, 7, 8, 9, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0008, u64::MAX];
        let ops = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Ge, Op::Gt, Op::MaskedEq(0xff)];
        for op in ops {
            for v in [8u64, 0x1_0000_0008] {
                let c = Cond { arg: 2, op, value: v, low32: false };
                let f = Filter {
                    default: Action::Errno(1),
                    rules: vec![Rule { nr: 5, action: Action::Allow, conds: vec![c] }],
                    flags: 0,
                };
                let p = compile(&f).unwrap();
                for x in values {
                    let want = match op {
                        Op::Eq => x == v,
                        Op::Ne => x != v,
                        Op::Lt => x < v,
                        Op::Le => x <= v,
                        Op::Ge => x >= v,
                        Op::Gt => x > v,
                        Op::MaskedEq(m) => x & m == v,
                    };
                    let got = run(&p, AUDIT_ARCH_X86_64, 5, [0, 0, x, 0, 0, 0]) == RET_ALLOW;
                    assert_eq!(got, want, "{op:?} {v:#x} on {x:#x}");
                    assert_eq!(run(&p, AUDIT_ARCH_X86_64, 6, [0, 0, x, 0, 0, 0]), RET_ERRNO | 1, "another call");
                }
            }
        }
    }

    #[test]
    fn rules_of_one_call_are_tried_in_order_then_the_plain_one() {
        let cond = |arg, value| Cond { arg, op: Op::Eq, value, low32: false };
        let f = Filter {
            default: Action::KillProcess,
            rules: vec![
                Rule { nr: 1, action: Action::Errno(13), conds: vec![cond(0, 1), cond(1, 2)] },
                Rule { nr: 1, action: Action::Allow, conds: vec![] },
                Rule { nr: 1, action: Action::Trap, conds: vec![cond(0, 3)] },
                Rule { nr: 2, action: Action::Log, conds: vec![] },
            ],
            flags: 0,
        };
        let p = compile(&f).unwrap();
        let r = |nr, a0, a1| run(&p, AUDIT_ARCH_X86_64, nr, [a0, a1, 0, 0, 0, 0]);
        assert_eq!(r(1, 1, 2), RET_ERRNO | 13, "both conditions");
        assert_eq!(r(1, 1, 3), RET_ALLOW, "one fails: the plain rule");
        assert_eq!(r(1, 3, 0), 0x0003_0000, "the second conditional rule");
        assert_eq!(r(2, 0, 0), 0x7ffc_0000);
        assert_eq!(r(3, 0, 0), RET_KILL_PROCESS, "the default");
        assert_eq!(run(&p, 0x4000_0003, 1, [0; 6]), RET_KILL_PROCESS, "i386");
        assert_eq!(r(0x4000_0001, 1, 2), RET_KILL_PROCESS, "x32 gets the default (not allow)");
        let bad = Filter {
            default: Action::Allow,
            rules: vec![Rule { nr: 1, action: Action::Trap, conds: vec![cond(6, 0)] }],
            flags: 0,
        };
        assert_eq!(compile(&bad), Err(CompileError::NoSuchArgument { nr: 1, arg: 6 }));
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
        assert_eq!(verdict(&docker, libc::SYS_socket, 0x1_0000_0028), eperm, "AF_VSOCK with high bits set");
        assert_eq!(verdict(&docker, libc::SYS_personality, 0xffff_ffff), RET_ALLOW);
        assert_eq!(verdict(&docker, libc::SYS_personality, 0x0040_0000), eperm, "READ_IMPLIES_EXEC");
        assert_eq!(verdict(&docker, libc::SYS_personality, 1 << 32), eperm);
        assert_eq!(verdict(&docker, 0x4000_0000 | libc::SYS_read, 0), eperm, "x32");
        assert_eq!(verdict(&docker, 999, 0), eperm, "unknown numbers");
    }
}
