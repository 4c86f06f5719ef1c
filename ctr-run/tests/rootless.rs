//! ctr-run as an unprivileged user (rootless): each test makes its own user with
//! subordinate ids (testkit::TestUser) and runs ctr-run as that user, then checks what
//! the kernel did: the user namespace and its maps, the other namespaces, who owns the
//! container's writes on the host, the state's place and mode, the limits refused
//! where nothing is delegated, the lifecycle, and the image round trip with whiteouts.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{docker_save, require_root, sha256, skip, Cmd, TestUser};

/// A test user with a busybox root filesystem of their own, or None (skipped, said why).
fn user_or_skip(test: &str) -> Option<(TestUser, PathBuf)> {
    if testkit::busybox().is_none() {
        skip(test, "busybox-static is not installed (the test root is built from it)");
        return None;
    }
    match TestUser::create() {
        Ok(u) => {
            let rootfs = u.busybox_rootfs();
            Some((u, rootfs))
        }
        Err(why) => {
            skip(test, &format!("no test user: {why}"));
            None
        }
    }
}

/// `ctr-run ARGS` as the user (their default state root).
fn ctr(u: &TestUser, args: &[&str]) -> Cmd {
    u.cmd().arg(u.tool("ctr-run")).args(args)
}

/// The user's state root.
fn state_root(u: &TestUser) -> PathBuf {
    u.runtime_dir().join("ctr-run")
}

/// The container directories under the user's state root.
fn containers_left(u: &TestUser) -> Vec<String> {
    testkit::ctr_run_containers(&state_root(u))
}

/// The pids of processes owned by the user or their subordinate ids, but for the pause
/// processes that hold the user namespaces their containers share (which outlive them).
fn processes_of(u: &TestUser) -> Vec<i32> {
    let pauses = pause_pids(u);
    u.processes().into_iter().filter(|p| !pauses.contains(p)).collect()
}

/// The pids of the user's pause processes (`ROOT/userns/root` and `keep-id`, links to
/// their `/proc/PID/ns/user`).
fn pause_pids(u: &TestUser) -> Vec<i32> {
    ["root", "keep-id"]
        .iter()
        .filter_map(|l| {
            let target = std::fs::read_link(state_root(u).join("userns").join(l)).ok()?;
            target.to_str()?.strip_prefix("/proc/")?.split('/').next()?.parse().ok()
        })
        .filter(|p| !testkit::is_dead(*p))
        .collect()
}

