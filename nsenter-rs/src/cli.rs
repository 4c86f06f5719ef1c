//! The command line of nsenter-rs (clap), translated into [`nsenter_rs::Options`].

use std::ffi::OsString;
use std::path::PathBuf;

use chainload::caps::CapSet;
use chainload::confine::{self, Confinement};
use clap::Parser;
use nsenter_rs::{DirSpec, IdSpec, Options};
use unshare_rs::namespaces::NamespaceFlags;

const EXAMPLES: &str = "\
Examples:
  nsenter-rs -t 1234 -a ps -e                 everything of process 1234: its ps
  touch /tmp/net && unshare-rs --net=/tmp/net true && nsenter-rs --net=/tmp/net ip link   (persisted, then joined)
  nsenter-rs -t 1234 -a -r -w -e -c sh        a shell exactly where a container runs
  nsenter-rs -t 1234 -a --cap-drop ALL --no-new-privs --close-fds -- id";

fn parse_id(s: &str) -> Result<IdSpec, String> {
    if s == "follow" {
        return Ok(IdSpec::Follow);
    }
    s.parse().map(IdSpec::Id).map_err(|_| format!("expected a number or 'follow', got '{s}'"))
}

/// Run a program with namespaces of other processes.
///
/// Options and their meaning are util-linux nsenter(1)'s. A namespace option given
/// `=FILE` joins the namespace that FILE names (e.g. one persisted by unshare-rs).
#[derive(Debug, Parser)]
#[command(name = "nsenter-rs", version, args_override_self = true, after_help = EXAMPLES)]
pub struct Cli {
    /// Target process to get namespaces from
    #[arg(short = 't', long, value_name = "PID")]
    target: Option<i32>,
    /// Enter all namespaces of the target
    #[arg(short = 'a', long)]
    all: bool,
    /// Supplementary groups to run with after -S/-G (comma-separated gids; default none,
    /// as util-linux)
    #[arg(long, value_name = "GID,...", value_delimiter = ',')]
    groups: Vec<u32>,
    /// Enter the network namespace of the target's socket FD (needs --target)
    #[arg(short = 'N', long = "net-socket", value_name = "FD")]
    net_socket: Option<i32>,
    /// Set the uid in the entered namespaces (follow: the target's owner)
    #[arg(short = 'S', long, value_name = "UID|follow", value_parser = parse_id)]
    setuid: Option<IdSpec>,
    /// Set the gid in the entered namespaces (follow: the target's group)
    #[arg(short = 'G', long, value_name = "GID|follow", value_parser = parse_id)]
    setgid: Option<IdSpec>,
    /// Do not touch uids or gids (not even in a user namespace)
    #[arg(long)]
    preserve_credentials: bool,
    /// Keep the capabilities granted in the user namespace (ambient set)
    #[arg(long)]
    keep_caps: bool,
    /// Set the root directory (default: the target's)
    #[arg(short = 'r', long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    root: Option<Option<PathBuf>>,
    /// Set the working directory (default: the target's)
    #[arg(short = 'w', long, value_name = "DIR", num_args = 0..=1, require_equals = true)]
    wd: Option<Option<PathBuf>>,
    /// Set the working directory, resolved inside the namespaces
    #[arg(short = 'W', long, value_name = "DIR")]
    wdns: Option<PathBuf>,
    /// Take the environment of the target
    #[arg(short = 'e', long)]
    env: bool,
    /// Do not fork before exec (the program is then not inside a joined PID namespace)
    #[arg(short = 'F', long)]
    no_fork: bool,
    /// Join the target's cgroups (every hierarchy: v1, hybrid and v2)
    #[arg(short = 'c', long)]
    join_cgroup: bool,
    /// Keep this capability (repeatable; base: docker's default set)
    #[arg(long, value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop this capability, or ALL (repeatable)
    #[arg(long, value_name = "CAP")]
    cap_drop: Vec<String>,
    /// With -S other than root: keep CAP through the exec (ambient; it must be kept by
    /// the flags above); repeatable
    #[arg(long, value_name = "CAP")]
    ambient_cap: Vec<String>,
    /// Set no_new_privs (setuid binaries gain nothing)
    #[arg(long)]
    no_new_privs: bool,
    /// A resource limit of the program (nofile=1024:2048; docker's --ulimit names and
    /// form, unlimited for none); repeatable
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = chainload::rlimit::Rlimit::parse)]
    rlimit: Vec<chainload::rlimit::Rlimit>,
    /// The program's OOM score adjustment (-1000 to 1000)
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = chainload::rlimit::parse_oom_score_adj)]
    oom_score_adj: Option<i32>,
    /// Close every inherited file descriptor above 2
    #[arg(long)]
    close_fds: bool,
    /// With --close-fds, keep descriptors 3 to 3+N-1 open for the program
    #[arg(long, value_name = "N", default_value_t = 0, requires = "close_fds")]
    preserve_fds: u32,
    /// Fork, and exit once the program's process is set up and its pid file written (its
    /// parent becomes the caller's subreaper)
    #[arg(long)]
    detach: bool,
    /// Write the forked program's pid to FILE (digits only)
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,
    /// Give the program a terminal: a pty of the entered root's devpts as its stdio and
    /// controlling terminal, its master sent to the unix socket PATH (as an OCI
    /// runtime's exec does)
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// System call filter, installed last: default (docker's default profile, opened
    /// further by the capabilities kept), unconfined (the default), or FILE (a profile
    /// in docker's JSON format)
    #[arg(long, value_name = "default|unconfined|FILE", value_parser = confine::parse_seccomp)]
    seccomp: Option<confine::SeccompChoice>,
    // (Last but the program: the heading holds for the flags that follow it.)
    #[command(
        flatten,
        next_help_heading = "Namespaces to enter (the target's, or =FILE's: a /proc/PID/ns file or a bind mount of one)"
    )]
    namespaces: NamespaceFlags,
    /// The program (default: $SHELL, else /bin/sh) and its arguments
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, help_heading = "Arguments")]
    command: Vec<OsString>,
}

