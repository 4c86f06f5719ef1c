//! The command line of unshare-rs (clap), and its translation into [`unshare_rs::Options`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use nix::sys::signal::Signal;
use unshare_rs::idmap::{self, MapSpec};
use unshare_rs::mounts::Propagation;
use unshare_rs::namespaces::{Namespace, NamespaceFlags};
use unshare_rs::{Options, SetGroups};

const EXAMPLES: &str = "\
Examples:
  unshare-rs -fp --mount-proc ps -ef          a shell-less PID namespace: ps sees only itself
  unshare-rs -u --hostname box -- hostname    a new UTS namespace named box
  unshare-rs -U -r -- id -u                   uid 0 in a new user namespace (works unprivileged)
  touch /tmp/net && unshare-rs --net=/tmp/net true && nsenter --net=/tmp/net ip link
  unshare-rs -fpmunic --kill-child --pid-file /run/c.pid -- sleep 100";

fn parse_signal(s: &str) -> Result<Signal, String> {
    chainload::signals::parse_signal(s).map_err(|e| e.to_string())
}

fn parse_map(s: &str) -> Result<MapSpec, String> {
    idmap::parse_spec(s).map_err(|e| e.to_string())
}

fn parse_propagation(s: &str) -> Result<Propagation, String> {
    Propagation::parse(s)
        .ok_or_else(|| format!("unsupported propagation mode: {s} (private, shared, slave or unchanged)"))
}

fn parse_setgroups(s: &str) -> Result<SetGroups, String> {
    match s {
        "allow" => Ok(SetGroups::Allow),
        "deny" => Ok(SetGroups::Deny),
        _ => Err(format!("unsupported --setgroups argument '{s}' (allow or deny)")),
    }
}

fn parse_user(s: &str) -> Result<u32, String> {
    chainload::ids::user_id(s, std::path::Path::new("/etc/passwd")).map_err(|e| e.to_string())
}

fn parse_group(s: &str) -> Result<u32, String> {
    chainload::ids::group_id(s, std::path::Path::new("/etc/group")).map_err(|e| e.to_string())
}

/// Run a program with some namespaces unshared from the parent.
///
/// Options and their meaning are util-linux unshare(1)'s. A namespace option given
/// `=FILE` persists the namespace by bind-mounting it onto FILE (which must exist).
#[derive(Debug, Parser)]
#[command(name = "unshare-rs", version, args_override_self = true, after_help = EXAMPLES)]
pub struct Cli {
    /// Run the program with an empty environment
    #[arg(long)]
    clear_env: bool,
    /// Run the program with only these variables of the environment (comma-separated;
    /// repeatable)
    #[arg(long, value_name = "LIST")]
    whitelist_env: Vec<String>,
    /// Fork before running the program (the child runs it; unshare-rs waits)
    #[arg(short = 'f', long)]
    fork: bool,
    /// When unshare-rs dies, kill the forked child with SIGNAL (default SIGKILL; implies --fork)
    #[arg(long, value_name = "SIGNAL", num_args = 0..=1, require_equals = true, default_missing_value = "KILL", value_parser = parse_signal)]
    kill_child: Option<Signal>,
    /// Forward SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the child (implies --fork)
    #[arg(long)]
    forward_signals: bool,
    /// Exit once the forked child is set up (pid file written), without waiting for it:
    /// the child is reparented to the nearest subreaper or to PID 1 (implies --fork)
    #[arg(long)]
    detach: bool,
    /// Mount proc on DIR (default /proc) after --root/--wd (implies --mount)
    #[arg(long, value_name = "DIR", num_args = 0..=1, require_equals = true, default_missing_value = "/proc")]
    mount_proc: Option<PathBuf>,
    /// Propagation of / in the new mount namespace: private, shared, slave or unchanged
    #[arg(long, value_name = "MODE", value_parser = parse_propagation, default_value = "private")]
    propagation: Propagation,
    /// Run the program with its root directory set to DIR
    #[arg(short = 'R', long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Change the working directory to DIR
    #[arg(short = 'w', long, value_name = "DIR")]
    wd: Option<PathBuf>,

