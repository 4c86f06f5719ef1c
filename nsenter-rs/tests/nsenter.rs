//! nsenter-rs, run for real as root: joining targets made by util-linux unshare and by
//! unshare-rs, parity with util-linux nsenter, root/cwd/env/credentials, cgroups,
//! confinement, exit statuses and bad input.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::process::Child;
use std::time::Duration;

use testkit::{is_dead, ns_inode, probe, probe_ns, require_root, skip, wait_until, Cmd, Value};

/// A running target process, killed when dropped.
struct Target {
    tool: Child,
    pid: i32,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), nix::sys::signal::Signal::SIGKILL);
        testkit::kill_and_reap(&mut self.tool);
    }
}

/// A target in a new mount namespace, chrooted into `root` by `unshare` (a
/// `Cmd::tool("unshare-rs")`, with its environment) with `extra` options, running `cmd`.
fn chrooted_target(root: &std::path::Path, extra: &[&str], cmd: &[&str], unshare: Cmd) -> Target {
    let pidfile = root.join("pid");
    let tool = unshare
        .args(["-f", "-m", "-R", root.to_str().unwrap(), "--pid-file", pidfile.to_str().unwrap()])
        .args(extra)
        .arg("--")
        .args(cmd)
        .spawn();
    assert!(wait_until(Duration::from_secs(10), || pidfile.exists()));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    Target { tool, pid }
}

/// The first child of `pid` (util-linux unshare -f's child).
fn first_child(pid: u32) -> Option<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?.split_whitespace().next()?.parse().ok()
}

/// A target in new namespaces of every type, made by unshare-rs (`ours`) or util-linux.
fn target(ours: bool, extra: &[&str], cmd: &[&str]) -> Target {
    let dir = testkit::tempdir();
    let pidfile = dir.path().join("pid");
    let mut args: Vec<String> =
        ["-f", "-p", "-m", "-u", "-i", "-n", "-C", "-T", "--mount-proc"].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    let tool = if ours {
        Cmd::tool("unshare-rs").args(&args).args(["--pid-file", pidfile.to_str().unwrap(), "--"]).args(cmd).spawn()
    } else {
        Cmd::new("unshare").args(&args).arg("--").args(cmd).spawn()
    };
    let mut pid = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            pid = if ours {
                std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse().ok())
            } else {
                first_child(tool.id())
            };
            // The target has exec'd its command once its comm is no longer the tool's.
            pid.is_some_and(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| !c.starts_with("unshare"))
            })
        }),
        "target did not start"
    );
    Target { tool, pid: pid.unwrap() }
}

fn ns_enter(args: &[&str]) -> Cmd {
    Cmd::tool("nsenter-rs").args(args)
}

fn probe_via(args: &[&str]) -> Value {
    let out = ns_enter(args).arg("--").arg(probe()).run();
    out.ok();
    out.json()
}

#[test]
fn joins_each_namespace_type_of_targets_made_by_both_unshares() {
    require_root!();
    for ours in [true, false] {
        if !ours && !testkit::util_linux("unshare") {
            skip(
                "joins_each_namespace_type_of_targets_made_by_both_unshares",
                "util-linux unshare is not installed (target made by unshare-rs only)",
            );
            continue;
        }
        let t = target(ours, &["-U", "-r"], &["sleep", "60"]);
        let pid = t.pid.to_string();
        for (flag, ns) in testkit::NS_FLAGS {
            // The target's mount namespace has its own PID namespace's /proc: the probe
            // can only read /proc/self there from inside that PID namespace too.
            let flags: &[&str] = if flag == "-m" { &["-m", "-p"] } else { &[flag] };
            let mut args = vec!["-t", pid.as_str()];
            args.extend_from_slice(flags);
            let v = probe_via(&args);
            assert_eq!(
                probe_ns(&v, ns),
                ns_inode(Some(t.pid), ns),
                "{flag} (target by {}): not the target's {ns}",
                if ours { "unshare-rs" } else { "unshare" }
            );
            assert_ne!(probe_ns(&v, ns), ns_inode(None, ns), "{flag}: still in our own {ns} namespace");
        }
        let v = probe_via(&["-t", &pid, "-a"]);
        for (_, ns) in testkit::NS_FLAGS {
            assert_eq!(probe_ns(&v, ns), ns_inode(Some(t.pid), ns), "--all did not join {ns}");
        }
        // In a joined user namespace the default credentials are root's.
        assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(0), Some(0)));
        assert_eq!(v["uid_map"], serde_json::json!([[0, 0, 1]]));
    }
}