impl Cli {
    /// The program and its arguments.
    pub fn command(&self) -> &[OsString] {
        &self.command
    }

    /// Translate into options.
    pub fn into_options(self) -> Result<Options, confine::ConfineError> {
        let namespaces = self.namespaces.clone().given();
        let dir = |d: Option<Option<PathBuf>>| d.map(|p| p.map(DirSpec::Path).unwrap_or(DirSpec::Target));
        let confines = !self.cap_add.is_empty()
            || !self.cap_drop.is_empty()
            || !self.ambient_cap.is_empty()
            || self.no_new_privs
            || self.close_fds
            || !self.rlimit.is_empty()
            || self.oom_score_adj.is_some()
            || self.seccomp.as_ref().and_then(|c| c.0.as_ref()).is_some();
        let confinement = if confines {
            let caps = if self.cap_add.is_empty() && self.cap_drop.is_empty() {
                None
            } else {
                Some(confine::caps_from_flags(CapSet::docker_default(), &self.cap_add, &self.cap_drop)?)
            };
            Some(Confinement {
                caps,
                no_new_privs: self.no_new_privs,
                close_fds: self.close_fds,
                user: None,
                seccomp: self.seccomp.and_then(|c| c.0),
                preserve_fds: self.preserve_fds,
                ambient: confine::cap_set(&self.ambient_cap)?,
                rlimits: self.rlimit,
                oom_score_adj: self.oom_score_adj,
                ..Confinement::default()
            })
        } else {
            None
        };
        Ok(Options {
            target: self.target,
            all: self.all,
            namespaces,
            setuid: self.setuid,
            setgid: self.setgid,
            preserve_credentials: self.preserve_credentials,
            keep_caps: self.keep_caps,
            root: dir(self.root),
            wd: dir(self.wd),
            wdns: self.wdns,
            env: self.env,
            no_fork: self.no_fork,
            join_cgroup: self.join_cgroup,
            net_socket: self.net_socket,
            groups: self.groups,
            confinement,
            detach: self.detach,
            pid_file: self.pid_file,
            console_socket: self.console_socket,
            command: self.command,
        })
    }
}
