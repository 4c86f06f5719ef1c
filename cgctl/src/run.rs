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
use nix::unistd::{fork, ForkResult};

use crate::group::Group;
use crate::limits::Limits;
use crate::name::GroupName;
use crate::setup::Cgroups;
use crate::stats::{self, Stats};
use crate::Error;

/// What `cgctl run` was asked.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The group (default: `cgctl-run-PID`, relative to the caller's cgroup).
    pub name: Option<GroupName>,
    /// Keep the group afterwards.
    pub keep: bool,
    /// Read the final stats.
    pub stats: bool,
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
    if group.exists() {
        return Err(Error::Exists(name.to_string()));
    }
    let created = group.create_and_apply(&writes)?;
    let saved = match chainload::signals::block(&chainload::signals::supervisor_set()) {
        Ok(s) => s,
        Err(errno) => {
            created.undo();
            return Err(Error::Sys {
                what: "cannot block signals".into(),
                errno,
            });
        }
    };
    // SAFETY: cgctl is single-threaded.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(created); // undoing is the parent's job
            saved.restore().map_err(|errno| Error::Sys {
                what: "cannot restore the signal mask".into(),
                errno,
            })?;
            group.join(0)?;
            return Err(chainload::exec::execvp(&o.command).into());
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(errno) => {
            created.undo();
            return Err(Error::Sys {
                what: "fork failed".into(),
                errno,
            });
        }
    };
    let waited = chainload::signals::wait_forwarding(child, |_| {});
    let _ = saved.restore();
    let status = match waited {
        Ok(s) => s,
        Err(errno) => {
            let _ = group.kill_all(Duration::from_secs(5));
            return Err(Error::Sys {
                what: "waitpid failed".into(),
                errno,
            });
        }
    };
    let final_stats = stats::read(&group);
    let oom_killed = status == ChildStatus::Signaled(Signal::SIGKILL)
        && final_stats.memory.oom_kills.unwrap_or(0) > 0;
    let cleanup = group.kill_all(Duration::from_secs(10)).and_then(|()| {
        if o.keep {
            Ok(())
        } else {
            group.remove(false)
        }
    });
    let outcome = RunOutcome {
        name: name.to_string(),
        status,
        oom_killed,
        memory_limit: final_stats.memory.limit.or(o.limits.memory),
        stats: o.stats.then_some(final_stats),
    };
    cleanup.map(|()| outcome)
}
