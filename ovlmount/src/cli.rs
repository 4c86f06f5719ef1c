//! The command line of ovlmount (clap), translated into library calls' arguments.

use std::ffi::OsString;
use std::path::PathBuf;

use chainload::caps::CapSet;
use chainload::confine::{self, Confinement};
use clap::{Args, Parser, Subcommand};
use ovlmount::accounts::{AccountEntry, AccountFile};
use ovlmount::archive::parse_max_size;
use ovlmount::enter::{Bind, EnterOptions, InitFiles, Propagation, RootfsPropagation};
use ovlmount::stack::{split_lowers, Stack};

const EXAMPLES: &str = "\
Examples:
  ovlmount mount --lower img/l2:img/l1 --upper c/upper --work c/work c/merged
  unshare-rs -fpmuin -- ovlmount enter --lower img/l1 --upper c/upper --work c/work \\
      --target c/merged --proc --dev --sys --mask-defaults -- sh
  ovlmount commit c/upper -o layer.tar --gzip --json
  ovlmount import layer.tar img/l3";

/// Assemble an overlayfs root from layers, enter it with pivot_root, convert layers to
/// and from OCI layer tars.
#[derive(Debug, Parser)]
#[command(name = "ovlmount", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// The layers of a mount.
#[derive(Debug, Args)]
pub struct LayerArgs {
    /// A read-only layer, top first; repeatable or colon-separated (\: for a colon)
    #[arg(long = "lower", value_name = "DIR")]
    lowers: Vec<String>,
    /// Where writes go (created if missing; without it the mount is read-only)
    #[arg(long, value_name = "DIR", requires = "work")]
    upper: Option<PathBuf>,
    /// overlayfs's work directory (created if missing; same filesystem as --upper; empty)
    #[arg(long, value_name = "DIR", requires = "upper")]
    work: Option<PathBuf>,
    /// A layer between the image layers and the upper, for the --init files
    #[arg(long, value_name = "DIR")]
    init_layer: Option<PathBuf>,
    /// An overlayfs mount option (redirect_dir=on, metacopy=off, ...); repeatable
    #[arg(short = 'o', value_name = "OPTION")]
    options: Vec<String>,
}

impl LayerArgs {
    /// The stack these flags describe.
    pub fn stack(self) -> Stack {
        Stack {
            lowers: split_lowers(&self.lowers),
            init_layer: self.init_layer,
            upper: self.upper,
            work: self.work,
            options: self.options,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// (Each subcommand's arguments are built only when it is the one run: building them all
// was most of a start-up's own CPU.)
#[command(defer = true)]
pub enum Command {
    /// Mount a layered overlay on TARGET (in the current mount namespace)
    #[command(group(clap::ArgGroup::new("layers_given").args(["lowers"]).required(true)))]
    #[command(
        after_help = "Examples:\n  ovlmount mount --lower img/l2:img/l1 --upper c/upper --work c/work c/merged  (makes c/merged)\n  ovlmount umount c/merged"
    )]
    Mount {
        #[command(flatten)]
        layers: LayerArgs,
        /// Print the resolved layer stack and options as JSON
        #[arg(long)]
        json: bool,
        /// The mount point (created when missing, like --upper and --work; umount never
        /// removes it)
        target: PathBuf,
    },
    /// Unmount an overlay
    #[command(
        after_help = "Examples:\n  ovlmount mount --lower img/l1 --upper c/upper --work c/work c/merged && ovlmount umount c/merged"
    )]
    Umount {
        /// The mount point (left in place)
        target: PathBuf,
    },
    /// Mount the overlay, build the new root, pivot_root into it, confine and exec CMD
    /// (must run in a mount namespace of its own)
    Enter(Box<EnterArgs>),
    /// Write an upper directory as an OCI layer tar
    #[command(
        after_help = "Examples:\n  mkdir -p c/upper && echo hi > c/upper/greeting && ovlmount commit c/upper -o layer.tar\n  ovlmount commit c/upper -o layer.tar.gz --gzip --json  (digest, diff_id, size)"
    )]
    Commit {
        /// The upper directory
        upper: PathBuf,
        /// The tar to write
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
        /// Compress with gzip
        #[arg(long)]
        gzip: bool,
        /// Print digest, diff_id and size as JSON
        #[arg(long)]
        json: bool,
        /// Show progress on stderr even when it is not a terminal (on a terminal it is shown)
        #[arg(long)]
        progress: bool,
    },
    /// Import an OCI layer tar (plain or gzip) into DIR as an overlay layer
    #[command(
        after_help = "Examples:\n  ovlmount commit img/l2 -o l2.tar && ovlmount import l2.tar img/l3\n  ovlmount import --max-size 1G l2.tar img/l4"
    )]
    Import {
        /// The layer tar
        file: PathBuf,
        /// A new (or empty) directory
        dir: PathBuf,
        /// Refuse a layer larger than SIZE once decompressed (a gzip bomb stops there)
        #[arg(long, value_name = "SIZE", default_value = "64G", value_parser = parse_max_size)]
        max_size: u64,
        /// Show progress on stderr even when it is not a terminal (on a terminal it is shown)
        #[arg(long)]
        progress: bool,
    },
    /// Show what an upper directory changed (A added, C changed, D deleted)
    #[command(
        after_help = "Examples:\n  mkdir -p c/upper/etc && echo changed > c/upper/etc/motd && ovlmount diff c/upper --lower img/l2:img/l1  (A/C/D lines, as docker diff)\n  ovlmount diff c/upper --json"
    )]
    Diff {
        /// The upper directory
        upper: PathBuf,
        /// The lower layers, to tell added from changed; repeatable or colon-separated
        #[arg(long = "lower", value_name = "DIR")]
        lowers: Vec<String>,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
}

