//! `features` (the JSON runc 1.1+ prints) and `spec` (a default `config.json`): both
//! say only what ctr-oci does.

use serde_json::{json, Value};

/// What this runtime supports, in the runtime spec's features document.
pub fn features() -> Value {
    let caps: Vec<String> =
        (0..=chainload::caps::last_cap()).map(|n| chainload::caps::cap_name(n).to_string()).collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": [],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate", "relatime"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86_64"],
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
        },
        "annotations": { "org.opencontainers.runc.version": concat!("ctr-oci ", env!("CARGO_PKG_VERSION")) },
    })
}

/// runc's default masked and read-only paths.
fn masks() -> (Vec<&'static str>, Vec<&'static str>) {
    (ovlmount::rootfs::MASKED.to_vec(), ovlmount::rootfs::READ_ONLY.to_vec())
}

/// A default `config.json`, as `runc spec` writes it, of what ctr-oci runs: `sh` in
/// `rootfs` (read-only), runc's three capabilities, no_new_privs, the standard mounts,
/// the container's cgroups read-only on /sys/fs/cgroup, new pid, network, ipc, uts, mount
/// and cgroup namespaces, every device denied but runc's defaults. (No terminal, unlike
/// runc's: a terminal needs a console socket, which podman and containerd give, and
/// `ctr-oci run` has no pty of its own.)
pub fn default_spec() -> Value {
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let (masked, readonly) = masks();
    json!({
        "ociVersion": crate::state::OCI_VERSION,
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true,
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "ctr-oci",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] },
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
                           { "type": "mount" }, { "type": "cgroup" }],
            "maskedPaths": masked,
            "readonlyPaths": readonly,
        },
    })
}
