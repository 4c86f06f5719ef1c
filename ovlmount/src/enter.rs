//! `ovlmount enter`: the end of a container's chain. Builds the new root on an overlay
//! and enters it with pivot_root, then confines and execs.
//!
//! In order: refuse the initial mount namespace; `--sysctl` (each refused in a
//! namespace the host shares); clone the `rshared` volumes (`--propagation shared`);
//! make `/` recursively private (or a slave); write the `--init` files
//! into the init layer; mount the overlay; add the `--passwd-entry` and
//! `--group-entry` lines; `--proc`, `--dev`, `--sys`, `--cgroupfs`,
//! `--tmpfs`; `--bind` volumes; `--device` nodes; `--mask-defaults`, `--mask`,
//! `--read-only-path`; connect the `--console-socket`; pivot_root and detach the old
//! root; `--rootfs-propagation shared|unbindable`; the terminal (a pty of the new
//! root's devpts); `--readonly`; close every inherited descriptor above 2;
//! `--workdir`, resolved inside the new root; HOME, where the environment has none
//! (the user's home in the new root's passwd, as runc sets it); the confinement
//! (bounding set, user, capabilities, no_new_privs); the start gate; exec.
//!
//! The init files are written before the overlay is mounted, not after: overlayfs
//! leaves changes to a layer that is part of a mounted overlay undefined. Without
//! `--init-layer` they go to a layer in memory: a small tmpfs mounted on the target
//! itself, under the overlay, which lives and dies with this mount namespace (and
//! costs the disk nothing). `--upper-tmpfs` puts the upper and work directories in
//! that tmpfs too: then nothing of the container's is on disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

use chainload::confine::{Confinement, Credentials, StartGate};
use chainload::error::{sys, FromIo};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::rootfs;
use crate::stack::Stack;
use crate::{overlay, Error};

/// `--bind SRC:DST[:OPTIONS]`: OPTIONS a comma-separated list of `ro`, `rw`, `nosuid`,
/// `nodev`, `noexec` (each applied to the bound tree with all its submounts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path.
    pub src: PathBuf,
    /// Path inside the container.
    pub dst: PathBuf,
    /// Read-only.
    pub read_only: bool,
    /// `nosuid`, `nodev`, `noexec`, as `MOUNT_ATTR_*` bits.
    pub attrs: u64,
    /// What crosses between the bind and SRC later (private unless an option says).
    pub propagation: BindPropagation,
}

/// The propagation of a `--bind`: which mounts made later below SRC on the host, or
/// below DST in the container, appear on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BindPropagation {
    /// `rprivate` (the default): none.
    #[default]
    Private,
    /// `rslave`: the host's appear in the container (needs `--propagation slave` or
    /// `shared`).
    Slave,
    /// `rshared`: both ways, the bind a peer of SRC's shared mount (Kubernetes'
    /// Bidirectional; needs `--propagation shared`, and SRC on a shared mount).
    Shared,
    /// `unbindable`: none, and the bind itself cannot be bound elsewhere.
    Unbindable,
    /// `runbindable`: the same for the bind and every mount below it.
    RecursiveUnbindable,
}

impl BindPropagation {
    /// The propagation an option names (`rslave` or `slave`, ...), if it names one.
    pub fn parse(option: &str) -> Option<BindPropagation> {
        match option {
            "rslave" | "slave" => Some(BindPropagation::Slave),
            "rprivate" | "private" => Some(BindPropagation::Private),
            "rshared" | "shared" => Some(BindPropagation::Shared),
            "unbindable" => Some(BindPropagation::Unbindable),
            "runbindable" => Some(BindPropagation::RecursiveUnbindable),
            _ => None,
        }
    }

    /// The option that names it (`None` for the default).
    pub fn option(self) -> Option<&'static str> {
        match self {
            BindPropagation::Private => None,
            BindPropagation::Slave => Some("rslave"),
            BindPropagation::Shared => Some("rshared"),
            BindPropagation::Unbindable => Some("unbindable"),
            BindPropagation::RecursiveUnbindable => Some("runbindable"),
        }
    }
}

