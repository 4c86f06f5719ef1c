//! The command line of ctr-run (clap).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ctr_run::chain::{Network, Seccomp, Volume};
use ctr_run::resolve::RunOptions;
use nix::sys::signal::Signal;

const EXAMPLES: &str = "\
Examples:
  ctr-run run -- sh -c 'hostname; ps'                      (the host's root, read-only, as a snapshot)
  ctr-run image import busybox busybox.tar && ctr-run run --image busybox -m 64M -- sh
  ctr-run run -d --name web --image busybox -- httpd -f -p 8080
  ctr-run exec web -- ps; ctr-run logs web; ctr-run kill web; ctr-run rm web
  ctr-run run --dry-run --image busybox -- true           (the chain as one shell command)";

/// Run containers as a visible chain of cgctl, unshare-rs, ovlmount and nsenter-rs.
#[derive(Debug, Parser)]
#[command(name = "ctr-run", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The state directory [default: /run/ctr-run; for a user other than root
    /// $XDG_RUNTIME_DIR/ctr-run, else ~/.local/share/ctr-run]
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    chainload::signals::parse_signal(s).map_err(|e| e.to_string())
}

fn parse_network(s: &str) -> Result<Network, String> {
    match s {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        _ => Err(format!("'{s}': only none and host are supported")),
    }
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    check_volume(s.parse()?, s)
}

/// A volume the container's private mount namespace can have (`shown`: as given).
fn check_volume(v: Volume, s: &str) -> Result<Volume, String> {
    use ovlmount::enter::BindPropagation;
    match v.propagation {
        // (The container's mount namespace is private: nothing could follow.)
        BindPropagation::Slave | BindPropagation::Shared => Err(format!(
            "'{s}': {} volumes are not supported (a container's mounts are private here)",
            v.propagation.option().unwrap_or_default()
        )),
        _ => Ok(v),
    }
}

/// `--mount`: docker's long form of `-v` or of `--tmpfs`.
#[derive(Debug, Clone)]
enum MountArg {
    /// `type=bind`.
    Bind(Volume),
    /// `type=tmpfs`, as a `--tmpfs DST[:OPTS]` argument.
    Tmpfs(String),
}

impl MountArg {
    fn bind(&self) -> Option<Volume> {
        match self {
            MountArg::Bind(v) => Some(v.clone()),
            MountArg::Tmpfs(_) => None,
        }
    }

    fn tmpfs(&self) -> Option<String> {
        match self {
            MountArg::Tmpfs(t) => Some(t.clone()),
            MountArg::Bind(_) => None,
        }
    }
}

