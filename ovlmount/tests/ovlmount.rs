//! ovlmount, run for real as root: copy-up, whiteouts, opaque directories and layer
//! precedence as the kernel does them; deep and odd stacks; commit/import round trips;
//! hostile archives; `enter` building a confined root; bad input.
//!
//! Every mount happens inside a throwaway mount namespace (`unshare-rs -m`), so the
//! host's mount table never changes, even when a test fails.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use testkit::{lgetxattr, require_root, Cmd, Outcome};

fn ovl() -> String {
    testkit::bin("ovlmount").display().to_string()
}

/// Run `script` with sh in a new mount namespace (and PID namespace, so nothing outlives it).
fn in_mount_ns(script: &str) -> Outcome {
    Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-ec", script]).run()
}

fn write(p: &Path, content: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

#[test]
fn copy_up_whiteouts_opaque_directories_and_precedence() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    write(&d.join("l1/etc/a"), "from l1\n");
    write(&d.join("l1/etc/only1"), "only in l1\n");
    write(&d.join("l1/data/keep"), "lower data\n");
    write(&d.join("l1/data/gone"), "lower data\n");
    write(&d.join("l2/etc/a"), "from l2\n");
    write(&d.join("l3/etc/a"), "from l3\n");
    write(&d.join("l3/etc/b"), "edit me\n");
    std::fs::create_dir(d.join("m")).unwrap();
    let before = testkit::mount_snapshot(d);
    let script = format!(
        "cd {d}
         {o} mount --lower l3 --lower l2:l1 --upper u --work w m
         cat m/etc/a > seen-a
         cat m/etc/only1 > seen-only1
         echo edited >> m/etc/b
         rm m/etc/only1
         rm -r m/data && mkdir m/data && echo new > m/data/fresh
         {o} umount m",
        d = d.display(),
        o = ovl()
    );
    in_mount_ns(&script).ok();
    assert_eq!(testkit::mount_snapshot(d), before, "the host's mount table changed");
    let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
    assert_eq!(read("seen-a"), "from l3\n", "the top layer wins");
    assert_eq!(read("seen-only1"), "only in l1\n", "a lower file shows through");
    // Copy-up: the lower stays byte-identical, the new version is in upper.
    assert_eq!(read("l3/etc/b"), "edit me\n");
    assert_eq!(read("u/etc/b"), "edit me\nedited\n");
    // Deletion: a whiteout (0/0 character device) in upper, the lower untouched.
    let wh = std::fs::symlink_metadata(d.join("u/etc/only1")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0, "no whiteout for a deleted lower file");
    assert_eq!(read("l1/etc/only1"), "only in l1\n");
    // rm -r then mkdir of a lower directory: opaque.
    assert_eq!(lgetxattr(&d.join("u/data"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(read("u/data/fresh"), "new\n");
    assert!(d.join("l1/data/keep").exists());
    // diff sees the same.
    let out = Cmd::tool("ovlmount")
        .args(["diff"])
        .arg(d.join("u"))
        .arg("--lower")
        .arg(format!("{}:{}:{}", d.join("l3").display(), d.join("l2").display(), d.join("l1").display()))
        .run();
    let text = out.ok().stdout.clone();
    for line in ["C /etc", "C /etc/b", "D /etc/only1", "C /data", "A /data/fresh"] {
        assert!(text.lines().any(|l| l == line), "diff lacks '{line}':\n{text}");
    }
}

#[test]
fn deep_stacks_and_colon_paths() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    let mut lowers = Vec::new();
    for i in 0..200 {
        let l = d.join(format!("layers/layer-number-{i:03}"));
        write(&l.join(format!("f{i}")), &format!("{i}\n"));
        write(&l.join("top"), &format!("{i}\n"));
        lowers.push(l);
    }
    write(&d.join("with:colon,comma/hello"), "colon\n");
    std::fs::create_dir(d.join("m")).unwrap();
    std::fs::create_dir(d.join("m2")).unwrap();
    let lower_args: String = lowers.iter().map(|l| format!(" --lower {}", l.display())).collect();
    let script = format!(
        "cd {d}
         {o} mount --json{lower_args} m > json
         cat m/top > top; cat m/f0 m/f199 > ends; ls m | wc -l > count
         {o} umount m
         {o} mount --lower 'with\\:colon,comma' --lower layers/layer-number-000 m2
         cat m2/hello > colon
         {o} umount m2",
        d = d.display(),
        o = ovl()
    );
    in_mount_ns(&script).ok();
    let read = |p: &str| std::fs::read_to_string(d.join(p)).unwrap();
    assert_eq!(read("top"), "0\n", "the first --lower is the top layer");
    assert_eq!(read("ends"), "0\n199\n");
    assert_eq!(read("count").trim(), "201");
    assert_eq!(read("colon"), "colon\n");
    let json: serde_json::Value = serde_json::from_str(&read("json")).unwrap();
    assert_eq!(json["stack"]["lowers"].as_array().unwrap().len(), 200);
    assert!(json["api"] == "fsconfig" || json["api"] == "mount2");
}

/// Everything a user would compare between two trees: type, mode, owner, size, content,
/// link target, device number, user xattrs.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let r = rel.join(e.file_name());
            let p = root.join(&r);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let what = if ft.is_dir() {
                stack.push(r.clone());
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("link->{}", std::fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                format!("file:{:?}", std::fs::read(&p).unwrap())
            } else {
                format!("special:{:o}:{}", m.mode() & 0o170000, m.rdev())
            };
            let xattr =
                lgetxattr(&p, "trusted.test").map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
            out.insert(
                r,
                format!(
                    "{what} mode={:o} owner={}:{} nlink_gt1={} x={xattr}",
                    m.mode() & 0o7777,
                    m.uid(),
                    m.gid(),
                    ft.is_file() && m.nlink() > 1
                ),
            );
        }
    }
    out
}