fn parse_bind(s: &str) -> Result<Bind, String> {
    s.parse()
}

// `ovlmount enter`'s flags.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("root_given").args(["lowers", "rootfs"]).required(true)))]
#[command(
    after_help = "Examples:\n  unshare-rs -fpmuin -- ovlmount enter --lower img/l1 --upper c/upper --work c/work --target c/merged --proc --dev --sys --mask-defaults -- sh -c 'hostname; ls /'\n  unshare-rs -fpmu -- ovlmount enter --lower img/l1 --upper c/upper --work c/work --target c/merged --proc --dev --init hosts --init host=db:10.0.0.5 --workdir /srv --rlimit nofile=256 -- sh -c 'pwd; ulimit -n; grep db /etc/hosts'"
)]
pub struct EnterArgs {
    #[command(flatten)]
    layers: LayerArgs,
    /// Where the overlay is mounted; it becomes /
    #[arg(long, value_name = "DIR", required_unless_present = "rootfs")]
    target: Option<PathBuf>,
    /// Use DIR itself as the root, with no overlay (an OCI bundle's rootfs, mounted by
    /// its caller); excludes the layer flags
    #[arg(long, value_name = "DIR", conflicts_with_all = ["lowers", "upper", "init_layer", "target"])]
    rootfs: Option<PathBuf>,
    /// Writes go to a tmpfs of this mount namespace (mounted on the target, under the
    /// overlay): they cost the disk nothing and vanish with the namespace; they count
    /// against the memory limit of the writer's cgroup. In place of --upper and --work
    #[arg(long, conflicts_with_all = ["upper", "work", "init_layer", "rootfs"])]
    upper_tmpfs: bool,
    /// Mount a new proc on /proc
    #[arg(long)]
    proc: bool,
    /// A minimal /dev (null, zero, full, random, urandom, tty, pts, shm, mqueue, links)
    #[arg(long)]
    dev: bool,
    /// With --dev: the size of /dev/shm (default 64M, as docker's)
    #[arg(long, value_name = "SIZE", requires = "dev", value_parser = parse_shm_size)]
    shm_size: Option<u64>,
    /// Mount /sys read-only
    #[arg(long)]
    sys: bool,
    /// Mount the cgroup filesystems on /sys/fs/cgroup, read-only (new mounts: in a cgroup
    /// namespace of the container's own they show its groups, outside one the host's
    /// whole tree; needs --sys)
    #[arg(long, requires = "sys")]
    cgroupfs: bool,
    /// A fresh tmpfs on DIR inside the new root (default mode 1777, nosuid, nodev);
    /// OPTIONS: size=, nr_inodes=, mode=, uid=, gid=, ro, [no]exec, [no]suid, [no]dev,
    /// noatime, relatime, strictatime, tmpcopyup (copy what DIR holds); repeatable
    #[arg(long, value_name = "DIR[:OPTIONS]")]
    tmpfs: Vec<ovlmount::tmpfs::Tmpfs>,
    /// Mask what runc masks (/proc/kcore, /proc/keys, /sys/firmware, ...) and make
    /// /proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus, /proc/fs read-only
    #[arg(long)]
    mask_defaults: bool,
    /// Make the new root read-only
    #[arg(long)]
    readonly: bool,
    /// Mask PATH inside the root (/dev/null on a file, an empty read-only tmpfs on a
    /// directory; a missing PATH is left alone); repeatable
    #[arg(long, value_name = "PATH")]
    mask: Vec<String>,
    /// Make PATH inside the root read-only, with its submounts; repeatable
    #[arg(long, value_name = "PATH")]
    read_only_path: Vec<String>,
    /// Bind a host path into the new root (SRC:DST or SRC:DST:OPTIONS, OPTIONS ro, rw,
    /// nosuid, nodev, noexec, and one of rprivate, rslave, rshared, unbindable,
    /// runbindable); repeatable
    #[arg(long, value_name = "SRC:DST[:ro]", value_parser = parse_bind)]
    bind: Vec<Bind>,
    /// Make the host's device node HOST appear at DST in the new root (same type,
    /// number and mode; whether it may be opened is the cgroup's device list); repeatable
    #[arg(long, value_name = "HOST:DST", value_parser = parse_device)]
    device: Vec<(PathBuf, PathBuf)>,
    /// Make a device node by number at DST in the new root (TYPE c, b, u or p; MODE
    /// octal, default 0666; as an OCI runtime's linux.devices); repeatable
    #[arg(long, value_name = "DST:TYPE:MAJ:MIN[:MODE[:UID:GID]]")]
    device_node: Vec<ovlmount::rootfs::DeviceNode>,
    /// Write hostname=NAME, hosts (localhost and the hostname), hosts=FILE or
    /// resolv=FILE into the init layer (without --init-layer: one in memory); host=NAME:IP
    /// adds a line to /etc/hosts, dns=IP a name server to /etc/resolv.conf (in place of
    /// the file's); repeatable
    #[arg(long = "init", value_name = "KEY[=VALUE]")]
    init: Vec<String>,
    /// Add LINE (NAME:PASSWORD:UID:GID:GECOS:HOME:SHELL) to the new root's /etc/passwd
    /// unless an entry has its uid (podman's keep-id user); written through the overlay,
    /// before the volumes are mounted; repeatable
    #[arg(long, value_name = "LINE", value_parser = |l: &str| AccountEntry::parse(AccountFile::Passwd, l))]
    passwd_entry: Vec<AccountEntry>,
    /// Add LINE (NAME:PASSWORD:GID:MEMBERS) to the new root's /etc/group unless an entry
    /// has its gid; repeatable
    #[arg(long, value_name = "LINE", value_parser = |l: &str| AccountEntry::parse(AccountFile::Group, l))]
    group_entry: Vec<AccountEntry>,
    /// Set a kernel parameter of the container's own IPC, network or UTS namespace
    /// (refused for any other, and where that namespace is the host's); repeatable
    #[arg(long, value_name = "KEY=VALUE", value_parser = ovlmount::sysctl::Sysctl::parse)]
    sysctl: Vec<ovlmount::sysctl::Sysctl>,
    /// The working directory inside (default /; made when missing, as docker does)
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Run as USER[:GROUP] (names from the new root's /etc/passwd and /etc/group)
    #[arg(long, value_name = "USER[:GROUP]")]
    user: Option<String>,
    /// With --user: exactly these supplementary groups (comma-separated gids; default:
    /// the user's groups in the new root's /etc/group)
    #[arg(long, value_name = "GID,...", value_parser = parse_gids, requires = "user")]
    groups: Option<Gids>,
    /// Also this supplementary group (a name in the new root's /etc/group, or a gid), on
    /// top of the user's (docker's --group-add); repeatable
    #[arg(long, value_name = "GROUP")]
    group_add: Vec<String>,
    /// Keep descriptors 3 to 3+N-1 open for the program (every other one is closed)
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// Wait, fully set up but for the seccomp filter, until FILE (a FIFO) is opened for
    /// reading, then run the program (an OCI runtime's create and start)
    #[arg(long, value_name = "FILE")]
    start_fifo: Option<PathBuf>,
    /// At the start gate, descriptor N becomes the program's stderr (until then the
    /// chain's errors go to fd 2)
    #[arg(long, value_name = "N", requires = "start_fifo")]
    stderr_fd: Option<i32>,
    /// Once everything is mounted, before pivot_root: write one byte to descriptor N
    /// and wait for one back (an OCI runtime runs its createRuntime and
    /// createContainer hooks there); anything but 'g', or its end, stops the container
    #[arg(long, value_name = "N")]
    hook_gate: Option<i32>,
    /// private (the default: nothing the host mounts later shows inside), slave (the
    /// host's later mounts reach the binds marked rslave), or shared (also: the binds
    /// marked rshared are peers of the host's shared mounts, mounts below them made on
    /// either side appear on the other; run after `unshare-rs --propagation unchanged`)
    #[arg(long, value_name = "MODE", default_value = "private", value_parser = ["private", "slave", "shared"])]
    propagation: String,
    /// The new root's own: private (the default); slave (with --rootfs and
    /// --propagation slave or shared: the root follows the host's mount of DIR); shared
    /// or unbindable (once entered, / and every mount below it)
    #[arg(long, value_name = "MODE", default_value = "private",
          value_parser = ["private", "slave", "shared", "unbindable"])]
    rootfs_propagation: String,
    /// Give the program a terminal: a pty of the new root's devpts (needs --dev) as its
    /// controlling terminal and stdio, the master sent over the unix socket PATH (an
    /// OCI runtime's console socket)
    #[arg(long, value_name = "PATH")]
    console_socket: Option<PathBuf>,
    /// Keep this capability (repeatable; base: docker's default set)
    #[arg(long, value_name = "CAP")]
    cap_add: Vec<String>,
    /// Drop this capability, or ALL (repeatable)
    #[arg(long, value_name = "CAP")]
    cap_drop: Vec<String>,
    /// Keep every capability the process has (no bounding set change)
    #[arg(long, conflicts_with_all = ["cap_add", "cap_drop"])]
    all_caps: bool,
    /// For a --user other than root: keep CAP through the exec (ambient; it must be
    /// kept by the flags above); repeatable
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
    /// System call filter, installed last: default (docker's default profile, opened
    /// further by the capabilities kept), unconfined (the default), or FILE (a profile
    /// in docker's JSON format)
    #[arg(long, value_name = "default|unconfined|FILE", value_parser = confine::parse_seccomp)]
    seccomp: Option<confine::SeccompChoice>,
    /// The program and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// `--groups`: a comma-separated list of gids, empty for none.
