//! What every tool error gives, and the two failures every tool shares.
//!
//! Each crate keeps its own typed error enum, saying what went wrong in its own terms;
//! [`Failure`] is what the tools' `main`s need from it: the one-line message (its
//! `Display`) and the exit status (125 unless the error says otherwise: 126/127 for a
//! program that cannot be executed, a step's own status). [`IoError`] and [`SysError`]
//! are the file and system-call failures, built by [`io`] and [`sys`], that every enum
//! wraps instead of repeating them.

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::exec::ExecError;

/// An error a tool can end with.
pub trait Failure: std::error::Error {
    /// The exit status: 125 (the tool itself failed) unless the error knows better.
    fn exit_code(&self) -> i32 {
        crate::EXIT_TOOL_FAILED
    }
}

/// A file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{what} '{}': {}", path.display(), crate::cli::io_reason(source))]
pub struct IoError {
    /// What was being done, e.g. "cannot read".
    pub what: String,
    /// The path.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// A system call failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", errno.desc())]
pub struct SysError {
    /// What was being done, e.g. "cannot mount proc".
    pub what: String,
    /// Why.
    pub errno: Errno,
}

/// A file error: `what` was being done to `path`.
pub fn io(what: impl Into<String>, path: &Path, source: std::io::Error) -> IoError {
    IoError { what: what.into(), path: path.to_path_buf(), source }
}

/// `E::io(what, path, source)` for every error type that wraps [`IoError`].
pub trait FromIo: From<IoError> {
    /// A file error: `what` was being done to `path`.
    fn io(what: impl Into<String>, path: &Path, source: std::io::Error) -> Self {
        io(what, path, source).into()
    }
}

impl<E: From<IoError>> FromIo for E {}

/// For `map_err`: a failed system call, described by `what`.
pub fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> SysError {
    let what = what.into();
    move |errno| SysError { what, errno }
}

impl Failure for IoError {}
impl Failure for SysError {}

impl Failure for ExecError {
    fn exit_code(&self) -> i32 {
        ExecError::exit_code(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_exit_codes_follow_the_convention() {
        let s = sys("cannot mount")(Errno::EPERM);
        assert_eq!((Failure::exit_code(&s), s.to_string()), (125, "cannot mount: Operation not permitted".into()));
        let e = io("cannot read", Path::new("/x"), std::io::Error::from_raw_os_error(2));
        assert_eq!(
            (Failure::exit_code(&e), e.to_string()),
            (125, "cannot read '/x': No such file or directory".into())
        );
        let x = ExecError { program: "p".into(), errno: Errno::ENOENT };
        assert_eq!(Failure::exit_code(&x), 127);
        let x = ExecError { program: "p".into(), errno: Errno::EACCES };
        assert_eq!(Failure::exit_code(&x), 126);
    }
}
