//! The error type of the tools that need nothing more specific (`ovlmount`,
//! `nsenter-rs`, `ctr-run`): a usage error, a file, a system call, the final
//! confinement, the exec itself, or a step that failed with a status of its own, with
//! the exit status convention attached.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::confine::ConfineError;
use crate::exec::ExecError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Bad options or arguments, or input the tool refuses.
    #[error("{0}")]
    Usage(String),
    /// A file could not be used.
    #[error("{what} '{}': {}", path.display(), crate::cli::io_reason(source))]
    Io {
        /// What was being done.
        what: String,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {}", errno.desc())]
    Sys {
        /// What was being done.
        what: String,
        /// Why.
        errno: Errno,
    },
    /// The confinement failed.
    #[error(transparent)]
    Confine(#[from] ConfineError),
    /// The program could not be executed.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A step run by the tool failed, and its status is the one to exit with.
    #[error("{message}")]
    Failed {
        /// The status to exit with.
        code: i32,
        /// What happened.
        message: String,
    },
}

impl ToolError {
    /// 126/127 for exec failures, a failed step's own status, else 125.
    pub fn exit_code(&self) -> i32 {
        match self {
            ToolError::Exec(e) => e.exit_code(),
            ToolError::Failed { code, .. } => *code,
            _ => crate::EXIT_TOOL_FAILED,
        }
    }

    /// A file error: `what` was being done to `path`.
    pub fn io(what: impl Into<String>, path: &Path, source: std::io::Error) -> ToolError {
        ToolError::Io { what: what.into(), path: path.to_path_buf(), source }
    }
}

/// For `map_err`: a failed system call, described by `what`.
pub fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> ToolError {
    let what = what.into();
    move |errno| ToolError::Sys { what, errno }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_convention() {
        assert_eq!(ToolError::Usage("x".into()).exit_code(), 125);
        assert_eq!(sys("cannot mount")(Errno::EPERM).exit_code(), 125);
        assert_eq!(sys("cannot mount")(Errno::EPERM).to_string(), "cannot mount: Operation not permitted");
        let e = ToolError::io("cannot read", Path::new("/x"), std::io::Error::from_raw_os_error(2));
        assert_eq!(e.to_string(), "cannot read '/x': No such file or directory");
        let failed = ToolError::Failed { code: 137, message: "it died".into() };
        assert_eq!((failed.exit_code(), failed.to_string()), (137, "it died".to_string()));
    }
}
