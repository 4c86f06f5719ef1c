//! A bundle's `config.json`, read with `oci-spec` and decided into a [`Plan`]: what the
//! chain is built from. Everything the spec asks that the chain cannot do is an error
//! naming the field (`config.json: linux.namespaces[3].path: ...`), never ignored.
//!
//! Mounts: the standard ones map to `ovlmount enter`'s own (`/proc` proc to `--proc`;
//! a tmpfs on `/dev` to `--dev`, which also makes `/dev/pts`, `/dev/shm` and
//! `/dev/mqueue`, so those entries are covered by it; `/sys` sysfs to `--sys`, which is
//! read-only whatever the options say: stronger, never weaker); binds to `--bind` with
//! their `ro`/`nosuid`/`nodev`/`noexec`; a tmpfs elsewhere to `--tmpfs` (mode 1777,
//! nosuid, nodev: other options are refused). `/dev`'s own mounts are runc's defaults
//! (`ovlmount enter --dev`), whatever sizes the spec gives them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use ovlmount::enter::Propagation;

use crate::Error;

/// What the container is, decided from the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The bundle (absolute).
    pub bundle: PathBuf,
    /// The root filesystem (absolute).
    pub rootfs: PathBuf,
    /// `root.readonly`.
    pub readonly: bool,
    /// `process.terminal`: a pty of the container's, its master sent to the console
    /// socket.
    pub terminal: bool,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.env`.
    pub env: Vec<(String, String)>,
    /// `process.cwd`.
    pub cwd: String,
    /// `process.user`.
    pub uid: u32,
    /// `process.user.gid`.
    pub gid: u32,
    /// `process.user.additionalGids`.
    pub groups: Vec<u32>,
    /// `process.user.umask`.
    pub umask: Option<u32>,
    /// The bounding set (`process.capabilities.bounding`), by name; `None`: all kept.
    pub caps: Option<Vec<String>>,
    /// For a user other than root: the capabilities kept through exec
    /// (`process.capabilities.ambient`).
    pub ambient: Vec<String>,
    /// `process.noNewPrivileges`.
    pub no_new_privs: bool,
    /// `process.rlimits`.
    pub rlimits: Vec<chainload::rlimit::Rlimit>,
    /// `process.oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// The namespaces to create, as unshare-rs flags (`--pid`, `--net`, ...).
    pub namespaces: Vec<&'static str>,
    /// The namespaces to join by path, as nsenter-rs flags (`--net=/proc/PID/ns/net`).
    pub joins: Vec<String>,
    /// With a user namespace: unshare-rs's id maps, and root in it for the rest of the
    /// chain (`--map-users C:H:N ... --setgroups allow -S 0 -G 0`).
    pub userns_flags: Vec<String>,
    /// A user namespace joined by path (a pod's sandbox's): the chain is root in it, as
    /// in one of its own; the host uid and gid its root is.
    pub joined_root: Option<(u32, u32)>,
    /// What the mount namespace must allow: slave where some mount follows the host's
    /// (an `rslave` volume, or the root with `rootfsPropagation` slave), shared where a
    /// volume is a peer of the host's mount (`rshared`).
    pub propagation: Propagation,
    /// `ovlmount enter` flags for the mounts (`--proc`, `--bind S:D:ro`, ...).
    pub mount_flags: Vec<String>,
    /// `linux.maskedPaths`.
    pub masked: Vec<String>,
    /// `linux.readonlyPaths`.
    pub readonly_paths: Vec<String>,
    /// The cgroup (a cgctl NAME).
    pub cgroup: String,
    /// `cgctl exec` flags for `linux.resources`.
    pub limit_flags: Vec<String>,
    /// `linux.sysctl`, as `KEY=VALUE` (checked: namespaced, its namespace the container's).
    pub sysctls: Vec<String>,
    /// `linux.seccomp`, as the docker-format profile `--seccomp` reads.
    pub seccomp: Option<serde_json::Value>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `hooks`.
    pub hooks: crate::hooks::Hooks,
}