fn set_user_xattr(p: &Path, value: &str) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C strings and buffer.
    let rc = unsafe { libc::lsetxattr(c.as_ptr(), c"trusted.test".as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    assert_eq!(rc, 0, "setxattr {}", p.display());
}

#[test]
fn commit_then_import_round_trip() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    write(&d.join("l1/etc/keep"), "keep\n");
    write(&d.join("l1/etc/delete-me"), "bye\n");
    write(&d.join("l1/old/inner/x"), "x\n");
    write(&d.join("l1/change"), "v1\n");
    std::fs::create_dir_all(d.join("m")).unwrap();
    let script = format!(
        "cd {d}
         {o} mount --lower l1 --upper u --work w m
         echo v2 > m/change
         rm m/etc/delete-me
         rm -r m/old && mkdir m/old && echo replaced > m/old/new
         mkdir -p m/new/deep && echo data > m/new/deep/file && chown 1234:5678 m/new/deep/file && chmod 4750 m/new/deep/file
         ln -s ../change m/new/rel-link && ln -s /etc/keep m/new/abs-link
         echo hard > m/new/h1 && ln m/new/h1 m/new/h2
         mkfifo m/new/fifo && mknod m/new/null c 1 3
         echo attr > m/new/withattr
         {o} umount m",
        d = d.display(),
        o = ovl()
    );
    in_mount_ns(&script).ok();
    set_user_xattr(&d.join("u/new/withattr"), "hello");
    let o = |args: &[&str]| Cmd::tool("ovlmount").args(args).run();
    let ds = |p: &str| d.join(p).display().to_string();
    let plain: serde_json::Value = o(&["commit", &ds("u"), "-o", &ds("layer.tar"), "--json"]).ok().json();
    let gz: serde_json::Value = o(&["commit", &ds("u"), "-o", &ds("layer.tar.gz"), "--gzip", "--json"]).ok().json();
    o(&["commit", &ds("u"), "-o", &ds("again.tar")]).ok();
    o(&["import", &ds("layer.tar.gz"), &ds("imported")]).ok();
    // Both merged views, side by side (host mounts, removed when the test ends).
    let (a, b) = (d.join("a"), d.join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let _mounts = testkit::MountGuard(vec![a.clone(), b.clone()]);
    o(&["mount", "--lower", &format!("{}:{}", ds("u"), ds("l1")), &ds("a")]).ok();
    o(&["mount", "--lower", &format!("{}:{}", ds("imported"), ds("l1")), &ds("b")]).ok();
    let va = snapshot(&a);
    let vb = snapshot(&b);
    assert!(va.len() > 10, "view too small: {va:?}");
    assert_eq!(va, vb, "the committed-and-imported layer does not give the same merged view");
    assert!(!va.contains_key(Path::new("etc/delete-me")));
    assert!(!va.contains_key(Path::new("old/inner")), "opaque directory lost");
    assert!(va[Path::new("new/withattr")].ends_with("x=hello"), "xattr lost: {}", va[Path::new("new/withattr")]);
    assert!(va[Path::new("new/deep/file")].contains("mode=4750 owner=1234:5678"), "{}", va[Path::new("new/deep/file")]);
    // Deterministic bytes; digests as documented.
    assert_eq!(
        std::fs::read(d.join("layer.tar")).unwrap(),
        std::fs::read(d.join("again.tar")).unwrap(),
        "commit is not deterministic"
    );
    assert_eq!(plain["digest"], plain["diff_id"]);
    assert_eq!(gz["diff_id"], plain["diff_id"], "diff_id is the digest of the uncompressed tar");
    assert_ne!(gz["digest"], plain["digest"]);
    assert_eq!(plain["size"].as_u64().unwrap(), std::fs::metadata(d.join("layer.tar")).unwrap().len());
    let sha = Cmd::new("sha256sum").arg(d.join("layer.tar.gz")).run().ok().stdout.clone();
    assert_eq!(format!("sha256:{}", sha.split_whitespace().next().unwrap()), gz["digest"].as_str().unwrap());
    // tar agrees on the content; whiteouts and the opaque marker are OCI's.
    let list = Cmd::new("tar").arg("-tvf").arg(d.join("layer.tar")).run().ok().stdout.clone();
    for needle in ["etc/.wh.delete-me", "old/.wh..wh..opq", "new/h2", "new/rel-link -> ../change"] {
        assert!(list.contains(needle), "tar listing lacks '{needle}':\n{list}");
    }
    assert!(!list.contains("work/"), "overlay's work dir leaked into the layer");
}

/// An extension header (GNU long name `L`, PAX `x`) whose data is `size` bytes.
fn extension_entry(kind: tar::EntryType, size: usize) -> (tar::Header, Vec<u8>) {
    let mut h = if kind == tar::EntryType::GNULongName { tar::Header::new_gnu() } else { tar::Header::new_ustar() };
    h.set_entry_type(kind);
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    (h, vec![b'a'; size])
}

/// A raw tar header with any name (the tar crate refuses `..` and absolute paths).
fn raw_entry(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_cksum();
    h
}

fn tar_of(entries: &[(tar::Header, Vec<u8>)], truncate_to: Option<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    for (h, data) in entries {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    if let Some(n) = truncate_to {
        out.truncate(n);
    }
    out
}

#[test]
fn hostile_archives_are_refused_and_touch_nothing_outside() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    let outside = d.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("sentinel"), "untouched\n").unwrap();
    let out_abs = outside.display().to_string();
    let file = |name: &str, data: &[u8]| {
        (raw_entry(name.as_bytes(), tar::EntryType::Regular, data.len() as u64, b""), data.to_vec())
    };
    let link = |name: &str, to: &str, kind| (raw_entry(name.as_bytes(), kind, 0, to.as_bytes()), Vec::new());
    let sym = tar::EntryType::Symlink;
    let hard = tar::EntryType::Link;
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("absolute path", tar_of(&[file(&format!("{out_abs}/evil"), b"x")], None), "absolute path".into()),
        ("dotdot escape", tar_of(&[file("a/../../outside/evil", b"x")], None), "'..' component".into()),
        (
            "write through symlink",
            tar_of(&[link("lnk", &out_abs, sym), file("lnk/evil", b"x")], None),
            "written through the symlink 'lnk'".into(),
        ),
        (
            "hard link to /etc/shadow",
            tar_of(&[link("shadow", "/etc/shadow", hard)], None),
            "hard link to '/etc/shadow', outside the layer".into(),
        ),
        ("hard link escaping", tar_of(&[link("shadow", "../../etc/shadow", hard)], None), "outside the layer".into()),
        ("whiteout of ..", tar_of(&[file("dir/.wh...", b"")], None), "a whiteout of '.' or '..'".into()),
        (
            "device through symlink",
            tar_of(
                &[link("dev", &out_abs, sym), (raw_entry(b"dev/evil", tar::EntryType::Char, 0, b""), Vec::new())],
                None,
            ),
            "written through the symlink 'dev'".into(),
        ),
        (
            "huge declared size",
            tar_of(&[(raw_entry(b"big", tar::EntryType::Regular, 1 << 40, b""), b"tiny".to_vec())], None),
            "truncated or corrupt".into(),
        ),
        ("truncated archive", tar_of(&[file("f", &[7u8; 4000])], Some(512 + 1000)), "truncated or corrupt".into()),
        // Headers the tar crate would read whole into memory: refused past 1 MiB.
        (
            "huge GNU long name",
            tar_of(&[extension_entry(tar::EntryType::GNULongName, 3 << 20), file("f", b"x")], None),
            "more than 1024 KiB of headers before one entry".into(),
        ),
        (
            "huge PAX record",
            tar_of(&[extension_entry(tar::EntryType::XHeader, 3 << 20), file("f", b"x")], None),
            "more than 1024 KiB of headers before one entry".into(),
        ),
    ];
    for (what, bytes, msg) in cases {
        let tarfile = d.join("evil.tar");
        std::fs::write(&tarfile, &bytes).unwrap();
        let dir = d.join("layer");
        let out = Cmd::tool("ovlmount").arg("import").arg(&tarfile).arg(&dir).run();
        assert_eq!(out.code, 125, "{what}: {}", out.stderr);
        let line = out.one_line_error();
        assert!(line.contains(&msg), "{what}: expected '{msg}' in '{line}'");
        assert!(!dir.exists(), "{what}: the half-imported layer was left behind");
        let names: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sentinel")], "{what}: something was written outside");
        assert_eq!(std::fs::read_to_string(outside.join("sentinel")).unwrap(), "untouched\n");
    }
}

