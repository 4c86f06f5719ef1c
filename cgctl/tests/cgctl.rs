//! cgctl, run for real as root on whatever cgroup setup this machine has (hybrid on the
//! development machines, pure v2 in the test VM). Every group is created relative to
//! the test's own cgroup and removed even when the test fails.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{is_dead, probe, require_root, skip, wait_until, Cmd, Outcome, Value};

fn cg(args: &[&str]) -> Outcome {
    Cmd::tool("cgctl").args(args).run()
}

/// A unique relative group name, removed (with everything in it) when dropped.
struct TestGroup(String);

impl TestGroup {
    fn new(tag: &str) -> TestGroup {
        TestGroup(format!("cgctl-test-{tag}-{}", std::process::id()))
    }
    fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = Cmd::tool("cgctl").args(["rm", "--force", &self.0]).run();
    }
}

/// What `cgctl info --json` says, and where a group's files are.
struct Setup(Value);

impl Setup {
    fn detect() -> Setup {
        Setup(cg(&["info", "--json"]).ok().json())
    }
    fn kind(&self) -> &str {
        self.0["setup"].as_str().unwrap_or("")
    }
    fn hierarchies(&self) -> Vec<Value> {
        self.0["hierarchies"].as_array().cloned().unwrap_or_default()
    }
    fn dir_in(h: &Value, name: &str) -> PathBuf {
        let mut p = PathBuf::from(h["mount_point"].as_str().unwrap_or(""));
        let own = h["own_cgroup"].as_str().unwrap_or("/").trim_start_matches('/');
        if !own.is_empty() {
            p.push(own);
        }
        p.join(name)
    }
    /// The group's directory in the hierarchy that holds `controller`'s files.
    fn dir(&self, controller: &str, name: &str) -> PathBuf {
        let hs = self.hierarchies();
        let has = |h: &Value| h["controllers"].as_array().is_some_and(|c| c.iter().any(|x| x == controller));
        let v1 = hs.iter().find(|h| h["version"] == "v1" && has(h));
        let v2 = hs.iter().find(|h| h["version"] == "v2");
        let h = v1.or(v2.filter(|h| has(h))).unwrap_or_else(|| panic!("no hierarchy has {controller}"));
        Setup::dir_in(h, name)
    }
    fn v2_dir(&self, name: &str) -> Option<PathBuf> {
        self.hierarchies().iter().find(|h| h["version"] == "v2").map(|h| Setup::dir_in(h, name))
    }
    fn version_of(&self, controller: &str) -> &'static str {
        let hs = self.hierarchies();
        let v1 = hs.iter().any(|h| {
            h["version"] == "v1" && h["controllers"].as_array().is_some_and(|c| c.iter().any(|x| x == controller))
        });
        if v1 {
            "v1"
        } else {
            "v2"
        }
    }
    /// Every directory of the group in every hierarchy.
    fn all_dirs(&self, name: &str) -> Vec<PathBuf> {
        self.hierarchies()
            .iter()
            .filter(|h| h["name"].is_null())
            .map(|h| Setup::dir_in(h, name))
            .filter(|d| d.exists())
            .collect()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())).trim().to_string()
}

#[test]
fn setup_is_detected_from_mountinfo() {
    require_root!();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1 = mounts.lines().any(|l| l.contains(" - cgroup ") && !l.contains("name="));
    let v2 = mounts.lines().any(|l| l.contains(" - cgroup2 "));
    let expected = match (v1, v2) {
        (true, true) => "hybrid",
        (true, false) => "v1",
        _ => "v2",
    };
    let s = Setup::detect();
    assert_eq!(s.kind(), expected);
    let text = cg(&["info"]).ok().stdout.clone();
    assert!(text.starts_with(&format!("setup: {expected}")), "{text}");
}

