//! `ctr-run run`: resolve the options, create the container's directory, start the chain
//! and supervise it: forward signals to the container (through the chain, which passes
//! them on to PID 1), record when it runs and how it ended, and release everything.
//!
//! Whatever ends the container, afterwards there is no process, no cgroup and (unless
//! `-d` or `--keep`) no state directory; the mounts lived in the container's own mount
//! namespace and died with it. If the supervisor itself is killed, the chain dies with it
//! (a parent-death signal on the chain's first process, `--kill-child` down the chain), and the next `ps`,
//! `rm` or `run` finds the stale state and cleans it.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cgctl::setup::Cgroups;
use chainload::status::ChildStatus;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use crate::chain::{self, Chain, Seccomp};
use crate::paths::{ContainerDir, Root, Tools};
use crate::state::{now, Proc, State, Status};
use crate::store;
use crate::Error;
use chainload::error::{sys, Failure, FromIo};

/// How `run` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// `--dry-run`: the chain as a shell command.
    DryRun(String),
    /// `-d`: the container runs; its id.
    Detached(String),
    /// A foreground container ended.
    Exited {
        /// Its name.
        name: String,
        /// Its exit status (128+N for a signal).
        code: i32,
        /// Its memory limit, if the OOM killer ended it.
        oom: Option<Option<u64>>,
    },
}

/// Run a container.
pub fn run(root: &Root, tools: &Tools, o: &crate::resolve::RunOptions) -> Result<RunEnd, Error> {
    if let Some(n) = &o.name {
        store::check_name(n)?;
    }
    if o.restart != crate::config::Restart::No && o.remove {
        return Err(Error::Usage("--restart and --rm contradict each other".into()));
    }
    crate::terminal::Attach::check(o.tty && !o.detach, o.interactive)?;
    for c in o.cap_add.iter().chain(&o.cap_drop).filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        chainload::caps::parse_cap(c).map_err(|e| Error::Usage(e.to_string()))?;
    }
    let id = store::new_id()?;
    let name = o.name.clone().unwrap_or_else(|| id[..12].to_string());
    let (r, rootfs) = crate::resolve::resolve(root, o, &id, &name)?;
    let dir = root.container(&id);
    let chain = chain::build(&r, &dir, tools);
    // (A rootless chain joins its user's namespace: made first if need be, for a dry
    // run too, which prints a chain to run by hand.)
    if let Some(u) = &r.config.userns {
        crate::pause::ensure(root, tools, u)?;
    }
    if o.dry_run {
        return Ok(RunEnd::DryRun(chain::shell_command(&chain)));
    }
    let cidfile = o.cidfile.as_deref().map(|f| CidFile::create(f, &id)).transpose()?;
    root.ensure()?;
    crate::spares::take(root, &dir.dir)?;
    // A profile file is copied: `exec` must get the filter the container got.
    let mut config = r.config.clone();
    if let Seccomp::Profile(src) = &r.config.seccomp {
        match copy_private(src, &dir.seccomp_profile()) {
            Ok(p) => config.seccomp = Seccomp::Profile(p),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir.dir);
                return Err(e);
            }
        }
    }
    let state = State {
        id: id.clone(),
        name: name.clone(),
        status: Status::Created,
        pid: None,
        supervisor: Proc::of(std::process::id() as i32),
        exit_code: None,
        oom_killed: false,
        created: now(),
        finished: None,
        rootfs,
        config,
        chain: chain::shell_command(&chain),
        started: None,
        restart_count: 0,
    };
    // The state first, then the name: a claim always points at a container with state.
    if let Err(e) = state.save(&dir.state()) {
        let _ = std::fs::remove_dir_all(&dir.dir);
        return Err(e);
    }
    // A detached container's chain is kept (for `restart`), and its log made: one whose
    // log cannot be made is not started.
    if o.detach {
        if let Err(e) = save_chain(&chain, &dir.chain()).and_then(|()| dir.open_log().map(drop)) {
            let _ = std::fs::remove_dir_all(&dir.dir);
            return Err(e);
        }
    }
    if let Err(e) = store::claim_name(root, &name, &id) {
        let _ = std::fs::remove_dir_all(&dir.dir);
        return Err(e);
    }
    // (The container exists from here: its id file stays, whatever the run does.)
    if let Some(c) = cidfile {
        c.keep();
    }
    if o.detach {
        return crate::detach::detach(root, tools, state, chain);
    }
    let end = supervise(root, tools, state, &chain, None)?;
    Ok(end)
}

/// `--cidfile FILE`: the container's id, in a file that must not exist yet (docker's
/// refusal: another container may be using it), removed again if the container is not
/// made after all.
struct CidFile(Option<PathBuf>);

