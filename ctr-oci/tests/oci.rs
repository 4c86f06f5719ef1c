//! ctr-oci end to end, as root: the runtime lifecycle as clients drive it, runc as the
//! oracle for what the container sees, limits, errors, and that nothing is left behind.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::{is_dead, require_root, skip, wait_until, Cmd, Value};

/// A bundle (busybox root, `ctr-oci spec`'s config edited by `edit`), a state root, a
/// cgroup parent below the test's own cgroup; what is left is removed when dropped.
struct Lab {
    dir: testkit::TempDir,
    parent: String,
}

impl Lab {
    fn new(tag: &str) -> Option<Lab> {
        if testkit::busybox().is_none() {
            skip(tag, "busybox-static is not installed (the bundle's root is built from it)");
            return None;
        }
        let dir = testkit::tempdir();
        testkit::busybox_rootfs(&dir.path().join("bundle/rootfs"));
        let lab = Lab { dir, parent: format!("ctroci-{tag}-{}", std::process::id()) };
        lab.oci(&["spec", "--bundle"]).arg(lab.bundle()).run().ok();
        Some(lab)
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log.json")
    }

    /// ctr-oci with the lab's root and a JSON log.
    fn oci(&self, args: &[&str]) -> Cmd {
        Cmd::tool("ctr-oci")
            .arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json"])
            .args(args)
    }

    /// Edit config.json; the container's cgroup goes below the lab's parent.
    fn config(&self, id: &str, edit: impl FnOnce(&mut Value)) {
        let p = self.bundle().join("config.json");
        let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        c["linux"]["cgroupsPath"] = format!("{}/{id}", self.parent).into();
        edit(&mut c);
        std::fs::write(&p, c.to_string()).unwrap();
    }

    /// `create` with stdout to /dev/null and stderr to a file (the container keeps
    /// them: pipes would be read until it ends); its status and what it wrote.
    fn create(&self, id: &str, extra: &[&str]) -> (i32, String) {
        let err = self.dir.path().join(format!("{id}.err"));
        let status = Command::new(testkit::bin("ctr-oci"))
            .arg("--root")
            .arg(self.root())
            .arg("--log")
            .arg(self.log())
            .args(["--log-format", "json", "create", "--bundle"])
            .arg(self.bundle())
            .args(extra)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        (status.code().unwrap_or(-1), std::fs::read_to_string(&err).unwrap_or_default())
    }

    /// `create --pid-file PID_FILE ID` with the container's stdout to `out` (and no
    /// JSON log); whether it succeeded.
    fn create_to(&self, id: &str, pid_file: &std::path::Path, out: &std::path::Path) -> bool {
        Command::new(testkit::bin("ctr-oci"))
            .arg("--root")
            .arg(self.root())
            .args(["create", "--bundle"])
            .arg(self.bundle())
            .arg("--pid-file")
            .arg(pid_file)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out).unwrap())
            .status()
            .unwrap()
            .success()
    }

    /// Create and start the container `sandbox` (a pod's, as configured); its pid.
    fn start_sandbox(&self) -> i32 {
        let pid_file = self.dir.path().join("sandbox.pid");
        let (code, err) = self.create("sandbox", &["--pid-file", pid_file.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        self.oci(&["start", "sandbox"]).run().ok();
        std::fs::read_to_string(&pid_file).unwrap().parse().unwrap()
    }

    fn state(&self, id: &str) -> Value {
        self.oci(&["state", id]).run().ok().json()
    }

    /// The last line of the JSON log.
    fn last_log(&self) -> Value {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap()
    }

    /// Whether the container's cgroup exists in some hierarchy.
    fn cgroup_exists(&self, id: &str) -> bool {
        let rows = Cmd::tool("cgctl").args(["ls", "--json"]).run().ok().json();
        rows.as_array().unwrap().iter().any(|r| r["name"].as_str().unwrap().ends_with(&format!("{}/{id}", self.parent)))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for e in std::fs::read_dir(self.root()).into_iter().flatten().flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let _ = self.oci(&["delete", "--force", &id]).run();
        }
        let _ = Cmd::tool("cgctl").args(["rm", "--force", &self.parent]).run();
        // runc (the oracle) also makes the parent in named v1 hierarchies (name=systemd),
        // which cgctl does not manage: empty directories, removed deepest first.
        for line in std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default().lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(ctrl), Some(own)) = (f.next(), f.next(), f.next()) else { continue };
            let Some(name) = ctrl.strip_prefix("name=") else { continue };
            testkit::remove_cgroup_tree(
                &PathBuf::from("/sys/fs/cgroup").join(name).join(own.trim_start_matches('/')).join(&self.parent),
            );
        }
    }
}

fn args(c: &mut Value, script: &str) {
    c["process"]["args"] = serde_json::json!(["sh", "-c", script]);
}