impl std::str::FromStr for Bind {
    type Err = String;
    /// Parse `SRC:DST` or `SRC:DST:OPTIONS`.
    fn from_str(s: &str) -> Result<Bind, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, options) = match parts.as_slice() {
            [src, dst] => (src, dst, ""),
            [src, dst, options] => (src, dst, *options),
            _ => return Err(format!("expected SRC:DST or SRC:DST:ro, got '{s}'")),
        };
        if src.is_empty() || !dst.starts_with('/') {
            return Err(format!("'{s}': SRC must be given and DST must be absolute"));
        }
        let (mut read_only, mut attrs, mut propagation) = (false, 0, BindPropagation::Private);
        for o in options.split(',').filter(|o| !o.is_empty()) {
            if let Some(p) = BindPropagation::parse(o) {
                propagation = p;
                continue;
            }
            match o {
                "ro" => read_only = true,
                "rw" => read_only = false,
                "nosuid" => attrs |= crate::sys::MOUNT_ATTR_NOSUID,
                "nodev" => attrs |= crate::sys::MOUNT_ATTR_NODEV,
                "noexec" => attrs |= crate::sys::MOUNT_ATTR_NOEXEC,
                other => {
                    return Err(format!(
                        "'{s}': unknown bind option '{other}' (ro, rw, nosuid, nodev, noexec, \
                         rprivate, rslave, rshared, unbindable, runbindable)"
                    ))
                }
            }
        }
        Ok(Bind { src: PathBuf::from(src), dst: PathBuf::from(dst), read_only, attrs, propagation })
    }
}

impl Bind {
    /// The `--bind` argument that parses back to this bind (colons in the paths
    /// excepted, which the form cannot carry).
    pub fn to_arg(&self) -> String {
        let mut options: Vec<&str> = Vec::new();
        if self.read_only {
            options.push("ro");
        }
        for (bit, name) in [
            (crate::sys::MOUNT_ATTR_NOSUID, "nosuid"),
            (crate::sys::MOUNT_ATTR_NODEV, "nodev"),
            (crate::sys::MOUNT_ATTR_NOEXEC, "noexec"),
        ] {
            if self.attrs & bit != 0 {
                options.push(name);
            }
        }
        options.extend(self.propagation.option());
        let mut arg = format!("{}:{}", self.src.display(), self.dst.display());
        if !options.is_empty() {
            arg = format!("{arg}:{}", options.join(","));
        }
        arg
    }
}

/// `--propagation`: what the mount namespace's `/` is made (recursively) before the new
/// root is built.
/// (Ordered by what each makes possible: each allows what the one before does.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Propagation {
    /// Private: nothing the host mounts later shows inside (the default).
    #[default]
    Private,
    /// A slave of the host's mounts: binds marked `rslave` follow the host's later mounts.
    Slave,
    /// As `Slave`, and binds marked `rshared` are made first, as peers of the host's
    /// shared mounts (the chain before must leave the namespace's propagation unchanged:
    /// `unshare-rs --propagation unchanged`).
    Shared,
}

/// `--rootfs-propagation`: what the new root itself is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootfsPropagation {
    /// Private (the default).
    #[default]
    Private,
    /// With `--rootfs`: the bind of DIR a slave of the host's mount, following it
    /// (needs `--propagation slave` or `shared`).
    Slave,
    /// Once entered, `/` and every mount below it shared (a peer group of the
    /// container's own: its later mount namespaces share its mounts; only binds marked
    /// `rshared` reach the host).
    Shared,
    /// Once entered, `/` and every mount below it unbindable.
    Unbindable,
}