#[test]
fn each_limit_lands_in_the_right_file() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("files");
    let n = g.name();
    cg(&[
        "create",
        n,
        "--memory",
        "64M",
        "--memory-swap",
        "128M",
        "--memory-reservation",
        "32M",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "10",
        "--cpuset-cpus",
        "0",
    ])
    .ok();
    let mem = s.dir("memory", n);
    let cpu = s.dir("cpu", n);
    match s.version_of("memory") {
        "v1" => {
            assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
            assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "134217728");
            assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "33554432");
        }
        _ => {
            assert_eq!(read(&mem.join("memory.max")), "67108864");
            assert_eq!(read(&mem.join("memory.swap.max")), "67108864", "swap.max is memory-swap minus memory");
            assert_eq!(read(&mem.join("memory.low")), "33554432");
        }
    }
    match s.version_of("cpu") {
        "v1" => {
            assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "50000");
            assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
            assert_eq!(read(&cpu.join("cpu.shares")), "512");
        }
        _ => {
            assert_eq!(read(&cpu.join("cpu.max")), "50000 100000");
            assert_eq!(read(&cpu.join("cpu.weight")), cgctl::limits::shares_to_weight(512).to_string());
        }
    }
    assert_eq!(read(&s.dir("pids", n).join("pids.max")), "10");
    assert_eq!(read(&s.dir("cpuset", n).join("cpuset.cpus")), "0");
    if s.kind() == "v2" {
        // Exactly the needed controllers were enabled in the parent.
        let parent = s.dir("memory", n).parent().unwrap().join("cgroup.subtree_control");
        let enabled = read(&parent);
        for c in ["memory", "cpu", "pids", "cpuset"] {
            assert!(enabled.split_whitespace().any(|e| e == c), "{c} not enabled in {}: {enabled}", parent.display());
        }
    }
    if s.kind() != "v1" {
        assert!(s.v2_dir(n).unwrap().is_dir(), "the group is also made in the v2 tree");
    }

    // set changes them.
    cg(&["set", n, "--memory", "128M", "--cpus", "1", "--pids-limit", "max", "--set", "memory.swappiness=10"])
        .expect_code(if s.version_of("memory") == "v1" { 0 } else { 125 });
    if s.version_of("memory") == "v1" {
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "134217728");
        assert_eq!(read(&mem.join("memory.swappiness")), "10");
    }
    cg(&["set", n, "--memory", "128M", "--cpus", "1", "--pids-limit", "max"]).ok();
    assert_eq!(read(&s.dir("pids", n).join("pids.max")), "max");
    match s.version_of("cpu") {
        "v1" => assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "100000"),
        _ => assert_eq!(read(&cpu.join("cpu.max")), "100000 100000"),
    }
    // --set writes any other file, as given.
    let high =
        if s.version_of("memory") == "v1" { "memory.soft_limit_in_bytes=16777216" } else { "memory.high=100000000" };
    cg(&["set", n, "--set", high]).ok();
    let (file, value) = high.split_once('=').unwrap();
    let got = read(&mem.join(file));
    assert!(
        got == value || got.parse::<u64>().unwrap() / 4096 == value.parse::<u64>().unwrap() / 4096,
        "{file}: {got}"
    );
}

