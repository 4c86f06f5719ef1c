//! unshare-rs, run for real as root: namespaces made, parity with util-linux unshare,
//! persistence, user namespaces (rootless too), exit statuses, bad input, signals.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::Path;
use std::time::Duration;

use testkit::{is_dead, ns_inode, probe, probe_ns, require_root, skip, wait_until, Cmd, Outcome, Value};

fn us(args: &[&str]) -> Cmd {
    Cmd::tool("unshare-rs").args(args)
}

/// Run `unshare-rs ARGS -- probe` and parse the probe's JSON. (A copy of the probe
/// that mapped ids can reach: the checkout may sit under a 0700 directory.)
fn probe_in(args: &[&str]) -> Value {
    let dir = testkit::tempdir();
    let out = us(args).arg("--").arg(testkit::probe_for_any_user(dir.path())).run();
    out.ok();
    out.json()
}

#[test]
fn each_namespace_type_is_new() {
    require_root!();
    for (flag, ns) in testkit::NS_FLAGS {
        // PID and time namespaces apply to children: fork so the probe is inside.
        let v = probe_in(&["-f", flag]);
        assert_ne!(probe_ns(&v, ns), ns_inode(None, ns), "{flag}: the probe's {ns} namespace is the caller's");
        for (_, other) in testkit::NS_FLAGS.iter().filter(|(_, o)| *o != ns && *o != "user") {
            // Creating a user namespace alone changes no other type; neither does any other flag.
            if ns != "user" {
                assert_eq!(probe_ns(&v, other), ns_inode(None, other), "{flag} changed the {other} namespace too");
            }
        }
    }
}

#[test]
fn same_observable_result_as_util_linux() {
    require_root!();
    if !testkit::util_linux("unshare") {
        skip("same_observable_result_as_util_linux", "util-linux unshare is not installed");
        return;
    }
    let cases: &[&[&str]] = &[
        &["-m"],
        &["-u"],
        &["-i"],
        &["-n"],
        &["-f", "-p"],
        &["-C"],
        &["-f", "-T"],
        &["-U"],
        &["-U", "-r"],
        &["-U", "-c"],
        &["-U", "--map-user=1000", "--map-group=1000"],
        &["--map-users=100000,0,65536", "--map-groups=100000,0,65536", "-U"],
        &["-m", "--propagation", "slave"],
        &["-m", "--propagation", "shared"],
        &["-m", "--propagation", "unchanged"],
        &["-f", "-p", "--mount-proc"],
        &["-r", "-m", "-u", "-i", "-n", "-p", "-f", "--mount-proc"],
    ];
    if !testkit::has_command("newuidmap") || !testkit::has_command("newgidmap") {
        skip("same_observable_result_as_util_linux", "newuidmap/newgidmap (uidmap) are not installed");
        return;
    }
    // util-linux 2.38 sets multi-range maps through newuidmap even as root, which
    // grants only the ranges /etc/subuid and /etc/subgid give root; the mapped ids must
    // be able to reach the probe (the checkout may sit under a 0700 directory).
    let _ids = testkit::SubordinateIds::grant("root", 100000, 65536);
    let dir = testkit::tempdir();
    let any = testkit::probe_for_any_user(dir.path());
    for args in cases {
        let ul = Cmd::new("unshare").args(*args).arg("--").arg(&any).run();
        assert_eq!(ul.code, 0, "util-linux unshare {args:?} failed: {}", ul.stderr.trim());
        let ul = ul.json();
        let ours = us(args).arg("--").arg(&any).run();
        let ours = ours.ok().json();
        for (_, ns) in testkit::NS_FLAGS {
            let ul_new = probe_ns(&ul, ns) != ns_inode(None, ns);
            let our_new = probe_ns(&ours, ns) != ns_inode(None, ns);
            assert_eq!(our_new, ul_new, "{args:?}: {ns} namespace new? util-linux {ul_new}, unshare-rs {our_new}");
        }
        for field in ["uid", "gid", "uid_map", "gid_map", "setgroups", "root_propagation", "hostname"] {
            assert_eq!(ours[field], ul[field], "{args:?}: field {field} differs");
        }
        // (Without --mount-proc both see the host's /proc, whose count of processes
        // changes between the two runs whenever anything else runs.)
        if args.contains(&"--mount-proc") {
            assert_eq!(
                ours["pids"].as_array().map(Vec::len),
                ul["pids"].as_array().map(Vec::len),
                "{args:?}: visible pids"
            );
        }
        assert_eq!(ours["caps"], ul["caps"], "{args:?}: capabilities differ");
    }
}