/// The container sees itself as root of a user namespace that maps the user to 0 and
/// the subordinate range from 1; it has its own user, pid, mount, uts, ipc, net and
/// cgroup namespaces; its writes belong on the host to the user (root's) and to the
/// subordinate ids (uid 1000's); the state is in $XDG_RUNTIME_DIR/ctr-run, 0700; `rm`
/// removes everything, files of the subordinate ids too, and nothing runs afterwards.
#[test]
fn isolation_maps_and_ownership_seen_from_inside_and_outside() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("isolation_maps_and_ownership_seen_from_inside_and_outside") else { return };
    let script = "id -u; hostname; cat /proc/self/uid_map /proc/self/gid_map; \
                  for n in user pid mnt uts ipc net cgroup; do readlink /proc/self/ns/$n; done; \
                  echo x > /by-root; mkdir -p /home/user/d; echo y > /home/user/d/f; chown -R 1000:1000 /home/user/d; \
                  cat /dev/null; head -c 8 /dev/urandom | wc -c";
    let out = ctr(&u, &["run", "--keep", "--name", "k", "--hostname", "inside", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "sh", "-c", script])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{out:?}");
    assert_eq!(lines[1], "inside");
    let map = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let own = vec!["0".to_string(), u.uid.to_string(), "1".into()];
    let sub = vec!["1".to_string(), u.subids.to_string(), "65536".into()];
    assert_eq!([map(lines[2]), map(lines[3])], [own.clone(), sub.clone()], "uid_map: {out:?}");
    assert_eq!([map(lines[4]), map(lines[5])], [own, sub], "gid_map: {out:?}");
    for (i, ns) in ["user", "pid", "mnt", "uts", "ipc", "net", "cgroup"].iter().enumerate() {
        let host = format!("{ns}:[{}]", testkit::ns_inode(None, ns));
        assert_ne!(lines[6 + i], host, "the container shares the host's {ns} namespace");
    }
    assert_eq!(lines[13], "8", "/dev/urandom: {out:?}");

    let root = state_root(&u);
    assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    let inspect = ctr(&u, &["inspect", "k"]).run();
    let id = inspect.ok().json()[0]["Id"].as_str().unwrap().to_string();
    let upper = root.join(&id).join("upper");
    let m = std::fs::metadata(upper.join("by-root")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.uid, u.gid), "root's file is not the user's on the host");
    let m = std::fs::metadata(upper.join("home/user/d/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.subids + 999, u.subids + 999), "uid 1000's file on the host");
    // (The directory is the subordinate id's: the user alone could not empty it.)
    assert!(std::fs::metadata(upper.join("home/user/d")).unwrap().permissions().mode() & 0o002 == 0);
    // `diff` reads the upper layer in a user namespace like the container's.
    let diff = ctr(&u, &["diff", "k"]).run().ok().stdout.clone();
    for line in ["A /by-root", "A /home", "A /home/user/d", "A /home/user/d/f"] {
        assert!(diff.lines().any(|l| l == line), "no '{line}' in diff: {diff}");
    }

    ctr(&u, &["rm", "k"]).run().ok();
    assert!(containers_left(&u).is_empty(), "left: {:?}", containers_left(&u));
    assert!(!root.join(&id).exists());
    assert!(processes_of(&u).is_empty(), "processes left: {:?}", processes_of(&u));
}

/// On a machine where no cgroup is delegated to the user (this hybrid host; the VM,
/// where the user's cgroup is root's), a limit is refused with one line that says why
/// and how to get one, nothing is left; without limits the container runs, with
/// `--network host` too.
#[test]
fn limits_are_refused_without_a_delegated_cgroup() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("limits_are_refused_without_a_delegated_cgroup") else { return };
    for (flag, value) in [("--memory", "64M"), ("--cpus", "0.5"), ("--pids-limit", "10"), ("--blkio-weight", "300")] {
        let out = ctr(&u, &["run", flag, value, "--rootfs"]).arg(&rootfs).args(["--", "true"]).run();
        assert_eq!(out.code, 125, "{flag}: {out:?}");
        let line = out.one_line_error();
        assert!(line.starts_with(&format!("ctr-run: {flag}: ")) && line.contains("delegat"), "{line}");
        assert!(containers_left(&u).is_empty(), "{flag} left {:?}", containers_left(&u));
    }
    let out = ctr(&u, &["run", "--rootfs"]).arg(&rootfs).args(["--", "sh", "-c", "exit 7"]).run();
    assert_eq!(out.code, 7, "{out:?}");
    // A foreground container's writes, a whiteout and an opaque directory among them, are
    // in memory where the kernel's tmpfs has the user.* xattrs overlayfs needs in a user
    // namespace (Linux 6.6); before, in its directory on disk.
    let script = "echo new > /new; rm /etc/passwd; test -e /etc/passwd || echo whiteout; \
                  rm -r /etc; mkdir /etc; echo x > /etc/only; cat /new; ls -A /etc | wc -l; \
                  grep -c upperdir=.*/merged/upper /proc/self/mountinfo || true";
    let out = ctr(&u, &["run", "--rootfs"]).arg(&rootfs).args(["--", "sh", "-c", script]).run();
    let in_memory = u8::from(chainload::kernel::at_least(6, 6));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("whiteout\nnew\n1\n{in_memory}\n"), "{out:?}");
    assert!(rootfs.join("etc/passwd").exists(), "a write reached the image");
    // (--network host: the host's network namespace, the rest its own.)
    let out = ctr(&u, &["run", "--network", "host", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts"])
        .run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(lines[0], format!("net:[{}]", testkit::ns_inode(None, "net")));
    assert_ne!(lines[1], format!("uts:[{}]", testkit::ns_inode(None, "uts")));
    assert!(containers_left(&u).is_empty());
}

/// `run -d`, `ps`, `exec` (as root of the container's user namespace), `logs`, `top`,
/// `stop`, `kill`, `wait`, `rm` for the user's own containers; another user can neither
/// read their state nor signal them.
#[test]
fn detached_lifecycle_of_a_users_own_container() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("detached_lifecycle_of_a_users_own_container") else { return };
    let out = ctr(&u, &["run", "-d", "--name", "web", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "sh", "-c", "echo hello; exec sleep 300"])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let ps = ctr(&u, &["ps", "--json"]).run().ok().json();
    let pid = ps[0]["pid"].as_i64().unwrap() as i32;
    assert_eq!(ps[0]["name"], "web");
    assert_eq!(std::fs::metadata(format!("/proc/{pid}")).unwrap().uid(), u.uid);
    let exec =
        ctr(&u, &["exec", "web", "--", "sh", "-c", "id -u; readlink /proc/1/ns/pid; readlink /proc/self/ns/pid"]).run();
    let lines: Vec<&str> = exec.stdout.lines().collect();
    assert_eq!(exec.code, 0, "{exec:?}");
    assert_eq!(lines[0], "0");
    assert_eq!(lines[1], lines[2], "exec is not in the container's PID namespace: {exec:?}");
    assert!(testkit::wait_until(Duration::from_secs(10), || ctr(&u, &["logs", "web"]).run().stdout == "hello\n"));
    let top = ctr(&u, &["top", "web"]).run();
    assert!(top.ok().stdout.contains("sleep 300"), "{top:?}");

    let other = TestUser::create().unwrap();
    let peek = other.cmd().arg(other.tool("ctr-run")).arg("--root").arg(state_root(&u)).args(["ps", "-a"]).run();
    assert_eq!(peek.code, 125, "another user read the state: {peek:?}");
    let kill = other.cmd().arg("kill").arg(pid.to_string()).run();
    assert_ne!(kill.code, 0, "another user signalled the container");

    ctr(&u, &["stop", "-t", "1", "web"]).run().ok();
    assert!(testkit::is_dead(pid));
    let ps = ctr(&u, &["ps", "-a", "--json"]).run().ok().json();
    assert_eq!(ps[0]["status"], "exited", "{ps}");
    ctr(&u, &["rm", "web"]).run().ok();
    ctr(&u, &["run", "-d", "--name", "k2", "--rootfs"]).arg(&rootfs).args(["--", "sleep", "300"]).run().ok();
    ctr(&u, &["kill", "k2"]).run().ok();
    assert_eq!(ctr(&u, &["wait", "k2"]).run().ok().stdout.trim(), "137");
    ctr(&u, &["rm", "k2"]).run().ok();
    assert!(containers_left(&u).is_empty());
    assert!(processes_of(&u).is_empty(), "processes left: {:?}", processes_of(&u));
}