/// A gzip bomb (a small file that decompresses to far more than asked) stops at
/// `--max-size`; a full disk stops the import with the kernel's reason; both leave
/// nothing; a layer within the limit imports.
#[test]
fn import_stops_at_the_size_limit_and_a_full_disk() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    let big = vec![0u8; 8 << 20];
    let entry = raw_entry(b"zeros", tar::EntryType::Regular, big.len() as u64, b"");
    let plain = tar_of(&[(entry, big)], None);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &plain).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 100 << 10, "the test's bomb is small: {}", bomb.len());
    let layer = d.join("bomb.tar.gz");
    std::fs::write(&layer, &bomb).unwrap();
    let dir = d.join("layer");
    let out = Cmd::tool("ovlmount").args(["import", "--max-size", "4M"]).arg(&layer).arg(&dir).run();
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.one_line_error().contains("larger than 4M once decompressed (--max-size)"), "{}", out.stderr);
    assert!(!dir.exists(), "the half-imported layer was left behind");
    let out = Cmd::tool("ovlmount").args(["import", "--max-size", "0"]).arg(&layer).arg(&dir).run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("must be more than 0"), "{}", out.stderr);
    Cmd::tool("ovlmount").args(["import", "--max-size", "9M"]).arg(&layer).arg(&dir).run().ok();
    assert_eq!(std::fs::metadata(dir.join("zeros")).unwrap().len(), 8 << 20);
    // A disk of 1 MiB (a tmpfs, in a throwaway mount namespace).
    let small = d.join("small");
    std::fs::create_dir(&small).unwrap();
    let script = format!(
        "mount -t tmpfs -o size=1m small {s}; if {o} import {l} {s}/layer 2>&1; then echo imported; fi; ls -A {s}",
        s = small.display(),
        o = ovl(),
        l = layer.display()
    );
    let out = in_mount_ns(&script);
    assert!(out.stdout.contains("cannot write") && out.stdout.contains("No space left on device"), "{}", out.stdout);
    assert!(!out.stdout.contains("imported") && !out.stdout.contains("layer"), "left behind: {}", out.stdout);
}

/// A temporary directory holding a busybox root at `rootfs/`, or `None` (the test
/// `name` recorded as skipped) when busybox-static is not installed.
fn busybox_root(name: &str) -> Option<(testkit::TempDir, PathBuf)> {
    if testkit::busybox().is_none() {
        testkit::skip(name, "busybox-static is not installed");
        return None;
    }
    let t = testkit::tempdir();
    let l = t.path().join("rootfs");
    testkit::busybox_rootfs(&l);
    Some((t, l))
}

