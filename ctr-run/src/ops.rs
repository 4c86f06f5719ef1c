//! The commands on existing containers: ps, kill, rm, logs, exec, commit.

use std::ffi::OsString;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::Serialize;

use crate::paths::{Root, Tools};
use crate::state::{State, Status};
use crate::store;
use crate::Error;
use chainload::error::{sys, FromIo};

/// One row of `ps`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Full id.
    pub id: String,
    /// Name.
    pub name: String,
    /// created, running, restarting or exited.
    pub status: Status,
    /// Exit status once exited.
    pub exit_code: Option<i32>,
    /// Whether the OOM killer ended it.
    pub oom_killed: bool,
    /// Host pid of PID 1 while running.
    pub pid: Option<i32>,
    /// The command.
    pub command: Vec<String>,
    /// Creation time (seconds since the epoch).
    pub created: u64,
    /// When it exited (seconds since the epoch).
    pub finished: Option<u64>,
    /// Its cgroup (none: a rootless container without a delegated cgroup).
    pub cgroup: Option<String>,
    /// When its command last started.
    pub started: Option<u64>,
    /// How often it was restarted.
    pub restart_count: u32,
    /// Whether it is paused (`pause`: its processes frozen).
    pub paused: bool,
    /// Its labels (the image's and `--label`).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Row {
    /// docker's STATUS column at time `now`: `Created`, `Up 5 seconds`, `Restarting (1)
    /// 2 seconds ago`, `Exited (0) 2 minutes ago` (`(137, OOM)` for the OOM killer's);
    /// a restarted one says how often (`Up 5 seconds (restarted 2 times)`).
    pub fn status_at(&self, now: u64) -> String {
        let code = match (self.exit_code, self.oom_killed) {
            (Some(c), true) => format!("{c}, OOM"),
            (Some(c), false) => c.to_string(),
            (None, _) => "?".into(),
        };
        let ago = self.finished.map(|f| format!(" {} ago", human_duration(now.saturating_sub(f)))).unwrap_or_default();
        let status = match self.status {
            Status::Created => "Created".into(),
            Status::Running => {
                let up = human_duration(now.saturating_sub(self.started.unwrap_or(self.created)));
                if self.paused {
                    format!("Up {up} (Paused)")
                } else {
                    format!("Up {up}")
                }
            }
            Status::Restarting => format!("Restarting ({code}){ago}"),
            Status::Exited => format!("Exited ({code}){ago}"),
        };
        match self.restart_count {
            0 => status,
            1 => format!("{status} (restarted once)"),
            n => format!("{status} (restarted {n} times)"),
        }
    }

    /// The row under docker's `ps --format` names: ID (12 digits), Names, Command,
    /// CreatedAt, RunningFor, Status (as the table's), State (created, running, paused,
    /// restarting, exited), Labels (`k=v,...`), and Pid (0 when not running).
    pub fn docker_fields(&self, now: u64) -> serde_json::Value {
        let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        serde_json::json!({
            "ID": &self.id[..12.min(self.id.len())],
            "Names": self.name,
            "Command": self.command.join(" "),
            "CreatedAt": chainload::time::rfc3339(self.created as i64, 0),
            "RunningFor": format!("{} ago", human_duration(now.saturating_sub(self.created))),
            "Status": self.status_at(now),
            "State": if self.paused { "paused".to_string() } else { self.status.to_string() },
            "Labels": labels.join(","),
            "Pid": self.pid.unwrap_or(0),
        })
    }
}

/// `ps --filter KEY=VALUE`, docker's keys: `id` (a prefix of the id), `name` (part of
/// the name), `label` (`KEY` or `KEY=VALUE`), `status` (created, running, paused,
/// restarting, exited) and `exited` (an exit code). Filters of one key match if any
/// does; of different keys, if all do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsFilter {
    key: String,
    value: String,
}