#[test]
fn memory_limit_oom_kill_is_reported() {
    require_root!();
    let g = TestGroup::new("oom");
    let out = Cmd::tool("cgctl")
        .args(["run", "--keep", "--name", g.name(), "--memory", "32M", "--memory-swap", "32M", "--"])
        .arg(probe())
        .args(["--alloc", "100"])
        .run();
    assert_eq!(out.code, 137, "{}", out.stderr);
    assert_eq!(out.one_line_error(), format!("cgctl: {}: killed by the OOM killer (memory limit 32M)", g.name()));
    let stats = cg(&["stats", g.name(), "--json"]).ok().json();
    assert!(stats["memory"]["oom_kills"].as_u64().unwrap_or(0) >= 1, "{stats}");
    assert_eq!(stats["memory"]["limit"], 32 << 20);
    // Under the limit the same program runs fine.
    let out = Cmd::tool("cgctl").args(["run", "--memory", "64M", "--"]).arg(probe()).args(["--alloc", "16"]).run();
    assert_eq!(out.ok().json()["allocated_mib"], 16);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("pids");
    // The probe tries to fork 40 children that stay alive; with itself that is 41 tasks.
    let out = Cmd::tool("cgctl")
        .args(["run", "--keep", "--name", g.name(), "--pids-limit", "10", "--"])
        .arg(probe())
        .args(["--fork", "40"])
        .run();
    let v = out.ok().json();
    assert_eq!(v["forked"], 9, "the probe plus its children must stay at 10 tasks: {v}");
    assert_eq!(v["fork_failures"], 31);
    let events = read(&s.dir("pids", g.name()).join("pids.events"));
    let refused: u64 =
        events.lines().find_map(|l| l.strip_prefix("max ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0);
    assert!(refused >= 31, "pids.events counted {refused} refused forks: {events}");
    // What the probe left behind was killed when it exited (killed children may linger
    // as zombies, still counted in pids.current until init reaps them; cgroup.procs
    // lists only the living).
    assert_eq!(read(&s.dir("pids", g.name()).join("cgroup.procs")), "");
    // The host can still fork.
    Cmd::new("sh").args(["-c", "true & wait"]).run().ok();
}

#[test]
fn cpu_quota_throttles_a_busy_loop() {
    require_root!();
    let g = TestGroup::new("cpu");
    let out = Cmd::tool("cgctl")
        .args([
            "run",
            "--keep",
            "--name",
            g.name(),
            "--cpus",
            "0.2",
            "--",
            "timeout",
            "2",
            "sh",
            "-c",
            "while :; do :; done",
        ])
        .timeout(Duration::from_secs(30))
        .run();
    // GNU timeout exits 124; busybox's (in the VM) passes on the SIGTERM: 143.
    assert!(out.code == 124 || out.code == 143, "timeout's status {}: {}", out.code, out.stderr);
    let stats = cg(&["stats", g.name(), "--json"]).ok().json();
    let used = stats["cpu"]["usage_usec"].as_u64().expect("cpu usage") as f64 / 1e6;
    assert!(used < 1.0, "a 2 s busy loop under --cpus 0.2 used {used:.2} s of CPU");
    assert!(used > 0.05, "the loop did not run ({used:.3} s)");
    assert!(stats["cpu"]["nr_throttled"].as_u64().unwrap_or(0) > 0, "{stats}");
    assert_eq!(stats["cpu"]["quota_usec"], 20000);
}

#[test]
fn run_kills_leftovers_removes_the_group_and_passes_the_status() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("leftover");
    let dir = testkit::tempdir();
    let pidfile = dir.path().join("daemon.pid");
    let script = format!("sleep 60 & echo $! > {}; exit 3", pidfile.display());
    let out = cg(&["run", "--name", g.name(), "--pids-limit", "50", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let daemon: i32 = read(&pidfile).parse().unwrap();
    assert!(wait_until(Duration::from_secs(5), || is_dead(daemon)), "the daemon {daemon} survived");
    assert!(s.all_dirs(g.name()).is_empty(), "group left behind: {:?}", s.all_dirs(g.name()));
}

#[test]
fn the_child_is_in_the_group_before_it_execs() {
    require_root!();
    let g = TestGroup::new("join");
    let v =
        Cmd::tool("cgctl").args(["run", "--name", g.name(), "--memory", "100M", "--"]).arg(probe()).run().ok().json();
    let lines: Vec<String> = v["cgroup"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
    let s = Setup::detect();
    for want in ["memory", "pids"] {
        let line = lines.iter().find(|l| {
            let ctrls = l.split(':').nth(1).unwrap_or("");
            ctrls.split(',').any(|c| c == want) || (ctrls.is_empty() && s.version_of(want) == "v2")
        });
        let line = line.unwrap_or_else(|| panic!("no {want} line in {lines:?}"));
        assert!(line.ends_with(&format!("/{}", g.name())), "{want}: {line}");
    }
}

/// `exec --create --controllers all`: the process is in the group in every hierarchy
/// (as runc puts a container), not only in those of its limits and the tracking ones;
/// its stats count its own CPU time; `rm` removes every directory.
#[test]
fn controllers_all_puts_the_process_in_every_hierarchy() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("ctlall");
    let n = g.name();
    // Busy until the shell itself has used 0.6 s of CPU (a wall-clock loop gets less on a
    // loaded machine); no fork in the loop. Counted from the shell's first line: the
    // process's times include cgctl's own work before it joined the group (a third of a
    // second under emulation).
    let script = "read -r l < /proc/$$/stat; set -- $l; s=$((${14} + ${15})); \
                  while read -r l < /proc/$$/stat; set -- $l; [ $((${14} + ${15} - s)) -lt 60 ]; do :; done; \
                  cat /proc/self/cgroup";
    let out = cg(&["exec", "--create", "--controllers", "all", n, "--", "sh", "-c", script]).ok().stdout.clone();
    let hierarchies: Vec<Value> = s.hierarchies().into_iter().filter(|h| h["name"].is_null()).collect();
    for h in &hierarchies {
        let controllers: Vec<&str> = h["controllers"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
        let line = out.lines().find(|l| {
            let field = l.split(':').nth(1).unwrap_or("");
            if h["version"] == "v2" {
                field.is_empty()
            } else {
                !field.is_empty() && field.split(',').all(|c| controllers.contains(&c))
            }
        });
        assert!(line.is_some_and(|l| l.ends_with(&format!("/{n}"))), "not in {n} in {controllers:?}: {out}");
    }
    let st = cg(&["stats", n, "--json"]).ok().json();
    let cpu = st["cpu"]["usage_usec"].as_u64().unwrap();
    assert!((600_000..30_000_000).contains(&cpu), "the group's own CPU time, not the machine's: {st}");
    assert!(st["cpu"]["user_usec"].as_u64().is_some(), "{st}");
    cg(&["rm", n]).ok();
    assert!(s.all_dirs(n).is_empty(), "left {:?}", s.all_dirs(n));
}

#[test]
fn exec_add_stats_ls_kill() {
    require_root!();
    let g = TestGroup::new("exec");
    let n = g.name();
    cg(&["create", n, "--pids-limit", "20"]).ok();
    // exec joins and execs (chain loading: the probe *is* the process).
    let v = Cmd::tool("cgctl").args(["exec", n, "--"]).arg(probe()).run().ok().json();
    assert!(v["cgroup"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().ends_with(&format!("/{n}"))));
    // add moves a running process.
    let mut sleeper = Cmd::new("sleep").arg("30").spawn();
    cg(&["add", n, &sleeper.id().to_string()]).ok();
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", sleeper.id())).unwrap();
    assert!(cgroup.lines().filter(|l| l.ends_with(&format!("/{n}"))).count() >= 1, "{cgroup}");
    // stats
    let st = cg(&["stats", n, "--json"]).ok().json();
    assert_eq!(st["name"], n);
    assert_eq!(st["pids"]["current"], 1);
    assert_eq!(st["pids"]["limit"], 20);
    assert!(st["memory"].get("current").is_some() && st["cpu"].get("usage_usec").is_some());
    assert!(st["memory"]["limit"].is_null(), "no memory limit was set: {st}");
    let prom = cg(&["stats", n, "--format", "prometheus"]).ok().stdout.clone();
    assert!(prom.contains(&format!("cgctl_pids_current{{cgroup=\"{n}\"}} 1")), "{prom}");
    assert!(prom.contains("# TYPE cgctl_pids_limit gauge"));
    // ls shows it with its process.
    cg(&["create", &format!("{n}/sub")]).ok();
    let rows = cg(&["ls", "--json"]).ok().json();
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == n).cloned().expect("listed");
    assert_eq!(row["processes"], 1);
    assert!(rows.as_array().unwrap().iter().any(|r| r["name"] == format!("{n}/sub")));
    let rows = cg(&["ls", n, "--json"]).ok().json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    // kill -s TERM reaches it.
    cg(&["kill", "-s", "TERM", n]).ok();
    let st = sleeper.wait().unwrap();
    assert_eq!(testkit::shell_code(st), 143);
    // rm without --force works on an empty group (with its sub-group).
    cg(&["rm", n]).ok();
    assert!(!Setup::detect().all_dirs(n).iter().any(|d| d.exists()));
}

#[test]
fn rm_force_removes_a_frozen_group_with_a_sub_group() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("frozen");
    let n = g.name();
    let sub = format!("{n}/inner");
    cg(&["create", n]).ok();
    cg(&["create", &sub]).ok();
    let mut child = Cmd::tool("cgctl").args(["exec", &sub, "--", "sleep", "60"]).spawn();
    let pid = child.id() as i32;
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default().contains("inner")
    }));
    cg(&["freeze", n]).ok();
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let _ = state;
    // Without --force it refuses (a process is inside).
    let out = cg(&["rm", n]);
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("is still in it"), "{}", out.stderr);
    cg(&["rm", "--force", n]).ok();
    let _ = child.wait();
    assert!(is_dead(pid));
    assert!(s.all_dirs(n).is_empty(), "left behind: {:?}", s.all_dirs(n));
}