#[test]
fn mount_proc_shows_only_the_namespace() {
    require_root!();
    let v = probe_in(&["-fp", "--mount-proc"]);
    assert_eq!(v["pid"], 1, "the probe is the namespace's init");
    assert_eq!(v["pids"], serde_json::json!([1]), "only the probe is visible: {}", v["pids"]);
    // proc is mounted nosuid,nodev,noexec.
    let proc_mount = v["mounts"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["mount_point"] == "/proc"))
        .cloned()
        .expect("proc mounted");
    let opts = proc_mount["options"].as_str().unwrap_or("");
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|x| x == o), "proc options {opts} lack {o}");
    }
    // ps inside shows the namespace's processes only.
    if testkit::has_command("ps") && testkit::util_linux("unshare") {
        let ours = us(&["-fp", "--mount-proc", "--", "ps", "-e", "-o", "pid=,comm="]).run();
        let ul = Cmd::new("unshare").args(["-fp", "--mount-proc", "--", "ps", "-e", "-o", "pid=,comm="]).run();
        assert_eq!(ours.ok().stdout, ul.ok().stdout);
        assert_eq!(ours.stdout.trim(), "1 ps");
    }
}

#[test]
fn hostname_root_and_wd() {
    require_root!();
    let v = probe_in(&["-u", "--hostname", "box-1"]);
    assert_eq!(v["hostname"], "box-1");
    assert_ne!(probe_ns(&v, "uts"), ns_inode(None, "uts"));
    let host = nix::unistd::gethostname().expect("hostname");
    assert_ne!(host.to_string_lossy(), "box-1", "the host's hostname changed");

    let v = probe_in(&["-w", "/etc"]);
    assert_eq!(v["cwd"], "/etc");

    // -R: chroot (to / itself, where the probe is), then -w inside it.
    let v = probe_in(&["-R", "/", "-w", "/tmp"]);
    assert_eq!(v["cwd"], "/tmp");
}

#[test]
fn time_namespace_offsets() {
    require_root!();
    let read_uptime =
        |out: &Outcome| -> f64 { out.stdout.split_whitespace().next().and_then(|x| x.parse().ok()).expect("uptime") };
    let host = Cmd::new("cat").arg("/proc/uptime").run();
    let inside = us(&["-T", "--boottime", "86400", "--monotonic", "3600", "-f", "--", "cat", "/proc/uptime"]).run();
    inside.ok();
    let diff = read_uptime(&inside) - read_uptime(&host);
    assert!((86390.0..86500.0).contains(&diff), "boottime offset not applied: {diff}");
}

