//! ctr-oci driven by podman (`--runtime ctr-oci`), as root: what a podman user does and
//! sees, and that nothing of a container is left once podman has removed it.
//!
//! podman runs with its own storage, run root, tmp dir and containers.conf (cgroupfs,
//! file events, no network, lowered rlimits, ctr-oci as a runtime that writes JSON
//! logs), and every container's cgroup goes below the test's own cgroup.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::{is_dead, Cmd, Outcome};

struct Podman {
    dir: testkit::TempDir,
    /// The cgroup parent (absolute, below the test's own cgroup in every hierarchy).
    parent: String,
}

impl Podman {
    fn new(tag: &str) -> Option<Podman> {
        let own = testkit::client_preconditions(tag, &["podman", "conmon"], "podman (with conmon)")?;
        let dir = testkit::tempdir();
        let parent = own.join(format!("ctroci-podman-{tag}-{}", std::process::id())).display().to_string();
        let conf = format!(
            "[containers]\nnetns = \"none\"\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"ctr-oci\"\n\
             runtime_supports_json = [\"ctr-oci\"]\n[engine.runtimes]\nctr-oci = [\"{}\"]\n",
            testkit::bin("ctr-oci").display()
        );
        std::fs::write(dir.path().join("containers.conf"), conf).unwrap();
        let p = Podman { dir, parent };
        let rootfs = p.dir.path().join("rootfs");
        testkit::busybox_rootfs(&rootfs);
        std::fs::write(rootfs.join("etc/motd"), "from the image\n").unwrap();
        let tar = p.dir.path().join("rootfs.tar");
        Cmd::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&rootfs).arg(".").run().ok();
        p.podman(&["import"]).arg(&tar).arg("localhost/ctroci-busybox").run().ok();
        Some(p)
    }

    fn podman(&self, args: &[&str]) -> Cmd {
        let d = self.dir.path();
        Cmd::new("podman")
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(["--storage-driver", "overlay"])
            .args(args)
            .timeout(testkit::scaled(Duration::from_secs(60)))
    }

    /// `podman run` (or `create`) ARGS with the lab's cgroup parent and image.
    fn container(&self, verb: &str, flags: &[&str], command: &[&str]) -> Cmd {
        self.podman(&[verb, "--cgroup-parent", &self.parent]).args(flags).arg("localhost/ctroci-busybox").args(command)
    }

    fn inspect(&self, id: &str, format: &str) -> String {
        self.podman(&["inspect", "--format", format, id]).run().ok().stdout.trim().to_string()
    }

    /// The containers' cgroups left below the parent (podman's own `conmon` group aside).
    fn container_cgroups(&self) -> Vec<String> {
        let rows = Cmd::tool("cgctl").args(["ls", "--json"]).run().ok().json();
        rows.as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .filter(|n| n.contains(&self.parent) && n.contains("libpod-"))
            .map(String::from)
            .collect()
    }

    /// Nothing of container `id` is left: no runtime state, no cgroup, no mount of
    /// ours, no process (`pid`).
    fn assert_gone(&self, id: &str, pid: i32) {
        if !id.is_empty() {
            assert!(!Path::new("/run/ctr-oci").join(id).exists(), "ctr-oci's state of {id} is left");
        }
        assert_eq!(self.container_cgroups(), Vec::<String>::new(), "cgroups left");
        if pid > 0 {
            assert!(testkit::wait_until(Duration::from_secs(10), || is_dead(pid)), "the init {pid} still runs");
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]).run();
        let _ = self.podman(&["rmi", "--all", "--force"]).run();
        let storage = self.dir.path().join("storage");
        for m in testkit::mounts_under(self.dir.path()).iter().rev() {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_dir_all(storage);
        testkit::remove_cgroup_everywhere(Path::new(&self.parent));
    }
}

fn id_of(o: &Outcome) -> String {
    o.stdout.trim().lines().last().unwrap_or_default().to_string()
}

