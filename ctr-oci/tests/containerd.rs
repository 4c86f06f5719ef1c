//! ctr-oci driven by containerd (its runc shim, `ctr run --runc-binary ctr-oci`), as
//! root: a containerd of the test's own (temporary socket, root and state; the CRI
//! plugin off), an image imported from a docker archive of the busybox root, every
//! container's cgroup below the test's own.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testkit::{is_dead, Cmd};

const IMAGE: &str = "docker.io/library/bb:latest";

struct Containerd {
    dir: testkit::TempDir,
    daemon: Child,
    /// The cgroup parent (absolute, below the test's own cgroup everywhere).
    parent: String,
}

impl Containerd {
    fn new(tag: &str) -> Option<Containerd> {
        let own = testkit::client_preconditions(tag, &["containerd", "ctr"], "containerd (with ctr)")?;
        let dir = testkit::tempdir();
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\", \
             \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", \
             \"io.containerd.snapshotter.v1.aufs\", \"io.containerd.tracing.processor.v1.otlp\"]\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n[ttrpc]\n  address = \"{d}/containerd.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            d = d.display()
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("containerd.log")).unwrap())
            .spawn()
            .unwrap();
        let parent = own.join(format!("ctroci-containerd-{tag}-{}", std::process::id())).display().to_string();
        let c = Containerd { dir, daemon, parent };
        assert!(
            testkit::wait_until(Duration::from_secs(30), || c.ctr(&["version"]).run().code == 0),
            "containerd did not start: {}",
            std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
        );
        c.import();
        Some(c)
    }

    fn import(&self) {
        let d = self.dir.path();
        let rootfs = d.join("rootfs");
        testkit::busybox_rootfs(&rootfs);
        std::fs::write(rootfs.join("etc/motd"), "from the image\n").unwrap();
        let layer = d.join("layer.tar");
        let out = Cmd::tool("ovlmount").arg("commit").arg(&rootfs).arg("-o").arg(&layer).arg("--json").run();
        let diff_id = out.ok().json()["diff_id"].as_str().unwrap().to_string();
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": []}});
        let archive = testkit::docker_save(d, &[(layer, diff_id)], &config);
        self.ctr(&["images", "import"]).arg(archive).run().ok();
    }

    fn ctr(&self, args: &[&str]) -> Cmd {
        Cmd::new("ctr")
            .arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .args(args)
            .timeout(testkit::scaled(Duration::from_secs(60)))
    }

    /// `ctr run --runc-binary ctr-oci` with the container's cgroup below the parent.
    fn run(&self, flags: &[&str], id: &str, command: &[&str]) -> Cmd {
        let runtime = testkit::bin("ctr-oci").display().to_string();
        let cgroup = format!("{}/{id}", self.parent);
        self.ctr(&["run", "--runc-binary", &runtime, "--cgroup", &cgroup]).args(flags).args([IMAGE, id]).args(command)
    }

    /// Nothing of container `id` is left: containerd knows no container of that name,
    /// the runtime's state (containerd's `--root` for it) is gone, no cgroup, and its
    /// init (`pid`, when known) is dead.
    fn assert_gone(&self, id: &str, pid: i32) {
        let listed = self.ctr(&["containers", "ls", "-q"]).run().ok().stdout.clone();
        assert!(!listed.lines().any(|l| l == id), "containerd still has {id}");
        assert!(!Path::new("/run/containerd/runc/default").join(id).exists(), "ctr-oci's state of {id} is left");
        let rows = Cmd::tool("cgctl").args(["ls", "--json"]).run().ok().json();
        let left: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .filter(|n| n.ends_with(&format!("{}/{id}", self.parent)))
            .collect();
        assert!(left.is_empty(), "cgroups left: {left:?}");
        if pid > 0 {
            assert!(testkit::wait_until(Duration::from_secs(10), || is_dead(pid)), "the init {pid} still runs");
        }
    }
}

impl Containerd {
    /// SIGKILL the task `id`, wait until its init `pid` is dead (0: until containerd says
    /// STOPPED), remove task and container, and check that nothing is left.
    fn kill_and_remove(&self, id: &str, pid: i32) {
        self.ctr(&["task", "kill", "-s", "SIGKILL", id]).run().ok();
        assert!(testkit::wait_until(Duration::from_secs(10), || if pid > 0 {
            is_dead(pid)
        } else {
            self.ctr(&["task", "ls"])
                .run()
                .stdout
                .lines()
                .any(|l| l.starts_with(&format!("{id} ")) && l.contains("STOPPED"))
        }));
        self.ctr(&["task", "rm", id]).run().ok();
        self.ctr(&["containers", "rm", id]).run().ok();
        self.assert_gone(id, pid);
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let listed = self.ctr(&["containers", "ls", "-q"]).run().stdout;
        for id in listed.lines().filter(|l| !l.is_empty()) {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", id]).run();
            let _ = self.ctr(&["task", "rm", "-f", id]).run();
            let _ = self.ctr(&["containers", "rm", id]).run();
        }
        testkit::kill_and_reap(&mut self.daemon);
        for m in testkit::mounts_under(self.dir.path()).iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = Cmd::tool("cgctl").args(["rm", "--force", &self.parent]).run();
        testkit::remove_cgroup_everywhere(Path::new(&self.parent));
    }
}