#[derive(Debug, Clone)]
struct Gids(Vec<u32>);

fn parse_gids(s: &str) -> Result<Gids, String> {
    s.split(',')
        .filter(|g| !g.is_empty())
        .map(|g| g.parse::<u32>().map_err(|_| format!("'{g}' is not a gid")))
        .collect::<Result<_, _>>()
        .map(Gids)
}

fn parse_shm_size(s: &str) -> Result<u64, String> {
    match chainload::units::parse_size(s) {
        Ok(0) => Err("the size of /dev/shm must be more than 0".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.reason().to_string()),
    }
}

fn parse_device(s: &str) -> Result<(PathBuf, PathBuf), String> {
    match s.split_once(':') {
        Some((h, d)) if h.starts_with('/') && d.starts_with('/') => Ok((PathBuf::from(h), PathBuf::from(d))),
        _ => Err(format!("expected HOST:DST with absolute paths, got '{s}'")),
    }
}

impl EnterArgs {
    /// Translate into options.
    pub fn into_options(self) -> Result<EnterOptions, String> {
        let mut init = InitFiles::default();
        for spec in &self.init {
            init.add(spec)?;
        }
        let caps = if self.all_caps {
            None
        } else {
            Some(
                confine::caps_from_flags(CapSet::docker_default(), &self.cap_add, &self.cap_drop)
                    .map_err(|e| e.to_string())?,
            )
        };
        Ok(EnterOptions {
            stack: self.layers.stack(),
            target: self.target.clone().or_else(|| self.rootfs.clone()).unwrap_or_default(),
            rootfs: self.rootfs,
            upper_tmpfs: self.upper_tmpfs,
            masked: self.mask,
            read_only_paths: self.read_only_path,
            groups: self.groups.map(|g| g.0),
            group_add: self.group_add,
            start_fifo: self.start_fifo,
            stderr_fd: self.stderr_fd,
            hook_gate: self.hook_gate,
            propagation: match self.propagation.as_str() {
                "slave" => Propagation::Slave,
                "shared" => Propagation::Shared,
                _ => Propagation::Private,
            },
            rootfs_propagation: match self.rootfs_propagation.as_str() {
                "slave" => RootfsPropagation::Slave,
                "shared" => RootfsPropagation::Shared,
                "unbindable" => RootfsPropagation::Unbindable,
                _ => RootfsPropagation::Private,
            },
            console_socket: self.console_socket,
            proc: self.proc,
            dev: self.dev,
            shm_size: self.shm_size,
            sys: self.sys,
            cgroupfs: self.cgroupfs,
            tmpfs: self.tmpfs,
            mask_defaults: self.mask_defaults,
            readonly: self.readonly,
            binds: self.bind,
            devices: self.device,
            device_nodes: self.device_node,
            init,
            accounts: self.passwd_entry.into_iter().chain(self.group_entry).collect(),
            sysctls: self.sysctl,
            workdir: self.workdir,
            user: self.user,
            confinement: Confinement {
                caps,
                no_new_privs: self.no_new_privs,
                close_fds: true,
                user: None,
                seccomp: self.seccomp.and_then(|c| c.0),
                preserve_fds: self.preserve_fds,
                gate: None,
                ambient: confine::cap_set(&self.ambient_cap).map_err(|e| e.to_string())?,
                rlimits: self.rlimit,
                oom_score_adj: self.oom_score_adj,
            },
            command: self.command,
        })
    }
}
