//! What can go wrong when joining a process's namespaces.

use std::path::PathBuf;

use chainload::confine::ConfineError;
use chainload::error::{Failure, OsError};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments.
    #[error("{0}")]
    Usage(String),
    /// The target process does not exist.
    #[error("target process {0} does not exist")]
    NoSuchTarget(i32),
    /// The target process ended before it was joined.
    #[error("target process {0} exited")]
    TargetExited(i32),
    /// A namespace file of another type than the option names.
    #[error("'{}' is a {actual} namespace, not a {wanted} namespace", path.display())]
    WrongNamespace {
        /// The file.
        path: PathBuf,
        /// What it is.
        actual: &'static str,
        /// What the option asked for.
        wanted: &'static str,
    },
    /// A file that is no namespace at all.
    #[error("'{}' is not a namespace file", .0.display())]
    NotNamespace(PathBuf),
    /// `--net-socket FD` names a descriptor that is not a socket.
    #[error("--net-socket: descriptor {fd} of process {pid} is not a socket")]
    NotSocket {
        /// The target.
        pid: i32,
        /// The descriptor.
        fd: i32,
    },
    /// `--join-cgroup`: the cgroup setup could not be read.
    #[error("--join-cgroup: {0}")]
    Cgroups(#[from] cgctl::Error),
    /// `--join-cgroup`: a group of the target is in a hierarchy not mounted here.
    #[error("--join-cgroup: cannot join the target's group '{}' in {hierarchy}: it is not mounted here", group.display())]
    Unjoinable {
        /// The target's group.
        group: PathBuf,
        /// Which hierarchy it is in.
        hierarchy: String,
    },
    /// The final confinement failed.
    #[error(transparent)]
    Confine(#[from] ConfineError),
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// The exit status: 126/127 when the program could not be executed, else 125.
impl Failure for Error {}