/// `ctr run --rm`: output and exit status through containerd's shim; the container is
/// what the spec containerd wrote asks (its own PID namespace: the command is PID 1).
#[test]
fn containerd_run_gives_output_and_status() {
    let Some(c) = Containerd::new("ctd_run") else { return };
    let out = c.run(&["--rm"], "c1", &["sh", "-c", "cat /etc/motd; echo pid=$$; exit 3"]).run();
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "from the image\npid=1\n");
    c.assert_gone("c1", 0);
}

/// `ctr run -d`, `ctr task kill` (SIGTERM, which the container turns into its status),
/// `ctr task rm`, `ctr containers rm`: the status containerd reports is the container's,
/// and nothing is left.
#[test]
fn containerd_detached_kill_and_rm() {
    let Some(c) = Containerd::new("ctd_kill") else { return };
    let script = "trap 'exit 9' TERM; while true; do sleep 0.1; done";
    c.run(&["-d"], "c2", &["sh", "-c", script]).run().ok();
    let tasks = c.ctr(&["task", "ls"]).run().ok().stdout.clone();
    let row: Vec<&str> = tasks.lines().find(|l| l.starts_with("c2 ")).unwrap().split_whitespace().collect();
    assert_eq!(row[2], "RUNNING", "{tasks}");
    let pid: i32 = row[1].parse().unwrap();
    assert!(!is_dead(pid));
    let state = Cmd::tool("ctr-oci").args(["--root", "/run/containerd/runc/default", "state", "c2"]).run().ok().json();
    assert_eq!((state["status"].as_str(), state["pid"].as_i64()), (Some("running"), Some(pid as i64)));
    c.ctr(&["task", "kill", "c2"]).run().ok();
    assert!(testkit::wait_until(Duration::from_secs(10), || {
        c.ctr(&["task", "ls"]).run().stdout.lines().any(|l| l.starts_with("c2 ") && l.contains("STOPPED"))
    }));
    // `ctr task rm` prints the status the shim got from the init.
    let rm = c.ctr(&["task", "rm", "c2"]).run();
    assert_eq!(rm.code, 0, "{rm:?}");
    c.ctr(&["containers", "rm", "c2"]).run().ok();
    c.assert_gone("c2", pid);
}

/// A command that is not in the image: containerd reports the runtime's own error line
/// (the last JSON line of its log), and nothing is left.
#[test]
fn containerd_surfaces_the_runtimes_error() {
    let Some(c) = Containerd::new("ctd_error") else { return };
    let out = c.run(&["--rm"], "c3", &["/no/such/program"]).run();
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("OCI runtime create failed"), "{out:?}");
    assert!(out.stderr.contains("'/no/such/program': No such file or directory"), "{out:?}");
    c.assert_gone("c3", 0);
}

/// `ctr task pause` / `resume` and `ctr task ps` (the shim asks `ctr-oci ps --format
/// json`): the task is PAUSED with its processes frozen, then RUNNING again; ps lists the
/// init.
#[test]
fn containerd_pause_resume_and_ps() {
    let Some(c) = Containerd::new("ctd_pause") else { return };
    c.run(&["-d"], "c4", &["sh", "-c", "while true; do sleep 0.02; done"]).run().ok();
    let status = || {
        let tasks = c.ctr(&["task", "ls"]).run().ok().stdout.clone();
        let row = tasks.lines().find(|l| l.starts_with("c4 ")).unwrap_or_default().to_string();
        row.split_whitespace().map(String::from).collect::<Vec<_>>()
    };
    let pid: i32 = status()[1].parse().unwrap();
    assert_eq!(c.ctr(&["task", "pause", "c4"]).run().code, 0);
    assert_eq!(status()[2], "PAUSED");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cgroup.contains(&format!("{}/c4", c.parent)), "{cgroup}");
    assert_eq!(c.ctr(&["task", "resume", "c4"]).run().code, 0);
    assert_eq!(status()[2], "RUNNING");
    let ps = c.ctr(&["task", "ps", "c4"]).run().ok().stdout.clone();
    assert!(ps.lines().any(|l| l.split_whitespace().next() == Some(&pid.to_string())), "{ps}");
    c.kill_and_remove("c4", pid);
}