/// `podman run --rm`: the command's output and exit status come back through conmon; the
/// flags people use every day hold inside (read-only root, no capabilities, another
/// user, a read-only volume, the hostname, the environment, podman's tmpfs mounts); and
/// once podman has removed the container nothing of it is left.
#[test]
fn podman_run_gives_output_status_and_the_asked_for_container() {
    let Some(p) = Podman::new("podman_run") else { return };
    let out = p.container("run", &["--rm"], &["sh", "-c", "cat /etc/motd; echo to-stderr >&2; exit 3"]).run();
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "from the image\n");
    assert!(out.stderr.contains("to-stderr"), "{out:?}");

    let vol = p.dir.path().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("f"), "volume\n").unwrap();
    let v = format!("{}:/vol:ro", vol.display());
    let script = "id -u; id -g; hostname; echo $FOO; cat /vol/f; \
                  touch /vol/x 2>/dev/null || echo vol-ro; touch /x 2>/dev/null || echo root-ro; \
                  touch /run/x && echo run-writable; grep CapEff /proc/self/status; \
                  grep -c ' /run tmpfs ' /proc/mounts";
    let flags = [
        "--rm",
        "--read-only",
        "--cap-drop",
        "all",
        "--user",
        "1000:1000",
        "-v",
        &v,
        "--hostname",
        "hh",
        "-e",
        "FOO=bar",
    ];
    let out = p.container("run", &flags, &["sh", "-c", script]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let want = "1000\n1000\nhh\nbar\nvolume\nvol-ro\nroot-ro\nrun-writable\nCapEff:\t0000000000000000\n1\n";
    assert_eq!(out.stdout, want, "{out:?}");
    assert!(!vol.join("x").exists());
    p.assert_gone("", 0);
}

/// `--memory` is the container's cgroup limit, readable inside (its own cgroup mounted
/// on /sys/fs/cgroup), and a container that goes over it is OOM-killed: podman reports
/// 137.
#[test]
fn podman_memory_limit_holds_and_oom_is_137() {
    let Some(p) = Podman::new("podman_oom") else { return };
    let read = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
    let out = p.container("run", &["--rm", "--memory", "32m"], &["sh", "-c", read]).run();
    assert_eq!((out.code, out.stdout.as_str()), (0, "33554432\n"), "{out:?}");
    let hog = "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done";
    let out = p.container("run", &["--rm", "--memory", "32m", "--memory-swap", "32m"], &["sh", "-c", hog]).run();
    assert_eq!(out.code, 137, "{out:?}");
    p.assert_gone("", 0);
}

/// `run -d`, `stop`, `rm`: a container that exits on SIGTERM stops with its own status; one
/// that ignores SIGTERM is killed after `-t` seconds (137); `create` + `rm` without a
/// start ends the waiting init. Nothing is left of any of them.
#[test]
fn podman_detached_stop_and_create_rm() {
    let Some(p) = Podman::new("podman_stop") else { return };
    let polite = "trap 'exit 7' TERM; while true; do sleep 0.1; done";
    let out = p.container("run", &["-d"], &["sh", "-c", polite]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let id = id_of(&out);
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "running");
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && !is_dead(pid));
    assert_eq!(p.podman(&["stop", "-t", "10", &id]).run().code, 0);
    assert_eq!(p.inspect(&id, "{{.State.ExitCode}}"), "7");
    assert_eq!(p.podman(&["rm", &id]).run().code, 0);
    p.assert_gone(&id, pid);

    let stubborn = "trap '' TERM; while true; do sleep 0.1; done";
    let id = id_of(p.container("run", &["-d"], &["sh", "-c", stubborn]).run().ok());
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let t = Instant::now();
    assert_eq!(p.podman(&["stop", "-t", "2", &id]).run().code, 0);
    assert!(t.elapsed() >= Duration::from_secs(2), "stopped before the timeout: {:?}", t.elapsed());
    assert_eq!(p.inspect(&id, "{{.State.ExitCode}}"), "137");
    p.podman(&["rm", &id]).run().ok();
    p.assert_gone(&id, pid);

    let id = id_of(p.container("create", &[], &["sh", "-c", "echo never"]).run().ok());
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "created");
    p.podman(&["init", &id]).run().ok();
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0 && !is_dead(pid), "podman init leaves the init waiting");
    let state = Cmd::tool("ctr-oci").args(["state", &id]).run().ok().json();
    assert_eq!(state["status"], "created");
    assert_eq!(p.podman(&["rm", &id]).run().code, 0);
    p.assert_gone(&id, pid);
}

/// `--pid=host`: the container has no PID namespace of its own, so stopping it must end
/// every process of its cgroup (`kill --all`), not only the init.
#[test]
fn podman_stop_of_a_pid_host_container_ends_all_its_processes() {
    let Some(p) = Podman::new("podman_pidhost") else { return };
    let script = "sleep 1000 & trap 'exit 0' TERM; while true; do sleep 0.1; done";
    let id = id_of(p.container("run", &["-d", "--pid", "host"], &["sh", "-c", script]).run().ok());
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    // (Host pids: the init's first child is the sleep.)
    let mut child = 0;
    assert!(testkit::wait_until(Duration::from_secs(10), || {
        let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        child = kids.split_whitespace().next().and_then(|k| k.parse().ok()).unwrap_or(0);
        child > 0
    }));
    assert!(!is_dead(child));
    assert_eq!(p.podman(&["stop", "-t", "5", &id]).run().code, 0);
    assert!(
        testkit::wait_until(Duration::from_secs(10), || is_dead(child)),
        "the container's child {child} survived stop"
    );
    p.podman(&["rm", &id]).run().ok();
    p.assert_gone(&id, 0);
}

