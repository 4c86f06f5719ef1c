//! `unshare-rs`: create namespaces, then exec the rest of argv.
//!
//! A drop-in for util-linux `unshare(1)` (2.38+): the same options with the same
//! meaning, plus `--hostname`, `--loopback` and `--pid-file` for orchestrators.
//!
//! # Synopsis
//!
//! ```text
//! unshare-rs [-muinpUCT[=FILE]] [-f] [--kill-child[=SIG]] [--forward-signals]
//!            [--mount-proc[=DIR]] [--propagation MODE] [-R DIR] [-w DIR]
//!            [-r | -c | --map-user U --map-group G] [--map-users MAP] [--map-groups MAP]
//!            [--map-auto] [--setgroups allow|deny] [--keep-caps] [-S UID] [-G GID]
//!            [--monotonic SECS] [--boottime SECS] [--hostname NAME] [--loopback]
//!            [--pid-file FILE]
//!            [--] [PROGRAM [ARG...]]
//! ```
//!
//! # What it does, in order
//!
//! 1. Checks every option (nothing is created when one is wrong).
//! 2. Forks the helpers that must stay in the original namespaces: one to bind-mount
//!    persisted namespace files (when a mount or user namespace is also created), one
//!    to write multi-range id maps.
//! 3. unshare(2) with every requested namespace; lets the id-map helper write the maps;
//!    sets the time namespace offsets.
//! 4. With `--fork`: forks; the parent persists namespaces, writes `--pid-file`, waits
//!    (forwarding signals with `--forward-signals`) and exits as the child did.
//! 5. In the process that will exec: single-id maps and setgroups, root propagation,
//!    `--root`, `--wd`, `--mount-proc`, `--loopback`, `--hostname`, `--setgid`/`--setuid`,
//!    `--keep-caps`, `--kill-child`'s parent-death signal; then exec.
//!
//! # Exit status
//!
//! 125 when unshare-rs itself fails (usage errors too); 126 when the program cannot be
//! executed; 127 when it is not found; otherwise the program's status. A child killed by
//! signal N is re-raised, so the shell sees 128+N.

pub mod helper;
pub mod idmap;
pub mod loopback;
pub mod mounts;
pub mod namespaces;
pub mod persist;
pub mod timens;

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use chainload::error::Failure;
use chainload::error::{io, sys, OsError};
use chainload::signals::ParentWatch;
use chainload::status::ChildStatus;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::{fork, ForkResult, Gid, Pid, Uid};

use helper::{Helper, HelperError};
use idmap::{IdKind, IdRange, MapEntry, MapError, MapSpec};
use mounts::Propagation;
use namespaces::Namespace;
use persist::PersistError;
use timens::Clock;

/// `--setgroups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetGroups {
    /// Allow setgroups(2) in the new user namespace.
    Allow,
    /// Deny it (needed for an unprivileged gid map).
    Deny,
}

