//! The chain a [`Plan`] becomes: `cgctl exec --create` (the cgroup in every hierarchy,
//! and its limits) →
//! `unshare-rs --detach` (the namespaces; the init is nobody's child of ours) →
//! `ovlmount enter --rootfs` (mounts, masks, credentials, capabilities, seccomp, and the
//! start gate).

use std::path::Path;

use crate::bundle::Plan;
use crate::state::ContainerDir;
use ovlmount::enter::Propagation;

/// The tools of the chain.
pub use chainload::tools::Tools;

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// The chain's argv. `preserve_fds`: descriptors 3.. the program keeps; the one after
/// them carries the container's stderr to the start gate. `console`: the console socket
/// (with `process.terminal`).
pub fn argv(plan: &Plan, tools: &Tools, dir: &ContainerDir, preserve_fds: u32, console: Option<&Path>) -> Vec<String> {
    // In every hierarchy, as runc puts a container: its clients read the usage of each
    // (containerd's metrics: cpuacct, blkio) from the groups its init is in.
    let mut a: Vec<String> =
        vec![s(&tools.cgctl), "exec".into(), "--create".into(), "--controllers".into(), "all".into()];
    a.extend(plan.limit_flags.iter().cloned());
    a.extend([plan.cgroup.clone(), "--".into()]);

    if !plan.joins.is_empty() {
        // Joined before the new ones are made (a pod's container: the sandbox's network,
        // IPC and UTS, then a PID and mount namespace of its own). Without a fork: a
        // joined PID namespace is the one unshare-rs forks the init into, and the pid
        // it writes is then still the host's.
        a.push(s(&tools.nsenter));
        a.push("--no-fork".into());
        a.extend(plan.joins.iter().cloned());
        a.push("--".into());
    }
    // (In a joined user namespace the chain cannot reach the state directory: the pid
    // file goes to a directory of the namespace's root, passed as a descriptor.)
    let pid_file = match plan.joined_root {
        Some(_) => format!("/proc/self/fd/{}/{}", pid_dir_fd(preserve_fds), crate::state::PID_FILE),
        None => s(&dir.pid_file()),
    };
    a.extend([s(&tools.unshare), "--detach".into(), "--pid-file".into(), pid_file]);
    a.extend(plan.namespaces.iter().map(|n| n.to_string()));
    a.extend(plan.userns_flags.iter().cloned());
    // (Shared: the namespace's copies of the host's shared mounts stay peers until
    // ovlmount has cloned the volumes that are to be; it makes `/` a slave after that.)
    match plan.propagation {
        Propagation::Private => {}
        Propagation::Slave => a.extend(["--propagation".into(), "slave".into()]),
        Propagation::Shared => a.extend(["--propagation".into(), "unchanged".into()]),
    }
    if plan.namespaces.contains(&"--net") {
        a.push("--loopback".into());
    }
    if let Some(h) = &plan.hostname {
        a.extend(["--hostname".into(), h.clone()]);
    }
    a.push("--".into());

    a.extend([s(&tools.ovlmount), "enter".into(), "--rootfs".into(), s(&plan.rootfs)]);
    match plan.propagation {
        Propagation::Private => {}
        Propagation::Slave => a.extend(["--propagation".into(), "slave".into()]),
        Propagation::Shared => a.extend(["--propagation".into(), "shared".into()]),
    }
    a.extend(plan.mount_flags.iter().cloned());
    for m in &plan.masked {
        a.extend(["--mask".into(), m.clone()]);
    }
    for r in &plan.readonly_paths {
        a.extend(["--read-only-path".into(), r.clone()]);
    }
    if plan.readonly {
        a.push("--readonly".into());
    }
    for s in &plan.sysctls {
        a.extend(["--sysctl".into(), s.clone()]);
    }
    a.extend(["--workdir".into(), plan.cwd.clone()]);
    a.extend(["--user".into(), format!("{}:{}", plan.uid, plan.gid)]);
    let groups: Vec<String> = plan.groups.iter().map(u32::to_string).collect();
    a.extend(["--groups".into(), groups.join(",")]);
    match &plan.caps {
        None => a.push("--all-caps".into()),
        Some(caps) => {
            a.extend(["--cap-drop".into(), "ALL".into()]);
            for c in caps {
                a.extend(["--cap-add".into(), c.clone()]);
            }
        }
    }
    for c in &plan.ambient {
        a.extend(["--ambient-cap".into(), c.clone()]);
    }
    if plan.no_new_privs {
        a.push("--no-new-privs".into());
    }
    let seccomp = match (&plan.seccomp, through_descriptors(plan)) {
        (None, _) => "unconfined".into(),
        (Some(_), true) => format!("/proc/self/fd/{}", seccomp_fd(preserve_fds)),
        (Some(_), false) => s(&dir.seccomp()),
    };
    a.extend(["--seccomp".into(), seccomp]);
    if let Some(c) = console {
        a.extend(["--console-socket".into(), s(c)]);
    }
    a.extend(["--preserve-fds".into(), preserve_fds.to_string()]);
    if plan.hooks.need_gate() {
        a.extend(["--hook-gate".into(), hook_gate_fd(preserve_fds).to_string()]);
    }
    let fifo =
        if through_descriptors(plan) { format!("/proc/self/fd/{}", fifo_fd(preserve_fds)) } else { s(&dir.fifo()) };
    a.extend(["--start-fifo".into(), fifo, "--stderr-fd".into(), stderr_fd(preserve_fds).to_string()]);
    a.push("--".into());
    a.extend(plan.args.iter().cloned());
    a
}

/// The descriptor that carries the container's stderr through the chain.
pub fn stderr_fd(preserve_fds: u32) -> i32 {
    3 + preserve_fds as i32
}

/// The descriptor after it: the hook gate's (with createRuntime or createContainer
/// hooks), where the init says it is mounted and waits for them.
pub fn hook_gate_fd(preserve_fds: u32) -> i32 {
    stderr_fd(preserve_fds) + 1
}

/// In a user namespace the container's root cannot enter the state directory (0700,
/// the host root's): the start FIFO and the seccomp profile are then descriptors that
/// ctr-oci opens and ovlmount reaches through `/proc/self/fd` (as runc passes its FIFO).
pub fn through_descriptors(plan: &Plan) -> bool {
    !plan.userns_flags.is_empty() || plan.joined_root.is_some()
}

/// The start FIFO's descriptor (an O_PATH one), with [`through_descriptors`].
pub fn fifo_fd(preserve_fds: u32) -> i32 {
    hook_gate_fd(preserve_fds) + 1
}

/// The seccomp profile's descriptor, with [`through_descriptors`].
pub fn seccomp_fd(preserve_fds: u32) -> i32 {
    hook_gate_fd(preserve_fds) + 2
}

/// In a joined user namespace: the descriptor (O_PATH) of the directory unshare-rs
/// writes the init's pid file in ([`ContainerDir::joined_pid_dir`]).
pub fn pid_dir_fd(preserve_fds: u32) -> i32 {
    hook_gate_fd(preserve_fds) + 3
}

/// The chain as one shell command (`ctr-oci chain`), with the environment it starts
/// with.
pub fn shell_command(plan: &Plan, argv: &[String]) -> String {
    let mut words: Vec<String> = vec!["env".into(), "-i".into()];
    words.extend(plan.env.iter().map(|(k, v)| format!("{k}={v}")));
    words.extend(argv.iter().cloned());
    chainload::cli::shell_words(&words)
}