impl CidFile {
    fn create(path: &Path, id: &str) -> Result<CidFile, Error> {
        use std::io::Write;
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Error::Usage(format!(
                    "--cidfile '{}' exists: another container may be using it; remove it first",
                    path.display()
                )),
                _ => Error::io("cannot create", path, e),
            })?;
        let file = CidFile(Some(path.to_path_buf()));
        f.write_all(id.as_bytes()).map_err(|e| Error::io("cannot write", path, e))?;
        Ok(file)
    }

    /// The container is made: the file stays.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for CidFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Write `chain` to `path` (0600).
fn save_chain(chain: &Chain, path: &Path) -> Result<(), Error> {
    use std::io::Write;
    let text = serde_json::to_vec(chain)?;
    let mut f = crate::paths::private_file()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io("cannot create", path, e))?;
    f.write_all(&text).map_err(|e| Error::io("cannot write", path, e))
}

/// Copy `src` to `dst`, created 0600.
fn copy_private(src: &Path, dst: &Path) -> Result<PathBuf, Error> {
    use std::io::Write;
    let text = std::fs::read(src).map_err(|e| Error::io("cannot read", src, e))?;
    let mut f = crate::paths::private_file()
        .write(true)
        .create_new(true)
        .open(dst)
        .map_err(|e| Error::io("cannot create", dst, e))?;
    f.write_all(&text).map_err(|e| Error::io("cannot write", dst, e))?;
    Ok(dst.to_path_buf())
}

/// A detached container's stdio: /dev/null in, its log out.
fn detached_stdio(dir: &ContainerDir) -> Result<(Stdio, Stdio, Stdio), Error> {
    let log = dir.open_log()?;
    let err = log.try_clone().map_err(|e| Error::io("cannot open", &dir.log(), e))?;
    Ok((Stdio::null(), Stdio::from(log), Stdio::from(err)))
}

/// Start the chain and supervise it until the container ends; then release everything.
pub fn supervise(
    root: &Root,
    tools: &Tools,
    mut state: State,
    chain: &Chain,
    mut notify: Option<std::fs::File>,
) -> Result<RunEnd, Error> {
    let mut blocked = chainload::signals::supervisor_set();
    if state.config.tty {
        blocked.push(Signal::SIGWINCH);
    }
    // Blocked for the supervisor's whole life (the chain's child unblocks them in pre_exec).
    chainload::signals::block(&blocked).map_err(|e| Error::from(sys("cannot block signals")(e)))?;
    let dir = root.container(&state.id);
    let mut backoff = RestartBackoff::default();
    // The machine's cgroups, detected while the chain starts (on another CPU, off the way
    // from the command's end to ctr-run's), for the OOM check and the group's removal.
    let mut cgroups: Option<Cgroups> = None;
    loop {
        let mut attach = None;
        let started = (|| {
            // (A restart: the pause process holding the user namespace may have ended.)
            if let (Some(u), Some(_)) = (&state.config.userns, state.started) {
                crate::pause::ensure(root, tools, u)?;
            }
            // (`-d -t`: the supervisor holds the pty's master and copies what the container
            // writes to its own stdout, the log.)
            let stdio = if state.config.detached && !state.config.tty {
                detached_stdio(&dir)?
            } else {
                let a = attach.insert(crate::terminal::Attach::prepare(
                    state.config.tty,
                    state.config.interactive,
                    &dir.console_socket(),
                )?);
                let stdio = a.stdio()?;
                // (Before the chain: a failure here leaves nothing running.)
                a.start()?;
                stdio
            };
            // On a terminal, the container is kept out of the caller's session (no controlling
            // terminal: /dev/tty does not open); the terminal's signals reach ctr-run, which
            // passes them on. (`-t`: ovlmount gives it a session of its own.)
            let on_terminal = !state.config.detached && [0, 1, 2].into_iter().any(crate::terminal::is_terminal);
            spawn_chain(chain, stdio, on_terminal)
        })();
        let mut child = match started {
            Ok(c) => c,
            Err(e) => {
                drop(attach);
                if state.started.is_none() {
                    let _ = store::remove_dir(root, &state);
                    return Err(e);
                }
                // (A restart that cannot start: recorded as the end.)
                eprintln!("ctr-run: supervisor: {e}");
                return clean_up(root, state, e.exit_code(), notify, cgroups.as_ref());
            }
        };
        let chain_pid = Pid::from_raw(child.id() as i32);
        if cgroups.is_none() && state.config.cgroup.is_some() {
            cgroups = Cgroups::detect().ok();
        }
        let watched = watch(root, tools, &mut state, chain_pid, &blocked, &mut notify, attach.as_ref());
        let _ = child.wait();
        if let Some(a) = attach {
            a.finish();
        }
        let (status, told_to_stop) = watched?;
        let code = status.shell_code();
        let ran = state.pid.is_some();
        // (A foreground container too, as docker's: its output stays attached.)
        let again = ran
            && !told_to_stop
            && !dir.stop_requested().exists()
            && state.config.restart.again(code, state.restart_count);
        if !again || !between_runs(root, &mut state, code, &blocked, &mut backoff, cgroups.as_ref())? {
            return clean_up(root, state, code, notify, cgroups.as_ref());
        }
    }
}

