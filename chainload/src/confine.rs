//! The final confinement, done by the process that does the final exec: close inherited
//! file descriptors, set the capability bounding set, switch user, set the capability
//! sets, and set no_new_privs. Shared by `ovlmount enter` and `nsenter-rs`, so a process
//! joined into a container is confined exactly like the container's own.

use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{Gid, Uid};

use crate::caps::{self, CapSet, ThreadCaps};
use crate::error::{sys, OsError};

/// What a confinement step failed at.
#[derive(Debug, thiserror::Error)]
pub enum ConfineError {
    /// `--cap-add`/`--cap-drop` named a capability that does not exist.
    #[error(transparent)]
    UnknownCapability(#[from] caps::UnknownCapability),
    /// The working directory is not inside the root the program runs in.
    #[error("working directory '{}' is outside the container's root; refusing to run there", .0.display())]
    WorkdirOutsideRoot(std::path::PathBuf),
    /// The seccomp filter cannot be compiled.
    #[error("seccomp: {0}")]
    Seccomp(#[from] crate::seccomp::CompileError),
    /// A system call failed.
    #[error(transparent)]
    Os(#[from] OsError),
}

impl crate::error::Failure for ConfineError {}

/// The user the program runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (empty: none).
    pub groups: Vec<u32>,
}

/// What to confine the program to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// The capabilities the program keeps (bounding set, and for root the
    /// effective/permitted sets). `None` leaves capabilities as they are.
    pub caps: Option<CapSet>,
    /// Set no_new_privs (setuid binaries and file capabilities gain nothing).
    pub no_new_privs: bool,
    /// Close every file descriptor above 2 (on exec).
    pub close_fds: bool,
    /// Switch to this user after the bounding set is set.
    pub user: Option<Credentials>,
    /// The seccomp filter, installed last (`None`: unconfined).
    pub seccomp: Option<Seccomp>,
    /// Descriptors 3 to 3+N-1 stay open in the program (OCI's `--preserve-fds N`).
    pub preserve_fds: u32,
    /// Wait at the start gate, fully set up but for the seccomp filter.
    pub gate: Option<StartGate>,
    /// Capabilities a program run as another user than root keeps through its exec
    /// (effective, permitted, inheritable and ambient; within `caps`), as podman's
    /// `--cap-add` gives them to a non-root `--user`.
    pub ambient: CapSet,
    /// Resource limits, set first (raising a hard limit needs CAP_SYS_RESOURCE).
    pub rlimits: Vec<crate::rlimit::Rlimit>,
    /// The OOM score adjustment (lowering it needs CAP_SYS_RESOURCE too).
    pub oom_score_adj: Option<i32>,
}

/// An OCI runtime's `create`/`start`: the process waits, fully set up but for its seccomp
/// filter, until `start` opens the FIFO for reading (runc's exec FIFO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartGate {
    /// An `O_PATH` descriptor of the FIFO (opened before the root changed).
    pub fifo: i32,
    /// A descriptor that becomes the program's stderr at the gate: until then the
    /// tools' errors go to fd 2, which the runtime reads; its end of file tells the
    /// runtime the process reached the gate.
    pub stderr: Option<i32>,
}

impl StartGate {
    /// The descriptors it holds.
    pub fn fds(&self) -> Vec<i32> {
        std::iter::once(self.fifo).chain(self.stderr).collect()
    }

    /// Hand over stderr, then block until `start` opens the FIFO, and tell it so.
    fn pass(&self) -> Result<(), ConfineError> {
        use std::io::Write;
        use std::os::fd::{FromRawFd, OwnedFd};
        let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        if let Some(e) = self.stderr {
            // SAFETY: the descriptor was handed to this process for this; it is closed here.
            let owned = unsafe { OwnedFd::from_raw_fd(e) };
            nix::unistd::dup2_stderr(&owned).map_err(sys("cannot make the program's stderr fd 2"))?;
        }
        // SAFETY: as above: the O_PATH descriptor is this process's, closed once reopened.
        let fifo = unsafe { OwnedFd::from_raw_fd(self.fifo) };
        let opened = std::fs::OpenOptions::new().write(true).open(format!("/proc/self/fd/{}", self.fifo));
        drop(fifo);
        let mut w = opened.map_err(|e| sys("cannot open the start FIFO (is /proc mounted?)")(errno(e)))?;
        w.write_all(b"0").map_err(|e| sys("cannot write to the start FIFO")(errno(e)))?;
        Ok(())
    }
}

