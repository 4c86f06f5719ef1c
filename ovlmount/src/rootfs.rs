//! What goes into a new root before pivot_root: proc, a minimal /dev, a read-only /sys,
//! tmpfs and bind volumes, devices, and the masked and read-only paths runc uses by
//! default.
//!
//! Every place inside the new root is opened from the root's descriptor with
//! openat2(RESOLVE_IN_ROOT), so a symlink in the image resolves as it would inside the
//! container and never leads out of it; every mount is made with the new mount API
//! (fsmount or open_tree, then move_mount onto that descriptor), so no path is resolved
//! twice and nothing the image controls can redirect a mount between the check and
//! the mount.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use chainload::error::{sys, FromIo, OsError, SysError};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstat, fstatat, makedev, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};

use crate::sys::{
    clone_tree, fsconfig_create, fsconfig_set_string, fsmount, fsopen, mount_setattr_fd_recursive, move_mount_onto,
    openat2, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOUNT_ATTR_STRICTATIME,
    RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
};
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

/// What a place inside the root must be when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file (a mount point for a file).
    File,
}

/// The new root, open: the origin of every path inside it.
pub struct NewRoot {
    dir: OwnedFd,
    path: PathBuf,
}

impl NewRoot {
    /// Open the directory that becomes the root.
    pub fn open(path: &Path) -> Result<NewRoot, Error> {
        let dir = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(sys(format!("cannot open the new root '{}'", path.display())))?;
        let path = std::fs::canonicalize(path).map_err(|e| Error::io("new root", path, e))?;
        Ok(NewRoot { dir, path })
    }

    /// `inner` (absolute, as the container will see it), opened `O_PATH` with every
    /// symlink resolved inside the root; `None` when it does not exist.
    pub fn find(&self, inner: &Path) -> Result<Option<OwnedFd>, Error> {
        let rel = relative(inner)?;
        match openat2(self.dir.as_fd(), &rel, libc::O_PATH, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(sys(format!("cannot open '{}' inside the new root", inner.display()))(e).into()),
        }
    }

    /// `inner`, opened as [`NewRoot::find`] does, and created (as `kind`, its missing
    /// parents as directories) when it does not exist.
    pub fn place(&self, inner: &Path, kind: Kind) -> Result<OwnedFd, Error> {
        self.place_following(inner, kind, 0)
    }

    fn place_following(&self, inner: &Path, kind: Kind, links: u32) -> Result<OwnedFd, Error> {
        let fd = match self.find(inner)? {
            Some(fd) => fd,
            None => {
                let (Some(parent), Some(name)) = (inner.parent(), inner.file_name()) else {
                    return Err(Error::InContainer(format!("'{}': not a path inside the container", inner.display())));
                };
                let dir = self.place_following(parent, Kind::Dir, links)?;
                match create_in(&dir, Path::new(name), kind, inner) {
                    // A symlink to a missing place: create that place, inside the root,
                    // as `mkdir -p` in the container would (runc does the same).
                    Err(Error::Os(OsError::Sys(SysError { errno: Errno::EEXIST, .. }))) if links < 40 => {
                        let to = nix::fcntl::readlinkat(&dir, name)
                            .map_err(sys(format!("cannot read the link '{}'", inner.display())))?;
                        let from = self.inner_path_of(&dir)?;
                        let to = lexically_inside(&from.join(to));
                        self.place_following(&to, kind, links + 1).map_err(|e| {
                            Error::InContainer(format!("'{}' is a symlink to '{}': {e}", inner.display(), to.display()))
                        })?
                    }
                    r => r?,
                }
            }
        };
        let st = fstat(&fd).map_err(sys(format!("cannot stat '{}' inside the new root", inner.display())))?;
        let is_dir = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR;
        match (kind, is_dir) {
            (Kind::Dir, false) => {
                Err(Error::InContainer(format!("'{}' in the container is not a directory", inner.display())))
            }
            (Kind::File, true) => {
                Err(Error::InContainer(format!("'{}' in the container is a directory", inner.display())))
            }
            _ => Ok(fd),
        }
    }