fn unsupported(field: impl Into<String>, why: impl Into<String>) -> Error {
    Error::Unsupported { field: field.into(), why: why.into() }
}

/// Read `BUNDLE/config.json`.
pub fn load(bundle: &Path) -> Result<Spec, Error> {
    let path = bundle.join("config.json");
    if !path.is_file() {
        return Err(Error::Bundle(format!("cannot read '{}': no such file", path.display())));
    }
    Spec::load(&path).map_err(|e| Error::Bundle(format!("'{}' is not a valid runtime spec: {e}", path.display())))
}

/// Decide the plan for container `id` of `bundle`.
pub fn plan(spec: &Spec, bundle: &Path, id: &str) -> Result<Plan, Error> {
    let bundle = std::path::absolute(bundle).map_err(|e| Error::Bundle(format!("'{}': {e}", bundle.display())))?;
    let mut p = Plan { bundle: bundle.clone(), ..Plan::default() };
    let root = spec.root().as_ref().ok_or_else(|| unsupported("root", "a root filesystem is required"))?;
    p.rootfs = if root.path().is_absolute() { root.path().clone() } else { bundle.join(root.path()) };
    if !p.rootfs.is_dir() {
        return Err(unsupported("root.path", format!("'{}' is not a directory", p.rootfs.display())));
    }
    p.readonly = root.readonly().unwrap_or(false);
    decide_process(spec, &mut p)?;
    p.hostname = spec.hostname().clone().filter(|h| !h.is_empty());
    if spec.domainname().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(unsupported("domainname", "setting the NIS domain name is not supported"));
    }
    p.hooks = crate::hooks::Hooks::from_spec(spec.hooks().as_ref())?;
    p.annotations = spec.annotations().clone().unwrap_or_default().into_iter().collect();
    linux(spec, &mut p, id)?;
    mounts(spec.mounts().as_deref().unwrap_or_default(), &mut p)?;
    if p.terminal && !p.mount_flags.iter().any(|f| f == "--dev") {
        return Err(unsupported(
            "process.terminal",
            "the pty comes from the container's devpts: a tmpfs /dev mount is needed",
        ));
    }
    Ok(p)
}