#[test]
fn enter_builds_a_confined_root() {
    require_root!();
    let Some((t, l)) = busybox_root("enter_builds_a_confined_root") else { return };
    let d = t.path();
    std::fs::write(d.join("host-only-marker"), "host\n").unwrap();
    write(&d.join("vol/shared"), "volume\n");
    let before = testkit::mount_snapshot(d);
    let p = d.display();
    let base = format!(
        "{o} enter --lower {l} --upper {p}/u --work {p}/w --target {p}/m --proc --dev --sys --mask-defaults \
         --bind {p}/vol:/vol --bind {p}/vol:/vol-ro:ro --init-layer {p}/init --init hostname=ctr",
        o = ovl(),
        l = l.display()
    );
    // The probe, with a stray descriptor (5) open.
    let cmd = format!("exec 5</etc/hostname; exec {base} -- /probe");
    let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "-u", "--", "sh", "-c", &cmd]).run();
    let v = out.ok().json();
    assert_eq!(v["pid"], 1);
    assert_eq!(v["pids"], serde_json::json!([1]), "the PID namespace's own proc");
    let mounts = v["mounts"].as_array().unwrap();
    let at = |mp: &str| mounts.iter().rev().find(|m| m["mount_point"] == mp).cloned();
    assert_eq!(at("/").unwrap()["fstype"], "overlay", "/ is not the overlay");
    assert!(at("/sys").unwrap()["options"].as_str().unwrap().split(',').any(|o| o == "ro"), "/sys is not read-only");
    assert!(
        at("/proc/sys").unwrap()["options"].as_str().unwrap().split(',').any(|o| o == "ro"),
        "/proc/sys is not read-only"
    );
    assert!(at("/proc/keys").is_some() || !Path::new("/proc/keys").exists(), "/proc/keys not masked");
    assert_eq!(v["caps"]["bounding"], "00000000a80425fb", "not docker's default capability set");
    assert_eq!(v["fds"], serde_json::json!([0, 1, 2]), "an inherited descriptor reached the program");
    assert!(
        !mounts.iter().any(|m| m["mount_point"].as_str().unwrap_or("").contains("ctrtest-")),
        "host mounts visible inside"
    );

    // From a shell inside: masked paths, read-only paths, host files, volumes, init files.
    let script = "cat /proc/keys | wc -c; ls /sys/firmware | wc -l; \
                  (echo x > /proc/sys/kernel/hostname) 2>/dev/null && echo proc-sys-writable || echo proc-sys-ro; \
                  ls / | grep -c ctrtest || true; cat /vol/shared; \
                  (echo y > /vol-ro/shared) 2>/dev/null && echo vol-ro-writable || echo vol-ro-ro; \
                  echo z > /vol/written; cat /etc/hostname; ls /dev | tr '\\n' ' '";
    let cmd = format!("{base} -- /bin/sh -c \"{script}\"");
    let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "-u", "--", "sh", "-c", &cmd]).run();
    let text = out.ok().stdout.clone();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "0", "/proc/keys readable: {text}");
    assert_eq!(lines[1], "0", "/sys/firmware not empty: {text}");
    assert_eq!(lines[2], "proc-sys-ro");
    assert_eq!(lines[3], "0", "host files visible: {text}");
    assert_eq!(lines[4], "volume");
    assert_eq!(lines[5], "vol-ro-ro");
    assert_eq!(lines[6], "ctr");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue", "fd", "stdin", "stdout",
        "stderr",
    ] {
        assert!(lines[7].split_whitespace().any(|x| x == dev), "/dev lacks {dev}: {}", lines[7]);
    }
    assert_eq!(std::fs::read_to_string(d.join("vol/written")).unwrap(), "z\n", "the volume is not the host directory");
    assert_eq!(std::fs::read_to_string(d.join("init/etc/hostname")).unwrap(), "ctr\n");
    assert!(!d.join("u/etc/hostname").exists(), "init files must not land in the upper layer");
    assert_eq!(testkit::mount_snapshot(d), before, "the host's mount table changed");

    // --readonly, --workdir, --user, --cap-drop ALL, --no-new-privs.
    let cmd = format!(
        "{o} enter --lower {l} --target {p}/m2 --proc --readonly --workdir /etc --user user --cap-drop ALL --no-new-privs -- /probe",
        o = ovl(),
        l = l.display()
    );
    let v = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-c", &cmd]).run().ok().json();
    assert_eq!(v["cwd"], "/etc");
    assert_eq!((v["uid"].as_u64(), v["gid"].as_u64()), (Some(1000), Some(1000)));
    assert_eq!(v["groups"], serde_json::json!([2000]), "supplementary groups from /etc/group");
    assert_eq!(v["caps"]["bounding"], "0000000000000000");
    assert_eq!(v["no_new_privs"], "1");
    let root = v["mounts"].as_array().unwrap().iter().rev().find(|m| m["mount_point"] == "/").cloned().unwrap();
    assert!(root["options"].as_str().unwrap().split(',').any(|o| o == "ro"));
}

#[test]
fn init_files_without_an_init_layer_live_in_memory() {
    require_root!();
    let Some((t, l)) = busybox_root("init_files_without_an_init_layer_live_in_memory") else { return };
    let d = t.path();
    write(&l.join("etc/hosts"), "image's hosts\n");
    write(&d.join("resolv"), "nameserver 192.0.2.53\n");
    let before = testkit::mount_snapshot(d);
    let p = d.display();
    let enter = |init: &str, script: &str| {
        let cmd = format!(
            "{o} enter --lower {l} --upper {p}/u --work {p}/w --target {p}/m --proc {init} -- /bin/sh -c '{script}'",
            o = ovl(),
            l = l.display()
        );
        Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "-u", "--hostname", "uts-name", "--", "sh", "-c", &cmd]).run()
    };
    // The three files, the init layer under the overlay (not a mount of its own inside),
    // and a write to one of them goes to the upper layer as usual.
    let script = "cat /etc/hostname /etc/hosts /etc/resolv.conf; cut -d\" \" -f5 /proc/self/mountinfo | grep -cx /; \
                  echo changed > /etc/hostname";
    let out = enter(&format!("--init hostname=box --init hosts --init resolv={p}/resolv"), script);
    assert_eq!(
        out.ok().stdout,
        "box\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n\
         nameserver 192.0.2.53\n1\n"
    );
    assert_eq!(std::fs::read_to_string(d.join("u/etc/hostname")).unwrap(), "changed\n");
    assert!(!d.join("u/etc/hosts").exists(), "an unchanged init file was copied up");
    assert!(std::fs::read_dir(d.join("m")).unwrap().next().is_none(), "the init files reached the disk");
    // `hosts` alone names the UTS hostname; without --init the image's files show.
    let out = enter("--init hosts", "tail -n 1 /etc/hosts; cat /etc/hostname 2>/dev/null || echo none");
    assert_eq!(out.ok().stdout, "127.0.1.1\tuts-name\nchanged\n");
    let out = enter("", "cat /etc/hosts");
    assert_eq!(out.ok().stdout, "image's hosts\n");
    assert_eq!(testkit::mount_snapshot(d), before, "the host's mount table changed");
}