    /// Map the current user to root (implies --user and --setgroups=deny)
    #[arg(short = 'r', long)]
    map_root_user: bool,
    /// Map the current user and group to themselves (implies --user)
    #[arg(short = 'c', long)]
    map_current_user: bool,
    /// Map the current user to UID or NAME (implies --user)
    #[arg(long, value_name = "UID|NAME", value_parser = parse_user)]
    map_user: Option<u32>,
    /// Map the current group to GID or NAME (implies --user and --setgroups=deny)
    #[arg(long, value_name = "GID|NAME", value_parser = parse_group)]
    map_group: Option<u32>,
    /// Map users: INNER:OUTER:COUNT, OUTER,INNER,COUNT, auto, subids or all (repeatable; implies --user)
    #[arg(long, value_name = "MAP", value_parser = parse_map, action = clap::ArgAction::Append)]
    map_users: Vec<MapSpec>,
    /// Map groups: INNER:OUTER:COUNT, OUTER,INNER,COUNT, auto, subids or all (repeatable; implies --user)
    #[arg(long, value_name = "MAP", value_parser = parse_map, action = clap::ArgAction::Append)]
    map_groups: Vec<MapSpec>,
    /// Map users and groups from the first ranges of /etc/subuid and /etc/subgid (implies --user)
    #[arg(long)]
    map_auto: bool,
    /// Allow or deny setgroups(2) in the new user namespace
    #[arg(long, value_name = "allow|deny", value_parser = parse_setgroups)]
    setgroups: Option<SetGroups>,
    /// Keep the capabilities granted in the user namespace for the program (ambient set)
    #[arg(long)]
    keep_caps: bool,
    /// Set the user id in the new namespaces
    #[arg(short = 'S', long, value_name = "UID")]
    setuid: Option<u32>,
    /// Set the group id in the new namespaces (and drop supplementary groups)
    #[arg(short = 'G', long, value_name = "GID")]
    setgid: Option<u32>,
    /// Offset of CLOCK_MONOTONIC in the new time namespace, in seconds (needs -T)
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    monotonic: Option<i64>,
    /// Offset of CLOCK_BOOTTIME in the new time namespace, in seconds (needs -T)
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    boottime: Option<i64>,

    /// Set the hostname in the new UTS namespace (needs -u)
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Bring the loopback interface up in the new network namespace (needs -n)
    #[arg(long)]
    loopback: bool,
    /// Write the host pid of the forked child to FILE before it execs (needs --fork)
    #[arg(long, value_name = "FILE")]
    pid_file: Option<PathBuf>,

    // (Last but the program: the heading holds for the flags that follow it.)
    #[command(
        flatten,
        next_help_heading = "Namespaces to unshare (=FILE: persist it by a bind mount on FILE; -p needs --fork)"
    )]
    namespaces: NamespaceFlags,
    /// The program to run (default: $SHELL, else /bin/sh) and its arguments
    #[arg(value_name = "PROGRAM", trailing_var_arg = true, allow_hyphen_values = true, help_heading = "Arguments")]
    command: Vec<OsString>,
}

impl Cli {
    /// The program and its arguments.
    pub fn command(&self) -> &[OsString] {
        &self.command
    }

    /// Translate the flags into options, applying util-linux's implications.
    pub fn into_options(self) -> Options {
        let mut o = Options::default();
        let add = |o: &mut Options, ns: Namespace| {
            if !o.namespaces.contains(&ns) {
                o.namespaces.push(ns);
            }
        };
        for (ns, file) in self.namespaces.clone().given() {
            add(&mut o, ns);
            if let Some(path) = file {
                o.persist.retain(|(n, _)| *n != ns);
                o.persist.push((ns, path));
            }
        }
        // Bind in util-linux's order (user first, mount near the end).
        o.persist.sort_by_key(|(ns, _)| Namespace::ALL.iter().position(|n| n == ns));
        let (euid, egid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        if self.map_root_user {
            o.map_user = Some(0);
            o.map_group = Some(0);
        }
        if self.map_current_user {
            o.map_user = Some(euid);
            o.map_group = Some(egid);
        }
        if let Some(u) = self.map_user {
            o.map_user = Some(u);
        }
        if let Some(g) = self.map_group {
            o.map_group = Some(g);
        }
        o.map_users = self.map_users;
        o.map_groups = self.map_groups;
        if self.map_auto {
            o.map_users.push(MapSpec::Auto);
            o.map_groups.push(MapSpec::Auto);
        }
        if o.map_user.is_some() || o.map_group.is_some() || !o.map_users.is_empty() || !o.map_groups.is_empty() {
            add(&mut o, Namespace::User);
        }
        if self.mount_proc.is_some() {
            add(&mut o, Namespace::Mount);
        }
        o.fork = self.fork || self.kill_child.is_some() || self.forward_signals || self.detach;
        o.detach = self.detach;
        o.kill_child = self.kill_child;
        o.forward_signals = self.forward_signals;
        o.mount_proc = self.mount_proc;
        o.propagation = self.propagation;
        o.root = self.root;
        o.wd = self.wd;
        o.setgroups = self.setgroups;
        o.keep_caps = self.keep_caps;
        o.setuid = self.setuid;
        o.setgid = self.setgid;
        o.monotonic = self.monotonic;
        o.boottime = self.boottime;
        o.hostname = self.hostname;
        o.pid_file = self.pid_file;
        o.loopback = self.loopback;
        o.command = self.command;
        // (Taken now, as util-linux takes them when it parses the option.)
        if self.clear_env || !self.whitelist_env.is_empty() {
            o.environment = Some(chainload::environment::kept(&self.whitelist_env));
        }
        o
    }
}