/// A program that is not in the image: podman says so in one readable line, with 127,
/// and nothing is left.
#[test]
fn podman_run_of_a_missing_program_is_a_readable_error() {
    let Some(p) = Podman::new("podman_missing") else { return };
    let out = p.container("run", &["--rm"], &["/no/such/program"]).run();
    assert_eq!(out.code, 127, "{out:?}");
    let line = out.stderr.lines().find(|l| l.contains("/no/such/program")).unwrap_or_default();
    assert!(line.contains("No such file or directory"), "{out:?}");
    p.assert_gone("", 0);
}

/// `podman run -t`: the container's stdio are a pty of its own devpts (the master went to
/// conmon over the console socket), its controlling terminal, with the caller's window
/// size; the exit status comes back. (podman sends the size to conmon once it has
/// attached, while the container already runs, with runc too: the script waits for it.)
#[test]
fn podman_run_t_gives_the_container_its_own_terminal() {
    let Some(p) = Podman::new("podman_tty") else { return };
    let cmd = p.container(
        "run",
        &["--rm", "-t"],
        &[
            "sh",
            "-c",
            &format!(
                "tty; {}; ls -l /proc/self/fd/0 /proc/self/fd/2 | sed 's/.*-> //'; exit 5",
                testkit::STTY_SIZE_ONCE_SET
            ),
        ],
    );
    let out = cmd.run_on_terminal_sized(11, 77);
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["/dev/pts/0", "11 77", "/dev/pts/0", "/dev/pts/0"], "{out:?}");
    p.assert_gone("", 0);
}

/// `podman pause` freezes the container (its counter stops, `ctr-oci state` and podman
/// say paused), `podman unpause` thaws it; `ctr-oci ps --format json` lists the host pids
/// of its cgroup, as `podman top` shows its processes.
#[test]
fn podman_pause_unpause_and_ps() {
    let Some(p) = Podman::new("podman_pause") else { return };
    let script = "while true; do date +%s%N > /counter; sleep 0.02; done";
    let id = id_of(p.container("run", &["-d"], &["sh", "-c", script]).run().ok());
    let merged = PathBuf::from(p.inspect(&id, "{{.GraphDriver.Data.MergedDir}}"));
    let counter = || std::fs::read_to_string(merged.join("counter")).unwrap_or_default();
    assert!(testkit::wait_until(Duration::from_secs(10), || !counter().is_empty()));
    let oci_state =
        || Cmd::tool("ctr-oci").args(["state", &id]).run().ok().json()["status"].as_str().unwrap().to_string();

    assert_eq!(p.podman(&["pause", &id]).run().code, 0);
    assert_eq!((p.inspect(&id, "{{.State.Status}}"), oci_state()), ("paused".into(), "paused".into()));
    let frozen = counter();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(), frozen, "the container ran while paused");
    let again = p.podman(&["pause", &id]).run();
    assert_ne!(again.code, 0, "a second pause: {again:?}");

    assert_eq!(p.podman(&["unpause", &id]).run().code, 0);
    assert_eq!(oci_state(), "running");
    assert!(testkit::wait_until(Duration::from_secs(5), || counter() != frozen), "still frozen after unpause");

    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let pids: Vec<i64> = Cmd::tool("ctr-oci")
        .args(["ps", "--format", "json", &id])
        .run()
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(pids.contains(&(pid as i64)), "{pids:?} lacks the init {pid}");
    let top = p.podman(&["top", &id, "pid", "args"]).run().ok().stdout.clone();
    assert!(top.contains("date +%s%N"), "{top}");
    p.podman(&["rm", "-f", "-t", "0", &id]).run().ok();
    p.assert_gone(&id, pid);
}

