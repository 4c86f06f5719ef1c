//! What can go wrong in `ctr-run`: its own failures (containers, images, state) and
//! those of the libraries and tools it runs, kept with their types.

use std::path::PathBuf;

use chainload::confine::ConfineError;
use chainload::error::{Failure, OsError};
use chainload::ids::IdError;
use ovlmount::archive::LimitError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments.
    #[error("{0}")]
    Usage(String),
    /// No container has that name or id (prefix).
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    /// An id prefix that several containers share.
    #[error("'{key}' matches {count} containers; give more of the id")]
    Ambiguous {
        /// As given.
        key: String,
        /// How many match.
        count: usize,
    },
    /// A container name that another container holds.
    #[error("the name '{0}' is already in use")]
    NameInUse(String),
    /// The command needs the container in another state ("container web is not
    /// running", "... is running; stop it first").
    #[error("{0}")]
    WrongState(String),
    /// A container that did not end when killed.
    #[error("container {0} did not stop within 10 s of SIGKILL")]
    DidNotStop(String),
    /// No image of that name.
    #[error("no such image: {0} (import it with ctr-run image import)")]
    NoSuchImage(String),
    /// An image of that name exists already.
    #[error("image '{0}' already exists (ctr-run image rm {0} first)")]
    ImageExists(String),
    /// An image archive, manifest or config that is not what it must be.
    #[error("{0}")]
    BadImage(String),
    /// A blob, config or layer whose content is not what its digest says.
    #[error("{what} does not match its digest: {expected} expected, {found} found")]
    DigestMismatch {
        /// The blob, config or layer.
        what: String,
        /// The digest it is named by.
        expected: String,
        /// The digest of its content.
        found: String,
    },
    /// An image archive beyond the limits set for it.
    #[error("refusing image archive '{}': {limit}", file.display())]
    Limit {
        /// The archive.
        file: PathBuf,
        /// Which limit.
        limit: LimitError,
    },
    /// A container's state file that cannot be parsed.
    #[error("'{}' is not a container state: {source}", path.display())]
    DamagedState {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
    /// A tool of the chain failed (its first line of error output).
    #[error("{command}: {message}")]
    ToolFailed {
        /// The tool and its arguments.
        command: String,
        /// What it said.
        message: String,
    },
    /// A tool of the chain is not installed.
    #[error(transparent)]
    ToolMissing(#[from] chainload::tools::Missing),
    /// The cgroup library failed (detection, a group name, a limit, a freeze).
    #[error(transparent)]
    Cgroup(#[from] cgctl::Error),
    /// `-u USER[:GROUP]` that cannot be resolved in the container.
    #[error("-u {spec}: {source}")]
    User {
        /// As given.
        spec: String,
        /// Why.
        source: IdError,
    },
    /// A `--group-add` group that cannot be resolved in the container.
    #[error("--group-add {group}: {source}")]
    GroupAdd {
        /// As given.
        group: String,
        /// Why.
        source: IdError,
    },
    /// The container's confinement cannot be spelled out (a capability name).
    #[error(transparent)]
    Confine(#[from] ConfineError),
    /// Something could not be encoded as JSON.
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The container failed before its command ran, and its status is the one to exit
    /// with.
    #[error("{message}")]
    Failed {
        /// The status to exit with.
        code: i32,
        /// What happened.
        message: String,
    },
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
}

impl Failure for Error {
    /// A failed container's own status; else 126/127 when a program could not be
    /// executed, else 125.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Failed { code, .. } => *code,
            _ => chainload::error::exec_status(self),
        }
    }
}
