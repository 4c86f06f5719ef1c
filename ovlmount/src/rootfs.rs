//! What goes into a new root before pivot_root: proc, a minimal /dev, a read-only /sys,
//! bind volumes (never through a symlink that leaves the root), and the masked and
//! read-only paths runc uses by default.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use chainload::error::sys;
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::Error;

/// runc's default masked paths: made unreadable with `/dev/null` (files) or an empty
/// read-only tmpfs (directories).
pub const MASKED: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// runc's default read-only paths.
pub const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

fn ensure_dir(p: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(p).map_err(|e| Error::io("cannot create", p, e))
}

/// Inside `root`, the path `inner` (absolute, as the container will see it).
pub fn inside(root: &Path, inner: &str) -> PathBuf {
    root.join(inner.trim_start_matches('/'))
}

/// Mount a new proc on `root/proc` (nosuid, nodev, noexec); like `/sys` and `/dev`,
/// never through an image's symlink that leads out of the root.
pub fn mount_proc(root: &Path) -> Result<(), Error> {
    let p = resolve_inside(root, Path::new("/proc"), false)?;
    mount(Some("proc"), &p, Some("proc"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>)
        .map_err(sys(format!("cannot mount proc on '{}'", p.display())))
}

/// Mount sysfs read-only on `root/sys`; where the kernel refuses a new sysfs (a network
/// namespace we do not own), bind the host's read-only instead, as runc does.
pub fn mount_sys(root: &Path) -> Result<(), Error> {
    let p = resolve_inside(root, Path::new("/sys"), false)?;
    let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match mount(Some("sysfs"), &p, Some("sysfs"), ro, None::<&str>) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            mount(Some("/sys"), &p, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
                .map_err(sys(format!("cannot bind /sys on '{}'", p.display())))?;
            remount_read_only(&p)
        }
        Err(e) => Err(sys(format!("cannot mount sysfs on '{}'", p.display()))(e)),
    }
}

