//! A cgroup by name across every hierarchy it lives in: create it (and undo a partial
//! creation), write its limits, move processes in, freeze, kill, remove.
//!
//! Which hierarchies: the v2 tree whenever one is mounted (v2 and hybrid: on hybrid the
//! group is created and joined there too, which gives `cgroup.kill`, `cgroup.freeze` and
//! `cgroup.events` even without v2 controllers), and the v1 hierarchies of the tracking
//! controllers (v1: memory, cpu, cpuacct, pids, freezer; hybrid: memory and pids) plus
//! any a limit needs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::files::{io_err, procs_of, read_file, remove_dir_retrying, wait_for, walk, write_file, InterfaceWriter};
use crate::limits::Write;
use crate::name::GroupName;
use crate::setup::{Cgroups, Hierarchy, Setup, Version};
use crate::Error;
use chainload::error::sys;

/// The v1 controllers every group is created in on a v1 machine, so that stats,
/// freezing and killing work.
pub const TRACKING_V1: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "freezer"];

/// On a hybrid machine the v2 tree already gives CPU usage (`cpu.stat`), `cgroup.freeze`
/// and `cgroup.kill`; only memory and task counts need their v1 hierarchies.
pub const TRACKING_HYBRID: [&str; 2] = ["memory", "pids"];

/// The controllers a group is to be in beyond those its limits write to
/// (`--controllers`).
#[derive(Debug, Clone, Default)]
pub struct Also {
    /// Their names.
    pub controllers: Vec<String>,
    /// On v2, enable those the kernel lets be enabled and leave the rest (`all`).
    pub best_effort: bool,
}

/// What [`Group::create_and_apply`] does where the group's directory already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Use it (`create` into hierarchies a group is not in yet, `exec --create`).
    Reuse,
    /// Fail with [`Error::Exists`], undoing whatever the call created.
    Refuse,
}

/// A group by name on this machine.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The machine's hierarchies.
    pub cg: &'a Cgroups,
    /// The name.
    pub name: GroupName,
}

/// What a creation made, so a failure can undo exactly that.
///
/// Controllers enabled in the `cgroup.subtree_control` of an ancestor that already
/// existed stay enabled: a group created next to ours in the meantime may rely on them,
/// and disabling them would silently drop that group's limits (runc and systemd never
/// disable them either). In a directory this creation made they go with the directory.
#[derive(Debug, Default)]
pub struct Created {
    /// Directories made, outermost first.
    pub dirs: Vec<PathBuf>,
    /// The group's directory in each hierarchy the creation put it in (made or found).
    pub group_dirs: Vec<(Version, PathBuf)>,
}

impl Created {
    /// Undo: remove what was made, deepest first.
    pub fn undo(self) {
        for dir in self.dirs.iter().rev() {
            let _ = remove_dir_retrying(dir, Duration::from_millis(500));
        }
    }
}

/// [`write_file`], with the error naming the file, the value and what it was for.
fn write_interface(path: &Path, value: &str, flag: &str) -> Result<(), Error> {
    write_file(path, value).map_err(|source| Error::Write {
        value: value.into(),
        flag: flag.into(),
        path: path.to_path_buf(),
        source,
    })
}

/// The error for a write none of whose candidate files is there: the group itself is
/// gone, or this kernel or setup lacks the file.
fn missing_interface_file(group: &Group, w: &Write, dir: &Path) -> Error {
    if !dir.is_dir() {
        return Error::NoSuchGroup(group.name.to_string());
    }
    let names: Vec<String> = w.candidates.iter().map(|(f, _)| format!("'{f}'")).collect();
    Error::Unsupported(format!(
        "{}: no interface file {} in '{}' (not supported by this kernel or setup)",
        w.flag,
        names.join(" or "),
        dir.display()
    ))
}

/// How long `freeze` waits for the kernel to report the group frozen.
const FREEZE_PATIENCE: Duration = Duration::from_secs(5);

