//! Containers on disk: claiming a name (atomically: of two `run --name X` at once exactly
//! one wins), finding a container by name or id, listing, and cleaning up what a dead
//! container or a killed supervisor left.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use cgctl::setup::Cgroups;

use crate::paths::{Root, Tools};
use crate::state::{now, State, Status};
use crate::Error;
use chainload::error::FromIo;

/// A new random id: 64 hex digits from the kernel's random source.
pub fn new_id() -> Result<String, Error> {
    let mut buf = [0u8; 32];
    let mut f =
        std::fs::File::open("/dev/urandom").map_err(|e| Error::io("cannot open", Path::new("/dev/urandom"), e))?;
    f.read_exact(&mut buf).map_err(|e| Error::io("cannot read", Path::new("/dev/urandom"), e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Check a container name: docker's rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn check_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid container name '{name}': use letters, digits, '_', '.' and '-', starting with a letter or digit"
        )))
    }
}

/// Claim `name` for container `id` ([`crate::names`]). A name held by a stale
/// container (its supervisor died) is cleaned and taken over.
pub fn claim_name(root: &Root, name: &str, id: &str) -> Result<(), Error> {
    for _ in 0..2 {
        if crate::names::create(root, name, id)? {
            return Ok(());
        }
        match crate::names::holder(root, name).map(|h| root.container(&h)).filter(|c| c.state().exists()) {
            Some(c) => {
                let st = State::load(&c.state())?;
                if let Some(fresh) = really_stale(root, &st) {
                    clean_stale(root, &fresh)?;
                    continue;
                }
                return Err(Error::WrongState(format!(
                    "the name '{name}' is already in use by container {} ({}); remove it first (ctr-run rm)",
                    st.short_id(),
                    st.status
                )));
            }
            // A claim whose container is gone (state is written before a claim).
            None => crate::names::remove(root, name),
        }
    }
    Err(Error::NameInUse(name.to_string()))
}

/// Every container's state, and the errors of the state files that cannot be read or
/// parsed (a damaged `state.json`), each naming its file.
pub fn list_all(root: &Root) -> (Vec<State>, Vec<Error>) {
    let Ok(rd) = std::fs::read_dir(&root.dir) else { return (Vec::new(), Vec::new()) };
    let (mut out, mut damaged) = (Vec::new(), Vec::new());
    for e in rd.filter_map(|e| e.ok()).filter(|e| e.file_name().len() == 64) {
        match State::load(&e.path().join("state.json")) {
            Ok(st) => out.push(st),
            Err(err) => damaged.push(err),
        }
    }
    out.sort_by_key(|s: &State| (s.created, s.id.clone()));
    (out, damaged)
}

/// Every container's state (the damaged ones left out: see [`list_all`]).
pub fn list(root: &Root) -> Vec<State> {
    list_all(root).0
}

/// The container named `key`, or whose id is or starts with `key`.
pub fn find(root: &Root, key: &str) -> Result<State, Error> {
    if let Some(id) = crate::names::holder(root, key) {
        let c = root.container(&id);
        if c.state().exists() {
            return State::load(&c.state());
        }
    }
    let all = list(root);
    let matches: Vec<&State> = all.iter().filter(|s| s.id.starts_with(key) || s.name == key).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NoSuchContainer(key.to_string())),
        _ => Err(Error::Ambiguous { key: key.to_string(), count: matches.len() }),
    }
}

/// Run a tool of the chain quietly and report whether it succeeded.
pub fn run_tool(tool: &Path, args: &[&str]) -> Result<(), Error> {
    let out = std::process::Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run", tool, e))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("").to_string();
    Err(Error::ToolFailed { command: format!("{} {}", tool.display(), args.join(" ")), message: msg })
}

/// Run a tool that shows progress (`ovlmount import|commit`): when our stderr is a
/// terminal, it is asked to (`--progress`, put before the tool's own arguments' end) and
/// its progress lines (those that start with a carriage return) are passed on as they
/// come; anything else it prints is kept for the error message, as [`run_tool`] does.
pub fn run_tool_with_progress(tool: &Path, args: &[&str]) -> Result<(), Error> {
    run_with_progress_flag_at(tool, args, 1)
}