#[test]
fn signals_are_forwarded_and_statuses_passed_on() {
    require_root!();
    let dir = testkit::tempdir();
    let ready = dir.path().join("ready");
    let script = format!("trap 'exit 9' TERM; touch {}; while :; do sleep 0.05; done", ready.display());
    let run = Cmd::tool("cgctl").args(["run", "--", "sh", "-c", &script]).spawn();
    assert!(wait_until(Duration::from_secs(10), || ready.exists()));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(run.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = run.wait_with_output().unwrap();
    assert_eq!(testkit::shell_code(out.status), 9);
    // Ctrl-C on the terminal reaches the command once (not once more through cgctl).
    let counting = Cmd::tool("cgctl").args(["run", "--"]).arg(probe()).args(["--count-sigint", "2"]);
    assert_eq!(testkit::sigints_per_ctrl_c(counting), (1, 0));

    for (cmd, code) in &testkit::exit_status_cases(dir.path()) {
        let out = Cmd::tool("cgctl").args(["run", "--pids-limit", "100", "--"]).args(cmd).run();
        assert_eq!(out.code, *code, "{cmd:?}: {}", out.stderr);
    }
    let out = cg(&["run", "--", "no-such-program-xyz"]);
    assert_eq!(out.one_line_error(), "cgctl: failed to execute 'no-such-program-xyz': No such file or directory");
}

#[test]
fn bad_input_is_refused_and_creates_nothing() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("bad");
    let n = g.name();
    let cpus_over = format!("0-{}", 999);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["create", n, "--memory", "10XB"], "invalid value '10XB' for '--memory <SIZE>'"),
        (vec!["create", n, "--memory", "-5M"], "must not be negative"),
        (vec!["create", n, "--memory", "99999999999999999999999"], "too large"),
        (vec!["create", n, "--memory", "1k"], "--memory 1k: below the kernel's minimum of one page (4k)"),
        (vec!["create", n, "--devices", "some"], "expected default (runc's allow-list) or none"),
        (vec!["create", n, "--cpus", "0"], "must be greater than 0"),
        (vec!["create", n, "--cpus", "abc"], "invalid value 'abc' for '--cpus <N.N>'"),
        (vec!["create", n, "--cpu-period", "500"], "the kernel's minimum"),
        (vec!["create", n, "--cpuset-cpus", &cpus_over], "are not available here"),
        (vec!["create", n, "--pids-limit", "-7"], "invalid value '-7' for '--pids-limit <N>'"),
        (vec!["create", n, "--set", "not.a.file=1"], "not.a.file"),
        (vec!["create", n, "--set", "memory.max"], "expected FILE=VALUE"),
        (vec!["create", n, "--set", "memory.no_such_file=1"], "no interface file 'memory.no_such_file'"),
        (vec!["create", n, "--set", "pids.max=abc"], "cannot write 'abc' (--set pids.max=abc) to"),
        (vec!["create", "../escape"], "'.' and '..' would leave the hierarchy"),
        (vec!["create", "a/../../b"], "'.' and '..' would leave the hierarchy"),
        (vec!["exec", n, "--", "true"], "no such group"),
        (vec!["rm", n], "no such group"),
        (vec!["stats", n], "no such group"),
        (
            vec!["create", n, "--controllers", "nosuch"],
            "--controllers nosuch: no hierarchy has the 'nosuch' controller",
        ),
        (
            vec!["run", "--name", n, "--memory-swap", "10M", "--memory", "20M", "--", "true"],
            "must be at least the memory limit",
        ),
    ];
    for (args, msg) in &cases {
        let out = cg(args);
        assert_eq!(out.code, 125, "{args:?}: {}", out.stderr);
        let line = out.one_line_error();
        assert!(line.starts_with("cgctl: ") && line.contains(msg), "{args:?}: expected '{msg}' in '{line}'");
        assert!(s.all_dirs(n).is_empty(), "{args:?} left {:?}", s.all_dirs(n));
    }
    // add of a pid that does not exist: the group exists, nothing moves.
    cg(&["create", n]).ok();
    let out = cg(&["add", n, "999999999"]);
    assert_eq!(out.code, 125);
    let out = cg(&["add", n, "4194000"]);
    assert_eq!(out.code, 125);
    assert_eq!(out.one_line_error(), "cgctl: no such process: 4194000");
}