impl PsFilter {
    /// Parse `KEY=VALUE`.
    pub fn parse(s: &str) -> Result<PsFilter, String> {
        let (key, value) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))?;
        match key {
            "id" | "name" | "label" => {}
            "status" if ["created", "running", "paused", "restarting", "exited"].contains(&value) => {}
            "status" => return Err(format!("status '{value}': one of created, running, paused, restarting, exited")),
            "exited" if value.parse::<i32>().is_ok() => {}
            "exited" => return Err(format!("exited '{value}': an exit code")),
            _ => return Err(format!("unknown filter '{key}' (id, name, label, status, exited)")),
        }
        Ok(PsFilter { key: key.into(), value: value.into() })
    }

    /// Whether it can match an exited container (then `ps` lists those too, as docker's).
    pub fn wants_exited(&self) -> bool {
        self.key == "exited" || (self.key == "status" && self.value == "exited")
    }

    fn matches(&self, r: &Row) -> bool {
        let v = self.value.as_str();
        match self.key.as_str() {
            "id" => r.id.starts_with(v),
            "name" => r.name.contains(v),
            "label" => match v.split_once('=') {
                Some((k, want)) => r.labels.get(k).is_some_and(|have| have == want),
                None => r.labels.contains_key(v),
            },
            "status" => v == if r.paused { "paused".to_string() } else { r.status.to_string() },
            _ => r.status == Status::Exited && r.exit_code.map(|c| c.to_string()).as_deref() == Some(v),
        }
    }
}

/// The rows every key of `filters` matches (any filter of that key).
pub fn filtered(rows: Vec<Row>, filters: &[PsFilter]) -> Vec<Row> {
    rows.into_iter()
        .filter(|r| filters.iter().all(|f| filters.iter().any(|g| g.key == f.key && g.matches(r))))
        .collect()
}

/// A duration as docker words it in `ps`: `Less than a second`, `1 second`, `5
/// minutes`, `2 hours`, `3 days`.
pub fn human_duration(secs: u64) -> String {
    let unit = |n: u64, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    match secs {
        0 => "Less than a second".into(),
        s if s < 60 => unit(s, "second"),
        s if s < 3600 => unit(s / 60, "minute"),
        s if s < 86_400 => unit(s / 3600, "hour"),
        s => unit(s / 86_400, "day"),
    }
}

/// Every container, after noticing and cleaning stale ones (`all`: exited ones too).
pub fn ps(root: &Root, all: bool) -> Result<Vec<Row>, Error> {
    // (No root yet is no container; one that cannot be read, another user's, is an error.)
    if let Err(e) = std::fs::read_dir(&root.dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(Error::io("cannot read the state directory", &root.dir, e));
        }
    }
    let mut rows = Vec::new();
    for st in store::list(root) {
        let st = match store::really_stale(root, &st) {
            Some(fresh) => {
                store::clean_stale(root, &fresh)?;
                match State::load(&root.container(&st.id).state()) {
                    Ok(s) => s,
                    Err(_) => continue, // removed entirely
                }
            }
            // The state may have moved on since it was listed: show the current one.
            None if st.stale() => match State::load(&root.container(&st.id).state()) {
                Ok(s) => s,
                Err(_) => continue,
            },
            None => st,
        };
        if st.status == Status::Exited && !all {
            continue;
        }
        rows.push(Row {
            id: st.id.clone(),
            name: st.name.clone(),
            status: st.status,
            exit_code: st.exit_code,
            oom_killed: st.oom_killed,
            pid: st.pid.filter(|_| st.status == Status::Running).map(|p| p.pid),
            command: st.config.command.clone(),
            created: st.created,
            finished: st.finished,
            cgroup: st.config.cgroup.clone(),
            started: st.started,
            restart_count: st.restart_count,
            paused: st.status == Status::Running && store::is_paused(&st),
            labels: st.config.labels.clone(),
        });
    }
    Ok(rows)
}