/// A layer tar of `dir` (as root: its ids as they are) and its diff_id.
fn layer(dir: &Path, out: &Path) -> (PathBuf, String) {
    Cmd::new("tar").arg("--numeric-owner").arg("-cf").arg(out).arg("-C").arg(dir).arg(".").run().ok();
    (out.to_path_buf(), format!("sha256:{}", sha256(out)))
}

/// `image import` as the user stores the layers inside their user namespace: root's
/// files become the user's, uid 1000's the subordinate id 1000 maps to; a whiteout is a
/// 0/0 device and an opaque directory carries `user.overlay.opaque` (the overlay is
/// mounted `userxattr`), and the container sees both applied. `commit` of a container
/// that removed a file writes an OCI whiteout and the inner ids, and the re-imported
/// image has the file gone. Another user sees none of the images.
#[test]
fn image_import_and_commit_round_trip_with_whiteouts() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("image_import_and_commit_round_trip_with_whiteouts") else { return };
    if !testkit::has_user_xattrs(&u.home) {
        skip(
            "image_import_and_commit_round_trip_with_whiteouts",
            "the filesystem of the test user's home keeps no user.* xattrs (a tmpfs before Linux 6.6, as in the VM)",
        );
        return;
    }
    let work = testkit::tempdir();
    // Layer 1: the busybox root (root's) with a file of uid 1000, one to be whited out,
    // and a directory whose old content layer 2 hides.
    let l1 = work.path().join("l1");
    Cmd::new("cp").arg("-a").arg(&rootfs).arg(&l1).run().ok();
    Cmd::new("chown").args(["-R", "0:0"]).arg(&l1).run().ok();
    std::fs::write(l1.join("owned1000"), "u").unwrap();
    std::os::unix::fs::chown(l1.join("owned1000"), Some(1000), Some(1000)).unwrap();
    std::fs::write(l1.join("gone"), "g").unwrap();
    std::fs::create_dir(l1.join("opq")).unwrap();
    std::fs::write(l1.join("opq/old"), "o").unwrap();
    let l2 = work.path().join("l2");
    std::fs::create_dir_all(l2.join("opq")).unwrap();
    std::fs::write(l2.join(".wh.gone"), "").unwrap();
    std::fs::write(l2.join("opq/.wh..wh..opq"), "").unwrap();
    std::fs::write(l2.join("opq/new"), "n").unwrap();
    let layers = [layer(&l1, &work.path().join("l1.tar")), layer(&l2, &work.path().join("l2.tar"))];
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers"}});
    let archive = docker_save(work.path(), &layers, &config);
    let public = u.home.join("image.tar");
    std::fs::copy(&archive, &public).unwrap();
    std::os::unix::fs::chown(&public, Some(u.uid), Some(u.gid)).unwrap();

    ctr(&u, &["image", "import", "bb"]).arg(&public).run().ok();
    let image = state_root(&u).join("images/bb/layers");
    let (base, top) = (image.join("0"), image.join("1"));
    let m = std::fs::symlink_metadata(base.join("bin/busybox")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.uid, u.gid), "root's file in the stored layer");
    let m = std::fs::metadata(base.join("owned1000")).unwrap();
    assert_eq!((m.uid(), m.gid()), (u.subids + 999, u.subids + 999), "uid 1000's file in the stored layer");
    let w = std::fs::symlink_metadata(top.join("gone")).unwrap();
    assert!(w.file_type().is_char_device() && w.rdev() == 0, "no whiteout: {w:?}");
    assert_eq!(testkit::lgetxattr(&top.join("opq"), "user.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(testkit::lgetxattr(&top.join("opq"), "trusted.overlay.opaque"), None);

    let seen = ctr(&u, &["run", "--keep", "--name", "c", "--image", "bb", "--"])
        .args([
            "sh",
            "-c",
            "ls /opq; ls /gone 2>&1 >/dev/null | wc -l; stat -c %u /owned1000; rm /owned1000; echo n > /made",
        ])
        .run();
    assert_eq!(seen.code, 0, "{seen:?}");
    assert_eq!(seen.stdout, "new\n1\n1000\n", "{seen:?}");
    let committed = u.home.join("c.tar");
    ctr(&u, &["commit", "c", "-o"]).arg(&committed).run().ok();
    let listing = Cmd::new("tar").args(["--numeric-owner", "-tvf"]).arg(&committed).run().ok().stdout.clone();
    let entry = |name: &str| listing.lines().find(|l| l.ends_with(name)).map(str::to_string);
    assert!(entry(".wh.owned1000").is_some(), "no whiteout in the commit: {listing}");
    let made = entry("made").unwrap_or_else(|| panic!("no /made in the commit: {listing}"));
    assert!(made.contains(" 0/0 "), "/made is not root's in the layer: {made}");

    let other = TestUser::create().unwrap();
    let theirs = other.cmd().arg(other.tool("ctr-run")).args(["image", "ls", "--json"]).run();
    assert_eq!(theirs.ok().stdout.trim(), "[]", "another user sees the images");
    ctr(&u, &["rm", "c"]).run().ok();
    ctr(&u, &["image", "rm", "bb"]).run().ok();
    assert!(!state_root(&u).join("images/bb").exists());
}

/// `--dry-run` prints the rootless chain (user namespace first, no cgctl, userxattr),
/// and that command, run by hand as the user, gives the same container.
#[test]
fn dry_run_shows_the_rootless_chain_and_replays() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("dry_run_shows_the_rootless_chain_and_replays") else { return };
    let script = "id -u; hostname; cat /proc/self/uid_map; grep -c userxattr /proc/mounts";
    let args = ["run", "--hostname", "replay", "--rootfs"];
    let dry = ctr(&u, &["run", "--dry-run", "--hostname", "replay", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "sh", "-c", script])
        .run();
    let chain = dry.ok().stdout.trim().to_string();
    let link = state_root(&u).join("userns/root");
    assert!(chain.contains(&format!("nsenter-rs --user={} -- ", link.display())), "{chain}");
    assert!(!chain.contains("unshare-rs --user"), "{chain}");
    assert!(!chain.contains("cgctl"), "{chain}");
    assert!(chain.contains("-o userxattr"), "{chain}");
    let real = ctr(&u, &args).arg(&rootfs).args(["--", "sh", "-c", script]).run();
    let by_hand = u.cmd().args(["sh", "-c", &chain]).run();
    assert_eq!(real.code, 0, "{real:?}");
    assert_eq!(by_hand.code, 0, "{by_hand:?}");
    assert_eq!(real.stdout, by_hand.stdout);
    assert!(real.stdout.starts_with("0\nreplay\n"), "{real:?}");
}