#[test]
fn pid_namespace_shows_the_targets_processes() {
    require_root!();
    let t = target(true, &[], &["sleep", "60"]);
    let out = ns_enter(&["-t", &t.pid.to_string(), "-a", "--", "ps", "-e", "-o", "pid=,comm="]).run();
    let procs: Vec<String> =
        out.ok().stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(procs.first().map(String::as_str), Some("1 sleep"), "{procs:?}");
    assert!(procs.iter().any(|p| p.ends_with(" ps")));
    assert!(procs.len() <= 3, "host processes visible: {procs:?}");
    // -F: no fork; the program itself is then not in the PID namespace.
    let v = probe_via(&["-t", &t.pid.to_string(), "-p", "-F"]);
    assert_ne!(v["pid"], 1);
    let v = probe_via(&["-t", &t.pid.to_string(), "-a"]);
    assert_eq!(v["pids"].as_array().map(Vec::len), Some(2), "the target and the probe: {}", v["pids"]);
}

#[test]
fn root_wd_env_and_credentials_of_the_target() {
    require_root!();
    // A target chrooted into a directory holding a copy of the (static) probe, in /sub.
    let dir = testkit::tempdir();
    let root = dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::copy(probe(), root.join("probe")).unwrap();
    let t = chrooted_target(
        root,
        &["-w", "/sub"],
        &["/probe", "--sleep", "60"],
        Cmd::tool("unshare-rs").env("TARGET_ONLY", "yes-this-is-the-target"),
    );
    let pid = t.pid.to_string();
    let out = ns_enter(&["-t", &pid, "-m", "-r", "-w", "-e", "--", "/probe"]).env("OURS_ONLY", "1").run();
    let v = out.ok().json();
    assert_eq!(v["cwd"], "/sub");
    assert_eq!(v["env"]["TARGET_ONLY"], "yes-this-is-the-target");
    assert!(v["env"].get("OURS_ONLY").is_none(), "-e must replace the environment");
    // -W: a directory resolved inside; -r=DIR: an explicit root.
    let v = ns_enter(&["-t", &pid, "-m", "-r", "-W", "/", "--", "/probe"]).run().ok().json();
    assert_eq!(v["cwd"], "/");
    // Paths given to -r and -w are opened before entering, so they are host paths.
    let r = format!("--root={}", root.display());
    let w = format!("--wd={}", root.join("sub").display());
    let v = ns_enter(&["-t", &pid, "-m", &r, &w, "--", "/probe"]).run().ok().json();
    assert!(v["cwd"].as_str().unwrap().ends_with("sub"), "{}", v["cwd"]);
    // -S/-G with numbers, and follow (the owner of /proc/PID: root). Uid 1234 must be
    // able to reach the probe (the checkout may sit under a 0700 directory).
    std::fs::create_dir(root.join("pub")).unwrap();
    let any = testkit::probe_for_any_user(&root.join("pub"));
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let v = ns_enter(&["-t", &pid, "-m", "-S", "1234", "-G", "4321", "--"]).arg(&any).run().ok().json();
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(1234), Some(4321)));
    assert_eq!(v["groups"], serde_json::json!([]));
    let v = ns_enter(&["-t", &pid, "-m", "-S", "follow", "-G", "follow", "--"]).arg(probe()).run().ok().json();
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(0), Some(0)));
}