#[test]
fn persisted_namespace_can_be_joined_by_util_linux_nsenter() {
    require_root!();
    let dir = testkit::tempdir();
    let net = dir.path().join("net");
    let uts = dir.path().join("uts");
    std::fs::write(&net, "").unwrap();
    std::fs::write(&uts, "").unwrap();
    let netarg = format!("--net={}", net.display());
    let utsarg = format!("--uts={}", uts.display());
    let _guard = testkit::MountGuard(vec![net.clone(), uts.clone()]);
    us(&[&netarg, &utsarg, "--hostname", "kept", "true"]).run().ok();
    assert!(testkit::is_mounted(&net) && testkit::is_mounted(&uts), "namespace files are not bind mounts");
    let inode = std::fs::metadata(&net).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    assert_ne!(inode, ns_inode(None, "net"));
    if testkit::util_linux("nsenter") {
        let out = Cmd::new("nsenter")
            .arg(format!("--net={}", net.display()))
            .arg(format!("--uts={}", uts.display()))
            .arg(probe())
            .run();
        let v = out.ok().json();
        assert_eq!(probe_ns(&v, "net"), inode, "nsenter joined another network namespace");
        assert_eq!(v["hostname"], "kept");
    } else {
        skip("persisted_namespace_can_be_joined_by_util_linux_nsenter", "util-linux nsenter is not installed");
    }
}

#[test]
fn persisted_pid_namespace_needs_fork_and_binds_pid_for_children() {
    require_root!();
    let dir = testkit::tempdir();
    let f = dir.path().join("pid");
    std::fs::write(&f, "").unwrap();
    let arg = format!("--pid={}", f.display());
    let out = us(&[&arg, "true"]).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("requires --fork"), "{}", out.stderr);
    assert!(!testkit::is_mounted(&f));

    let json = dir.path().join("probe.json");
    us(&[&arg, "-f", "--"]).arg(probe()).args(["--out".as_ref(), json.as_os_str()]).run().ok();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let bound = std::fs::metadata(&f).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let _ = nix::mount::umount2(f.as_path(), nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(probe_ns(&v, "pid"), bound, "the persisted file is not the child's PID namespace");
}

#[test]
fn mount_namespace_persists_only_under_a_private_mount() {
    require_root!();
    let dir = testkit::tempdir();
    let d = dir.path().display().to_string();
    let us_bin = testkit::bin("unshare-rs").display().to_string();
    // All of it inside a throwaway mount namespace, so the host table is untouched.
    let script = format!(
        "set -e
         mount -t tmpfs shared {d}
         mount --make-shared {d}
         touch {d}/f
         if {us_bin} --mount={d}/f true 2>{d}/err; then echo persisted-on-shared; exit 1; fi
         cat {d}/err
         mount --make-private {d}
         {us_bin} --mount={d}/f true
         grep -q ' {d}/f ' /proc/self/mountinfo && echo bound"
    );
    // On one CPU: Linux 6.18 refuses (EINVAL, "mount namespace loop") to bind a mount
    // namespace whose id is below the binder's, and namespace ids taken on different
    // CPUs are not ordered by creation time; with other tests creating namespaces in
    // parallel, the new namespace would sometimes get the lower id.
    let out = us(&["-m", "--", "sh", "-c", &script]).on_one_cpu().run();
    out.ok();
    assert!(out.stdout.contains("a mount namespace can only be persisted under a private mount"), "{}", out.stdout);
    assert!(out.stdout.contains("bound"), "{}", out.stdout);
}

#[test]
fn user_namespace_maps() {
    require_root!();
    let v = probe_in(&["-U", "-r"]);
    assert_eq!(v["uid"], 0);
    assert_eq!(v["uid_map"], serde_json::json!([[0, 0, 1]]));
    assert_eq!(v["setgroups"], "deny");

    let v = probe_in(&["--map-user=1000", "--map-group=1001"]);
    assert_eq!(v["uid"], 1000);
    assert_eq!(v["gid"], 1001);
    assert_eq!(v["uid_map"], serde_json::json!([[1000, 0, 1]]));

    // Both range forms, merged with -r the way util-linux merges them.
    let v = probe_in(&["--map-users=0:100000:65536", "--map-groups=100000,0,65536", "-r"]);
    assert_eq!(v["uid_map"], serde_json::json!([[0, 0, 1], [1, 100000, 65535]]));
    assert_eq!(v["gid_map"], serde_json::json!([[0, 0, 1], [1, 100000, 65535]]));

    // -S/-G inside a namespace with ranges.
    let v = probe_in(&["--map-users=0:100000:65536", "--map-groups=0:100000:65536", "-S", "1000", "-G", "1000"]);
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(1000), Some(1000)));
    assert_eq!(v["groups"], serde_json::json!([]));

    // --keep-caps: a non-root user in the namespace keeps the namespace's capabilities.
    let v = probe_in(&["-U", "--map-user=1000", "--keep-caps"]);
    assert_ne!(v["caps"]["ambient"], "0000000000000000", "ambient set empty with --keep-caps");
    assert_eq!(v["caps"]["effective"], v["caps"]["ambient"]);
    let v = probe_in(&["-U", "--map-user=1000"]);
    assert_eq!(v["caps"]["effective"], "0000000000000000");
}

