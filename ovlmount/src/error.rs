//! What can go wrong when stacking, entering, committing or importing layers.

use std::path::PathBuf;

use chainload::confine::ConfineError;
use chainload::error::{Failure, OsError};
use chainload::ids::IdError;

use crate::archive::LimitError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments.
    #[error("{0}")]
    Usage(String),
    /// Something this kernel cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// `enter` was run in the host's mount namespace.
    #[error(
        "refusing to run in the initial mount namespace: the mounts would stay on the host; \
         run it in a mount namespace of its own, e.g. under 'unshare-rs -m'"
    )]
    InitialMountNamespace,
    /// `--sysctl` of a namespace this process shares with the host.
    #[error("refusing sysctl {key}: this process is in the host's {namespace} namespace, so it would change the host")]
    HostSysctl {
        /// The key.
        key: String,
        /// `net`, `ipc`, `uts`.
        namespace: &'static str,
    },
    /// /proc is not there to read.
    #[error("cannot read {0} (is proc mounted?)")]
    NoProc(String),
    /// A path inside the new root (a mount target, a device node) that cannot be used.
    #[error("{0}")]
    InContainer(String),
    /// The container's `/dev/null` is not the null device, so it cannot mask paths.
    #[error("'/dev/null' is not the 1:3 character device; refusing to mask with it")]
    NotDevNull,
    /// `--user` names a user or group that cannot be resolved.
    #[error("--user {spec}: {source}")]
    User {
        /// As given.
        spec: String,
        /// Why.
        source: IdError,
    },
    /// `--group-add` names a group that cannot be resolved.
    #[error("--group-add {group}: {source}")]
    GroupAdd {
        /// As given.
        group: String,
        /// Why.
        source: IdError,
    },
    /// A file or directory changed while it was read (a commit of a live upper).
    #[error("'{}' changed while it was read", .0.display())]
    Changed(PathBuf),
    /// A layer entry that would land outside the layer or is not allowed.
    #[error("refusing entry '{}': {why}", entry.display())]
    Refused {
        /// The entry's path in the archive.
        entry: PathBuf,
        /// Why.
        why: String,
    },
    /// An archive beyond the limits set for it.
    #[error("refusing {what} '{}': {limit}", file.display())]
    Limit {
        /// "layer", "image archive".
        what: &'static str,
        /// The archive.
        file: PathBuf,
        /// Which limit.
        limit: LimitError,
    },
    /// A layer that is not a readable tar.
    #[error("'{}' is not a valid layer (truncated or corrupt tar): {source}", file.display())]
    CorruptLayer {
        /// The layer.
        file: PathBuf,
        /// What the tar reader said.
        source: std::io::Error,
    },
    /// The final confinement failed.
    #[error(transparent)]
    Confine(#[from] ConfineError),
    /// A report could not be encoded.
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// The exit status: 126/127 when the program could not be executed, else 125.
impl Failure for Error {}