/// Decide `spec.process` into `p` (a container's, or an `exec`'s process file).
pub fn decide_process(spec: &Spec, p: &mut Plan) -> Result<(), Error> {
    let pr = spec.process().as_ref().ok_or_else(|| unsupported("process", "a process is required"))?;
    p.terminal = pr.terminal().unwrap_or(false);
    p.args = pr.args().clone().unwrap_or_default();
    if p.args.is_empty() {
        return Err(unsupported("process.args", "at least the program is required"));
    }
    for e in pr.env().as_deref().unwrap_or_default() {
        match e.split_once('=') {
            Some((k, v)) if !k.is_empty() => p.env.push((k.to_string(), v.to_string())),
            _ => return Err(unsupported("process.env", format!("'{e}' is not KEY=VALUE"))),
        }
    }
    p.cwd = pr.cwd().display().to_string();
    let user = pr.user();
    (p.uid, p.gid) = (user.uid(), user.gid());
    p.groups = user.additional_gids().clone().unwrap_or_default();
    p.umask = user.umask();
    if pr.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(unsupported("process.apparmorProfile", "AppArmor is not supported"));
    }
    if pr.selinux_label().as_ref().is_some_and(|a| !a.is_empty()) {
        return Err(unsupported("process.selinuxLabel", "SELinux is not supported"));
    }
    if let Some(c) = pr.capabilities() {
        let names = |set: &Option<oci_spec::runtime::Capabilities>| -> Vec<String> {
            let mut v: Vec<String> = set.iter().flatten().map(|c| c.to_string()).collect();
            v.sort();
            v
        };
        let bounding = names(c.bounding());
        let within = |field: &str, set: &[String]| match set.iter().find(|c| !bounding.contains(c)) {
            Some(c) => {
                Err(unsupported(format!("process.capabilities.{field}"), format!("{c} is not in the bounding set")))
            }
            None => Ok(()),
        };
        let (effective, permitted) = (names(c.effective()), names(c.permitted()));
        let (inheritable, ambient) = (names(c.inheritable()), names(c.ambient()));
        for (field, set) in [("effective", &effective), ("permitted", &permitted), ("inheritable", &inheritable)] {
            within(field, set)?;
        }
        if p.uid == 0 {
            // Root's program gets the bounding set as its permitted and effective sets at
            // exec, whatever they were before; inheritable and ambient sets within the
            // bounding set change nothing of that, and are left empty.
            for (field, set) in [("effective", &effective), ("permitted", &permitted)] {
                if *set != bounding {
                    return Err(unsupported(
                        format!("process.capabilities.{field}"),
                        "for root, only the bounding set is supported",
                    ));
                }
            }
            within("ambient", &ambient)?;
        } else {
            // Another user's program keeps through exec what is ambient (which the kernel
            // takes only from the permitted and inheritable sets): podman's --cap-add
            // for a non-root --user.
            if let Some(c) = ambient.iter().find(|c| !(permitted.contains(c) && inheritable.contains(c))) {
                return Err(unsupported(
                    "process.capabilities.ambient",
                    format!("{c} is not in the permitted and inheritable sets, so it cannot be ambient"),
                ));
            }
            within("ambient", &ambient)?;
            p.ambient = ambient;
        }
        p.caps = Some(bounding);
    }
    p.no_new_privs = pr.no_new_privileges().unwrap_or(false);
    for (i, r) in pr.rlimits().iter().flatten().enumerate() {
        let name = serde_json::to_value(r.typ())?.as_str().unwrap_or_default().to_string();
        let resource = chainload::rlimit::resource_number(&name)
            .filter(|_| name.starts_with("RLIMIT_"))
            .ok_or_else(|| unsupported(format!("process.rlimits[{i}]"), name))?;
        p.rlimits.push(chainload::rlimit::Rlimit { resource, soft: r.soft(), hard: r.hard() });
    }
    p.oom_score_adj = pr.oom_score_adj();
    Ok(())
}