#[test]
fn map_auto_reads_subordinate_ids() {
    require_root!();
    let dir = testkit::tempdir();
    let d = dir.path();
    for sub in ["upper", "work"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("upper/subuid"), "someone:300000:10\nroot:200000:65536\n").unwrap();
    std::fs::write(d.join("upper/subgid"), "0:400000:1000\n").unwrap();
    let us_bin = testkit::bin("unshare-rs").display().to_string();
    let p = probe().display().to_string();
    let dd = d.display();
    // /etc with our subuid/subgid on top, in a throwaway mount namespace.
    let script = format!(
        "set -e
         mount -t overlay overlay -o lowerdir=/etc,upperdir={dd}/upper,workdir={dd}/work /etc
         {us_bin} --map-auto -r -- {p}"
    );
    let out = us(&["-m", "--", "sh", "-c", &script]).run();
    let v = out.ok().json();
    assert_eq!(v["uid_map"], serde_json::json!([[0, 0, 1], [1, 200000, 65536]]));
    assert_eq!(v["gid_map"], serde_json::json!([[0, 0, 1], [1, 400000, 1000]]));
    let script = format!(
        "set -e
         mount -t overlay overlay -o lowerdir=/etc,upperdir={dd}/upper,workdir={dd}/work /etc
         {us_bin} --map-users=subids --map-groups=auto -- {p}"
    );
    let v = us(&["-m", "--", "sh", "-c", &script]).run().ok().json();
    assert_eq!(v["uid_map"], serde_json::json!([[200000, 200000, 65536]]));
    assert_eq!(v["gid_map"], serde_json::json!([[0, 400000, 1000]]));
}

#[test]
fn rootless_user_pid_mount_namespaces() {
    require_root!();
    if !testkit::util_linux("setpriv") {
        skip("rootless_user_pid_mount_namespaces", "util-linux setpriv is not installed");
        return;
    }
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    if max.trim() == "0" {
        skip("rootless_user_pid_mount_namespaces", "user namespaces are disabled (max_user_namespaces = 0)");
        return;
    }
    // (Copies that uid 65534 can reach: the checkout may sit under a 0700 directory.)
    let dir = testkit::tempdir();
    let out = Cmd::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"])
        .arg(testkit::for_any_user(dir.path(), &testkit::bin("unshare-rs")))
        .args(["-U", "-r", "-m", "-p", "-f", "--mount-proc", "--"])
        .arg(testkit::probe_for_any_user(dir.path()))
        .run();
    let v = out.ok().json();
    assert_eq!(v["uid"], 0);
    assert_eq!(v["uid_map"], serde_json::json!([[0, 65534, 1]]));
    assert_eq!(v["pid"], 1);
    assert_eq!(v["pids"], serde_json::json!([1]));
}