/// Make the mount at `p` read-only, with every mount below it (a bind of itself, then
/// mount_setattr(2) with AT_RECURSIVE: a submount must not stay writable under a
/// read-only volume). The kernel's locked flags (nosuid, nodev, noexec) stay as they are.
pub fn remount_read_only(p: &Path) -> Result<(), Error> {
    mount(Some(p), p, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(sys(format!("cannot bind '{}' on itself", p.display())))?;
    make_read_only_recursively(p)
}

/// mount_setattr(2) `MOUNT_ATTR_RDONLY` with AT_RECURSIVE on the mount at `p`; a kernel
/// without it (before 5.12) is an error, never a top-only read-only mount.
pub fn make_read_only_recursively(p: &Path) -> Result<(), Error> {
    crate::sys::mount_setattr_recursive(p, crate::sys::MOUNT_ATTR_RDONLY).map_err(|e| match e {
        Errno::ENOSYS => Error::Usage(format!(
            "cannot make '{}' read-only with all its submounts: mount_setattr(2) needs Linux 5.12 or later",
            p.display()
        )),
        e => sys(format!("cannot make '{}' read-only", p.display()))(e),
    })
}

const DEVICES: [(&str, u64, u64); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// A minimal /dev on `root/dev`: a tmpfs with null, zero, full, random, urandom, tty
/// (made with mknod, or bound from the host where mknod is not allowed), a new devpts
/// instance with `ptmx`, `shm`, `mqueue`, and the `fd`, `stdin`, `stdout`, `stderr` links.
pub fn mount_dev(root: &Path) -> Result<(), Error> {
    let dev = resolve_inside(root, Path::new("/dev"), false)?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )
    .map_err(sys(format!("cannot mount a tmpfs on '{}'", dev.display())))?;
    for (name, major, minor) in DEVICES {
        let p = dev.join(name);
        match mknod(&p, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), makedev(major, minor)) {
            Ok(()) => {
                // mknod is subject to the umask; set the mode explicitly.
                std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                    .map_err(|e| Error::io("cannot chmod", &p, e))?;
            }
            Err(Errno::EPERM) => {
                std::fs::write(&p, b"").map_err(|e| Error::io("cannot create", &p, e))?;
                let host = PathBuf::from("/dev").join(name);
                mount(Some(&host), &p, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(sys(format!(
                    "cannot bind '{}' on '{}'",
                    host.display(),
                    p.display()
                )))?;
            }
            Err(e) => return Err(sys(format!("cannot create device '{}'", p.display()))(e)),
        }
    }
    let pts = dev.join("pts");
    ensure_dir(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(sys(format!("cannot mount devpts on '{}'", pts.display())))?;
    let shm = dev.join("shm");
    ensure_dir(&shm)?;
    mount(
        Some("shm"),
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=1777,size=65536k"),
    )
    .map_err(sys(format!("cannot mount a tmpfs on '{}'", shm.display())))?;
    let mq = dev.join("mqueue");
    ensure_dir(&mq)?;
    mount(
        Some("mqueue"),
        &mq,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(sys(format!("cannot mount mqueue on '{}'", mq.display())))?;
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, to) in links {
        let p = dev.join(name);
        std::os::unix::fs::symlink(to, &p).map_err(|e| Error::io("cannot create link", &p, e))?;
    }
    Ok(())
}

/// Resolve `inner` (an absolute path as the container sees it) to a host path under
/// `root`, creating what is missing (directories, or an empty file as the last part when
/// `file`), and refuse it if any symlink on the way leads outside `root`.
pub fn resolve_inside(root: &Path, inner: &Path, file: bool) -> Result<PathBuf, Error> {
    let root = std::fs::canonicalize(root).map_err(|e| Error::io("new root", root, e))?;
    let mut cur = root.clone();
    let parts: Vec<Component> =
        inner.components().filter(|c| !matches!(c, Component::RootDir | Component::CurDir)).collect();
    for (i, c) in parts.iter().enumerate() {
        let Component::Normal(name) = c else {
            return Err(Error::Usage(format!(
                "'{}': '..' is not allowed in a path inside the container",
                inner.display()
            )));
        };
        let next = cur.join(name);
        if !next.exists() && next.symlink_metadata().is_err() {
            if i + 1 == parts.len() && file {
                std::fs::write(&next, b"").map_err(|e| Error::io("cannot create", &next, e))?;
            } else {
                std::fs::create_dir(&next).map_err(|e| Error::io("cannot create", &next, e))?;
            }
        }
        // Resolve as the kernel will when mounting: on the host, following symlinks.
        let real = std::fs::canonicalize(&next).map_err(|e| Error::io("cannot resolve", &next, e))?;
        if !real.starts_with(&root) {
            return Err(Error::Usage(format!(
                "'{}' resolves to '{}', outside the new root, through a symlink; refusing to mount there",
                inner.display(),
                real.display()
            )));
        }
        cur = real;
    }
    Ok(cur)
}

/// `--bind SRC:DST[:ro]`: bind SRC (a host path) on DST inside `root`.
pub fn bind_volume(root: &Path, src: &Path, dst: &Path, read_only: bool) -> Result<(), Error> {
    let meta = std::fs::metadata(src).map_err(|e| Error::io("--bind source", src, e))?;
    let target = resolve_inside(root, dst, !meta.is_dir())?;
    mount(Some(src), &target, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>).map_err(sys(format!(
        "cannot bind '{}' on '{}'",
        src.display(),
        dst.display()
    )))?;
    if read_only {
        remount_read_only(&target)?;
    }
    Ok(())
}

/// `--device HOST:DST`: a node at DST inside `root` with the host node's type, number
/// and mode (mknod; a bind of the host node where mknod is not allowed). DST's parent is
/// resolved inside the root; an existing DST is refused.
pub fn add_device(root: &Path, host: &Path, dst: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(host).map_err(|e| Error::io("--device", host, e))?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => SFlag::S_IFCHR,
        t if t.is_block_device() => SFlag::S_IFBLK,
        _ => return Err(Error::Usage(format!("--device '{}' is not a device node", host.display()))),
    };
    let (Some(parent), Some(name)) = (dst.parent(), dst.file_name()) else {
        return Err(Error::Usage(format!("--device '{}': not a path for a device node", dst.display())));
    };
    let target = resolve_inside(root, parent, false)?.join(name);
    if target.symlink_metadata().is_ok() {
        return Err(Error::Usage(format!("--device: '{}' already exists in the container", dst.display())));
    }
    let mode = Mode::from_bits_truncate(meta.mode() & 0o777);
    match mknod(&target, kind, mode, meta.rdev()) {
        Ok(()) => std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(meta.mode() & 0o777))
            .map_err(|e| Error::io("cannot chmod", &target, e)),
        Err(Errno::EPERM) => {
            std::fs::write(&target, b"").map_err(|e| Error::io("cannot create", &target, e))?;
            mount(Some(host), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(sys(format!(
                "cannot bind '{}' on '{}'",
                host.display(),
                dst.display()
            )))
        }
        Err(e) => Err(sys(format!("cannot create device '{}'", dst.display()))(e)),
    }
}

/// Mask runc's default paths and make its read-only paths read-only, in `root` (after
/// /proc, /dev and /sys are mounted there). `/dev/null` must really be the 1:3
/// character device, or a masked file could be replaced by something readable.
pub fn mask_defaults(root: &Path) -> Result<(), Error> {
    let null = inside(root, "/dev/null");
    let null = if null.exists() { null } else { PathBuf::from("/dev/null") };
    let m = std::fs::metadata(&null).map_err(|e| Error::io("cannot stat", &null, e))?;
    if !(m.file_type().is_char_device() && m.rdev() == makedev(1, 3)) {
        return Err(Error::Usage(format!(
            "'{}' is not the 1:3 character device; refusing to mask with it",
            null.display()
        )));
    }
    for p in MASKED {
        let target = inside(root, p);
        let Ok(meta) = std::fs::symlink_metadata(&target) else {
            continue;
        };
        if meta.is_dir() {
            mount(
                Some("tmpfs"),
                &target,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                Some("size=0"),
            )
            .map_err(sys(format!("cannot mask '{p}'")))?;
        } else {
            mount(Some(&null), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                .map_err(sys(format!("cannot mask '{p}'")))?;
        }
    }
    for p in READ_ONLY {
        let target = inside(root, p);
        if target.exists() {
            remount_read_only(&target)?;
        }
    }
    Ok(())
}