/// `--userns keep-id`: the user is themself inside (uid and gid), the subordinate range
/// fills the ids around them, and what the command writes is the user's on the host.
#[test]
fn keep_id_maps_the_user_to_themself() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("keep_id_maps_the_user_to_themself") else { return };
    let out = ctr(&u, &["run", "--keep", "--name", "kid", "--userns", "keep-id", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "sh", "-c", "id -u; id -g; cat /proc/self/uid_map; echo m > /tmp/mine"])
        .run();
    assert_eq!(out.code, 0, "{out:?}");
    let (uid, sub) = (u.uid, u.subids);
    let map: Vec<Vec<String>> =
        out.stdout.lines().skip(2).map(|l| l.split_whitespace().map(str::to_string).collect()).collect();
    let want = |a: u32, b: u32, c: u32| vec![a.to_string(), b.to_string(), c.to_string()];
    assert_eq!(out.stdout.lines().take(2).collect::<Vec<_>>(), [uid.to_string(), uid.to_string()]);
    let below = uid.min(65536);
    let mut expected = vec![want(0, sub, below), want(uid, uid, 1)];
    if below < 65536 {
        expected.push(want(uid + 1, sub + below, 65536 - below));
    }
    assert_eq!(map, expected, "{out:?}");
    let id = ctr(&u, &["inspect", "kid"]).run().ok().json()[0]["Id"].as_str().unwrap().to_string();
    let m = std::fs::metadata(state_root(&u).join(id).join("upper/tmp/mine")).unwrap();
    assert_eq!((m.uid(), m.gid()), (uid, uid));
    ctr(&u, &["rm", "kid"]).run().ok();
    assert!(containers_left(&u).is_empty());
    let root = Cmd::tool("ctr-run").args(["run", "--userns", "keep-id", "--dry-run", "--", "true"]).run();
    assert_eq!(root.code, 125, "{root:?}");
}

