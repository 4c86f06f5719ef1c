//! `ctr-run run`'s first step: the options as the user gave them, and everything they
//! decide (with the image's configuration), checked against each other and this machine
//! before anything exists.

use std::path::PathBuf;

use chainload::error::FromIo;

use crate::chain::{Network, Resolved, Seccomp, Volume};
use crate::config::Config;
use crate::image;
use crate::paths::Root;
use crate::state::Rootfs;
use crate::Error;

/// `run`'s options, as the user gave them.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--name`.
    pub name: Option<String>,
    /// `-d`.
    pub detach: bool,
    /// `--keep`.
    pub keep: bool,
    /// `--upper-on-disk`.
    pub upper_on_disk: bool,
    /// `--rm`: removed when it exits, detached too.
    pub remove: bool,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
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
    /// The other cgroup limits (`--memory-reservation`, `--cpu-shares`, `--cpu-quota`,
    /// `--cpu-period`, `--cpuset-mems`, `--blkio-weight`, `--device-*-bps`/`-iops`).
    pub limits: cgctl::limits::Limits,
    /// `--tmpfs DST[:OPTS]`, as given.
    pub tmpfs: Vec<String>,
    /// `--ulimit`.
    pub ulimits: Vec<chainload::rlimit::Rlimit>,
    /// `--sysctl`.
    pub sysctls: Vec<ovlmount::sysctl::Sysctl>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--add-host`.
    pub add_hosts: Vec<(String, std::net::IpAddr)>,
    /// `--dns`.
    pub dns: Vec<std::net::IpAddr>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--stop-signal`.
    pub stop_signal: Option<nix::sys::signal::Signal>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u64>,
    /// `--label`.
    pub labels: Vec<(String, String)>,
    /// `--restart`.
    pub restart: crate::config::Restart,
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
    /// `--group-add`.
    pub group_add: Vec<String>,
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
    /// `--userns keep-id` (rootless): the user is themself inside, not root.
    pub keep_id: bool,
    /// `--security-opt seccomp=...`.
    pub seccomp: crate::chain::Seccomp,
    /// `--init`.
    pub init: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--cidfile`.
    pub cidfile: Option<PathBuf>,
    /// The command.
    pub command: Vec<String>,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `--image`, `--rootfs` or neither (the host's root): the layers, the image's
/// configuration, and where they came from.
fn root_filesystem(root: &Root, o: &RunOptions) -> Result<(Vec<PathBuf>, image::ImageConfig, Rootfs), Error> {
    match (&o.image, &o.rootfs) {
        (Some(_), Some(_)) => Err(Error::Usage("--image and --rootfs exclude each other".into())),
        (Some(img), None) => {
            let (image, layers) = image::load(root, img)?;
            Ok((layers, image.config, Rootfs::Image(img.clone())))
        }
        (None, Some(dir)) => {
            let abs = std::fs::canonicalize(dir).map_err(|e| Error::io("--rootfs", dir, e))?;
            if !abs.is_dir() {
                return Err(Error::Usage(format!("--rootfs '{}' is not a directory", dir.display())));
            }
            Ok((vec![abs.clone()], image::ImageConfig::default(), Rootfs::Dir(abs)))
        }
        (None, None) => Ok((vec![PathBuf::from("/")], image::ImageConfig::default(), Rootfs::Host)),
    }
}

/// Decide everything, check it (limits against this machine too), before anything exists.
pub fn resolve(root: &Root, o: &RunOptions, id: &str, name: &str) -> Result<(Resolved, Rootfs), Error> {
    let (layers, config, rootfs) = root_filesystem(root, o)?;
    let host_root = rootfs == Rootfs::Host;
    let command = command_of(o, &config)?;
    let hostname = o.hostname.clone().unwrap_or_else(|| name.to_string());
    let workdir = o
        .workdir
        .clone()
        .or_else(|| Some(config.workdir.clone()).filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".into());
    let mut userns = crate::rootless::UserNs::of_caller()?;
    match (&mut userns, o.keep_id) {
        (Some(u), true) => u.keep_id = true,
        (None, true) => return Err(Error::Usage("--userns keep-id is for rootless containers (you are root)".into())),
        _ => {}
    }
    // (keep-id: the user's own ids, as podman runs it, unless -u says otherwise.)
    let keep_id_user = userns.as_ref().filter(|u| u.keep_id).map(|u| format!("{}:{}", u.uid, u.gid));
    let user = o.user.clone().or(keep_id_user).or_else(|| Some(config.user.clone()).filter(|u| !u.is_empty()));
    let keep_id_entries = userns.as_ref().filter(|u| u.keep_id && o.user.is_none()).map(|u| u.keep_id_entries());
    let env = environment_of(o, &config, &hostname);
    let (cgroup, limits) = match cgroup_parent(o, userns.is_some())? {
        Ok(parent) => {
            let cgroup = format!("{}/{id}", parent.trim_end_matches('/'));
            let group =
                cgctl::name::GroupName::parse(&cgroup).map_err(|e| Error::Usage(format!("--cgroup-parent: {e}")))?;
            let limits = limits_of(o, &group)?;
            (Some(cgroup), limits)
        }
        Err(why) => {
            refuse_limits(o, &why)?;
            (None, cgctl::limits::Limits::default())
        }
    };
    for v in &o.volumes {
        if !v.src.exists() {
            return Err(Error::Usage(format!("volume source '{}' does not exist", v.src.display())));
        }
    }
    let network = o.network.unwrap_or(Network::None);
    if let Some(s) =
        o.sysctls.iter().find(|s| network == Network::Host && s.namespace == ovlmount::hostns::Namespace::Net)
    {
        return Err(Error::Usage(format!(
            "--sysctl {}: with --network host the network namespace is the host's, and this would change it",
            s.key
        )));
    }
    let stop_signal = match (o.stop_signal, config.stop_signal.as_str()) {
        (Some(sig), _) => Some(sig),
        (None, "") => None,
        (None, image) => Some(
            chainload::signals::parse_signal(image)
                .map_err(|e| Error::Usage(format!("the image's StopSignal '{image}': {e}")))?,
        ),
    };
    let mut labels = config.labels.clone();
    labels.extend(o.labels.iter().cloned());
    let devices = o.devices.iter().map(|d| device_rule(d).map(|rule| (d.clone(), rule))).collect::<Result<_, _>>()?;
    let userns_given = userns.is_some();
    let config = Config {
        cgroup,
        userns,
        layers,
        hostname,
        env,
        workdir,
        user,
        group_add: o.group_add.clone(),
        cap_add: o.cap_add.clone(),
        cap_drop: o.cap_drop.clone(),
        privileged: o.privileged,
        seccomp: if o.privileged { Seccomp::Unconfined } else { o.seccomp.clone() },
        command,
        detached: o.detach,
        keep: o.keep,
        writes_in_memory: writes_in_memory(o, userns_given),
        remove: o.remove,
        tty: o.tty,
        interactive: o.interactive,
        rlimits: o.ulimits.clone(),
        oom_score_adj: o.oom_score_adj,
        stop_signal: stop_signal.map(|s| s.as_str().to_string()),
        stop_timeout: o.stop_timeout,
        labels,
        restart: o.restart,
    };
    let resolved = Resolved {
        id: id.to_string(),
        config,
        host_root,
        state_root: root.dir.clone(),
        network,
        limits,
        tmpfs: o.tmpfs.clone(),
        sysctls: o.sysctls.clone(),
        shm_size: o.shm_size,
        add_hosts: o.add_hosts.clone(),
        dns: o.dns.clone(),
        volumes: o.volumes.clone(),
        devices,
        read_only: o.read_only,
        init: o.init,
        keep_id_entries,
        // A container removed when it ends (`-d --rm`; a foreground one with its upper
        // on disk) needs no sync of its upper layer (overlayfs has `volatile` since Linux
        // 5.10). (Not one that restarts: overlayfs refuses to mount a volatile upper again.)
        volatile_upper: (!o.detach || o.remove)
            && !o.keep
            && o.restart == crate::config::Restart::No
            && chainload::kernel::at_least(5, 10),
    };
    Ok((resolved, rootfs))
}

/// Whether the container's writes go to memory (a tmpfs of its mount namespace) rather
/// than to its directory under the state root: for a foreground container that is
/// removed when it ends, which then costs the disk nothing, whatever filesystem the
/// state root is on. On disk instead: a detached or kept container (its writes outlive
/// the command: `commit`, `ps -a`), one that restarts (its writes outlive each run), one
/// with a memory limit (its writes would count against it), `--upper-on-disk` (writes
/// larger than memory); and a rootless one before Linux 6.6, whose tmpfs has no
/// `user.*` xattrs for overlayfs's `userxattr`.
pub fn writes_in_memory(o: &RunOptions, rootless: bool) -> bool {
    !o.detach
        && !o.keep
        && !o.upper_on_disk
        && o.restart == crate::config::Restart::No
        && o.memory.is_none()
        && o.memory_swap.is_none()
        && (!rootless || chainload::kernel::at_least(6, 6))
}

/// The command: the image's Entrypoint (or `--entrypoint`) and then the arguments, or
/// the image's Cmd without arguments (`--entrypoint` drops it, as docker's).
fn command_of(o: &RunOptions, config: &image::ImageConfig) -> Result<Vec<String>, Error> {
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
    Ok(command)
}

/// The program's environment: the defaults, the image's Env, then `-e`/`--env-file`.
/// No HOME unless one of those sets it: ovlmount (and `exec`) set it to the user's home
/// in the container's passwd, as runc does for docker. (TERM: see [`crate::chain::with_term`].)
fn environment_of(o: &RunOptions, config: &image::ImageConfig, hostname: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        vec![("PATH".into(), DEFAULT_PATH.into()), ("HOSTNAME".into(), hostname.into())];
    for e in &config.env {
        crate::environ::set(&mut env, e, false);
    }
    for e in &o.env {
        crate::environ::set(&mut env, e, true);
    }
    env
}

/// Where the container's cgroup goes: `--cgroup-parent`, else `/ctr-run` for root and
/// `DELEGATED/ctr-run` for a user with a delegated cgroup v2 subtree. The inner Err is
/// why a rootless container gets no cgroup (nothing is delegated to the user).
fn cgroup_parent(o: &RunOptions, rootless: bool) -> Result<Result<String, String>, Error> {
    if !rootless {
        return Ok(Ok(o.cgroup_parent.clone().unwrap_or_else(|| "/ctr-run".into())));
    }
    match (crate::rootless::delegated_parent(), &o.cgroup_parent) {
        (Ok(_), Some(p)) => Ok(Ok(p.clone())),
        (Ok(d), None) => Ok(Ok(format!("{d}/ctr-run"))),
        (Err(why), Some(_)) => Err(Error::Usage(format!("--cgroup-parent: a rootless container's cgroup: {why}"))),
        (Err(why), None) => Ok(Err(why)),
    }
}

/// A rootless container without a cgroup of its own: any limit asked for is an error
/// that says why and how to get one (never a run without it).
fn refuse_limits(o: &RunOptions, why: &str) -> Result<(), Error> {
    let given = [
        ("--memory", o.memory.is_some()),
        ("--memory-swap", o.memory_swap.is_some()),
        ("--cpus", o.cpus.is_some()),
        ("--pids-limit", o.pids_limit.is_some()),
        ("--cpuset-cpus", o.cpuset_cpus.is_some()),
    ];
    // (cgctl's names for the rest, as docker's where they differ.)
    let other = o.limits.to_args().into_iter().next().map(|f| match f.as_str() {
        "--io-weight" => "--blkio-weight".to_string(),
        "--io-weight-device" => "--blkio-weight-device".to_string(),
        _ => f,
    });
    let flag = given.iter().find(|(_, g)| *g).map(|(f, _)| f.to_string()).or(other);
    match flag {
        Some(flag) => {
            Err(Error::Usage(format!("{flag}: a rootless container's limits need a cgroup delegated to you: {why}")))
        }
        None => Ok(()),
    }
}

/// The limits, parsed and checked the way cgctl will (against this machine too), so a
/// bad one fails here, before anything exists.
fn limits_of(o: &RunOptions, group: &cgctl::name::GroupName) -> Result<cgctl::limits::Limits, Error> {
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
    let pids_limit = o.pids_limit.clone().unwrap_or_else(|| DEFAULT_PIDS_LIMIT.into());
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
        ..o.limits.clone()
    };
    // (The pids limit needs no look at the machine; cgctl itself checks it again.)
    let machine_limits = cgctl::limits::Limits { pids_limit: None, ..limits.clone() } != Default::default();
    if machine_limits {
        let cg = cgctl::setup::Cgroups::detect()?;
        limits.check(&cg, group)?;
    }
    Ok(limits)
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

/// The pids limit of a container without `--pids-limit`.
const DEFAULT_PIDS_LIMIT: &str = "4096";

/// docker's smallest memory limit: below it not even a shell starts.
const MIN_MEMORY: u64 = 6 << 20;
