//! The runtime's calls: `create`, `start`, `state`, `kill`, `delete`, `run`, `list`.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chainload::error::FromIo;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::bundle::{self, Plan};
use crate::chain::{self, Tools};
use crate::state::{self, ContainerDir, Root, State, Status};
use crate::Error;

/// `create`'s options.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `--bundle` (default: the current directory).
    pub bundle: PathBuf,
    /// `--pid-file`: the init's pid, digits only, written atomically.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// A session keyring of the container's own (runc's default; `--no-new-keyring`).
    pub new_keyring: bool,
}

/// The plan and the chain of a bundle (`ctr-oci chain`).
pub fn chain_of(root: &Root, id: &str, bundle: &Path, preserve_fds: u32) -> Result<(Plan, Vec<String>), Error> {
    state::check_id(id)?;
    let plan = bundle::plan(&bundle::load(bundle)?, bundle, id)?;
    // (A terminal's socket is the caller's to give: shown as a placeholder.)
    let console = plan.terminal.then(|| PathBuf::from("CONSOLE_SOCKET"));
    let argv = chain::argv(&plan, &Tools::locate()?, &root.container(id), preserve_fds, console.as_deref());
    Ok((plan, argv))
}

/// `create`: set the container up and leave its init waiting at the start gate.
pub fn create(root: &Root, id: &str, o: &CreateOptions) -> Result<State, Error> {
    state::check_id(id)?;
    let dir = root.container(id);
    if dir.dir.exists() {
        return Err(Error::Exists(id.to_string()));
    }
    let plan = bundle::plan(&bundle::load(&o.bundle)?, &o.bundle, id)?;
    match (&o.console_socket, plan.terminal) {
        (Some(_), false) => return Err(Error::Usage("--console-socket is given but process.terminal is false".into())),
        (None, true) => {
            return Err(Error::Usage(
                "process.terminal is true but no --console-socket is given (the terminal's master goes there)".into(),
            ))
        }
        _ => {}
    }
    let tools = Tools::locate()?;
    root.ensure()?;
    std::fs::create_dir(&dir.dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Exists(id.to_string()),
        _ => Error::io("cannot create", &dir.dir, e),
    })?;
    let made = set_up(&plan, &tools, &dir, id, o);
    if made.is_err() {
        undo(&dir, &plan.cgroup, None);
    }
    made
}

