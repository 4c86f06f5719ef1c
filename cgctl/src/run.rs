//! `cgctl run`: create a group, run a command in it, and clean up after it.
//!
//! In order: check and plan the limits; create the group and apply them; fork; the
//! child joins the group (so it never runs unlimited) and execs; the parent forwards
//! SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 and waits; then it reads
//! whether the OOM killer struck, kills whatever the command left in the group, and
//! removes the group (unless `--keep`).

use std::ffi::OsString;
use std::time::Duration;

use chainload::status::ChildStatus;
use nix::sys::signal::Signal;
use std::os::fd::AsFd;

use nix::unistd::{fork, ForkResult, Pid};

use chainload::signals::ParentWatch;

use crate::group::{Group, IfExists};
use crate::limits::Limits;
use crate::name::GroupName;
use crate::setup::Cgroups;
use crate::stats::{self, Stats};
use crate::Error;
use chainload::error::{io, sys};

/// What `cgctl run` was asked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The group (default: `cgctl-run-PID`, relative to the caller's cgroup).
    pub name: Option<GroupName>,
    /// Keep the group afterwards.
    pub keep: bool,
    /// Read the final stats.
    pub stats: bool,
    /// `--kill-child`: the command gets this signal when cgctl dies.
    pub kill_child: Option<Signal>,
    /// `--stats-json FILE`: write the outcome and final stats there before removing the group.
    pub stats_json: Option<std::path::PathBuf>,
    /// Limits.
    pub limits: Limits,
    /// The command.
    pub command: Vec<OsString>,
}

/// How the run ended.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The group's name.
    pub name: String,
    /// The command's status.
    pub status: ChildStatus,
    /// Whether the OOM killer killed the command.
    pub oom_killed: bool,
    /// The memory limit, for the OOM message.
    pub memory_limit: Option<u64>,
    /// Final stats, with `--stats`.
    pub stats: Option<Stats>,
}

enum Spawned {
    Parent(Pid),
    Child { born_in_v2: bool },
}

/// Fork, with the child born inside the group's v2 directory where the kernel can
/// (clone3 with CLONE_INTO_CGROUP); else a plain fork, and the child joins by itself.
fn spawn_in_group(group: &Group<'_>) -> Result<Spawned, nix::errno::Errno> {
    let v2 = group.cg.v2().map(|h| group.name.dir(h));
    let dir = v2.and_then(|d| std::fs::File::open(d).ok());
    if let Some(dir) = &dir {
        // SAFETY: cgctl is single-threaded; the child only restores its signal mask,
        // writes cgroup files and execs (no use of the C library's cached thread id).
        match unsafe { crate::clone3::clone_into_cgroup(dir.as_fd()) } {
            Ok(Some(child)) => return Ok(Spawned::Parent(child)),
            Ok(None) => return Ok(Spawned::Child { born_in_v2: true }),
            // Kernels before 5.7 (ENOSYS, E2BIG) or a v2 group it cannot clone into: fork.
            Err(_) => {}
        }
    }
    // SAFETY: cgctl is single-threaded.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => Ok(Spawned::Parent(child)),
        ForkResult::Child => Ok(Spawned::Child { born_in_v2: false }),
    }
}