/// Everything unshare-rs was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Namespaces to create.
    pub namespaces: Vec<Namespace>,
    /// Namespaces to persist, each on an existing file.
    pub persist: Vec<(Namespace, PathBuf)>,
    /// `-f`: fork; the child runs the program, the parent waits.
    pub fork: bool,
    /// `--kill-child`: the signal the child gets when unshare-rs dies.
    pub kill_child: Option<Signal>,
    /// `--forward-signals`.
    pub forward_signals: bool,
    /// `--detach`: with `--fork`, the parent exits once the child is set up (pid file
    /// written, namespaces persisted) instead of waiting for it: the child is
    /// reparented to the nearest subreaper (an OCI runtime's caller) or to PID 1.
    pub detach: bool,
    /// `--mount-proc`: where to mount a new proc.
    pub mount_proc: Option<PathBuf>,
    /// `--propagation`.
    pub propagation: Propagation,
    /// `-R`: chroot to this directory.
    pub root: Option<PathBuf>,
    /// `-w`: change to this directory.
    pub wd: Option<PathBuf>,
    /// Map the caller's euid to this uid (`-r`: 0, `-c`: itself, `--map-user`).
    pub map_user: Option<u32>,
    /// Map the caller's egid to this gid (`-r`: 0, `-c`: itself, `--map-group`).
    pub map_group: Option<u32>,
    /// `--map-users` values (and `--map-auto`'s).
    pub map_users: Vec<MapSpec>,
    /// `--map-groups` values (and `--map-auto`'s).
    pub map_groups: Vec<MapSpec>,
    /// `--setgroups`.
    pub setgroups: Option<SetGroups>,
    /// `--keep-caps`.
    pub keep_caps: bool,
    /// `-S`.
    pub setuid: Option<u32>,
    /// `-G`.
    pub setgid: Option<u32>,
    /// `--monotonic` offset in seconds.
    pub monotonic: Option<i64>,
    /// `--boottime` offset in seconds.
    pub boottime: Option<i64>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--loopback`: bring `lo` up in the new network namespace.
    pub loopback: bool,
    /// The program and its arguments; empty runs `$SHELL`.
    pub command: Vec<OsString>,
    /// `--clear-env` / `--whitelist-env`: the program gets exactly these variables
    /// (`None`: the environment as it is).
    pub environment: Option<Vec<(OsString, OsString)>>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options contradict each other or name something unusable.
    #[error("{0}")]
    Usage(String),
    /// An id map is wrong or could not be written.
    #[error(transparent)]
    Map(#[from] MapError),
    /// A namespace could not be persisted.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// A helper process failed.
    #[error(transparent)]
    Helper(#[from] HelperError),
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// The exit status: 126/127 when the program could not be executed, else 125.
impl Failure for Error {}

impl Options {
    fn has(&self, ns: Namespace) -> bool {
        self.namespaces.contains(&ns)
    }

    fn flags(&self) -> CloneFlags {
        namespaces::clone_flags(self.namespaces.iter().copied())
    }

    /// Check the options against each other and the files they name. Nothing is created.
    pub fn validate(&self) -> Result<(), Error> {
        let usage = |m: &str| Err(Error::Usage(m.to_string()));
        if (self.monotonic.is_some() || self.boottime.is_some()) && !self.has(Namespace::Time) {
            return usage("options --monotonic and --boottime require unsharing of a time namespace (-T)");
        }
        if self.detach && (self.kill_child.is_some() || self.forward_signals) {
            return usage(
                "option --detach excludes --kill-child and --forward-signals (nothing stays to watch the child)",
            );
        }
        if self.pid_file.is_some() && !self.fork {
            return usage("option --pid-file requires --fork (it names the forked child)");
        }
        if self.loopback && !self.has(Namespace::Net) {
            return usage("option --loopback requires unsharing of a network namespace (-n)");
        }
        if self.hostname.is_some() && !self.has(Namespace::Uts) {
            return usage("option --hostname requires unsharing of a UTS namespace (-u)");
        }
        if self.map_group.is_some() && self.map_groups.is_empty() && self.setgroups == Some(SetGroups::Allow) {
            return usage("options --setgroups=allow and --map-group are mutually exclusive");
        }
        for (ns, path) in &self.persist {
            if *ns == Namespace::Pid && !self.fork {
                return usage("persisting a PID namespace requires --fork (the namespace needs a process in it)");
            }
            persist::check_target(*ns, path)?;
        }
        if let Some(h) = &self.hostname {
            if h.is_empty() || h.len() > 64 {
                return usage(&format!("invalid hostname '{h}': must be 1 to 64 bytes"));
            }
        }
        Ok(())
    }
}

/// The id maps resolved: ranges for the helper, single maps for the process itself.
struct IdMaps {
    user_ranges: Vec<IdRange>,
    group_ranges: Vec<IdRange>,
    /// The caller's euid (read before unshare) mapped to the asked-for uid.
    single_user: Option<IdRange>,
    /// The caller's egid (read before unshare) mapped to the asked-for gid.
    single_group: Option<IdRange>,
}

fn resolve_maps(o: &Options) -> Result<IdMaps, Error> {
    let (euid, egid) = (Uid::effective().as_raw(), Gid::effective().as_raw());
    let users: Vec<MapEntry> = idmap::resolve_specs(IdKind::User, &o.map_users, euid)?;
    let groups: Vec<MapEntry> = idmap::resolve_specs(IdKind::Group, &o.map_groups, euid)?;
    let mut maps = IdMaps {
        user_ranges: Vec::new(),
        group_ranges: Vec::new(),
        single_user: o.map_user.map(|inner| IdRange { inner, outer: euid, count: 1 }),
        single_group: o.map_group.map(|inner| IdRange { inner, outer: egid, count: 1 }),
    };
    if !users.is_empty() {
        maps.user_ranges = idmap::merge_single(&users, euid, o.map_user);
        maps.single_user = None;
        idmap::check_overlaps(IdKind::User, &maps.user_ranges)?;
    }
    if !groups.is_empty() {
        maps.group_ranges = idmap::merge_single(&groups, egid, o.map_group);
        maps.single_group = None;
        idmap::check_overlaps(IdKind::Group, &maps.group_ranges)?;
    }
    Ok(maps)
}

/// Run unshare-rs: create the namespaces and exec the program.
///
/// Returns only in the forking parent (`Ok` with the child's status, which the caller
/// passes on) or on failure. The program's exec failure comes back as [`Error::Exec`].
pub fn run(o: &Options) -> Result<ChildStatus, Error> {
    o.validate()?;
    let maps = resolve_maps(o)?;
    chainload::signals::default_sigchld().map_err(sys("cannot reset SIGCHLD"))?;
    let flags = o.flags();
    let me = Pid::this();

    // Helpers that must stay in the original namespaces.
    let bind_helper = if !o.persist.is_empty() && flags.intersects(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER)
    {
        let targets = o.persist.clone();
        Some(Helper::spawn(move || persist::bind_all(me.as_raw(), &targets))?)
    } else {
        None
    };
    let map_helper = if !maps.user_ranges.is_empty() || !maps.group_ranges.is_empty() {
        let (u, g) = (maps.user_ranges.clone(), maps.group_ranges.clone());
        let deny = o.setgroups == Some(SetGroups::Deny);
        let spawned = Helper::spawn(move || -> Result<(), MapError> { idmap::set_maps(me, &u, &g, deny) });
        Some(spawned?)
    } else {
        None
    };

    // An early return drops the helpers unreleased: they exit without acting.
    nix::sched::unshare(flags).map_err(sys("unshare failed"))?;
    if let Some(h) = map_helper {
        h.release()?;
    }
    let offsets = [(Clock::Boottime, o.boottime), (Clock::Monotonic, o.monotonic)];
    for (clock, secs) in offsets {
        if let Some(secs) = secs {
            timens::set_offset(clock, secs).map_err(sys("cannot write /proc/self/timens_offsets"))?;
        }
    }

    if o.fork {
        return fork_and_supervise(o, &maps, bind_helper);
    }
    persist_namespaces(o, bind_helper, me)?;
    Err(prepare_and_exec(o, &maps, None, None))
}

/// Bind the persisted namespaces: through the helper when one was needed, else directly.
fn persist_namespaces(o: &Options, bind_helper: Option<Helper>, pid: Pid) -> Result<(), Error> {
    match bind_helper {
        Some(h) => Ok(h.release()?),
        None if !o.persist.is_empty() => Ok(persist::bind_all(pid.as_raw(), &o.persist)?),
        None => Ok(()),
    }
}

fn write_pid_file(path: &Path, pid: Pid) -> std::io::Result<()> {
    chainload::pidfile::write_line(path, pid.as_raw())
}

fn fork_and_supervise(o: &Options, maps: &IdMaps, bind_helper: Option<Helper>) -> Result<ChildStatus, Error> {
    let blocked: Vec<Signal> =
        if o.forward_signals { chainload::signals::supervisor_set() } else { vec![Signal::SIGINT, Signal::SIGTERM] };
    let saved = chainload::signals::block(&blocked).map_err(sys("cannot block signals"))?;
    let parent = match o.kill_child {
        Some(_) => Some(ParentWatch::of_self().map_err(sys("pidfd_open failed"))?),
        None => None,
    };
    // Before it execs, the child waits on this pipe until the parent has persisted the
    // namespaces and written the pid file (its own set-up meanwhile runs in parallel);
    // it reads EOF when the parent closes (or dies).
    let needs_sync = o.pid_file.is_some() || !o.persist.is_empty();
    let sync = if needs_sync {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("pipe failed"))?;
        Some((std::fs::File::from(r), w))
    } else {
        None
    };
    let me = Pid::this();
    // SAFETY: unshare-rs is single-threaded.
    match unsafe { fork() }.map_err(sys("fork failed"))? {
        ForkResult::Parent { child } => {
            let sync_w = sync.map(|(r, w)| {
                drop(r);
                w
            });
            let setup = persist_namespaces(o, bind_helper, me).and_then(|()| match &o.pid_file {
                Some(p) => write_pid_file(p, child).map_err(|e| io("cannot write pid file", p, e).into()),
                None => Ok(()),
            });
            if let Err(e) = setup {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                let _ = chainload::status::wait_child(child);
                return Err(e);
            }
            drop(sync_w);
            drop(parent);
            if o.detach {
                return Ok(ChildStatus::Exited(0));
            }
            let status = if o.forward_signals {
                chainload::signals::wait_forwarding(child, |_| {})
            } else {
                chainload::status::wait_child(child)
            };
            Ok(status.map_err(sys("waitpid failed"))?)
        }
        ForkResult::Child => {
            drop(bind_helper); // close this process's copies of its pipes
            if let Err(errno) = saved.restore() {
                return Err(Error::from(sys("cannot restore the signal mask")(errno)));
            }
            let parent_done = sync.map(|(r, w)| {
                drop(w);
                r
            });
            Err(prepare_and_exec(o, maps, parent, parent_done))
        }
    }
}

/// In the process that will exec: everything that happens inside the new namespaces,
/// then (`parent_done`) wait for the parent's part, then exec. Returns only on failure.
fn prepare_and_exec(
    o: &Options,
    maps: &IdMaps,
    parent: Option<ParentWatch>,
    parent_done: Option<std::fs::File>,
) -> Error {
    match prepare(o, maps) {
        Ok(()) => {}
        Err(e) => return e,
    }
    if let Some(mut r) = parent_done {
        let mut buf = [0u8; 1];
        let _ = r.read(&mut buf); // EOF: the parent is done (or gone)
    }
    // --kill-child: armed last, after any change of credentials (which would clear it).
    if let (Some(sig), Some(watch)) = (o.kill_child, parent) {
        if let Err(errno) = watch.arm(sig) {
            return Error::from(sys("cannot set the parent-death signal")(errno));
        }
    }
    let failed = match &o.environment {
        Some(vars) => chainload::exec::execvpe(&o.command, vars),
        None => chainload::exec::execvp(&o.command),
    };
    OsError::from(failed).into()
}

fn prepare(o: &Options, maps: &IdMaps) -> Result<(), Error> {
    if let Some(r) = maps.single_user {
        idmap::write_map(None, IdKind::User, &[r])?;
    }
    if let Some(r) = maps.single_group {
        idmap::write_setgroups(None, false)?;
        idmap::write_map(None, IdKind::Group, &[r])?;
    }
    if let Some(sg) = o.setgroups {
        // Already denied for a single gid map; the gid map helper handled ranges.
        if !(sg == SetGroups::Deny && (maps.single_group.is_some() || !maps.group_ranges.is_empty())) {
            idmap::write_setgroups(None, sg == SetGroups::Allow)?;
        }
    }
    if o.has(Namespace::Mount) {
        mounts::set_propagation(o.propagation).map_err(sys("cannot change root filesystem propagation"))?;
    }
    if let Some(root) = &o.root {
        nix::unistd::chroot(root).map_err(sys(format!("cannot change root directory to '{}'", root.display())))?;
        let wd = o.wd.clone().unwrap_or_else(|| PathBuf::from("/"));
        nix::unistd::chdir(&wd).map_err(sys(format!("cannot change directory to '{}'", wd.display())))?;
    } else if let Some(wd) = &o.wd {
        nix::unistd::chdir(wd).map_err(sys(format!("cannot change directory to '{}'", wd.display())))?;
    }
    if let Some(dir) = &o.mount_proc {
        mounts::mount_proc(dir, o.propagation, o.root.is_some())
            .map_err(sys(format!("mount proc on '{}' failed", dir.display())))?;
    }
    if o.loopback {
        loopback::bring_up_loopback().map_err(sys("cannot bring up the loopback interface"))?;
    }
    if let Some(name) = &o.hostname {
        nix::unistd::sethostname(name).map_err(sys(format!("cannot set hostname to '{name}'")))?;
    }
    if let Some(gid) = o.setgid {
        nix::unistd::setgroups(&[]).map_err(sys("setgroups failed"))?;
        nix::unistd::setgid(Gid::from_raw(gid)).map_err(sys(format!("setgid({gid}) failed")))?;
    }
    if let Some(uid) = o.setuid {
        nix::unistd::setuid(Uid::from_raw(uid)).map_err(sys(format!("setuid({uid}) failed")))?;
    }
    if o.keep_caps && o.has(Namespace::User) {
        chainload::caps::permitted_to_ambient().map_err(sys("cannot keep capabilities"))?;
    }
    Ok(())
}
