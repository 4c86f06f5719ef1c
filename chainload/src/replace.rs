//! Replacing a small file atomically (state files, pid files): the new text goes to a
//! temporary file in the same directory, which then takes the old file's place, so a
//! reader sees the old text or the new one, never half of one.
//!
//! The temporary file is exchanged with the old one (`renameat2(RENAME_EXCHANGE)`), and
//! the old one, now under the temporary name, is unlinked. A plain rename over the old
//! file would do the same for readers, but ext4 treats it as "replace via rename" and
//! allocates the new file's blocks at once (its `auto_da_alloc`, made for files not
//! synced before a crash): the file then costs a block, and freeing it costs a
//! synchronous discard on a disk mounted with `discard`, about 0.13 ms together on this
//! project's development machine, where `/run` is such an ext4. Exchanged, a file that
//! lives shorter than the writeback delay never reaches the disk. These are runtime
//! files that mean nothing after a reboot, so nothing is lost by that.
//!
//! Where there is no old file, or the filesystem cannot exchange, it is a plain rename.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;

/// Write `text` to `path` atomically, a new file created with `mode` (before the umask).
pub fn write(path: &Path, text: &[u8], mode: u32) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let dir = open_parent(path)?;
    write_at(dir.as_fd(), Path::new(name), text, mode)
}

/// The directory `path` is in, opened as a path.
pub fn open_parent(path: &Path) -> std::io::Result<OwnedFd> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok(nix::fcntl::open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?)
}

/// Write `text` to the file `name` of the directory `dir` atomically (see the module).
pub fn write_at(dir: BorrowedFd<'_>, name: &Path, text: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = PathBuf::from(format!(".{}.{}.tmp", name.display(), std::process::id()));
    let fd = nix::fcntl::openat(
        dir,
        &tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )?;
    let placed =
        std::io::Write::write_all(&mut std::fs::File::from(fd), text).and_then(|()| put_in_place(dir, &tmp, name));
    if placed.is_err() {
        let _ = nix::unistd::unlinkat(dir, &tmp, UnlinkatFlags::NoRemoveDir);
    }
    placed
}

/// Put `tmp` in `name`'s place: exchanged with the old file, which is then unlinked, or
/// renamed where there is none (or the filesystem cannot exchange).
fn put_in_place(dir: BorrowedFd<'_>, tmp: &Path, name: &Path) -> std::io::Result<()> {
    match exchange(dir, tmp, name) {
        Ok(()) => {
            // (`tmp` is the old file now.)
            let _ = nix::unistd::unlinkat(dir, tmp, UnlinkatFlags::NoRemoveDir);
            Ok(())
        }
        Err(Errno::ENOENT | Errno::EINVAL | Errno::ENOSYS) => {
            nix::fcntl::renameat(dir, tmp, dir, name).map_err(std::io::Error::from)
        }
        Err(e) => Err(e.into()),
    }
}

/// `renameat2(dir, a, dir, b, RENAME_EXCHANGE)`.
fn exchange(dir: BorrowedFd<'_>, a: &Path, b: &Path) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let fd = dir.as_raw_fd();
    // (The system call itself: the musl that Rust's musl target bundles has no wrapper.)
    // SAFETY: both paths are NUL-terminated strings that outlive the call; `fd` is open.
    let r = unsafe { libc::syscall(libc::SYS_renameat2, fd, a.as_ptr(), fd, b.as_ptr(), libc::RENAME_EXCHANGE) };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("chainload-replace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("state.json");
        write(&f, b"first", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"first");
        write(&f, b"second, longer", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"second, longer");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        assert!(write(Path::new("/nonexistent-chainload-dir/x"), b"x", 0o600).is_err());
    }
}