/// Everything `create` does once the container's directory exists.
fn set_up(plan: &Plan, tools: &Tools, dir: &ContainerDir, id: &str, o: &CreateOptions) -> Result<State, Error> {
    use std::os::unix::fs::PermissionsExt;
    nix::unistd::mkfifo(&dir.fifo(), nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(chainload::error::sys(format!("cannot create '{}'", dir.fifo().display())))?;
    // (The container's user, whoever it is, opens it for writing through its descriptor.)
    std::fs::set_permissions(dir.fifo(), std::fs::Permissions::from_mode(0o622))
        .map_err(|e| Error::io("cannot chmod", &dir.fifo(), e))?;
    if let Some(profile) = &plan.seccomp {
        std::fs::write(dir.seccomp(), profile.to_string()).map_err(|e| Error::io("cannot write", &dir.seccomp(), e))?;
    }
    let console = o
        .console_socket
        .as_deref()
        .map(std::path::absolute)
        .transpose()
        .map_err(|e| Error::Usage(format!("--console-socket: {e}")))?;
    let argv = chain::argv(plan, tools, dir, o.preserve_fds, console.as_deref());
    // The hook gate: a socket pair, the chain's end on the descriptor ovlmount is told.
    let gate = if plan.hooks.need_gate() {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(chainload::error::sys("cannot make the hook gate's sockets"))?;
        Some((ours, theirs))
    } else {
        None
    };
    let mut passed: Vec<(OwnedFd, i32)> = Vec::new();
    if chain::through_descriptors(plan) {
        let open = |path: &Path, flags: nix::fcntl::OFlag| {
            nix::fcntl::open(path, flags | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(chainload::error::sys(format!("cannot open '{}'", path.display())))
        };
        passed.push((open(&dir.fifo(), nix::fcntl::OFlag::O_PATH)?, chain::fifo_fd(o.preserve_fds)));
        if plan.seccomp.is_some() {
            passed.push((open(&dir.seccomp(), nix::fcntl::OFlag::O_RDONLY)?, chain::seccomp_fd(o.preserve_fds)));
        }
    }
    if let Some((uid, gid)) = plan.joined_root {
        let pid_dir = dir.joined_pid_dir();
        std::fs::create_dir(&pid_dir).map_err(|e| Error::io("cannot create", &pid_dir, e))?;
        std::os::unix::fs::chown(&pid_dir, Some(uid), Some(gid)).map_err(|e| Error::io("cannot chown", &pid_dir, e))?;
        let flags = nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(&pid_dir, flags, nix::sys::stat::Mode::empty())
            .map_err(chainload::error::sys(format!("cannot open '{}'", pid_dir.display())))?;
        passed.push((fd, chain::pid_dir_fd(o.preserve_fds)));
    }
    let mut pass: Vec<(i32, i32)> = passed.iter().map(|(fd, at)| (fd.as_raw_fd(), *at)).collect();
    if let Some((_, theirs)) = &gate {
        pass.push((theirs.as_raw_fd(), chain::hook_gate_fd(o.preserve_fds)));
    }
    let child = spawn_chain(plan, &argv, o, &pass)?;
    drop(passed);
    let hooked = match gate {
        Some((ours, theirs)) => {
            drop(theirs);
            at_hook_gate(ours, plan, tools, dir, id)
        }
        None => Ok(()),
    };
    let (status, errors) = finish_chain(child, &argv[0])?;
    // (A failed hook stops the init at the gate, which then says only that.)
    hooked?;
    let pid = dir.read_pid();
    let start = chainload::procstat::read(pid).filter(|s| !s.ended()).map(|s| s.start);
    // The chain's tools write to the pipe only when they fail (the init reaches the gate
    // in silence): any line there is a failure, whether or not the init has finished
    // dying yet.
    let (Some(start), true) = (start, errors.trim().is_empty() && (status.success() || pid > 0)) else {
        let why = error_line(&errors).map(str::to_string);
        return Err(Error::Chain(
            why.unwrap_or_else(|| format!("the container's init ended while it was set up ({})", status)),
        ));
    };
    let st = State {
        id: id.to_string(),
        pid,
        pid_start: start,
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        created: crate::time::now(),
        owner: String::new(),
        annotations: plan.annotations.clone(),
        cgroup: plan.cgroup.clone(),
        hooks: crate::hooks::Hooks { create_runtime: Vec::new(), create_container: Vec::new(), ..plan.hooks.clone() },
    };
    st.save(&dir.state())?;
    if let Some(p) = &o.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(st)
}

/// The line that says what failed in what a tool wrote: the last one but for clap's
/// trailers (`Usage: ...`, `Try '... --help'`, `For more information...`).
pub(crate) fn error_line(text: &str) -> Option<&str> {
    let trailer = |l: &str| l.starts_with("Usage:") || l.starts_with("Try '") || l.starts_with("For more information");
    text.lines().map(str::trim).rev().find(|l| !l.is_empty() && !trailer(l))
}

/// Run the chain with the caller's stdin and stdout, fd 2 a pipe read here (the tools'
/// errors) and the caller's stderr on the descriptor after the preserved ones (it becomes
/// the container's at the start gate, and the pipe's end of file says it is there).
/// The process resources of `process` (rlimits, OOM score, umask) are set in the chain's
/// first process and inherited down to the container.
fn spawn_chain(
    plan: &Plan,
    argv: &[String],
    o: &CreateOptions,
    pass: &[(std::os::fd::RawFd, std::os::fd::RawFd)],
) -> Result<std::process::Child, Error> {
    let (preserve_fds, new_keyring) = (o.preserve_fds, o.new_keyring);
    let their_stderr = nix::unistd::dup(std::io::stderr().as_fd()).map_err(chainload::error::sys("dup failed"))?;
    let carried = chain::stderr_fd(preserve_fds);
    // (At most the hook gate, the FIFO and the seccomp profile: see `copies` below.)
    let pass = pass[..pass.len().min(4)].to_vec();
    let saved = their_stderr.as_raw_fd();
    let rlimits = plan.rlimits.clone();
    let (oom, umask) = (plan.oom_score_adj, plan.umask);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(plan.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped());
    // SAFETY: dup2, setrlimit, umask, open/write/close and sigprocmask are
    // async-signal-safe; nothing allocates (the OOM score text is formatted before).
    let oom_text = oom.map(|o| format!("{o}\n"));
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )
            .map_err(std::io::Error::from)?;
            // The passed descriptors, first copied above every number they go to (one of
            // them may be another's place, or the carried stderr's), then put there.
            let mut copies = [-1; 4];
            for (copy, &(fd, _)) in copies.iter_mut().zip(&pass) {
                *copy = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, carried + 4);
                if *copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::dup2(saved, carried) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            for (copy, &(_, at)) in copies.iter().zip(&pass) {
                if libc::dup2(*copy, at) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            chainload::rlimit::set_all(&rlimits).map_err(|(_, e)| std::io::Error::from(e))?;
            if let Some(text) = &oom_text {
                chainload::rlimit::set_oom_score_adj(text).map_err(std::io::Error::from)?;
            }
            if let Some(m) = umask {
                libc::umask(m as libc::mode_t);
            }
            // KEYCTL_JOIN_SESSION_KEYRING with no name: a new anonymous session keyring,
            // so the container sees none of the caller's keys.
            if new_keyring && libc::syscall(libc::SYS_keyctl, 1, std::ptr::null::<libc::c_char>()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| Error::io("cannot run the chain", Path::new(&argv[0]), e))?;
    drop(their_stderr);
    Ok(child)
}

/// Read the chain's errors until the init is at the start gate (or the chain has
/// ended), and its first process's status.
fn finish_chain(mut child: std::process::Child, program: &str) -> Result<(std::process::ExitStatus, String), Error> {
    let mut errors = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut errors);
    }
    let status = child.wait().map_err(|e| Error::io("cannot wait for", Path::new(program), e))?;
    Ok((status, errors))
}