#[test]
fn an_existing_group_is_never_taken_over() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("taken");
    let n = g.name();
    cg(&["create", n, "--pids-limit", "5"]).ok();
    let refused = |out: &Outcome, name: &str| {
        assert_eq!(out.code, 125, "{}", out.stderr);
        assert_eq!(out.one_line_error(), format!("cgctl: group '{name}' already exists"));
    };
    // A chosen name is refused wherever the group exists, even in other hierarchies.
    refused(&cg(&["create", n, "--memory", "10M"]), n);
    refused(&cg(&["run", "--name", n, "--memory", "10M", "--", "true"]), n);
    // A generated name (cgctl-run-PID) is refused where run would create it: as PID 1
    // of a new PID namespace, cgctl's group is cgctl-run-1.
    let auto = TestGroup("cgctl-run-1".into());
    cg(&["create", auto.name(), "--pids-limit", "5"]).ok();
    let before = s.all_dirs(auto.name());
    let out = Cmd::tool("unshare-rs")
        .args(["--pid", "--fork", "--"])
        .arg(testkit::bin("cgctl"))
        .args(["run", "--memory", "10M", "--pids-limit", "10", "--", "true"])
        .run();
    refused(&out, auto.name());
    // Nothing of the existing groups changed, and run left nothing of its own.
    assert_eq!(s.all_dirs(auto.name()), before);
    assert_eq!(read(&s.dir("pids", auto.name()).join("pids.max")), "5");
    assert_eq!(read(&s.dir("pids", n).join("pids.max")), "5");
}

