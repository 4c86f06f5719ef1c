//! `nsenter-rs`: join the namespaces of a running process, then exec.
//!
//! A drop-in for util-linux `nsenter(1)` (2.38+, with 2.41's "no namespace specified"),
//! plus `--join-cgroup` on every cgroup setup and the final confinement flags shared
//! with `ovlmount enter`.
//!
//! # Synopsis
//!
//! ```text
//! nsenter-rs [-t PID] [-a] [-muinpUCT[=FILE]] [-S UID|follow] [-G GID|follow]
//!            [--preserve-credentials] [--keep-caps] [-r[DIR]] [-w[DIR] | -W DIR] [-e]
//!            [-F] [-c] [--cap-add CAP]... [--cap-drop CAP]... [--no-new-privs]
//!            [--close-fds] [--detach] [--pid-file F] [--console-socket S]
//!            [--] [PROGRAM [ARG...]]
//! ```
//!
//! # What it does, in order
//!
//! 1. Checks the options; holds the target by a pidfd.
//! 2. Opens everything it will need before joining anything: every namespace file (a
//!    given FILE must be a namespace of the right type), the target's root, cwd,
//!    environment, owner and cgroup files; then checks the target is still alive.
//! 3. Joins the target's cgroups (`-c`), then its namespaces: all of the target's at once
//!    with setns(pidfd) where the kernel can, files one by one otherwise, the user
//!    namespace first or last as util-linux does.
//! 4. Changes root and directory, takes the environment (`-e`).
//! 5. Forks when it joined a PID namespace (unless `-F`), or to detach or take a
//!    terminal: the parent forwards signals and exits as the child does (or at once,
//!    with `--detach`). With `--console-socket` the child opens a pty in the entered
//!    root's devpts and makes it its terminal.
//! 6. Sets groups, gid, uid (0 in a joined user namespace unless
//!    `--preserve-credentials`), `--keep-caps`, the confinement; execs.
//!
//! # Exit status
//!
//! 125 when nsenter-rs fails (usage errors too), 126 when the program cannot be
//! executed, 127 when it is not found, else the program's status (a signal is re-raised).

pub mod cgroups;
mod error;
pub mod nsfile;
pub mod target;

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use chainload::confine::{Confinement, Credentials};
use chainload::error::{io, sys};
use chainload::status::ChildStatus;
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::{fork, ForkResult, Gid, Uid};
use unshare_rs::namespaces::Namespace;

use target::Target;

/// `-S`/`-G`: an id, or `follow` (the owner of `/proc/PID`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpec {
    /// This id.
    Id(u32),
    /// The target's owner.
    Follow,
}

/// `-r`/`-w`: the target's, or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirSpec {
    /// The target's root or cwd.
    Target,
    /// This directory (resolved before entering).
    Path(PathBuf),
}

/// Everything nsenter-rs was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-t`.
    pub target: Option<i32>,
    /// `-a`: every namespace of the target.
    pub all: bool,
    /// Namespaces asked for by type, each from a FILE or (None) from the target.
    pub namespaces: Vec<(Namespace, Option<PathBuf>)>,
    /// `-S`.
    pub setuid: Option<IdSpec>,
    /// `-G`.
    pub setgid: Option<IdSpec>,
    /// `--preserve-credentials`.
    pub preserve_credentials: bool,
    /// `--keep-caps`.
    pub keep_caps: bool,
    /// `-r`.
    pub root: Option<DirSpec>,
    /// `-w`.
    pub wd: Option<DirSpec>,
    /// `-W`.
    pub wdns: Option<PathBuf>,
    /// `-e`.
    pub env: bool,
    /// `-F`.
    pub no_fork: bool,
    /// `-c`.
    pub join_cgroup: bool,
    /// `-N`: the network namespace of the target's socket FD.
    pub net_socket: Option<i32>,
    /// `--groups`: the supplementary groups to run with (with `-S`/`-G`; default none).
    pub groups: Vec<u32>,
    /// The final confinement (`None`: leave capabilities and fds as they are).
    pub confinement: Option<Confinement>,
    /// `--detach`: fork, and the parent exits once the pid file is written (the program's
    /// parent is then the caller's subreaper: an OCI runtime's `exec --detach`).
    pub detach: bool,
    /// `--pid-file FILE`: the forked child's pid (as the caller numbers it).
    pub pid_file: Option<PathBuf>,
    /// `--console-socket PATH`: a pty of the entered root's devpts as the program's
    /// terminal, its master sent to the socket.
    pub console_socket: Option<PathBuf>,
    /// Program and arguments (empty: `$SHELL`, else `/bin/sh`).
    pub command: Vec<OsString>,
}