/// `ctr task exec --exec-id` (the shim calls `ctr-oci exec --process FILE --detach
/// --pid-file`): the process file's command runs inside the container and its status
/// comes back.
#[test]
fn containerd_task_exec() {
    let Some(c) = Containerd::new("ctd_exec") else { return };
    c.run(&["-d"], "c5", &["sleep", "100"]).run().ok();
    let out = c
        .ctr(&["task", "exec", "--exec-id", "e1", "c5", "sh", "-c", "cat /etc/motd; readlink /proc/1/exe; exit 4"])
        .run();
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(out.stdout, "from the image\n/bin/busybox\n");
    let out = c.ctr(&["task", "exec", "--exec-id", "e2", "c5", "/no/such/program"]).run();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("/no/such/program"), "{out:?}");
    c.kill_and_remove("c5", 0);
}

/// `ctr task exec -t` (the shim gives `ctr-oci exec` a process file with `terminal`
/// and a console socket): the process's terminal is a pty of the container's own
/// devpts, with the caller's window size, and its status comes back.
#[test]
fn containerd_task_exec_t() {
    let Some(c) = Containerd::new("ctd_exec_t") else { return };
    c.run(&["-d"], "c6", &["sleep", "100"]).run().ok();
    // (ctr sets the size only once the process runs, as with runc: wait for it.)
    let script = format!("tty; {}; ls /dev/pts | tr '\\n' ' '; echo; exit 3", testkit::STTY_SIZE_ONCE_SET);
    let out = c.ctr(&["task", "exec", "-t", "--exec-id", "t1", "c6", "sh", "-c", &script]).run_on_terminal_sized(7, 55);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["/dev/pts/0", "7 55", "0 ptmx "], "{out:?}");
    c.kill_and_remove("c6", 0);
}

/// The host pid of the task `id` (`ctr task ls`).
fn task_pid(c: &Containerd, id: &str) -> i32 {
    let tasks = c.ctr(&["task", "ls"]).run().ok().stdout.clone();
    let row = tasks.lines().find(|l| l.split_whitespace().next() == Some(id)).unwrap_or_default().to_string();
    row.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no task {id}: {tasks}"))
}

/// `ctr task kill --all`: the signal reaches every process of the container's cgroup,
/// not only its init (whose trap survives it while its children, which do not trap,
/// die).
#[test]
fn containerd_task_kill_all_reaches_every_process() {
    let Some(c) = Containerd::new("ctd_kill_all") else { return };
    let script = "sleep 1000 & sleep 1000 & trap 'echo caught' TERM; while true; do sleep 0.1; done";
    c.run(&["-d"], "c7", &["sh", "-c", script]).run().ok();
    let pid = task_pid(&c, "c7");
    let children = || -> Vec<i32> {
        let ps = c.ctr(&["task", "ps", "c7"]).run().ok().stdout.clone();
        let pids = ps.lines().skip(1).filter_map(|l| l.split_whitespace().next()?.parse().ok());
        pids.filter(|p| {
            *p != pid && std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.contains("1000"))
        })
        .collect()
    };
    assert!(testkit::wait_until(Duration::from_secs(10), || children().len() == 2), "{:?}", children());
    let sleeps = children();
    c.ctr(&["task", "kill", "--all", "-s", "SIGTERM", "c7"]).run().ok();
    assert!(testkit::wait_until(Duration::from_secs(10), || sleeps.iter().all(|p| is_dead(*p))), "{sleeps:?} live on");
    assert!(!is_dead(pid), "the init's trap did not hold: it was killed");
    c.kill_and_remove("c7", pid);
}

/// `ctr task metrics` (the shim reads the container's cgroups, found from its init):
/// the memory limit containerd asked for, the memory in use, the task count and the
/// CPU time are the container's own.
#[test]
fn containerd_task_metrics_are_the_containers() {
    let Some(c) = Containerd::new("ctd_metrics") else { return };
    // Three processes, and a second of CPU time spent before the metrics are read.
    let script = "sleep 1000 & sleep 1000 & end=$(($(date +%s) + 2)); while [ $(date +%s) -lt $end ]; do :; done; wait";
    c.run(&["-d", "--memory-limit", "67108864"], "c8", &["sh", "-c", script]).run().ok();
    let pid = task_pid(&c, "c8");
    std::thread::sleep(Duration::from_millis(2500));
    let out = c.ctr(&["task", "metrics", "c8"]).run().ok().stdout.clone();
    let metric = |name: &str| -> u64 {
        let line = out.lines().find(|l| l.split_whitespace().next() == Some(name));
        line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or_else(|| panic!("no {name}: {out}"))
    };
    assert_eq!(metric("memory.limit_in_bytes"), 64 << 20, "{out}");
    assert!(metric("memory.usage_in_bytes") > 0, "{out}");
    assert_eq!(metric("pids.current"), 3, "{out}");
    // The container's CPU time: about the second it spun (not the machine's, nor none).
    let cpu = metric("cpuacct.usage");
    assert!((500_000_000..30_000_000_000).contains(&cpu), "cpuacct.usage {cpu} ns: {out}");
    c.kill_and_remove("c8", pid);
}
