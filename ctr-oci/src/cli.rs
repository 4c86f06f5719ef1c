//! ctr-oci's command line: runc's (global flags, then the call), `--flag=v` and
//! `--flag v` alike.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use ctr_oci::log::Format;
use ctr_oci::ops::CreateOptions;

const EXAMPLES: &str = "\
Examples:
  mkdir b && cp -a img/l1 b/rootfs && ctr-oci spec --bundle b     a bundle: a root filesystem and a default config.json
  ctr-oci run --bundle b c1                              create, start, wait, delete: as runc run (its status is ours)
  ctr-oci create --bundle b c2 && ctr-oci state c2       set up, its init waiting at the start gate (status created)
  ctr-oci start c2 && ctr-oci delete --force c2          run it, then take it down
  ctr-oci chain --bundle b c1                            the chain the bundle becomes, as one shell command";

/// An OCI runtime with runc's command line, running bundles on the chain (cgctl,
/// unshare-rs, ovlmount).
#[derive(Debug, Parser)]
#[command(name = "ctr-oci", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The state directory (default /run/ctr-oci; $XDG_RUNTIME_DIR/ctr-oci for a user)
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,
    /// Also write errors to FILE (it exists after every call)
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<PathBuf>,
    /// The format of --log
    #[arg(long, value_name = "FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: Format,
    /// Accepted (cgroupsPath's slice:prefix:name form is mapped to its cgroupfs path)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted (the chain's tools say what they do)
    #[arg(long, global = true)]
    pub debug: bool,
    /// The call
    #[command(subcommand)]
    pub command: Command,
}

// `create`'s and `run`'s flags.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The bundle: the directory with config.json
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's pid to FILE (digits only)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A unix socket to send the terminal's master to (with process.terminal)
    #[arg(long, value_name = "SOCKET")]
    pub console_socket: Option<PathBuf>,
    /// Accepted: the root is always entered with pivot_root (never less)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not give the container a session keyring of its own
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass descriptors 3 to 3+N-1 on to the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container's id
    pub id: String,
}

impl CreateArgs {
    /// The options.
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            new_keyring: !self.no_new_keyring,
        }
    }
}