/// `kill [-s SIGNAL] ID`: signal the container's PID 1.
pub fn kill(root: &Root, key: &str, sig: Signal) -> Result<(), Error> {
    let st = store::find(root, key)?;
    // As docker: a fatal signal (KILL, TERM, INT, QUIT or the container's stop signal)
    // turns its restart policy off; another (USR1 to reopen logs, say) leaves it on.
    let stop_signal = st.config.stop_signal.as_deref().and_then(|s| chainload::signals::parse_signal(s).ok());
    let fatal =
        matches!(sig, Signal::SIGKILL | Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) || Some(sig) == stop_signal;
    if st.status == Status::Restarting && fatal && st.supervisor.is_some_and(|s| s.alive()) {
        // (Between two runs: its supervisor ends it instead of starting it again.)
        store::request_stop(root, &st)?;
        return match wait_stopped(root, &st.id, Some(Duration::from_secs(10))) {
            Waited::Running => Err(Error::DidNotStop(st.name.clone())),
            _ => Ok(()),
        };
    }
    let Some(p) = st.pid.filter(|p| st.status == Status::Running && p.alive()) else {
        return Err(Error::WrongState(format!("container {} is not running", st.name)));
    };
    if fatal {
        store::request_stop(root, &st)?;
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), sig)
        .map_err(|e| Error::from(sys(format!("cannot signal container {}", st.name))(e)))?;
    if fatal {
        store::thaw_if_paused(&st);
    }
    if sig == Signal::SIGKILL {
        // As docker: once `kill` returns, the container has stopped (its supervisor has
        // recorded the exit), so a `rm` right after works.
        if let Waited::Running = wait_stopped(root, &st.id, Some(Duration::from_secs(10))) {
            return Err(Error::DidNotStop(st.name.clone()));
        }
    }
    Ok(())
}

/// `pause ID`: freeze every process of the container (its cgroup's freezer), as docker
/// pause; `unpause ID` (`frozen` false) thaws them. Refused for a container that is not
/// running, already in that state, or without a cgroup.
pub fn pause(root: &Root, key: &str, frozen: bool) -> Result<(), Error> {
    let st = store::find(root, key)?;
    // (Unpause only asks that it was running when paused: its PID 1 killed meanwhile,
    // the chain's process in its cgroup can only end once thawed.)
    let running = if frozen { st.running() } else { st.status == Status::Running };
    if !running {
        return Err(Error::WrongState(format!("container {} is not running", st.name)));
    }
    let Some(cgroup) = &st.config.cgroup else {
        return Err(Error::WrongState(format!(
            "container {} has no cgroup to freeze (a rootless container without a delegated cgroup)",
            st.name
        )));
    };
    let (cg, name) = store::group_of(cgroup)?;
    let group = cgctl::group::Group::new(&cg, name);
    match (frozen, group.freeze_asked()) {
        (true, true) => Err(Error::WrongState(format!("container {} is already paused", st.name))),
        (false, false) => Err(Error::WrongState(format!("container {} is not paused", st.name))),
        (true, false) => {
            group.freeze().map_err(|e| Error::WrongState(format!("cannot pause container {}: {e}", st.name)))
        }
        (false, true) => {
            group.thaw().map_err(|e| Error::WrongState(format!("cannot unpause container {}: {e}", st.name)))
        }
    }
}

/// How waiting for a container to stop ended.
enum Waited {
    /// It stopped: its state, with the exit recorded.
    Stopped(Box<State>),
    /// It was removed meanwhile.
    Removed,
    /// Still running when patience ran out.
    Running,
}

