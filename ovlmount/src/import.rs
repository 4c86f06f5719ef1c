//! `ovlmount import`: an OCI layer tar (plain or gzip, detected) into a directory that
//! overlayfs can use as a layer: `.wh.NAME` becomes a whiteout (a 0/0 character device),
//! `.wh..wh..opq` marks its directory opaque (`trusted.overlay.opaque=y`; in a user
//! namespace, where trusted.* is not the namespace's to write, `user.overlay.opaque=y`,
//! for an overlay mounted `-o userxattr`).
//!
//! Hostile archives are refused, naming the entry: an absolute path, a `..` component,
//! an entry that would be written through a symlink (every parent is opened with
//! openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS and everything is created with *at
//! calls relative to it, so nothing outside DIR can be reached), a hard link whose target
//! is outside DIR, a whiteout of `.` or `..`, a truncated archive, headers or a size
//! beyond the bounds of [`crate::archive`] (a gzip bomb stops at `--max-size`). On
//! refusal, and when the disk is full, DIR is removed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{makedev, Mode, SFlag};

use crate::{sys, Error};
use chainload::error::FromIo;

/// How an import went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    /// Entries written.
    pub entries: u64,
    /// Whiteouts made.
    pub whiteouts: u64,
    /// Directories marked opaque.
    pub opaque: u64,
}

/// For `map_err`: a system call on a layer entry failed.
fn entry_failed(entry: &Path, what: &str) -> impl FnOnce(Errno) -> chainload::error::OsError {
    chainload::error::sys(format!("entry '{}': {what}", entry.display()))
}

fn refuse(entry: &Path, why: &str) -> Error {
    Error::Refused { entry: entry.to_path_buf(), why: why.to_string() }
}

/// A tar path made safe: relative, no `..`, `./` stripped. `None` for the archive root.
fn clean(entry: &Path) -> Result<Option<PathBuf>, Error> {
    if entry.as_os_str().as_bytes().starts_with(b"/") {
        return Err(refuse(entry, "absolute path"));
    }
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err(refuse(entry, "'..' component")),
            Component::RootDir | Component::Prefix(_) => return Err(refuse(entry, "absolute path")),
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

/// Open (creating missing directories) `rel` below `root`, refusing symlinks anywhere.
fn open_dir_beneath(root: BorrowedFd<'_>, rel: &Path, entry: &Path) -> Result<OwnedFd, Error> {
    let mut cur = nix::unistd::dup(root).map_err(|e| Error::from(chainload::error::sys("dup")(e)))?;
    for c in rel.components() {
        let Component::Normal(name) = c else {
            return Err(refuse(entry, "unexpected path component"));
        };
        let flags = libc::O_DIRECTORY | libc::O_PATH | libc::O_NOFOLLOW;
        let resolve = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;
        let next = match sys::openat2(cur.as_fd(), Path::new(name), flags, 0, resolve) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                nix::sys::stat::mkdirat(cur.as_fd(), name, Mode::from_bits_truncate(0o755)).map_err(|e| {
                    Error::from(chainload::error::sys(format!("entry '{}': cannot create directory", entry.display()))(
                        e,
                    ))
                })?;
                sys::openat2(cur.as_fd(), Path::new(name), flags, 0, resolve).map_err(|e| {
                    Error::from(chainload::error::sys(format!("entry '{}': cannot open directory", entry.display()))(e))
                })?
            }
            Err(Errno::ELOOP | Errno::EXDEV | Errno::ENOTDIR) => {
                let is_link = nix::sys::stat::fstatat(cur.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK);
                let why = if is_link {
                    format!("it would be written through the symlink '{}'", name.to_string_lossy())
                } else {
                    format!("'{}' on its path is not a directory", name.to_string_lossy())
                };
                return Err(refuse(entry, &why));
            }
            Err(e) => {
                return Err(Error::from(chainload::error::sys(format!(
                    "entry '{}': cannot open its directory",
                    entry.display()
                ))(e)))
            }
        };
        cur = next;
    }
    Ok(cur)
}

/// Remove whatever is at `name` in `dir` (not a directory with contents).
fn remove_existing(dir: BorrowedFd<'_>, name: &OsStr) {
    let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}

fn setxattrs(fd: BorrowedFd<'_>, entry: &Path, xattrs: &[(OsString, Vec<u8>)]) -> Result<(), Error> {
    for (k, v) in xattrs {
        sys::fsetxattr(fd, k, v).map_err(|e| {
            Error::from(chainload::error::sys(format!(
                "entry '{}': cannot set xattr {}",
                entry.display(),
                k.to_string_lossy()
            ))(e))
        })?;
    }
    Ok(())
}