#[test]
fn exit_status_table() {
    require_root!();
    let dir = testkit::tempdir();
    let cases = testkit::exit_status_cases(dir.path());
    for fork in [false, true] {
        for (cmd, code) in &cases {
            let mut args = vec!["-m", "-u"];
            if fork {
                args.push("-f");
            }
            args.push("--");
            args.extend(cmd.iter().map(String::as_str));
            let out = us(&args).run();
            assert_eq!(out.code, *code, "{args:?}: stderr {}", out.stderr);
        }
    }
    let out = us(&["-f", "--", "no-such-program-xyz"]).run();
    assert_eq!(out.one_line_error(), "unshare-rs: failed to execute 'no-such-program-xyz': No such file or directory");
    let out = us(&["--no-such-flag"]).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().starts_with("unshare-rs: unrecognized option '--no-such-flag'"), "{}", out.stderr);
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    require_root!();
    let dir = testkit::tempdir();
    let existing = dir.path().join("net");
    std::fs::write(&existing, "").unwrap();
    let net = format!("--net={}", existing.display());
    let pidfile = dir.path().join("pid").display().to_string();
    let before = testkit::mount_snapshot(dir.path());
    let cases: &[(&[&str], &str)] = &[
        (
            &["--monotonic", "10", "true"],
            "options --monotonic and --boottime require unsharing of a time namespace (-T)",
        ),
        (&["-T", "--boottime", "x", "true"], "invalid value 'x' for '--boottime <SECS>'"),
        (
            &["--setgroups", "allow", "--map-group", "0", "true"],
            "options --setgroups=allow and --map-group are mutually exclusive",
        ),
        (&["-r", "--setgroups", "allow", "true"], "options --setgroups=allow and --map-group are mutually exclusive"),
        (&["--map-users", "1:2", "true"], "invalid mapping '1:2'"),
        (&["--map-users", "0:100000:0", "true"], "invalid mapping '0:100000:0'"),
        (&["--map-users", "0:100000:10", "--map-users", "5:200000:10", "true"], "overlapping uid mappings"),
        (&["--map-groups", "0:100000:10", "--map-groups", "20:100005:10", "true"], "overlapping gid mappings"),
        (
            &[&net, "--uts=/nonexistent/file", "true"],
            "cannot persist the uts namespace on '/nonexistent/file': No such file or directory",
        ),
        (&["--pid-file", &pidfile, "true"], "option --pid-file requires --fork"),
        (&["--hostname", "x", "true"], "option --hostname requires unsharing of a UTS namespace (-u)"),
        (&["--kill-child=NOPE", "true"], "unknown signal: NOPE"),
        (&["--propagation", "weird", "-m", "true"], "unsupported propagation mode: weird"),
        (&["--setgroups", "maybe", "-U", "true"], "unsupported --setgroups argument 'maybe'"),
        (&["--map-user", "no-such-user-xyz", "true"], "no user named 'no-such-user-xyz'"),
    ];
    for (args, msg) in cases {
        let out = us(args).run();
        assert_eq!(out.code, 125, "{args:?}: {}", out.stderr);
        let line = out.one_line_error();
        assert!(line.starts_with("unshare-rs: "), "{line}");
        assert!(line.contains(msg), "{args:?}: expected '{msg}' in '{line}'");
        assert_eq!(testkit::mount_snapshot(dir.path()), before, "{args:?} left a mount behind");
    }
    assert!(!Path::new(&pidfile).exists());
}

/// Start `unshare-rs ARGS` with a pid file; return the running tool and the child's pid.
fn start_with_pid_file(args: &[&str], dir: &Path) -> (std::process::Child, i32) {
    let pidfile = dir.join("child.pid");
    let tool = us(&["--pid-file", pidfile.to_str().unwrap()]).args(args).spawn();
    assert!(wait_until(Duration::from_secs(10), || pidfile.exists()), "no pid file");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    (tool, pid)
}