/// Where `/etc/hosts` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosts {
    /// `hosts=FILE`: a copy of FILE.
    File(PathBuf),
    /// `hosts`: localhost and the hostname, as docker writes it for a container.
    Generated,
}

/// `--init` files, written into the init layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitFiles {
    /// `/etc/hostname`.
    pub hostname: Option<String>,
    /// `/etc/hosts`.
    pub hosts: Option<Hosts>,
    /// A file copied to `/etc/resolv.conf`.
    pub resolv: Option<PathBuf>,
    /// `host=NAME:IP`: lines added to `/etc/hosts` (docker's `--add-host`), in order.
    pub extra_hosts: Vec<(String, std::net::IpAddr)>,
    /// `dns=IP`: the name servers of `/etc/resolv.conf` (docker's `--dns`), in place of
    /// those of `resolv=FILE` (whose search and options lines stay).
    pub dns: Vec<std::net::IpAddr>,
}

/// `NAME:IP` or `NAME=IP` (docker's `--add-host`; an IPv6 address may follow the first
/// colon).
pub fn parse_extra_host(s: &str) -> Result<(String, std::net::IpAddr), String> {
    let (name, ip) =
        s.split_once('=').or_else(|| s.split_once(':')).ok_or_else(|| format!("expected NAME:IP, got '{s}'"))?;
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(format!("'{name}' is not a host name"));
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    let ip = ip.parse().map_err(|_| format!("'{ip}' is not an IP address"))?;
    Ok((name.to_string(), ip))
}

/// An IP address of `--dns`.
pub fn parse_dns(s: &str) -> Result<std::net::IpAddr, String> {
    s.parse().map_err(|_| format!("'{s}' is not an IP address"))
}

/// The `/etc/hosts` of a container named `hostname`.
pub fn generated_hosts(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n")
}

impl InitFiles {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        *self == InitFiles::default()
    }

    /// Parse one `--init KEY=VALUE` (or `--init hosts`) into this set.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        match spec.split_once('=') {
            Some(("hostname", v)) if !v.is_empty() && v.len() <= 64 => self.hostname = Some(v.to_string()),
            Some(("hosts", v)) if !v.is_empty() => self.hosts = Some(Hosts::File(PathBuf::from(v))),
            None if spec == "hosts" => self.hosts = Some(Hosts::Generated),
            Some(("resolv", v)) if !v.is_empty() => self.resolv = Some(PathBuf::from(v)),
            Some(("host", v)) => self.extra_hosts.push(parse_extra_host(v)?),
            Some(("dns", v)) => self.dns.push(parse_dns(v)?),
            _ => {
                return Err(format!(
                    "expected hostname=NAME, hosts, hosts=FILE, resolv=FILE, host=NAME:IP or dns=IP, got '{spec}'"
                ))
            }
        }
        Ok(())
    }

    fn write(&self, layer: &Path) -> Result<(), Error> {
        let etc = layer.join("etc");
        std::fs::create_dir_all(&etc).map_err(|e| Error::io("cannot create", &etc, e))?;
        let write = |name: &str, content: &str| {
            let p = etc.join(name);
            std::fs::write(&p, content).map_err(|e| Error::io("cannot write", &p, e))
        };
        let read = |src: &Path| std::fs::read_to_string(src).map_err(|e| Error::io("cannot read", src, e));
        if let Some(h) = &self.hostname {
            write("hostname", &format!("{h}\n"))?;
        }
        let hosts = match &self.hosts {
            Some(Hosts::File(src)) => Some(read(src)?),
            Some(Hosts::Generated) => Some(generated_hosts(&self.name_in_hosts()?)),
            None if !self.extra_hosts.is_empty() => Some(generated_hosts(&self.name_in_hosts()?)),
            None => None,
        };
        if let Some(mut hosts) = hosts {
            for (name, ip) in &self.extra_hosts {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
            write("hosts", &hosts)?;
        }
        let resolv = match &self.resolv {
            Some(src) => Some(read(src)?),
            None if !self.dns.is_empty() => Some(String::new()),
            None => None,
        };
        if let Some(resolv) = resolv {
            write("resolv.conf", &with_name_servers(&resolv, &self.dns))?;
        }
        Ok(())
    }

    fn name_in_hosts(&self) -> Result<String, Error> {
        match &self.hostname {
            Some(h) => Ok(h.clone()),
            None => {
                Ok(nix::unistd::gethostname().map_err(sys("cannot read the hostname"))?.to_string_lossy().into_owned())
            }
        }
    }
}