/// `enter --upper-tmpfs`: the writes (a new file, a changed init file, a whiteout, an
/// opaque directory) work and are seen inside, and nothing reaches the disk: the target
/// stays empty, and no upper or work directory is made. It excludes --upper and --work.
#[test]
fn upper_tmpfs_keeps_every_write_in_memory() {
    require_root!();
    let Some((t, l)) = busybox_root("upper_tmpfs_keeps_every_write_in_memory") else { return };
    let d = t.path();
    write(&l.join("data/old"), "image\n");
    let before = testkit::mount_snapshot(d);
    let p = d.display();
    let script = "echo new > /new; echo changed > /etc/hostname; rm /data/old; rm -r /data; mkdir /data; \
                  cat /new /etc/hostname; ls -A /data | wc -l; grep -c upperdir=.*/m/upper /proc/self/mountinfo";
    let cmd = format!(
        "{o} enter --lower {l} --upper-tmpfs --target {p}/m --proc --init hostname=box -- /bin/sh -c '{script}'",
        o = ovl(),
        l = l.display()
    );
    let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-c", &cmd]).run();
    assert_eq!(out.ok().stdout, "new\nchanged\n0\n1\n");
    assert!(std::fs::read_dir(d.join("m")).unwrap().next().is_none(), "a write reached the disk");
    assert_eq!(std::fs::read_to_string(l.join("data/old")).unwrap(), "image\n", "a write reached the image");
    assert_eq!(testkit::mount_snapshot(d), before, "the host's mount table changed");
    for extra in [format!("--upper {p}/u"), format!("--work {p}/w")] {
        let cmd = format!("exec {} enter --lower {} --upper-tmpfs {extra} --target {p}/m -- true", ovl(), l.display());
        let out = in_mount_ns(&cmd);
        assert_eq!(out.code, 125, "{extra}: {}", out.stderr);
        assert!(out.one_line_error().contains("--upper-tmpfs"), "{}", out.stderr);
    }
    assert!(!d.join("u").exists() && !d.join("w").exists(), "a refused command made a directory");
}

/// `--init host=NAME:IP` adds to /etc/hosts, `--init dns=IP` replaces the nameservers
/// (keeping search and options); `--workdir` is made when missing (in the upper layer);
/// `--shm-size` sizes /dev/shm; `--rlimit` and `--oom-score-adj` reach the command.
#[test]
fn enter_flags_for_hosts_dns_workdir_shm_and_limits() {
    require_root!();
    let Some((t, l)) = busybox_root("enter_flags_for_hosts_dns_workdir_shm_and_limits") else { return };
    let d = t.path();
    write(&d.join("resolv"), "search example.org\nnameserver 192.0.2.53\noptions ndots:2\n");
    let before = testkit::mount_snapshot(d);
    let p = d.display();
    let flags = format!(
        "--init hosts --init host=db.local:10.0.0.5 --init host=v6:fd00::1 --init resolv={p}/resolv --init dns=192.0.2.99 \
         --dev --shm-size 1m --workdir /made/here --rlimit nofile=100:200 --oom-score-adj 200"
    );
    let script =
        "tail -n 2 /etc/hosts; cat /etc/resolv.conf; pwd; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; \
                  grep \" /dev/shm \" /proc/self/mountinfo | grep -o size=[0-9]*k";
    let cmd = format!(
        "{o} enter --lower {l} --upper {p}/u --work {p}/w --target {p}/m --proc {flags} -- /bin/sh -c '{script}'",
        o = ovl(),
        l = l.display()
    );
    let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "-u", "--", "sh", "-c", &cmd]).run();
    assert_eq!(
        out.ok().stdout,
        "10.0.0.5\tdb.local\nfd00::1\tv6\nnameserver 192.0.2.99\nsearch example.org\noptions ndots:2\n/made/here\n100\n200\n200\nsize=1024k\n"
    );
    assert!(d.join("u/made/here").is_dir(), "the working directory is the container's, in its upper layer");
    assert!(!l.join("made").exists(), "the lower layer changed");
    for bad in [
        "--init host=nocolon",
        "--init host=db:1.2.3",
        "--init dns=example.org",
        "--shm-size 1m",
        "--rlimit nofile=9:1",
        "--oom-score-adj -1001",
    ] {
        let cmd = format!(
            "{o} enter --lower {l} --upper {p}/u --work {p}/w --target {p}/m --proc {bad} -- true",
            o = ovl(),
            l = l.display()
        );
        let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-c", &cmd]).run();
        assert_eq!(out.code, 125, "{bad}: {out:?}");
        assert!(out.one_line_error().starts_with("ovlmount: "), "{bad}: {out:?}");
    }
    assert_eq!(testkit::mount_snapshot(d), before, "the host's mount table changed");
}

/// Without root (the user `nobody`), in a user namespace of its own: `ovlmount enter`
/// builds the root inside `unshare-rs -U -r -m -p -f -u -i` even when the chain is
/// orphaned (its readable ancestors end at a PID 1 it cannot read: the mount namespace
/// is still known to be the chain's, as it is owned by the chain's user namespace); run
/// in the host's mount namespace (no `-m`) it still refuses; `--dev` without an IPC
/// namespace of its own says why /dev/mqueue cannot be mounted.
#[test]
fn enter_without_root_in_a_user_namespace_of_its_own() {
    require_root!();
    let Some((t, l)) = busybox_root("enter_without_root_in_a_user_namespace_of_its_own") else { return };
    if !testkit::util_linux("setpriv") {
        testkit::skip("enter_without_root_in_a_user_namespace_of_its_own", "util-linux setpriv is not installed");
        return;
    }
    let d = t.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let before = testkit::mount_snapshot(d);
    let (unshare, out) = (testkit::bin("unshare-rs"), d.join("out"));
    // (nobody's to write.)
    std::fs::write(&out, "").unwrap();
    std::fs::set_permissions(&out, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let nobody = |chain: &str| testkit::as_nobody().args(["sh", "-c", chain]).run();
    // (The subshell exits at once: the chain's parent becomes PID 1, or a subreaper.)
    let chain = format!(
        "({u} -U -r -m -p -f -u -i --hostname box -- {o} enter --rootfs {l} --proc --dev -- \
         sh -c 'id -u; hostname; ls -d /dev/mqueue' >{out} 2>&1 &)",
        u = unshare.display(),
        o = ovl(),
        l = l.display(),
        out = out.display()
    );
    assert_eq!(nobody(&chain).code, 0);
    let done = || std::fs::read_to_string(&out).is_ok_and(|t| t.lines().count() >= 3 || t.contains("ovlmount:"));
    assert!(testkit::wait_until(std::time::Duration::from_secs(20), done));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "0\nbox\n/dev/mqueue\n");
    let flat = nobody(&format!("{} -U -r -- {} enter --rootfs {} -- true", unshare.display(), ovl(), l.display()));
    assert_eq!(flat.code, 125, "{flat:?}");
    assert!(flat.one_line_error().contains("refusing to run in the initial mount namespace"), "{flat:?}");
    let no_ipc = nobody(&format!(
        "{} -U -r -m -p -f -- {} enter --rootfs {} --dev -- true",
        unshare.display(),
        ovl(),
        l.display()
    ));
    assert_eq!(no_ipc.code, 125, "{no_ipc:?}");
    assert!(no_ipc.one_line_error().contains("/dev/mqueue needs an IPC namespace of its own"), "{no_ipc:?}");
    assert_eq!(testkit::mount_snapshot(d), before);
}