#[test]
fn concurrent_creates_under_new_parents_all_get_their_limits() {
    require_root!();
    let s = Setup::detect();
    let top = TestGroup::new("herd");
    let cgctl = testkit::bin("cgctl");
    // Each round makes a fresh parent that 16 creations race to make and to enable
    // controllers in (v2); every one must succeed with its limits in place. They wait
    // on their stdin so that all start at once.
    for round in 0..6 {
        let names: Vec<String> = (0..16).map(|i| format!("{}/r{round}/c{i}", top.name())).collect();
        let mut children: Vec<_> = names
            .iter()
            .map(|n| {
                Cmd::new("/bin/sh")
                    .args(["-c", "read -r _; exec \"$0\" \"$@\""])
                    .arg(&cgctl)
                    .args(["create", n, "--pids-limit", "7", "--memory", "32M"])
                    .stdin(b"")
                    .spawn()
            })
            .collect();
        for c in &mut children {
            drop(c.stdin.take());
        }
        for (n, c) in names.iter().zip(children) {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{n}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(read(&s.dir("pids", n).join("pids.max")), "7", "{n}");
            let mem = s.dir("memory", n);
            let file = if s.version_of("memory") == "v1" { "memory.limit_in_bytes" } else { "memory.max" };
            assert_eq!(read(&mem.join(file)), "33554432", "{n}");
        }
    }
}