impl<'a> Group<'a> {
    /// The group `name` on `cg`.
    pub fn new(cg: &'a Cgroups, name: GroupName) -> Group<'a> {
        Group { cg, name }
    }

    /// The hierarchies the group is created in, given the controllers its limits write to.
    pub fn hierarchies_for(&self, controllers: &[String]) -> Vec<&'a Hierarchy> {
        let mut out: Vec<&Hierarchy> = Vec::new();
        if let Some(v2) = self.cg.v2() {
            out.push(v2);
        }
        let tracking: &[&str] = match self.cg.setup {
            Setup::Hybrid if self.cg.v2_has_kill => &TRACKING_HYBRID,
            _ => &TRACKING_V1,
        };
        for h in self.cg.v1_controller_hierarchies() {
            let wanted = tracking.iter().any(|c| h.has(c)) || controllers.iter().any(|c| h.has(c));
            if wanted && !out.iter().any(|o| std::ptr::eq(*o, h)) {
                out.push(h);
            }
        }
        out
    }

    /// Every hierarchy the group may be in: the v2 tree and each v1 controller hierarchy.
    fn hierarchies(&self) -> impl Iterator<Item = &'a Hierarchy> {
        self.cg.v2().into_iter().chain(self.cg.v1_controller_hierarchies())
    }

    /// Every hierarchy where the group's directory exists, with that directory.
    pub fn existing(&self) -> Vec<(&'a Hierarchy, PathBuf)> {
        self.hierarchies().map(|h| (h, self.name.dir(h))).filter(|(_, d)| d.is_dir()).collect()
    }

    /// The group's directory in every hierarchy it may be in, whether it is there or not.
    pub fn all_dirs(&self) -> Vec<(Version, PathBuf)> {
        self.hierarchies().map(|h| (h.version, self.name.dir(h))).collect()
    }

    /// Whether the group exists in any hierarchy.
    pub fn exists(&self) -> bool {
        !self.existing().is_empty()
    }

    /// Whether the group exists in a hierarchy other than `these` (a creation that
    /// refuses an existing group finds it in those by itself, when its mkdir fails).
    pub fn exists_outside(&self, these: &[&Hierarchy]) -> bool {
        self.hierarchies().filter(|h| !these.iter().any(|t| std::ptr::eq(*t, *h))).any(|h| self.name.dir(h).is_dir())
    }

    /// An error unless the group exists.
    pub fn require(&self) -> Result<(), Error> {
        if self.exists() {
            Ok(())
        } else {
            Err(Error::NoSuchGroup(self.name.to_string()))
        }
    }

    /// The directory in the hierarchy that holds `write`'s controller.
    fn dir_for(&self, version: Version, controller: &str) -> Option<PathBuf> {
        let h = match version {
            Version::V2 => self.cg.v2()?,
            Version::V1 => self.cg.v1(controller)?,
        };
        Some(self.name.dir(h))
    }

    /// Create the group in every hierarchy it needs (for `writes`, and those of the
    /// controllers `also`, which on v2 are enabled for it: where the kernel lets them
    /// be, with `best_effort`) that it is not in yet, then apply `writes`. On failure
    /// everything this call created is undone.
    pub fn create_and_apply(&self, writes: &[Write], also: &Also, if_exists: IfExists) -> Result<Created, Error> {
        let mut controllers: Vec<String> = writes.iter().map(|w| w.controller.clone()).collect();
        controllers.extend(also.controllers.iter().cloned());
        let mut created = Created::default();
        let hierarchies = self.hierarchies_for(&controllers);
        let result =
            self.create_in(&hierarchies, writes, also, if_exists, &mut created).and_then(|()| self.apply(writes));
        match result {
            Ok(()) => Ok(created),
            Err(e) => {
                created.undo();
                Err(e)
            }
        }
    }

    fn create_in(
        &self,
        hierarchies: &[&Hierarchy],
        writes: &[Write],
        also: &Also,
        if_exists: IfExists,
        created: &mut Created,
    ) -> Result<(), Error> {
        for h in hierarchies {
            let target = self.name.dir(h);
            created.group_dirs.push((h.version, target.clone()));
            let root = h.dir_of(Path::new("/"));
            // The target's parent usually exists: mkdir the target straight away
            // (cgroupfs path lookups are costly) and read EEXIST. Only where the parent is
            // missing are the ancestors looked at, and the missing ones made, outermost first.
            match std::fs::create_dir(&target) {
                Ok(()) => made(h, &target, created)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let mut ancestors: Vec<PathBuf> = target
                        .ancestors()
                        .skip(1)
                        .take_while(|p| p.starts_with(&root) && *p != root)
                        .map(Path::to_path_buf)
                        .collect();
                    ancestors.reverse();
                    for dir in &ancestors {
                        if dir.is_dir() {
                            continue;
                        }
                        match std::fs::create_dir(dir) {
                            Ok(()) => made(h, dir, created)?,
                            // Made by a concurrent creation since we looked: shared.
                            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                            Err(e) => return Err(io_err("cannot create cgroup", dir)(e)),
                        }
                    }
                    match std::fs::create_dir(&target) {
                        Ok(()) => made(h, &target, created)?,
                        Err(e) => self.target_exists(e, &target, if_exists)?,
                    }
                }
                Err(e) => self.target_exists(e, &target, if_exists)?,
            }
            if h.version == Version::V2 {
                let needed: Vec<&str> = writes
                    .iter()
                    .filter(|w| w.version == Version::V2 && w.controller != "cgroup")
                    .map(|w| w.controller.as_str())
                    .collect();
                enable_v2_controllers(h, &root, &target, &needed)?;
                let more: Vec<&str> =
                    also.controllers.iter().map(String::as_str).filter(|c| h.has(c) && !needed.contains(c)).collect();
                // All at once; with best_effort, where that fails, each that can be.
                match enable_v2_controllers(h, &root, &target, &more) {
                    Err(e) if !also.best_effort => return Err(e),
                    Err(_) => {
                        for c in &more {
                            let _ = enable_v2_controllers(h, &root, &target, &[c]);
                        }
                    }
                    Ok(()) => {}
                }
            }
        }
        Ok(())
    }

    /// The target's mkdir failed with `e`: an existing group is reused or refused as
    /// `if_exists` says; anything else is the error.
    fn target_exists(&self, e: std::io::Error, target: &Path, if_exists: IfExists) -> Result<(), Error> {
        match if_exists {
            IfExists::Reuse if e.kind() == std::io::ErrorKind::AlreadyExists && target.is_dir() => Ok(()),
            IfExists::Refuse if e.kind() == std::io::ErrorKind::AlreadyExists && target.is_dir() => {
                Err(Error::Exists(self.name.to_string()))
            }
            _ => Err(io_err("cannot create cgroup", target)(e)),
        }
    }

    /// Write every planned value, in order; the first missing candidate file or rejected
    /// value is an error naming the file and the value.
    pub fn apply(&self, writes: &[Write]) -> Result<(), Error> {
        let mut writer = InterfaceWriter::default();
        for w in order_memory_writes(self, writes) {
            let dir = self.dir_for(w.version, &w.controller).ok_or_else(|| {
                Error::Unsupported(format!("{}: the {} controller is not mounted", w.flag, w.controller))
            })?;
            if let Some(policy) = &w.device_program {
                attach_device_program(&dir, policy, &w.flag)?;
                continue;
            }
            // One candidate: open it directly and explain an ENOENT afterwards. Several:
            // the first that exists.
            let chosen = match w.candidates.as_slice() {
                [only] => Some(only),
                all => all.iter().find(|(f, _)| dir.join(f).exists()),
            };
            let Some((file, value)) = chosen else {
                return Err(missing_interface_file(self, w, &dir));
            };
            let path = dir.join(file);
            if file.contains("bfq.weight") && !any_device_uses_bfq() {
                return Err(Error::Unsupported(format!(
                    "{}: only the BFQ I/O scheduler honours '{file}', and no block device uses it \
                     (see /sys/block/*/queue/scheduler)",
                    w.flag
                )));
            }
            writer.write(&path, value).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => missing_interface_file(self, w, &dir),
                _ => Error::Write { value: value.clone(), flag: w.flag.clone(), path: path.clone(), source },
            })?;
        }
        Ok(())
    }

    /// Move process `pid` (0: the caller) into the group in every hierarchy it exists in.
    pub fn join(&self, pid: i32) -> Result<(), Error> {
        let existing = self.existing();
        if existing.is_empty() {
            return Err(Error::NoSuchGroup(self.name.to_string()));
        }
        for (_, dir) in existing {
            let procs = dir.join("cgroup.procs");
            write_file(&procs, &pid.to_string()).map_err(|source| Error::Write {
                value: pid.to_string(),
                flag: "moving the process".into(),
                path: procs.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Move the calling process into the group in every hierarchy it exists in (but the
    /// v2 tree when `skip_v2`: a child born there by `CLONE_INTO_CGROUP` is in already).
    ///
    /// The caller must be single-threaded: on v1 it moves its one thread through `tasks`
    /// with pid 0, which the kernel does without the global threadgroup lock (and its
    /// RCU grace period, milliseconds at a time) that a `cgroup.procs` write takes.
    pub fn join_self(&self, skip_v2: bool) -> Result<(), Error> {
        let existing = self.existing();
        if existing.is_empty() {
            return Err(Error::NoSuchGroup(self.name.to_string()));
        }
        let dirs: Vec<(Version, PathBuf)> = existing.into_iter().map(|(h, d)| (h.version, d)).collect();
        join_self_in(&dirs, skip_v2)
    }

    /// [`Group::join_self`] right after `created`: the hierarchies it put the group in
    /// are known, so only the others are looked at (a group reused may be in more).
    pub fn join_self_created(&self, created: &Created, skip_v2: bool) -> Result<(), Error> {
        let mut dirs = created.group_dirs.clone();
        // (Both made by `GroupName::dir`: the same bytes, compared as such.)
        let known: Vec<&std::ffi::OsStr> = created.group_dirs.iter().map(|(_, d)| d.as_os_str()).collect();
        dirs.extend(
            self.hierarchies()
                .map(|h| (h.version, self.name.dir(h)))
                .filter(|(_, d)| !known.contains(&d.as_os_str()) && d.is_dir()),
        );
        join_self_in(&dirs, skip_v2)
    }

    /// Every pid in the group and its sub-groups, in every hierarchy (deduplicated).
    pub fn pids(&self) -> Vec<i32> {
        let mut all: Vec<i32> = self.existing().iter().flat_map(|(_, d)| walk(d)).flat_map(|d| procs_of(&d)).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        self.cg.v2().map(|h| self.name.dir(h)).filter(|d| d.is_dir())
    }

    fn v1_freezer_dir(&self) -> Option<PathBuf> {
        self.cg.v1("freezer").map(|h| self.name.dir(h)).filter(|d| d.join("freezer.state").exists())
    }

    /// Freeze every process of the group: `cgroup.freeze` on v2 (and hybrid), else the v1
    /// freezer. Waits until the kernel reports the group frozen.
    pub fn freeze(&self) -> Result<(), Error> {
        self.require()?;
        if let Some(d) = self.v2_dir().filter(|d| d.join("cgroup.freeze").exists()) {
            let f = d.join("cgroup.freeze");
            write_interface(&f, "1", "freeze")?;
            let events = d.join("cgroup.events");
            if wait_for(FREEZE_PATIENCE, || read_file(&events).is_some_and(|e| e.lines().any(|l| l == "frozen 1"))) {
                return Ok(());
            }
            // Not frozen: do not leave it half frozen, and say so.
            let _ = write_file(&f, "0");
            return Err(self.not_frozen(&events));
        }
        if let Some(d) = self.v1_freezer_dir() {
            let f = d.join("freezer.state");
            write_interface(&f, "FROZEN", "freeze")?;
            if wait_for(FREEZE_PATIENCE, || read_file(&f).as_deref() == Some("FROZEN")) {
                return Ok(());
            }
            let _ = write_file(&f, "THAWED");
            return Err(self.not_frozen(&f));
        }
        Err(Error::Unsupported(format!(
            "cannot freeze '{}': no freezer (v1 freezer controller or v2 cgroup.freeze)",
            self.name
        )))
    }

    fn not_frozen(&self, state: &Path) -> Error {
        Error::NotFrozen {
            name: self.name.to_string(),
            seconds: FREEZE_PATIENCE.as_secs(),
            file: state.to_path_buf(),
            state: read_file(state).unwrap_or_default().replace('\n', " ").trim().to_string(),
        }
    }

    /// Whether the kernel reports the group frozen (v2's `cgroup.events`, else the v1
    /// freezer's state).
    pub fn is_frozen(&self) -> bool {
        if let Some(d) = self.v2_dir().filter(|d| d.join("cgroup.freeze").exists()) {
            return read_file(&d.join("cgroup.events")).is_some_and(|e| e.lines().any(|l| l == "frozen 1"));
        }
        self.v1_freezer_dir().is_some_and(|d| read_file(&d.join("freezer.state")).as_deref() == Some("FROZEN"))
    }

    /// Whether the group is asked to be frozen (`cgroup.freeze` 1; v1: FREEZING or
    /// FROZEN), whether or not every process is yet: a frozen process being killed
    /// leaves the frozen state to die, and the group with it, while the freeze stands
    /// for the others.
    pub fn freeze_asked(&self) -> bool {
        if let Some(d) = self.v2_dir().filter(|d| d.join("cgroup.freeze").exists()) {
            return read_file(&d.join("cgroup.freeze")).as_deref() == Some("1");
        }
        self.v1_freezer_dir()
            .is_some_and(|d| matches!(read_file(&d.join("freezer.state")).as_deref(), Some("FROZEN" | "FREEZING")))
    }

    /// Thaw the group (both freezers, where present).
    pub fn thaw(&self) -> Result<(), Error> {
        self.require()?;
        if let Some(d) = self.v2_dir().filter(|d| d.join("cgroup.freeze").exists()) {
            let f = d.join("cgroup.freeze");
            write_interface(&f, "0", "thaw")?;
        }
        if let Some(d) = self.v1_freezer_dir() {
            let f = d.join("freezer.state");
            write_interface(&f, "THAWED", "thaw")?;
        }
        Ok(())
    }

    /// Send `sig` to every process of the group and its sub-groups. SIGKILL uses
    /// `cgroup.kill` where the kernel has it; otherwise the group is frozen (v1 freezer)
    /// so nothing forks while it is being signalled, then thawed so the signal lands.
    pub fn signal(&self, sig: Signal) -> Result<usize, Error> {
        self.require()?;
        let mut count = 0;
        if sig == Signal::SIGKILL {
            if let Some(k) = self.v2_dir().map(|d| d.join("cgroup.kill")).filter(|k| k.exists()) {
                count = self.pids().len();
                write_interface(&k, "1", "kill")?;
            }
        }
        let pids = self.pids();
        if pids.is_empty() {
            return Ok(count);
        }
        let freezer = self.v1_freezer_dir().filter(|_| sig == Signal::SIGKILL);
        if let Some(d) = &freezer {
            write_interface(&d.join("freezer.state"), "FROZEN", "kill (freezing the group first)")?;
        }
        let sent = pids.iter().try_for_each(|pid| match nix::sys::signal::kill(Pid::from_raw(*pid), sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(sys(format!("cannot signal process {pid}"))(e).into()),
        });
        // Thawed again whatever happened, so that the signal lands.
        let thawed = match &freezer {
            Some(d) => write_interface(&d.join("freezer.state"), "THAWED", "kill (thawing the group after)"),
            None => Ok(()),
        };
        sent.and(thawed)?;
        // (A group frozen by `freeze` handles a non-fatal signal once it is thawed;
        // SIGKILL wakes frozen tasks by itself.)
        Ok(count.max(pids.len()))
    }

    /// Kill everything in the group and wait (up to `patience`) until it is empty.
    pub fn kill_all(&self, patience: Duration) -> Result<(), Error> {
        if self.pids().is_empty() {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            self.signal(Signal::SIGKILL)?;
            if wait_for(Duration::from_millis(200), || self.pids().is_empty()) {
                return Ok(());
            }
            if start.elapsed() > patience {
                return Err(Error::Busy(format!(
                    "cannot empty '{}': processes {:?} did not die",
                    self.name,
                    self.pids()
                )));
            }
        }
    }

    /// The group's directory in each of `hierarchies`, with the hierarchy's version.
    pub fn dirs_in(&self, hierarchies: &[&Hierarchy]) -> Vec<(Version, PathBuf)> {
        hierarchies.iter().map(|h| (h.version, self.name.dir(h))).collect()
    }

    /// The fast path for a group known to live in `dirs`: remove each directory; the
    /// kernel refuses (EBUSY) one that still holds a process or a sub-group, and then this
    /// returns false and the caller takes the thorough path for what is left.
    pub fn try_remove_empty(&self, dirs: &[(Version, PathBuf)]) -> bool {
        dirs.iter().all(|(_, d)| match std::fs::remove_dir(d) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        })
    }

    /// Remove the group and its sub-groups, deepest first, in every hierarchy. With
    /// `force`, the processes inside are killed first (a frozen group is thawed).
    pub fn remove(&self, force: bool) -> Result<(), Error> {
        self.require()?;
        if force {
            self.kill_all(Duration::from_secs(10))?;
            let _ = self.thaw();
        } else if let Some(pid) = self.pids().first() {
            return Err(Error::Busy(format!(
                "cannot remove '{}': process {pid} is still in it (use rm --force to kill what is inside)",
                self.name
            )));
        }
        for (_, dir) in self.existing() {
            for d in walk(&dir).iter().rev() {
                remove_dir_retrying(d, Duration::from_secs(5)).map_err(io_err("cannot remove cgroup", d))?;
            }
        }
        Ok(())
    }
}

/// [`Group::join_self`] for directories known to exist (a group just created).
pub fn join_self_in(dirs: &[(Version, PathBuf)], skip_v2: bool) -> Result<(), Error> {
    for (version, dir) in dirs {
        let file = match version {
            Version::V2 if skip_v2 => continue,
            Version::V2 => dir.join("cgroup.procs"),
            Version::V1 => dir.join("tasks"),
        };
        write_interface(&file, "0", "moving this process")?;
    }
    Ok(())
}

/// Whether any block device is scheduled by BFQ (`[bfq]` in its queue/scheduler).
fn any_device_uses_bfq() -> bool {
    std::fs::read_dir("/sys/block")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| read_file(&e.path().join("queue/scheduler")).is_some_and(|s| s.contains("[bfq]")))
        })
        .unwrap_or(false)
}