/// `--mount type=bind,source=SRC,target=DST[,readonly][,bind-propagation=P]` or
/// `--mount type=tmpfs,target=DST[,tmpfs-size=SIZE][,tmpfs-mode=MODE]`, docker's keys
/// (`src`, `destination`/`dst`, `ro` too; `readonly=false` for writable). Named volumes
/// (`type=volume`, docker's default type) are refused: there is no volume store.
fn parse_mount(s: &str) -> Result<MountArg, String> {
    let (mut kind, mut src, mut dst, mut read_only) = (None, None, None, false);
    let (mut propagation, mut tmpfs) = (None, Vec::new());
    for field in s.split(',') {
        let (key, value) = field.split_once('=').map_or((field, None), |(k, v)| (k, Some(v)));
        let given = value.filter(|v| !v.is_empty());
        let need = || format!("{key} needs a value");
        match key {
            "type" => kind = Some(given.ok_or_else(need)?),
            "source" | "src" => src = Some(given.ok_or_else(need)?),
            "target" | "destination" | "dst" => dst = Some(given.ok_or_else(need)?),
            "readonly" | "ro" => {
                read_only = match value {
                    None | Some("true" | "1") => true,
                    Some("false" | "0") => false,
                    Some(v) => return Err(format!("{key}={v}: expected true or false")),
                }
            }
            "bind-propagation" => propagation = Some(given.ok_or_else(need)?),
            "tmpfs-size" => {
                let size = given.ok_or_else(need)?;
                let bytes =
                    chainload::units::parse_size(size).map_err(|_| format!("tmpfs-size '{size}' is not a size"))?;
                tmpfs.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                let mode = given.ok_or_else(need)?;
                match u32::from_str_radix(mode, 8) {
                    Ok(m) if m <= 0o7777 => tmpfs.push(format!("mode={mode}")),
                    _ => return Err(format!("tmpfs-mode '{mode}' is not an octal mode")),
                }
            }
            // (docker's macOS hint: meaningless on Linux, as docker ignores it there.)
            "consistency" => {}
            _ => return Err(format!("unknown key '{key}'")),
        }
    }
    let dst = dst.ok_or("target is required")?;
    if !dst.starts_with('/') {
        return Err(format!("target '{dst}' must be absolute"));
    }
    let only = |what: &str, ok: bool| if ok { Ok(()) } else { Err(what.to_string()) };
    match kind {
        Some("bind") => {
            only("tmpfs-size and tmpfs-mode are for type=tmpfs", tmpfs.is_empty())?;
            let src = src.ok_or("source is required for type=bind")?;
            if !src.starts_with('/') {
                return Err(format!("source '{src}' must be an absolute path"));
            }
            // (The chain hands a volume to ovlmount as SRC:DST[:OPTIONS].)
            only("a path with ':' cannot be bound", !src.contains(':') && !dst.contains(':'))?;
            let propagation = match propagation {
                None => Default::default(),
                Some(p) => {
                    ovlmount::enter::BindPropagation::parse(p).ok_or(format!("unknown bind-propagation '{p}'"))?
                }
            };
            let v = Volume { src: src.into(), dst: dst.into(), read_only, attrs: 0, propagation };
            check_volume(v, s).map(MountArg::Bind)
        }
        Some("tmpfs") => {
            only("a tmpfs has no source", src.is_none())?;
            only("bind-propagation is for type=bind", propagation.is_none())?;
            if read_only {
                tmpfs.push("ro".into());
            }
            let arg = if tmpfs.is_empty() { dst.to_string() } else { format!("{dst}:{}", tmpfs.join(",")) };
            parse_tmpfs(&arg).map(MountArg::Tmpfs)
        }
        Some("volume") | None => Err(
            "named volumes (type=volume, the default type) are not supported: use type=bind,source=DIR or type=tmpfs"
                .into(),
        ),
        Some(other) => Err(format!("type={other} is not supported (bind or tmpfs)")),
    }
}

/// `--security-opt seccomp=unconfined|default|FILE` (FILE: a profile in docker's JSON
/// format, read and checked now). Other options (apparmor, label) are refused rather
/// than ignored.
fn parse_security_opt(s: &str) -> Result<Seccomp, String> {
    match s {
        "seccomp=unconfined" | "seccomp:unconfined" => Ok(Seccomp::Unconfined),
        "seccomp=default" => Ok(Seccomp::Default),
        _ => match s.strip_prefix("seccomp=") {
            Some(file) => {
                chainload::seccomp::profile::Profile::read(std::path::Path::new(file))?;
                let abs = std::path::absolute(file).map_err(|e| format!("'{file}': {e}"))?;
                Ok(Seccomp::Profile(abs))
            }
            None => Err(format!("'{s}': only seccomp=unconfined, seccomp=default and seccomp=FILE are supported")),
        },
    }
}

/// `--tail N|all`.
#[derive(Debug, Clone, Copy)]
pub struct Tail(pub Option<usize>);

fn parse_tail(s: &str) -> Result<Tail, String> {
    match s {
        "all" => Ok(Tail(None)),
        n => n.parse().map(|n| Tail(Some(n))).map_err(|_| format!("'{s}': expected a number of lines or 'all'")),
    }
}

/// The variables of one `--env-file`.
#[derive(Debug, Clone)]
pub struct EnvFile(pub Vec<String>);

/// `--env-file FILE`: docker's format, read now: one `KEY=VALUE` or `KEY` (take ours) per
/// line, leading blanks ignored, `#` lines and empty lines skipped, no quoting.
fn parse_env_file(path: &str) -> Result<EnvFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("'{path}': {}", chainload::cli::io_reason(&e)))?;
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        vars.push(parse_env(line).map_err(|e| format!("'{path}' line {}: {e}", n + 1))?);
    }
    Ok(EnvFile(vars))
}