/// `podman update --memory` (podman sends LinuxResources to `ctr-oci update`): the
/// container's cgroup limit changes, as the container itself reads it.
#[test]
fn podman_update_changes_the_memory_limit() {
    let Some(p) = Podman::new("podman_update") else { return };
    let id = id_of(p.container("run", &["-d", "--memory", "64m"], &["sleep", "100"]).run().ok());
    let limit = || {
        let read = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max";
        let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
        // Read inside the container's mount namespace, where its cgroup is mounted.
        Cmd::new("nsenter").args(["-t", &pid.to_string(), "-m", "sh", "-c", read]).run().ok().stdout.trim().to_string()
    };
    assert_eq!(limit(), "67108864");
    let out = p.podman(&["update", "--memory", "48m", &id]).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(limit(), "50331648");
    p.podman(&["rm", "-f", "-t", "0", &id]).run().ok();
}

/// `podman exec` (conmon calls `ctr-oci exec --detach --pid-file`): the process runs in
/// the container's namespaces and cgroup with its confinement (no capabilities when the
/// container has none), with its output and status; `-u` and `-e` hold; a missing
/// program is 127 with a readable line; the container is untouched by all of it.
#[test]
fn podman_exec_runs_inside_the_container() {
    let Some(p) = Podman::new("podman_exec") else { return };
    let id =
        id_of(p.container("run", &["-d", "--cap-drop", "all", "--hostname", "inside"], &["sleep", "100"]).run().ok());
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let script = "hostname; grep CapEff /proc/self/status; echo $$; readlink /proc/1/exe; exit 6";
    let out = p.podman(&["exec", &id, "sh", "-c", script]).run();
    assert_eq!(out.code, 6, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..2], ["inside", "CapEff:\t0000000000000000"], "{out:?}");
    assert_ne!(lines[2], "1", "the exec'd shell is not the container's init");
    assert_eq!(lines[3], "/bin/busybox", "it sees the container's PID 1");
    let host_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let out = p.podman(&["exec", &id, "cat", "/proc/self/cgroup"]).run().ok().stdout.clone();
    let memory = |t: &str| t.lines().find(|l| l.contains(":memory:")).map(String::from);
    assert_eq!(memory(&out), memory(&host_cgroup), "the exec'd process is not in the container's cgroup");

    let out = p.podman(&["exec", "-u", "1000:1000", "-e", "FOO=bar", &id, "sh", "-c", "id -u; id -g; echo $FOO"]).run();
    assert_eq!(out.ok().stdout, "1000\n1000\nbar\n");
    let out = p.podman(&["exec", &id, "/no/such/program"]).run();
    assert_eq!(out.code, 127, "{out:?}");
    assert!(out.stderr.contains("'/no/such/program': No such file or directory"), "{out:?}");
    assert_eq!(p.inspect(&id, "{{.State.Status}}"), "running");
    assert_eq!(p.inspect(&id, "{{.State.Pid}}"), pid.to_string());
    p.podman(&["rm", "-f", "-t", "0", &id]).run().ok();
    p.assert_gone(&id, pid);
}

/// `podman exec -t` (conmon gives `ctr-oci exec` a process file with `terminal` and a
/// console socket): the process gets a pty of the container's own devpts as its
/// terminal, with the caller's window size, and its status comes back; the container
/// (whose init has no terminal) is untouched.
#[test]
fn podman_exec_t_gives_the_process_a_terminal_of_the_containers() {
    let Some(p) = Podman::new("podman_exec_t") else { return };
    let id = id_of(p.container("run", &["-d"], &["sleep", "100"]).run().ok());
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let script = format!("tty; {}; ls /dev/pts | tr '\\n' ' '; echo; exit 4", testkit::STTY_SIZE_ONCE_SET);
    let out = p.podman(&["exec", "-t", &id, "sh", "-c", &script]).run_on_terminal_sized(9, 66);
    assert_eq!(out.code, 4, "{out:?}");
    // The container's own devpts: its first pty (the host's devpts has others).
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["/dev/pts/0", "9 66", "0 ptmx "], "{out:?}");
    let again = p.podman(&["exec", &id, "sh", "-c", "tty; echo $?"]).run();
    assert_eq!(again.ok().stdout, "not a tty\n1\n", "without -t no terminal");
    assert_eq!(p.inspect(&id, "{{.State.Pid}}"), pid.to_string());
    p.podman(&["rm", "-f", "-t", "0", &id]).run().ok();
    p.assert_gone(&id, pid);
}