/// `--seccomp`: which filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// docker's default profile ([`crate::seccomp::default_policy`]).
    Default,
    /// A profile file in docker's JSON format.
    Profile(std::sync::Arc<crate::seccomp::profile::Profile>),
}

impl Seccomp {
    /// The filter for a process that keeps the capabilities `caps`.
    pub fn filter(&self, caps: CapSet) -> crate::seccomp::Filter {
        match self {
            Seccomp::Default => crate::seccomp::default_policy(caps),
            Seccomp::Profile(p) => p.filter(caps, crate::kernel::version()),
        }
    }
}

/// What `--seccomp` said: a filter, or `None` for unconfined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompChoice(pub Option<Seccomp>);

/// Parse `--seccomp default|unconfined|FILE` (FILE: a profile in docker's JSON format,
/// read and checked now, before anything is set up).
pub fn parse_seccomp(s: &str) -> Result<SeccompChoice, String> {
    match s {
        "default" => Ok(SeccompChoice(Some(Seccomp::Default))),
        "unconfined" => Ok(SeccompChoice(None)),
        file => {
            let p = crate::seccomp::profile::Profile::read(Path::new(file))?;
            Ok(SeccompChoice(Some(Seccomp::Profile(std::sync::Arc::new(p)))))
        }
    }
}

impl Default for Confinement {
    fn default() -> Self {
        Confinement {
            caps: None,
            no_new_privs: false,
            close_fds: true,
            user: None,
            seccomp: None,
            preserve_fds: 0,
            gate: None,
            ambient: CapSet::EMPTY,
            rlimits: Vec::new(),
            oom_score_adj: None,
        }
    }
}

/// The set of capabilities `names` (`NET_ADMIN` or `CAP_NET_ADMIN`), as
/// `--ambient-cap` gives them.
pub fn cap_set(names: &[String]) -> Result<CapSet, ConfineError> {
    let mut set = CapSet::EMPTY;
    for name in names {
        set.insert(caps::parse_cap(name)?);
    }
    Ok(set)
}

/// Build the kept set from docker-style `--cap-add`/`--cap-drop` lists over `base`, with
/// docker's rules: `ALL` in `--cap-add` keeps every capability but the dropped ones;
/// else `ALL` in `--cap-drop` keeps only the added ones; else `base` minus drops plus adds.
pub fn caps_from_flags(base: CapSet, add: &[String], drop: &[String]) -> Result<CapSet, ConfineError> {
    let is_all = |s: &String| s.eq_ignore_ascii_case("ALL");
    let parse = |list: &[String]| -> Result<CapSet, ConfineError> {
        let mut set = CapSet::EMPTY;
        for name in list.iter().filter(|s| !is_all(s)) {
            set.insert(caps::parse_cap(name)?);
        }
        Ok(set)
    };
    let (adds, drops) = (parse(add)?, parse(drop)?);
    let kept = if add.iter().any(is_all) {
        CapSet(CapSet::all().0 & !drops.0)
    } else if drop.iter().any(is_all) {
        adds
    } else {
        CapSet((base.0 & !drops.0) | adds.0)
    };
    Ok(kept)
}

/// `CLOSE_RANGE_CLOEXEC` of close_range(2).
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// close_range(2) with `flags` on every descriptor from 3 up but those in `keep`; on
/// kernels without it (before 5.9), `each` on every such descriptor listed in
/// `/proc/self/fd`.
fn close_range_from_3_with(keep: &[i32], flags: libc::c_uint, each: impl Fn(i32)) -> Result<(), Errno> {
    let mut kept: Vec<i32> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    kept.sort_unstable();
    kept.dedup();
    // The ranges between the kept descriptors: [3, k0), (k0, k1), ..., (kn, MAX].
    let mut ranges = Vec::new();
    let mut from: libc::c_uint = 3;
    for k in &kept {
        let k = *k as libc::c_uint;
        if k > from {
            ranges.push((from, k - 1));
        }
        from = k + 1;
    }
    ranges.push((from, libc::c_uint::MAX));
    for (first, last) in ranges {
        // SAFETY: close_range with integer arguments; no memory is passed.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
        if rc != 0 {
            let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd > 2 && !kept.contains(fd))
                .collect();
            fds.into_iter().for_each(each);
            return Ok(());
        }
    }
    Ok(())
}