/// `--tmpfs DST[:OPTS]`, checked as ovlmount will read it.
fn parse_tmpfs(s: &str) -> Result<String, String> {
    s.parse::<ovlmount::tmpfs::Tmpfs>().map(|_| s.to_string())
}

/// `--label KEY[=VALUE]`.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    if k.is_empty() {
        return Err(format!("expected KEY=VALUE, got '{s}'"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `--shm-size SIZE` (more than 0).
fn parse_shm_size(s: &str) -> Result<u64, String> {
    match chainload::units::parse_size(s) {
        Ok(0) => Err("the size of /dev/shm must be more than 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.reason().to_string()),
    }
}

fn parse_env(s: &str) -> Result<String, String> {
    if s.is_empty() || s.starts_with('=') {
        return Err(format!("expected KEY=VALUE or KEY, got '{s}'"));
    }
    Ok(s.to_string())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// (Each subcommand's arguments are built only when it is the one run: building them all
// was most of a start-up's own CPU.)
#[command(defer = true)]
pub enum Command {
    /// Run a command in a new container
    Run(Box<RunArgs>),
    /// Run a command in a running container's namespaces and cgroup
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run exec web -- ps\n  ctr-run exec -u nobody -e DEBUG=1 -w /tmp web -- sh -c 'id; pwd'\n  ctr-run rm -f web"
    )]
    Exec {
        /// A pseudo-terminal of the container's own for the command (as run -t)
        #[arg(short = 't', long)]
        tty: bool,
        /// Keep stdin open: the caller's input reaches the command (else /dev/null)
        #[arg(short = 'i', long)]
        interactive: bool,
        /// Set an environment variable (repeatable)
        #[arg(short = 'e', long = "env", value_name = "KEY=VAL", value_parser = parse_env)]
        env: Vec<String>,
        /// Working directory inside the container
        #[arg(short = 'w', long = "workdir", value_name = "DIR")]
        workdir: Option<String>,
        /// User (UID[:GID] or a name from the container's /etc/passwd)
        #[arg(short = 'u', long = "user", value_name = "UID[:GID]")]
        user: Option<String>,
        /// Container name or id
        id: String,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// List containers
    #[command(after_help = "Examples:\n  ctr-run ps -a\n  ctr-run ps -aq\n  ctr-run ps --json")]
    Ps {
        /// Include exited containers
        #[arg(short = 'a', long)]
        all: bool,
        /// One JSON array
        #[arg(long, conflicts_with = "quiet")]
        json: bool,
        /// Only the ids (12 hex digits), one per line, as `docker ps -q`
        #[arg(short = 'q', long)]
        quiet: bool,
        /// Only the containers KEY=VALUE matches: id (a prefix), name (a part), label
        /// (KEY or KEY=VALUE), status (created, running, paused, restarting, exited),
        /// exited (an exit code); one key repeated matches any, different keys all
        #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE", value_parser = ctr_run::ops::PsFilter::parse)]
        filters: Vec<ctr_run::ops::PsFilter>,
        /// Print TEMPLATE for each container, docker's fields: .ID .Names .Command
        /// .CreatedAt .RunningFor .Status .State .Labels .Pid (`\t` is a tab; .Field paths
        /// and json .Field, as inspect -f)
        #[arg(long, value_name = "TEMPLATE", conflicts_with_all = ["json", "quiet"])]
        format: Option<String>,
    },
    /// Stop containers: the stop signal (TERM unless --stop-signal or the image says
    /// otherwise), then SIGKILL after the grace period
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run stop -t 1 web  (TERM, then KILL after 1 s; prints the name)\n  ctr-run rm web"
    )]
    Stop {
        /// Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)
        #[arg(short = 't', long = "time", value_name = "SECS")]
        time: Option<u64>,
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Restart detached containers: stop each (as `stop`), then start its chain again
    /// (same filesystem, log appended)
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run restart -t 1 web  (stopped, then started again on the same filesystem)\n  ctr-run rm -f web"
    )]
    Restart {
        /// Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)
        #[arg(short = 't', long = "time", value_name = "SECS")]
        time: Option<u64>,
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Block until containers stop; print each exit code
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name job -- sh -c 'sleep 0.5; exit 3'; ctr-run wait job  (prints 3)\n  ctr-run rm job"
    )]
    Wait {
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Send a signal (default SIGKILL, as docker's) to a container's PID 1
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run kill -s USR1 web; ctr-run kill web  (SIGKILL, as docker's)\n  ctr-run rm web"
    )]
    Kill {
        /// The signal, by name or number (default KILL, as docker's)
        #[arg(short = 's', long, default_value = "KILL", value_parser = parse_signal)]
        signal: Signal,
        /// Container name or id
        id: String,
    },
    /// Remove containers (-f: kill running ones first)
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name a -- sleep 300; ctr-run run -d --name b -- sleep 300\n  ctr-run rm -f a b  (prints each name as it is removed)"
    )]
    Rm {
        /// Kill a running container first
        #[arg(short = 'f', long)]
        force: bool,
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Show containers as JSON: state (pid, status, exit code, OOM kill, times), config,
    /// mounts (as the container sees them), and the chain that runs it
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -m 64M -- sleep 300\n  ctr-run inspect web; ctr-run inspect -f '{{.State.Pid}} {{json .Config.Env}}' web\n  ctr-run rm -f web"
    )]
    Inspect {
        /// Print TEMPLATE for each container instead of the JSON: docker's `-f
        /// '{{.State.Pid}}'`, with .Field paths and `json .Field` (Go's text/template's
        /// other actions are refused)
        #[arg(short, long, value_name = "TEMPLATE")]
        format: Option<String>,
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Show running containers' CPU, memory, task and block I/O use (every second,
    /// until interrupted; --no-stream: once)
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -m 64M -- sleep 300\n  ctr-run stats --no-stream web; ctr-run stats --no-stream --json web\n  ctr-run rm -f web"
    )]
    Stats {
        /// Print one sample and exit
        #[arg(long)]
        no_stream: bool,
        /// One JSON object per container and sample
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// table or prometheus
        #[arg(long, value_parser = ["table", "prometheus"], default_value = "table")]
        format: String,
        /// Container names or ids (default: every running one)
        ids: Vec<String>,
    },
    /// The processes of a container's cgroup, as ps shows them (default: ps -ef)
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run top web\n  ctr-run rm -f web"
    )]
    Top {
        /// Container name or id
        id: String,
        /// ps options
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "PS_OPTIONS")]
        ps_options: Vec<String>,
    },
    /// Print a detached container's output
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name talk -- sh -c 'echo one; echo two; sleep 0.5'; ctr-run wait talk\n  ctr-run logs --tail 1 talk  (prints two)\n  ctr-run rm talk"
    )]
    Logs {
        /// Follow: print what the container writes next, until it stops
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only the last N lines (`all`: every line, the default)
        #[arg(short = 'n', long, value_name = "N", value_parser = parse_tail)]
        tail: Option<Tail>,
        /// Container name or id
        id: String,
    },
    /// List what a container changed in its filesystem (its own layer): A added, C
    /// changed, D deleted, as docker diff (`ovlmount diff` of its upper layer)
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sh -c 'touch /tmp/new; rm /etc/hostname; sleep 300'\n  ctr-run diff web; ctr-run diff --json web\n  ctr-run rm -f web"
    )]
    Diff {
        /// Container name or id
        id: String,
        /// As a JSON array of {"kind", "path"}
        #[arg(long)]
        json: bool,
    },
    /// Write a container's changes (its upper layer) as an OCI layer tar
    #[command(
        after_help = "Examples:\n  ctr-run run --keep --name box -- sh -c 'echo hi > /greeting'\n  ctr-run commit box -o box-layer.tar --gzip\n  ctr-run rm box"
    )]
    Commit {
        /// Container name or id
        id: String,
        /// The tar to write
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// Compress with gzip
        #[arg(long)]
        gzip: bool,
        /// Freeze a running container during the commit (`--pause=false`: do not)
        #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
        pause: bool,
    },
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Pause containers: freeze every process of each (its cgroup's freezer); prints each name
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300\n  ctr-run pause web; ctr-run ps  (Up ... (Paused))\n  ctr-run unpause web; ctr-run rm -f web"
    )]
    Pause {
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Unpause containers: thaw what `pause` froze; prints each name
    #[command(
        after_help = "Examples:\n  ctr-run run -d --name web -- sleep 300; ctr-run pause web\n  ctr-run unpause web\n  ctr-run rm -f web"
    )]
    Unpause {
        /// Container names or ids
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// (internal) the process that holds a rootless user's containers' user namespace
    #[command(hide = true, name = "hold-userns")]
    HoldUserns,
    /// (internal) the tiny init run as PID 1 by `run --init`
    #[command(hide = true)]
    Init {
        /// The command and its arguments
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

/// `image` subcommands.
#[derive(Debug, Subcommand)]
// (Each subcommand's arguments are built only when it is the one run: building them all
// was most of a start-up's own CPU.)
#[command(defer = true)]
pub enum ImageCommand {
    /// Import a docker save archive or an OCI image layout archive as NAME
    #[command(
        after_help = "Examples:\n  ctr-run image import busybox busybox.tar  (a docker save or OCI layout archive)\n  ctr-run image import --max-size 1G small busybox.tar  (refused once it grows past 1 GiB)"
    )]
    Import {
        /// The image's name
        name: String,
        /// The archive (tar, or tar.gz)
        file: PathBuf,
        /// Refuse an archive (or a layer in it) larger than SIZE once decompressed
        #[arg(long, value_name = "SIZE", default_value = "64G", value_parser = ovlmount::archive::parse_max_size)]
        max_size: u64,
    },
    /// List images
    #[command(after_help = "Examples:\n  ctr-run image import busybox busybox.tar; ctr-run image ls")]
    Ls {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove an image
    #[command(after_help = "Examples:\n  ctr-run image import busybox busybox.tar; ctr-run image rm busybox")]
    Rm {
        /// The image's name
        name: String,
    },
}

// `run`'s flags (docker's names and meanings).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ctr-run run -- sh -c 'hostname; ps'  (the host's root, read-only, as a snapshot)\n  ctr-run run --rootfs img/l1 -m 64M --cpus 0.5 --pids-limit 100 -e A=1 -w /tmp -- sh -c 'echo $A; pwd'\n  ctr-run run --ulimit nofile=256 --tmpfs /scratch:size=8m --add-host db:10.0.0.5 -- sh -c 'ulimit -n; grep db /etc/hosts'\n  ctr-run run -d --name web --restart on-failure:3 --stop-timeout 2 -- sleep 300; ctr-run rm -f web\n  ctr-run run --dry-run --rootfs img/l1 -- true  (the chain as one shell command)"
)]
pub struct RunArgs {
    /// Container name
    #[arg(long)]
    name: Option<String>,
    /// Run in the background; print the id
    #[arg(short = 'd', long)]
    detach: bool,
    /// A pseudo-terminal of the container's own as its stdio and controlling terminal
    /// (the caller's terminal in raw mode while attached)
    #[arg(short = 't', long)]
    tty: bool,
    /// Keep stdin open: the caller's input reaches the container (without -i it reads
    /// /dev/null)
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Keep the container (its state and layer) after it exits
    #[arg(long, conflicts_with = "rm")]
    keep: bool,
    /// Remove the container when it exits, detached too (a foreground container is
    /// removed anyway unless --keep)
    #[arg(long)]
    rm: bool,
    /// Keep the container's writes on disk (its upper layer under the state root) though
    /// it is a foreground one that is not kept; for writes larger than memory. (A
    /// detached, kept, restarting or memory-limited container's writes are on disk
    /// anyway; the others' are in memory.)
    #[arg(long)]
    upper_on_disk: bool,
    /// The image (imported with `ctr-run image import`)
    #[arg(long, value_name = "NAME", conflicts_with = "rootfs")]
    image: Option<String>,
    /// A directory used as the single read-only layer
    #[arg(long, value_name = "DIR")]
    rootfs: Option<PathBuf>,
    /// Memory limit (64M, 1.5G, ...)
    #[arg(short = 'm', long, value_name = "SIZE", allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long, value_name = "N.N", allow_hyphen_values = true)]
    cpus: Option<String>,
    /// Maximum number of tasks (default 4096; -1 or max: unlimited)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// CPUs the container may use (0-3,5)
    #[arg(long, value_name = "LIST")]
    cpuset_cpus: Option<String>,
    #[command(flatten)]
    cgroup: CgroupFlags,
    /// Parent cgroup (default /ctr-run; relative paths as in cgctl)
    #[arg(long, value_name = "PATH")]
    cgroup_parent: Option<String>,
    /// Hostname (default: the name)
    #[arg(long)]
    hostname: Option<String>,
    /// none (an own network namespace with lo up; the default) or host
    #[arg(long, value_name = "MODE", value_parser = parse_network)]
    network: Option<Network>,
    /// Set an environment variable (KEY=VAL, or KEY to take ours); repeatable
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL", value_parser = parse_env)]
    env: Vec<String>,
    /// Run CMD instead of the image's Entrypoint (its Cmd is dropped too, as docker's;
    /// "" for none); the arguments after -- are its arguments
    #[arg(long, value_name = "CMD")]
    entrypoint: Option<String>,
    /// Read environment variables from FILE (docker's format: KEY=VAL or KEY lines, #
    /// comments); repeatable, before the -e ones
    #[arg(long, value_name = "FILE", value_parser = parse_env_file)]
    env_file: Vec<EnvFile>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "DIR")]
    workdir: Option<String>,
    /// User (UID[:GID] or a name from the container's /etc/passwd)
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    user: Option<String>,
    /// Add a supplementary group (a name from the container's /etc/group, or a gid) to
    /// the user's, for the command and for `exec`; repeatable
    #[arg(long, value_name = "GROUP")]
    group_add: Vec<String>,
    /// Bind a host path (SRC:DST[:ro]); repeatable
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]", value_parser = parse_volume)]
    volumes: Vec<Volume>,
    /// docker's long form of -v and --tmpfs: type=bind,source=SRC,target=DST[,readonly]
    /// [,bind-propagation=P] or type=tmpfs,target=DST[,tmpfs-size=SIZE][,tmpfs-mode=MODE];
    /// repeatable
    #[arg(long = "mount", value_name = "type=...,target=...", value_parser = parse_mount)]
    mounts: Vec<MountArg>,
    /// Give the container a host device (HOST[:CONTAINER[:PERMS]], PERMS of rwm); repeatable
    #[arg(long = "device", value_name = "HOST[:CTR[:PERMS]]")]
    devices: Vec<ctr_run::chain::Device>,
    /// Make the container's root read-only
    #[arg(long)]
    read_only: bool,
    /// Rootless: `keep-id` maps you to your own uid and gid inside (and runs the command
    /// as them, your name and home added to the container's /etc/passwd and /etc/group
    /// where its own lack your ids) instead of to root; the default maps you to root,
    /// your subordinate ids from 1
    #[arg(long, value_name = "keep-id", value_parser = ["keep-id"])]
    userns: Option<String>,
    /// Add a capability to docker's default set; repeatable
    #[arg(long, value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop a capability (or ALL); repeatable
    #[arg(long, value_name = "CAP")]
    cap_drop: Vec<String>,
    /// All capabilities, no masked paths, no no_new_privs, no seccomp filter (the
    /// namespaces stay)
    #[arg(long)]
    privileged: bool,
    /// seccomp=unconfined (no system call filter), seccomp=default, or seccomp=FILE (a
    /// profile in docker's JSON format); repeatable, the last one counts
    #[arg(long, value_name = "OPT", value_parser = parse_security_opt)]
    security_opt: Vec<Seccomp>,
    /// A tmpfs on DST inside (docker's defaults: noexec, nosuid, nodev; OPTS as ovlmount's
    /// --tmpfs: size=64m, mode=1777, exec, ...); repeatable
    #[arg(long, value_name = "DST[:OPTS]", value_parser = parse_tmpfs)]
    tmpfs: Vec<String>,
    /// A resource limit (nofile=1024:2048, nproc=100, core=unlimited); repeatable
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = chainload::rlimit::Rlimit::parse)]
    ulimit: Vec<chainload::rlimit::Rlimit>,
    /// A kernel parameter of the container's own namespaces (IPC, UTS, and net.* unless
    /// --network host); others are refused; repeatable
    #[arg(long, value_name = "KEY=VALUE", value_parser = ovlmount::sysctl::Sysctl::parse)]
    sysctl: Vec<ovlmount::sysctl::Sysctl>,
    /// The size of /dev/shm (default 64M)
    #[arg(long, value_name = "SIZE", value_parser = parse_shm_size)]
    shm_size: Option<u64>,
    /// Add NAME with IP to /etc/hosts (NAME:IP); repeatable
    #[arg(long, value_name = "NAME:IP", value_parser = ovlmount::enter::parse_extra_host)]
    add_host: Vec<(String, std::net::IpAddr)>,
    /// A name server for /etc/resolv.conf, in place of the host's (whose search and
    /// options lines stay); repeatable
    #[arg(long, value_name = "IP", value_parser = ovlmount::enter::parse_dns)]
    dns: Vec<std::net::IpAddr>,
    /// The container's OOM score adjustment (-1000 to 1000)
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = chainload::rlimit::parse_oom_score_adj)]
    oom_score_adj: Option<i32>,
    /// The signal `stop` sends first (default: the image's StopSignal, else TERM)
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
    stop_signal: Option<Signal>,
    /// Seconds `stop` waits before SIGKILL (default 10)
    #[arg(long, value_name = "SECS")]
    stop_timeout: Option<u64>,
    /// Set a label (KEY=VALUE, over the image's); repeatable
    #[arg(short = 'l', long, value_name = "KEY=VALUE", value_parser = parse_label)]
    label: Vec<(String, String)>,
    /// Start the command again when it ends: no (the default), on-failure[:N]
    /// (a status other than 0, at most N times), always or unless-stopped (the same
    /// here); `stop`, `kill` and `rm -f` end it for good
    #[arg(long, value_name = "POLICY", value_parser = ctr_run::config::Restart::parse)]
    restart: Option<ctr_run::config::Restart>,
    /// A tiny init as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    init: bool,
    /// Print the chain as one shell command and exit
    #[arg(long)]
    dry_run: bool,
    /// Write the container's id to FILE (which must not exist), as docker's
    #[arg(long, value_name = "FILE")]
    cidfile: Option<PathBuf>,
    /// The command and its arguments (default: the image's)
    #[arg(value_name = "CMD", trailing_var_arg = true)]
    command: Vec<String>,
}