/// The lifecycle as podman and containerd drive it: `create` returns with the init
/// waiting (its stdout given to it, nothing run yet) and a pid file of digits only; the
/// init's parent is no process of ours; `start` runs it; `state` follows it to stopped
/// (pid 0); `kill` of a stopped container fails with runc's words (and one JSON log
/// line); `delete` leaves nothing; unknown ids behave as runc's.
#[test]
fn lifecycle_as_clients_drive_it() {
    require_root!();
    let Some(lab) = Lab::new("life") else { return };
    lab.config("c1", |c| {
        args(c, "echo started; exec sleep 60");
        c["process"]["rlimits"] = serde_json::json!([{ "type": "RLIMIT_NOFILE", "hard": 777, "soft": 777 }]);
        c["process"]["env"] = serde_json::json!(["PATH=/bin", "FROM=container"]);
    });
    let out = lab.dir.path().join("out");
    let pid_file = lab.dir.path().join("pid");
    assert!(lab.create_to("c1", &pid_file, &out));
    let pid_text = std::fs::read_to_string(&pid_file).unwrap();
    assert!(pid_text.chars().all(|c| c.is_ascii_digit()) && !pid_text.is_empty(), "pid file {pid_text:?}");
    let pid: i32 = pid_text.parse().unwrap();
    let st = lab.state("c1");
    assert_eq!((st["status"].as_str(), st["pid"].as_i64()), (Some("created"), Some(i64::from(pid))));
    assert_eq!(st["bundle"].as_str(), Some(lab.bundle().to_str().unwrap()));
    let ppid = chainload::procstat::read(pid).unwrap().ppid;
    let parent = std::fs::read_link(format!("/proc/{ppid}/exe")).map(|p| p.display().to_string()).unwrap_or_default();
    assert!(!parent.contains("ctr-oci") && !parent.contains("unshare-rs"), "the init's parent is {parent}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "", "the command ran before start");
    lab.oci(&["start", "c1"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(&out).unwrap() == "started\n"));
    assert_eq!(lab.state("c1")["status"], "running");
    let again = lab.oci(&["start", "c1"]).run();
    assert_ne!(again.code, 0, "a second start succeeded");
    let listed = lab.oci(&["list", "--format", "json"]).run().ok().json();
    assert!(listed.as_array().unwrap().iter().any(|s| s["id"] == "c1"), "{listed}");
    let refused = lab.oci(&["delete", "c1"]).run();
    assert_ne!(refused.code, 0, "delete of a running container without --force succeeded");
    assert!(!is_dead(pid));
    // pause, resume and ps in the wrong state: one line each, nothing changed.
    let resumed = lab.oci(&["resume", "c1"]).run();
    assert_eq!(resumed.one_line_error(), "ctr-oci: container c1 is not paused");
    lab.oci(&["pause", "c1"]).run().ok();
    assert_eq!(lab.state("c1")["status"], "paused");
    let twice = lab.oci(&["pause", "c1"]).run();
    assert_eq!(twice.one_line_error(), "ctr-oci: container c1 is already paused");
    let pids = lab.oci(&["ps", "--format", "json", "c1"]).run().ok().json();
    assert_eq!(pids, serde_json::json!([pid]));
    let frozen = lab.oci(&["exec", "c1", "true"]).run();
    assert_eq!(frozen.one_line_error(), "ctr-oci: cannot exec in paused container c1");
    lab.oci(&["resume", "c1"]).run().ok();
    // exec: the container's limits and environment; a process file's are its own.
    // (No HOME in either: the user's home from the container's passwd, as runc sets it.)
    let out = lab.oci(&["exec", "c1", "sh", "-c", "ulimit -n; echo $FROM $HOME"]).run();
    assert_eq!(out.ok().stdout, "777\ncontainer /root\n");
    let process = lab.dir.path().join("p.json");
    let file = serde_json::json!({ "args": ["sh", "-c", "ulimit -n; echo ${FROM:-unset} $MINE $HOME"], "cwd": "/",
        "user": { "uid": 1000, "gid": 1000 }, "env": ["PATH=/bin", "MINE=mine"],
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 555, "soft": 555 }] });
    std::fs::write(&process, file.to_string()).unwrap();
    let out = lab.oci(&["exec", "--process"]).arg(&process).arg("c1").run();
    assert_eq!(out.ok().stdout, "555\nunset mine /home/user\n");
    // exec's bad input: one line and one JSON log line each; the container untouched.
    let bad_process = lab.dir.path().join("process.json");
    std::fs::write(&bad_process, "{ \"args\": 7 }").unwrap();
    let bad_process = bad_process.display().to_string();
    let socket = lab.dir.path().join("console.sock").display().to_string();
    for (call, says) in [
        (&["exec", "--process", &bad_process, "c1"][..], "not an OCI process"),
        (&["exec", "--tty", "c1", "true"], "needs --console-socket"),
        (&["exec", "--console-socket", &socket, "c1", "true"], "without a terminal"),
        (&["exec", "c1"], "no command given"),
        (&["exec", "--cwd", "relative", "c1", "true"], "must be absolute"),
    ] {
        let _ = std::fs::remove_file(lab.log());
        let out = lab.oci(call).run();
        assert_eq!(out.code, 125, "{call:?}: {out:?}");
        assert!(out.one_line_error().contains(says), "{call:?}: {}", out.stderr);
        let log = std::fs::read_to_string(lab.log()).unwrap();
        assert_eq!(log.lines().count(), 1, "{call:?}: {log}");
        assert!(lab.last_log()["msg"].as_str().unwrap().contains(says), "{call:?}: {log}");
        let now = lab.oci(&["ps", "--format", "json", "c1"]).run().ok().json();
        assert_eq!(now, serde_json::json!([pid]), "{call:?} touched the container");
    }
    assert_eq!(lab.state("c1")["status"], "running");
    // update: a limit set; a refused one, bad JSON, or nothing to change, one line each
    // and the limit as it was.
    let pids_max = || {
        let rows = Cmd::tool("cgctl").args(["stats", "--json", &format!("{}/c1", lab.parent)]).run().ok().json();
        rows["pids"]["limit"].clone()
    };
    lab.oci(&["update", "--pids-limit", "77", "c1"]).run().ok();
    assert_eq!(pids_max(), 77, "{}", pids_max());
    let refused = lab.oci(&["update", "--pids-limit", "55", "--cpu-period", "10", "c1"]).run();
    assert!(refused.one_line_error().contains("--cpu-period"), "{}", refused.stderr);
    let bad_json = lab.oci(&["update", "--resources", "-", "c1"]).stdin(b"{ nope").run();
    assert!(bad_json.one_line_error().contains("not JSON"), "{}", bad_json.stderr);
    let nothing = lab.oci(&["update", "c1"]).run();
    assert_eq!(nothing.one_line_error(), "ctr-oci: update: no limit given");
    assert_eq!(pids_max(), 77, "a refused update changed the limit");
    lab.oci(&["kill", "c1", "SIGKILL"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || lab.state("c1")["status"] == "stopped"));
    assert_eq!(lab.state("c1")["pid"], 0);
    let dead = lab.oci(&["kill", "c1", "9"]).run();
    assert_ne!(dead.code, 0);
    assert_eq!(dead.one_line_error(), "ctr-oci: container not running");
    let paused = lab.oci(&["pause", "c1"]).run();
    assert_eq!(paused.one_line_error(), "ctr-oci: container not running");
    let events = lab.oci(&["events", "--stats", "c1"]).run();
    assert_eq!(events.one_line_error(), "ctr-oci: container not running");
    let exec = lab.oci(&["exec", "c1", "true"]).run();
    assert_eq!(exec.one_line_error(), "ctr-oci: container not running");
    assert_eq!(
        (lab.last_log()["level"].as_str(), lab.last_log()["msg"].as_str()),
        (Some("error"), Some("container not running"))
    );
    lab.oci(&["kill", "--all", "c1", "KILL"]).run().ok();
    assert!(lab.cgroup_exists("c1"));
    lab.oci(&["delete", "c1"]).run().ok();
    assert!(!lab.root().join("c1").exists(), "state left");
    assert!(!lab.cgroup_exists("c1"), "cgroup left");
    // Unknown ids: delete --force succeeds, the rest say so; state writes nothing to
    // stderr (podman calls it with stderr closed).
    lab.oci(&["delete", "--force", "nosuch"]).run().ok();
    let st = lab.oci(&["state", "nosuch"]).run();
    assert_ne!(st.code, 0);
    assert_eq!(st.stderr, "");
    assert_eq!(lab.last_log()["msg"], "container does not exist");
    for call in [
        &["start", "nosuch"][..],
        &["kill", "nosuch"],
        &["delete", "nosuch"],
        &["pause", "nosuch"],
        &["resume", "nosuch"],
        &["ps", "nosuch"],
        &["events", "--stats", "nosuch"],
        &["exec", "nosuch", "true"],
        &["update", "--pids-limit", "5", "nosuch"],
    ] {
        let out = lab.oci(call).run();
        assert_ne!(out.code, 0, "{call:?}");
        assert!(out.one_line_error().ends_with("container does not exist"), "{call:?}: {}", out.stderr);
    }
}