pub use error::Error;

/// One namespace to join, its file already open.
struct Joining {
    ns: Namespace,
    fd: OwnedFd,
    from_target: bool,
}

/// Everything opened before entering.
struct Prepared {
    target: Option<Target>,
    joins: Vec<Joining>,
    root: Option<std::fs::File>,
    wd: Option<std::fs::File>,
    env: Option<Vec<u8>>,
    owner: Option<(u32, u32)>,
    cgroups: Option<cgroups::Membership>,
}

fn same_ns(target: &Target, ns: Namespace) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata(format!("/proc/self/ns/{}", ns.proc_name())).map(|m| m.ino());
    let theirs = std::fs::metadata(target.proc_path(&format!("ns/{}", ns.proc_name()))).map(|m| m.ino());
    matches!((ours, theirs), (Ok(a), Ok(b)) if a == b)
}

impl Options {
    /// Check the options against each other.
    pub fn validate(&self) -> Result<(), Error> {
        let usage = |m: &str| Err(Error::Usage(m.to_string()));
        if self.all && self.target.is_none() {
            return usage("option --all needs --target (whose namespaces to join)");
        }
        if self.wdns.is_some() && self.wd.is_some() {
            return usage("options --wd and --wdns are mutually exclusive");
        }
        let follows = [self.setuid, self.setgid].contains(&Some(IdSpec::Follow));
        if follows && self.target.is_none() {
            return usage("'follow' needs --target (whose owner to follow)");
        }
        let needs_target = self.namespaces.iter().any(|(_, f)| f.is_none())
            || self.root == Some(DirSpec::Target)
            || self.wd == Some(DirSpec::Target)
            || self.env
            || self.join_cgroup;
        if needs_target && self.target.is_none() {
            return usage("no target PID specified (--target), and no FILE for every namespace");
        }
        if !self.groups.is_empty() && self.setuid.is_none() && self.setgid.is_none() {
            return usage("option --groups needs --setuid or --setgid (whose groups)");
        }
        if self.net_socket.is_some() && self.target.is_none() {
            return usage("option --net-socket needs --target (whose socket)");
        }
        if self.namespaces.is_empty() && !self.all && self.net_socket.is_none() {
            return usage("no namespace specified");
        }
        if (self.detach || self.pid_file.is_some() || self.console_socket.is_some()) && self.no_fork {
            return usage("options --detach, --pid-file and --console-socket need the fork (not --no-fork)");
        }
        Ok(())
    }

    fn prepare(&self) -> Result<Prepared, Error> {
        let target = self.target.map(Target::open).transpose()?;
        let mut wanted: Vec<(Namespace, Option<PathBuf>)> = self.namespaces.clone();
        if let Some(t) = &target {
            if self.all {
                // (A namespace the target shares with the caller is not joined: that
                // changes nothing, and where the caller has no privilege over it, as a
                // rootless container's host cgroup namespace, setns would fail. The
                // mount namespace is joined all the same: that also resets the root and
                // working directory, as util-linux does.)
                for ns in Namespace::ALL {
                    let usable = Path::new(&format!("/proc/self/ns/{}", ns.proc_name())).exists()
                        && !(ns != Namespace::Mount && same_ns(t, ns));
                    if usable && !wanted.iter().any(|(n, _)| *n == ns) {
                        wanted.push((ns, None));
                    }
                }
            }
        }
        if self.net_socket.is_some() {
            // (The socket's network namespace, not the target's or a file's.)
            wanted.retain(|(ns, _)| *ns != Namespace::Net);
        }
        if wanted.is_empty() && self.net_socket.is_none() {
            return Err(Error::Usage("no namespace specified".into()));
        }
        // Namespace files, in util-linux's order (user first).
        wanted.sort_by_key(|(ns, _)| Namespace::ALL.iter().position(|n| n == ns));
        let mut joins = Vec::new();
        for (ns, file) in &wanted {
            let (path, from_target) = match (file, &target) {
                (Some(p), _) => (p.clone(), false),
                (None, Some(t)) => (t.proc_path(&format!("ns/{}", ns.proc_name())), true),
                (None, None) => return Err(Error::Usage("no target PID specified".into())),
            };
            let fd = nsfile::open_ns_file(*ns, &path).map_err(|e| match (&target, from_target) {
                (Some(t), true) if t.check_alive().is_err() => Error::TargetExited(t.pid),
                _ => e,
            })?;
            joins.push(Joining { ns: *ns, fd, from_target });
        }
        if let (Some(sock), Some(t)) = (self.net_socket, &target) {
            let fd = nsfile::netns_of_socket(t.pidfd(), t.pid, sock)?;
            joins.push(Joining { ns: Namespace::Net, fd, from_target: false });
            joins.sort_by_key(|j| Namespace::ALL.iter().position(|n| *n == j.ns));
        }
        let open_dir = |spec: &Option<DirSpec>, what: &str| -> Result<Option<std::fs::File>, Error> {
            let path = match (spec, &target) {
                (None, _) => return Ok(None),
                (Some(DirSpec::Path(p)), _) => p.clone(),
                (Some(DirSpec::Target), Some(t)) => t.proc_path(what),
                (Some(DirSpec::Target), None) => return Err(Error::Usage("no target PID specified".into())),
            };
            std::fs::File::open(&path)
                .map(Some)
                .map_err(|e| io(format!("cannot open {what} directory"), &path, e).into())
        };
        let root = open_dir(&self.root, "root")?;
        let wd = open_dir(&self.wd, "cwd")?;
        let env = match (&target, self.env) {
            (Some(t), true) => {
                let p = t.proc_path("environ");
                Some(std::fs::read(&p).map_err(|e| io("cannot read the environment", &p, e))?)
            }
            _ => None,
        };
        let owner = match &target {
            Some(t) if [self.setuid, self.setgid].contains(&Some(IdSpec::Follow)) => {
                use std::os::unix::fs::MetadataExt;
                let p = t.proc_path("");
                let m = std::fs::metadata(&p).map_err(|e| io("cannot stat", &p, e))?;
                Some((m.uid(), m.gid()))
            }
            _ => None,
        };
        let cgroups = match (&target, self.join_cgroup) {
            (Some(t), true) => Some(cgroups::open(t)?),
            _ => None,
        };
        if let Some(t) = &target {
            t.check_alive()?;
        }
        Ok(Prepared { target, joins, root, wd, env, owner, cgroups })
    }
}