#[test]
fn pid_file_names_the_forked_child() {
    require_root!();
    let dir = testkit::tempdir();
    let (mut tool, pid) = start_with_pid_file(&["-fp", "--", "sleep", "30"], dir.path());
    // The host pid of the child: its parent is unshare-rs, and it is PID 1 of its namespace.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ppid = stat.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().to_string();
    assert_eq!(ppid, tool.id().to_string());
    let nspid =
        stat.lines().find_map(|l| l.strip_prefix("NSpid:")).unwrap().split_whitespace().last().unwrap().to_string();
    assert_eq!(nspid, "1");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let st = tool.wait().unwrap();
    assert_eq!(testkit::shell_code(st), 137);
    // The file is written before the program starts: the program itself can read it.
    let file = dir.path().join("early.pid");
    let out = Cmd::tool("unshare-rs")
        .args(["-fp", "--pid-file"])
        .arg(&file)
        .args(["--", "sh", "-c", "cat \"$0\" && echo $$"])
        .arg(&file)
        .run();
    let lines: Vec<&str> = out.ok().stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1], "1", "the program is PID 1 of its namespace");
    assert!(lines[0].parse::<i32>().is_ok_and(|p| p > 1), "the pid file holds the host pid: {lines:?}");
}

#[test]
fn kill_child_kills_the_child_when_unshare_rs_dies() {
    require_root!();
    let dir = testkit::tempdir();
    let (mut tool, pid) = start_with_pid_file(&["--kill-child", "--", "sleep", "60"], dir.path());
    assert!(!is_dead(pid));
    testkit::kill_and_reap(&mut tool); // SIGKILL
    assert!(wait_until(Duration::from_secs(5), || is_dead(pid)), "child {pid} survived unshare-rs");

    // Without --kill-child the child outlives it (the behaviour --kill-child changes).
    let dir2 = testkit::tempdir();
    let (mut tool, pid) = start_with_pid_file(&["-f", "--", "sleep", "60"], dir2.path());
    testkit::kill_and_reap(&mut tool);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!is_dead(pid), "child died without --kill-child");
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
}

#[test]
fn kill_child_when_the_parent_dies_before_the_child_arms_it() {
    require_root!();
    if !testkit::has_command("strace") {
        skip(
            "kill_child_when_the_parent_dies_before_the_child_arms_it",
            "strace is not installed (it delays the child's prctl)",
        );
        return;
    }
    let dir = testkit::tempdir();
    let pidfile = dir.path().join("child.pid");
    // strace holds the child's prctl(PR_SET_PDEATHSIG) for 1.5 s; unshare-rs dies meanwhile.
    let mut tracer = Cmd::new("strace")
        .args(["-f", "-o", "/dev/null", "-e", "trace=prctl", "-e", "inject=prctl:delay_enter=1500000"])
        .arg(testkit::bin("unshare-rs"))
        .args(["--kill-child=TERM", "--pid-file", pidfile.to_str().unwrap(), "--", "sleep", "60"])
        .spawn();
    assert!(wait_until(Duration::from_secs(10), || pidfile.exists()), "no pid file");
    let child: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap();
    let parent: i32 = stat.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(parent), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || is_dead(child)),
        "child {child} survived a parent that died before prctl"
    );
    testkit::kill_and_reap(&mut tracer);
}

#[test]
fn forward_signals_reach_the_child() {
    require_root!();
    let dir = testkit::tempdir();
    let ready = dir.path().join("ready");
    let script = format!(
        "trap 'echo got-TERM; exit 3' TERM; trap 'echo got-USR1' USR1; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let tool = Cmd::tool("unshare-rs").args(["--forward-signals", "--", "sh", "-c", &script]).spawn();
    assert!(wait_until(Duration::from_secs(10), || ready.exists()));
    let pid = nix::unistd::Pid::from_raw(tool.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR1).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = tool.wait_with_output().unwrap();
    assert_eq!(testkit::shell_code(out.status), 3);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("got-USR1") && text.contains("got-TERM"), "{text}");
    // Ctrl-C on the terminal reaches the child once (the terminal signals the whole
    // foreground process group; the parent does not pass that one on again).
    let counting =
        Cmd::tool("unshare-rs").args(["-fp", "--forward-signals", "--"]).arg(probe()).args(["--count-sigint", "2"]);
    assert_eq!(testkit::sigints_per_ctrl_c(counting), (1, 0));
}