/// A created container that is deleted: its init is killed and everything goes.
#[test]
fn delete_of_a_created_container_kills_its_init() {
    require_root!();
    let Some(lab) = Lab::new("created") else { return };
    lab.config("c2", |c| args(c, "exec sleep 60"));
    let pid_file = lab.dir.path().join("pid");
    let (code, err) = lab.create("c2", &["--pid-file", pid_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    lab.oci(&["delete", "c2"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || is_dead(pid)), "the init outlived delete");
    assert!(!lab.root().join("c2").exists() && !lab.cgroup_exists("c2"));
}

/// runc as the oracle: the same bundle, run by both, gives the same container as seen
/// from inside (hostname, ids, capability sets, no_new_privs, seccomp, /dev, masked and
/// read-only paths, namespaces of its own) and the same exit status.
#[test]
fn same_container_as_runc() {
    require_root!();
    if !testkit::has_command("runc") {
        skip("same_container_as_runc", "runc is not installed");
        return;
    }
    let Some(lab) = Lab::new("runc") else { return };
    let script = "hostname; id; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; ls /dev | tr '\\n' ' '; echo; \
                  cat /proc/kcore 2>&1 | wc -c; touch /proc/sys/x 2>&1 | grep -c 'Read-only'; touch /x 2>&1 | grep -c 'Read-only'; \
                  echo $$; exit 7";
    lab.config("cmp", |c| args(c, script));
    let ours = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg("cmp").stdin(b"").run();
    let runc = Cmd::new("runc")
        .arg("--root")
        .arg(lab.dir.path().join("runc"))
        .args(["run", "--bundle"])
        .arg(lab.bundle())
        .arg("cmp")
        .stdin(b"")
        .run();
    assert_eq!(runc.code, 7, "runc: {}", runc.stderr);
    assert_eq!(ours.code, 7, "{}", ours.stderr);
    assert_eq!(ours.stdout, runc.stdout, "ctr-oci and runc differ");
    assert!(!lab.root().join("cmp").exists() && !lab.cgroup_exists("cmp"), "left behind");
}

/// linux.resources reach the cgroup: memory and pids limits in force while it runs.
#[test]
fn resources_are_the_cgroups_limits() {
    require_root!();
    let Some(lab) = Lab::new("limits") else { return };
    lab.config("lim", |c| {
        args(c, "exec sleep 60");
        c["linux"]["resources"]["memory"] = serde_json::json!({ "limit": 64 * 1024 * 1024 });
        c["linux"]["resources"]["pids"] = serde_json::json!({ "limit": 42 });
    });
    // A block device's throttle (any disk the kernel has: a loop device will do).
    let disk = testkit::some_disk();
    let (code, err) = lab.create("lim", &[]);
    assert_eq!(code, 0, "{err}");
    let name = format!("{}/lim", lab.parent);
    let stats = Cmd::tool("cgctl").args(["stats", &name, "--json"]).run().ok().json();
    assert_eq!(stats["memory"]["limit"], 64 * 1024 * 1024, "{stats}");
    assert_eq!(stats["pids"]["limit"], 42, "{stats}");
    lab.oci(&["delete", "--force", "lim"]).run().ok();
    let Some(disk) = disk else {
        skip("resources_blkio", "this machine has no block device to throttle");
        return;
    };
    let (major, minor) = disk.split_once(':').unwrap();
    lab.config("lim", |c| {
        args(c, "exec sleep 60");
        c["linux"]["resources"]["blockIO"] = serde_json::json!({
            "throttleReadBpsDevice": [{ "major": major.parse::<i64>().unwrap(), "minor": minor.parse::<i64>().unwrap(), "rate": 1048576 }],
            "throttleWriteIOPSDevice": [{ "major": major.parse::<i64>().unwrap(), "minor": minor.parse::<i64>().unwrap(), "rate": 300 }],
        });
    });
    let (code, err) = lab.create("lim", &[]);
    assert_eq!(code, 0, "{err}");
    let pid: i32 = lab.state("lim")["pid"].as_i64().unwrap() as i32;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let (v1, v2) = (cgroup.lines().find(|l| l.contains(":blkio:")), cgroup.lines().find(|l| l.starts_with("0::")));
    let (read_bps, write_iops) = match (v1, v2) {
        (Some(l), _) => {
            let dir =
                PathBuf::from("/sys/fs/cgroup/blkio").join(l.splitn(3, ':').nth(2).unwrap().trim_start_matches('/'));
            let f = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
            (f("blkio.throttle.read_bps_device"), f("blkio.throttle.write_iops_device"))
        }
        (None, Some(l)) => {
            let dir = PathBuf::from("/sys/fs/cgroup").join(l.splitn(3, ':').nth(2).unwrap().trim_start_matches('/'));
            let max = std::fs::read_to_string(dir.join("io.max")).unwrap();
            (max.clone(), max)
        }
        _ => panic!("no blkio or v2 group: {cgroup}"),
    };
    assert!(read_bps.contains(&format!("{disk} ")) && read_bps.contains("1048576"), "{read_bps}");
    assert!(write_iops.contains("300"), "{write_iops}");
    lab.oci(&["delete", "--force", "lim"]).run().ok();
    assert!(!lab.cgroup_exists("lim"));
}

/// `blockIO.weightDevice`: a device's weight goes to its scheduler's file (BFQ's
/// per-device line where the device uses BFQ with group weights: the VM's null_blk) and
/// the container's cgroup shows it there; where no device can take one (this hybrid
/// host: its BFQ has no group weights, no device uses it), `create` is refused with one
/// line naming the weight, and leaves nothing. A leaf weight is refused by name.
#[test]
fn block_io_weights_per_device() {
    require_root!();
    let Some(lab) = Lab::new("weightdev") else { return };
    let disks: Vec<(String, bool)> = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?.trim().to_string();
            let sched = std::fs::read_to_string(e.path().join("queue/scheduler")).unwrap_or_default();
            Some((dev, sched.contains("[bfq]")))
        })
        .collect();
    let bfq = disks.iter().find(|(_, bfq)| *bfq).map(|(d, _)| d.clone());
    let Some(dev) = bfq.clone().or_else(|| disks.first().map(|(d, _)| d.clone())) else {
        skip("block_io_weights_per_device", "this machine has no block device");
        return;
    };
    let (maj, min) = dev.split_once(':').unwrap();
    let (maj, min): (i64, i64) = (maj.parse().unwrap(), min.parse().unwrap());
    let v2 = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok_and(|c| c.contains("io"));
    let takes = bfq.is_some() && (v2 || std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight_device").exists());
    lab.config("wd", |c| {
        args(c, "sleep 1000");
        c["linux"]["resources"]["blockIO"] =
            serde_json::json!({ "weightDevice": [{ "major": maj, "minor": min, "weight": 300 }] });
    });
    let pid_file = lab.dir.path().join("wd.pid");
    let (code, err) = lab.create("wd", &["--pid-file", pid_file.to_str().unwrap()]);
    if takes {
        assert_eq!(code, 0, "{err}");
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
        let file = testkit::cgroup_path(pid, "blkio", "blkio.bfq.weight_device", "io.bfq.weight");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.lines().any(|l| l.trim() == format!("{dev} 300")), "{}: {text}", file.display());
        lab.oci(&["delete", "--force", "wd"]).run().ok();
    } else {
        skip("block_io_weights_per_device", "no block device uses BFQ with group weights here: only the refusal ran");
        assert_ne!(code, 0, "a per-device weight was accepted where no file can take it");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&format!("--io-weight-device {dev}:300")), "{err}");
    }
    assert!(!lab.root().join("wd").exists(), "state left");
    assert!(!lab.cgroup_exists("wd"), "cgroup left");
    lab.config("leaf", |c| {
        args(c, "true");
        c["linux"]["resources"]["blockIO"] =
            serde_json::json!({ "weightDevice": [{ "major": maj, "minor": min, "weight": 300, "leafWeight": 20 }] });
    });
    let (code, err) = lab.create("leaf", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("linux.resources.blockIO.weightDevice[0].leafWeight"), "{err}");
    assert!(!lab.root().join("leaf").exists() && !lab.cgroup_exists("leaf"));
}

