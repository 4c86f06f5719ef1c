//! Where things are: the state root, each container's directory, images, name claims,
//! and the sibling tools of the chain.

use std::path::{Path, PathBuf};

use crate::Error;
use chainload::error::FromIo;

/// The state directory (`--root`, default `/run/ctr-run`).
#[derive(Debug, Clone)]
pub struct Root {
    /// Its path (absolute).
    pub dir: PathBuf,
}

/// The files of one container, under `ROOT/ID/`.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    /// `ROOT/ID`.
    pub dir: PathBuf,
}

impl ContainerDir {
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// The container's own layer (`upper`).
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    /// overlayfs's work directory.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    /// The mount point of the new root (inside the container's mount namespace only).
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    /// The host pid of the container's PID 1, written by unshare-rs.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }
    /// The copy of the container's seccomp profile file.
    pub fn seccomp_profile(&self) -> PathBuf {
        self.dir.join("seccomp.json")
    }
    /// The socket `ovlmount enter --console-socket` sends the pty's master to (`-t`).
    pub fn console_socket(&self) -> PathBuf {
        self.dir.join("console.sock")
    }
    /// stdout and stderr of a detached container.
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
    /// The log, opened for appending (made 0600 if missing).
    pub fn open_log(&self) -> Result<std::fs::File, Error> {
        let log = self.log();
        private_file().create(true).append(true).open(&log).map_err(|e| Error::io("cannot open the log", &log, e))
    }
    /// Present once `stop`, `kill` or `rm -f` ended the container on purpose: its restart
    /// policy does not start it again.
    pub fn stop_requested(&self) -> PathBuf {
        self.dir.join("stop-requested")
    }
    /// The chain that runs the container (for `restart`).
    pub fn chain(&self) -> PathBuf {
        self.dir.join("chain.json")
    }
}

/// `mkdir -p -m 0700`: every directory it creates is 0700 from the start.
pub fn private_dir_all(d: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(d).map_err(|e| Error::io("cannot create", d, e))
}

/// `mkdir -m 0700` of one directory, which must not exist yet.
pub fn private_dir(d: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(d).map_err(|e| Error::io("cannot create", d, e))
}

/// Open options for a private file (created 0600): state and logs.
pub fn private_file() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.mode(0o600);
    o
}

impl Root {
    /// The root at `dir` (made absolute; not created).
    pub fn new(dir: &Path) -> Result<Root, Error> {
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io("cannot read the current directory", Path::new("."), e))?
                .join(dir)
        };
        Ok(Root { dir })
    }

    /// Create the root's directories if missing, mode 0700 from the start (as runc
    /// keeps its root): other users must not read a container's environment or reach
    /// its layers. A root left wider by an older version is narrowed.
    pub fn ensure(&self) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt;
        for d in [self.dir.clone(), self.names(), self.images(), self.spares()] {
            private_dir_all(&d)?;
        }
        let meta = std::fs::metadata(&self.dir).map_err(|e| Error::io("cannot stat", &self.dir, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("cannot make private", &self.dir, e))?;
        }
        Ok(())
    }

    /// `ROOT/spare`: emptied container directories kept for reuse ([`crate::spares`]).
    pub fn spares(&self) -> PathBuf {
        self.dir.join("spare")
    }

    /// `ROOT/names`: one file per claimed name, holding the container id ([`crate::names`]).
    pub fn names(&self) -> PathBuf {
        self.dir.join("names")
    }

    /// `ROOT/images`.
    pub fn images(&self) -> PathBuf {
        self.dir.join("images")
    }

    /// The directory of container `id`.
    pub fn container(&self, id: &str) -> ContainerDir {
        ContainerDir { dir: self.dir.join(id) }
    }
}

/// The tools of the chain: next to ctr-run's own executable first, then on PATH.
pub use chainload::tools::Tools;