    /// Where the directory `dir` (opened inside the root) is, as the container sees it.
    fn inner_path_of(&self, dir: &OwnedFd) -> Result<PathBuf, Error> {
        use std::os::fd::AsRawFd;
        let link = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let real = std::fs::read_link(&link).map_err(|e| Error::io("cannot read", &link, e))?;
        match real.strip_prefix(&self.path) {
            Ok(rel) => Ok(Path::new("/").join(rel)),
            Err(_) => Err(Error::InContainer(format!("'{}' is not inside the new root", real.display()))),
        }
    }
}

/// An absolute path with `.` and `..` resolved by name, never above `/` (as the kernel
/// resolves `..` at a process's root).
fn lexically_inside(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// `inner` without its leading `/`; `..` is refused (it means nothing in a mount
/// destination but an attempt to climb).
fn relative(inner: &Path) -> Result<PathBuf, Error> {
    let mut rel = PathBuf::from(".");
    for c in inner.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => rel.push(n),
            _ => {
                return Err(Error::InContainer(format!(
                    "'{}': '..' is not allowed in a path inside the container",
                    inner.display()
                )))
            }
        }
    }
    Ok(rel)
}

/// Create `name` in the directory `dir` (which nothing but this tool changes yet) and
/// open it without following anything.
fn create_in(dir: &OwnedFd, name: &Path, kind: Kind, shown: &Path) -> Result<OwnedFd, Error> {
    let made = match kind {
        Kind::Dir => mkdirat(dir, name, Mode::from_bits_truncate(0o755)),
        Kind::File => nix::fcntl::openat(
            dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match made {
        Ok(()) => {}
        // (There, but not found from the root: a symlink to something missing; the
        // caller follows it.)
        Err(e) => return Err(sys(format!("cannot create '{}' inside the new root", shown.display()))(e).into()),
    }
    Ok(openat2(dir.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
        .map_err(sys(format!("cannot open '{}' inside the new root", shown.display())))?)
}

/// A new, detached mount of a filesystem of type `fstype` with `options`, and the
/// `MOUNT_ATTR_*` flags `attr`.
fn new_mount(fstype: &CStr, options: &[(&CStr, &str)], attr: u64) -> Result<OwnedFd, Errno> {
    let fs = fsopen(fstype)?;
    let source = fstype.to_str().unwrap_or("none");
    fsconfig_set_string(fs.as_fd(), c"source", source.as_ref())?;
    for (k, v) in options {
        fsconfig_set_string(fs.as_fd(), k, v.as_ref())?;
    }
    fsconfig_create(fs.as_fd())?;
    fsmount(fs.as_fd(), attr)
}

/// Attach the detached mount `mnt` on the place `at` is open on.
fn attach(mnt: &OwnedFd, at: &OwnedFd, shown: &str) -> Result<(), Error> {
    move_mount_onto(mnt.as_fd(), at.as_fd()).map_err(sys(format!("cannot mount on '{shown}'")))?;
    Ok(())
}

/// A detached copy of the tree at host path `src` (with its submounts), read-only with
/// all of them when `read_only` (before it is attached anywhere: no window where it is
/// writable).
fn copy_tree(src: &Path, read_only: bool) -> Result<OwnedFd, Error> {
    let cwd = nix::fcntl::AT_FDCWD;
    let tree = clone_tree(cwd, src, true).map_err(sys(format!("cannot bind '{}'", src.display())))?;
    if read_only {
        make_tree_read_only(&tree, &src.display().to_string())?;
    }
    Ok(tree)
}

/// For an `rshared` bind: a detached clone of the tree at host path `src`, in the peer
/// group of the shared mount `src` is on (taken while this namespace's copy of it still
/// is one). Refused where that mount is not shared: the bind would then reach nothing
/// on the host (docker refuses the same way).
pub fn clone_shared(src: &Path) -> Result<OwnedFd, Error> {
    let m = mountinfo::mount_of(src).map_err(|e| Error::io("--bind source", src, e))?;
    // (Shared, or shared and a slave: `shared:N` either way.)
    if !m.optional.iter().any(|o| o.starts_with("shared:")) {
        return Err(Error::Usage(format!(
            "--bind '{}': rshared needs its source on a shared mount, and '{}' is not one here (make it \
             one with mount --make-shared; a new user namespace only ever sees slaves of the host's mounts)",
            src.display(),
            m.mount_point.display()
        )));
    }
    Ok(clone_tree(nix::fcntl::AT_FDCWD, src, true).map_err(sys(format!("cannot bind '{}'", src.display())))?)
}

/// A detached tree private, all of it (a clone of a slave mount is a slave itself).
fn make_private(tree: &OwnedFd, shown: &str) -> Result<(), Error> {
    crate::sys::mount_propagation_fd(tree.as_fd(), libc::MS_PRIVATE, true)
        .map_err(|e| sys(format!("cannot make the bind of '{shown}' private"))(e).into())
}

fn make_tree_read_only(tree: &OwnedFd, shown: &str) -> Result<(), Error> {
    mount_setattr_fd_recursive(tree.as_fd(), MOUNT_ATTR_RDONLY).map_err(|e| match e {
        Errno::ENOSYS => Error::Unsupported(format!(
            "cannot make '{shown}' read-only with all its submounts: mount_setattr(2) needs Linux 5.12 or later"
        )),
        e => sys(format!("cannot make '{shown}' read-only"))(e).into(),
    })
}

/// Mount a new proc on `/proc` (nosuid, nodev, noexec).
pub fn mount_proc(root: &NewRoot) -> Result<(), Error> {
    let at = root.place(Path::new("/proc"), Kind::Dir)?;
    let m = new_mount(c"proc", &[], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
        .map_err(sys("cannot mount proc on '/proc'"))?;
    attach(&m, &at, "/proc")
}

/// Mount sysfs read-only on `/sys`; where the kernel refuses a new sysfs (a network
/// namespace we do not own), bind the host's read-only instead, as runc does.
pub fn mount_sys(root: &NewRoot) -> Result<(), Error> {
    let at = root.place(Path::new("/sys"), Kind::Dir)?;
    let attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    let m = match new_mount(c"sysfs", &[], attr) {
        Ok(m) => m,
        Err(Errno::EPERM) => copy_tree(Path::new("/sys"), true)?,
        Err(e) => return Err(sys("cannot mount sysfs on '/sys'")(e).into()),
    };
    attach(&m, &at, "/sys")
}

/// `--rootfs DIR`: DIR itself becomes the root, bound (recursively) onto itself so it
/// is a mount that pivot_root can take.
pub fn bind_rootfs(dir: &Path, slave: bool) -> Result<(), Error> {
    let tree = copy_tree(dir, false)?;
    if !slave {
        make_private(&tree, &dir.display().to_string())?;
    }
    let at = nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY, Mode::empty())
        .map_err(sys(format!("cannot open '{}'", dir.display())))?;
    attach(&tree, &at, &dir.display().to_string())
}

/// `--cgroupfs`: the cgroup filesystems on `/sys/fs/cgroup`, read-only, showing the
/// process's own groups as their roots: cgroup2 alone where the host has only it there;
/// else (v1, hybrid) a tmpfs holding each hierarchy the host mounts below
/// `/sys/fs/cgroup`, in the directory of the host's name, and the host's symlinks
/// (`cpu -> cpu,cpuacct`): runc's layout. Where the process's group in a hierarchy is
/// its root (inside a cgroup namespace of its own) that hierarchy is a new mount; where
/// it is not (no cgroup namespace), it is a bind of the process's own group's directory,
/// as runc binds it: the host's tree above the container's group never shows.
pub fn mount_cgroupfs(root: &NewRoot) -> Result<(), Error> {
    let base = Path::new("/sys/fs/cgroup");
    let mounts = mountinfo::read_self().map_err(|e| Error::io("cannot read", Path::new("/proc/self/mountinfo"), e))?;
    let own_file = Path::new("/proc/self/cgroup");
    let own = chainload::proccgroup::parse(
        &std::fs::read_to_string(own_file).map_err(|e| Error::io("cannot read", own_file, e))?,
    );
    let cgroups: Vec<&mountinfo::Mount> = mounts
        .iter()
        .filter(|m| matches!(m.fstype.as_str(), "cgroup" | "cgroup2") && m.mount_point.starts_with(base))
        .collect();
    let at = root.place(base, Kind::Dir)?;
    if let [only] = cgroups.as_slice() {
        if only.fstype == "cgroup2" && only.mount_point == base {
            let m = hierarchy(only, &own)?;
            return attach(&m, &at, "/sys/fs/cgroup");
        }
    }
    if cgroups.is_empty() {
        return Err(Error::Unsupported("--cgroupfs: no cgroup filesystem is mounted on this host".into()));
    }
    let tmp = new_mount(c"tmpfs", &[(c"mode", "755")], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)
        .map_err(sys("cannot mount a tmpfs on '/sys/fs/cgroup'"))?;
    attach(&tmp, &at, "/sys/fs/cgroup")?;
    for m in cgroups.iter().filter(|m| m.mount_point != base) {
        let mnt = hierarchy(m, &own)?;
        let dir = root.place(&m.mount_point, Kind::Dir)?;
        attach(&mnt, &dir, &m.mount_point.display().to_string())?;
    }
    // The host's symlinks between them (co-mounted controllers).
    for e in std::fs::read_dir(base).map_err(|e| Error::io("cannot read", base, e))?.flatten() {
        if let Ok(to) = std::fs::read_link(e.path()) {
            let dir = root.place(base, Kind::Dir)?;
            let _ = nix::unistd::symlinkat(&to, &dir, e.file_name().as_os_str());
        }
    }
    mount_setattr_fd_recursive(tmp.as_fd(), MOUNT_ATTR_RDONLY)
        .map_err(sys("cannot make '/sys/fs/cgroup' read-only"))?;
    Ok(())
}

/// The process's group in the hierarchy mounted as `m` (`None`: it is in none).
fn own_group<'a>(m: &mountinfo::Mount, own: &'a [chainload::proccgroup::Membership]) -> Option<&'a Path> {
    own.iter()
        .find(|(ctrls, _)| match m.fstype.as_str() {
            "cgroup2" => ctrls.is_empty(),
            _ => !ctrls.is_empty() && ctrls.iter().all(|c| m.has_super_option(c)),
        })
        .map(|(_, p)| p.as_path())
}

/// One hierarchy for the container, read-only: a new mount where the process's group is
/// the root it shows, else (or where a new one is not allowed: v1 in a user namespace)
/// a bind of that group's directory.
fn hierarchy(m: &mountinfo::Mount, own: &[chainload::proccgroup::Membership]) -> Result<OwnedFd, Error> {
    let shown = m.mount_point.display().to_string();
    let ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    let bind = |group: &Path| -> Result<OwnedFd, Error> {
        let below = group.strip_prefix(&m.root).map_err(|_| {
            Error::InContainer(format!(
                "--cgroupfs: this process's group '{}' is not below the root '{}' of {shown}",
                group.display(),
                m.root.display()
            ))
        })?;
        let dir = m.mount_point.join(below);
        let tree =
            clone_tree(nix::fcntl::AT_FDCWD, &dir, false).map_err(sys(format!("cannot bind '{}'", dir.display())))?;
        mount_setattr_fd_recursive(tree.as_fd(), ro).map_err(sys(format!("cannot make '{shown}' read-only")))?;
        Ok(tree)
    };
    match own_group(m, own) {
        Some(group) if group != Path::new("/") => bind(group),
        group => match new_hierarchy_mount(m, ro) {
            Err(Error::Os(OsError::Sys(SysError { errno: Errno::EPERM, .. }))) if group.is_some() => {
                bind(group.unwrap_or(Path::new("/")))
            }
            made => made,
        },
    }
}

/// A new mount of the hierarchy `m` (its name and controllers), with `attrs`.
fn new_hierarchy_mount(m: &mountinfo::Mount, attrs: u64) -> Result<OwnedFd, Error> {
    let shown = m.mount_point.display().to_string();
    let fs = fsopen(if m.fstype == "cgroup2" { c"cgroup2" } else { c"cgroup" })
        .map_err(sys(format!("cannot mount {shown}")))?;
    if m.fstype == "cgroup" {
        for opt in m.super_options.split(',') {
            let set = match opt.split_once('=') {
                Some(("name", v)) => fsconfig_set_string(fs.as_fd(), c"name", v.as_ref()),
                Some(_) => continue, // release_agent=... and the like: not the container's
                None if matches!(opt, "rw" | "ro" | "") => continue,
                None => match std::ffi::CString::new(opt) {
                    Ok(flag) => crate::sys::fsconfig_set_flag(fs.as_fd(), &flag),
                    Err(_) => continue,
                },
            };
            set.map_err(sys(format!("cannot mount {shown} (option '{opt}')")))?;
        }
    }
    fsconfig_create(fs.as_fd()).map_err(sys(format!("cannot mount {shown}")))?;
    fsmount(fs.as_fd(), attrs).map_err(|e| sys(format!("cannot mount {shown}"))(e).into())
}

/// `--tmpfs DIR[:OPTIONS]`: a tmpfs on DIR inside the root (see [`crate::tmpfs`]).
pub fn mount_tmpfs(root: &NewRoot, t: &crate::tmpfs::Tmpfs) -> Result<(), Error> {
    let shown = t.dst.display().to_string();
    // Without `mode=`, the root of the tmpfs takes the mode of the directory it covers
    // where that exists (runc's way: an image's 0755 /run stays 0755), else 1777.
    let covered = match root.find(&t.dst)? {
        Some(fd) => Some(fstat(&fd).map_err(sys(format!("cannot stat '{shown}'")))?.st_mode & 0o7777),
        None => None,
    };
    let at = root.place(&t.dst, Kind::Dir)?;
    let options = t.fs_options(covered)?;
    let options: Vec<(&CStr, &str)> = options.iter().map(|(k, v)| (k.as_c_str(), v.as_str())).collect();
    // Read-only only after the copy.
    let m = new_mount(c"tmpfs", &options, t.attrs & !MOUNT_ATTR_RDONLY)
        .map_err(sys(format!("cannot mount a tmpfs on '{shown}'")))?;
    if t.copy_up {
        crate::tmpfs::copy_up(at.as_fd(), m.as_fd(), &t.dst)?;
    }
    if t.attrs & MOUNT_ATTR_RDONLY != 0 {
        mount_setattr_fd_recursive(m.as_fd(), MOUNT_ATTR_RDONLY)
            .map_err(sys(format!("cannot make '{shown}' read-only")))?;
    }
    attach(&m, &at, &shown)
}

/// mount_setattr(2) `MOUNT_ATTR_RDONLY` with AT_RECURSIVE on the mount at `p`; a kernel
/// without it (before 5.12) is an error, never a top-only read-only mount.
pub fn make_read_only_recursively(p: &Path) -> Result<(), Error> {
    let mnt = nix::fcntl::open(p, OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW, Mode::empty())
        .map_err(sys(format!("cannot open '{}'", p.display())))?;
    make_tree_read_only(&mnt, &p.display().to_string())
}

const DEVICES: [(&str, u64, u64); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// A filesystem mounted below /dev: its directory, type, options and mount flags.
type DevMount<'a> = (&'a str, &'a CStr, &'a [(&'a CStr, &'a str)], u64);

/// A minimal /dev: a tmpfs with null, zero, full, random, urandom, tty (made with
/// mknod, or bound from the host where mknod is not allowed), a new devpts instance
/// with `ptmx`, `shm` (`shm_size` bytes), `mqueue`, and the `fd`, `stdin`, `stdout`,
/// `stderr` links. Built through the new tmpfs's own descriptor: nothing in it is
/// reached by a path.
pub fn mount_dev(root: &NewRoot, shm_size: u64) -> Result<(), Error> {
    let at = root.place(Path::new("/dev"), Kind::Dir)?;
    let dev = new_mount(c"tmpfs", &[(c"mode", "755"), (c"size", "65536k")], MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME)
        .map_err(sys("cannot mount a tmpfs on '/dev'"))?;
    attach(&dev, &at, "/dev")?;
    for (name, major, minor) in DEVICES {
        node_in(&dev, Path::new(name), SFlag::S_IFCHR, 0o666, makedev(major, minor), &Path::new("/dev").join(name))?;
    }
    let shm_size = shm_size.to_string();
    let mounts: [DevMount<'_>; 3] = [
        ("pts", c"devpts", &[(c"ptmxmode", "0666"), (c"mode", "0620")], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC),
        (
            "shm",
            c"tmpfs",
            &[(c"mode", "1777"), (c"size", &shm_size)],
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
        ),
        ("mqueue", c"mqueue", &[], MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC),
    ];
    for (name, fstype, options, attr) in mounts {
        let shown = format!("/dev/{name}");
        let at = create_in(&dev, Path::new(name), Kind::Dir, Path::new(&shown))?;
        let m = new_mount(fstype, options, attr).map_err(|e| {
            // (mqueue belongs to the IPC namespace: one of the host's is not a user
            // namespace's to mount.)
            let hint = if name == "mqueue" && e == Errno::EPERM {
                " (in a user namespace, /dev/mqueue needs an IPC namespace of its own: unshare-rs -i)"
            } else {
                ""
            };
            sys(format!("cannot mount {fstype:?} on '{shown}'{hint}"))(e)
        })?;
        attach(&m, &at, &shown)?;
    }
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, to) in links {
        nix::unistd::symlinkat(to, &dev, name).map_err(sys(format!("cannot create link '/dev/{name}'")))?;
    }
    Ok(())
}