#[test]
fn enter_refuses_the_initial_namespace_and_escaping_binds() {
    require_root!();
    let Some((t, l)) = busybox_root("enter_refuses_the_initial_namespace_and_escaping_binds") else { return };
    let d = t.path();
    let before = testkit::mount_snapshot(d);
    let out = Cmd::tool("ovlmount")
        .args(["enter", "--lower"])
        .arg(&l)
        .arg("--target")
        .arg(d.join("m"))
        .args(["--", "/probe"])
        .run();
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("refusing to run in the initial mount namespace"), "{}", out.stderr);
    assert_eq!(testkit::mount_snapshot(d), before);
    // A symlink in the image that leads out of the root (absolute, or up with `..`): a
    // bind through it lands where the symlink leads inside the container, as the
    // container resolves it, and nothing is created or mounted outside the root.
    std::os::unix::fs::symlink(d.join("outside"), l.join("escape")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../..", l.join("up")).unwrap();
    std::fs::create_dir(d.join("outside")).unwrap();
    write(&d.join("vol/marker"), "from the volume\n");
    for dst in ["/escape/x", "/up/tmp"] {
        let cmd = format!(
            "{o} enter --lower {l} --upper {p}/u --work {p}/w --target {p}/m --proc --bind {p}/vol:{dst} -- sh -c 'cat {dst}/marker; grep -c \" {inner} \" /proc/self/mountinfo'",
            o = ovl(),
            l = l.display(),
            p = d.display(),
            inner = if dst == "/up/tmp" { "/tmp".to_string() } else { format!("{}/outside/x", d.display()) },
        );
        let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-c", &cmd]).run();
        assert_eq!(out.ok().stdout, "from the volume\n1\n", "{dst}: mounted inside, on the place the link leads to");
        assert!(std::fs::read_dir(d.join("outside")).unwrap().next().is_none(), "{dst}: something was created outside");
        assert_eq!(testkit::mount_snapshot(d), before, "{dst}: a mount outside the root");
    }
}

#[test]
fn bad_input_is_refused_and_mounts_or_creates_nothing() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    write(&d.join("l1/f"), "x\n");
    write(&d.join("nonempty-work/junk"), "x\n");
    std::fs::create_dir(d.join("m")).unwrap();
    let p = d.display().to_string();
    let shm = format!("/dev/shm/ovlmount-test-work-{}", std::process::id());
    let cases: Vec<(String, &str)> = vec![
        (format!("mount --lower {p}/missing {p}/m"), "lower layer '"),
        (format!("mount --lower {p}/l1 --upper {p}/u1 --work {shm} {p}/m"), "are on different filesystems"),
        (
            format!("mount --lower {p}/l1 --upper {p}/u2 --work {p}/nonempty-work {p}/m"),
            "is not empty (it holds 'junk')",
        ),
        (format!("mount --lower {p}/l1 --upper {p}/w3 --work {p}/w3/work {p}/m"), "layers overlap"),
        (format!("mount --lower {p}/l1 --upper {p}/u4 {p}/m"), "--work"),
        // (A missing mount point is made; a file is not one.)
        (format!("mount --lower {p}/l1 {p}/l1/f"), "is not a directory"),
        (format!("umount {p}/m"), "is not a mount point"),
        (
            format!("enter --lower {p}/l1 --target {p}/m --seccomp {p}/l1/f -- true"),
            "/l1/f': not a seccomp profile: expected value at line 1",
        ),
        (format!("commit {p}/nope -o {p}/x.tar"), "upper"),
        (format!("import {p}/nope.tar {p}/new"), "cannot open layer"),
        (format!("import {p}/l1/f {p}/l1"), "is not empty"),
    ];
    let before = testkit::mount_snapshot(d);
    for (args, msg) in &cases {
        let script = format!("exec {} {args}", ovl());
        let out = in_mount_ns(&script);
        assert_eq!(out.code, 125, "{args}: {}", out.stderr);
        let line = out.one_line_error();
        assert!(line.starts_with("ovlmount: ") && line.contains(msg), "{args}: expected '{msg}' in '{line}'");
    }
    assert_eq!(testkit::mount_snapshot(d), before);
    for created in ["u1", "u2", "w3", "u4", "new", "x.tar"] {
        assert!(!d.join(created).exists(), "a failed command left '{created}' behind");
    }
    assert!(!Path::new(&shm).exists(), "a failed command left '{shm}' behind");
    // More than the kernel's 500 lower layers.
    let lowers = vec![format!("{p}/l1"); 501].join(":");
    let out = in_mount_ns(&format!("exec {} mount --lower {lowers} {p}/m", ovl()));
    assert_eq!(out.code, 125);
    assert!(out.one_line_error().contains("the kernel takes at most 500"), "{}", out.stderr);
}