/// `ovlmount ARGS` (a subcommand first), with its progress shown; for a rootless
/// container or image inside its user namespace, so that the ownership it writes or
/// reads is the namespace's (`unshare-rs USERNS -- ovlmount ARGS`).
pub fn run_ovlmount(tools: &Tools, userns: Option<&crate::rootless::UserNs>, args: &[&str]) -> Result<(), Error> {
    let Some(u) = userns else { return run_tool_with_progress(&tools.ovlmount, args) };
    let mut command = vec![tools.ovlmount.display().to_string()];
    command.extend(args.iter().map(|a| a.to_string()));
    let argv = u.wrap(&command);
    // (`--progress` goes after ovlmount's subcommand.)
    let at = argv.len() - args.len() + 1;
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    run_with_progress_flag_at(&tools.unshare, &argv, at)
}

/// `tool ARGS`, with `--progress` inserted before `ARGS[at]` when stderr is a terminal.
fn run_with_progress_flag_at(tool: &Path, args: &[&str], at: usize) -> Result<(), Error> {
    use std::io::{Read, Write};
    if !nix::unistd::isatty(std::io::stderr()).unwrap_or(false) {
        return run_tool(tool, args);
    }
    let mut with: Vec<&str> = args.to_vec();
    with.insert(at.min(with.len()), "--progress");
    let mut child = std::process::Command::new(tool)
        .args(&with)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("cannot run", tool, e))?;
    let mut from = child
        .stderr
        .take()
        .ok_or_else(|| Error::io("cannot read the output of", tool, std::io::ErrorKind::BrokenPipe.into()))?;
    let (mut kept, mut in_progress, mut at_start) = (Vec::new(), false, true);
    let mut buf = [0u8; 4096];
    let mut err = std::io::stderr();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if at_start {
                in_progress = b == b'\r';
            }
            if in_progress {
                let _ = err.write_all(&[b]);
            } else {
                kept.push(b);
            }
            at_start = b == b'\n';
        }
        let _ = err.flush();
    }
    let status = child.wait().map_err(|e| Error::io("cannot wait for", tool, e))?;
    if status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&kept).lines().next().unwrap_or("").to_string();
    Err(Error::ToolFailed { command: format!("{} {}", tool.display(), args.join(" ")), message: msg })
}

/// The machine's cgroups and the parsed group NAME (for cgctl's library).
pub fn group_of(name: &str) -> Result<(cgctl::setup::Cgroups, cgctl::name::GroupName), Error> {
    let cg = cgctl::setup::Cgroups::detect()?;
    let n = cgctl::name::GroupName::parse(name)?;
    Ok((cg, n))
}

/// Whether the container is paused: its cgroup asked to be frozen (false for one
/// without a cgroup).
pub fn is_paused(st: &State) -> bool {
    let Some(cgroup) = &st.config.cgroup else { return false };
    group_of(cgroup).is_ok_and(|(cg, name)| cgctl::group::Group::new(&cg, name).freeze_asked())
}

/// After a signal to a paused container: thawed, so that it acts on the signal now
/// (as docker's kill and stop of a paused container), and so that the chain's own
/// process in its cgroup can end when it ends.
pub fn thaw_if_paused(st: &State) {
    let Some(cgroup) = &st.config.cgroup else { return };
    if let Ok((cg, name)) = group_of(cgroup) {
        let g = cgctl::group::Group::new(&cg, name);
        if g.freeze_asked() {
            let _ = g.thaw();
        }
    }
}