/// `resolv` with its `nameserver` lines replaced by `servers` (when there are any).
fn with_name_servers(resolv: &str, servers: &[std::net::IpAddr]) -> String {
    if servers.is_empty() {
        return resolv.to_string();
    }
    let mut out: String = servers.iter().map(|ip| format!("nameserver {ip}\n")).collect();
    for line in resolv.lines().filter(|l| !l.trim_start().starts_with("nameserver")) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The init layer in memory: a tmpfs mounted on `target` (where the overlay then goes
/// on top of it), holding the `--init` files.
fn init_layer_in_memory(target: &Path, files: &InitFiles) -> Result<(), Error> {
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m,nr_inodes=16"),
    )
    .map_err(sys(format!("cannot mount the init layer's tmpfs on '{}'", target.display())))?;
    files.write(target)
}

/// `--upper-tmpfs`: a tmpfs mounted on `target` (the overlay then goes on top of it)
/// holding `upper`, `work` and, with `--init` files, the init layer `init`. Its size is
/// tmpfs's default (half of the memory); what is written there is charged to the
/// writer's memory cgroup, as any tmpfs page.
fn in_memory_layers(target: &Path, files: &InitFiles, stack: &mut Stack) -> Result<(), Error> {
    mount(Some("tmpfs"), target, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV, Some("mode=0755"))
        .map_err(sys(format!("cannot mount the tmpfs for the upper layer on '{}'", target.display())))?;
    let (upper, work) = (target.join("upper"), target.join("work"));
    for d in [&upper, &work] {
        std::fs::create_dir(d).map_err(|e| Error::io("cannot create", d, e))?;
    }
    if !files.is_empty() {
        let init = target.join("init");
        files.write(&init)?;
        stack.init_layer = Some(init);
    }
    stack.upper = Some(upper);
    stack.work = Some(work);
    Ok(())
}

/// Everything `enter` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct EnterOptions {
    /// The layers.
    pub stack: Stack,
    /// Where the overlay is mounted (becomes `/`).
    pub target: PathBuf,
    /// `--rootfs DIR`: DIR itself is the root (an OCI bundle's, mounted by its caller);
    /// no overlay, no layers.
    pub rootfs: Option<PathBuf>,
    /// `--upper-tmpfs`: the upper and work directories (and the init layer) in a tmpfs
    /// of this mount namespace, under the overlay.
    pub upper_tmpfs: bool,
    /// `--mask PATH` (inside the root), repeatable.
    pub masked: Vec<String>,
    /// `--read-only-path PATH` (inside the root), repeatable.
    pub read_only_paths: Vec<String>,
    /// `--groups`: exactly these supplementary groups (else those of the user).
    pub groups: Option<Vec<u32>>,
    /// `--group-add`: more supplementary groups, names or gids.
    pub group_add: Vec<String>,
    /// `--start-fifo FILE`: wait at the start gate until FILE (a FIFO) is opened for
    /// reading (an OCI runtime's `start`).
    pub start_fifo: Option<PathBuf>,
    /// `--stderr-fd N`: fd N becomes the program's stderr at the start gate.
    pub stderr_fd: Option<i32>,
    /// `--hook-gate N`: before pivot_root, say so on fd N and wait for the go.
    pub hook_gate: Option<i32>,
    /// `--propagation`: what `/` is while the root is built, and so which bind
    /// propagations can be had.
    pub propagation: Propagation,
    /// `--rootfs-propagation`: the new root's own.
    pub rootfs_propagation: RootfsPropagation,
    /// `--console-socket PATH`: a pty of the container's as the program's terminal, its
    /// master sent over PATH.
    pub console_socket: Option<PathBuf>,
    /// `--proc`.
    pub proc: bool,
    /// `--dev`.
    pub dev: bool,
    /// `--shm-size`: bytes of /dev/shm (default 64 MiB).
    pub shm_size: Option<u64>,
    /// `--sys`.
    pub sys: bool,
    /// `--cgroupfs`.
    pub cgroupfs: bool,
    /// `--tmpfs DIR[:OPTIONS]` (inside the new root), repeatable.
    pub tmpfs: Vec<crate::tmpfs::Tmpfs>,
    /// `--mask-defaults`.
    pub mask_defaults: bool,
    /// `--readonly`.
    pub readonly: bool,
    /// `--bind`.
    pub binds: Vec<Bind>,
    /// `--device HOST:DST`.
    pub devices: Vec<(PathBuf, PathBuf)>,
    /// `--device-node DST:TYPE:MAJ:MIN[:MODE[:UID:GID]]`: nodes made by number.
    pub device_nodes: Vec<crate::rootfs::DeviceNode>,
    /// `--init`.
    pub init: InitFiles,
    /// `--passwd-entry` and `--group-entry`.
    pub accounts: Vec<crate::accounts::AccountEntry>,
    /// `--sysctl KEY=VALUE`, repeatable.
    pub sysctls: Vec<crate::sysctl::Sysctl>,
    /// `--workdir` (default `/`).
    pub workdir: Option<PathBuf>,
    /// `--user USER[:GROUP]`, resolved in the new root's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// The final confinement.
    pub confinement: Confinement,
    /// The program and its arguments.
    pub command: Vec<OsString>,
}