#[test]
fn user_namespace_target_with_explicit_ids_and_preserved_credentials() {
    require_root!();
    let t = target(true, &["--map-users=0:100000:65536", "--map-groups=0:100000:65536"], &["sleep", "60"]);
    let pid = t.pid.to_string();
    // Host uids 100000 and up must be able to reach the probe (the checkout may sit
    // under a 0700 directory).
    let dir = testkit::tempdir();
    let any = testkit::probe_for_any_user(dir.path());
    let as_mapped = |args: &[&str]| ns_enter(args).arg("--").arg(&any).run().ok().json();
    let v = as_mapped(&["-t", &pid, "-U", "-S", "0", "-G", "0"]);
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(0), Some(0)));
    assert_eq!(v["uid_map"], serde_json::json!([[0, 100000, 65536]]));
    let v = as_mapped(&["-t", &pid, "-U", "-S", "1000", "-G", "1000"]);
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(1000), Some(1000)));
    // --preserve-credentials: we are root outside, unmapped (overflow id) inside.
    let v = probe_via(&["-t", &pid, "-U", "--preserve-credentials"]);
    assert_eq!(v["uid"], 65534);
}

/// Without root: `-a` joins a rootless container (made by the user `nobody` with
/// `unshare-rs -U -r`) as that user, its user namespace first; the namespaces it shares
/// with the caller (the host's cgroup and time namespaces, which a user namespace has no
/// privilege over) are left alone instead of failing, as util-linux 2.38 does here.
#[test]
fn all_joins_a_rootless_container_as_its_user() {
    require_root!();
    if !testkit::util_linux("setpriv") {
        skip("all_joins_a_rootless_container_as_its_user", "util-linux setpriv is not installed");
        return;
    }
    let dir = testkit::tempdir();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let pidfile = dir.path().join("pid");
    let tool = testkit::as_nobody()
        .arg(testkit::bin("unshare-rs"))
        .args(["-U", "-r", "-f", "-p", "-m", "-u", "-i", "--mount-proc", "--hostname", "box", "--pid-file"])
        .arg(&pidfile)
        .args(["--", "sleep", "60"])
        .spawn();
    let mut pid = 0;
    assert!(wait_until(Duration::from_secs(10), || {
        pid = std::fs::read_to_string(&pidfile).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        pid > 0 && std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
    }));
    let t = Target { tool, pid };
    let out = testkit::as_nobody()
        .arg(testkit::bin("nsenter-rs"))
        .args(["-t", &t.pid.to_string(), "-a", "--", "sh", "-c"])
        .arg("id -u; hostname; readlink /proc/self/ns/mnt; readlink /proc/self/ns/user; cat /proc/1/comm")
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let link = |ns: &str| std::fs::read_link(format!("/proc/{}/ns/{ns}", t.pid)).unwrap().display().to_string();
    assert_eq!(out.stdout, format!("0\nbox\n{}\n{}\nsleep\n", link("mnt"), link("user")));
}

