//! The chain a container runs as, built from the resolved options:
//!
//! ```text
//! cgctl exec --create LIMITS --devices default [--device-allow RULE...] CGROUP -- \
//!   unshare-rs [--user --map-root-user --map-users 1:SUBUID:N --map-groups 1:SUBGID:N] --fork --kill-child --forward-signals --pid --mount --uts --ipc --cgroup \
//!              [--net --loopback] --hostname NAME --pid-file DIR/pid -- \
//!     ovlmount enter --lower ... {--upper-tmpfs | --upper DIR/upper --work DIR/work [-o volatile]} \
//!       --init hostname=NAME --init hosts [--init resolv=/etc/resolv.conf] \
//!       --target DIR/merged --proc --dev --sys [--mask-defaults] [--tmpfs ...] [--bind ...] \
//!       [--device HOST:CTR...] [--workdir W] [--passwd-entry L --group-entry L] [--user U] \
//!       CAPS [--no-new-privs] \
//!       [--seccomp default] -- [/dev/init init --] CMD...
//! ```
//!
//! (The init files go to ovlmount's init layer in memory: nothing of them on disk. So
//! do the writes of a foreground container that is removed when it ends, with
//! `--upper-tmpfs`: see [`crate::resolve::writes_in_memory`].)
//!
//! A rootless container (see [`crate::rootless`]) starts with its user namespace, mounts
//! its overlay `-o userxattr`, has no device list, and no `cgctl exec` at all where no
//! cgroup is delegated to the user.
//!
//! and the same chain as one copy-pasteable shell command (`--dry-run`).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::config::Config;
use crate::paths::{ContainerDir, Tools};

/// `--security-opt seccomp=...`: the system call filter.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "profile")]
pub enum Seccomp {
    /// docker's default profile.
    #[default]
    Default,
    /// No filter.
    Unconfined,
    /// A profile file in docker's JSON format (an absolute path).
    Profile(PathBuf),
}

impl Seccomp {
    /// The `--seccomp` argument of `ovlmount enter` and `nsenter-rs`, if any.
    pub fn enter_arg(&self) -> Option<String> {
        match self {
            Seccomp::Default => Some("default".into()),
            Seccomp::Unconfined => None,
            Seccomp::Profile(p) => Some(p.display().to_string()),
        }
    }
}

/// `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// An own network namespace with `lo` up.
    None,
    /// The host's network.
    Host,
}

/// `-v SRC:DST[:ro]`: `ovlmount enter --bind`'s own type, parsed by the same code.
pub use ovlmount::enter::Bind as Volume;

/// `--device HOST[:CONTAINER[:PERMS]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The host's device node.
    pub host: PathBuf,
    /// Where it appears in the container (default: the same path).
    pub container: String,
    /// Access of `rwm` (default `rwm`).
    pub perms: String,
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Device, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, perms) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, c] if !c.is_empty() && c.chars().all(|x| "rwm".contains(x)) => (*h, *h, *c),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] => (*h, *c, *p),
            _ => return Err(format!("expected HOST[:CONTAINER[:PERMS]], got '{s}'")),
        };
        if !host.starts_with('/') || !container.starts_with('/') {
            return Err(format!("'{s}': device paths must be absolute"));
        }
        if perms.is_empty() || !perms.chars().all(|c| "rwm".contains(c)) {
            return Err(format!("'{s}': the permissions are letters of rwm"));
        }
        Ok(Device { host: PathBuf::from(host), container: container.to_string(), perms: perms.to_string() })
    }
}

/// Everything the chain needs, decided.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The container id.
    pub id: String,
    /// What the container is and runs (recorded in its state too).
    pub config: Config,
    /// Whether the host's root is the layer (then /tmp, /var/tmp, /run and the state
    /// root get fresh tmpfs).
    pub host_root: bool,
    /// The state root, hidden inside in host-root mode.
    pub state_root: PathBuf,
    /// Network.
    pub network: Network,
    /// The cgroup limits, checked (the device list aside).
    pub limits: cgctl::limits::Limits,
    /// `--tmpfs DST[:OPTS]`, as given.
    pub tmpfs: Vec<String>,
    /// `--sysctl`.
    pub sysctls: Vec<ovlmount::sysctl::Sysctl>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--add-host`.
    pub add_hosts: Vec<(String, std::net::IpAddr)>,
    /// `--dns`.
    pub dns: Vec<std::net::IpAddr>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// `--device`, each with its devices-cgroup rule (`c 10:232 rw`).
    pub devices: Vec<(Device, String)>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--userns keep-id` as the user: the passwd and group lines for them.
    pub keep_id_entries: Option<(String, String)>,
    /// Mount the upper layer `volatile` (no sync when it is unmounted): the container is
    /// removed when it exits, so its writes never need to reach the disk.
    pub volatile_upper: bool,
}

