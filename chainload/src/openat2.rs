//! openat2(2) (Linux 5.6+): open a path under resolution restrictions, the way every
//! tool opens what a container's tree (or a hostile archive) controls.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// RESOLVE_NO_MAGICLINKS: refuse /proc magic links (`/proc/self/fd/N`, `/proc/PID/root`).
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
/// RESOLVE_NO_SYMLINKS: refuse a path with a symlink anywhere.
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
/// RESOLVE_BENEATH: refuse a path that would leave the directory (absolute, `..`, symlinks).
pub const RESOLVE_BENEATH: u64 = 0x08;
/// RESOLVE_IN_ROOT: resolve as if the directory were `/` (absolute symlinks and `..`
/// stay inside it).
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// openat2(2): open `path` relative to `dir` under the `resolve` restrictions
/// (always close-on-exec).
pub fn openat2(dir: BorrowedFd<'_>, path: &Path, flags: i32, mode: u32, resolve: u64) -> Result<OwnedFd, Errno> {
    let p = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: u64::from(mode), resolve };
    // SAFETY: valid descriptor, C string and open_how of the size passed.
    let fd = Errno::result(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: the kernel just returned this new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