/// `--userns keep-id` gives the user an account inside, as podman does: the image's
/// /etc/passwd and /etc/group get the host's name and home for their ids (in the
/// container's upper layer, not the image), so `id -un` and HOME are theirs; an image
/// that has the uid keeps its own entry. A hostile image whose /etc/passwd is a symlink
/// to a file of the user's on the host gets the line inside its own root, the host's
/// file is untouched; one whose /etc/passwd is a FIFO is refused, not waited on.
#[test]
fn keep_id_gives_the_user_an_account_inside() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("keep_id_gives_the_user_an_account_inside") else { return };
    let passwd = rootfs.join("etc/passwd");
    let image_passwd = std::fs::read_to_string(&passwd).unwrap();
    let script = "id -un; id -gn; echo $HOME; grep -c . /etc/passwd; grep -c :$(id -g): /etc/group";
    let run =
        || ctr(&u, &["run", "--userns", "keep-id", "--rootfs"]).arg(&rootfs).args(["--", "sh", "-c", script]).run();
    let out = run();
    assert_eq!(out.code, 0, "{out:?}");
    let home = u.home.display().to_string();
    let lines = image_passwd.lines().count() + 1;
    let want = [u.name.as_str(), &u.name, &home, &lines.to_string(), "1"];
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), want, "{out:?}");
    assert_eq!(std::fs::read_to_string(&passwd).unwrap(), image_passwd, "the image's own file changed");

    // The image has the uid: its entry stands.
    std::fs::write(&passwd, format!("{image_passwd}dev:x:{}:{}:dev:/home/dev:/bin/sh\n", u.uid, u.gid)).unwrap();
    let out = run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().take(4).collect::<Vec<_>>(), ["dev", &u.name, "/home/dev", &lines.to_string()]);

    // /etc/passwd a symlink to a file the user can write on the host.
    let host_file = u.home.join("host-passwd");
    std::fs::write(&host_file, "host\n").unwrap();
    std::os::unix::fs::chown(&host_file, Some(u.uid), Some(u.gid)).unwrap();
    std::fs::remove_file(&passwd).unwrap();
    std::os::unix::fs::symlink(&host_file, &passwd).unwrap();
    let out = run();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().next(), Some(u.name.as_str()), "{out:?}");
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host\n", "the line went out of the container's root");

    // /etc/passwd a FIFO: refused, nothing left.
    std::fs::remove_file(&passwd).unwrap();
    nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let out = run();
    assert_eq!(out.code, 125, "{out:?}");
    assert!(out.stderr.contains("'/etc/passwd' in the container is not a regular file"), "{out:?}");
    assert!(containers_left(&u).is_empty());
    std::fs::remove_file(&passwd).unwrap();
    std::fs::write(&passwd, &image_passwd).unwrap();
}

