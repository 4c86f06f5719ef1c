//! `exec`: a new process in a running container, through `nsenter-rs`: it joins every
//! namespace of the container's init and its cgroup, enters the working directory
//! inside the container's root, and runs with the container's confinement (its
//! capabilities, or those the process file or `--cap` give, no_new_privs, its seccomp
//! filter, its rlimits, every other descriptor closed). With `--detach` the command returns once the
//! process's pid file is written and its parent is the caller's subreaper; otherwise
//! ctr-oci becomes the chain (exec) and its status is the process's.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use chainload::error::FromIo;

use crate::bundle::{self, Plan};
use crate::chain::Tools;
use crate::state::{Root, Status};
use crate::Error;

/// What `exec` runs, as given.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// `--process FILE`: an OCI process (JSON); the flags below then only add to it.
    pub process: Option<PathBuf>,
    /// The program and its arguments (without `--process`).
    pub args: Vec<String>,
    /// `--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--cwd`.
    pub cwd: Option<String>,
    /// `--env K=V`, repeatable (over the container's environment).
    pub env: Vec<String>,
    /// `--user UID[:GID]`.
    pub user: Option<String>,
    /// `--cap C`, repeatable: added to the container's set.
    pub caps: Vec<String>,
    /// `--no-new-privs`.
    pub no_new_privs: bool,
    /// `--preserve-fds N`.
    pub preserve_fds: u32,
    /// `--tty`.
    pub tty: bool,
    /// `--console-socket`: where the terminal's master goes.
    pub console_socket: Option<PathBuf>,
}

/// The process decided: the container's settings with the process file's and the
/// flags' over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Program and arguments.
    pub args: Vec<String>,
    /// The environment.
    pub env: Vec<(String, String)>,
    /// Working directory, inside the container.
    pub cwd: String,
    /// uid, gid, supplementary groups.
    pub user: (u32, u32, Vec<u32>),
    /// The capability set (`None`: all the container has).
    pub caps: Option<Vec<String>>,
    /// For a user other than root: the capabilities kept through exec.
    pub ambient: Vec<String>,
    /// no_new_privs.
    pub no_new_privs: bool,
    /// A terminal (`--tty`, or the process file's `terminal`).
    pub terminal: bool,
    /// Resource limits (the process file's, else the container's).
    pub rlimits: Vec<chainload::rlimit::Rlimit>,
}

/// Decide the process from the container's plan and `o`.
pub fn process(plan: &Plan, o: &ExecOptions) -> Result<Process, Error> {
    let mut p = Process {
        args: o.args.clone(),
        env: plan.env.clone(),
        cwd: plan.cwd.clone(),
        user: (plan.uid, plan.gid, plan.groups.clone()),
        caps: plan.caps.clone(),
        ambient: plan.ambient.clone(),
        no_new_privs: plan.no_new_privs,
        terminal: o.tty,
        rlimits: plan.rlimits.clone(),
    };
    if let Some(file) = &o.process {
        if !o.args.is_empty() {
            return Err(Error::Usage("exec: give --process or a command, not both".into()));
        }
        let text = std::fs::read_to_string(file).map_err(|e| Error::io("cannot read", file, e))?;
        let given: oci_spec::runtime::Process = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("--process '{}': not an OCI process: {e}", file.display())))?;
        // Decided as a container's process is (the same checks, the same errors).
        let mut spec = oci_spec::runtime::Spec::default();
        spec.set_process(Some(given));
        // (Its environment and limits are its own, as runc takes them: not added to the
        // container's.)
        let mut decided = Plan { env: Vec::new(), rlimits: Vec::new(), ..plan.clone() };
        bundle::decide_process(&spec, &mut decided)?;
        p = Process {
            args: decided.args,
            env: decided.env,
            cwd: decided.cwd,
            user: (decided.uid, decided.gid, decided.groups),
            caps: decided.caps,
            ambient: decided.ambient,
            no_new_privs: decided.no_new_privs,
            terminal: decided.terminal || o.tty,
            rlimits: decided.rlimits,
        };
    }
    if p.args.is_empty() {
        return Err(Error::Usage("exec: no command given".into()));
    }
    match (p.terminal, &o.console_socket) {
        (true, None) => {
            return Err(Error::Usage("exec: a terminal (--tty, process.terminal) needs --console-socket".into()))
        }
        (false, Some(_)) => {
            return Err(Error::Usage("exec: --console-socket is given without a terminal (--tty)".into()))
        }
        _ => {}
    }
    for e in &o.env {
        let (k, v) = e
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::Usage(format!("--env '{e}': expected KEY=VALUE")))?;
        p.env.retain(|(key, _)| key != k);
        p.env.push((k.to_string(), v.to_string()));
    }
    if let Some(c) = &o.cwd {
        if !c.starts_with('/') {
            return Err(Error::Usage(format!("--cwd '{c}': must be absolute")));
        }
        p.cwd = c.clone();
    }
    if let Some(u) = &o.user {
        let num = |s: &str| s.parse::<u32>().map_err(|_| Error::Usage(format!("--user '{u}': expected UID[:GID]")));
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(u)?, 0),
        };
        p.user = (uid, gid, Vec::new());
    }
    if !o.caps.is_empty() {
        let mut caps = p.caps.clone().unwrap_or_default();
        for c in &o.caps {
            let name = c.trim_start_matches("CAP_").to_ascii_uppercase();
            let full = format!("CAP_{name}");
            if !caps.contains(&full) {
                caps.push(full);
            }
        }
        if p.caps.is_some() {
            p.caps = Some(caps);
        }
    }
    p.no_new_privs |= o.no_new_privs;
    Ok(p)
}

