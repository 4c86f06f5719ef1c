//! The eight namespace types: their clone(2) flags and their files under `/proc/PID/ns`.

use std::path::PathBuf;

use nix::sched::CloneFlags;

/// A namespace type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// Mount points (`CLONE_NEWNS`).
    Mount,
    /// Hostname and NIS domain name (`CLONE_NEWUTS`).
    Uts,
    /// System V IPC and POSIX message queues (`CLONE_NEWIPC`).
    Ipc,
    /// Network devices, stacks, ports (`CLONE_NEWNET`).
    Net,
    /// Process ids (`CLONE_NEWPID`).
    Pid,
    /// User and group ids (`CLONE_NEWUSER`).
    User,
    /// Cgroup root directory (`CLONE_NEWCGROUP`).
    Cgroup,
    /// Boot and monotonic clocks (`CLONE_NEWTIME`).
    Time,
}

impl Namespace {
    /// Every type, in the order util-linux binds persisted namespaces
    /// (user first, mount second to last).
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Uts,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Mount,
        Namespace::Time,
    ];

    /// The clone(2)/unshare(2)/setns(2) flag.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        }
    }

    /// The file in `/proc/PID/ns/` naming the namespace the process is in (`mnt`, `net`, ...).
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    /// The file in `/proc/PID/ns/` that names the namespace created by unshare(2): the same
    /// as [`proc_name`](Self::proc_name), except pid and time, whose unshare affects only
    /// children (`pid_for_children`, `time_for_children`).
    pub fn created_name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid_for_children",
            Namespace::Time => "time_for_children",
            other => other.proc_name(),
        }
    }

    /// The long option name util-linux uses (`mount`, `uts`, `ipc`, `net`, `pid`, `user`,
    /// `cgroup`, `time`).
    pub fn long_name(self) -> &'static str {
        match self {
            Namespace::Mount => "mount",
            other => other.proc_name(),
        }
    }

    /// The type whose `proc_name` or `long_name` is `name`.
    pub fn from_name(name: &str) -> Option<Namespace> {
        Namespace::ALL.into_iter().find(|n| n.proc_name() == name || n.long_name() == name)
    }
}

/// The union of the clone flags of `namespaces`.
pub fn clone_flags(namespaces: impl IntoIterator<Item = Namespace>) -> CloneFlags {
    namespaces.into_iter().fold(CloneFlags::empty(), |acc, n| acc | n.clone_flag())
}

/// The eight namespace flags, each with an optional `=FILE`, as unshare-rs (persist the
/// new namespace on FILE) and nsenter-rs (enter the namespace of FILE rather than the
/// target's) both take them; each tool names what FILE means in its help heading.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NamespaceFlags {
    /// The mount namespace
    #[arg(short = 'm', long = "mount", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub mount: Option<Option<PathBuf>>,
    /// The UTS namespace (hostname, domain name)
    #[arg(short = 'u', long = "uts", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub uts: Option<Option<PathBuf>>,
    /// The System V IPC namespace
    #[arg(short = 'i', long = "ipc", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub ipc: Option<Option<PathBuf>>,
    /// The network namespace
    #[arg(short = 'n', long = "net", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub net: Option<Option<PathBuf>>,
    /// The PID namespace
    #[arg(short = 'p', long = "pid", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub pid: Option<Option<PathBuf>>,
    /// The user namespace
    #[arg(short = 'U', long = "user", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub user: Option<Option<PathBuf>>,
    /// The cgroup namespace
    #[arg(short = 'C', long = "cgroup", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub cgroup: Option<Option<PathBuf>>,
    /// The time namespace
    #[arg(short = 'T', long = "time", value_name = "FILE", num_args = 0..=1, require_equals = true)]
    pub time: Option<Option<PathBuf>>,
}

impl NamespaceFlags {
    /// The namespaces given, each with its FILE if one was given.
    pub fn given(self) -> Vec<(Namespace, Option<PathBuf>)> {
        [
            (Namespace::Mount, self.mount),
            (Namespace::Uts, self.uts),
            (Namespace::Ipc, self.ipc),
            (Namespace::Net, self.net),
            (Namespace::Pid, self.pid),
            (Namespace::User, self.user),
            (Namespace::Cgroup, self.cgroup),
            (Namespace::Time, self.time),
        ]
        .into_iter()
        .filter_map(|(ns, flag)| flag.map(|file| (ns, file)))
        .collect()
    }
}