/// Where a cgroup v2 subtree is delegated to the user (as systemd's `Delegate=yes`
/// leaves it: the group, its cgroup.procs, cgroup.subtree_control and cgroup.threads
/// theirs, the controllers enabled above it, their shell in a leaf of it), `-m`,
/// `--pids-limit` and `--cpus` are in force in the container's group below it, which
/// holds the container's processes and is gone after `rm -f`. (Cgroup v2 only: the VM.)
#[test]
fn limits_apply_in_a_delegated_cgroup_v2_subtree() {
    require_root!();
    let info = Cmd::tool("cgctl").args(["info", "--json"]).run().ok().json();
    if info["setup"] != "v2" {
        skip(
            "limits_apply_in_a_delegated_cgroup_v2_subtree",
            &format!("delegation is cgroup v2's (this machine: {})", info["setup"]),
        );
        return;
    }
    let Some((u, rootfs)) = user_or_skip("limits_apply_in_a_delegated_cgroup_v2_subtree") else { return };
    let name = format!("ctrtest-deleg-{}", std::process::id());
    Cmd::tool("cgctl").args(["create", &name, "--memory", "1G", "--pids-limit", "1000", "--cpus", "1"]).run().ok();
    struct Group(String);
    impl Drop for Group {
        fn drop(&mut self) {
            let _ = Cmd::tool("cgctl").args(["rm", "--force", &self.0]).run();
        }
    }
    let _group = Group(name.clone());
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap().trim_end_matches('/').to_string();
    let deleg = format!("{own}/{name}");
    let dir = PathBuf::from(format!("/sys/fs/cgroup{deleg}"));
    std::fs::create_dir(dir.join("leaf")).unwrap();
    for f in ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads", "leaf", "leaf/cgroup.procs"] {
        std::os::unix::fs::chown(dir.join(f), Some(u.uid), Some(u.gid)).unwrap();
    }
    let go = u.home.join("go");
    let script = format!(
        "while [ ! -e {go} ]; do sleep 0.05; done; exec {ctr} run -d --name lim -m 64M --pids-limit 20 --cpus 0.5 \
         --rootfs {rootfs} -- sleep 300",
        go = go.display(),
        ctr = u.tool("ctr-run").display(),
        rootfs = rootfs.display()
    );
    let shell = u.cmd().args(["sh", "-c", &script]).spawn();
    // (Into the leaf by root, as systemd puts the user's shell there.)
    std::fs::write(dir.join("leaf/cgroup.procs"), shell.id().to_string()).unwrap();
    std::fs::write(&go, "").unwrap();
    let out = shell.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let group = dir.join("ctr-run").join(&id);
    let read = |f: &str| std::fs::read_to_string(group.join(f)).unwrap_or_default().trim().to_string();
    assert_eq!(read("memory.max"), "67108864");
    assert_eq!(read("pids.max"), "20");
    assert_eq!(read("cpu.max"), "50000 100000");
    let pid = ctr(&u, &["ps", "--json"]).run().ok().json()[0]["pid"].as_i64().unwrap();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(cgroup.trim(), format!("0::{deleg}/ctr-run/{id}"));
    ctr(&u, &["rm", "-f", "lim"]).run().ok();
    assert!(!group.exists(), "the container's group was left behind");
    assert!(testkit::wait_until(Duration::from_secs(10), || processes_of(&u).is_empty()));
    // (The pause process, started in the leaf with the user's shell.)
    for p in pause_pids(&u) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
    }
    assert!(testkit::wait_until(Duration::from_secs(10), || u.processes().is_empty()));
    for d in [group.parent().unwrap().to_path_buf(), dir.join("leaf")] {
        let _ = std::fs::remove_dir(d);
    }
}