/// At the hook gate: once the init says it is mounted (before pivot_root), run the
/// createRuntime hooks (prestart first) here and the createContainer ones in its
/// namespaces, then let it go on. Where the chain ends before the gate, nothing is
/// run (its error says why); where a hook fails, the gate is closed (the init stops)
/// and the hook's failure is the error.
fn at_hook_gate(gate: OwnedFd, plan: &Plan, tools: &Tools, dir: &ContainerDir, id: &str) -> Result<(), Error> {
    let mut byte = [0u8; 1];
    if !matches!(nix::unistd::read(&gate, &mut byte), Ok(1)) || byte[0] != b'r' {
        return Ok(());
    }
    // (unshare-rs writes the pid file just after the fork: the init may be here first.)
    let mut pid = 0;
    let got = cgctl::files::wait_for(Duration::from_secs(10), || {
        pid = dir.read_pid();
        pid > 0
    });
    if !got {
        return Err(Error::Chain("the container's init is at the hook gate, but its pid file was not written".into()));
    }
    let state = crate::state::hook_state(id, "creating", pid, &plan.bundle, &plan.annotations);
    crate::hooks::run(&plan.hooks.create_runtime, "createRuntime", &state, crate::hooks::Place::Runtime)?;
    let inside = crate::hooks::Place::Container { nsenter: &tools.nsenter, pid };
    crate::hooks::run(&plan.hooks.create_container, "createContainer", &state, inside)?;
    nix::unistd::write(&gate, b"g").map_err(chainload::error::sys("cannot open the hook gate"))?;
    Ok(())
}

fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    chainload::pidfile::write(path, pid).map_err(|e| Error::io("cannot write", path, e))
}