/// docker's delay before a restart: 100 ms, doubled each time, reset once a run lasted
/// 10 s; at most a minute here.
#[derive(Debug, Default)]
struct RestartBackoff {
    delay: Duration,
}

impl RestartBackoff {
    fn next(&mut self, ran_for: Duration) -> Duration {
        self.delay = if self.delay.is_zero() || ran_for >= Duration::from_secs(10) {
            Duration::from_millis(100)
        } else {
            (self.delay * 2).min(Duration::from_secs(60))
        };
        self.delay
    }
}

/// The command ended and its restart policy starts it again: release what the run held,
/// record `restarting` with its status, wait the delay; false if `stop` (or SIGTERM or
/// SIGINT to the supervisor) came meanwhile.
fn between_runs(
    root: &Root,
    state: &mut State,
    code: i32,
    blocked: &[Signal],
    backoff: &mut RestartBackoff,
    cgroups: Option<&Cgroups>,
) -> Result<bool, Error> {
    let dir = root.container(&state.id);
    store::release(state, cgroups)?;
    let _ = std::fs::remove_file(dir.pid_file());
    let ran_for = Duration::from_secs(now().saturating_sub(state.started.unwrap_or(state.created)));
    state.status = Status::Restarting;
    state.pid = None;
    state.exit_code = Some(code);
    state.finished = Some(now());
    state.save(&dir.state())?;
    let mut set = SigSet::empty();
    for s in blocked {
        set.add(*s);
    }
    let until = Instant::now() + backoff.next(ran_for);
    while Instant::now() < until {
        if dir.stop_requested().exists() {
            return Ok(false);
        }
        if let Ok(Some(got)) = chainload::signals::sigtimedwait(&set, Some(Duration::from_millis(10))) {
            if matches!(got.signal, Signal::SIGINT | Signal::SIGTERM) {
                return Ok(false);
            }
        }
    }
    state.restart_count += 1;
    state.status = Status::Created;
    state.save(&dir.state())?;
    Ok(true)
}