/// A read-only volume, or a single read-only layer, whose source has a submount: the
/// submount must be read-only inside too (a container writing to it would write to the
/// host). mount_setattr(2) with AT_RECURSIVE, not a remount of the top mount only.
#[test]
fn read_only_volumes_and_layers_are_read_only_all_the_way_down() {
    require_root!();
    let Some((t, l)) = busybox_root("read_only_volumes_and_layers_are_read_only_all_the_way_down") else { return };
    let d = t.path();
    let p = d.display();
    std::fs::create_dir_all(d.join("vol/sub")).unwrap();
    std::fs::create_dir_all(l.join("data")).unwrap();
    std::fs::create_dir_all(l.join("vol")).unwrap(); // (a read-only layer gets no new mount points)
                                                     // Submounts (a tmpfs) under the volume's source and under the single layer, made in
                                                     // the throwaway namespace, then the attack from inside: write to each.
    let script = format!(
        "mount -t tmpfs sub {p}/vol/sub; mount -t tmpfs data {l}/data; \
         exec {o} enter --lower {l} --target {p}/m --proc --bind {p}/vol:/vol:ro -- /bin/sh -c '\
         for f in /vol/x /vol/sub/x /data/x /x; do (echo owned > $f) && echo \"$f writable\" || echo \"$f read-only\"; done'",
        o = ovl(),
        l = l.display()
    );
    let out = in_mount_ns(&script);
    assert_eq!(
        out.ok().stdout,
        "/vol/x read-only\n/vol/sub/x read-only\n/data/x read-only\n/x read-only\n",
        "{}",
        out.stderr
    );
    // A writable volume with a submount stays writable: read-only is not applied wider.
    let script = format!(
        "mount -t tmpfs sub {p}/vol/sub; exec {o} enter --lower {l} --target {p}/m --bind {p}/vol:/vol -- \
         /bin/sh -c 'echo ok > /vol/sub/x && cat /vol/sub/x'",
        o = ovl(),
        l = l.display()
    );
    assert_eq!(in_mount_ns(&script).ok().stdout, "ok\n");
}

/// An image controls its own tree: a `/proc` that is a symlink to a host directory must
/// not make `enter` mount proc there (it is resolved inside the root, where this
/// read-only root cannot have it: refused), and a fake `/proc/sys/kernel/cap_last_cap`
/// (saying 5) must not shrink the capabilities dropped from the bounding set.
#[test]
fn image_symlinks_and_fake_proc_files_do_not_weaken_enter() {
    require_root!();
    let Some((t, l)) = busybox_root("image_symlinks_and_fake_proc_files_do_not_weaken_enter") else { return };
    let d = t.path();
    let host_target = d.join("host-side-proc");
    let ovl = ovl();
    // /proc -> an absolute path of an existing host directory.
    std::fs::create_dir(&host_target).unwrap();
    std::fs::remove_dir(l.join("proc")).unwrap();
    std::os::unix::fs::symlink(&host_target, l.join("proc")).unwrap();
    let script = format!("exec {ovl} enter --lower {} --target {}/m --proc -- /bin/true", l.display(), d.display());
    let out = in_mount_ns(&script);
    assert_eq!(out.code, 125, "{}", out.stderr);
    assert!(out.stderr.contains("/proc"), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(&host_target).unwrap().count(), 0, "enter wrote to the host's directory");
    // A plain /proc directory holding a fake cap_last_cap, and no --proc. The bounding
    // set of the program (sleeping) is read from the host's /proc.
    std::fs::remove_file(l.join("proc")).unwrap();
    write(&l.join("proc/sys/kernel/cap_last_cap"), "5\n");
    let script = format!(
        "{us} -m -- {ovl} enter --lower {} --target {}/m2 --cap-drop ALL -- /bin/sleep 3 & sleep 1; \
         grep CapBnd /proc/$!/status; kill $!",
        l.display(),
        d.display(),
        us = testkit::bin("unshare-rs").display()
    );
    // (The enter gets a mount namespace of its own: pivot_root would move this shell too.)
    let out = Cmd::new("sh").args(["-ec", &script]).run();
    assert_eq!(
        out.ok().stdout.split_whitespace().last(),
        Some("0000000000000000"),
        "the fake cap_last_cap kept capabilities"
    );
}

/// The README's `ovlmount mount --lower img/l2:img/l1 --upper c/upper --work c/work
/// c/merged` works where `c/merged` does not exist yet (it is made, like the upper and
/// work directories, and umount leaves it); a mount point that is a file is named as
/// such; a mount that fails leaves no directory it made.
#[test]
fn mount_makes_a_missing_mount_point() {
    require_root!();
    let t = testkit::tempdir();
    let d = t.path();
    write(&d.join("img/l1/a"), "1");
    write(&d.join("img/l2/b"), "2");
    let o = ovl();
    let p = d.display();
    let script = format!(
        "cd {p}; {o} mount --lower img/l2:img/l1 --upper c/upper --work c/work c/merged; ls c/merged | tr '\\n' ' '; \
         {o} umount c/merged; test -d c/merged && echo kept"
    );
    assert_eq!(in_mount_ns(&script).ok().stdout, "a b kept\n");
    std::fs::write(d.join("file"), "").unwrap();
    let out = in_mount_ns(&format!("cd {p}; exec {o} mount --lower img/l2:img/l1 file"));
    assert_eq!(out.code, 125);
    assert_eq!(out.one_line_error(), "ovlmount: mount point 'file' is not a directory");
    let out =
        in_mount_ns(&format!("cd {p}; exec {o} mount --lower img/l2:img/l1:img/missing --upper n/u --work n/w n/m"));
    assert_eq!(out.code, 125);
    assert!(!d.join("n/m").exists() && !d.join("n/u").exists(), "a failed mount left directories");
}

