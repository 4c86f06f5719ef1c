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
        Confinement { caps: None, no_new_privs: false, close_fds: true, user: None, seccomp: None }
    }
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

/// close_range(2) from 3 up with `flags`; on kernels without it (before 5.9), `each`
/// on every descriptor above 2 listed in `/proc/self/fd`.
fn close_range_from_3_with(flags: libc::c_uint, each: impl Fn(i32)) -> Result<(), Errno> {
    // SAFETY: close_range with integer arguments; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 3 as libc::c_uint, libc::c_uint::MAX, flags) };
    if rc == 0 {
        return Ok(());
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    fds.into_iter().for_each(each);
    Ok(())
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: mark every fd from 3 up close-on-exec.
pub fn close_range_cloexec_from_3() -> Result<(), Errno> {
    close_range_from_3_with(CLOSE_RANGE_CLOEXEC, |fd| {
        // SAFETY: setting FD_CLOEXEC on a descriptor number; an already-closed one gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    })
}

/// close_range(2) from 3 up: close every inherited descriptor (not only mark it
/// close-on-exec), so that nothing done before the exec (entering the working
/// directory) can go through one. The caller must own no descriptor above 2.
pub fn close_range_from_3() -> Result<(), Errno> {
    close_range_from_3_with(0, |fd| {
        // SAFETY: closing a descriptor number nobody owns any more; an already-closed
        // one (the directory listing's own) gives EBADF.
        unsafe { libc::close(fd) };
    })
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

/// Apply the confinement to this process, in this order: mark inherited fds above 2
/// close-on-exec; drop everything outside `caps` from the bounding set; switch user;
/// limit the effective/permitted/inheritable sets to `caps` and clear the ambient set;
/// set no_new_privs; install the seccomp filter (before the user switch when there is
/// no no_new_privs). The caller then execs.
pub fn apply(c: &Confinement) -> Result<(), ConfineError> {
    if c.close_fds {
        close_range_cloexec_from_3().map_err(sys("cannot close inherited file descriptors"))?;
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
    if let Some(user) = &c.user {
        switch_user(user)?;
    }
    if let Some(keep) = c.caps {
        let now = caps::capget().map_err(sys("cannot read capabilities"))?;
        let limited = CapSet(now.permitted.0 & keep.0);
        caps::capset(ThreadCaps { effective: limited, permitted: limited, inheritable: CapSet::EMPTY })
            .map_err(sys("cannot set capabilities"))?;
        caps::ambient_clear().map_err(sys("cannot clear the ambient capabilities"))?;
    }
    if c.no_new_privs {
        set_no_new_privs().map_err(sys("cannot set no_new_privs"))?;
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