/// Spawn the chain with the container's stdio, an empty signal mask and a parent-death
/// signal (it dies with its supervisor, and passes that on down to PID 1).
fn spawn_chain(
    chain: &Chain,
    (stdin, stdout, stderr): (Stdio, Stdio, Stdio),
    new_session: bool,
) -> Result<std::process::Child, Error> {
    let me = nix::unistd::getpid();
    let mut cmd = Command::new(&chain.argv[0]);
    cmd.args(&chain.argv[1..])
        .env_clear()
        .envs(chain.env.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs before exec.
    unsafe {
        cmd.pre_exec(move || {
            // The supervisor's blocked signals must not reach the chain (the mask survives exec).
            nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
                .map_err(std::io::Error::from)?;
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(std::io::Error::from)?;
            if new_session {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
            }
            if nix::unistd::getppid() != me {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(|e| Error::io("cannot start the chain", Path::new(&chain.argv[0]), e))
}

/// Until the chain ends: record when PID 1 runs the command (and tell `notify`), pass
/// on the signals the supervisor gets, and after SIGINT/SIGTERM give the container its
/// --stop-timeout (else 10 s) before it is killed, as `docker stop` does.
fn watch(
    root: &Root,
    tools: &Tools,
    state: &mut State,
    chain_pid: Pid,
    blocked: &[Signal],
    notify: &mut Option<std::fs::File>,
    attach: Option<&crate::terminal::Attach>,
) -> Result<(ChildStatus, bool), Error> {
    let dir = root.container(&state.id);
    let mut set = SigSet::empty();
    for s in blocked {
        set.add(*s);
    }
    let mut kill_deadline: Option<Instant> = None;
    let chain_tools: Vec<(u64, u64)> = [&tools.unshare, &tools.ovlmount]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    // PID 1's host pid, once unshare-rs has written it.
    let mut pid1: Option<i32> = None;
    loop {
        if state.pid.is_none() {
            if pid1.is_none() {
                pid1 = std::fs::read_to_string(dir.pid_file()).ok().and_then(|s| s.trim().parse::<i32>().ok());
            }
            // PID 1 has started once it runs the command: its executable is no longer a
            // tool of the chain (so its root, mounts and confinement are all in place).
            if let Some(pid) = pid1.filter(|p| started(*p, &chain_tools)) {
                state.pid = Proc::of(pid);
                state.status = Status::Running;
                state.started = Some(now());
                let _ = state.save(&dir.state());
                if let Some(mut n) = notify.take() {
                    let _ = n.write_all(b"running\n");
                }
            }
        }
        match chainload::status::try_wait_child(chain_pid) {
            Ok(Some(st)) => return Ok((st, kill_deadline.is_some())),
            Ok(None) => {}
            Err(e) => return Err(Error::from(sys("waitpid failed")(e))),
        }
        let wait = if state.pid.is_none() { 2 } else { 100 };
        if let Ok(Some(got)) = chainload::signals::sigtimedwait(&set, Some(Duration::from_millis(wait))) {
            if got.signal == Signal::SIGWINCH {
                if let Some(a) = attach {
                    a.resize();
                }
            } else if got.signal != Signal::SIGCHLD {
                // (A terminal's Ctrl-C reached the whole chain and the container already.)
                if !got.reached(chain_pid) {
                    let _ = nix::sys::signal::kill(chain_pid, got.signal);
                }
                if matches!(got.signal, Signal::SIGINT | Signal::SIGTERM) && kill_deadline.is_none() {
                    // (The container's --stop-timeout, else docker's 10 s.)
                    let grace =
                        Duration::from_secs(state.config.stop_timeout.unwrap_or(crate::ops::DEFAULT_STOP_TIMEOUT));
                    kill_deadline = Some(Instant::now() + grace);
                }
            }
        }
        if kill_deadline.is_some_and(|d| Instant::now() > d) {
            // Like docker stop: the container had its grace period.
            store::kill_container(state, Duration::from_secs(1));
        }
    }
}

/// The chain ended with `code`: read the group's OOM kill count (and memory limit), make
/// sure nothing of the container runs or remains (its group removed), and record how it ended (a detached or
/// kept container) or remove it. A detached container whose chain refused (status 125)
/// before its command ran is removed: nothing of it ever ran. `notify` (the waiting
/// `run -d`) hears last, when all that is done: `exited CODE`, or `failed CODE LINE`
/// (the chain's last line of error) for one that never ran.
fn clean_up(
    root: &Root,
    mut state: State,
    code: i32,
    notify: Option<std::fs::File>,
    cgroups: Option<&Cgroups>,
) -> Result<RunEnd, Error> {
    let dir = root.container(&state.id);
    // (Killed by SIGKILL: the OOM killer's, if the group counted a kill.)
    let (oom, limit) = match &state.config.cgroup {
        Some(cgroup) if code == chainload::EXIT_KILLED => store::oom_killed(cgroup, cgroups),
        _ => (false, None),
    };
    let never_ran = state.pid.is_none();
    let why = if never_ran { last_line(&dir.log()) } else { String::new() };
    // (One that ran before, and is restarted, stays.)
    let refused = never_ran && state.started.is_none() && state.config.detached && code == chainload::EXIT_TOOL_FAILED;
    let released = store::release(&state, cgroups);
    let recorded = if (state.config.detached || state.config.keep) && !state.config.remove && !refused {
        state.status = Status::Exited;
        state.exit_code = Some(code);
        state.oom_killed = oom;
        state.finished = Some(now());
        state.save(&dir.state())
    } else {
        store::remove_dir(root, &state)
    };
    if let Some(mut n) = notify {
        let line = if never_ran { format!("failed {code} {why}\n") } else { format!("exited {code}\n") };
        let _ = n.write_all(line.as_bytes());
    }
    recorded?;
    released?;
    Ok(RunEnd::Exited { name: state.name.clone(), code, oom: oom.then_some(limit) })
}

/// The last non-empty line of `log` (of its last 4 KiB), or nothing.
fn last_line(log: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut tail = Vec::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let _ = f.take(4096).read_to_end(&mut tail);
    }
    let text = String::from_utf8_lossy(&tail);
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
}

/// Whether process `pid` runs something other than the chain's own tools (`chain`: their
/// device and inode numbers).
fn started(pid: i32, chain: &[(u64, u64)]) -> bool {
    match std::fs::metadata(format!("/proc/{pid}/exe")) {
        Ok(m) => !chain.contains(&(m.dev(), m.ino())),
        Err(_) => false,
    }
}