/// Mark every fd from 3 up close-on-exec but those in `keep` (close_range(2) with
/// CLOSE_RANGE_CLOEXEC).
pub fn close_range_cloexec_from_3(keep: &[i32]) -> Result<(), Errno> {
    close_range_from_3_with(keep, CLOSE_RANGE_CLOEXEC, |fd| {
        // SAFETY: setting FD_CLOEXEC on a descriptor number; an already-closed one gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    })
}

/// Close every inherited descriptor from 3 up but those in `keep` (not only mark them
/// close-on-exec), so that nothing done before the exec (entering the working
/// directory) can go through one. The caller must own no other descriptor above 2.
pub fn close_range_from_3(keep: &[i32]) -> Result<(), Errno> {
    close_range_from_3_with(keep, 0, |fd| {
        // SAFETY: closing a descriptor number nobody owns any more; an already-closed
        // one (the directory listing's own) gives EBADF.
        unsafe { libc::close(fd) };
    })
}

/// The descriptors `preserve_fds` keeps open for the program: 3 to 3+N-1 (OCI's
/// `--preserve-fds N`, systemd's `LISTEN_FDS`).
pub fn preserved(preserve_fds: u32) -> Vec<i32> {
    (0..preserve_fds as i32).map(|i| 3 + i).collect()
}

/// Enter `dir` as the working directory, resolved inside this process's root (`/`, the
/// container's after pivot_root or chroot): absolute symlinks and `..` stay inside, and
/// /proc magic links (`/proc/self/fd/N`, `/proc/PID/cwd`), which could lead to a
/// directory outside, are refused. The result is checked with getcwd(2), which the
/// kernel answers with an unreachable path for a directory outside the root.
pub fn enter_workdir(dir: &Path) -> Result<(), ConfineError> {
    use crate::openat2::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
    let root =
        nix::fcntl::open("/", nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(sys("cannot open '/'"))?;
    let fd = openat2(
        std::os::fd::AsFd::as_fd(&root),
        dir,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .map_err(|errno| match errno {
        Errno::EXDEV | Errno::ELOOP => ConfineError::WorkdirOutsideRoot(dir.to_path_buf()),
        errno => sys(format!("cannot open working directory '{}'", dir.display()))(errno).into(),
    })?;
    nix::unistd::fchdir(&fd).map_err(sys(format!("cannot change directory to '{}'", dir.display())))?;
    match nix::unistd::getcwd() {
        Ok(cwd) if cwd.is_absolute() => Ok(()),
        _ => Err(ConfineError::WorkdirOutsideRoot(dir.to_path_buf())),
    }
}

/// prctl(PR_SET_NO_NEW_PRIVS, 1).
pub fn set_no_new_privs() -> Result<(), Errno> {
    nix::sys::prctl::set_no_new_privs()
}

fn switch_user(c: &Credentials) -> Result<(), ConfineError> {
    let groups: Vec<Gid> = c.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // setgroups is denied in a user namespace with setgroups=deny; only an error if
        // the caller asked for groups other than none.
        Err(Errno::EPERM) if groups.is_empty() && setgroups_denied() => {}
        Err(e) => return Err(sys("cannot set supplementary groups")(e).into()),
    }
    nix::unistd::setresgid(Gid::from_raw(c.gid), Gid::from_raw(c.gid), Gid::from_raw(c.gid))
        .map_err(sys(format!("cannot set group id {}", c.gid)))?;
    nix::unistd::setresuid(Uid::from_raw(c.uid), Uid::from_raw(c.uid), Uid::from_raw(c.uid))
        .map_err(sys(format!("cannot set user id {}", c.uid)))?;
    Ok(())
}

fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").map(|s| s.trim() == "deny").unwrap_or(false)
}

/// Apply the confinement to this process, in this order: set the resource limits and
/// the OOM score; mark inherited fds above 2
/// close-on-exec; drop everything outside `caps` from the bounding set; switch user;
/// limit the effective/permitted/inheritable sets to `caps` and set the ambient set
/// (`ambient`, empty by default);
/// set no_new_privs; install the seccomp filter (before the user switch when there is
/// no no_new_privs). The caller then execs.
pub fn apply(c: &Confinement) -> Result<(), ConfineError> {
    crate::rlimit::set_all(&c.rlimits)
        .map_err(|(l, e)| sys(format!("cannot set the resource limit {}", l.to_arg()))(e))?;
    if let Some(score) = c.oom_score_adj {
        crate::rlimit::set_oom_score_adj(&format!("{score}\n"))
            .map_err(sys(format!("cannot set the OOM score adjustment to {score}")))?;
    }
    if c.close_fds {
        close_range_cloexec_from_3(&preserved(c.preserve_fds))
            .map_err(sys("cannot close inherited file descriptors"))?;
    }
    if let Some(keep) = c.caps {
        for n in 0..=caps::last_cap() {
            if !keep.contains(n) && caps::bounding_has(n).unwrap_or(false) {
                caps::bounding_drop(n)
                    .map_err(sys(format!("cannot drop {} from the bounding set", caps::cap_name(n))))?;
            }
        }
    }
    // The seccomp filter is installed last, after no_new_privs; without no_new_privs the
    // kernel takes it only while CAP_SYS_ADMIN is held, so then it goes in now (what
    // follows, setresuid, capset and prctl, is allowed by it).
    let filter = match &c.seccomp {
        Some(s) => {
            let f = s.filter(c.caps.unwrap_or_else(CapSet::all));
            Some((crate::seccomp::compile(&f)?, f.flags))
        }
        None => None,
    };
    if let (Some((f, flags)), false) = (&filter, c.no_new_privs) {
        crate::seccomp::seccomp_set_mode_filter(f, *flags).map_err(sys("cannot install the seccomp filter"))?;
    }
    if c.ambient != CapSet::EMPTY {
        // (The permitted set survives the switch to another user only so.)
        nix::sys::prctl::set_keepcaps(true).map_err(sys("cannot keep capabilities across the user switch"))?;
    }
    if let Some(user) = &c.user {
        switch_user(user)?;
    }
    if c.caps.is_some() || c.ambient != CapSet::EMPTY {
        let keep = c.caps.unwrap_or_else(CapSet::all);
        let now = caps::capget().map_err(sys("cannot read capabilities"))?;
        let limited = CapSet(now.permitted.0 & keep.0);
        let inheritable = CapSet(c.ambient.0 & limited.0);
        caps::capset(ThreadCaps { effective: limited, permitted: limited, inheritable })
            .map_err(sys("cannot set capabilities"))?;
        caps::ambient_clear().map_err(sys("cannot clear the ambient capabilities"))?;
        for n in c.ambient.iter() {
            caps::ambient_raise(n).map_err(sys(format!(
                "cannot keep {} for the program (it must be in the bounding set)",
                caps::cap_name(n)
            )))?;
        }
    }
    if c.no_new_privs {
        set_no_new_privs().map_err(sys("cannot set no_new_privs"))?;
    }
    if let Some(g) = &c.gate {
        g.pass()?;
    }
    if c.no_new_privs {
        if let Some((f, flags)) = &filter {
            crate::seccomp::seccomp_set_mode_filter(f, *flags).map_err(sys("cannot install the seccomp filter"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_all_then_add() {
        let s = caps_from_flags(CapSet::docker_default(), &["NET_ADMIN".into()], &["ALL".into()]).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![12]);
        let s = caps_from_flags(CapSet::docker_default(), &[], &["CHOWN".into()]).unwrap();
        assert_eq!(s.iter().count(), 13);
        assert!(caps_from_flags(CapSet::EMPTY, &["BOGUS".into()], &[]).is_err());
    }
}