#[test]
fn no_internal_processes_rule_is_explained_on_v2() {
    require_root!();
    let s = Setup::detect();
    if s.kind() != "v2" {
        skip(
            "no_internal_processes_rule_is_explained_on_v2",
            &format!("only pure cgroup v2 enforces it with controllers (this machine: {})", s.kind()),
        );
        return;
    }
    let g = TestGroup::new("busy");
    cg(&["create", g.name()]).ok();
    let mut sleeper = Cmd::new("sleep").arg("30").spawn();
    cg(&["add", g.name(), &sleeper.id().to_string()]).ok();
    // memory is a domain controller (pids, a threaded one, may sit beside processes).
    let out = cg(&["create", &format!("{}/child", g.name()), "--memory", "10M"]);
    testkit::kill_and_reap(&mut sleeper);
    assert_eq!(out.code, 125);
    let line = out.one_line_error();
    assert!(line.contains("has processes of its own") && line.contains("absolute NAME"), "{line}");
    assert!(!s.v2_dir(&format!("{}/child", g.name())).unwrap().exists(), "the child group was left behind");
}

/// Delegation, as systemd's `Delegate=yes` gives a user a subtree on cgroup v2: a group
/// owned by `nobody` (its directory, cgroup.procs, cgroup.subtree_control and
/// cgroup.threads), the memory and pids controllers enabled above it, nobody's process
/// in a leaf of it. As nobody, `cgctl run --name DELEGATED/job` with limits makes the
/// group below it, the limits are in its files, the command runs in it, and the group is
/// gone after; a group outside the subtree is refused with one line, nothing made.
#[test]
fn a_delegated_subtree_works_without_root() {
    require_root!();
    let s = Setup::detect();
    if s.kind() != "v2" || !testkit::util_linux("setpriv") {
        skip(
            "a_delegated_subtree_works_without_root",
            &format!("delegation is cgroup v2's, and needs setpriv (this machine: {})", s.kind()),
        );
        return;
    }
    let deleg = TestGroup::new("deleg");
    cg(&["create", deleg.name(), "--memory", "1G", "--pids-limit", "1000"]).ok();
    let dir = s.v2_dir(deleg.name()).unwrap();
    std::fs::create_dir(dir.join("leaf")).unwrap();
    for f in ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
        std::os::unix::fs::chown(dir.join(f), Some(65534), Some(65534)).unwrap();
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap().trim_end_matches('/').to_string();
    let job = format!("{own}/{}/job", deleg.name());
    let tmp = testkit::tempdir();
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let go = tmp.path().join("go");
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.05; done; exec {cgctl} run --name {job} --memory 32M --pids-limit 20 -- \
         sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup{job}/memory.max /sys/fs/cgroup{job}/pids.max'",
        go = go.display(),
        cgctl = testkit::bin("cgctl").display()
    );
    let nobody = testkit::as_nobody;
    let child = nobody().args(["sh", "-c", &script]).spawn();
    // (Into the leaf by root: the move needs write access where the two groups meet.)
    std::fs::write(dir.join("leaf/cgroup.procs"), child.id().to_string()).unwrap();
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, format!("0::{job}\n33554432\n20\n"), "{stderr}");
    assert!(!dir.join("job").exists(), "the delegated job group was left behind");
    let outside = format!("cgctl-test-outside-{}", std::process::id());
    let out =
        nobody().arg(testkit::bin("cgctl")).args(["run", "--name", &format!("{own}/{outside}"), "--", "true"]).run();
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.one_line_error().starts_with("cgctl: "), "{out:?}");
    assert!(!s.v2_dir(&outside).unwrap().exists());
}

#[test]
fn quiet_stats_json_and_kill_child() {
    require_root!();
    let dir = testkit::tempdir();
    let report = dir.path().join("report.json");
    // --quiet: the OOM kill shows only in the status; --stats-json tells the rest.
    let out = Cmd::tool("cgctl")
        .args([
            "run",
            "--quiet",
            "--stats-json",
            report.to_str().unwrap(),
            "--memory",
            "32M",
            "--memory-swap",
            "32M",
            "--",
        ])
        .arg(probe())
        .args(["--alloc", "100"])
        .run();
    assert_eq!(out.code, 137);
    assert_eq!(out.stderr, "", "--quiet printed something");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["oom_killed"], true);
    assert_eq!(v["exit_code"], 137);
    assert_eq!(v["stats"]["memory"]["limit"], 32 << 20);
    // --kill-child: the command dies with cgctl.
    let pidfile = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 60", pidfile.display());
    let mut run = Cmd::tool("cgctl").args(["run", "--kill-child", "--", "sh", "-c", &script]).spawn();
    assert!(wait_until(Duration::from_secs(10), || std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))));
    let pid: i32 = read(&pidfile).parse().unwrap();
    let _left = TestGroup(format!("cgctl-run-{}", run.id())); // a killed cgctl cannot clean up
    testkit::kill_and_reap(&mut run);
    assert!(wait_until(Duration::from_secs(5), || is_dead(pid)), "the command outlived cgctl --kill-child");
}