/// Join the namespaces: the target's all at once through its pidfd where the kernel can
/// (that is also atomic: either all or none), the rest one file at a time in two passes
/// (all but the user namespace, ignoring errors; then what is left, with the user
/// namespace first), as util-linux does so that entering a user namespace works both to
/// gain privilege and to drop it.
fn enter(p: &mut Prepared) -> Result<(), Error> {
    if let Some(t) = &p.target {
        let flags = p.joins.iter().filter(|j| j.from_target).fold(CloneFlags::empty(), |f, j| f | j.ns.clone_flag());
        if !flags.is_empty() {
            match nsfile::setns(t.pidfd(), flags) {
                Ok(()) => p.joins.retain(|j| !j.from_target),
                Err(Errno::ESRCH) => return Err(Error::TargetExited(t.pid)),
                Err(_) => {} // older kernel, or a mix it refuses: go file by file
            }
        }
    }
    let mut left: Vec<&Joining> = p.joins.iter().collect();
    left.retain(|j| j.ns == Namespace::User || nsfile::setns(j.fd.as_fd(), j.ns.clone_flag()).is_err());
    for j in left {
        nsfile::setns(j.fd.as_fd(), j.ns.clone_flag())
            .map_err(sys(format!("reassociate to namespace '{}' failed", j.ns.proc_name())))?;
    }
    Ok(())
}