/// `events --stats`: one object of runc's shape with the container's own usage and
/// limits (its memory limit, its task count, CPU time in nanoseconds); `events`
/// streams them every interval, says "oom" when the OOM killer killed in the
/// container, and ends when the container does; a bad interval is one line.
#[test]
fn events_report_the_containers_usage_and_ooms() {
    require_root!();
    let Some(lab) = Lab::new("events") else { return };
    // Two seconds of spinning (each `date` a task of its own for a moment), then two
    // tasks (the shell writes the signal file itself and its next loop runs no program:
    // a `touch` could still be alive when its file is seen), then (on a signal file) a
    // process that the OOM killer kills while the init lives on.
    let script = "sleep 1000 & end=$(($(date +%s) + 2)); while [ $(date +%s) -lt $end ]; do :; done; \
                  : >/spun; while [ ! -e /oom ]; do :; done; tail /dev/zero; exec sleep 1000";
    lab.config("ev", |c| {
        args(c, script);
        c["root"]["readonly"] = false.into();
        c["linux"]["resources"]["memory"] = serde_json::json!({ "limit": 32 * 1024 * 1024, "swap": 32 * 1024 * 1024 });
    });
    let (code, err) = lab.create("ev", &[]);
    assert_eq!(code, 0, "{err}");
    lab.oci(&["start", "ev"]).run().ok();
    let rootfs = lab.bundle().join("rootfs");
    assert!(wait_until(Duration::from_secs(20), || rootfs.join("spun").exists()));
    let one = lab.oci(&["events", "--stats", "ev"]).run().ok().json();
    assert_eq!((one["type"].as_str(), one["id"].as_str()), (Some("stats"), Some("ev")), "{one}");
    let d = &one["data"];
    assert_eq!(d["memory"]["usage"]["limit"], 32 * 1024 * 1024, "{one}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{one}");
    assert_eq!(d["pids"]["current"], 2, "{one}");
    let cpu = d["cpu"]["usage"]["total"].as_u64().unwrap();
    // (Nanoseconds: the spin's CPU time, which a loaded machine can make well under its
    // two seconds, is still far above what two seconds in microseconds would be.)
    assert!((200_000_000..30_000_000_000).contains(&cpu), "CPU {cpu} ns is not the container's spin: {one}");

    let bad = lab.oci(&["events", "--interval", "0s", "ev"]).run();
    assert_eq!(bad.code, 125);
    assert!(bad.one_line_error().contains("--interval"), "{}", bad.stderr);

    // The stream, to a file (it lasts as long as the container).
    let out = lab.dir.path().join("events");
    let mut stream = Command::new(testkit::bin("ctr-oci"))
        .arg("--root")
        .arg(lab.root())
        .args(["events", "--interval", "100ms", "ev"])
        .stdout(std::fs::File::create(&out).unwrap())
        .spawn()
        .unwrap();
    let lines = || -> Vec<Value> {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    };
    assert!(wait_until(Duration::from_secs(10), || lines().len() >= 2), "{:?}", lines());
    std::fs::write(rootfs.join("oom"), "").unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || lines().iter().any(|e| e["type"] == "oom")),
        "no oom event: {:?}",
        lines()
    );
    assert!(lines().iter().all(|e| e["id"] == "ev"));
    lab.oci(&["kill", "ev", "KILL"]).run().ok();
    let ended = wait_until(Duration::from_secs(10), || stream.try_wait().unwrap().is_some());
    if !ended {
        testkit::kill_and_reap(&mut stream);
    }
    assert!(ended, "events did not end with the container");
    assert!(stream.wait().unwrap().success());
    lab.oci(&["delete", "ev"]).run().ok();
    assert!(!lab.cgroup_exists("ev"));
}

/// What the chain cannot do is an error naming the field (one line, one JSON log line),
/// and a create that fails, for that or a program that is not there, leaves nothing.
#[test]
fn errors_name_the_field_and_leave_nothing() {
    require_root!();
    let Some(lab) = Lab::new("errors") else { return };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Edit, &str); 6] = [
        (
            "hooks",
            Box::new(|c: &mut Value| c["hooks"] = serde_json::json!({ "prestart": [{ "path": "bin/true" }] })),
            "hooks.prestart[0].path",
        ),
        (
            "userns",
            Box::new(|c: &mut Value| {
                c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({ "type": "user" }))
            }),
            "linux.uidMappings: a user namespace needs its mappings",
        ),
        // An ambient capability the kernel would refuse (not permitted and inheritable).
        (
            "ambient",
            Box::new(|c: &mut Value| {
                c["process"]["user"] = serde_json::json!({ "uid": 1000, "gid": 1000 });
                c["process"]["capabilities"]["ambient"] = serde_json::json!(["CAP_NET_BIND_SERVICE"]);
                c["process"]["capabilities"]["inheritable"] = serde_json::json!([]);
            }),
            "process.capabilities.ambient: NET_BIND_SERVICE is not in the permitted and inheritable sets",
        ),
        // A terminal needs the console socket to send its master to.
        ("terminal", Box::new(|c: &mut Value| c["process"]["terminal"] = true.into()), "process.terminal"),
        // A hostile config that would change the whole machine.
        (
            "sysctl",
            Box::new(|c: &mut Value| c["linux"]["sysctl"] = serde_json::json!({ "kernel.panic": "5" })),
            "linux.sysctl.kernel.panic",
        ),
        (
            "missing",
            Box::new(|c: &mut Value| c["process"]["args"] = serde_json::json!(["/no/such/program"])),
            "/no/such/program",
        ),
    ];
    let pristine = std::fs::read_to_string(lab.bundle().join("config.json")).unwrap();
    for (id, edit, named) in cases {
        std::fs::write(lab.bundle().join("config.json"), &pristine).unwrap();
        lab.config(id, |c| {
            args(c, "true");
            edit(c);
        });
        let _ = std::fs::remove_file(lab.log());
        let (code, err) = lab.create(id, &[]);
        assert_ne!(code, 0, "{id}: create succeeded");
        assert_eq!(err.lines().count(), 1, "{id}: {err}");
        assert!(err.contains(named), "{id}: {err}");
        let log = std::fs::read_to_string(lab.log()).unwrap();
        assert_eq!(log.lines().count(), 1, "{id}: {log}");
        assert!(lab.last_log()["msg"].as_str().unwrap().contains(named), "{id}: {log}");
        assert!(!lab.root().join(id).exists(), "{id}: state left");
        assert!(!lab.cgroup_exists(id), "{id}: cgroup left");
    }
    // A config that is not one.
    std::fs::write(lab.bundle().join("config.json"), "{ not json").unwrap();
    let (code, err) = lab.create("bad", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("config.json"), "{err}");
}

/// `ctr-oci chain` prints the chain; run by hand, it makes the same container as
/// `create` (it waits at the gate until the FIFO is read).
#[test]
fn the_printed_chain_is_the_chain() {
    require_root!();
    let Some(lab) = Lab::new("chain") else { return };
    lab.config("ch", |c| args(c, "echo from the chain"));
    let cmd = lab.oci(&["chain", "--bundle"]).arg(lab.bundle()).arg("ch").run().ok().stdout.clone();
    for part in
        ["cgctl", "exec --create", "unshare-rs --detach", "ovlmount enter --rootfs", "--start-fifo", "--no-new-privs"]
    {
        assert!(cmd.contains(part), "{part} missing: {cmd}");
    }
    let dir = lab.root().join("ch");
    std::fs::create_dir_all(&dir).unwrap();
    Cmd::new("mkfifo").arg(dir.join("exec.fifo")).run().ok();
    let out = lab.dir.path().join("out");
    // (The container's stdio are files: pipes would be read until it ends.)
    let shell = format!("{} < /dev/null > {o} 2>&1 3>>{o}", cmd.trim(), o = out.display());
    Cmd::new("sh").args(["-c", &shell]).run().ok();
    Cmd::new("cat").arg(dir.join("exec.fifo")).run().ok();
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(&out).unwrap_or_default() == "from the chain\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `linux.seccomp` in the runtime spec's form is the container's filter: a rule that
/// makes mkdir(2)/mkdirat(2) fail with EPERM holds inside (and `state` works on).
#[test]
fn the_specs_seccomp_filter_is_installed() {
    require_root!();
    let Some(lab) = Lab::new("seccomp") else { return };
    lab.config("sc", |c| {
        args(c, "grep '^Seccomp:' /proc/self/status; mkdir /tmp/x 2>&1 | grep -c 'Operation not permitted'; echo done");
        c["root"]["readonly"] = false.into();
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }],
        });
    });
    let out = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg("sc").stdin(b"").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "Seccomp:\t2\n1\ndone\n");
    assert!(!lab.dir.path().join("bundle/rootfs/tmp/x").exists(), "mkdir got through");
}