/// Wait until container `id` has stopped (its exit recorded, or its supervisor gone),
/// at most `patience` (`None`: as long as it takes).
fn wait_stopped(root: &Root, id: &str, patience: Option<Duration>) -> Waited {
    let start = Instant::now();
    loop {
        match store::find(root, id) {
            Ok(now) if now.status != Status::Exited && now.supervisor.is_some_and(|s| s.alive()) => {}
            // The supervisor records the end, then exits: found gone after a read that
            // said running, it may have done both in between. What it left is in the
            // state read after its death.
            Ok(now) if now.status != Status::Exited => {
                return match store::find(root, id) {
                    Ok(after) => Waited::Stopped(Box::new(after)),
                    Err(_) => Waited::Removed,
                }
            }
            Ok(now) => return Waited::Stopped(Box::new(now)),
            Err(_) => return Waited::Removed,
        }
        if patience.is_some_and(|p| start.elapsed() >= p) {
            return Waited::Running;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `stop [-t SECS] ID...`: the container's stop signal (`--stop-signal`, the image's
/// StopSignal, else SIGTERM), then SIGKILL after the grace period (`-t`, else the
/// container's `--stop-timeout`, else docker's 10 s); each container's name, once it has
/// stopped. A container that is not running is already stopped.
pub fn stop(root: &Root, keys: &[String], grace: Option<Duration>) -> Result<Vec<String>, Error> {
    let states: Vec<State> = keys.iter().map(|k| store::find(root, k)).collect::<Result<_, _>>()?;
    let mut stopped = Vec::new();
    for st in states {
        stop_one(root, &st, grace)?;
        stopped.push(st.name.clone());
    }
    Ok(stopped)
}

/// `stop` of one container: marked first (its restart policy must not start it again);
/// one being started (or between two runs) is waited for until it runs, then stopped,
/// or until it has ended.
fn stop_one(root: &Root, first: &State, grace: Option<Duration>) -> Result<(), Error> {
    if first.status != Status::Exited && first.supervisor.is_some_and(|s| s.alive()) {
        store::request_stop(root, first)?;
    }
    let start = Instant::now();
    loop {
        let st = match store::find(root, &first.id) {
            Ok(st) => st,
            Err(_) => return Ok(()), // (removed meanwhile: stopped)
        };
        if let Some(p) = st.pid.filter(|p| st.status == Status::Running && p.alive()) {
            let signal = st.config.stop_signal.as_deref().and_then(|s| chainload::signals::parse_signal(s).ok());
            let grace = grace.unwrap_or(Duration::from_secs(st.config.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)));
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), signal.unwrap_or(Signal::SIGTERM));
            store::thaw_if_paused(&st);
            if let Waited::Running = wait_stopped(root, &st.id, Some(grace)) {
                if let Err(e) = kill(root, &st.id, Signal::SIGKILL) {
                    // (It may have ended between the grace period and the SIGKILL.)
                    if let Waited::Running = wait_stopped(root, &st.id, Some(Duration::ZERO)) {
                        return Err(e);
                    }
                }
            }
            return Ok(());
        }
        let settling =
            matches!(st.status, Status::Created | Status::Restarting) && st.supervisor.is_some_and(|s| s.alive());
        if !settling {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(Error::DidNotStop(st.name.clone()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `restart [-t SECS] ID...`: each container is stopped (as `stop` does) and its chain
/// started again under a new supervisor, on the filesystem it had; `restarted` hears
/// each name once it runs. Only detached containers: a foreground one had a terminal.
pub fn restart(
    root: &Root,
    tools: &Tools,
    keys: &[String],
    grace: Option<Duration>,
    restarted: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let states: Vec<State> = keys.iter().map(|k| store::find(root, k)).collect::<Result<_, _>>()?;
    if let Some(st) = states.iter().find(|st| !st.config.detached) {
        return Err(Error::WrongState(format!(
            "container {} ran in the foreground; only a detached container can be restarted",
            st.name
        )));
    }
    for st in states {
        let dir = root.container(&st.id);
        let chain: crate::chain::Chain = std::fs::read_to_string(dir.chain())
            .map_err(|e| Error::io("cannot read", &dir.chain(), e))
            .and_then(|t| serde_json::from_str(&t).map_err(Error::from))?;
        stop(root, std::slice::from_ref(&st.id), grace)?;
        // (Its supervisor writes the end and exits: wait for it to be gone.)
        store::wait_supervisor_gone(&st, Duration::from_secs(10));
        let mut st = State::load(&dir.state())?;
        if st.supervisor.is_some_and(|s| s.alive()) {
            return Err(Error::DidNotStop(st.name.clone()));
        }
        store::release(&st, None)?;
        for f in [dir.stop_requested(), dir.pid_file()] {
            let _ = std::fs::remove_file(f);
        }
        st.status = Status::Created;
        st.pid = None;
        st.exit_code = None;
        st.oom_killed = false;
        st.finished = None;
        st.save(&dir.state())?;
        crate::detach::detach(root, tools, st.clone(), chain)?;
        restarted(&st.name);
    }
    Ok(())
}

/// docker's grace period of `stop`, in seconds.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// `wait ID...`: block until each container has stopped; their exit codes, in order.
pub fn wait(root: &Root, keys: &[String]) -> Result<Vec<i32>, Error> {
    let states: Vec<State> = keys.iter().map(|k| store::find(root, k)).collect::<Result<_, _>>()?;
    let mut codes = Vec::new();
    for st in states {
        match wait_stopped(root, &st.id, None) {
            Waited::Stopped(done) => codes.push(done.exit_code.unwrap_or(chainload::EXIT_TOOL_FAILED)),
            _ => return Err(Error::WrongState(format!("container {} was removed while waiting for it", st.name))),
        }
    }
    Ok(codes)
}

/// `rm [-f] ID...`: every container is looked up first.
pub fn rm(root: &Root, keys: &[String], force: bool, removed: &mut dyn FnMut(&str)) -> Result<(), Error> {
    let states: Vec<State> = keys.iter().map(|k| store::find(root, k)).collect::<Result<_, _>>()?;
    let live = |st: &State| st.status != Status::Exited && store::really_stale(root, st).is_none() && !st.stale();
    for st in &states {
        if live(st) && !force {
            return Err(Error::WrongState(format!(
                "container {} is {}; stop it first, or use rm -f",
                st.name, st.status
            )));
        }
    }
    for (st, key) in states.into_iter().zip(keys) {
        if live(&st) {
            // Kill it and let its supervisor finish (it records the exit and releases).
            let _ = store::request_stop(root, &st);
            store::kill_container(&st, Duration::from_secs(10));
            store::wait_supervisor_gone(&st, Duration::from_secs(10));
        }
        store::release(&st, None)?;
        store::remove_dir(root, &st)?;
        // (As docker: each one as it is removed, named as the caller named it.)
        removed(key);
    }
    Ok(())
}

/// `logs [--tail N] [-f] ID`: a detached container's output to `out`, the last `tail`
/// lines of it (all when `None`), and with `follow` what it writes next, until it stops.
pub fn logs(root: &Root, key: &str, tail: Option<usize>, follow: bool, out: &mut dyn Write) -> Result<(), Error> {
    let st = store::find(root, key)?;
    let log = root.container(&st.id).log();
    if !st.config.detached {
        return Err(Error::WrongState(format!(
            "container {} was not detached; its output went to its terminal",
            st.name
        )));
    }
    let mut f = std::fs::File::open(&log).map_err(|e| Error::io("cannot read", &log, e))?;
    if let Some(n) = tail {
        let start = start_of_last_lines(&mut f, n).map_err(|e| Error::io("cannot read", &log, e))?;
        f.seek(SeekFrom::Start(start)).map_err(|e| Error::io("cannot read", &log, e))?;
    }
    // Ok(false): nobody reads any more (`logs -f | head`): done, without an error.
    let copy = |f: &mut std::fs::File, out: &mut dyn Write| -> Result<bool, Error> {
        match ovlmount::archive::copy_entry(f, out) {
            Ok(_) => Ok(out.flush().is_ok()),
            Err(ovlmount::archive::CopyError::Read(e)) => Err(Error::io("cannot read", &log, e)),
            Err(ovlmount::archive::CopyError::Write(_)) => Ok(false),
        }
    };
    if !copy(&mut f, out)? {
        return Ok(());
    }
    if follow {
        loop {
            let running = matches!(store::find(root, &st.id), Ok(now) if now.status != Status::Exited
                && now.supervisor.is_some_and(|s| s.alive()));
            if !copy(&mut f, out)? || !running {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// Where the last `n` lines of `f` begin (a final line without a newline counts), read
/// backwards in blocks: a large log is not read whole for its tail.
fn start_of_last_lines(f: &mut std::fs::File, n: usize) -> std::io::Result<u64> {
    use std::io::Read;
    let len = f.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut pos = len;
    let mut newlines = 0;
    let mut buf = vec![0u8; 64 << 10];
    // A newline that ends the file ends the last line; it does not start one.
    let mut skip_final = true;
    while pos > 0 {
        let take = (pos as usize).min(buf.len());
        pos -= take as u64;
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut buf[..take])?;
        for i in (0..take).rev() {
            if buf[i] == b'\n' {
                if skip_final && pos + i as u64 == len - 1 {
                    skip_final = false;
                    continue;
                }
                newlines += 1;
                if newlines == n {
                    return Ok(pos + i as u64 + 1);
                }
            }
            skip_final = false;
        }
    }
    Ok(0)
}

/// `exec` options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `-e KEY=VAL`.
    pub env: Vec<String>,
    /// `-w DIR`.
    pub workdir: Option<String>,
    /// `-u UID[:GID]` or a name.
    pub user: Option<String>,
    /// The command.
    pub command: Vec<OsString>,
    /// `-t`: the console socket nsenter-rs sends the pty's master to.
    pub console_socket: Option<std::path::PathBuf>,
}

/// `USER[:GROUP]` as numbers (and the user's supplementary groups), names looked up in
/// the container's own files.
fn ids_in(container_root: &Path, spec: &str) -> Result<chainload::confine::Credentials, Error> {
    // Opened inside the container's root: a symlink it planted at /etc/passwd must not
    // make us read a host file.
    let passwd = chainload::ids::IdFile::InRoot { root: container_root, path: Path::new("/etc/passwd") };
    let group = chainload::ids::IdFile::InRoot { root: container_root, path: Path::new("/etc/group") };
    chainload::ids::credentials(spec, passwd, group).map_err(|source| Error::User { spec: spec.to_string(), source })
}

pub use crate::environ::Env;

/// The `exec` chain: `cgctl exec CGROUP -- nsenter-rs -t PID -a -r -W DIR [-S -G] CONFINEMENT -- CMD`,
/// with the container's environment plus `-e`.
pub fn exec_chain(root: &Root, tools: &Tools, key: &str, o: &ExecOptions) -> Result<(Vec<OsString>, Env), Error> {
    let st = store::find(root, key)?;
    let Some(p) = st.pid.filter(|p| st.status == Status::Running && p.alive()) else {
        return Err(Error::WrongState(format!("container {} is not running", st.name)));
    };
    if store::is_paused(&st) {
        return Err(Error::WrongState(format!("container {} is paused: unpause it first", st.name)));
    }
    let mut a: Vec<OsString> = match &st.config.cgroup {
        Some(cgroup) => vec![tools.cgctl.clone().into(), "exec".into(), cgroup.into(), "--".into()],
        None => Vec::new(),
    };
    a.extend([tools.nsenter.clone().into(), "-t".into(), p.pid.to_string().into(), "-a".into(), "-r".into()]);
    a.extend(["-W".into(), o.workdir.clone().unwrap_or_else(|| st.config.workdir.clone()).into()]);
    let container_root = PathBuf::from(format!("/proc/{}/root", p.pid));
    let mut uid = 0;
    let user = o.user.as_ref().or(st.config.user.as_ref());
    if user.is_some() || !st.config.group_add.is_empty() {
        // (`--group-add` alone: root's own groups, and those, as in `run`.)
        let mut c = ids_in(&container_root, user.map_or("0", String::as_str))?;
        let group = chainload::ids::IdFile::InRoot { root: &container_root, path: Path::new("/etc/group") };
        chainload::ids::add_groups(&mut c.groups, &st.config.group_add, group)
            .map_err(|(group, source)| Error::GroupAdd { group, source })?;
        uid = c.uid;
        a.extend(["-S".into(), c.uid.to_string().into(), "-G".into(), c.gid.to_string().into()]);
        // (The user's supplementary groups, as `run` gives them.)
        if !c.groups.is_empty() {
            let groups: Vec<String> = c.groups.iter().map(u32::to_string).collect();
            a.extend(["--groups".into(), groups.join(",").into()]);
        }
    }
    a.push("--close-fds".into());
    a.extend(crate::config::process_args(&st.config).into_iter().map(OsString::from));
    if !st.config.privileged {
        // The container's own set, spelled out: drop everything, add each kept capability.
        let kept = chainload::confine::caps_from_flags(
            chainload::caps::CapSet::docker_default(),
            &st.config.cap_add,
            &st.config.cap_drop,
        )?;
        a.extend(["--cap-drop".into(), "ALL".into()]);
        for n in kept.iter() {
            a.extend(["--cap-add".into(), chainload::caps::cap_name(n).into()]);
        }
        a.push("--no-new-privs".into());
    }
    if let Some(filter) = st.config.seccomp.enter_arg() {
        a.extend(["--seccomp".into(), filter.into()]);
    }
    if let Some(s) = &o.console_socket {
        a.extend(["--console-socket".into(), s.clone().into()]);
    }
    a.push("--".into());
    a.extend(o.command.iter().cloned());
    let mut env = crate::chain::with_term(&st.config.env, o.console_socket.is_some());
    // (`-e KEY` takes the caller's value, as in `run`.)
    for e in &o.env {
        crate::environ::set(&mut env, e, true);
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        // (The user's home in the container's passwd, opened inside its root, as `run`.)
        let passwd = chainload::ids::IdFile::InRoot { root: &container_root, path: Path::new("/etc/passwd") };
        env.push(("HOME".into(), chainload::ids::home_dir(uid, passwd)));
    }
    Ok((a, env))
}

/// `commit ID -o FILE [--gzip]`: the container's upper layer (never the init layer).
/// `commit ID -o FILE`: the container's upper layer as a layer tar. A running container
/// is frozen meanwhile (docker's `--pause`, the default), so its processes cannot change
/// the tree under the commit, and thawed afterwards whatever happened.
pub fn commit(root: &Root, tools: &Tools, key: &str, out: &Path, gzip: bool, pause: bool) -> Result<(), Error> {
    let st = with_writes_on_disk(root, key, "commit")?;
    let argv = commit_args(root, &st, out, gzip);
    // (One paused already stays paused: no freeze, no thaw after.)
    let group = match (&st.config.cgroup, pause && st.running() && !store::is_paused(&st)) {
        (Some(cgroup), true) => Some(store::group_of(cgroup)?),
        (None, true) => {
            return Err(Error::WrongState(format!(
                "container {} has no cgroup to freeze it in for the commit (a rootless container without a \
                 delegated cgroup): stop it first, or commit it unpaused with --pause=false",
                st.short_id()
            )))
        }
        (_, false) => None,
    };
    if let Some((cg, name)) = &group {
        cgctl::group::Group::new(cg, name.clone())
            .freeze()
            .map_err(|e| Error::WrongState(format!("cannot pause container {} for the commit: {e}", st.short_id())))?;
    }
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let result = store::run_ovlmount(tools, st.config.userns.as_ref(), &args);
    if let Some((cg, name)) = group {
        cgctl::group::Group::new(&cg, name).thaw().map_err(|e| {
            Error::WrongState(format!("cannot unpause container {} after the commit: {e}", st.short_id()))
        })?;
    }
    result
}

/// The container `key`, if its writes are on disk, where `what` (commit, diff) can read
/// them.
fn with_writes_on_disk(root: &Root, key: &str, what: &str) -> Result<crate::state::State, Error> {
    let st = store::find(root, key)?;
    if st.config.writes_in_memory {
        return Err(Error::WrongState(format!(
            "container {} keeps its writes in memory, in its own mount namespace, where {what} cannot read them \
             (a foreground container that is removed when it ends): run it with --keep or --upper-on-disk to {what} it",
            st.short_id()
        )));
    }
    Ok(st)
}

/// `diff ID [--json]`: the `ovlmount diff` command line that lists what the container
/// changed (its upper layer against its layers) as docker's A/C/D lines; a rootless
/// container's in a user namespace like its own (its files are its subordinate ids').
pub fn diff_argv(root: &Root, tools: &Tools, key: &str, json: bool) -> Result<Vec<OsString>, Error> {
    let st = with_writes_on_disk(root, key, "diff")?;
    let mut a: Vec<String> =
        vec![tools.ovlmount.display().to_string(), "diff".into(), root.container(&st.id).upper().display().to_string()];
    for l in &st.config.layers {
        a.extend(["--lower".into(), l.display().to_string().replace(':', "\\:")]);
    }
    if json {
        a.push("--json".into());
    }
    let argv = match &st.config.userns {
        Some(u) => [vec![tools.unshare.display().to_string()], u.wrap(&a)].concat(),
        None => a,
    };
    Ok(argv.into_iter().map(OsString::from).collect())
}

/// The `ovlmount commit` command line of `commit`.
pub fn commit_args(root: &Root, st: &crate::state::State, out: &Path, gzip: bool) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "commit".into(),
        root.container(&st.id).upper().to_string_lossy().into_owned(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ];
    if gzip {
        a.push("--gzip".into());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, exit_code: Option<i32>, oom_killed: bool) -> Row {
        Row {
            id: "x".into(),
            name: "x".into(),
            status,
            exit_code,
            oom_killed,
            pid: None,
            command: vec![],
            created: 1000,
            finished: Some(1100),
            cgroup: None,
            started: None,
            restart_count: 0,
            paused: false,
            labels: Default::default(),
        }
    }

    #[test]
    fn ps_filters_match_as_dockers() {
        let f = |s: &str| PsFilter::parse(s).unwrap();
        let mut web = row(Status::Running, None, false);
        (web.id, web.name) = ("abc123".into(), "web-1".into());
        web.labels.insert("team".into(), "infra".into());
        let mut job = row(Status::Exited, Some(3), false);
        (job.id, job.name) = ("def456".into(), "job".into());
        let names = |filters: &[PsFilter]| {
            filtered(vec![web.clone(), job.clone()], filters).into_iter().map(|r| r.name).collect::<Vec<_>>()
        };
        assert_eq!(names(&[f("name=web")]), ["web-1"]);
        assert_eq!(names(&[f("id=def")]), ["job"]);
        assert_eq!(names(&[f("label=team")]), ["web-1"]);
        assert_eq!(names(&[f("label=team=other")]), Vec::<String>::new());
        assert_eq!(names(&[f("status=exited")]), ["job"]);
        assert_eq!(names(&[f("exited=3")]), ["job"]);
        // One key repeated: any; different keys: all.
        assert_eq!(names(&[f("name=web"), f("name=job")]), ["web-1", "job"]);
        assert_eq!(names(&[f("name=web"), f("status=exited")]), Vec::<String>::new());
        web.paused = true;
        assert_eq!(filtered(vec![web.clone()], &[f("status=paused")]).len(), 1);
        assert_eq!(filtered(vec![web], &[f("status=running")]).len(), 0);
        for bad in ["name", "colour=red", "status=sleepy", "exited=x"] {
            assert!(PsFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ps_status_reads_like_dockers() {
        assert_eq!(row(Status::Created, None, false).status_at(1000), "Created");
        assert_eq!(row(Status::Running, None, false).status_at(1000), "Up Less than a second");
        assert_eq!(row(Status::Running, None, false).status_at(1001), "Up 1 second");
        assert_eq!(row(Status::Running, None, false).status_at(1000 + 7200), "Up 2 hours");
        let mut paused = row(Status::Running, None, false);
        paused.paused = true;
        assert_eq!(paused.status_at(1003), "Up 3 seconds (Paused)");
        assert_eq!(row(Status::Exited, Some(0), false).status_at(1100 + 90), "Exited (0) 1 minute ago");
        assert_eq!(row(Status::Exited, Some(137), true).status_at(1100 + 3 * 86_400), "Exited (137, OOM) 3 days ago");
        let mut again = row(Status::Restarting, Some(3), false);
        again.restart_count = 2;
        assert_eq!(again.status_at(1102), "Restarting (3) 2 seconds ago (restarted 2 times)");
        again.status = Status::Running;
        again.started = Some(1200);
        assert_eq!(again.status_at(1205), "Up 5 seconds (restarted 2 times)");
    }
}