fn linux(spec: &Spec, p: &mut Plan, id: &str) -> Result<(), Error> {
    let Some(l) = spec.linux() else {
        return Err(unsupported("linux", "a Linux section is required"));
    };
    let mut joined_user = None;
    for (i, ns) in l.namespaces().iter().flatten().enumerate() {
        if let Some(path) = ns.path() {
            // (A pod's containers join its sandbox's network, IPC and UTS namespaces.)
            // (A PID namespace joined is where the init is forked: Kubernetes'
            // shareProcessNamespace.)
            let flag = match ns.typ() {
                LinuxNamespaceType::Network => "--net",
                LinuxNamespaceType::Ipc => "--ipc",
                LinuxNamespaceType::Uts => "--uts",
                LinuxNamespaceType::Cgroup => "--cgroup",
                LinuxNamespaceType::Time => "--time",
                LinuxNamespaceType::Pid => "--pid",
                LinuxNamespaceType::User => "--user",
                // (runc sets the root up in a joined mount namespace and pivots it
                // there, for every process of that namespace: refused here.)
                LinuxNamespaceType::Mount => {
                    return Err(unsupported(
                        format!("linux.namespaces[{i}].path"),
                        "joining a mount namespace is refused: the container's root would be mounted and \
                         pivoted in it, under every process already there",
                    ))
                }
            };
            if !path.is_absolute() {
                return Err(unsupported(format!("linux.namespaces[{i}].path"), "must be absolute"));
            }
            p.joins.push(format!("{flag}={}", path.display()));
            if flag == "--user" {
                joined_user = Some((i, path.clone()));
            }
            continue;
        }
        let flag = match ns.typ() {
            LinuxNamespaceType::Pid => "--pid",
            LinuxNamespaceType::Network => "--net",
            LinuxNamespaceType::Ipc => "--ipc",
            LinuxNamespaceType::Uts => "--uts",
            LinuxNamespaceType::Mount => "--mount",
            LinuxNamespaceType::Cgroup => "--cgroup",
            LinuxNamespaceType::Time => "--time",
            LinuxNamespaceType::User => "--user",
        };
        p.namespaces.push(flag);
    }
    if !p.namespaces.contains(&"--mount") {
        return Err(unsupported("linux.namespaces", "a mount namespace is required (the root is mounted in it)"));
    }
    if p.hostname.is_some() && !p.namespaces.contains(&"--uts") {
        return Err(unsupported("hostname", "needs a UTS namespace of the container's own (not a joined one)"));
    }
    match joined_user {
        Some((i, path)) => p.joined_root = Some(joined_id_maps(l, i, &path)?),
        None => p.userns_flags = id_maps(l, p.namespaces.contains(&"--user"))?,
    }
    for (key, value) in l.sysctl().iter().flatten() {
        p.sysctls.push(sysctl(key, value, l.namespaces().as_deref().unwrap_or_default())?);
    }
    for (i, d) in l.devices().iter().flatten().enumerate() {
        p.mount_flags.extend(["--device-node".into(), device_node(i, d)?]);
    }
    // (runc makes `/` what this says after pivot_root; with shared, it also leaves every
    // bind of a host path on a shared mount a peer of it. Here only volumes marked
    // rshared are: the others stay private.)
    let root = match l.rootfs_propagation().as_deref().unwrap_or_default() {
        "" | "private" | "rprivate" => None,
        "slave" | "rslave" => {
            p.propagation = p.propagation.max(Propagation::Slave);
            Some("slave")
        }
        "shared" | "rshared" => Some("shared"),
        "unbindable" | "runbindable" => Some("unbindable"),
        prop => {
            return Err(unsupported(
                "linux.rootfsPropagation",
                format!("'{prop}': expected private, slave, shared or unbindable (or their r forms)"),
            ))
        }
    };
    if let Some(root) = root {
        p.mount_flags.extend(["--rootfs-propagation".into(), root.into()]);
    }
    p.masked = l.masked_paths().clone().unwrap_or_default();
    p.readonly_paths = l.readonly_paths().clone().unwrap_or_default();
    p.cgroup = cgroup_name(l.cgroups_path().as_deref(), id)?;
    if let Some(r) = l.resources() {
        p.limit_flags = resources(r)?;
    } else {
        p.limit_flags = vec!["--devices".into(), "default".into()];
    }
    if let Some(s) = l.seccomp() {
        p.seccomp = Some(serde_json::to_value(s)?);
    }
    Ok(())
}

/// `linux.uidMappings` and `gidMappings` as unshare-rs flags: each mapping a
/// `--map-users`/`--map-groups` INNER:OUTER:COUNT, setgroups allowed (the mappings are
/// root's to write), and the chain root in the namespace (so the container's root must
/// be mapped: 0 in both). Mappings without a user namespace of the container's own, or
/// one without mappings, are errors.
fn id_maps(l: &oci_spec::runtime::Linux, userns: bool) -> Result<Vec<String>, Error> {
    let (uids, gids) = (l.uid_mappings().clone().unwrap_or_default(), l.gid_mappings().clone().unwrap_or_default());
    if !userns {
        if !uids.is_empty() || !gids.is_empty() {
            return Err(unsupported("linux.uidMappings", "id mappings need a user namespace of the container's own"));
        }
        return Ok(Vec::new());
    }
    let mut f = Vec::new();
    for (field, maps, flag) in [("uidMappings", &uids, "--map-users"), ("gidMappings", &gids, "--map-groups")] {
        if maps.is_empty() {
            return Err(unsupported(format!("linux.{field}"), "a user namespace needs its mappings"));
        }
        if !maps.iter().any(|m| m.container_id() == 0 && m.size() > 0) {
            return Err(unsupported(format!("linux.{field}"), "the container's root (id 0) must be mapped"));
        }
        for m in maps {
            f.extend([flag.to_string(), format!("{}:{}:{}", m.container_id(), m.host_id(), m.size())]);
        }
    }
    f.extend(["--setgroups", "allow", "--setuid", "0", "--setgid", "0"].map(String::from));
    Ok(f)
}