/// A pod as Kubernetes makes it: a sandbox container with its own network, IPC and UTS
/// namespaces, then an app container whose config joins them by path and has PID and
/// mount namespaces of its own: the same hostname and network, other processes;
/// deleting the app leaves the sandbox running.
#[test]
fn a_pod_shares_the_sandboxs_namespaces() {
    require_root!();
    let Some(lab) = Lab::new("pod") else { return };
    lab.config("sandbox", |c| {
        args(c, "exec sleep 60");
        c["hostname"] = "pod-host".into();
    });
    let sandbox = lab.start_sandbox();
    lab.config("app", |c| {
        args(
            c,
            "hostname; readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; echo $$; \
             cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[s]leep 60' || true",
        );
        c.as_object_mut().unwrap().remove("hostname");
        let join = |t: &str, n: &str| serde_json::json!({ "type": t, "path": format!("/proc/{sandbox}/ns/{n}") });
        c["linux"]["namespaces"] = serde_json::json!([
            { "type": "pid" }, { "type": "mount" }, { "type": "cgroup" },
            join("network", "net"), join("ipc", "ipc"), join("uts", "uts"),
        ]);
    });
    let out = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg("app").stdin(b"").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[..3], ["pod-host", ns(sandbox, "net").as_str(), ns(sandbox, "ipc").as_str()], "{}", out.stdout);
    assert_eq!(lines[3..], ["1", "0"], "the app is not PID 1 of its own, or sees the sandbox's: {}", out.stdout);
    assert_eq!(lab.state("sandbox")["status"], "running", "deleting the app took the sandbox along");
    // Kubernetes' shareProcessNamespace: the app joins the sandbox's PID namespace too,
    // and sees its processes (its init is not PID 1 there); `state` has its host pid.
    lab.config("shared", |c| {
        args(c, "echo $$; cat /proc/[0-9]*/cmdline | tr '\\0' ' ' | grep -c '[s]leep 60'; exec sleep 30");
        c.as_object_mut().unwrap().remove("hostname");
        let join = |t: &str, n: &str| serde_json::json!({ "type": t, "path": format!("/proc/{sandbox}/ns/{n}") });
        c["linux"]["namespaces"] = serde_json::json!([
            { "type": "mount" }, join("pid", "pid"), join("network", "net"), join("ipc", "ipc"), join("uts", "uts"),
        ]);
    });
    let out_file = lab.dir.path().join("shared.out");
    let shared_pid = lab.dir.path().join("shared.pid");
    assert!(lab.create_to("shared", &shared_pid, &out_file));
    lab.oci(&["start", "shared"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(&out_file).unwrap().lines().count() == 2));
    let text = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_ne!(lines[0], "1", "the app is PID 1 of a namespace of its own: {text}");
    assert_eq!(lines[1], "1", "the app does not see the sandbox's sleep: {text}");
    let host_pid: i32 = std::fs::read_to_string(&shared_pid).unwrap().parse().unwrap();
    assert_eq!(ns(host_pid, "pid"), ns(sandbox, "pid"), "the pid file is not the app's host pid");
    assert_eq!(lab.state("shared")["status"], "running");
    lab.oci(&["delete", "--force", "shared"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || is_dead(host_pid)));
    assert_eq!(lab.state("sandbox")["status"], "running", "deleting the app took the sandbox along");
    lab.oci(&["delete", "--force", "sandbox"]).run().ok();
}