/// Run nsenter-rs. Returns `Ok` with the child's status in a forking parent; otherwise
/// returns only on failure.
pub fn run(o: &Options) -> Result<ChildStatus, Error> {
    o.validate()?;
    // Not dumpable until the exec (which makes the program dumpable again, as it should
    // be): between joining and exec, no process of the target's can open this one's
    // /proc/PID/exe (the host's binary), its descriptors or its memory, even where the
    // credentials the kernel compares would let it (CVE-2019-5736). A forked child
    // inherits it.
    nix::sys::prctl::set_dumpable(false).map_err(sys("cannot make nsenter-rs non-dumpable"))?;
    let mut p = o.prepare()?;
    // Opened here, on the host: the parent writes it after joining the mount namespace.
    let pid_file = match &o.pid_file {
        Some(f) => {
            Some(chainload::pidfile::PidFile::open(f).map_err(|e| io("cannot open the pid file's directory", f, e))?)
        }
        None => None,
    };
    // Connected on the host too (the socket's path is the caller's).
    let console = o.console_socket.as_deref().map(chainload::console::ConsoleSocket::connect).transpose()?;
    let joins_user = p.joins.iter().any(|j| j.ns == Namespace::User);
    let joins_pid = p.joins.iter().any(|j| j.ns == Namespace::Pid);
    let force_ids = joins_user && !o.preserve_credentials;
    if force_ids {
        // Drop supplementary groups while still allowed (a joined user namespace may
        // deny setgroups); they are dropped again, tolerantly, after entering.
        let _ = nix::unistd::setgroups(&[]);
    }

    // Keep the cwd across a root change when no directory is asked for.
    let keep_cwd = match (&p.root, &p.wd, &o.wdns) {
        (Some(_), None, None) => Some(std::fs::File::open(".").map_err(|e| io("cannot open", Path::new("."), e))?),
        _ => None,
    };
    if let Some(m) = p.cgroups.take() {
        m.join()?;
    }
    enter(&mut p)?;
    if let Some(root) = &p.root {
        nix::unistd::fchdir(root.as_fd()).map_err(sys("change directory by root file descriptor failed"))?;
        nix::unistd::chroot(".").map_err(sys("chroot failed"))?;
        nix::unistd::chdir("/").map_err(sys("cannot change directory to '/'"))?;
    }
    // -W DIR is resolved inside the (new) root: never out of it through a symlink or a
    // /proc magic link.
    if let Some(d) = &o.wdns {
        chainload::confine::enter_workdir(d)?;
    } else if let Some(dir) = p.wd.as_ref().or(keep_cwd.as_ref()) {
        nix::unistd::fchdir(dir.as_fd())
            .map_err(sys("change directory by working directory file descriptor failed"))?;
    }
    let env = p.env.as_deref().map(chainload::environment::parse_environ);
    drop(p.target.take());

    if (joins_pid || o.detach || o.pid_file.is_some() || console.is_some()) && !o.no_fork {
        let saved =
            chainload::signals::block(&chainload::signals::supervisor_set()).map_err(sys("cannot block signals"))?;
        // The child execs only once the parent has written the pid file (it reads EOF
        // when the parent closes its end, or dies).
        let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe failed"))?;
        // SAFETY: nsenter-rs is single-threaded.
        match unsafe { fork() }.map_err(sys("fork failed"))? {
            ForkResult::Parent { child } => {
                drop(ready_r);
                drop(console); // (the child's to use)
                if let Some(f) = &pid_file {
                    if let Err(e) = f.write(child.as_raw()) {
                        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                        let _ = chainload::status::wait_child(child);
                        return Err(io("cannot write pid file", f.path(), e).into());
                    }
                }
                drop(ready_w);
                if o.detach {
                    return Ok(ChildStatus::Exited(0));
                }
                return Ok(chainload::signals::wait_forwarding(child, |_| {}).map_err(sys("waitpid failed"))?);
            }
            ForkResult::Child => {
                drop(ready_w);
                saved.restore().map_err(sys("cannot restore the signal mask"))?;
                let mut byte = [0u8; 1];
                let _ = nix::unistd::read(&ready_r, &mut byte);
                // (A forked child leads no process group: it can start the session.)
                if let Some(c) = console {
                    c.hand_over(2)?;
                }
            }
        }
    }

    confine(o, p.owner, force_ids)?;
    if o.keep_caps && joins_user {
        chainload::caps::permitted_to_ambient().map_err(sys("cannot keep capabilities"))?;
    }
    let failed = match &env {
        Some(env) => chainload::exec::execvpe(&o.command, env),
        None => chainload::exec::execvp(&o.command),
    };
    Err(chainload::error::OsError::from(failed).into())
}

/// The final confinement, in one step that does groups, ids and capabilities in the safe
/// order (bounding set while still privileged, then the user, then the capability sets):
/// `-S`/`-G` (or the target's owner with `follow`; root when a user namespace is joined
/// without `--preserve-credentials`), `--groups`, and the confinement options.
fn confine(o: &Options, owner: Option<(u32, u32)>, force_ids: bool) -> Result<(), Error> {
    let uid = match o.setuid {
        Some(IdSpec::Id(u)) => Some(u),
        Some(IdSpec::Follow) => owner.map(|(u, _)| u),
        None if force_ids => Some(0),
        None => None,
    };
    let gid = match o.setgid {
        Some(IdSpec::Id(g)) => Some(g),
        Some(IdSpec::Follow) => owner.map(|(_, g)| g),
        None if force_ids => Some(0),
        None => None,
    };
    let mut confinement = o.confinement.clone().unwrap_or(Confinement { close_fds: false, ..Confinement::default() });
    if uid.is_some() || gid.is_some() {
        confinement.user = Some(Credentials {
            uid: uid.unwrap_or_else(|| Uid::effective().as_raw()),
            gid: gid.unwrap_or_else(|| Gid::effective().as_raw()),
            groups: o.groups.clone(),
        });
    }
    chainload::confine::apply(&confinement)?;
    Ok(())
}