/// The nsenter-rs argv of `p` into the container whose init is `pid`.
pub fn argv(tools: &Tools, pid: i32, p: &Process, seccomp: Option<&std::path::Path>, o: &ExecOptions) -> Vec<String> {
    let mut a: Vec<String> =
        vec![tools.nsenter.display().to_string(), "-t".into(), pid.to_string(), "-a".into(), "-c".into()];
    a.extend(["-W".into(), p.cwd.clone(), "-S".into(), p.user.0.to_string(), "-G".into(), p.user.1.to_string()]);
    if !p.user.2.is_empty() {
        let groups: Vec<String> = p.user.2.iter().map(u32::to_string).collect();
        a.extend(["--groups".into(), groups.join(",")]);
    }
    if let Some(caps) = &p.caps {
        a.extend(["--cap-drop".into(), "ALL".into()]);
        for c in caps {
            a.extend(["--cap-add".into(), c.clone()]);
        }
    }
    if p.user.0 != 0 {
        for c in &p.ambient {
            a.extend(["--ambient-cap".into(), c.clone()]);
        }
    }
    if p.no_new_privs {
        a.push("--no-new-privs".into());
    }
    a.extend(["--close-fds".into(), "--preserve-fds".into(), o.preserve_fds.to_string()]);
    a.extend(["--seccomp".into(), seccomp.map(|s| s.display().to_string()).unwrap_or_else(|| "unconfined".into())]);
    if o.detach {
        a.push("--detach".into());
    }
    if let (true, Some(s)) = (p.terminal, &o.console_socket) {
        a.extend(["--console-socket".into(), absolute(s)]);
    }
    if let Some(f) = &o.pid_file {
        a.extend(["--pid-file".into(), absolute(f)]);
    }
    a.push("--".into());
    a.extend(p.args.iter().cloned());
    a
}

/// `path` from the caller's directory (nsenter-rs opens it before joining anything,
/// but from ctr-oci's own directory all the same).
fn absolute(path: &std::path::Path) -> String {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// `exec ID`. Returns (with `--detach`) once the process runs; otherwise only on
/// failure (ctr-oci has become the process's chain).
pub fn exec(root: &Root, id: &str, o: &ExecOptions) -> Result<(), Error> {
    let st = root.find(id)?;
    match st.status(root) {
        Status::Running => {}
        Status::Stopped => return Err(Error::NotRunning),
        Status::Paused => return Err(Error::WrongState(format!("cannot exec in paused container {id}"))),
        Status::Created => return Err(Error::WrongState(format!("cannot exec in container {id}: it is not started"))),
    }
    let plan = bundle::plan(&bundle::load(&st.bundle)?, &st.bundle, id)?;
    let mut p = process(&plan, o)?;
    if !p.env.iter().any(|(k, _)| k == "HOME") {
        // (runc's: the user's home in the container's passwd, opened inside its root.)
        let root = std::path::PathBuf::from(format!("/proc/{}/root", st.pid));
        let passwd = chainload::ids::IdFile::InRoot { root: &root, path: std::path::Path::new("/etc/passwd") };
        p.env.push(("HOME".into(), chainload::ids::home_dir(p.user.0, passwd)));
    }
    let tools = Tools::locate()?;
    let seccomp = root.container(id).seccomp();
    let argv = argv(&tools, st.pid, &p, seccomp.exists().then_some(seccomp.as_path()), o);
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_clear().envs(p.env.iter().map(|(k, v)| (k, v)));
    let rlimits = p.rlimits.clone();
    // SAFETY: set_all only calls setrlimit (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || chainload::rlimit::set_all(&rlimits).map_err(|(_, e)| std::io::Error::from(e)));
    }
    if !o.detach {
        return Err(Error::io("cannot run", &tools.nsenter, cmd.exec()));
    }
    // The process's stdio are the caller's (conmon's, the shim's): nsenter-rs's own
    // error, if any, goes there too, as its one line.
    let status = cmd.status().map_err(|e| Error::io("cannot run", &tools.nsenter, e))?;
    if !status.success() {
        return Err(Error::Chain(format!("exec failed: nsenter-rs ended with {status}")));
    }
    Ok(())
}