#[test]
fn persisted_namespace_file_can_be_joined() {
    require_root!();
    let dir = testkit::tempdir();
    let f = dir.path().join("net");
    std::fs::write(&f, "").unwrap();
    Cmd::tool("unshare-rs").arg(format!("--net={}", f.display())).arg("true").run().ok();
    let bound = std::fs::metadata(&f).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    let v = probe_via(&[&format!("--net={}", f.display())]);
    let _ = nix::mount::umount2(f.as_path(), nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(probe_ns(&v, "net"), bound);
    assert_ne!(bound, ns_inode(None, "net"));
}

/// A target (`sleep 60` in a new UTS namespace) in cgroup `name` with `limits`, made by
/// `cgctl run`; its pid file goes to `dir`. Returns cgctl and the target's pid.
fn target_in_group(name: &str, limits: &[&str], dir: &std::path::Path) -> (Child, i32) {
    let pidfile = dir.join("pid");
    let holder = Cmd::tool("cgctl")
        .args(["run", "--name", name])
        .args(limits)
        .arg("--")
        .arg(testkit::bin("unshare-rs"))
        .args(["-f", "-u", "--pid-file", pidfile.to_str().unwrap(), "--", "sleep", "60"])
        .spawn();
    assert!(wait_until(Duration::from_secs(10), || pidfile.exists()));
    let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    (holder, pid)
}

#[test]
fn join_cgroup_lands_in_every_hierarchy_of_the_target() {
    require_root!();
    let name = format!("nsenter-test-cg-{}", std::process::id());
    let dir = testkit::tempdir();
    let (mut holder, pid) = target_in_group(&name, &["--memory", "200M", "--pids-limit", "50"], dir.path());
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v = probe_via(&["-t", &pid.to_string(), "-u", "-c"]);
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = holder.wait();
    let mine: Vec<&str> = v["cgroup"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(mine, theirs, "the program's cgroups differ from the target's");
    assert!(theirs.iter().any(|l| l.contains(&name)), "target not in the group: {theirs:?}");
}

#[test]
fn same_probe_output_as_util_linux_nsenter() {
    require_root!();
    if !testkit::util_linux("nsenter") {
        skip("same_probe_output_as_util_linux_nsenter", "util-linux nsenter is not installed");
        return;
    }
    let t = target(true, &["-U", "-r", "--hostname", "twin"], &["sleep", "60"]);
    let pid = t.pid.to_string();
    let cases: &[&[&str]] = &[
        &["-a"],
        &["-m", "-u"],
        &["-n", "-i"],
        &["-U"],
        &["-p", "-m"],
        &["-a", "-S", "0", "-G", "0"],
        &["-U", "--preserve-credentials"],
    ];
    for flags in cases {
        let mut args = vec!["-t", pid.as_str()];
        args.extend_from_slice(flags);
        let ours = probe_via(&args);
        let ul = Cmd::new("nsenter").args(&args).arg("--").arg(probe()).run();
        let ul = ul.ok().json();
        for field in
            ["ns", "uid", "gid", "groups", "hostname", "uid_map", "gid_map", "caps", "cgroup", "root_propagation"]
        {
            assert_eq!(ours[field], ul[field], "{flags:?}: {field} differs");
        }
        // The same mounts, and the same processes (the probe's own pid may differ), in
        // the target's mount namespace and /proc. (Without it both see the host's, whose
        // mounts and processes change between the two runs whenever another test mounts
        // or runs something.)
        if flags.contains(&"-a") || flags.contains(&"-m") {
            assert_eq!(ours["mount_count"], ul["mount_count"], "{flags:?}: mount_count differs");
            assert_eq!(
                ours["pids"].as_array().map(Vec::len),
                ul["pids"].as_array().map(Vec::len),
                "{flags:?}: visible pids"
            );
        }
    }
}

#[test]
fn confinement_flags() {
    require_root!();
    let t = target(true, &[], &["sleep", "60"]);
    let pid = t.pid.to_string();
    let nsr = testkit::bin("nsenter-rs").display().to_string();
    let p = probe().display().to_string();
    // fd 5 is inherited unless --close-fds.
    let run = |extra: &str| -> Value {
        let script = format!("exec 5</etc/hostname; exec {nsr} -t {pid} -u {extra} -- {p}");
        Cmd::new("sh").args(["-c", &script]).run().ok().json()
    };
    let open = run("");
    assert!(open["fds"].as_array().unwrap().iter().any(|f| f == 5), "{}", open["fds"]);
    assert_eq!(open["no_new_privs"], "0");
    let shut = run("--close-fds --no-new-privs --cap-drop ALL --cap-add NET_RAW");
    assert_eq!(shut["fds"], serde_json::json!([0, 1, 2]));
    assert_eq!(shut["no_new_privs"], "1");
    assert_eq!(shut["caps"]["bounding"], "0000000000002000", "only CAP_NET_RAW (13)");
    assert_eq!(shut["caps"]["effective"], "0000000000002000");
    let docker = run("--cap-drop NET_RAW");
    assert_eq!(docker["caps"]["bounding"], "00000000a80405fb", "docker's default set minus NET_RAW");
}

/// `--groups` (an extension, for `ctr-run exec -u`): the supplementary groups to run
/// with after `-S`/`-G`; without it none are kept, as util-linux; without `-S`/`-G` it is
/// refused rather than ignored.
#[test]
fn supplementary_groups_after_setuid() {
    require_root!();
    let t = target(true, &[], &["sleep", "60"]);
    let pid = t.pid.to_string();
    let ids = |extra: &[&str]| {
        let mut a = vec!["-t", &pid, "-u", "-S", "1000", "-G", "1000"];
        a.extend_from_slice(extra);
        a.extend(["--", "id", "-G"]);
        ns_enter(&a).run().ok().stdout.clone()
    };
    assert_eq!(ids(&["--groups", "2000,3000"]), "1000 2000 3000\n");
    assert_eq!(ids(&[]), "1000\n");
    let out = ns_enter(&["-t", &pid, "-u", "--groups", "2000", "--", "true"]).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("--groups needs --setuid or --setgid"), "{}", out.stderr);
}

#[test]
fn exit_statuses_and_bad_input() {
    require_root!();
    let t = target(true, &[], &["sleep", "60"]);
    let pid = t.pid.to_string();
    let dir = testkit::tempdir();
    let cases = testkit::exit_status_cases(dir.path());
    for (extra, forked) in [(&["-u"][..], false), (&["-p", "-m"][..], true)] {
        for (cmd, code) in &cases {
            let out = ns_enter(&["-t", &pid]).args(extra).arg("--").args(cmd).run();
            assert_eq!(out.code, *code, "{extra:?} {cmd:?} (forked: {forked}): {}", out.stderr);
        }
    }
    // Forked into the PID namespace: Ctrl-C on the terminal reaches the program once.
    let counting = ns_enter(&["-t", &pid, "-p", "--"]).arg(probe()).args(["--count-sigint", "2"]);
    assert_eq!(testkit::sigints_per_ctrl_c(counting), (1, 0));
    let uts = format!("--net=/proc/{pid}/ns/uts");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-t", "999999999", "-a", "true"], "target process 999999999 does not exist".into()),
        (vec!["-a", "true"], "option --all needs --target".into()),
        (vec!["-t", &pid, "true"], "no namespace specified".into()),
        (vec!["true"], "no namespace specified".into()),
        (vec!["--net=/etc/hostname", "true"], "'/etc/hostname' is not a namespace file".into()),
        (vec!["-t", &pid, &uts, "true"], "is a uts namespace, not a net namespace".into()),
        (vec!["-t", &pid, "-u", "-W", "/", "-w", "true"], "options --wd and --wdns are mutually exclusive".into()),
        (vec!["-u=/proc/self/ns/uts", "-S", "follow", "true"], "'follow' needs --target".into()),
        (vec!["-n", "true"], "no target PID specified".into()),
        (vec!["--bogus", "true"], "unrecognized option '--bogus'".into()),
        (vec!["-t", &pid, "-u", "--cap-drop", "NOPE", "true"], "unknown capability: NOPE".into()),
    ];
    for (args, msg) in &cases {
        let out = ns_enter(args).run();
        assert_eq!(out.code, 125, "{args:?}: {}", out.stderr);
        let line = out.one_line_error();
        assert!(
            line.starts_with("nsenter-rs: ") && line.contains(msg.as_str()),
            "{args:?}: expected '{msg}' in '{line}'"
        );
    }
}