/// Kill the container's PID 1 (if it is still that process) and wait until it is gone.
pub fn kill_container(st: &State, patience: Duration) {
    if let Some(p) = st.pid.filter(|p| p.alive()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid), Signal::SIGKILL);
        thaw_if_paused(st);
        let start = std::time::Instant::now();
        while p.alive() && start.elapsed() < patience {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Wait (at most `patience`) until the supervisor of `st` has exited.
pub fn wait_supervisor_gone(st: &State, patience: Duration) {
    let start = std::time::Instant::now();
    while st.supervisor.is_some_and(|s| s.alive()) && start.elapsed() < patience {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Mark container `st` as stopped on purpose (`stop`, `kill`, `rm -f`): its supervisor
/// does not restart it.
pub fn request_stop(root: &Root, st: &State) -> Result<(), Error> {
    if st.config.restart == crate::config::Restart::No {
        return Ok(());
    }
    let flag = root.container(&st.id).stop_requested();
    crate::paths::private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&flag)
        .map_err(|e| Error::io("cannot write", &flag, e))?;
    Ok(())
}

/// Release everything a finished container holds outside its directory: its processes
/// and its cgroup. (Its mounts lived in its own mount namespace and died with it.)
/// `cgroups`: the machine's, when already detected (else detected here).
pub fn release(st: &State, cgroups: Option<&Cgroups>) -> Result<(), Error> {
    kill_container(st, Duration::from_secs(10));
    let Some(cgroup) = &st.config.cgroup else { return Ok(()) };
    let name = cgctl::name::GroupName::parse(cgroup)?;
    let mut detected = None;
    let cg = given_or_detected(cgroups, &mut detected)?;
    let group = cgctl::group::Group::new(cg, name);
    // The common case: PID 1 is gone, and with it everything of its PID namespace, so the
    // group is its empty directories. Where the kernel refuses one (a process or a
    // sub-group left), what is left in it is killed, then its directories removed,
    // deepest first.
    if !group.try_remove_empty(&group.all_dirs()) && group.exists() {
        group.remove(true)?;
    }
    Ok(())
}

/// `given`, or the machine's cgroups detected now (kept in `slot`).
fn given_or_detected<'a>(given: Option<&'a Cgroups>, slot: &'a mut Option<Cgroups>) -> Result<&'a Cgroups, Error> {
    match given {
        Some(cg) => Ok(cg),
        None => Ok(slot.insert(Cgroups::detect()?)),
    }
}

/// Whether the OOM killer killed something in the group `cgroup`, and its memory limit
/// (`cgroups`: as for [`release`]).
pub fn oom_killed(cgroup: &str, cgroups: Option<&Cgroups>) -> (bool, Option<u64>) {
    let Ok(name) = cgctl::name::GroupName::parse(cgroup) else { return (false, None) };
    let mut detected = None;
    let Ok(cg) = given_or_detected(cgroups, &mut detected) else { return (false, None) };
    let stats = cgctl::stats::read(&cgctl::group::Group::new(cg, name));
    (stats.memory.oom_kills.unwrap_or(0) > 0, stats.memory.limit)
}

/// Remove a container's directory (emptied, it may be kept for the next container:
/// [`crate::spares`]) and its name claim.
pub fn remove_dir(root: &Root, st: &State) -> Result<(), Error> {
    let c = root.container(&st.id);
    if c.dir.exists() {
        crate::spares::give_back(root, st.config.userns.as_ref(), &c.dir)?;
    }
    crate::names::release(root, &st.name, &st.id);
    Ok(())
}

/// Whether `st` is really stale. A supervisor that finishes normally writes the final
/// state and then exits; so when it is seen dead, the state on disk is re-read (the copy
/// in hand may predate that last write) before anything is cleaned.
pub fn really_stale(root: &Root, st: &State) -> Option<State> {
    if !st.stale() {
        return None;
    }
    let fresh = State::load(&root.container(&st.id).state()).ok()?;
    fresh.stale().then_some(fresh)
}

/// A container whose supervisor died: release it; keep it as exited if it was detached
/// or kept, else remove it entirely (as its supervisor would have).
pub fn clean_stale(root: &Root, st: &State) -> Result<(), Error> {
    if let Ok(mut log) = std::fs::OpenOptions::new().append(true).open(root.container(&st.id).log()) {
        use std::io::Write;
        let _ = writeln!(
            log,
            "ctr-run: container {}: its supervisor {:?} is gone; cleaned up by pid {}",
            st.name,
            st.supervisor,
            std::process::id()
        );
    }
    release(st, None)?;
    if st.config.detached || st.config.keep {
        let mut st = st.clone();
        st.status = Status::Exited;
        st.exit_code = st.exit_code.or(Some(chainload::EXIT_KILLED));
        st.finished = Some(now());
        st.save(&root.container(&st.id).state())
    } else {
        remove_dir(root, st)
    }
}