/// Take back what a failed or deleted container holds: its init (killed), its cgroup,
/// its directory.
fn undo(dir: &ContainerDir, cgroup: &str, st: Option<&State>) {
    if let Some(st) = st.filter(|s| s.init_alive()) {
        let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
        wait_dead(st, Duration::from_secs(10));
    } else if let Some(pid) = Some(dir.read_pid()).filter(|p| *p > 0) {
        if chainload::procstat::read(pid).is_some_and(|s| !s.ended()) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    let _ = remove_cgroup(cgroup);
    let _ = std::fs::remove_dir_all(&dir.dir);
}

pub(crate) fn group(cgroup: &str) -> Result<(cgctl::setup::Cgroups, cgctl::name::GroupName), Error> {
    Ok((cgctl::setup::Cgroups::detect()?, cgctl::name::GroupName::parse(cgroup)?))
}

fn remove_cgroup(cgroup: &str) -> Result<(), Error> {
    let (cg, name) = group(cgroup)?;
    let g = cgctl::group::Group::new(&cg, name);
    // The fast path: an empty group's directories, removed; the kernel refuses one that
    // still holds a process, and then the thorough path kills what is inside first.
    let dirs: Vec<_> = g.existing().into_iter().map(|(h, d)| (h.version, d)).collect();
    if dirs.is_empty() || g.try_remove_empty(&dirs) {
        return Ok(());
    }
    g.remove(true)?;
    Ok(())
}

fn wait_dead(st: &State, patience: Duration) -> bool {
    let start = Instant::now();
    while st.init_alive() {
        if start.elapsed() > patience {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// `start`: open the start gate.
pub fn start(root: &Root, id: &str) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let st = root.find(id)?;
    match st.status(root) {
        Status::Created => {}
        Status::Stopped => return Err(Error::WrongState("cannot start a container that has stopped".into())),
        _ => return Err(Error::WrongState("cannot start an already running container".into())),
    }
    if !st.hooks.start_container.is_empty() {
        let tools = Tools::locate()?;
        let inside = crate::hooks::Place::Container { nsenter: &tools.nsenter, pid: st.pid };
        if let Err(e) = crate::hooks::run(&st.hooks.start_container, "startContainer", &st.for_hook("created"), inside)
        {
            // (The spec: the container is stopped; `delete` takes the rest.)
            let _ = nix::sys::signal::kill(Pid::from_raw(st.pid), Signal::SIGKILL);
            wait_dead(&st, Duration::from_secs(10));
            return Err(e);
        }
    }
    let fifo_path = root.container(id).fifo();
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo_path)
        .map_err(|e| Error::io("cannot open", &fifo_path, e))?;
    let mut byte = [0u8; 1];
    loop {
        match fifo.read(&mut byte) {
            Ok(1) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(Error::io("cannot read", &fifo_path, e)),
        }
        if !st.init_alive() {
            return Err(Error::WrongState("cannot start a container that has stopped".into()));
        }
        // Until the init's byte arrives (its open of the FIFO completes with ours), or a
        // while to look at it again. (Before a writer has opened it, the FIFO reads as
        // at its end: poll says so at once, hence the short sleep then.)
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(10u8)).unwrap_or(0);
        let hup_only =
            fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLHUP) && !r.contains(PollFlags::POLLIN));
        if ready > 0 && hup_only {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    std::fs::remove_file(&fifo_path).map_err(|e| Error::io("cannot remove", &fifo_path, e))?;
    for warning in crate::hooks::run_warning(&st.hooks.poststart, "poststart", &st.for_hook("running")) {
        root.warn(&warning);
    }
    Ok(())
}

/// `kill [--all] ID SIGNAL`.
pub fn kill(root: &Root, id: &str, sig: Signal, all: bool) -> Result<(), Error> {
    let st = root.find(id)?;
    if all {
        let (cg, name) = group(&st.cgroup)?;
        let g = cgctl::group::Group::new(&cg, name);
        if g.exists() {
            g.signal(sig)?;
        }
        return Ok(());
    }
    if st.status(root) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    // Through a pidfd taken after the start time was checked: the signal reaches this
    // init, never a process that got its pid since.
    let fd = chainload::signals::pidfd_open(Pid::from_raw(st.pid)).map_err(|_| Error::NotRunning)?;
    if !st.init_alive() {
        return Err(Error::NotRunning);
    }
    chainload::signals::pidfd_send_signal(fd.as_fd(), Some(sig))
        .map_err(chainload::error::sys(format!("cannot signal the init (pid {})", st.pid)))?;
    Ok(())
}

/// `pause ID`: freeze the container's cgroup (v2 `cgroup.freeze`, else the v1 freezer),
/// returning once the kernel reports it frozen.
pub fn pause(root: &Root, id: &str) -> Result<(), Error> {
    let st = root.find(id)?;
    match st.status(root) {
        Status::Running => {}
        Status::Paused => return Err(Error::WrongState(format!("container {id} is already paused"))),
        Status::Stopped => return Err(Error::NotRunning),
        Status::Created => return Err(Error::WrongState(format!("cannot pause container {id}: it is not started"))),
    }
    let (cg, name) = group(&st.cgroup)?;
    cgctl::group::Group::new(&cg, name).freeze()?;
    Ok(())
}

/// `resume ID`: thaw a paused container.
pub fn resume(root: &Root, id: &str) -> Result<(), Error> {
    let st = root.find(id)?;
    if st.status(root) != Status::Paused {
        return Err(Error::WrongState(format!("container {id} is not paused")));
    }
    let (cg, name) = group(&st.cgroup)?;
    cgctl::group::Group::new(&cg, name).thaw()?;
    Ok(())
}

/// `update ID`: change a running (or created, or paused) container's limits to those of
/// `r` (LinuxResources, as podman and containerd send it), through `cgctl set`: its
/// checks come before any write, so a refused update changes nothing.
pub fn update(root: &Root, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<(), Error> {
    let st = root.find(id)?;
    if st.status(root) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    let flags = bundle::update_flags(r).map_err(|e| match e {
        Error::Unsupported { field, why } => Error::Usage(format!("resources: {field}: {why}")),
        e => e,
    })?;
    if flags.is_empty() {
        return Err(Error::Usage("update: no limit given".into()));
    }
    let tools = Tools::locate()?;
    let out = Command::new(&tools.cgctl)
        .arg("set")
        .arg(&st.cgroup)
        .args(&flags)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run", &tools.cgctl, e))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Chain(error_line(&text).unwrap_or("cgctl set failed").to_string()));
    }
    Ok(())
}

/// `ps ID`: the host pids of the container's cgroup (and its sub-groups).
pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>, Error> {
    let st = root.find(id)?;
    if st.status(root) == Status::Stopped {
        return Ok(Vec::new());
    }
    let (cg, name) = group(&st.cgroup)?;
    Ok(cgctl::group::Group::new(&cg, name).pids())
}

/// `delete [--force] ID`.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<(), Error> {
    let st = match root.find(id) {
        Ok(st) => st,
        Err(Error::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e),
    };
    match st.status(root) {
        Status::Stopped | Status::Created => {}
        status if !force => {
            return Err(Error::WrongState(format!("cannot delete container {id} that is not stopped: {status}")))
        }
        _ => {
            if let Ok((cg, name)) = group(&st.cgroup) {
                let g = cgctl::group::Group::new(&cg, name);
                let _ = g.thaw();
                let _ = g.signal(Signal::SIGKILL);
            }
        }
    }
    let dir = root.container(id);
    undo(&dir, &st.cgroup, Some(&st));
    if dir.dir.exists() {
        return Err(Error::WrongState(format!("cannot delete container {id}: '{}' remains", dir.dir.display())));
    }
    for warning in crate::hooks::run_warning(&st.hooks.poststop, "poststop", &st.for_hook("stopped")) {
        root.warn(&warning);
    }
    Ok(())
}

/// `run`: create, start, wait for the init (as its subreaper) passing signals on, and
/// delete; returns the init's status (128+N for a signal). With `detach`, returns 0 once
/// it is started.
pub fn run(root: &Root, id: &str, o: &CreateOptions, detach: bool) -> Result<i32, Error> {
    if detach {
        create(root, id, o)?;
        start(root, id)?;
        return Ok(0);
    }
    nix::sys::prctl::set_child_subreaper(true).map_err(chainload::error::sys("cannot become a subreaper"))?;
    let saved = chainload::signals::block(&chainload::signals::supervisor_set())
        .map_err(chainload::error::sys("cannot block signals"))?;
    let st = create(root, id, o)?;
    if let Err(e) = start(root, id) {
        let _ = delete(root, id, true);
        return Err(e);
    }
    let status = chainload::signals::wait_forwarding(Pid::from_raw(st.pid), |_| {});
    let _ = saved.restore();
    delete(root, id, true)?;
    Ok(status.map_err(chainload::error::sys("waitpid failed"))?.shell_code())
}

/// `list`: every container's state.
pub fn list(root: &Root) -> Vec<serde_json::Value> {
    root.list().iter().map(|s| s.report(root)).collect()
}