// `run`'s other cgroup limits (cgctl's, with docker's names).
#[derive(Debug, Args)]
struct CgroupFlags {
    /// Soft memory limit (under memory pressure the container is reclaimed down to it)
    #[arg(long, value_name = "SIZE", value_parser = cgctl::limits::parse_size)]
    memory_reservation: Option<u64>,
    /// Relative CPU weight (2..262144, default 1024)
    #[arg(short = 'c', long, value_name = "N", value_parser = cgctl::limits::parse_cpu_shares)]
    cpu_shares: Option<u64>,
    /// CPU quota per period in microseconds (-1: none)
    #[arg(long, value_name = "USEC", allow_hyphen_values = true, value_parser = cgctl::limits::parse_cpu_quota)]
    cpu_quota: Option<i64>,
    /// CPU period in microseconds (1000..1000000)
    #[arg(long, value_name = "USEC", value_parser = cgctl::limits::parse_cpu_period)]
    cpu_period: Option<u64>,
    /// Memory nodes the container may use (0-1)
    #[arg(long, value_name = "LIST", value_parser = cgctl::limits::parse_cpulist)]
    cpuset_mems: Option<cgctl::cpulist::CpuList>,
    /// Block I/O weight (10..1000)
    #[arg(long, value_name = "N", value_parser = cgctl::limits::parse_io_weight)]
    blkio_weight: Option<u64>,
    /// Block I/O weight of one device (/dev/sda:300; 10..1000); repeatable
    #[arg(long, value_name = "DEV:WEIGHT", value_parser = cgctl::limits::parse_io_weight_device)]
    blkio_weight_device: Vec<cgctl::limits::DeviceRate>,
    /// Read rate limit of a block device (/dev/sda:10M); repeatable
    #[arg(long, value_name = "DEV:RATE", value_parser = cgctl::limits::parse_device_bps)]
    device_read_bps: Vec<cgctl::limits::DeviceRate>,
    /// Write rate limit of a block device (/dev/sda:10M); repeatable
    #[arg(long, value_name = "DEV:RATE", value_parser = cgctl::limits::parse_device_bps)]
    device_write_bps: Vec<cgctl::limits::DeviceRate>,
    /// Read operations per second of a block device (/dev/sda:1000); repeatable
    #[arg(long, value_name = "DEV:N", value_parser = cgctl::limits::parse_device_iops)]
    device_read_iops: Vec<cgctl::limits::DeviceRate>,
    /// Write operations per second of a block device (/dev/sda:1000); repeatable
    #[arg(long, value_name = "DEV:N", value_parser = cgctl::limits::parse_device_iops)]
    device_write_iops: Vec<cgctl::limits::DeviceRate>,
}