/// With a user namespace joined by `path` (`linux.namespaces[i]`): the host uid and gid
/// of its root (the chain's credentials there; it must be mapped). Mappings in the
/// config must be the namespace's own, or it is an error (they cannot be changed once
/// written). They are read from a process in that namespace, as the host sees them.
fn joined_id_maps(l: &oci_spec::runtime::Linux, i: usize, path: &Path) -> Result<(u32, u32), Error> {
    let field = format!("linux.namespaces[{i}].path");
    let (uids, gids) = (l.uid_mappings().clone().unwrap_or_default(), l.gid_mappings().clone().unwrap_or_default());
    let member = crate::userns::member(path).map_err(|why| unsupported(&field, why))?;
    let mut root = [0u32; 2];
    for (k, (name, maps, file)) in
        [("uidMappings", &uids, "uid_map"), ("gidMappings", &gids, "gid_map")].into_iter().enumerate()
    {
        let has = crate::userns::read_map(member, file).map_err(|why| unsupported(&field, why))?;
        root[k] = crate::userns::outer_of(&has, 0)
            .ok_or_else(|| unsupported(&field, format!("the joined user namespace has no root ({file})")))?;
        let asked: Vec<(u32, u32, u32)> = maps.iter().map(|m| (m.container_id(), m.host_id(), m.size())).collect();
        if !asked.is_empty() && crate::userns::sorted(asked) != crate::userns::sorted(has.clone()) {
            let shown: Vec<String> = has.iter().map(|(c, h, n)| format!("{c}:{h}:{n}")).collect();
            return Err(unsupported(
                format!("linux.{name}"),
                format!("not those of the joined user namespace {} ({})", path.display(), shown.join(" ")),
            ));
        }
    }
    Ok((root[0], root[1]))
}

/// One `linux.devices` entry as `ovlmount enter --device-node`'s
/// `DST:TYPE:MAJ:MIN:MODE:UID:GID` (the node made by number, as runc makes it; whether
/// it may be opened is `linux.resources.devices`' to say).
fn device_node(i: usize, d: &oci_spec::runtime::LinuxDevice) -> Result<String, Error> {
    let field = format!("linux.devices[{i}]");
    let path = d.path().display().to_string();
    if !path.starts_with('/') || path.contains(':') {
        return Err(unsupported(format!("{field}.path"), format!("'{path}': must be absolute (and without ':')")));
    }
    let kind = match d.typ() {
        oci_spec::runtime::LinuxDeviceType::A => {
            return Err(unsupported(format!("{field}.type"), "'a' is a cgroup rule, not a node's type (c, b, u, p)"))
        }
        t => t.as_str().to_string(),
    };
    let number = |what: &str, n: i64| {
        u32::try_from(n).map_err(|_| unsupported(format!("{field}.{what}"), format!("{n} is not a device number")))
    };
    let (major, minor) = (number("major", d.major())?, number("minor", d.minor())?);
    let mode = d.file_mode().unwrap_or(0o666) & 0o7777;
    Ok(format!("{path}:{kind}:{major}:{minor}:{mode:o}:{}:{}", d.uid().unwrap_or(0), d.gid().unwrap_or(0)))
}

