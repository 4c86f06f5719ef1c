//! System calls nix does not wrap (or not in the form needed), named after the syscall.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

fn cstr(s: &OsStr) -> Result<CString, Errno> {
    CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL)
}

fn owned(fd: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = Errno::result(fd)?;
    // SAFETY: the kernel just returned this new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// fsopen(2): a filesystem context for `fstype` (the new mount API).
pub fn fsopen(fstype: &CStr) -> Result<OwnedFd, Errno> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    // SAFETY: a valid C string and flags.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })
}

/// fsconfig(2) with FSCONFIG_SET_STRING: set `key` to `value`.
pub fn fsconfig_set_string(fs: BorrowedFd<'_>, key: &CStr, value: &OsStr) -> Result<(), Errno> {
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    let v = cstr(value)?;
    // SAFETY: valid descriptor and C strings.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_SET_STRING, key.as_ptr(), v.as_ptr(), 0)
    })
    .map(drop)
}

/// fsconfig(2) with FSCONFIG_SET_FLAG: set flag `key`.
pub fn fsconfig_set_flag(fs: BorrowedFd<'_>, key: &CStr) -> Result<(), Errno> {
    const FSCONFIG_SET_FLAG: libc::c_uint = 0;
    // SAFETY: valid descriptor and C string.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })
    .map(drop)
}

/// fsconfig(2) with FSCONFIG_CMD_CREATE: create the superblock.
pub fn fsconfig_create(fs: BorrowedFd<'_>) -> Result<(), Errno> {
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    // SAFETY: valid descriptor; no pointers.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })
    .map(drop)
}

/// fsmount(2): a detached mount of the created superblock.
pub fn fsmount(fs: BorrowedFd<'_>, attr: u64) -> Result<OwnedFd, Errno> {
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    // SAFETY: valid descriptor and flags.
    owned(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, attr) })
}

/// move_mount(2): attach the detached mount `from` at `to`.
pub fn move_mount(from: BorrowedFd<'_>, to: &Path) -> Result<(), Errno> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    let to = cstr(to.as_os_str())?;
    // SAFETY: valid descriptor and C strings.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// open_tree(2) flags.
pub const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `MOUNT_ATTR_*` of fsmount(2) and mount_setattr(2).
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path` relative to
/// `dir` (of the mount `dir` is open on when `path` is empty), with every mount below it
/// when `recursive`.
pub fn clone_tree(dir: BorrowedFd<'_>, path: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    let p = cstr(path.as_os_str())?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    // SAFETY: valid descriptor, C string and flags.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), p.as_ptr(), flags) })
}

/// move_mount(2) from descriptor to descriptor: attach the detached mount `from` on the
/// file or directory `to` is open on (no path is resolved).
pub fn move_mount_onto(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
    // SAFETY: valid descriptors and empty C strings.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// mount_setattr(2) with AT_RECURSIVE on the mount `fd` is open on (a detached tree
/// from [`clone_tree`] included): set `attr_set` on it and every mount below it.
pub fn mount_setattr_fd_recursive(fd: BorrowedFd<'_>, attr_set: u64) -> Result<(), Errno> {
    setattr_recursive(fd, MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 })
}

/// The propagation of the mount `fd` is open on (`MS_PRIVATE`, `MS_SLAVE`, `MS_SHARED`
/// or `MS_UNBINDABLE`), and of every mount below it if `recursive`.
pub fn mount_propagation_fd(fd: BorrowedFd<'_>, propagation: u64, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr { attr_set: 0, attr_clr: 0, propagation, userns_fd: 0 };
    setattr(fd, attr, if recursive { libc::AT_RECURSIVE } else { 0 })
}

fn setattr_recursive(fd: BorrowedFd<'_>, attr: MountAttr) -> Result<(), Errno> {
    setattr(fd, attr, libc::AT_RECURSIVE)
}

fn setattr(fd: BorrowedFd<'_>, attr: MountAttr, recursive: libc::c_int) -> Result<(), Errno> {
    // SAFETY: a valid descriptor, an empty C string and mount_attr of the size passed.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            (recursive | libc::AT_EMPTY_PATH) as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

pub use chainload::openat2::{openat2, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};

/// fsetxattr(2): set extended attribute `name` on an open file.
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &OsStr, value: &[u8]) -> Result<(), Errno> {
    let n = cstr(name)?;
    // SAFETY: valid descriptor, C string and buffer.
    Errno::result(unsafe { libc::fsetxattr(fd.as_raw_fd(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) })
        .map(drop)
}

/// Call `f` with a buffer, growing it while the kernel says it is too small (ERANGE);
/// the bytes it filled.
fn read_grown(initial: usize, mut f: impl FnMut(&mut [u8]) -> libc::ssize_t) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; initial];
    loop {
        match Errno::result(f(&mut buf)) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(Errno::ERANGE) => buf.resize(buf.len() * 4, 0),
            Err(e) => return Err(e),
        }
    }
}

/// A NUL-separated list of names (listxattr's answer), split.
fn names(list: Vec<u8>) -> Vec<Vec<u8>> {
    list.split(|b| *b == 0).filter(|s| !s.is_empty()).map(<[u8]>::to_vec).collect()
}

/// llistxattr(2): the names of the extended attributes of `path` (not following a symlink).
pub fn llistxattr(path: &Path) -> Result<Vec<Vec<u8>>, Errno> {
    let p = cstr(path.as_os_str())?;
    // SAFETY: valid C string and buffer of the given length.
    read_grown(1024, |b| unsafe { libc::llistxattr(p.as_ptr(), b.as_mut_ptr().cast(), b.len()) }).map(names)
}

/// flistxattr(2): the names of the extended attributes of an open file.
pub fn flistxattr(fd: BorrowedFd<'_>) -> Result<Vec<Vec<u8>>, Errno> {
    // SAFETY: valid descriptor and buffer of the given length.
    read_grown(1024, |b| unsafe { libc::flistxattr(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) }).map(names)
}

/// fgetxattr(2): the value of extended attribute `name` of an open file.
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid descriptor, C string and buffer of the given length.
    read_grown(256, |b| unsafe { libc::fgetxattr(fd.as_raw_fd(), n.as_ptr(), b.as_mut_ptr().cast(), b.len()) })
}

/// lgetxattr(2): the value of extended attribute `name` of `path` (not following a symlink).
pub fn lgetxattr(path: &Path, name: &[u8]) -> Result<Vec<u8>, Errno> {
    let p = cstr(path.as_os_str())?;
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid C strings and buffer of the given length.
    read_grown(256, |b| unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), b.as_mut_ptr().cast(), b.len()) })
}

/// lsetxattr(2): set extended attribute `name` on `path` (not following a symlink).
pub fn lsetxattr(path: &Path, name: &[u8], value: &[u8]) -> Result<(), Errno> {
    let p = cstr(path.as_os_str())?;
    let n = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: valid C strings and buffer.
    Errno::result(unsafe { libc::lsetxattr(p.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) }).map(drop)
}

/// `MOUNT_ATTR_RDONLY` of mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}