/// Long work shows progress where a person watches: on a terminal, `import` and
/// `commit` draw a one-line indicator on stderr (bytes and entries, of the total where
/// it is known, and the rate) and end it with a newline; with stderr a pipe (scripts, CI
/// logs) nothing extra is printed unless `--progress` asks for it.
#[test]
fn import_and_commit_show_progress_only_on_a_terminal() {
    require_root!();
    let Some((t, l)) = busybox_root("import_and_commit_show_progress_only_on_a_terminal") else { return };
    let d = t.path();
    let layer = d.join("l.tar");
    let o = ovl();
    let on_terminal = |args: &str| Cmd::new("sh").args(["-c", &format!("{o} {args}")]).run_on_terminal("", b"");
    let out = on_terminal(&format!("commit {} -o {}", l.display(), layer.display()));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains(&format!("committing {}: ", l.display())), "{:?}", out.stdout);
    assert!(out.stdout.contains(" entries, ") && out.stdout.contains("/s"), "{:?}", out.stdout);
    let out = on_terminal(&format!("import {} {}/imported", layer.display(), d.display()));
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains(&format!("importing {}: ", layer.display())), "{:?}", out.stdout);
    assert!(out.stdout.contains("(100%)"), "a plain tar's total is known: {:?}", out.stdout);
    assert!(out.stdout.ends_with('\n'), "the line is ended: {:?}", out.stdout);
    // Not a terminal: nothing on stderr, unless --progress.
    let quiet = Cmd::tool("ovlmount").arg("import").arg(&layer).arg(d.join("quiet")).run();
    assert_eq!((quiet.code, quiet.stderr.as_str()), (0, ""));
    let forced = Cmd::tool("ovlmount").args(["import", "--progress"]).arg(&layer).arg(d.join("forced")).run();
    assert!(forced.stderr.starts_with('\r') && forced.stderr.contains("importing"), "{:?}", forced.stderr);
    assert_eq!(Cmd::tool("ovlmount").arg("commit").arg(&l).arg("-o").arg(d.join("q.tar")).run().ok().stderr, "");
}

/// `--sysctl`: a network parameter is set in the container's own network namespace (the
/// host's stays as it was); a host-wide key, a key written through the host's network
/// namespace, and a key that walks out of /proc/sys are refused before anything is
/// mounted, with 125.
#[test]
fn sysctls_change_the_container_never_the_host() {
    require_root!();
    let Some((t, l)) = busybox_root("sysctls_change_the_container_never_the_host") else { return };
    let d = t.path();
    let host_file = "/proc/sys/net/ipv4/ip_default_ttl";
    let host_before = std::fs::read_to_string(host_file).unwrap();
    let wanted = if host_before.trim() == "42" { "43" } else { "42" };
    let base = format!("{o} enter --rootfs {l} --proc", o = ovl(), l = l.display());
    let read = "cat /proc/sys/net/ipv4/ip_default_ttl";
    let inside = format!("{base} --sysctl net.ipv4.ip_default_ttl={wanted} -- {read}");
    let out = Cmd::tool("unshare-rs").args(["-m", "-n", "-p", "-f", "--", "sh", "-c", &inside]).run();
    assert_eq!(out.ok().stdout.trim(), wanted);
    assert_eq!(std::fs::read_to_string(host_file).unwrap(), host_before, "the host's value changed");

    let before = testkit::mount_snapshot(d);
    for (flag, says) in [
        // The host's network namespace (only a mount namespace of its own).
        (format!("net.ipv4.ip_default_ttl={wanted}"), "in the host's net namespace"),
        ("kernel.panic=5".into(), "not namespaced"),
        ("vm.drop_caches=3".into(), "not namespaced"),
        ("net.ipv4.x/../../../kernel/panic=5".into(), "is not a sysctl key"),
    ] {
        let cmd = format!("{base} --sysctl '{flag}' -- true");
        let out = Cmd::tool("unshare-rs").args(["-m", "-p", "-f", "--", "sh", "-c", &cmd]).run();
        assert_eq!(out.code, 125, "{flag}: {out:?}");
        assert!(out.stderr.contains(says), "{flag}: {}", out.stderr);
    }
    assert_eq!(std::fs::read_to_string(host_file).unwrap(), host_before, "the host's value changed");
    assert_ne!(std::fs::read_to_string("/proc/sys/kernel/panic").unwrap().trim(), "5");
    assert_eq!(testkit::mount_snapshot(d), before);
}

/// `--tmpfs DIR:OPTIONS`: the size and mode asked for, the mount attributes, and
/// `tmpcopyup` bringing what the image had there (contents, owners, modes, links);
/// without `mode=` the tmpfs keeps the mode of the directory it covers, or 1777.
#[test]
fn tmpfs_options_and_copy_up() {
    require_root!();
    let Some((_t, l)) = busybox_root("tmpfs_options_and_copy_up") else { return };
    write(&l.join("etc/skel/sub/file"), "from the image\n");
    std::os::unix::fs::symlink("sub/file", l.join("etc/skel/link")).unwrap();
    std::os::unix::fs::chown(l.join("etc/skel/sub/file"), Some(1000), Some(1000)).unwrap();
    std::fs::set_permissions(l.join("etc/skel/sub/file"), std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::create_dir_all(l.join("covered")).unwrap();
    std::fs::set_permissions(l.join("covered"), std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();
    // (inode64: a default some kernels show, others not.)
    let script =
        "grep -E ' /(scratch|etc/skel|covered|fresh) ' /proc/mounts | cut -d' ' -f2,4 | sed 's/,inode64//' | sort; \
                  stat -c '%a %u:%g %n' /scratch /covered /fresh /etc/skel/sub/file; cat /etc/skel/link; \
                  touch /etc/skel/new 2>/dev/null || echo skel-ro";
    let cmd = format!(
        "{o} enter --rootfs {l} --proc --tmpfs /scratch:size=1m,mode=700,noexec --tmpfs /etc/skel:ro,tmpcopyup \
         --tmpfs /covered --tmpfs /fresh -- sh -c \"{script}\"",
        o = ovl(),
        l = l.display()
    );
    let out = in_mount_ns(&cmd);
    let want = "/covered rw,nosuid,nodev,relatime,mode=750\n\
                /etc/skel ro,nosuid,nodev,relatime,mode=755\n\
                /fresh rw,nosuid,nodev,relatime\n\
                /scratch rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700\n\
                700 0:0 /scratch\n750 0:0 /covered\n1777 0:0 /fresh\n640 1000:1000 /etc/skel/sub/file\n\
                from the image\nskel-ro\n";
    assert_eq!(out.ok().stdout, want, "{out:?}");
    assert!(!l.join("etc/skel/new").exists());
}