/// One `linux.sysctl` entry as `ovlmount enter --sysctl`'s `KEY=VALUE`: a namespaced
/// key whose namespace the container has of its own (made, or joined by path), as runc
/// requires.
fn sysctl(key: &str, value: &str, namespaces: &[oci_spec::runtime::LinuxNamespace]) -> Result<String, Error> {
    use ovlmount::hostns::Namespace;
    let field = || format!("linux.sysctl.{key}");
    let s = ovlmount::sysctl::Sysctl::new(key, value).map_err(|e| unsupported(field(), e))?;
    let typ = match s.namespace {
        Namespace::Net => LinuxNamespaceType::Network,
        Namespace::Ipc => LinuxNamespaceType::Ipc,
        Namespace::Uts | Namespace::Mnt => LinuxNamespaceType::Uts,
    };
    if !namespaces.iter().any(|n| n.typ() == typ) {
        return Err(unsupported(
            field(),
            format!("needs a {} namespace of the container's own (linux.namespaces has none)", s.namespace.name()),
        ));
    }
    Ok(format!("{}={}", s.key, s.value))
}

/// `linux.cgroupsPath` as a cgctl NAME: a path as it is (absolute from each hierarchy's
/// root, or relative to the caller's own cgroup); systemd's `SLICE:PREFIX:NAME` as the
/// cgroupfs path systemd gives it (`/SLICE/PREFIX-NAME.scope`, nested slices expanded);
/// none: `ctr-oci-ID` below the caller's cgroup.
pub fn cgroup_name(path: Option<&Path>, id: &str) -> Result<String, Error> {
    let Some(path) = path.map(|p| p.display().to_string()).filter(|p| !p.is_empty()) else {
        return Ok(format!("ctr-oci-{id}"));
    };
    let parts: Vec<&str> = path.split(':').collect();
    match parts.as_slice() {
        [_] => Ok(path.clone()),
        [slice, prefix, name] => {
            let slice = if slice.is_empty() { "system.slice" } else { slice };
            if !slice.ends_with(".slice") {
                return Err(unsupported("linux.cgroupsPath", format!("'{path}': '{slice}' is not a slice")));
            }
            // a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice.
            let stem = slice.trim_end_matches(".slice");
            let mut dirs = Vec::new();
            let mut acc = String::new();
            for piece in stem.split('-') {
                if !acc.is_empty() {
                    acc.push('-');
                }
                acc.push_str(piece);
                dirs.push(format!("{acc}.slice"));
            }
            let unit = if prefix.is_empty() { format!("{name}.scope") } else { format!("{prefix}-{name}.scope") };
            Ok(format!("/{}/{unit}", dirs.join("/")))
        }
        _ => Err(unsupported("linux.cgroupsPath", format!("'{path}' is neither a path nor SLICE:PREFIX:NAME"))),
    }
}

fn resources(r: &oci_spec::runtime::LinuxResources) -> Result<Vec<String>, Error> {
    let mut f = limit_flags(r)?;
    f.extend(device_flags(r));
    Ok(f)
}

/// `update`'s cgctl flags for `r`: its limits and, where it has a device list, that.
pub fn update_flags(r: &oci_spec::runtime::LinuxResources) -> Result<Vec<String>, Error> {
    let mut f = limit_flags(r)?;
    if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
        f.extend(device_flags(r));
    }
    Ok(f)
}