/// The hooks of config.json, each at its point with the state on its stdin: prestart
/// and createRuntime in the runtime's namespaces and createContainer in the
/// container's, both while the init waits before pivot_root (status "creating", the
/// init's pid); startContainer inside the container's root (its own script) during
/// start; poststart once it runs; poststop once it is deleted. A failing or timed-out
/// create hook fails create with its own line and leaves nothing; a failing poststop
/// hook is a warning, and delete succeeds.
#[test]
fn hooks_run_at_their_points_with_the_state() {
    require_root!();
    let Some(lab) = Lab::new("hooks") else { return };
    let log = lab.dir.path().join("hooks.log");
    let script = |log: &str| {
        format!(
            "#!/bin/sh\nstate=$(cat)\npid=$(echo \"$state\" | sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p')\n\
             status=$(echo \"$state\" | sed -n 's/.*\"status\":\"\\([a-z]*\\)\".*/\\1/p')\n\
             t=/proc/$pid; [ -e $t ] || t=/proc/1\n\
             [ \"$(readlink /proc/self/ns/mnt)\" = \"$(readlink $t/ns/mnt)\" ] && w=inside || w=outside\n\
             echo \"$1 $status $pid $w\" >> {log}\n[ -z \"$FAIL\" ] || {{ echo \"$FAIL\" >&2; exit 3; }}\n"
        )
    };
    let host_hook = lab.dir.path().join("hook.sh");
    std::fs::write(&host_hook, script(&log.display().to_string())).unwrap();
    let rootfs = lab.bundle().join("rootfs");
    std::fs::write(rootfs.join("hook.sh"), script("/hooks.log")).unwrap();
    for f in [&host_hook, &rootfs.join("hook.sh")] {
        std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let h = host_hook.display().to_string();
    let hook = |point: &str| serde_json::json!({ "path": h, "args": ["hook", point], "env": ["PATH=/usr/bin:/bin"] });
    lab.config("hk", |c| {
        args(c, "exec sleep 60");
        c["root"]["readonly"] = false.into();
        c["hooks"] = serde_json::json!({
            "prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [{ "path": "/hook.sh", "args": ["hook", "startContainer"], "env": ["PATH=/bin"] }],
            "poststart": [hook("poststart")],
            "poststop": [{ "path": h, "args": ["hook", "poststop"], "env": ["FAIL=poststop says no"] }],
        });
    });
    let pid_file = lab.dir.path().join("hk.pid");
    let (code, err) = lab.create("hk", &["--pid-file", pid_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let lines = || std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        lines(),
        format!("prestart creating {pid} outside\ncreateRuntime creating {pid} outside\ncreateContainer creating {pid} inside\n")
    );
    assert!(!rootfs.join("hooks.log").exists(), "startContainer ran at create");
    lab.oci(&["start", "hk"]).run().ok();
    let inside = std::fs::read_to_string(rootfs.join("hooks.log")).unwrap();
    assert_eq!(inside, format!("startContainer created {pid} inside\n"));
    assert!(lines().ends_with(&format!("poststart running {pid} outside\n")), "{}", lines());
    lab.oci(&["kill", "hk", "KILL"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || lab.state("hk")["status"] == "stopped"));
    let _ = std::fs::remove_file(lab.log());
    let deleted = lab.oci(&["delete", "hk"]).run();
    assert_eq!(deleted.code, 0, "{deleted:?}");
    assert!(lines().contains(&format!("poststop stopped {pid}")), "{}", lines());
    assert!(deleted.stderr.contains("poststop hook") && deleted.stderr.contains("poststop says no"), "{deleted:?}");
    assert_eq!(lab.last_log()["level"], "warning");
    assert!(!lab.cgroup_exists("hk"));

    // A create hook that fails, or outlives its timeout: create fails with its line,
    // the init is gone and nothing is left.
    for (id, failing, says) in [
        (
            "hk-fail",
            serde_json::json!({ "path": h, "args": ["hook", "x"], "env": ["FAIL=no network for you"] }),
            "no network for you",
        ),
        (
            "hk-slow",
            serde_json::json!({ "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1 }),
            "timed out after 1 s",
        ),
    ] {
        lab.config(id, |c| {
            args(c, "exec sleep 60");
            c["hooks"] = serde_json::json!({ "createRuntime": [failing] });
        });
        let _ = std::fs::remove_file(lab.log());
        let pid_file = lab.dir.path().join(format!("{id}.pid"));
        let _ = std::fs::remove_file(&pid_file);
        let (code, err) = lab.create(id, &[]);
        assert_ne!(code, 0, "{id}");
        assert_eq!(err.lines().count(), 1, "{id}: {err}");
        assert!(err.contains("createRuntime hook") && err.contains(says), "{id}: {err}");
        assert_eq!(std::fs::read_to_string(lab.log()).unwrap().lines().count(), 1, "{id}");
        assert!(!lab.root().join(id).exists(), "{id}: state left");
        assert!(!lab.cgroup_exists(id), "{id}: cgroup left");
    }
}

/// A user namespace of the container's own, 65536 ids from host id `host`.
fn own_user_namespace(c: &mut Value, host: u32) {
    c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({ "type": "user" }));
    let map = serde_json::json!([{ "containerID": 0, "hostID": host, "size": 65536 }]);
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
}

/// The lab's root filesystem, owned by host id `host` (the mapped root, as podman
/// chowns it).
fn mapped_rootfs(lab: &Lab, host: u32) -> PathBuf {
    let rootfs = lab.bundle().join("rootfs");
    Cmd::new("chown").args(["-R", &format!("{host}:{host}")]).arg(&rootfs).run().ok();
    rootfs
}

/// A user namespace with the config's id mappings (the rootfs owned by the mapped root,
/// as podman chowns it): the container's root is host uid 100000, what it writes is
/// owned by the mapped ids, and, as an attack, a host directory only the host's root may
/// read, bound into the container, stays closed to the container's root.
#[test]
fn a_user_namespace_maps_the_containers_ids() {
    require_root!();
    let Some(lab) = Lab::new("userns") else { return };
    let rootfs = mapped_rootfs(&lab, 100000);
    let secret = lab.dir.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    std::fs::write(secret.join("key"), "host root only\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    lab.config("us", |c| {
        args(
            c,
            "id -u; id -g; tr -s ' ' < /proc/self/uid_map; touch /written && echo wrote; \
                 cat /secret/key 2>/dev/null || echo denied; ls /secret 2>/dev/null || echo unlisted; \
                 grep '^Seccomp:' /proc/self/status",
        );
        c["root"]["readonly"] = false.into();
        // (The profile, like the start FIFO, is in the state directory the container's
        // root cannot enter: both reach it as descriptors.)
        c["linux"]["seccomp"] = serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }] });
        own_user_namespace(c, 100000);
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/secret", "type": "bind", "source": secret, "options": ["rbind", "ro"] }));
    });
    let out = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg("us").stdin(b"").run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "0\n0\n 0 100000 65536\nwrote\ndenied\nunlisted\nSeccomp:\t2\n", "{out:?}");
    use std::os::unix::fs::MetadataExt;
    let written = std::fs::metadata(rootfs.join("written")).unwrap();
    assert_eq!((written.uid(), written.gid()), (100000, 100000));
    assert!(!lab.cgroup_exists("us"));
}

/// A namespace of `pid`'s, as its link reads.
fn ns(pid: i32, n: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap().display().to_string()
}

/// A pod with a user namespace (Kubernetes' hostUsers: false): the app joins the
/// sandbox's user namespace by path with its network, IPC and UTS, has its own PID and mount
/// namespaces, is root there and writes as the mapped id. Mappings that are not the
/// joined namespace's, and a mount namespace joined by path, are refused by name.
#[test]
fn a_pod_shares_the_sandboxs_user_namespace() {
    require_root!();
    let Some(lab) = Lab::new("podns") else { return };
    let rootfs = mapped_rootfs(&lab, 200000);
    let map = serde_json::json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    lab.config("sandbox", |c| {
        args(c, "exec sleep 60");
        c["root"]["readonly"] = false.into();
        c["hostname"] = "userns-pod".into();
        own_user_namespace(c, 200000);
    });
    let sandbox = lab.start_sandbox();
    let app = |c: &mut Value, maps: Option<&Value>, extra: Option<Value>| {
        args(
            c,
            "id -u; hostname; tr -s ' ' < /proc/self/uid_map; readlink /proc/self/ns/user; echo $$; \
             touch /app-wrote && echo wrote",
        );
        c["root"]["readonly"] = false.into();
        c.as_object_mut().unwrap().remove("hostname");
        let join = |t: &str, n: &str| serde_json::json!({ "type": t, "path": format!("/proc/{sandbox}/ns/{n}") });
        let mut list = vec![
            serde_json::json!({ "type": "pid" }),
            serde_json::json!({ "type": "mount" }),
            join("user", "user"),
            join("network", "net"),
            join("ipc", "ipc"),
            join("uts", "uts"),
        ];
        list.extend(extra);
        c["linux"]["namespaces"] = list.into();
        match maps {
            Some(m) => {
                c["linux"]["uidMappings"] = m.clone();
                c["linux"]["gidMappings"] = m.clone();
            }
            None => {
                let l = c["linux"].as_object_mut().unwrap();
                l.remove("uidMappings");
                l.remove("gidMappings");
            }
        }
    };
    for (id, maps) in [("app", None), ("app-mapped", Some(&map))] {
        lab.config(id, |c| app(c, maps, None));
        let out = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg(id).stdin(b"").run();
        assert_eq!(out.code, 0, "{id}: {out:?}");
        let want = format!("0\nuserns-pod\n 0 200000 65536\n{}\n1\nwrote\n", ns(sandbox, "user"));
        assert_eq!(out.stdout, want, "{id}: {out:?}");
        use std::os::unix::fs::MetadataExt;
        let written = std::fs::metadata(rootfs.join("app-wrote")).unwrap();
        assert_eq!((written.uid(), written.gid()), (200000, 200000), "{id}");
        std::fs::remove_file(rootfs.join("app-wrote")).unwrap();
    }
    // Refused, by field, nothing left: other mappings than the namespace's; joining the
    // sandbox's mount namespace (the app's root would be pivoted under the sandbox).
    let other = serde_json::json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]);
    let mount = serde_json::json!({ "type": "mount", "path": format!("/proc/{sandbox}/ns/mnt") });
    let cases: [(&str, Option<&Value>, Option<Value>, &str); 2] = [
        ("badmap", Some(&other), None, "linux.uidMappings: not those of the joined user namespace"),
        ("joinmnt", None, Some(mount), "joining a mount namespace is refused"),
    ];
    for (id, maps, extra, says) in cases {
        lab.config(id, |c| {
            app(c, maps, extra.clone());
            if extra.is_some() {
                // (The app's own mount namespace replaced by the joined one.)
                let list = c["linux"]["namespaces"].as_array_mut().unwrap();
                list.retain(|n| n["type"] != "mount" || n.get("path").is_some());
            }
        });
        let _ = std::fs::remove_file(lab.log());
        let (code, err) = lab.create(id, &[]);
        assert_ne!(code, 0, "{id}: create succeeded");
        assert_eq!(err.lines().count(), 1, "{id}: {err}");
        assert!(err.contains(says), "{id}: {err}");
        assert!(!lab.root().join(id).exists(), "{id}: state left");
        assert!(!lab.cgroup_exists(id), "{id}: cgroup left");
    }
    assert_eq!(lab.state("sandbox")["status"], "running");
    lab.oci(&["delete", "--force", "sandbox"]).run().ok();
    assert!(wait_until(Duration::from_secs(10), || is_dead(sandbox)));
}