#[test]
fn a_target_that_exits_between_lookup_and_join_is_refused() {
    require_root!();
    if !testkit::has_command("strace") {
        skip("a_target_that_exits_between_lookup_and_join_is_refused", "strace is not installed (it delays setns)");
        return;
    }
    let t = target(true, &[], &["sleep", "60"]);
    let pid = t.pid;
    let dir = testkit::tempdir();
    let marker = dir.path().join("entered");
    // strace holds nsenter-rs's first setns for 1.5 s; the target dies meanwhile.
    let tracer = Cmd::new("strace")
        .args(["-f", "-o", "/dev/null", "-e", "trace=setns", "-e", "inject=setns:delay_enter=1500000:when=1"])
        .arg(testkit::bin("nsenter-rs"))
        .args(["-t", &pid.to_string(), "-a", "--", "touch"])
        .arg(&marker)
        .spawn();
    std::thread::sleep(Duration::from_millis(700));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let out = tracer.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(testkit::shell_code(out.status), 125, "{stderr}");
    assert!(stderr.contains(&format!("target process {pid} exited")), "{stderr}");
    assert!(!marker.exists(), "the program ran although the target was gone");
    assert!(wait_until(Duration::from_secs(5), || is_dead(pid)));
}

/// A working directory given with -W is resolved inside the target's root: a
/// descriptor the caller holds on the host's `/` cannot be used to work outside it.
#[test]
fn workdir_cannot_leave_the_root_through_an_inherited_descriptor() {
    require_root!();
    let dir = testkit::tempdir();
    let root = dir.path();
    testkit::busybox_rootfs(root);
    std::fs::write(root.join("inside-marker"), "").unwrap();
    let t = chrooted_target(root, &[], &["/bin/sleep", "60"], Cmd::tool("unshare-rs"));
    // The host PID namespace's proc inside the root, in the target's mount namespace
    // (never on the host: other tests compare the host's mount table), so that
    // /proc/self/fd/7 names the caller's descriptor.
    let proc_dir = root.join("proc").display().to_string();
    ns_enter(&["-t", &t.pid.to_string(), "-m", "--", "mount", "-t", "proc", "proc", &proc_dir]).run().ok();
    let nsr = testkit::bin("nsenter-rs").display().to_string();
    let script = format!("exec 7</; exec {nsr} -t {} -m -r -W /proc/self/fd/7 -- /bin/ls", t.pid);
    let out = Cmd::new("sh").args(["-c", &script]).run();
    assert_eq!(out.code, 125, "ran outside the root: {}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.one_line_error(),
        "nsenter-rs: working directory '/proc/self/fd/7' is outside the container's root; refusing to run there"
    );
    // Inside the root, -W works (through the root's own absolute symlink too).
    std::os::unix::fs::symlink("/bin", root.join("bin-link")).unwrap();
    let script = format!("exec {nsr} -t {} -m -r -W /bin-link/.. -- /bin/ls", t.pid);
    let out = Cmd::new("sh").args(["-c", &script]).run();
    assert!(out.ok().stdout.contains("inside-marker"), "{}", out.stdout);
}