/// The PAX `SCHILY.xattr.*` attributes of an entry (overlayfs's own are dropped: only
/// `.wh.` entries may make whiteouts and opaque directories).
fn xattrs_of<R: Read>(e: &mut tar::Entry<'_, R>) -> io::Result<Vec<(OsString, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = e.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                if !crate::commit::is_overlay_xattr(name) {
                    out.push((OsStr::from_bytes(name).to_os_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

struct DirMeta {
    rel: PathBuf,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Import `file` into `dir`, which must not exist or be empty, reading at most
/// `max_size` bytes of tar. On failure `dir` is removed.
pub fn import(file: &Path, dir: &Path, max_size: u64, progress: bool) -> Result<Imported, Error> {
    if dir.exists() {
        let mut rd = std::fs::read_dir(dir).map_err(|e| Error::io("target", dir, e))?;
        if rd.next().is_some() {
            return Err(Error::Usage(format!(
                "'{}' is not empty; import needs a new or empty directory",
                dir.display()
            )));
        }
    }
    let (archive, budget) =
        crate::archive::open(file, max_size).map_err(|e| Error::io("cannot open layer", file, e))?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    let mut shown = chainload::progress::Progress::new(format!("importing {}", file.display()), progress);
    // (A plain tar's size is what will be read; a gzipped one's is not.)
    let plain = std::fs::metadata(file).ok().filter(|_| !crate::archive::is_gzip(file)).map(|m| m.len());
    shown.totals(plain, None);
    let result = import_into(archive, &budget, file, dir, &mut shown);
    if let (Ok(done), Some(all)) = (&result, plain) {
        // (The archive's end-of-archive blocks are not read: it is all done.)
        shown.set(all, done.entries);
    }
    shown.finish();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn import_into(
    mut archive: tar::Archive<Box<dyn Read>>,
    budget: &crate::archive::Budget,
    file: &Path,
    dir: &Path,
    shown: &mut chainload::progress::Progress,
) -> Result<Imported, Error> {
    let root_file = File::open(dir).map_err(|e| Error::io("cannot open", dir, e))?;
    let root = OwnedFd::from(root_file);
    let mut stats = Imported::default();
    let mut dirs: Vec<DirMeta> = Vec::new();
    let opaque = if crate::hostns::in_user_namespace() { "user.overlay.opaque" } else { "trusted.overlay.opaque" };
    let corrupt = |e: io::Error| match crate::archive::limit_error(&e) {
        Some(limit) => Error::Limit { what: "layer", file: file.to_path_buf(), limit: limit.clone() },
        None => Error::CorruptLayer { file: file.to_path_buf(), source: e },
    };
    for entry in archive.entries().map_err(corrupt)? {
        let mut e = entry.map_err(corrupt)?;
        budget.data();
        import_entry(&mut e, &root, OsStr::new(opaque), &mut stats, &mut dirs, &corrupt)?;
        budget.headers();
        shown.set(budget.read(), stats.entries);
    }
    // Directory modes, owners and times last (deepest first): writing into a directory
    // changes its mtime, and a read-only mode would stop the writes.
    dirs.sort_by(|a, b| b.rel.cmp(&a.rel));
    for d in dirs {
        let fd = open_dir_beneath(root.as_fd(), &d.rel, &d.rel)?;
        let real = open_real_dir(&fd, &d.rel)?;
        finish_file(real.as_fd(), &d.rel, d.mode, d.uid, d.gid, d.mtime, &[])?;
    }
    Ok(stats)
}

/// Where an entry goes: its directory (open for real use), its name there, and its
/// path in the archive (for messages) and below the layer's root.
struct Place<'a> {
    root: &'a OwnedFd,
    raw: PathBuf,
    rel: PathBuf,
    name: OsString,
    dir: OwnedFd,
}

impl Place<'_> {
    fn failed(&self, what: &str) -> impl FnOnce(Errno) -> chainload::error::OsError {
        entry_failed(&self.raw, what)
    }

    /// Remove whatever is at the entry's name (a later layer entry replaces it).
    fn clear(&self) {
        remove_existing(self.dir.as_fd(), &self.name);
    }
}

/// The owner, mode, time and xattrs an entry's header gives it.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

/// One entry of the layer, written below `root`.
fn import_entry<R: Read>(
    e: &mut tar::Entry<'_, R>,
    root: &OwnedFd,
    opaque: &OsStr,
    stats: &mut Imported,
    dirs: &mut Vec<DirMeta>,
    corrupt: &dyn Fn(io::Error) -> Error,
) -> Result<(), Error> {
    let raw = PathBuf::from(OsStr::from_bytes(&e.path_bytes()));
    let Some(rel) = clean(&raw)? else { return Ok(()) };
    let name = rel.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let parent = open_dir_beneath(root.as_fd(), &parent_rel, &raw)?;
    let dir = open_real_dir(&parent, &raw)?;
    let at = Place { root, raw, rel, name, dir };
    let nb = at.name.as_bytes();
    if nb == b".wh..wh..opq" {
        sys::fsetxattr(at.dir.as_fd(), opaque, b"y").map_err(|e| {
            let what = match e {
                Errno::EOPNOTSUPP if opaque.as_bytes().starts_with(b"user.") => {
                    "cannot mark the directory opaque (this filesystem has no user.* extended attributes, which \
                     the layers of an overlay in a user namespace need)"
                }
                _ => "cannot mark the directory opaque",
            };
            at.failed(what)(e)
        })?;
        stats.opaque += 1;
        return Ok(());
    }
    if let Some(hidden) = nb.strip_prefix(b".wh.") {
        whiteout(&at, hidden)?;
        stats.whiteouts += 1;
        return Ok(());
    }
    let h = e.header().clone();
    let meta = Meta {
        mode: h.mode().map_err(corrupt)? & 0o7777,
        uid: h.uid().map_err(corrupt)? as u32,
        gid: h.gid().map_err(corrupt)? as u32,
        mtime: h.mtime().map_err(corrupt)? as i64,
        xattrs: xattrs_of(e).map_err(corrupt)?,
    };
    match h.entry_type() {
        tar::EntryType::Directory => {
            directory(&at, &meta)?;
            let Meta { mode, uid, gid, mtime, .. } = meta;
            dirs.push(DirMeta { rel: at.rel.clone(), mode, uid, gid, mtime });
        }
        tar::EntryType::Regular | tar::EntryType::Continuous => regular(&at, &meta, e, corrupt)?,
        tar::EntryType::Symlink => {
            let target = e.link_name_bytes().ok_or_else(|| refuse(&at.raw, "symlink without a target"))?;
            symlink(&at, &meta, OsStr::from_bytes(&target))?;
        }
        tar::EntryType::Link => {
            let target = e.link_name_bytes().ok_or_else(|| refuse(&at.raw, "hard link without a target"))?;
            hard_link(&at, Path::new(OsStr::from_bytes(&target)))?;
        }
        kind @ (tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo) => {
            let (t, rdev) = match kind {
                tar::EntryType::Char | tar::EntryType::Block => {
                    let maj = h.device_major().map_err(corrupt)?.unwrap_or(0);
                    let min = h.device_minor().map_err(corrupt)?.unwrap_or(0);
                    let t = if kind == tar::EntryType::Char { SFlag::S_IFCHR } else { SFlag::S_IFBLK };
                    (t, makedev(u64::from(maj), u64::from(min)))
                }
                _ => (SFlag::S_IFIFO, 0),
            };
            node(&at, &meta, t, rdev)?;
        }
        tar::EntryType::XGlobalHeader
        | tar::EntryType::XHeader
        | tar::EntryType::GNULongName
        | tar::EntryType::GNULongLink => {
            return Ok(());
        }
        other => return Err(refuse(&at.raw, &format!("unsupported entry type {other:?}"))),
    }
    stats.entries += 1;
    Ok(())
}

/// `.wh.NAME`: NAME is hidden (overlayfs: a 0:0 character device in its place).
fn whiteout(at: &Place<'_>, hidden: &[u8]) -> Result<(), Error> {
    if hidden.is_empty() || hidden == b"." || hidden == b".." {
        return Err(refuse(&at.raw, "a whiteout of '.' or '..'"));
    }
    let hidden = OsStr::from_bytes(hidden);
    remove_existing(at.dir.as_fd(), hidden);
    nix::sys::stat::mknodat(at.dir.as_fd(), hidden, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(at.failed("cannot make a whiteout"))?;
    Ok(())
}

/// A directory (kept if one is there already: a later layer only changes its metadata,
/// which is set at the end of the import).
fn directory(at: &Place<'_>, meta: &Meta) -> Result<(), Error> {
    let pfd = at.dir.as_fd();
    match nix::sys::stat::fstatat(pfd, at.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => {}
        found => {
            if found.is_ok() {
                at.clear();
            }
            nix::sys::stat::mkdirat(pfd, at.name.as_os_str(), Mode::from_bits_truncate(0o700))
                .map_err(at.failed("cannot create directory"))?;
        }
    }
    if !meta.xattrs.is_empty() {
        let d = open_dir_beneath(at.root.as_fd(), &at.rel, &at.raw)?;
        let real = open_real_dir(&d, &at.raw)?;
        setxattrs(real.as_fd(), &at.raw, &meta.xattrs)?;
    }
    Ok(())
}

/// A regular file, with the entry's data.
fn regular<R: Read>(
    at: &Place<'_>,
    meta: &Meta,
    e: &mut tar::Entry<'_, R>,
    corrupt: &dyn Fn(io::Error) -> Error,
) -> Result<(), Error> {
    at.clear();
    let fd = nix::fcntl::openat(
        at.dir.as_fd(),
        at.name.as_os_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(at.failed("cannot create file"))?;
    let mut out = File::from(fd);
    crate::archive::copy_entry(e, &mut out).map_err(|err| match err {
        crate::archive::CopyError::Read(err) => corrupt(err),
        crate::archive::CopyError::Write(err) => {
            Error::io(format!("entry '{}': cannot write", at.raw.display()), &fd_path(out.as_fd()), err)
        }
    })?;
    finish_file(out.as_fd(), &at.raw, meta.mode, meta.uid, meta.gid, meta.mtime, &meta.xattrs)
}

/// A symbolic link (its target is kept as it is: it is resolved inside the container).
fn symlink(at: &Place<'_>, meta: &Meta, target: &OsStr) -> Result<(), Error> {
    let pfd = at.dir.as_fd();
    at.clear();
    nix::unistd::symlinkat(target, pfd, at.name.as_os_str()).map_err(at.failed("cannot create symlink"))?;
    nix::unistd::fchownat(
        pfd,
        at.name.as_os_str(),
        Some(meta.uid.into()),
        Some(meta.gid.into()),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(at.failed("cannot chown"))?;
    let t = nix::sys::time::TimeSpec::new(meta.mtime, 0);
    nix::sys::stat::utimensat(pfd, at.name.as_os_str(), &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
        .map_err(at.failed("cannot set times"))?;
    Ok(())
}

/// A hard link to a file already in the layer (never to anything outside it).
fn hard_link(at: &Place<'_>, target_raw: &Path) -> Result<(), Error> {
    let target_rel = clean(target_raw)
        .map_err(|_| refuse(&at.raw, &format!("hard link to '{}', outside the layer", target_raw.display())))?;
    let Some(target_rel) = target_rel else {
        return Err(refuse(&at.raw, "hard link to the layer's root"));
    };
    let tparent = open_dir_beneath(at.root.as_fd(), target_rel.parent().unwrap_or(Path::new("")), &at.raw)?;
    let treal = open_real_dir(&tparent, &at.raw)?;
    let tname = target_rel.file_name().unwrap_or_default();
    at.clear();
    nix::unistd::linkat(treal.as_fd(), tname, at.dir.as_fd(), at.name.as_os_str(), AtFlags::empty()).map_err(|_| {
        refuse(&at.raw, &format!("its hard link target '{}' is not a file in the layer", target_raw.display()))
    })?;
    Ok(())
}

/// A device node or a FIFO.
fn node(at: &Place<'_>, meta: &Meta, kind: SFlag, rdev: u64) -> Result<(), Error> {
    at.clear();
    nix::sys::stat::mknodat(at.dir.as_fd(), at.name.as_os_str(), kind, Mode::from_bits_truncate(0o600), rdev)
        .map_err(at.failed("cannot create device node"))?;
    let fd = nix::fcntl::openat(
        at.dir.as_fd(),
        at.name.as_os_str(),
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(at.failed("cannot open device node"))?;
    let p = fd_path(fd.as_fd());
    nix::unistd::chown(&p, Some(meta.uid.into()), Some(meta.gid.into())).map_err(at.failed("cannot chown"))?;
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(meta.mode))
        .map_err(|e| Error::io(format!("entry '{}': cannot chmod", at.raw.display()), &p, e))?;
    Ok(())
}

/// An O_PATH directory descriptor reopened for real use (fchown, mknodat...).
fn open_real_dir(fd: &OwnedFd, entry: &Path) -> Result<OwnedFd, Error> {
    let p = fd_path(fd.as_fd());
    let f =
        File::open(&p).map_err(|e| Error::io(format!("entry '{}': cannot open directory", entry.display()), &p, e))?;
    Ok(OwnedFd::from(f))
}

fn finish_file(
    fd: BorrowedFd<'_>,
    entry: &Path,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: &[(OsString, Vec<u8>)],
) -> Result<(), Error> {
    let err = |what: &str| entry_failed(entry, what);
    nix::unistd::fchown(fd, Some(uid.into()), Some(gid.into())).map_err(err("cannot chown"))?;
    // After chown: chown clears setuid/setgid bits.
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(err("cannot chmod"))?;
    setxattrs(fd, entry, xattrs)?;
    let t = nix::sys::time::TimeSpec::new(mtime, 0);
    nix::sys::stat::futimens(fd, &t, &t).map_err(err("cannot set times"))?;
    Ok(())
}