/// A chain ready to run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Chain {
    /// The environment the chain (and so the program) starts with, and nothing else.
    pub env: Vec<(String, String)>,
    /// argv, starting with cgctl's path.
    pub argv: Vec<OsString>,
    /// Directories to create first.
    pub dirs: Vec<PathBuf>,
    /// What releases the container's cgroup when the chain has ended (the supervisor does
    /// it itself; the shell command of `--dry-run` runs it).
    #[serde(default)]
    pub after: Option<Vec<String>>,
}

/// `env` with TERM=xterm for a process given a terminal, unless it sets TERM itself: as
/// docker does for `run -t` and `exec -t` (not part of the container's own environment,
/// so an `exec` without `-t` gets none).
pub fn with_term(env: &[(String, String)], tty: bool) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    if tty && !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    env
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Build the chain for `r`, with its files under `dir`.
pub fn build(r: &Resolved, dir: &ContainerDir, tools: &Tools) -> Chain {
    // (A rootless container where no cgroup is delegated to the user has none.)
    let mut a = match &r.config.cgroup {
        Some(cgroup) => cgctl_args(r, cgroup, tools),
        None => Vec::new(),
    };
    a.extend(unshare_args(r, dir, tools));
    a.extend(root_args(r, dir, tools));
    a.extend(confinement_args(r, dir));
    a.push("--".into());
    if r.init {
        a.extend(["/dev/init".into(), "init".into(), "--".into()]);
    }
    a.extend(r.config.command.iter().cloned());

    let after = r.config.cgroup.as_ref().map(|c| vec![s(&tools.cgctl), "rm".into(), "--force".into(), c.clone()]);
    Chain {
        env: with_term(&r.config.env, r.config.tty),
        argv: a.into_iter().map(OsString::from).collect(),
        dirs: vec![dir.dir.clone()],
        after,
    }
}

/// `cgctl exec --create`: the container's cgroup, its limits and device list; it joins
/// the group and execs the rest of the chain, so nothing of cgctl waits (the supervisor
/// reads the OOM kill count and removes the group when the container ends).
fn cgctl_args(r: &Resolved, cgroup: &str, tools: &Tools) -> Vec<String> {
    let mut a: Vec<String> = vec![s(&tools.cgctl), "exec".into(), "--create".into()];
    a.extend(r.limits.to_args());
    if !r.config.privileged && r.config.userns.is_none() {
        // runc's device allow-list, plus the devices asked for (a privileged container
        // keeps the host's access, as docker's does). A rootless container can reach
        // only what the host lets its user open: its nodes are binds of the host's (no
        // mknod in a user namespace), and a user may not load a device program.
        a.extend(["--devices".into(), "default".into()]);
        for (_, rule) in &r.devices {
            a.extend(["--device-allow".into(), rule.clone()]);
        }
    }
    a.extend([cgroup.to_string(), "--".into()]);
    a
}

/// `unshare-rs`: the namespaces, the hostname, and PID 1's pid file. A rootless
/// container's first joins the user namespace its user's containers share
/// (`nsenter-rs --user`, see [`crate::pause`]), where it makes the others.
fn unshare_args(r: &Resolved, dir: &ContainerDir, tools: &Tools) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(u) = &r.config.userns {
        let link = crate::pause::link(&r.state_root, u);
        a.extend([s(&tools.nsenter), format!("--user={}", s(&link)), "--".into()]);
    }
    a.push(s(&tools.unshare));
    for f in ["--fork", "--kill-child", "--forward-signals", "--pid", "--mount", "--uts", "--ipc", "--cgroup"] {
        a.push(f.into());
    }
    if r.network == Network::None {
        a.extend(["--net".into(), "--loopback".into()]);
    }
    a.extend(["--hostname".into(), r.config.hostname.clone(), "--pid-file".into(), s(&dir.pid_file()), "--".into()]);
    a
}

