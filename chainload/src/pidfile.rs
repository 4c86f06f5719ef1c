//! Pid files: digits only, no newline (the OCI runtime's form), or a line (the
//! traditional one, unshare-rs's), written to a temporary file renamed into place, so a
//! reader never sees half of one.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// Write `pid` to `path` atomically, digits only.
pub fn write(path: &Path, pid: i32) -> std::io::Result<()> {
    PidFile::open(path)?.write(pid)
}

/// Write `pid` to `path` atomically, as a line.
pub fn write_line(path: &Path, pid: i32) -> std::io::Result<()> {
    PidFile::open(path)?.write_text(&format!("{pid}\n"))
}

/// A pid file whose directory is held open: it can be written after the process has
/// left the mount namespace where its path means something (nsenter-rs, once it has
/// joined a container's).
#[derive(Debug)]
pub struct PidFile {
    dir: OwnedFd,
    name: PathBuf,
    path: PathBuf,
}

impl PidFile {
    /// Open the directory `path` will be written in.
    pub fn open(path: &Path) -> std::io::Result<PidFile> {
        let name = path
            .file_name()
            .map(PathBuf::from)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = nix::fcntl::open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        Ok(PidFile { dir, name, path: path.to_path_buf() })
    }

    /// The path it was opened for.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `pid` into it, digits only.
    pub fn write(&self, pid: i32) -> std::io::Result<()> {
        self.write_text(&pid.to_string())
    }

    /// Write `text` into it (a temporary file in the same directory, renamed over it).
    fn write_text(&self, text: &str) -> std::io::Result<()> {
        let tmp = PathBuf::from(format!(".{}.{}.tmp", self.name.display(), std::process::id()));
        let fd = nix::fcntl::openat(
            self.dir.as_fd(),
            &tmp,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )?;
        let written = std::io::Write::write_all(&mut std::fs::File::from(fd), text.as_bytes());
        let renamed = written.and_then(|()| {
            nix::fcntl::renameat(self.dir.as_fd(), &tmp, self.dir.as_fd(), &self.name).map_err(std::io::Error::from)
        });
        if renamed.is_err() {
            let _ = nix::unistd::unlinkat(self.dir.as_fd(), &tmp, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        renamed
    }
}