impl From<CgroupFlags> for cgctl::limits::Limits {
    fn from(f: CgroupFlags) -> cgctl::limits::Limits {
        cgctl::limits::Limits {
            memory_reservation: f.memory_reservation,
            cpu_shares: f.cpu_shares,
            cpu_quota: f.cpu_quota,
            cpu_period: f.cpu_period,
            cpuset_mems: f.cpuset_mems,
            io_weight: f.blkio_weight,
            io_weight_device: f.blkio_weight_device,
            device_read_bps: f.device_read_bps,
            device_write_bps: f.device_write_bps,
            device_read_iops: f.device_read_iops,
            device_write_iops: f.device_write_iops,
            ..Default::default()
        }
    }
}

impl RunArgs {
    /// The command, for the unknown-option check.
    pub fn command(&self) -> Vec<OsString> {
        self.command.iter().map(OsString::from).collect()
    }

    /// Translate into options.
    pub fn into_options(self) -> RunOptions {
        RunOptions {
            name: self.name,
            detach: self.detach,
            tty: self.tty,
            interactive: self.interactive,
            keep: self.keep,
            upper_on_disk: self.upper_on_disk,
            image: self.image,
            rootfs: self.rootfs,
            memory: self.memory,
            memory_swap: self.memory_swap,
            cpus: self.cpus,
            pids_limit: self.pids_limit,
            cpuset_cpus: self.cpuset_cpus,
            limits: self.cgroup.into(),
            tmpfs: self.tmpfs.into_iter().chain(self.mounts.iter().filter_map(MountArg::tmpfs)).collect(),
            ulimits: self.ulimit,
            sysctls: self.sysctl,
            shm_size: self.shm_size,
            add_hosts: self.add_host,
            dns: self.dns,
            oom_score_adj: self.oom_score_adj,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            labels: self.label,
            restart: self.restart.unwrap_or_default(),
            cgroup_parent: self.cgroup_parent,
            hostname: self.hostname,
            network: self.network,
            env: self.env_file.into_iter().flat_map(|f| f.0).chain(self.env).collect(),
            remove: self.rm,
            entrypoint: self.entrypoint,
            workdir: self.workdir,
            user: self.user,
            group_add: self.group_add,
            volumes: self.volumes.into_iter().chain(self.mounts.iter().filter_map(MountArg::bind)).collect(),
            devices: self.devices,
            read_only: self.read_only,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            privileged: self.privileged,
            keep_id: self.userns.is_some(),
            seccomp: self.security_opt.last().cloned().unwrap_or(Seccomp::Default),
            init: self.init,
            dry_run: self.dry_run,
            cidfile: self.cidfile,
            command: self.command,
        }
    }
}