/// A device node `name` in the directory `dir`: mknod with `mode` exactly (not the
/// umask's), or, where mknod is not allowed (a user namespace), a bind of the host node
/// `host`.
fn node_in(dir: &OwnedFd, name: &Path, kind: SFlag, mode: u32, rdev: u64, host: &Path) -> Result<(), Error> {
    let shown = host.display();
    match mknod_with_mode(dir, name, kind, mode, rdev) {
        Ok(()) => Ok(()),
        Err(Errno::EPERM) => {
            let at = create_in(dir, name, Kind::File, host)?;
            let m = clone_tree(nix::fcntl::AT_FDCWD, host, false)
                .map_err(sys(format!("cannot bind the host's '{shown}'")))?;
            attach(&m, &at, &shown.to_string())
        }
        Err(e) => Err(sys(format!("cannot create device '{shown}'"))(e).into()),
    }
}

/// `--bind SRC:DST[:ro]`: bind SRC (a host path, with its submounts) on DST inside the
/// root; `:ro` makes it and every mount below it read-only before it is attached.
///
/// `shared` is the tree [`clone_shared`] made of SRC for an `rshared` bind (else SRC is
/// cloned here).
pub fn bind_volume(root: &NewRoot, b: &crate::enter::Bind, shared: Option<OwnedFd>) -> Result<(), Error> {
    use crate::enter::BindPropagation;
    let (src, dst) = (&b.src, &b.dst);
    let shown = src.display().to_string();
    let meta = std::fs::metadata(src).map_err(|e| Error::io("--bind source", src, e))?;
    let at = root.place(dst, if meta.is_dir() { Kind::Dir } else { Kind::File })?;
    let tree = match shared {
        Some(tree) => {
            if b.read_only {
                make_tree_read_only(&tree, &shown)?;
            }
            tree
        }
        None => copy_tree(src, b.read_only)?,
    };
    let propagation = match b.propagation {
        BindPropagation::Private => Some((libc::MS_PRIVATE, true)),
        BindPropagation::Slave | BindPropagation::Shared => None,
        BindPropagation::Unbindable => Some((libc::MS_UNBINDABLE, false)),
        BindPropagation::RecursiveUnbindable => Some((libc::MS_UNBINDABLE, true)),
    };
    if let Some((flag, recursive)) = propagation {
        crate::sys::mount_propagation_fd(tree.as_fd(), flag, recursive)
            .map_err(sys(format!("cannot set the propagation of the bind of '{shown}'")))?;
    }
    if b.attrs != 0 {
        mount_setattr_fd_recursive(tree.as_fd(), b.attrs)
            .map_err(sys(format!("cannot set the options of the bind of '{}'", src.display())))?;
    }
    attach(&tree, &at, &dst.display().to_string())
}