/// The calls.
#[derive(Debug, Subcommand)]
// (Each subcommand's arguments are built only when it is the one run: building them all
// was most of a start-up's own CPU.)
#[command(defer = true)]
pub enum Command {
    /// Set a container up; its init waits, fully set up, until start
    #[command(
        after_help = "Examples:\n  ctr-oci create --bundle bundle web && ctr-oci state web  (created: its init waits at the start gate)\n  ctr-oci start web && ctr-oci delete --force web"
    )]
    Create(CreateArgs),
    /// Start a created container
    #[command(
        after_help = "Examples:\n  ctr-oci create --bundle bundle web && ctr-oci start web  (the init runs the process)\n  ctr-oci delete --force web"
    )]
    Start {
        /// The container's id
        id: String,
    },
    /// Print a container's state (JSON)
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci state web  (status, pid, bundle, annotations: JSON)\n  ctr-oci delete --force web"
    )]
    State {
        /// The container's id
        id: String,
    },
    /// Send a signal (default TERM) to a container's init, or with --all to every process
    /// of its cgroup
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci kill web KILL  (default TERM)\n  ctr-oci delete web"
    )]
    Kill {
        /// Every process of the container's cgroup
        #[arg(short = 'a', long)]
        all: bool,
        /// The container's id
        id: String,
        /// The signal: a number, KILL or SIGKILL
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Freeze every process of a running container (its cgroup's freezer)
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci pause web && ctr-oci state web  (paused)\n  ctr-oci resume web && ctr-oci delete --force web"
    )]
    Pause {
        /// The container's id
        id: String,
    },
    /// Thaw a paused container
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci pause web && ctr-oci resume web\n  ctr-oci delete --force web"
    )]
    Resume {
        /// The container's id
        id: String,
    },
    /// The processes of a container's cgroup: as a table (ps's, of those pids) or a JSON
    /// array of host pids
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci ps web; ctr-oci ps --format json web\n  ctr-oci delete --force web"
    )]
    Ps {
        /// table or json
        #[arg(short = 'f', long, value_name = "FORMAT", default_value = "table")]
        format: String,
        /// The container's id
        id: String,
        /// Options for ps (table; default -ef)
        #[arg(last = true, value_name = "PS_OPTIONS")]
        ps_options: Vec<String>,
    },
    /// A container's resource usage as runc's JSON events: one with --stats, else one
    /// every interval (and "oom" ones) until it stops
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci events --stats web  (one stats event, as runc)\n  ctr-oci delete --force web"
    )]
    Events {
        /// Print one stats object and exit
        #[arg(long)]
        stats: bool,
        /// Time between two stats objects (5s, 500ms, 1m)
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval)]
        interval: std::time::Duration,
        /// The container's id
        id: String,
    },
    /// Run a process in a running container (its namespaces, cgroup and confinement)
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web\n  ctr-oci exec -e A=1 --cwd /tmp web sh -c 'echo $A; pwd'\n  ctr-oci delete --force web"
    )]
    Exec(ExecArgs),
    /// Change a container's limits: a LinuxResources JSON document (FILE, or - for
    /// stdin), and/or the flags (which win)
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci update --memory 67108864 web\n  ctr-oci delete --force web"
    )]
    Update(UpdateArgs),
    /// Delete a container (a created one's init is killed; --force: a running one too)
    #[command(
        after_help = "Examples:\n  ctr-oci create --bundle bundle web && ctr-oci delete web  (a created one: its init is killed)\n  ctr-oci run -d --bundle bundle web && ctr-oci delete --force web  (a running one)"
    )]
    Delete {
        /// Kill a running container; an unknown id is no error
        #[arg(short = 'f', long)]
        force: bool,
        /// The container's id
        id: String,
    },
    /// Create and start a container, wait for it and delete it (its status is ours)
    #[command(
        after_help = "Examples:\n  mkdir b && cp -a img/l1 b/rootfs && ctr-oci spec --bundle b && ctr-oci run --bundle b c1  (create, start, wait, delete)\n  ctr-oci run -d --bundle bundle web && ctr-oci delete --force web"
    )]
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once it is started
        #[arg(short = 'd', long)]
        detach: bool,
    },
    /// List the containers
    #[command(
        after_help = "Examples:\n  ctr-oci run -d --bundle bundle web && ctr-oci list; ctr-oci list -q; ctr-oci list --format json\n  ctr-oci delete --force web"
    )]
    List {
        /// table or json
        #[arg(short = 'f', long, value_name = "FORMAT", default_value = "table")]
        format: String,
        /// Only the ids
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// What this runtime supports (JSON)
    #[command(after_help = "Examples:\n  ctr-oci features  (what this runtime supports, as JSON: runc's form)")]
    Features,
    /// Write a default config.json into the bundle
    #[command(after_help = "Examples:\n  mkdir b && ctr-oci spec --bundle b  (a default config.json)")]
    Spec {
        /// The bundle
        #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
    },
    /// Print the chain a bundle becomes, as one shell command
    #[command(
        after_help = "Examples:\n  ctr-oci chain --bundle bundle web  (the chain the bundle becomes, as one shell command)"
    )]
    Chain {
        /// The bundle
        #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
        /// The container's id
        #[arg(default_value = "ID")]
        id: String,
    },
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    match chainload::units::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be more than 0".into()),
        Err(e) => Err(e.reason().into()),
    }
}

