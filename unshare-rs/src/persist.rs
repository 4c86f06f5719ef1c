//! Persisting a namespace: bind-mount `/proc/PID/ns/X` onto an existing file, so the
//! namespace outlives its last process and can be joined later (`nsenter --net=FILE`).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::namespaces::Namespace;

/// Why a namespace cannot be, or was not, persisted.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The target file is missing or unusable.
    #[error("cannot persist the {ns} namespace on '{path}': {reason}")]
    Target {
        /// The namespace type's long name.
        ns: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The bind mount failed.
    #[error("mount {src} on '{path}' failed: {}", errno.desc())]
    Bind {
        /// `/proc/PID/ns/X`.
        src: String,
        /// The file.
        path: PathBuf,
        /// Why.
        errno: Errno,
    },
}

/// Check before anything is created that `path` can hold a persisted `ns`: it exists, is
/// not a directory, and (for a mount namespace) is not on a shared mount, where the
/// kernel refuses the bind.
pub fn check_target(ns: Namespace, path: &Path) -> Result<(), PersistError> {
    let target = |reason: String| PersistError::Target { ns: ns.long_name(), path: path.to_path_buf(), reason };
    let meta = std::fs::metadata(path).map_err(|e| target(chainload::cli::io_reason(&e)))?;
    if meta.is_dir() {
        return Err(target("is a directory; the target must be a file".into()));
    }
    if ns == Namespace::Mount {
        let m = mountinfo::mount_of(path).map_err(|e| target(chainload::cli::io_reason(&e)))?;
        if m.propagation() == mountinfo::Propagation::Shared {
            return Err(target(format!(
                "it is on the shared mount '{}'; a mount namespace can only be persisted under a private mount \
                 (mount --bind DIR DIR && mount --make-private DIR)",
                m.mount_point.display()
            )));
        }
    }
    Ok(())
}

/// Bind every namespace file of `pid` onto its target. If one fails, those already
/// bound are unmounted again, so nothing is left behind.
pub fn bind_all(pid: i32, targets: &[(Namespace, PathBuf)]) -> Result<(), PersistError> {
    let mut done: Vec<&Path> = Vec::new();
    for (ns, path) in targets {
        let src = format!("/proc/{pid}/ns/{}", ns.created_name());
        if let Err(errno) = mount(Some(src.as_str()), path, None::<&str>, MsFlags::MS_BIND, None::<&str>) {
            for p in done {
                let _ = umount2(p, MntFlags::MNT_DETACH);
            }
            return Err(PersistError::Bind { src, path: path.clone(), errno });
        }
        done.push(path);
    }
    Ok(())
}