/// Mount propagation: a volume marked `rslave` (Kubernetes' HostToContainer) shows what
/// the host mounts below its source after the container started; a private one (the
/// default), and the rest of the container, never does. (The host side runs in a mount
/// namespace of the test's own, where the volume's source is a shared mount.)
#[test]
fn an_rslave_volume_follows_the_hosts_mounts_and_a_private_one_does_not() {
    require_root!();
    let Some(lab) = Lab::new("propagation") else { return };
    let vol = lab.dir.path().join("vol");
    std::fs::create_dir_all(vol.join("sub")).unwrap();
    let wait = "i=0; while [ ! -e /vol/sub/marker ] && [ $i -lt 40 ]; do sleep 0.1; i=$((i+1)); done; \
                [ -e /vol/sub/marker ] && echo seen || echo not seen";
    let mut script = format!("set -e\nmount --bind {v} {v}\nmount --make-shared {v}\n", v = vol.display());
    for (id, option) in [("slave", "rslave"), ("private", "rprivate")] {
        lab.config(id, |c| {
            args(c, wait);
            c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
                "destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", option] }));
        });
        let cfg = lab.dir.path().join(format!("{id}.json"));
        std::fs::copy(lab.bundle().join("config.json"), &cfg).unwrap();
        script.push_str(&format!(
            "cp {cfg} {b}/config.json\n{oci} --root {r} create --bundle {b} {id} </dev/null >{out} 2>&1\n\
             {oci} --root {r} start {id}\n",
            cfg = cfg.display(),
            b = lab.bundle().display(),
            oci = testkit::bin("ctr-oci").display(),
            r = lab.root().display(),
            out = lab.dir.path().join(format!("{id}.out")).display(),
        ));
    }
    script.push_str(&format!(
        "mount -t tmpfs later {v}/sub\ntouch {v}/sub/marker\n\
         i=0; while ! [ -s {d}/slave.out ] || ! [ -s {d}/private.out ]; do sleep 0.1; i=$((i+1)); [ $i -lt 300 ]; done\n",
        v = vol.display(),
        d = lab.dir.path().display()
    ));
    let out = Cmd::new("unshare").args(["-m", "--propagation", "private", "sh", "-c", &script]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let seen = |id: &str| std::fs::read_to_string(lab.dir.path().join(format!("{id}.out"))).unwrap();
    assert_eq!(seen("slave"), "seen\n", "the rslave volume did not follow the host's mount");
    assert_eq!(seen("private"), "not seen\n", "the private volume showed the host's later mount");
    assert!(!vol.join("sub/marker").exists(), "the test's tmpfs leaked out of its namespace");
}

/// The capabilities of `ctr-oci spec`'s process and CAP_SYS_ADMIN (to mount).
fn with_sys_admin(c: &mut Value) {
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_SYS_ADMIN".into());
    }
}