#[test]
fn no_program_runs_the_shell() {
    require_root!();
    let out = us(&["-u"]).env("SHELL", "/bin/sh").stdin(b"echo from-shell; exit 4\n").run();
    assert_eq!(out.code, 4);
    assert!(out.stdout.contains("from-shell"));
}

#[test]
fn loopback_is_brought_up_in_the_new_network_namespace() {
    require_root!();
    if !testkit::has_command("ip") {
        skip("loopback_is_brought_up_in_the_new_network_namespace", "ip (iproute2 or busybox) is not installed");
        return;
    }
    let up = us(&["-n", "--loopback", "--", "ip", "link", "show", "lo"]).run();
    assert!(up.ok().stdout.contains("LOOPBACK,UP"), "{}", up.stdout);
    let down = us(&["-n", "--", "ip", "link", "show", "lo"]).run();
    assert!(!down.ok().stdout.contains(",UP"), "lo is up without --loopback: {}", down.stdout);
    let out = us(&["--loopback", "true"]).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("--loopback requires unsharing of a network namespace"));
}

/// util-linux's `unshare --clear-env` and `--whitelist-env` (its tests/ts/unshare/env):
/// the program gets no variables, or only the listed ones that are set (lists are
/// comma-separated and repeatable; an unset name is simply absent); the search for the
/// program still works without PATH (execvp's default path).
#[test]
fn clear_env_and_whitelist_env() {
    let printenv = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["env"]);
        us(&a).env("UL_TEST_ENV", "foo").env("UL_TEST_ENV1", "foo").env("UL_TEST_ENV2", "bar").run()
    };
    assert_eq!(printenv(&["--clear-env"]).ok().stdout, "");
    assert_eq!(printenv(&["--whitelist-env", "UL_TEST_ENV1"]).ok().stdout, "UL_TEST_ENV1=foo\n");
    let out = printenv(&["-f", "--whitelist-env", "UL_TEST_ENV2,NOT_SET", "--whitelist-env", "UL_TEST_ENV1"]);
    assert_eq!(out.ok().stdout, "UL_TEST_ENV2=bar\nUL_TEST_ENV1=foo\n");
    // Without either, the environment is passed on.
    assert!(printenv(&[]).ok().stdout.contains("UL_TEST_ENV2=bar\n"));
}

/// `--detach`: unshare-rs returns once the child is set up (its pid file written), and
/// the child goes on in its namespaces with no unshare-rs process above it (what an OCI
/// runtime's `create` needs: the container's init is its caller's, or PID 1's, child).
#[test]
fn detach_leaves_the_child_running_without_a_parent_of_ours() {
    require_root!();
    let dir = testkit::tempdir();
    let pidfile = dir.path().join("pid");
    let started = std::time::Instant::now();
    // (The child lets go of the output pipes, or reading them would wait for it.)
    let quiet = "exec sleep 30 </dev/null >/dev/null 2>&1";
    let out = us(&["--detach", "--pid-file", pidfile.to_str().unwrap(), "-u", "--", "sh", "-c", quiet]).run();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20), "unshare-rs waited for its child");
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!is_dead(pid), "the child did not go on");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let ppid: i32 = status.lines().find_map(|l| l.strip_prefix("PPid:")).unwrap().trim().parse().unwrap();
    let parent = std::fs::read_link(format!("/proc/{ppid}/exe")).map(|p| p.display().to_string()).unwrap_or_default();
    assert!(!parent.contains("unshare-rs"), "the child's parent is {parent}");
    assert_ne!(ns_inode(Some(pid), "uts"), ns_inode(None, "uts"));
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    // Contradictions are refused.
    let out = us(&["--detach", "--kill-child", "-u", "--", "true"]).run();
    assert_eq!(out.code, 125, "{}", out.stderr);
}