/// Between joining and exec, nsenter-rs is not dumpable: a process the kernel's
/// credential rules would otherwise let in (here: the unprivileged owner of the joined
/// user namespace, which has every capability there) cannot open its /proc/PID/exe —
/// the host's binary, the CVE-2019-5736 class. strace holds its exec for 3 s.
#[test]
fn a_joining_process_is_not_dumpable_until_it_execs() {
    require_root!();
    if !testkit::has_command("strace") || !testkit::util_linux("setpriv") {
        skip("a_joining_process_is_not_dumpable_until_it_execs", "strace or util-linux setpriv is not installed");
        return;
    }
    let dir = testkit::tempdir();
    let as_nobody = testkit::as_nobody;
    let unshare = testkit::for_any_user(dir.path(), &testkit::bin("unshare-rs"));
    let nsenter = testkit::for_any_user(dir.path(), &testkit::bin("nsenter-rs"));
    let mut owner = as_nobody().arg(&unshare).args(["-U", "-r", "--", "sleep", "60"]).spawn();
    let target = owner.id() as i32;
    let my_userns = ns_inode(None, "user");
    assert!(wait_until(Duration::from_secs(10), || std::fs::metadata(format!("/proc/{target}/ns/user"))
        .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) != my_userns)));
    let mut tracer = as_nobody()
        .args([
            "strace",
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "trace=execve",
            "-e",
            "inject=execve:delay_enter=3000000:when=1+",
        ])
        .arg(&nsenter)
        .args(["-t", &target.to_string(), "-U", "--preserve-credentials", "--", "true"])
        .spawn();
    // The traced nsenter-rs, once it has joined (its user namespace is the target's).
    let target_userns = ns_inode(Some(target), "user");
    let mut victim = None;
    assert!(wait_until(Duration::from_secs(10), || {
        let children = std::fs::read_to_string(format!("/proc/{}/task/{}/children", tracer.id(), tracer.id()));
        victim = children.ok().and_then(|c| c.split_whitespace().next().and_then(|p| p.parse::<i32>().ok()));
        victim.is_some_and(|v| {
            std::fs::metadata(format!("/proc/{v}/ns/user"))
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::ino(&m) == target_userns)
        })
    }));
    let victim = victim.unwrap();
    let attack = as_nobody().args(["readlink", "-v", &format!("/proc/{victim}/exe")]).run();
    testkit::kill_and_reap(&mut tracer);
    testkit::kill_and_reap(&mut owner);
    assert_ne!(attack.code, 0, "the joining process's exe was reachable: {}", attack.stdout);
    assert!(attack.stderr.contains("Permission denied"), "{}", attack.stderr);
}

