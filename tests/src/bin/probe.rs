//! probe: run inside namespaces, print one JSON object about this process.
//!
//! Fields: pid, ppid, uid/euid/gid/egid, groups, hostname, uid_map, gid_map, setgroups,
//! ns (inode of each /proc/self/ns/*), cgroup (lines of /proc/self/cgroup), mount_count,
//! root_propagation, mounts, caps (hex sets and the bounding set), no_new_privs, cwd,
//! fds (open descriptors), env, pids (pids visible in /proc).
//!
//! `probe [--alloc MIB] [--fork N] [--exit N] [--sleep SECS] [--out FILE]`: allocate and
//! touch MIB mebibytes first (memory limit tests); try to fork N children that just wait
//! to be killed (pids limit tests; `forked` and `fork_failures` report how it went);
//! print (to FILE if given), then sleep, then exit with N.
//!
//! `probe --count-sigint SECS`: count the SIGINTs that arrive for SECS seconds instead
//! (it prints `ready` first, then `total N sent M`, M being those sent by a process
//! with kill(2) rather than by the kernel, as a terminal sends Ctrl-C).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn map_lines(path: &str) -> Value {
    let rows: Vec<Vec<u64>> =
        read(path).lines().map(|l| l.split_whitespace().filter_map(|x| x.parse().ok()).collect()).collect();
    json!(rows)
}

fn status_field(status: &str, key: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string()).unwrap_or_default()
}

fn ns_inodes() -> Value {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    for name in ["cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"] {
        if let Ok(m) = std::fs::metadata(format!("/proc/self/ns/{name}")) {
            out.insert(name.to_string(), json!(m.ino()));
        }
    }
    json!(out)
}

fn fds() -> Vec<u32> {
    // Collect first, so the directory's own descriptor is the only one to subtract.
    let dir: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    let mut fds: Vec<u32> = dir.iter().filter_map(|n| n.parse().ok()).collect();
    fds.sort_unstable();
    // The highest one was the read_dir handle itself (opened last, closed by now).
    let open: Vec<u32> =
        fds.into_iter().filter(|fd| Path::new(&format!("/proc/self/fd/{fd}")).exists() || *fd <= 2).collect();
    open
}

fn pids() -> Vec<u32> {
    let mut v: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

static SIGINTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static SIGINTS_SENT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn on_sigint(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::sync::atomic::Ordering::Relaxed;
    SIGINTS.fetch_add(1, Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    if unsafe { (*info).si_code } != libc::SI_KERNEL {
        SIGINTS_SENT.fetch_add(1, Relaxed);
    }
}

fn count_sigint(secs: f64) -> ! {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    use std::io::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let action = SigAction::new(SigHandler::SigAction(on_sigint), SaFlags::SA_SIGINFO, SigSet::empty());
    // SAFETY: the handler only touches atomics.
    if unsafe { sigaction(Signal::SIGINT, &action) }.is_err() {
        std::process::exit(3);
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        std::thread::sleep(left);
    }
    println!("total {} sent {}", SIGINTS.load(Relaxed), SIGINTS_SENT.load(Relaxed));
    std::process::exit(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--count-sigint") {
        count_sigint(args.get(1).and_then(|v| v.parse().ok()).unwrap_or(2.0));
    }
    let mut exit = 0;
    let mut sleep = 0.0f64;
    let mut out: Option<String> = None;
    let mut alloc_mib = 0usize;
    let mut forks = 0usize;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--exit" => exit = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "--sleep" => sleep = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0.0),
            "--out" => out = args.get(i + 1).cloned(),
            "--alloc" => alloc_mib = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "--fork" => forks = args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0),
            other => {
                eprintln!("probe: unknown argument '{other}'");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let mut hog: Vec<Vec<u8>> = Vec::new();
    for _ in 0..alloc_mib {
        // Non-zero bytes: every page is really touched.
        hog.push(vec![1u8; 1 << 20]);
    }
    let (mut forked, mut fork_failures) = (0, 0);
    for _ in 0..forks {
        // SAFETY: the probe is single-threaded; the child only sleeps until it is killed.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            Ok(nix::unistd::ForkResult::Parent { .. }) => forked += 1,
            Err(_) => fork_failures += 1,
        }
    }
    let status = read("/proc/self/status");
    let mounts = mountinfo::parse(&read("/proc/self/mountinfo"));
    let root_prop = mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == Path::new("/"))
        .map(|m| format!("{:?}", m.propagation()).to_lowercase())
        .unwrap_or_default();
    let mount_list: Vec<Value> = mounts
        .iter()
        .map(|m| {
            json!({
                "mount_point": m.mount_point,
                "fstype": m.fstype,
                "source": m.source,
                "options": m.options,
                "super_options": m.super_options,
                "propagation": format!("{:?}", m.propagation()).to_lowercase(),
            })
        })
        .collect();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    let groups: Vec<u32> = nix::unistd::getgroups().map(|g| g.iter().map(|x| x.as_raw()).collect()).unwrap_or_default();
    let v = json!({
        "pid": std::process::id(),
        "ppid": nix::unistd::getppid().as_raw(),
        "uid": nix::unistd::getuid().as_raw(),
        "euid": nix::unistd::geteuid().as_raw(),
        "gid": nix::unistd::getgid().as_raw(),
        "egid": nix::unistd::getegid().as_raw(),
        "groups": groups,
        "hostname": hostname,
        "uid_map": map_lines("/proc/self/uid_map"),
        "gid_map": map_lines("/proc/self/gid_map"),
        "setgroups": read("/proc/self/setgroups").trim(),
        "ns": ns_inodes(),
        "cgroup": read("/proc/self/cgroup").lines().collect::<Vec<_>>(),
        "mount_count": mounts.len(),
        "root_propagation": root_prop,
        "mounts": mount_list,
        "caps": {
            "inheritable": status_field(&status, "CapInh:"),
            "permitted": status_field(&status, "CapPrm:"),
            "effective": status_field(&status, "CapEff:"),
            "bounding": status_field(&status, "CapBnd:"),
            "ambient": status_field(&status, "CapAmb:"),
        },
        "no_new_privs": status_field(&status, "NoNewPrivs:"),
        "cwd": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
        "fds": fds(),
        "env": env,
        "pids": pids(),
        "allocated_mib": hog.len(),
        "forked": forked,
        "fork_failures": fork_failures,
    });
    let text = format!("{v}\n");
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("probe: cannot write '{path}': {e}");
                std::process::exit(2);
            }
        }
        None => print!("{text}"),
    }
    if sleep > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(sleep));
    }
    std::process::exit(exit);
}