/// `--device HOST:DST`: a node at DST inside the root with the host node's type, number
/// and mode (mknod; a bind of the host node where mknod is not allowed). DST's parent is
/// resolved inside the root; an existing DST is refused.
pub fn add_device(root: &NewRoot, host: &Path, dst: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(host).map_err(|e| Error::io("--device", host, e))?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => SFlag::S_IFCHR,
        t if t.is_block_device() => SFlag::S_IFBLK,
        _ => return Err(Error::Usage(format!("--device '{}' is not a device node", host.display()))),
    };
    let (Some(parent), Some(name)) = (dst.parent(), dst.file_name()) else {
        return Err(Error::Usage(format!("--device '{}': not a path for a device node", dst.display())));
    };
    let dir = root.place(parent, Kind::Dir)?;
    if fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
        return Err(Error::InContainer(format!("--device: '{}' already exists in the container", dst.display())));
    }
    node_in(&dir, Path::new(name), kind, meta.mode() & 0o777, meta.rdev(), host).map_err(|e| match e {
        Error::Os(OsError::Sys(SysError { errno, .. })) => {
            sys(format!("cannot create device '{}'", dst.display()))(errno).into()
        }
        e => e,
    })
}

/// `--device-node`: a device node made by number, as an OCI runtime makes
/// `linux.devices` (no host node needed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Where, inside the root.
    pub dst: PathBuf,
    /// `c` (or `u`), `b`, or `p` (a FIFO).
    pub kind: char,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl std::str::FromStr for DeviceNode {
    type Err = String;

    /// `DST:TYPE:MAJOR:MINOR[:MODE[:UID:GID]]` (MODE in octal, default 0666).
    fn from_str(s: &str) -> Result<DeviceNode, String> {
        let bad = || format!("expected DST:TYPE:MAJOR:MINOR[:MODE[:UID:GID]] (TYPE c, b, u or p), got '{s}'");
        let f: Vec<&str> = s.split(':').collect();
        if !(f.len() == 4 || f.len() == 5 || f.len() == 7) || !f[0].starts_with('/') {
            return Err(bad());
        }
        let kind = match f[1] {
            "c" | "u" | "b" | "p" => f[1].chars().next().unwrap_or('c'),
            _ => return Err(bad()),
        };
        let num = |t: &str| t.parse::<u64>().map_err(|_| bad());
        let id = |t: &str| t.parse::<u32>().map_err(|_| bad());
        let mode = match f.get(4) {
            Some(m) => u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(bad)?,
            None => 0o666,
        };
        let (uid, gid) = if f.len() == 7 { (id(f[5])?, id(f[6])?) } else { (0, 0) };
        Ok(DeviceNode { dst: PathBuf::from(f[0]), kind, major: num(f[2])?, minor: num(f[3])?, mode, uid, gid })
    }
}