/// `ovlmount enter`, first half: the root (layers, upper), its mounts, volumes, devices.
fn root_args(r: &Resolved, dir: &ContainerDir, tools: &Tools) -> Vec<String> {
    let mut a = Vec::new();
    a.extend([s(&tools.ovlmount), "enter".into()]);
    for l in &r.config.layers {
        a.extend(["--lower".into(), s(l).replace(':', "\\:")]);
    }
    if r.config.writes_in_memory {
        a.push("--upper-tmpfs".into());
    } else {
        a.extend(["--upper".into(), s(&dir.upper()), "--work".into(), s(&dir.work())]);
    }
    if r.config.userns.is_some() {
        // (Mounted in the user namespace: whiteouts and opaque directories in user.overlay.*,
        // as trusted.* is not the namespace's to write.)
        a.extend(["-o".into(), "userxattr".into()]);
    }
    if r.volatile_upper && !r.config.writes_in_memory {
        // Without it, unmounting the overlay (when the container ends) syncs the whole
        // filesystem the upper layer is on, however much unrelated dirty data it holds.
        a.extend(["-o".into(), "volatile".into()]);
    }
    a.extend(["--init".into(), format!("hostname={}", r.config.hostname), "--init".into(), "hosts".into()]);
    for (name, ip) in &r.add_hosts {
        a.extend(["--init".into(), format!("host={name}:{ip}")]);
    }
    if std::path::Path::new("/etc/resolv.conf").exists() {
        a.extend(["--init".into(), "resolv=/etc/resolv.conf".into()]);
    }
    for ip in &r.dns {
        a.extend(["--init".into(), format!("dns={ip}")]);
    }
    a.extend(["--target".into(), s(&dir.merged()), "--proc".into(), "--dev".into(), "--sys".into()]);
    if let Some(size) = r.shm_size {
        a.extend(["--shm-size".into(), size.to_string()]);
    }
    if !r.config.privileged {
        a.push("--mask-defaults".into());
    }
    if r.read_only {
        a.push("--readonly".into());
    }
    if r.host_root {
        for t in ["/tmp", "/var/tmp", "/run"] {
            a.extend(["--tmpfs".into(), t.into()]);
        }
        a.extend(["--tmpfs".into(), s(&r.state_root)]);
    }
    for t in &r.tmpfs {
        // (docker's --tmpfs is noexec unless the options say exec.)
        let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
        a.extend(["--tmpfs".into(), format!("{dst}:noexec{}{opts}", if opts.is_empty() { "" } else { "," })]);
    }
    for v in &r.volumes {
        a.extend(["--bind".into(), v.to_arg()]);
    }
    if r.init {
        // (ctr-run itself, whose `init` is a tiny PID 1.)
        let me = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
        a.extend(["--bind".into(), format!("{}:/dev/init:ro", s(&me))]);
    }
    for (d, _) in &r.devices {
        a.extend(["--device".into(), format!("{}:{}", s(&d.host), d.container)]);
    }
    a
}

/// `ovlmount enter`, second half: where and as whom the command runs, and confined how.
fn confinement_args(r: &Resolved, dir: &ContainerDir) -> Vec<String> {
    let mut a = Vec::new();
    if !r.config.workdir.is_empty() {
        a.extend(["--workdir".into(), r.config.workdir.clone()]);
    }
    if let Some((passwd, group)) = &r.keep_id_entries {
        a.extend(["--passwd-entry".into(), passwd.clone(), "--group-entry".into(), group.clone()]);
    }
    if let Some(u) = &r.config.user {
        a.extend(["--user".into(), u.clone()]);
    }
    for g in &r.config.group_add {
        a.extend(["--group-add".into(), g.clone()]);
    }
    for sc in &r.sysctls {
        a.extend(["--sysctl".into(), format!("{}={}", sc.key, sc.value)]);
    }
    a.extend(crate::config::process_args(&r.config));
    if r.config.privileged {
        a.push("--all-caps".into());
    } else {
        for c in &r.config.cap_add {
            a.extend(["--cap-add".into(), c.clone()]);
        }
        for c in &r.config.cap_drop {
            a.extend(["--cap-drop".into(), c.clone()]);
        }
        a.push("--no-new-privs".into());
    }
    if let Some(arg) = r.config.seccomp.enter_arg() {
        a.extend(["--seccomp".into(), arg]);
    }
    if r.config.tty {
        a.extend(["--console-socket".into(), s(&dir.console_socket())]);
    }
    a
}

/// A word quoted for a POSIX shell.
pub use chainload::cli::shell_quote as quote;

/// The chain as one shell command that, run by hand, builds the same container (and
/// removes its cgroup after, keeping the chain's status).
pub fn shell_command(c: &Chain) -> String {
    let mut parts = Vec::new();
    for d in &c.dirs {
        parts.push(format!("mkdir -p {}", quote(&s(d))));
    }
    let mut run = vec!["env -i".to_string()];
    run.extend(c.env.iter().map(|(k, v)| quote(&format!("{k}={v}"))));
    run.extend(c.argv.iter().map(|w| quote(&w.to_string_lossy())));
    let run = run.join(" ");
    parts.push(match &c.after {
        None => format!("exec {run}"),
        Some(after) => {
            let after: Vec<String> = after.iter().map(|w| quote(w)).collect();
            // (A Ctrl-C reaches the chain; the shell, which traps it, still cleans up.)
            format!("{{ trap : INT TERM; {run}; s=$?; {} 2>/dev/null; exit $s; }}", after.join(" "))
        }
    });
    parts.join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_sh() {
        assert_eq!(quote("plain/path-1.2"), "plain/path-1.2");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }
}