/// Mount propagation both ways (Kubernetes' Bidirectional, as the CRI sends it: the
/// volume `rshared`, `rootfsPropagation` rshared): the volume is a peer of its source's
/// shared mount, so what the container mounts below it appears on the host and what the
/// host mounts there later appears inside; the container's other mounts stay its own
/// (stronger than runc, which leaves every bind of a shared mount a peer); its `/` is
/// shared. `runbindable` and `unbindable` are what the kernel shows. An `rshared`
/// volume whose source is not on a shared mount is refused (the bind would reach nothing:
/// docker refuses it too), and so is one in a user namespace of the container's own,
/// where the kernel gives only slaves. (The host side is a mount namespace of the
/// test's own.)
#[test]
fn an_rshared_volume_propagates_both_ways_and_nothing_else_does() {
    require_root!();
    let Some(lab) = Lab::new("shared") else { return };
    let d = lab.dir.path();
    let (vol, flat) = (d.join("vol"), d.join("flat"));
    for sub in ["sub", "in"] {
        std::fs::create_dir_all(vol.join(sub)).unwrap();
    }
    std::fs::create_dir_all(&flat).unwrap();
    let inside = "mount -t tmpfs inner /vol/in && touch /vol/in/from-container; mount -t tmpfs own /tmp; \
                  i=0; while [ ! -e /vol/sub/marker ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
                  [ -e /vol/sub/marker ] && echo seen || echo not seen; \
                  awk '$5 == \"/\"' /proc/self/mountinfo | grep -q shared: && echo root shared || echo root not shared";
    let volume = |src: &PathBuf, dst: &str, option: &str| serde_json::json!({ "destination": dst, "type": "bind", "source": src, "options": ["rbind", option] });
    type Edit<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let configs: [(&str, Edit); 4] = [
        (
            "both",
            Box::new(|c: &mut Value| {
                args(c, inside);
                with_sys_admin(c);
                c["linux"]["rootfsPropagation"] = "rshared".into();
                c["mounts"].as_array_mut().unwrap().push(volume(&vol, "/vol", "rshared"));
            }),
        ),
        (
            "unbindable",
            Box::new(|c: &mut Value| {
                args(c, "awk '$5 == \"/\" || $5 == \"/flat\" { print $5, $7 }' /proc/self/mountinfo");
                c["linux"]["rootfsPropagation"] = "runbindable".into();
                c["mounts"].as_array_mut().unwrap().push(volume(&flat, "/flat", "unbindable"));
            }),
        ),
        (
            "notshared",
            Box::new(|c: &mut Value| {
                args(c, "true");
                c["linux"]["rootfsPropagation"] = "rshared".into();
                c["mounts"].as_array_mut().unwrap().push(volume(&flat, "/vol", "rshared"));
            }),
        ),
        (
            "userns",
            Box::new(|c: &mut Value| {
                args(c, "true");
                own_user_namespace(c, 100000);
                c["linux"]["rootfsPropagation"] = "rshared".into();
                c["mounts"].as_array_mut().unwrap().push(volume(&vol, "/vol", "rshared"));
            }),
        ),
    ];
    let pristine = std::fs::read_to_string(lab.bundle().join("config.json")).unwrap();
    for (id, edit) in &configs {
        std::fs::write(lab.bundle().join("config.json"), &pristine).unwrap();
        lab.config(id, edit);
        std::fs::copy(lab.bundle().join("config.json"), d.join(format!("{id}.json"))).unwrap();
    }
    let oci = format!("{} --root {}", testkit::bin("ctr-oci").display(), lab.root().display());
    let (v, b, d) = (vol.display(), lab.bundle().display().to_string(), d.display());
    let script = format!(
        "set -e\nmount --bind {v} {v}\nmount --make-shared {v}\n\
         cp {d}/both.json {b}/config.json\n{oci} create --bundle {b} both </dev/null >{d}/both.out 2>&1\n\
         {oci} start both\n\
         i=0; while ! [ -e {v}/in/from-container ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
         [ -e {v}/in/from-container ] && echo host sees it >{d}/host.out || echo host does not see it >{d}/host.out\n\
         mount -t tmpfs later {v}/sub\ntouch {v}/sub/marker\n\
         i=0; while [ $(wc -l <{d}/both.out) -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done\n\
         grep -c rootfs/tmp /proc/self/mountinfo >>{d}/host.out || true\n\
         cp {d}/unbindable.json {b}/config.json\n\
         {oci} run --bundle {b} unbindable </dev/null >{d}/unbindable.out 2>&1\n\
         for id in notshared userns; do\n\
           cp {d}/$id.json {b}/config.json\n\
           if {oci} create --bundle {b} $id </dev/null >/dev/null 2>{d}/$id.err; then echo created >>{d}/$id.err; fi\n\
         done\n"
    );
    let out = Cmd::new("unshare").args(["-m", "--propagation", "private", "sh", "-c", &script]).run();
    let read = |name: &str| std::fs::read_to_string(lab.dir.path().join(name)).unwrap_or_default();
    assert_eq!(out.code, 0, "{out:?}: {} {} {}", read("both.out"), read("host.out"), read("unbindable.out"));
    assert_eq!(
        read("host.out"),
        "host sees it\n0\n",
        "the container's mount below the volume did not reach the host, or its own did"
    );
    assert_eq!(read("both.out"), "seen\nroot shared\n", "the host's later mount did not reach the container");
    assert_eq!(read("unbindable.out"), "/ unbindable\n/flat unbindable\n");
    for (id, says) in [("notshared", "is not one here"), ("userns", "is not one here")] {
        let err = read(&format!("{id}.err"));
        assert_eq!(err.lines().count(), 1, "{id}: {err}");
        assert!(err.contains("rshared needs its source on a shared mount"), "{id}: {err}");
        assert!(err.contains(says), "{id}: {err}");
        assert!(!lab.root().join(id).exists(), "{id}: state left");
        assert!(!lab.cgroup_exists(id), "{id}: cgroup left");
    }
    assert!(!vol.join("in/from-container").exists(), "the test's mounts leaked out of its namespace");
}

/// `linux.devices`: the node is made by number, with the mode and owner the config
/// gives; whether it opens is `linux.resources.devices`' to say: a node the config
/// makes but does not allow cannot be opened (the cgroup's word, not the node's).
#[test]
fn spec_devices_are_made_and_the_cgroup_decides_access() {
    require_root!();
    if !std::path::Path::new("/dev/kvm").exists() {
        skip("spec_devices", "this machine has no /dev/kvm (10:232), the node the test can open");
        return;
    }
    let Some(lab) = Lab::new("devices") else { return };
    let script = "ls -ln /dev/kvm | awk '{print $1, $3, $4, $5, $6}'; (exec 3</dev/kvm) 2>/dev/null && echo opened || echo refused";
    let run = |id: &str, allow: bool| {
        lab.config(id, |c| {
            args(c, script);
            c["linux"]["devices"] = serde_json::json!([
                { "path": "/dev/kvm", "type": "c", "major": 10, "minor": 232, "fileMode": 0o660, "uid": 0, "gid": 5 }
            ]);
            let mut rules = vec![serde_json::json!({ "allow": false, "access": "rwm" })];
            if allow {
                rules
                    .push(serde_json::json!({ "allow": true, "type": "c", "major": 10, "minor": 232, "access": "rw" }));
            }
            c["linux"]["resources"]["devices"] = rules.into();
        });
        let out = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg(id).stdin(b"").run();
        assert_eq!(out.code, 0, "{id}: {}", out.stderr);
        out.stdout
    };
    assert_eq!(run("dv-allowed", true), "crw-rw---- 0 5 10, 232\nopened\n");
    assert_eq!(run("dv-denied", false), "crw-rw---- 0 5 10, 232\nrefused\n");
    // A type that is no node's: one line naming the field, nothing left.
    lab.config("dv-bad", |c| {
        args(c, "true");
        c["linux"]["devices"] = serde_json::json!([{ "path": "/dev/x", "type": "a", "major": 1, "minor": 3 }]);
    });
    let (code, err) = lab.create("dv-bad", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("linux.devices[0].type"), "{err}");
    assert!(!lab.cgroup_exists("dv-bad"));
}

/// `--preserve-fds N`: descriptors 3..3+N-1 reach the container (systemd's socket
/// activation, podman's `--preserve-fds`); every other one is closed.
#[test]
fn preserved_descriptors_reach_the_container() {
    require_root!();
    let Some(lab) = Lab::new("fds") else { return };
    lab.config("fd", |c| args(c, "echo through fd 3 >&3; ls /proc/self/fd | tr '\\n' ' '"));
    let passed = lab.dir.path().join("passed");
    let script = format!(
        "exec 3>{p}; exec {} --root {} run --bundle {} --preserve-fds 1 fd 4</etc/hostname",
        testkit::bin("ctr-oci").display(),
        lab.root().display(),
        lab.bundle().display(),
        p = passed.display()
    );
    let out = Cmd::new("sh").args(["-c", &script]).stdin(b"").run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&passed).unwrap(), "through fd 3\n");
    // 0, 1, 2, the preserved 3, and ls's own directory (4, free because the stray fd 4
    // given to ctr-oci was closed: else it would be 5).
    assert_eq!(out.stdout.trim(), "0 1 2 3 4", "{}", out.stdout);
}

/// `runc spec`'s own config.json (terminal off, a cgroup namespace added) runs as it is:
/// its /sys/fs/cgroup mount shows the container's own groups, read-only, with the limit
/// the spec set; and it is the same container runc makes, as far as the cgroup tree goes.
#[test]
fn runc_specs_cgroup_mount_shows_the_containers_groups() {
    require_root!();
    if !testkit::has_command("runc") {
        skip("runc_specs_cgroup_mount_shows_the_containers_groups", "runc is not installed");
        return;
    }
    let Some(lab) = Lab::new("cgmount") else { return };
    std::fs::remove_file(lab.bundle().join("config.json")).unwrap();
    Cmd::new("runc").args(["spec", "--bundle"]).arg(lab.bundle()).run().ok();
    lab.config("cg", |c| {
        c["process"]["terminal"] = false.into();
        args(
            c,
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; \
             grep -c '^[0-9]*:[^:]*:/$' /proc/self/cgroup; touch /sys/fs/cgroup/x 2>/dev/null || echo refused",
        );
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        if !ns.iter().any(|n| n["type"] == "cgroup") {
            ns.push(serde_json::json!({ "type": "cgroup" }));
        }
        c["linux"]["resources"]["memory"] = serde_json::json!({ "limit": 64 * 1024 * 1024 });
    });
    let ours = lab.oci(&["run", "--bundle"]).arg(lab.bundle()).arg("cg").stdin(b"").run();
    assert_eq!(ours.code, 0, "{}", ours.stderr);
    let lines: Vec<&str> = ours.stdout.lines().collect();
    assert_eq!(lines[0], "67108864", "{}", ours.stdout);
    let groups = std::fs::read_to_string("/proc/self/cgroup").unwrap().lines().count().to_string();
    assert_eq!(lines[1], groups, "not every group is the namespace's root: {}", ours.stdout);
    assert_eq!(lines[2], "refused", "the cgroup tree is writable: {}", ours.stdout);
    let runc = Cmd::new("runc")
        .arg("--root")
        .arg(lab.dir.path().join("runc"))
        .args(["run", "--bundle"])
        .arg(lab.bundle())
        .arg("cg")
        .stdin(b"")
        .run();
    assert_eq!(runc.stdout, ours.stdout, "ctr-oci and runc differ");
}
