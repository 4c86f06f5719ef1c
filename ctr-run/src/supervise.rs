//! `ctr-run run`: resolve the options, create the container's directory, start the chain
//! and supervise it: forward signals to the container (through the chain, which passes
//! them on to PID 1), record when it runs and how it ended, and release everything.
//!
//! Whatever ends the container, afterwards there is no process, no cgroup and (unless
//! `-d` or `--keep`) no state directory; the mounts lived in the container's own mount
//! namespace and died with it. If the supervisor itself is killed, the chain dies with it
//! (a parent-death signal on cgctl, `--kill-child` down the chain), and the next `ps`,
//! `rm` or `run` finds the stale state and cleans it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chainload::status::ChildStatus;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

use crate::chain::{self, Chain, Network, Resolved, Seccomp, Volume};
use crate::config::Config;
use crate::image;
use crate::paths::{ContainerDir, Root, Tools};
use crate::state::{now, Proc, Rootfs, State, Status};
use crate::store;
use crate::Error;
use chainload::error::{sys, Failure, FromIo};

/// `run`'s options, as the user gave them.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--name`.
    pub name: Option<String>,
    /// `-d`.
    pub detach: bool,
    /// `--keep`.
    pub keep: bool,
    /// `--rm`: removed when it exits, detached too.
    pub remove: bool,
    /// `--entrypoint`: replaces the image's Entrypoint (and, as docker, its Cmd); empty
    /// for none.
    pub entrypoint: Option<String>,
    /// `--image`.
    pub image: Option<String>,
    /// `--rootfs`.
    pub rootfs: Option<PathBuf>,
    /// `-m`.
    pub memory: Option<String>,
    /// `--memory-swap`.
    pub memory_swap: Option<String>,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `--pids-limit`.
    pub pids_limit: Option<String>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cgroup-parent`.
    pub cgroup_parent: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `--network`.
    pub network: Option<Network>,
    /// `-e`.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-v`.
    pub volumes: Vec<Volume>,
    /// `--device`.
    pub devices: Vec<crate::chain::Device>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt seccomp=...`.
    pub seccomp: crate::chain::Seccomp,
    /// `--init`.
    pub init: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The command.
    pub command: Vec<String>,
}

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

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Decide everything, check it (limits against this machine too), before anything exists.
fn resolve(root: &Root, o: &RunOptions, id: &str, name: &str) -> Result<(Resolved, Rootfs), Error> {
    let (layers, config, rootfs, host_root) = match (&o.image, &o.rootfs) {
        (Some(_), Some(_)) => return Err(Error::Usage("--image and --rootfs exclude each other".into())),
        (Some(img), None) => {
            let (image, layers) = image::load(root, img)?;
            (layers, image.config, Rootfs::Image(img.clone()), false)
        }
        (None, Some(dir)) => {
            let abs = std::fs::canonicalize(dir).map_err(|e| Error::io("--rootfs", dir, e))?;
            if !abs.is_dir() {
                return Err(Error::Usage(format!("--rootfs '{}' is not a directory", dir.display())));
            }
            (vec![abs.clone()], image::ImageConfig::default(), Rootfs::Dir(abs), false)
        }
        (None, None) => (vec![PathBuf::from("/")], image::ImageConfig::default(), Rootfs::Host, true),
    };
    let (entrypoint, default_cmd) = match &o.entrypoint {
        None => (config.entrypoint.clone(), config.cmd.clone()),
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
    };
    let mut command = entrypoint;
    command.extend(if o.command.is_empty() { default_cmd } else { o.command.clone() });
    if command.is_empty() {
        return Err(Error::Usage("no command given (and the image has none)".into()));
    }
    let hostname = o.hostname.clone().unwrap_or_else(|| name.to_string());
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOSTNAME".into(), hostname.clone()),
        ("HOME".into(), "/root".into()),
    ];
    for e in &config.env {
        crate::environ::set(&mut env, e, false);
    }
    for e in &o.env {
        crate::environ::set(&mut env, e, true);
    }
    let workdir = o
        .workdir
        .clone()
        .or_else(|| Some(config.workdir.clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    let user = o.user.clone().or_else(|| Some(config.user.clone()).filter(|u| !u.is_empty()));
    let parent = o.cgroup_parent.clone().unwrap_or_else(|| "/ctr-run".into());
    let cgroup = format!("{}/{id}", parent.trim_end_matches('/'));
    let group = cgctl::name::GroupName::parse(&cgroup).map_err(|e| Error::Usage(format!("--cgroup-parent: {e}")))?;
    let memory = o
        .memory
        .as_deref()
        .map(|m| chainload::units::parse_size(m).map_err(|e| Error::Usage(format!("--memory: {e}"))))
        .transpose()?;
    if let Some(m) = memory.filter(|m| *m < MIN_MEMORY) {
        return Err(Error::Usage(format!(
            "--memory {}: the minimum memory limit is {} (as docker's)",
            chainload::units::format_size(m),
            chainload::units::format_size(MIN_MEMORY)
        )));
    }
    let pids_limit = o.pids_limit.clone().unwrap_or_else(|| "4096".into());
    // Check the limits the way cgctl will, so a bad one fails here, before anything exists.
    let limits = cgctl::limits::Limits {
        memory,
        memory_swap: o
            .memory_swap
            .as_deref()
            .map(cgctl::limits::parse_swap)
            .transpose()
            .map_err(|e| Error::Usage(format!("--memory-swap: {e}")))?,
        cpus_micro: o
            .cpus
            .as_deref()
            .map(cgctl::limits::parse_cpus)
            .transpose()
            .map_err(|e| Error::Usage(format!("--cpus: {e}")))?,
        pids_limit: Some(
            cgctl::limits::parse_pids(&pids_limit).map_err(|e| Error::Usage(format!("--pids-limit: {e}")))?,
        ),
        cpuset_cpus: o
            .cpuset_cpus
            .as_deref()
            .map(cgctl::limits::parse_cpulist)
            .transpose()
            .map_err(|e| Error::Usage(format!("--cpuset-cpus: {e}")))?,
        ..Default::default()
    };
    // (The pids limit needs no look at the machine; cgctl itself checks it again.)
    let machine_limits = limits.memory.is_some()
        || limits.memory_swap.is_some()
        || limits.cpus_micro.is_some()
        || limits.cpuset_cpus.is_some();
    if machine_limits {
        let cg = cgctl::setup::Cgroups::detect()?;
        limits.check(&cg, &group)?;
    }
    for v in &o.volumes {
        if !v.src.exists() {
            return Err(Error::Usage(format!("volume source '{}' does not exist", v.src.display())));
        }
    }
    let devices = o.devices.iter().map(|d| device_rule(d).map(|rule| (d.clone(), rule))).collect::<Result<_, _>>()?;
    let config = Config {
        cgroup,
        layers,
        hostname,
        env,
        workdir,
        user,
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        seccomp: if o.privileged { Seccomp::Unconfined } else { o.seccomp.clone() },
        command,
        detached: o.detach,
        keep: o.keep,
        remove: o.remove,
    };
    let resolved = Resolved {
        id: id.to_string(),
        config,
        host_root,
        state_root: root.dir.clone(),
        network: o.network.unwrap_or(Network::None),
        memory,
        memory_swap: o.memory_swap.clone(),
        cpus: o.cpus.clone(),
        pids_limit,
        cpuset_cpus: o.cpuset_cpus.clone(),
        volumes: o.volumes.clone(),
        devices,
        read_only: o.read_only,
        init: o.init,
        // A foreground container without --keep (or one with --rm) is removed when it ends (overlayfs has
        // `volatile` since Linux 5.10).
        volatile_upper: (!o.detach || o.remove) && !o.keep && chainload::kernel::at_least(5, 10),
    };
    Ok((resolved, rootfs))
}

/// The devices-cgroup rule of `--device`: the host node's type and number, the access asked.
fn device_rule(d: &crate::chain::Device) -> Result<String, Error> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(&d.host).map_err(|e| Error::io("--device", &d.host, e))?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => 'c',
        t if t.is_block_device() => 'b',
        _ => return Err(Error::Usage(format!("--device '{}' is not a device node", d.host.display()))),
    };
    let (maj, min) = (nix::sys::stat::major(meta.rdev()), nix::sys::stat::minor(meta.rdev()));
    Ok(format!("{kind} {maj}:{min} {}", d.perms))
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

/// docker's smallest memory limit: below it not even a shell starts.
const MIN_MEMORY: u64 = 6 << 20;

/// Run a container.
pub fn run(root: &Root, tools: &Tools, o: &RunOptions) -> Result<RunEnd, Error> {
    if let Some(n) = &o.name {
        store::check_name(n)?;
    }
    for c in o.cap_add.iter().chain(&o.cap_drop).filter(|c| !c.eq_ignore_ascii_case("ALL")) {
        chainload::caps::parse_cap(c).map_err(|e| Error::Usage(e.to_string()))?;
    }
    let id = store::new_id()?;
    let name = o.name.clone().unwrap_or_else(|| id[..12].to_string());
    let (r, rootfs) = resolve(root, o, &id, &name)?;
    let dir = root.container(&id);
    let chain = chain::build(&r, &dir, tools);
    if o.dry_run {
        return Ok(RunEnd::DryRun(chain::shell_command(&chain)));
    }
    root.ensure()?;
    crate::paths::private_dir(&dir.dir)?;
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
    };
    // The state first, then the name: a claim always points at a container with state.
    if let Err(e) = state.save(&dir.state()) {
        let _ = std::fs::remove_dir_all(&dir.dir);
        return Err(e);
    }
    if let Err(e) = store::claim_name(root, tools, &name, &id) {
        let _ = std::fs::remove_dir_all(&dir.dir);
        return Err(e);
    }
    if o.detach {
        return detach(root, tools, state, chain);
    }
    let end = supervise(root, tools, state, &chain, None)?;
    Ok(end)
}

/// `-d`: hand the container to a supervisor in its own session (double fork, so it is
/// nobody's child), wait until the container runs (or failed to start), return its id.
fn detach(root: &Root, tools: &Tools, state: State, chain: Chain) -> Result<RunEnd, Error> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::from(sys("pipe failed")(e)))?;
    // SAFETY: ctr-run is single-threaded.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::from(sys("fork failed")(e)))? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let _ = chainload::status::wait_child(child);
            let mut line = String::new();
            let _ = BufReader::new(std::fs::File::from(r)).read_line(&mut line);
            match line.trim() {
                "running" => Ok(RunEnd::Detached(state.id.clone())),
                other if other.starts_with("error ") => Err(Error::Failed {
                    code: chainload::EXIT_TOOL_FAILED,
                    message: other["error ".len()..].to_string(),
                }),
                other => {
                    let code = other
                        .strip_prefix("exited ")
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(chainload::EXIT_TOOL_FAILED);
                    Err(Error::Failed {
                        code,
                        message: format!(
                            "container {} failed to start (status {code}); see ctr-run logs {}",
                            state.name, state.name
                        ),
                    })
                }
            }
        }
        nix::unistd::ForkResult::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            // SAFETY: still single-threaded.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {}
                _ => std::process::exit(0),
            }
            let mut state = state;
            state.supervisor = Proc::of(std::process::id() as i32);
            let dir = root.container(&state.id);
            // The supervisor keeps nothing of the caller's: its stdio goes to /dev/null and
            // the log (or a caller reading our output would wait for it forever).
            if let Err(e) = redirect_stdio(&dir.log()) {
                // Nothing has started: take the container back and tell the caller.
                let _ = store::remove_dir(root, &state);
                let _ = writeln!(std::fs::File::from(w), "error {e}");
                std::process::exit(chainload::EXIT_TOOL_FAILED);
            }
            let _ = state.save(&dir.state());
            let code = match supervise(root, tools, state, &chain, Some(std::fs::File::from(w))) {
                Ok(RunEnd::Exited { code, .. }) => code,
                Ok(_) => chainload::EXIT_TOOL_FAILED,
                Err(e) => {
                    // Into the container's log: the supervisor has no terminal.
                    eprintln!("ctr-run: supervisor: {e}");
                    e.exit_code()
                }
            };
            std::process::exit(code)
        }
    }
}

/// Point fds 0, 1, 2 at /dev/null and `log`; an error if either cannot be opened (a
/// detached container must never write to a terminal that is gone).
fn redirect_stdio(log: &Path) -> Result<(), Error> {
    use std::os::fd::AsFd;
    let null = std::fs::File::open("/dev/null").map_err(|e| Error::io("cannot open", Path::new("/dev/null"), e))?;
    let out = crate::paths::private_file()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io("cannot open the log", log, e))?;
    use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};
    dup2_stdin(null.as_fd()).map_err(sys("dup2 onto fd 0 failed"))?;
    dup2_stdout(out.as_fd()).map_err(sys("dup2 onto fd 1 failed"))?;
    dup2_stderr(out.as_fd()).map_err(sys("dup2 onto fd 2 failed"))?;
    Ok(())
}

fn stdio_for(dir: &ContainerDir, detached: bool) -> Result<(Stdio, Stdio, Stdio), Error> {
    if !detached {
        return Ok((Stdio::inherit(), Stdio::inherit(), Stdio::inherit()));
    }
    let log = crate::paths::private_file()
        .create(true)
        .append(true)
        .open(dir.log())
        .map_err(|e| Error::io("cannot open", &dir.log(), e))?;
    let err = log.try_clone().map_err(|e| Error::io("cannot open", &dir.log(), e))?;
    Ok((Stdio::null(), Stdio::from(log), Stdio::from(err)))
}

/// Start the chain and supervise it until the container ends; then release everything.
fn supervise(
    root: &Root,
    tools: &Tools,
    mut state: State,
    chain: &Chain,
    mut notify: Option<std::fs::File>,
) -> Result<RunEnd, Error> {
    let dir = root.container(&state.id);
    let blocked = chainload::signals::supervisor_set();
    // Blocked for the supervisor's whole life (the chain's child unblocks them in pre_exec).
    chainload::signals::block(&blocked).map_err(|e| Error::from(sys("cannot block signals")(e)))?;
    let (stdin, stdout, stderr) = stdio_for(&dir, state.config.detached)?;
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
            // The chain dies with its supervisor (and passes that on down to PID 1).
            nix::sys::prctl::set_pdeathsig(Some(Signal::SIGKILL)).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != me {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = store::remove_dir(root, &state);
            return Err(Error::io("cannot start the chain", Path::new(&chain.argv[0]), e));
        }
    };
    let chain_pid = Pid::from_raw(child.id() as i32);
    let mut set = SigSet::empty();
    for s in &blocked {
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
    let status: ChildStatus = loop {
        if state.pid.is_none() {
            if pid1.is_none() {
                pid1 = std::fs::read_to_string(dir.pid_file()).ok().and_then(|s| s.trim().parse::<i32>().ok());
            }
            // PID 1 has started once it runs the command: its executable is no longer a
            // tool of the chain (so its root, mounts and confinement are all in place).
            if let Some(pid) = pid1.filter(|p| started(*p, &chain_tools)) {
                state.pid = Proc::of(pid);
                state.status = Status::Running;
                let _ = state.save(&dir.state());
                if let Some(mut n) = notify.take() {
                    let _ = n.write_all(b"running\n");
                }
            }
        }
        match chainload::status::try_wait_child(chain_pid) {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(Error::from(sys("waitpid failed")(e))),
        }
        let wait = if state.pid.is_none() { 2 } else { 100 };
        if let Ok(Some(got)) = chainload::signals::sigtimedwait(&set, Some(Duration::from_millis(wait))) {
            if got.signal != Signal::SIGCHLD {
                // (A terminal's Ctrl-C reached the whole chain and the container already.)
                if !got.reached(chain_pid) {
                    let _ = nix::sys::signal::kill(chain_pid, got.signal);
                }
                if matches!(got.signal, Signal::SIGINT | Signal::SIGTERM) && kill_deadline.is_none() {
                    kill_deadline = Some(Instant::now() + Duration::from_secs(10));
                }
            }
        }
        if kill_deadline.is_some_and(|d| Instant::now() > d) {
            // Like docker stop: the container had its grace period.
            store::kill_container(&state, Duration::from_secs(1));
        }
    };
    let _ = child.wait();
    let code = status.shell_code();
    let report: Option<serde_json::Value> =
        std::fs::read_to_string(dir.stats()).ok().and_then(|t| serde_json::from_str(&t).ok());
    let oom = report.as_ref().is_some_and(|r| r["oom_killed"] == true);
    let limit = report.as_ref().and_then(|r| r["stats"]["memory"]["limit"].as_u64());
    if let Some(mut n) = notify.take() {
        let _ = n.write_all(format!("exited {code}\n").as_bytes());
    }
    // cgctl removed the group before it wrote its report, unless it failed (status 125).
    let released = if report.is_some() && code != chainload::EXIT_TOOL_FAILED {
        store::kill_container(&state, Duration::from_secs(10));
        Ok(())
    } else {
        store::release(tools, &state)
    };
    if (state.config.detached || state.config.keep) && !state.config.remove {
        state.status = Status::Exited;
        state.exit_code = Some(code);
        state.oom_killed = oom;
        state.finished = Some(now());
        state.save(&dir.state())?;
    } else {
        store::remove_dir(root, &state)?;
    }
    released?;
    Ok(RunEnd::Exited { name: state.name.clone(), code, oom: oom.then_some(limit) })
}

/// Whether process `pid` runs something other than the chain's own tools (`chain`: their
/// device and inode numbers).
fn started(pid: i32, chain: &[(u64, u64)]) -> bool {
    match std::fs::metadata(format!("/proc/{pid}/exe")) {
        Ok(m) => !chain.contains(&(m.dev(), m.ino())),
        Err(_) => false,
    }
}