/// v1 memory: the memory limit may never exceed memory+swap. When raising the memory
/// limit above the current memory+swap limit, write memory+swap first.
fn order_memory_writes<'w>(g: &Group<'_>, writes: &'w [Write]) -> Vec<&'w Write> {
    let mut out: Vec<&Write> = writes.iter().collect();
    let pos = |file: &str| out.iter().position(|w| w.version == Version::V1 && w.candidates[0].0 == file);
    if let (Some(m), Some(s)) = (pos("memory.limit_in_bytes"), pos("memory.memsw.limit_in_bytes")) {
        let new_mem: u64 = out[m].candidates[0].1.parse().unwrap_or(0);
        let current_sw: u64 = g
            .dir_for(Version::V1, "memory")
            .and_then(|d| read_file(&d.join("memory.memsw.limit_in_bytes")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX);
        if new_mem > current_sw && m < s {
            out.swap(m, s);
        }
    }
    out
}

/// `dir` was made in `h`: recorded for an undo, and on v1 cpuset given its parent's
/// CPUs and memory nodes.
fn made(h: &Hierarchy, dir: &Path, created: &mut Created) -> Result<(), Error> {
    created.dirs.push(dir.to_path_buf());
    if h.version == Version::V1 && h.has("cpuset") {
        copy_cpuset_from_parent(dir)?;
    }
    Ok(())
}

/// v1 cpuset: a new group starts with empty `cpuset.cpus`/`cpuset.mems`, so no task can
/// join it. Copy them from the parent.
fn copy_cpuset_from_parent(dir: &Path) -> Result<(), Error> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let mine = dir.join(f);
        if read_file(&mine).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let value = read_file(&parent.join(f)).unwrap_or_default();
        write_file(&mine, &value).map_err(|source| Error::Write {
            value: value.clone(),
            flag: "copying the parent's cpuset".into(),
            path: mine.clone(),
            source,
        })?;
    }
    Ok(())
}