/// Run the command in a new group. In the forked child this returns only on failure
/// (the caller exits with the error's code); in the parent it returns the outcome.
pub fn run(cg: &Cgroups, o: &RunOptions) -> Result<RunOutcome, Error> {
    let name = match &o.name {
        Some(n) => n.clone(),
        None => GroupName::parse(&format!("cgctl-run-{}", std::process::id()))?,
    };
    o.limits.check(cg, &name)?;
    let writes = o.limits.plan(cg)?;
    let group = Group::new(cg, name.clone());
    let also = o.limits.also(cg);
    let mut controllers: Vec<String> = writes.iter().map(|w| w.controller.clone()).collect();
    controllers.extend(also.controllers.iter().cloned());
    let hierarchies = group.hierarchies_for(&controllers);
    // A name the user chose must be free in every hierarchy; a generated one only where
    // it is created. Where it is created, the creation itself refuses an existing group
    // (saving a lookup per hierarchy, which cgroupfs makes costly).
    if o.name.is_some() && group.exists_outside(&hierarchies) {
        return Err(Error::Exists(name.to_string()));
    }
    let created = group.create_and_apply(&writes, &also, IfExists::Refuse)?;
    let dirs = group.dirs_in(&hierarchies);
    let saved = match chainload::signals::block(&chainload::signals::supervisor_set()) {
        Ok(s) => s,
        Err(errno) => {
            created.undo();
            return Err(Error::from(sys("cannot block signals")(errno)));
        }
    };
    let watch = match o.kill_child {
        Some(_) => match ParentWatch::of_self() {
            Ok(w) => Some(w),
            Err(errno) => {
                created.undo();
                return Err(Error::from(sys("pidfd_open failed")(errno)));
            }
        },
        None => None,
    };
    let child = match spawn_in_group(&group) {
        Ok(Spawned::Child { born_in_v2 }) => {
            drop(created); // undoing is the parent's job
            saved.restore().map_err(sys("cannot restore the signal mask"))?;
            crate::group::join_self_in(&dirs, born_in_v2)?;
            if let (Some(sig), Some(w)) = (o.kill_child, watch) {
                w.arm(sig).map_err(sys("cannot set the parent-death signal"))?;
            }
            return Err(chainload::error::OsError::from(chainload::exec::execvp(&o.command)).into());
        }
        Ok(Spawned::Parent(child)) => child,
        Err(errno) => {
            created.undo();
            return Err(Error::from(sys("fork failed")(errno)));
        }
    };
    let waited = chainload::signals::wait_forwarding(child, |_| {});
    let _ = saved.restore();
    let status = match waited {
        Ok(s) => s,
        Err(errno) => {
            let _ = group.kill_all(Duration::from_secs(5));
            return Err(Error::from(sys("waitpid failed")(errno)));
        }
    };
    finish(o, &group, &dirs, &name, status)
}

/// The command ended with `status`: read the final stats (when asked, or to tell an OOM
/// kill from another SIGKILL), remove the group (or empty it, with `--keep`), and write
/// the `--stats-json` report.
fn finish(
    o: &RunOptions,
    group: &Group<'_>,
    dirs: &[(crate::setup::Version, std::path::PathBuf)],
    name: &GroupName,
    status: ChildStatus,
) -> Result<RunOutcome, Error> {
    // Stats only when asked, or to tell an OOM kill from another SIGKILL.
    let killed = status == ChildStatus::Signaled(Signal::SIGKILL);
    let final_stats = (o.stats || killed || o.stats_json.is_some()).then(|| stats::read(group));
    let oom_killed = killed && final_stats.as_ref().and_then(|s| s.memory.oom_kills).unwrap_or(0) > 0;
    let cleanup = if !o.keep && group.try_remove_empty(dirs) {
        Ok(())
    } else {
        group.kill_all(Duration::from_secs(10)).and_then(|()| if o.keep { Ok(()) } else { group.remove(false) })
    };
    let outcome = RunOutcome {
        name: name.to_string(),
        status,
        oom_killed,
        memory_limit: final_stats.as_ref().and_then(|s| s.memory.limit).or(o.limits.memory),
        stats: if o.stats { final_stats.clone() } else { None },
    };
    if let (Some(path), Some(st)) = (&o.stats_json, &final_stats) {
        let report = serde_json::json!({
            "name": outcome.name,
            "exit_code": status.shell_code(),
            "oom_killed": oom_killed,
            "stats": st,
        });
        // The group is already cleaned up (or its cleanup error is reported below).
        std::fs::write(path, format!("{report}\n")).map_err(|e| io("cannot write --stats-json", path, e))?;
    }
    cleanup.map(|()| outcome)
}