/// `podman run --preserve-fds 1`: the caller's descriptor 3 reaches the container's
/// process (podman passes it through conmon to `ctr-oci create --preserve-fds 1`), and
/// no other descriptor of podman's, conmon's or ctr-oci's does.
#[test]
fn podman_run_preserve_fds_passes_descriptor_3() {
    let Some(p) = Podman::new("podman_fds") else { return };
    let passed = p.dir.path().join("passed");
    let cmd = p.container(
        "run",
        &["--rm", "--preserve-fds", "1"],
        &["sh", "-c", "echo through fd 3 >&3; ls /proc/self/fd | tr '\\n' ' '"],
    );
    let out = cmd.after_shell(&format!("exec 3>{}", passed.display())).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(std::fs::read_to_string(&passed).unwrap(), "through fd 3\n");
    // 0, 1, 2, the preserved 3, and ls's own directory.
    assert_eq!(out.stdout.trim(), "0 1 2 3 4", "{out:?}");
    p.assert_gone("", 0);
}

/// `podman run --device /dev/kvm` (podman sends the node in `linux.devices` and a rule
/// allowing it after its deny-all): the node is there with the host's numbers and
/// opens; without `--device` there is no such node.
#[test]
fn podman_device_is_there_and_opens() {
    let Some(p) = Podman::new("podman_device") else { return };
    if !Path::new("/dev/kvm").exists() {
        testkit::skip("podman_device", "this machine has no /dev/kvm (10:232), the node the test can open");
        return;
    }
    let script = "ls -l /dev/kvm | awk '{print $1, $5, $6}'; (exec 3</dev/kvm) && echo opened";
    let out = p.container("run", &["--rm", "--device", "/dev/kvm"], &["sh", "-c", script]).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), ["crw------- 10, 232", "opened"], "{out:?}");
    let out = p.container("run", &["--rm"], &["sh", "-c", "test -e /dev/kvm && echo there || echo absent"]).run();
    assert_eq!(out.ok().stdout, "absent\n");
    p.assert_gone("", 0);
}

/// `podman run --uidmap/--gidmap` (podman sends a user namespace with the mappings, and
/// the image's files shifted to the mapped root): inside, root with the mapping; on the
/// host, the container's processes run as the mapped uid, not as root.
#[test]
fn podman_uidmap_runs_the_container_as_the_mapped_ids() {
    let Some(p) = Podman::new("podman_userns") else { return };
    let maps = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"];
    let script = "id -u; tr -s ' ' < /proc/self/uid_map; touch /w && stat -c %u /w";
    let out = p.container("run", &[&["--rm"][..], &maps].concat(), &["sh", "-c", script]).run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "0\n 0 100000 65536\n0\n", "{out:?}");
    let id = id_of(p.container("run", &[&["-d"][..], &maps].concat(), &["sleep", "100"]).run().ok());
    let pid: i32 = p.inspect(&id, "{{.State.Pid}}").parse().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or_default().to_string();
    assert_eq!(
        uid.split_whitespace().collect::<Vec<_>>(),
        ["Uid:", "100000", "100000", "100000", "100000"],
        "{status}"
    );
    // Seen once in a fresh-clone run: podman's rmdir of its shm directory found it still a
    // mount point ("device or resource busy") while the dead container's mount namespace
    // (a copy holding that mount, owned by the user namespace) was still being torn down.
    // A second rm, as a user would type, removes it; the first one's kill already ended it.
    let first = p.podman(&["rm", "-f", "-t", "0", &id]).run();
    if first.code != 0 {
        assert!(first.stderr.contains("device or resource busy"), "{first:?}");
        std::thread::sleep(Duration::from_millis(500));
        p.podman(&["rm", "-f", "-t", "0", &id]).run().ok();
    }
    p.assert_gone(&id, pid);
}

/// `podman run --user 1000 --cap-add NET_BIND_SERVICE` (podman makes it effective,
/// permitted, inheritable and ambient for the non-root user): the program holds that one
/// capability and no other; without `--cap-add` a non-root user holds none.
#[test]
fn podman_cap_add_for_a_non_root_user() {
    let Some(p) = Podman::new("podman_user_caps") else { return };
    let script = "id -u; grep -E '^Cap(Eff|Prm|Amb):' /proc/self/status | tr -d '\\t'";
    let flags = ["--rm", "--user", "1000", "--cap-add", "NET_BIND_SERVICE"];
    let out = p.container("run", &flags, &["sh", "-c", script]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let bit = "0000000000000400"; // CAP_NET_BIND_SERVICE (10)
    assert_eq!(out.stdout, format!("1000\nCapPrm:{bit}\nCapEff:{bit}\nCapAmb:{bit}\n"), "{out:?}");
    let out = p.container("run", &["--rm", "--user", "1000"], &["sh", "-c", script]).run();
    let none = "0000000000000000";
    assert_eq!(out.ok().stdout, format!("1000\nCapPrm:{none}\nCapEff:{none}\nCapAmb:{none}\n"));
    p.assert_gone("", 0);
}