/// Refuse to run in the host's mount namespace: every mount made here would land there.
fn refuse_initial_mount_namespace() -> Result<(), Error> {
    if crate::hostns::is_host(crate::hostns::Namespace::Mnt)? {
        return Err(Error::InitialMountNamespace);
    }
    Ok(())
}

/// The bind and root propagations asked for against what `--propagation` makes
/// possible.
fn check_propagation(o: &EnterOptions) -> Result<(), Error> {
    let follows = matches!(o.propagation, Propagation::Slave | Propagation::Shared);
    if o.rootfs_propagation == RootfsPropagation::Slave && (!follows || o.rootfs.is_none()) {
        return Err(Error::Usage("--rootfs-propagation slave needs --rootfs and --propagation slave or shared".into()));
    }
    for b in &o.binds {
        let needs = match b.propagation {
            BindPropagation::Slave if !follows => "--propagation slave or shared",
            BindPropagation::Shared if o.propagation != Propagation::Shared => "--propagation shared",
            _ => continue,
        };
        let option = b.propagation.option().unwrap_or_default();
        return Err(Error::Usage(format!("--bind '{}': {option} needs {needs}", b.to_arg())));
    }
    Ok(())
}

/// pivot_root into `new_root` and detach the old root (the `pivot_root(".", ".")` way).
fn pivot_into(new_root: &Path) -> Result<(), Error> {
    let old_root = nix::fcntl::open("/", OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(sys("cannot open '/'"))?;
    nix::unistd::chdir(new_root).map_err(sys(format!("cannot change directory to '{}'", new_root.display())))?;
    nix::unistd::pivot_root(".", ".").map_err(sys(format!("pivot_root into '{}' failed", new_root.display())))?;
    // The old root is now stacked on top of the new one at "/": make it a slave so the
    // unmount cannot propagate anywhere, then detach it. "." must be the old root's
    // (runc's way): after pivot_root the working directory is still the new root's,
    // and mount(2) does not step up to the mount on top, so "." would make the new
    // root's whole tree a slave (an rshared volume with it).
    nix::unistd::fchdir(&old_root).map_err(sys("cannot change directory to the old root"))?;
    drop(old_root);
    mount(None::<&str>, ".", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(sys("cannot make the old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys("cannot detach the old root"))?;
    nix::unistd::chdir("/").map_err(sys("cannot change directory to '/'"))?;
    Ok(())
}

/// `USER[:GROUP]` as numbers, names looked up in the new root's /etc/passwd and /etc/group.
pub fn resolve_user(spec: &str) -> Result<Credentials, Error> {
    chainload::ids::credentials(spec, Path::new("/etc/passwd"), Path::new("/etc/group"))
        .map_err(|source| Error::User { spec: spec.to_string(), source })
}

/// Run `enter`. Returns only on failure.
pub fn enter(o: &EnterOptions) -> Error {
    match prepare(o) {
        Ok(()) => chainload::error::OsError::from(chainload::exec::execvp(&o.command)).into(),
        Err(e) => e,
    }
}

fn prepare(o: &EnterOptions) -> Result<(), Error> {
    refuse_initial_mount_namespace()?;
    for s in &o.sysctls {
        s.apply()?;
    }
    check_propagation(o)?;
    // Binds that are to be peers of the host's shared mounts are cloned while the
    // namespace's copies still are (before `/` becomes a slave below).
    let mut shared_trees = Vec::new();
    for b in o.binds.iter().filter(|b| b.propagation == BindPropagation::Shared) {
        shared_trees.push(rootfs::clone_shared(&b.src)?);
    }
    // Private, or (for volumes that follow the host's mounts) a slave of the host's.
    let (propagation, what) = match o.propagation {
        Propagation::Private => (MsFlags::MS_PRIVATE, "private"),
        Propagation::Slave | Propagation::Shared => (MsFlags::MS_SLAVE, "a slave"),
    };
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | propagation, None::<&str>)
        .map_err(sys(format!("cannot make / {what}")))?;
    let root = match &o.rootfs {
        Some(dir) => {
            if !o.init.is_empty() || !o.accounts.is_empty() {
                return Err(Error::Usage(
                    "--init, --passwd-entry and --group-entry write into the layers: with --rootfs, bind the \
                     files instead"
                        .into(),
                ));
            }
            let root = std::fs::canonicalize(dir).map_err(|e| Error::io("--rootfs", dir, e))?;
            rootfs::bind_rootfs(&root, o.rootfs_propagation == RootfsPropagation::Slave)?;
            root
        }
        None => mount_layers(o)?,
    };
    // Every mount below goes on a place opened inside the new root (see `rootfs`).
    let new_root = rootfs::NewRoot::open(&root)?;
    // (Before any volume is mounted: the files written are the root's own.)
    for a in &o.accounts {
        a.add(&new_root)?;
    }
    if o.proc {
        rootfs::mount_proc(&new_root)?;
    }
    if o.dev {
        rootfs::mount_dev(&new_root, o.shm_size.unwrap_or(64 << 20))?;
    }
    if o.sys {
        rootfs::mount_sys(&new_root)?;
    }
    if o.cgroupfs {
        rootfs::mount_cgroupfs(&new_root)?;
    }
    for t in &o.tmpfs {
        rootfs::mount_tmpfs(&new_root, t)?;
    }
    let mut shared_trees = shared_trees.into_iter();
    for b in &o.binds {
        let tree = match b.propagation {
            BindPropagation::Shared => shared_trees.next(),
            _ => None,
        };
        rootfs::bind_volume(&new_root, b, tree)?;
    }
    for (host, dst) in &o.devices {
        rootfs::add_device(&new_root, host, dst)?;
    }
    for d in &o.device_nodes {
        rootfs::make_device(&new_root, d)?;
    }
    if o.mask_defaults {
        rootfs::mask_defaults(&new_root)?;
    }
    rootfs::mask(&new_root, &o.masked, &o.read_only_paths)?;
    if let Some(wd) = o.workdir.as_deref().filter(|w| w.is_absolute()) {
        // A missing working directory is made (root's, 0755), as docker and runc do. One
        // that cannot be (a symlink on the way: place never follows one) is left to the
        // chdir in the new root, which enters it or names it.
        let _ = new_root.place(wd, rootfs::Kind::Dir);
    }
    drop(new_root);
    // The start gate's FIFO is on the host: opened before the root changes.
    let fifo = match &o.start_fifo {
        Some(f) => Some(
            nix::fcntl::open(f, OFlag::O_PATH | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(sys(format!("cannot open the start FIFO '{}'", f.display())))?,
        ),
        None => None,
    };
    let console = o.console_socket.as_deref().map(chainload::console::ConsoleSocket::connect).transpose()?;
    if let Some(fd) = o.hook_gate {
        hook_gate(fd)?;
    }
    pivot_into(&root)?;
    let after = match o.rootfs_propagation {
        RootfsPropagation::Shared => Some((MsFlags::MS_SHARED, "shared")),
        RootfsPropagation::Unbindable => Some((MsFlags::MS_UNBINDABLE, "unbindable")),
        RootfsPropagation::Private | RootfsPropagation::Slave => None,
    };
    if let Some((flag, what)) = after {
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | flag, None::<&str>)
            .map_err(sys(format!("cannot make the new / {what}")))?;
    }
    if let Some(c) = console {
        c.hand_over(if fifo.is_some() { o.stderr_fd.unwrap_or(2) } else { 2 })?;
    }
    if o.readonly {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(sys("cannot make / read-only"))?;
    }
    // Nothing inherited may lead out of the new root from here on: every descriptor
    // above 2 is closed before the working directory is entered (no `-w
    // /proc/self/fd/N`), and the working directory is resolved inside the root.
    let mut c = o.confinement.clone();
    c.gate = fifo.map(|f| StartGate { fifo: f.into_raw_fd(), stderr: o.stderr_fd });
    let mut keep = chainload::confine::preserved(c.preserve_fds);
    keep.extend(c.gate.iter().flat_map(StartGate::fds));
    chainload::confine::close_range_from_3(&keep).map_err(sys("cannot close inherited file descriptors"))?;
    let wd = o.workdir.clone().unwrap_or_else(|| PathBuf::from("/"));
    chainload::confine::enter_workdir(&wd)?;
    if o.user.is_some() || !o.group_add.is_empty() {
        // (`--group-add` alone: root's own groups, and those.)
        let mut user = resolve_user(o.user.as_deref().unwrap_or("0"))?;
        if let Some(g) = &o.groups {
            user.groups = g.clone();
        }
        chainload::ids::add_groups(&mut user.groups, &o.group_add, Path::new("/etc/group"))
            .map_err(|(group, source)| Error::GroupAdd { group, source })?;
        c.user = Some(user);
    }
    if std::env::var_os("HOME").is_none() {
        let uid = c.user.as_ref().map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid);
        std::env::set_var("HOME", chainload::ids::home_dir(uid, Path::new("/etc/passwd")));
    }
    if c.gate.is_some() {
        // A program that cannot be found fails `create`, not the `start` after it.
        chainload::exec::find_program(&o.command).map_err(chainload::error::OsError::from)?;
    }
    chainload::confine::apply(&c)?;
    Ok(())
}

/// `--hook-gate N`: one byte out ("ready": mounted, not yet pivoted), one byte back:
/// 'g' goes on; anything else, or the end of the descriptor, stops here. The descriptor
/// is closed either way (the program never has it).
fn hook_gate(fd: i32) -> Result<(), Error> {
    // SAFETY: F_GETFD only asks whether the number is an open descriptor.
    if fd < 3 || unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(Error::Usage(format!("--hook-gate {fd}: not an open descriptor above 2")));
    }
    // SAFETY: an open descriptor given to this process to use, used up here.
    let gate = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::unistd::write(&gate, b"r").map_err(sys(format!("--hook-gate {fd}: cannot say ready")))?;
    let mut answer = [0u8; 1];
    let n = nix::unistd::read(&gate, &mut answer).map_err(sys(format!("--hook-gate {fd}: cannot read the answer")))?;
    if n == 1 && answer[0] == b'g' {
        return Ok(());
    }
    Err(Error::InContainer("stopped at the hook gate: the runtime's hooks failed".into()))
}

/// The overlay of the layers, on the target; returns the new root's path.
fn mount_layers(o: &EnterOptions) -> Result<PathBuf, Error> {
    let mut stack = o.stack.clone();
    stack.prepare()?;
    std::fs::create_dir_all(&o.target).map_err(|e| Error::io("cannot create", &o.target, e))?;
    // (The path, once resolved, stays the same through the mounts stacked on it.)
    let root = std::fs::canonicalize(&o.target).map_err(|e| Error::io("new root", &o.target, e))?;
    match &stack.init_layer {
        Some(layer) => o.init.write(layer)?,
        // (On a filesystem of its own, it overlaps no other layer.)
        None if o.upper_tmpfs => in_memory_layers(&root, &o.init, &mut stack)?,
        None if !o.init.is_empty() => {
            init_layer_in_memory(&root, &o.init)?;
            stack.init_layer = Some(root.clone());
        }
        None => {}
    }
    overlay::mount(&stack, &o.target)?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_options_and_their_propagation_round_trip() {
        let cases = [
            ("/a:/b", BindPropagation::Private, "/a:/b"),
            ("/a:/b:ro,rslave", BindPropagation::Slave, "/a:/b:ro,rslave"),
            ("/a:/b:shared", BindPropagation::Shared, "/a:/b:rshared"),
            ("/a:/b:rshared,nodev", BindPropagation::Shared, "/a:/b:nodev,rshared"),
            ("/a:/b:unbindable", BindPropagation::Unbindable, "/a:/b:unbindable"),
            ("/a:/b:runbindable", BindPropagation::RecursiveUnbindable, "/a:/b:runbindable"),
            ("/a:/b:rshared,rprivate", BindPropagation::Private, "/a:/b"),
        ];
        for (arg, propagation, back) in cases {
            let b: Bind = arg.parse().unwrap_or_else(|e| panic!("{arg}: {e}"));
            assert_eq!(b.propagation, propagation, "{arg}");
            assert_eq!(b.to_arg(), back, "{arg}");
            assert_eq!(back.parse::<Bind>().ok(), Some(b), "{arg}");
        }
        assert!("/a:/b:rsharedx".parse::<Bind>().unwrap_err().contains("unknown bind option 'rsharedx'"));
    }

    #[test]
    fn a_bind_propagation_needs_the_namespaces() {
        let with = |propagation: Propagation, bind: &str| {
            let o = EnterOptions { propagation, binds: vec![bind.parse().unwrap()], ..Default::default() };
            check_propagation(&o).err().map(|e| e.to_string())
        };
        assert_eq!(
            with(Propagation::Private, "/a:/b:rslave").as_deref(),
            Some("--bind '/a:/b:rslave': rslave needs --propagation slave or shared")
        );
        assert_eq!(
            with(Propagation::Slave, "/a:/b:rshared").as_deref(),
            Some("--bind '/a:/b:rshared': rshared needs --propagation shared")
        );
        assert_eq!(with(Propagation::Slave, "/a:/b:rslave"), None);
        assert_eq!(with(Propagation::Shared, "/a:/b:rslave"), None);
        assert_eq!(with(Propagation::Shared, "/a:/b:rshared"), None);
        assert_eq!(with(Propagation::Private, "/a:/b:runbindable"), None);
    }
}