/// The device allow-list as cgctl applies it (v1 devices controller here, an eBPF
/// program in the v2 VM): a node outside it cannot be opened even by root with
/// CAP_MKNOD; an allowed rule opens it; deny wins over allow; a bad rule is refused
/// before anything exists.
#[test]
fn device_allow_list_is_enforced() {
    require_root!();
    let dir = testkit::tempdir();
    let node = dir.path().join("node");
    let n = node.display();
    let open = format!("rm -f {n}; mknod {n} c 1 3 && exec 3>{n} && echo opened");
    let run = |flags: &[&str]| Cmd::tool("cgctl").arg("run").args(flags).args(["--", "sh", "-c", &open]).run();
    // c 1:3 (null) through a node of our own: allowed by default, refused by "none".
    assert_eq!(run(&["--devices", "default"]).ok().stdout, "opened\n");
    let out = run(&["--devices", "none", "--device-allow", "c *:* m"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Operation not permitted"), "{}", out.stderr);
    let out = run(&["--device-allow", "c *:* m", "--device-allow", "c 1:3 rw"]);
    assert_eq!(out.ok().stdout, "opened\n");
    let out = run(&["--devices", "default", "--device-deny", "c 1:3 w"]);
    assert!(out.stderr.contains("Operation not permitted"), "deny must win: {}", out.stderr);
    let out = Cmd::tool("cgctl").args(["run", "--device-allow", "c 1:3 rwx", "--", "true"]).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("is not a device rule like 'c 1:3 rwm'"), "{}", out.stderr);
}

/// `freeze` succeeds only when the kernel reports the group frozen: where the state file
/// never says so (here /dev/null is mounted over it in a mount namespace of the test's
/// own), it fails after its patience with one line and 125, and leaves the group thawed
/// (the process inside goes on running).
#[test]
fn freeze_fails_and_thaws_unless_the_kernel_reports_frozen() {
    require_root!();
    let s = Setup::detect();
    let g = TestGroup::new("nofreeze");
    let n = g.name();
    cg(&["create", n]).ok();
    let mut child = Cmd::tool("cgctl").args(["exec", n, "--", "sleep", "60"]).spawn();
    let pid = child.id() as i32;
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default().contains(n)
    }));
    // The file freeze reads its answer from: v2's cgroup.events where cgroup.freeze
    // exists (v2 and hybrid), else the v1 freezer's state.
    let v2 = s.v2_dir(n).filter(|d| d.join("cgroup.freeze").exists());
    let (state, frozen_file, thawed) = match &v2 {
        Some(d) => (d.join("cgroup.events"), d.join("cgroup.freeze"), "0"),
        None => (s.dir("freezer", n).join("freezer.state"), s.dir("freezer", n).join("freezer.state"), "THAWED"),
    };
    let script =
        format!("mount --bind /dev/null {} && exec {} freeze {n}", state.display(), testkit::bin("cgctl").display());
    let out = Cmd::tool("unshare-rs").args(["-m", "--", "sh", "-c", &script]).run();
    assert_eq!(out.code, 125, "{}", out.stderr);
    let line = out.one_line_error();
    assert!(line.contains("did not report it frozen") && line.contains("left thawed"), "{line}");
    let now = std::fs::read_to_string(&frozen_file).unwrap_or_default();
    assert_eq!(now.trim(), thawed, "the group was left frozen");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(!stat.contains(") D "), "the process is still frozen: {stat}");
    cg(&["rm", "--force", n]).ok();
    let _ = child.wait();
}