// `update`'s flags (runc's).
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// LinuxResources JSON: FILE, or - for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes
    #[arg(long, value_name = "BYTES")]
    pub memory: Option<i64>,
    /// Memory plus swap limit in bytes (-1: unlimited)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Soft memory limit in bytes
    #[arg(long, value_name = "BYTES")]
    pub memory_reservation: Option<i64>,
    /// CPU quota per period in microseconds (-1: none)
    #[arg(long, value_name = "USEC", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU period in microseconds
    #[arg(long, value_name = "USEC")]
    pub cpu_period: Option<u64>,
    /// Relative CPU weight (v1 scale)
    #[arg(long, value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on (0-3,5)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of tasks (0 or less: unlimited)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10..1000)
    #[arg(long, value_name = "N")]
    pub blkio_weight: Option<u16>,
    /// The container's id
    pub id: String,
}

impl UpdateArgs {
    /// The resources asked for: the document, with the flags set over it.
    pub fn resources(&self) -> Result<oci_spec::runtime::LinuxResources, ctr_oci::Error> {
        use ctr_oci::Error;
        let mut doc: serde_json::Value = match &self.resources {
            None => serde_json::json!({}),
            Some(p) => {
                let text = if p.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())
                } else {
                    std::fs::read_to_string(p)
                }
                .map_err(|e| Error::Usage(format!("--resources '{}': {e}", p.display())))?;
                serde_json::from_str(&text)
                    .map_err(|e| Error::Usage(format!("--resources '{}': not JSON: {e}", p.display())))?
            }
        };
        let mut set = |section: &str, key: &str, v: Option<serde_json::Value>| {
            if let Some(v) = v {
                doc[section][key] = v;
            }
        };
        set("memory", "limit", self.memory.map(Into::into));
        set("memory", "swap", self.memory_swap.map(Into::into));
        set("memory", "reservation", self.memory_reservation.map(Into::into));
        set("cpu", "quota", self.cpu_quota.map(Into::into));
        set("cpu", "period", self.cpu_period.map(Into::into));
        set("cpu", "shares", self.cpu_shares.map(Into::into));
        set("cpu", "cpus", self.cpuset_cpus.clone().map(Into::into));
        set("cpu", "mems", self.cpuset_mems.clone().map(Into::into));
        set("pids", "limit", self.pids_limit.map(Into::into));
        set("blockIO", "weight", self.blkio_weight.map(Into::into));
        serde_json::from_value(doc).map_err(|e| Error::Usage(format!("--resources: not LinuxResources: {e}")))
    }
}

// `exec`'s flags (runc's).
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The process as OCI JSON (args, env, cwd, user, capabilities, ...)
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once the process runs (its parent: the caller's subreaper)
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to FILE (digits only)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// A terminal for the process (its master goes to --console-socket)
    #[arg(short = 't', long)]
    pub tty: bool,
    /// With a terminal: the unix socket to send its master to
    #[arg(long, value_name = "SOCKET")]
    pub console_socket: Option<PathBuf>,
    /// The working directory inside the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set an environment variable (over the container's); repeatable
    #[arg(short = 'e', long, value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run as UID[:GID]
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Add a capability to the container's; repeatable
    #[arg(short = 'c', long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass descriptors 3 to 3+N-1 on to the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// An AppArmor profile (refused: AppArmor is not supported)
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// The container's id
    pub id: String,
    /// The program and its arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl ExecArgs {
    /// The options.
    pub fn options(&self) -> Result<ctr_oci::exec::ExecOptions, ctr_oci::Error> {
        if self.apparmor.as_deref().is_some_and(|a| !a.is_empty()) {
            return Err(ctr_oci::Error::Usage("--apparmor: AppArmor is not supported".into()));
        }
        Ok(ctr_oci::exec::ExecOptions {
            process: self.process.clone(),
            args: self.command.clone(),
            detach: self.detach,
            pid_file: self.pid_file.clone(),
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            user: self.user.clone(),
            caps: self.cap.clone(),
            no_new_privs: self.no_new_privs,
            preserve_fds: self.preserve_fds,
            tty: self.tty,
            console_socket: self.console_socket.clone(),
        })
    }
}