/// v2: make `needed` controllers available to `target` by enabling them in the
/// `cgroup.subtree_control` of every ancestor, top down, that lacks them.
///
/// The kernel shows a controller in `cgroup.subtree_control` as soon as an enabling
/// write begins, before that write has made the interface files in the children, and
/// the read does not wait for it. So the target's parent is written even when it lists
/// every needed controller already: a write takes the kernel's cgroup lock, which a
/// concurrent enabling holds until the files of our new group exist.
fn enable_v2_controllers(h: &Hierarchy, root: &Path, target: &Path, needed: &[&str]) -> Result<(), Error> {
    if needed.is_empty() {
        return Ok(());
    }
    let available: Vec<String> =
        read_file(&root.join("cgroup.controllers")).unwrap_or_default().split_whitespace().map(String::from).collect();
    for c in needed {
        if !available.iter().any(|a| a == c) {
            return Err(Error::Unsupported(format!(
                "the {c} controller is not available in the cgroup v2 tree at '{}' (cgroup.controllers: {})",
                h.mount_point.display(),
                available.join(" ")
            )));
        }
    }
    let mut ancestors: Vec<&Path> = target.ancestors().skip(1).take_while(|p| p.starts_with(root)).collect();
    ancestors.reverse();
    let parent = ancestors.last().copied();
    for dir in ancestors {
        let file = dir.join("cgroup.subtree_control");
        let enabled = read_file(&file).unwrap_or_default();
        let mut missing: Vec<&str> =
            needed.iter().copied().filter(|c| !enabled.split_whitespace().any(|e| e == *c)).collect();
        if missing.is_empty() && Some(dir) == parent {
            missing.push(needed[0]); // a no-op write, to wait for a concurrent enabling
        }
        for c in missing {
            write_file(&file, &format!("+{c}")).map_err(|source| match source.raw_os_error() {
                Some(libc::EBUSY) => Error::NoInternalProcesses { controller: c.to_string(), path: file.clone() },
                _ => Error::Write {
                    value: format!("+{c}"),
                    flag: "enabling the controller".into(),
                    path: file.clone(),
                    source,
                },
            })?;
        }
    }
    Ok(())
}

/// Load the device allow-list as an eBPF program and attach it to the v2 group `dir`.
fn attach_device_program(dir: &Path, policy: &crate::devices::Policy, flag: &str) -> Result<(), Error> {
    use std::os::fd::AsFd;
    let prog = crate::bpf::prog_load_cgroup_device(&crate::devices::program(policy))
        .map_err(sys(format!("{flag}: cannot load the device program (bpf BPF_PROG_LOAD)")))?;
    let cg = std::fs::File::open(dir).map_err(io_err("cannot open cgroup", dir))?;
    crate::bpf::prog_attach_cgroup_device(cg.as_fd(), prog.as_fd())
        .map_err(sys(format!("{flag}: cannot attach the device program to '{}'", dir.display())))?;
    Ok(())
}
