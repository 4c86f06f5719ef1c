//! Pid files: digits only, no newline (the OCI runtime's form), or a line (the
//! traditional one, unshare-rs's), written atomically ([`crate::replace`]), so a reader
//! never sees half of one.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

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
        let dir = crate::replace::open_parent(path)?;
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

    /// Write `text` into it atomically ([`crate::replace`]).
    fn write_text(&self, text: &str) -> std::io::Result<()> {
        crate::replace::write_at(self.dir.as_fd(), &self.name, text.as_bytes(), 0o644)
    }
}