/// `--device-node`: make the node inside the root (its parent resolved inside the root),
/// with its mode and owner. Where a node of the same type and number is there already
/// (the default /dev has it), that is the node, as runc takes it.
pub fn make_device(root: &NewRoot, d: &DeviceNode) -> Result<(), Error> {
    let shown = d.dst.display();
    let (Some(parent), Some(name)) = (d.dst.parent(), d.dst.file_name()) else {
        return Err(Error::Usage(format!("--device-node '{shown}': not a path for a device node")));
    };
    let kind = match d.kind {
        'b' => SFlag::S_IFBLK,
        'p' => SFlag::S_IFIFO,
        _ => SFlag::S_IFCHR,
    };
    let rdev = if d.kind == 'p' { 0 } else { makedev(d.major, d.minor) };
    let dir = root.place(parent, Kind::Dir)?;
    if let Ok(st) = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        let same = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == kind && st.st_rdev == rdev;
        if same {
            return Ok(());
        }
        return Err(Error::InContainer(format!("--device-node: '{shown}' already exists in the container")));
    }
    mknod_with_mode(&dir, Path::new(name), kind, d.mode, rdev)
        .map_err(sys(format!("cannot create device '{shown}' ({}:{})", d.major, d.minor)))?;
    nix::unistd::fchownat(
        &dir,
        name,
        Some(nix::unistd::Uid::from_raw(d.uid)),
        Some(nix::unistd::Gid::from_raw(d.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(sys(format!("cannot chown device '{shown}'")))?;
    Ok(())
}

/// mknod, then chmod (the umask would have cut the mode).
fn mknod_with_mode(dir: &OwnedFd, name: &Path, kind: SFlag, mode: u32, rdev: u64) -> Result<(), Errno> {
    mknodat(dir, name, kind, Mode::from_bits_truncate(mode), rdev)?;
    fchmodat(dir, name, Mode::from_bits_truncate(mode), FchmodatFlags::NoFollowSymlink).or_else(|e| match e {
        // (Linux refuses AT_SYMLINK_NOFOLLOW for fchmodat before 6.6; the node was
        // just made by us, not a link.)
        Errno::EOPNOTSUPP | Errno::EINVAL => {
            fchmodat(dir, name, Mode::from_bits_truncate(mode), FchmodatFlags::FollowSymlink)
        }
        e => Err(e),
    })
}

/// Mask runc's default paths and make its read-only paths read-only (after /proc, /dev
/// and /sys are mounted).
pub fn mask_defaults(root: &NewRoot) -> Result<(), Error> {
    mask(root, &MASKED, &READ_ONLY)
}

/// Mask `masked` (unreadable: `/dev/null` on a file, an empty read-only tmpfs on a
/// directory) and make `read_only` read-only with all their submounts; a path that is
/// not there is left alone, as runc does. `/dev/null` must really be the 1:3 character
/// device, or a masked file could be replaced by something readable.
pub fn mask<S: AsRef<str>>(root: &NewRoot, masked: &[S], read_only: &[S]) -> Result<(), Error> {
    if masked.is_empty() && read_only.is_empty() {
        return Ok(());
    }
    let null = match root.find(Path::new("/dev/null"))? {
        Some(fd) => fd,
        None => nix::fcntl::open("/dev/null", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(sys("cannot open '/dev/null'"))?,
    };
    let st = fstat(&null).map_err(sys("cannot stat '/dev/null'"))?;
    let is_char = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFCHR;
    if !(is_char && st.st_rdev == makedev(1, 3)) {
        return Err(Error::NotDevNull);
    }
    for p in masked {
        let p = p.as_ref();
        let Some(at) = root.find(Path::new(p))? else {
            continue;
        };
        let st = fstat(&at).map_err(sys(format!("cannot stat '{p}'")))?;
        let m = if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
            let attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
            new_mount(c"tmpfs", &[(c"size", "0")], attr).map_err(sys(format!("cannot mask '{p}'")))?
        } else {
            clone_tree(null.as_fd(), Path::new(""), false).map_err(sys(format!("cannot mask '{p}'")))?
        };
        attach(&m, &at, p)?;
    }
    for p in read_only {
        let p = p.as_ref();
        let Some(at) = root.find(Path::new(p))? else {
            continue;
        };
        let tree = clone_tree(at.as_fd(), Path::new(""), true).map_err(sys(format!("cannot bind '{p}' on itself")))?;
        make_tree_read_only(&tree, p)?;
        attach(&tree, &at, p)?;
    }
    Ok(())
}