/// A user with two lines in /etc/subuid and /etc/subgid gets both ranges, laid end to end
/// after their own id (as podman maps every line), with keep-id too.
#[test]
fn every_subordinate_range_of_the_user_is_mapped() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("every_subordinate_range_of_the_user_is_mapped") else { return };
    let (_more, second) = u.grant_more(1000);
    let out = ctr(&u, &["run", "--rootfs"]).arg(&rootfs).args(["--", "cat", "/proc/self/uid_map"]).run();
    assert_eq!(out.code, 0, "{out:?}");
    let map: Vec<Vec<u64>> =
        out.stdout.lines().map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect()).collect();
    let (uid, sub) = (u64::from(u.uid), u64::from(u.subids));
    assert_eq!(map, [vec![0, uid, 1], vec![1, sub, 65536], vec![65537, u64::from(second), 1000]], "{out:?}");
    let kid = ctr(&u, &["run", "--userns", "keep-id", "--rootfs"])
        .arg(&rootfs)
        .args(["--", "cat", "/proc/self/uid_map"])
        .run();
    let total: u64 = kid.stdout.lines().map(|l| l.split_whitespace().nth(2).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(kid.code, 0, "{kid:?}");
    assert_eq!(total, 65536 + 1000 + 1, "keep-id maps every range and the user: {kid:?}");
}

/// A user's containers share one user namespace (as rootless podman's), held by a pause
/// process: two first containers started at once make one pause process and run in its
/// namespace (not the host's), which outlives them; once it is killed, the next
/// container starts another; keep-id has its own. A link to the namespace pointed
/// elsewhere (at a process in the host's user namespace, as a stale or planted link
/// would) is never joined: the container still runs in a namespace mapped as the user's.
#[test]
fn containers_share_one_user_namespace_held_by_a_pause_process() {
    require_root!();
    let Some((u, rootfs)) = user_or_skip("containers_share_one_user_namespace_held_by_a_pause_process") else {
        return;
    };
    let host = format!("user:[{}]", testkit::ns_inode(None, "user"));
    let script = "readlink /proc/self/ns/user; cat /proc/self/uid_map";
    let run = |extra: &[&str]| {
        let out =
            ctr(&u, &[&["run"][..], extra, &["--rootfs"]].concat()).arg(&rootfs).args(["--", "sh", "-c", script]).run();
        assert_eq!(out.code, 0, "{out:?}");
        let ns = out.stdout.lines().next().unwrap_or_default().to_string();
        assert_ne!(ns, host, "a container runs in the host's user namespace: {out:?}");
        assert!(out.stdout.contains(&format!("{}", u.subids)), "not the user's maps: {out:?}");
        ns
    };
    let (first, second) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&[]));
        let b = s.spawn(|| run(&[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(first, second, "two containers of one user are in different user namespaces");
    let pauses = pause_pids(&u);
    assert_eq!(pauses.len(), 1, "pause processes: {pauses:?}");
    let pause = pauses[0];
    assert_eq!(format!("user:[{}]", testkit::ns_inode(Some(pause), "user")), first);
    let cmdline = std::fs::read_to_string(format!("/proc/{pause}/cmdline")).unwrap();
    assert!(cmdline.ends_with("hold-userns\0"), "{cmdline:?}");
    assert_eq!(run(&[]), first, "the pause process's namespace is not reused");

    // keep-id: a namespace of its own (the user is themself there), also kept.
    let kid = run(&["--userns", "keep-id"]);
    assert_ne!(kid, first);
    assert_eq!(run(&["--userns", "keep-id"]), kid);
    assert_eq!(pause_pids(&u).len(), 2);

    // Killed: the next container starts a new one.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pause), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(testkit::wait_until(Duration::from_secs(10), || testkit::is_dead(pause)));
    // (Not by the namespace's inode: the kernel may give the dead one's number again.)
    let after = run(&[]);
    let new = pause_pids(&u);
    assert!(!new.contains(&pause), "{new:?}");
    assert!(new.iter().any(|p| format!("user:[{}]", testkit::ns_inode(Some(*p), "user")) == after), "{after} {new:?}");

    // A link at a process of the user's in the host's user namespace is not joined.
    let mut sleeper = u.cmd().args(["sleep", "300"]).spawn();
    let link = state_root(&u).join("userns/root");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(format!("/proc/{}/ns/user", sleeper.id()), &link).unwrap();
    let planted = run(&[]);
    assert_ne!(planted, after, "{planted}");
    assert_ne!(std::fs::read_link(&link).unwrap(), PathBuf::from(format!("/proc/{}/ns/user", sleeper.id())));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(containers_left(&u).is_empty(), "left: {:?}", containers_left(&u));
}
