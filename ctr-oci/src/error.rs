//! What can go wrong in `ctr-oci`.

use chainload::error::{Failure, OsError};

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments.
    #[error("{0}")]
    Usage(String),
    /// No container of that id (runc's wording, which clients match).
    #[error("container does not exist")]
    NotFound(String),
    /// A container of that id exists already.
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The container is not running (runc's wording).
    #[error("container not running")]
    NotRunning,
    /// The call needs the container in another state.
    #[error("{0}")]
    WrongState(String),
    /// `config.json` asks for what the chain cannot do (the field named).
    #[error("config.json: {field}: {why}")]
    Unsupported {
        /// The field, as the spec names it (`linux.namespaces[2].path`).
        field: String,
        /// What is not supported.
        why: String,
    },
    /// `config.json` cannot be read or is not a valid runtime spec.
    #[error("{0}")]
    Bundle(String),
    /// A tool of the chain is not installed.
    #[error(transparent)]
    ToolMissing(#[from] chainload::tools::Missing),
    /// A hook of `config.json` failed (its point, path and why).
    #[error("{0}")]
    Hook(String),
    /// The chain failed to set the container up (its first error line).
    #[error("{0}")]
    Chain(String),
    /// The cgroup library failed.
    #[error(transparent)]
    Cgroup(#[from] cgctl::Error),
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
    /// A JSON document could not be read or written.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The exit status: the project's (125; 126/127 when a program could not be executed):
/// runc's callers look for a status other than 0, which this is.
impl Failure for Error {}