/// cgctl's limit flags for `r` (devices aside).
fn limit_flags(r: &oci_spec::runtime::LinuxResources) -> Result<Vec<String>, Error> {
    let mut f: Vec<String> = Vec::new();
    let mut add = |flag: &str, v: String| {
        f.push(flag.to_string());
        f.push(v);
    };
    if let Some(m) = r.memory() {
        if let Some(limit) = m.limit().filter(|l| *l > 0) {
            add("--memory", limit.to_string());
        }
        match m.swap() {
            Some(-1) => add("--memory-swap", "-1".into()),
            Some(s) if s > 0 => add("--memory-swap", s.to_string()),
            _ => {}
        }
        if let Some(res) = m.reservation().filter(|l| *l > 0) {
            add("--memory-reservation", res.to_string());
        }
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            return Err(unsupported("linux.resources.memory.kernel", "kernel memory limits are not supported"));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s > 0) {
            add("--cpu-shares", s.to_string());
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            add("--cpu-quota", q.to_string());
        }
        if let Some(per) = c.period().filter(|p| *p > 0) {
            add("--cpu-period", per.to_string());
        }
        if let Some(cpus) = c.cpus().as_ref().filter(|s| !s.is_empty()) {
            add("--cpuset-cpus", cpus.clone());
        }
        if let Some(mems) = c.mems().as_ref().filter(|s| !s.is_empty()) {
            add("--cpuset-mems", mems.clone());
        }
        if c.realtime_period().is_some() || c.realtime_runtime().is_some() {
            return Err(unsupported("linux.resources.cpu.realtimeRuntime", "not supported"));
        }
    }
    if let Some(pids) = r.pids() {
        let l = pids.limit();
        add("--pids-limit", if l <= 0 { "max".into() } else { l.to_string() });
    }
    if let Some(b) = r.block_io() {
        if let Some(w) = b.weight() {
            add("--io-weight", w.to_string());
        }
        let throttles = [
            (b.throttle_read_bps_device(), "--device-read-bps"),
            (b.throttle_write_bps_device(), "--device-write-bps"),
            (b.throttle_read_iops_device(), "--device-read-iops"),
            (b.throttle_write_iops_device(), "--device-write-iops"),
        ];
        for (list, flag) in throttles {
            for d in list.iter().flatten() {
                add(flag, format!("{}:{}:{}", d.major(), d.minor(), d.rate()));
            }
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.weightDevice[{i}]");
            if d.leaf_weight().is_some() {
                return Err(unsupported(
                    format!("{field}.leafWeight"),
                    "leaf weights are not supported (cgroup v1's CFQ only)",
                ));
            }
            let w = d.weight().ok_or_else(|| unsupported(&field, "a device entry needs its weight"))?;
            cgctl::limits::parse_io_weight(&w.to_string()).map_err(|e| unsupported(format!("{field}.weight"), e))?;
            add("--io-weight-device", format!("{}:{}:{w}", d.major(), d.minor()));
        }
        if b.leaf_weight().is_some() {
            return Err(unsupported(
                "linux.resources.blockIO.leafWeight",
                "leaf weights are not supported (cgroup v1's CFQ only)",
            ));
        }
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(unsupported("linux.resources.hugepageLimits", "not supported"));
    }
    Ok(f)
}

/// cgctl's device flags for `r`: runc's default allow-list (what a deny-all first rule,
/// as podman and containerd send it, expects), then each rule after it in order.
fn device_flags(r: &oci_spec::runtime::LinuxResources) -> Vec<String> {
    let mut f: Vec<String> = vec!["--devices".into(), "default".into()];
    let mut add = |flag: &str, v: String| {
        f.push(flag.to_string());
        f.push(v);
    };
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let kind = d.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let rule = if kind == "a" {
            format!("a {access}")
        } else {
            format!("{kind} {}:{} {access}", num(d.major()), num(d.minor()))
        };
        let deny_all = !d.allow() && kind == "a" && d.major().is_none() && d.minor().is_none();
        if i == 0 && deny_all {
            continue;
        }
        add(if d.allow() { "--device-allow" } else { "--device-deny" }, rule);
    }
    f
}