/// -c joins the target's group in every hierarchy, or fails: a hierarchy the target is in
/// that is not mounted where nsenter-rs runs is an error, never a program run outside
/// the target's group there.
#[test]
fn join_cgroup_fails_where_a_hierarchy_cannot_be_joined() {
    require_root!();
    let name = format!("nsenter-test-cgmiss-{}", std::process::id());
    let dir = testkit::tempdir();
    let marker = dir.path().join("ran");
    let (mut holder, pid) = target_in_group(&name, &["--pids-limit", "50"], dir.path());
    // The pids hierarchy (v1, hybrid) or the whole v2 tree, unmounted where nsenter-rs runs.
    let script = format!(
        "umount /sys/fs/cgroup/pids 2>/dev/null || umount -l /sys/fs/cgroup; exec {} -t {pid} -u -c -- touch {}",
        testkit::bin("nsenter-rs").display(),
        marker.display()
    );
    let out = Cmd::tool("unshare-rs").args(["-m", "--", "sh", "-c", &script]).run();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    let _ = holder.wait();
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.one_line_error().contains("cgroup"), "{}", out.stderr);
    assert!(!marker.exists(), "the program ran outside the target's group");
}

/// util-linux's `nsenter --net-socket FD` (its tests/ts/nsenter/enter-via-socket): the
/// network namespace joined is the one of the socket the target holds as FD, not the
/// target's own (here the target made its socket, then moved to a new network
/// namespace); a descriptor that is not a socket, or that the target does not have,
/// and a missing --target are refused.
#[test]
fn net_socket_joins_the_sockets_network_namespace() {
    require_root!();
    if !testkit::has_command("python3") {
        skip(
            "net_socket_joins_the_sockets_network_namespace",
            "python3 is not installed (the helper that holds the socket)",
        );
        return;
    }
    let helper = "import ctypes, os, socket, sys, time\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  if ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0: sys.exit('unshare')\n\
                  print(s.fileno(), flush=True)\n\
                  time.sleep(60)\n";
    let mut child = std::process::Command::new("python3")
        .args(["-c", helper])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let (pid, fd) = (child.id().to_string(), line.trim().to_string());
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(host, theirs, "the helper has a network namespace of its own");
    let seen = |args: &[&str]| {
        let mut a = vec!["-t", &pid];
        a.extend_from_slice(args);
        a.extend(["readlink", "/proc/self/ns/net"]);
        ns_enter(&a).run().ok().stdout.trim().to_string()
    };
    assert_eq!(seen(&["-N", &fd]), host.to_string_lossy(), "the socket's namespace");
    assert_eq!(seen(&["--net-socket", &fd, "-a"]), host.to_string_lossy(), "-N wins over -a's net");
    assert_eq!(seen(&["-n"]), theirs.to_string_lossy(), "-n: the target's own");
    for (args, says) in [
        (vec!["-t", pid.as_str(), "-N", "0", "true"], "descriptor 0 of process"),
        (vec!["-t", pid.as_str(), "-N", "99", "true"], "cannot get descriptor 99"),
        (vec!["-N", fd.as_str(), "true"], "option --net-socket needs --target"),
    ] {
        let out = ns_enter(&args).run();
        assert_eq!(out.code, 125, "{args:?}");
        assert!(out.one_line_error().contains(says), "{args:?}: {}", out.stderr);
    }
    let _ = child.kill();
    let _ = child.wait();
}
