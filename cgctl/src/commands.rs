//! The subcommands other than `run`, as library calls: each checks everything it can
//! before changing anything, and returns data for `main` to print.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use nix::sys::signal::Signal;
use serde::Serialize;

use crate::files::walk;
use crate::group::{Group, IfExists};
use crate::limits::Limits;
use crate::name::GroupName;
use crate::setup::Cgroups;
use crate::Error;

/// `cgctl create NAME [LIMITS]`: a new group with these limits.
pub fn create(cg: &Cgroups, name: &GroupName, limits: &Limits) -> Result<(), Error> {
    limits.check(cg, name)?;
    let writes = limits.plan(cg)?;
    let g = Group::new(cg, name.clone());
    if g.exists() {
        return Err(Error::Exists(name.to_string()));
    }
    g.create_and_apply(&writes, &limits.also(cg), IfExists::Refuse).map(drop)
}

/// `cgctl set NAME LIMITS`: change the limits of an existing group (creating it in a
/// hierarchy a new limit needs, e.g. cpuset, if it is not there yet).
pub fn set(cg: &Cgroups, name: &GroupName, limits: &Limits) -> Result<(), Error> {
    if limits.is_empty() {
        return Err(Error::Usage("set: no limit given".into()));
    }
    if !limits.controllers.is_empty() {
        return Err(Error::Usage("set: --controllers is for a group's creation (create, exec, run)".into()));
    }
    let g = Group::new(cg, name.clone());
    g.require()?;
    limits.check(cg, name)?;
    let writes = limits.plan(cg)?;
    g.create_and_apply(&writes, &Default::default(), IfExists::Reuse).map(drop)
}

/// `cgctl exec NAME [LIMITS] -- CMD`: join the group and exec. The group must exist,
/// unless `create` (then it is created, with the limits). Returns only on failure.
pub fn exec(cg: &Cgroups, name: &GroupName, limits: &Limits, create: bool, command: &[OsString]) -> Error {
    let g = Group::new(cg, name.clone());
    let prepared = (|| {
        if !create && !g.exists() {
            return Err(Error::NoSuchGroup(name.to_string()));
        }
        limits.check(cg, name)?;
        let writes = limits.plan(cg)?;
        let created = g.create_and_apply(&writes, &limits.also(cg), IfExists::Reuse)?;
        if let Err(e) = g.join_self_created(&created, false) {
            created.undo();
            return Err(e);
        }
        Ok(())
    })();
    match prepared {
        Ok(()) => chainload::error::OsError::from(chainload::exec::execvp(command)).into(),
        Err(e) => e,
    }
}

/// `cgctl add NAME PID...`: move processes in (every pid is checked first).
pub fn add(cg: &Cgroups, name: &GroupName, pids: &[i32]) -> Result<(), Error> {
    let g = Group::new(cg, name.clone());
    g.require()?;
    for pid in pids {
        if *pid <= 0 || !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(Error::NoSuchProcess(*pid));
        }
    }
    for pid in pids {
        g.join(*pid)?;
    }
    Ok(())
}

/// `cgctl rm [--force] NAME...`: every group is checked to exist first.
pub fn rm(cg: &Cgroups, names: &[GroupName], force: bool) -> Result<(), Error> {
    let groups: Vec<Group<'_>> = names.iter().map(|n| Group::new(cg, n.clone())).collect();
    for g in &groups {
        g.require()?;
    }
    for g in &groups {
        g.remove(force)?;
    }
    Ok(())
}

/// `cgctl kill [-s SIGNAL] NAME`: signal every process of the group; returns how many.
pub fn kill(cg: &Cgroups, name: &GroupName, sig: Signal) -> Result<usize, Error> {
    Group::new(cg, name.clone()).signal(sig)
}

/// One row of `cgctl ls`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listed {
    /// The group's name (usable as NAME in other commands).
    pub name: String,
    /// Processes directly in the group (not in its sub-groups).
    pub processes: usize,
    /// The hierarchies it exists in (`v2`, `memory`, `cpu,cpuacct`...).
    pub hierarchies: Vec<String>,
}

/// `cgctl ls [NAME]`: the groups below NAME (default: below the caller's own cgroup, the
/// base of relative names), recursively, in every hierarchy cgctl uses.
pub fn ls(cg: &Cgroups, name: Option<&GroupName>) -> Result<Vec<Listed>, Error> {
    let mut rows: BTreeMap<String, Listed> = BTreeMap::new();
    let hierarchies = cg.v2().into_iter().chain(cg.v1_controller_hierarchies());
    if let Some(n) = name {
        Group::new(cg, n.clone()).require()?;
    }
    for h in hierarchies {
        let base = match name {
            Some(n) => n.dir(h),
            None => h.dir_of(&h.own_cgroup),
        };
        if !base.is_dir() {
            continue;
        }
        for d in walk(&base).into_iter().skip(1) {
            let Ok(rel) = d.strip_prefix(&base) else {
                continue;
            };
            let rel = rel.display().to_string();
            let shown = match name {
                Some(n) => format!("{}/{rel}", n.as_str().trim_end_matches('/')),
                None => rel,
            };
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).map(|s| s.lines().count()).unwrap_or(0);
            let row =
                rows.entry(shown.clone()).or_insert(Listed { name: shown, processes: 0, hierarchies: Vec::new() });
            row.processes = row.processes.max(procs);
            row.hierarchies.push(h.label());
        }
    }
    Ok(rows.into_values().collect())
}