fn mounts(list: &[Mount], p: &mut Plan) -> Result<(), Error> {
    let has_dev = list.iter().any(|m| m.destination() == Path::new("/dev") && m.typ().as_deref() == Some("tmpfs"));
    for (i, m) in list.iter().enumerate() {
        let field = format!("mounts[{i}]");
        let dst = m.destination().display().to_string();
        let kind = m.typ().clone().unwrap_or_default();
        let options: Vec<String> = m.options().clone().unwrap_or_default();
        let is_bind = kind == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        match (kind.as_str(), dst.as_str()) {
            ("proc", "/proc") => p.mount_flags.push("--proc".into()),
            ("tmpfs", "/dev") => p.mount_flags.push("--dev".into()),
            ("devpts", "/dev/pts") | ("tmpfs", "/dev/shm") | ("mqueue", "/dev/mqueue") if has_dev => {}
            ("sysfs", "/sys") => p.mount_flags.push("--sys".into()),
            ("cgroup" | "cgroup2", "/sys/fs/cgroup") => {
                // The container's own groups, read-only: new mounts inside a cgroup
                // namespace, binds of its groups' directories without one (runc's way).
                p.mount_flags.push("--cgroupfs".into());
            }
            ("cgroup" | "cgroup2", _) => {
                return Err(unsupported(
                    field,
                    format!("a {kind} mount on {dst} is not supported (only on /sys/fs/cgroup)"),
                ));
            }
            ("tmpfs", _) => {
                // ovlmount's tmpfs options (nosuid and nodev unless `suid`/`dev` say
                // otherwise: stronger than the spec's bare default). Every mount here is
                // private: the private propagations are what it is, the others refused.
                let mut opts = Vec::new();
                for o in &options {
                    match o.as_str() {
                        "private" | "rprivate" => {}
                        "shared" | "rshared" | "slave" | "rslave" | "unbindable" | "runbindable" => {
                            return Err(unsupported(
                                &field,
                                format!("propagation '{o}' is not supported (only private)"),
                            ))
                        }
                        o => opts.push(o),
                    }
                }
                let arg = if opts.is_empty() { dst.clone() } else { format!("{dst}:{}", opts.join(",")) };
                arg.parse::<ovlmount::tmpfs::Tmpfs>().map_err(|e| unsupported(&field, e))?;
                p.mount_flags.extend(["--tmpfs".into(), arg]);
            }
            _ if is_bind => {
                let src = m.source().as_ref().ok_or_else(|| unsupported(&field, "a bind mount needs a source"))?;
                let src = if src.is_absolute() { src.clone() } else { p.bundle.join(src) };
                let mut opts = Vec::new();
                for o in &options {
                    match o.as_str() {
                        "bind" | "rbind" | "rw" | "private" | "rprivate" | "relatime" => {}
                        "ro" | "nosuid" | "nodev" | "noexec" => opts.push(o.as_str()),
                        // (Kubernetes' HostToContainer.)
                        "slave" | "rslave" => {
                            opts.push("rslave");
                            p.propagation = p.propagation.max(Propagation::Slave);
                        }
                        // (Kubernetes' Bidirectional.)
                        "shared" | "rshared" => {
                            opts.push("rshared");
                            p.propagation = Propagation::Shared;
                        }
                        "unbindable" => opts.push("unbindable"),
                        "runbindable" => opts.push("runbindable"),
                        other => return Err(unsupported(&field, format!("bind option '{other}' is not supported"))),
                    }
                }
                let mut arg = format!("{}:{dst}", src.display());
                if !opts.is_empty() {
                    arg = format!("{arg}:{}", opts.join(","));
                }
                p.mount_flags.extend(["--bind".into(), arg]);
            }
            _ => return Err(unsupported(field, format!("a {kind} mount on {dst} is not supported"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_paths() {
        assert_eq!(cgroup_name(None, "c1").ok(), Some("ctr-oci-c1".into()));
        assert_eq!(
            cgroup_name(Some(Path::new("/libpod_parent/libpod-x")), "x").ok(),
            Some("/libpod_parent/libpod-x".into())
        );
        assert_eq!(cgroup_name(Some(Path::new("a/b")), "x").ok(), Some("a/b".into()));
        assert_eq!(
            cgroup_name(Some(Path::new("machine-libpod.slice:libpod:abc")), "abc").ok(),
            Some("/machine.slice/machine-libpod.slice/libpod-abc.scope".into())
        );
        assert_eq!(cgroup_name(Some(Path::new(":crio:abc")), "abc").ok(), Some("/system.slice/crio-abc.scope".into()));
        assert!(cgroup_name(Some(Path::new("user:x:y")), "y").is_err());
    }
}
