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
pub trait Failure: std::error::Error + Sized + 'static {
    /// The exit status: 126/127 where the error is (or was caused by) a program that
    /// could not be executed, else 125 (the tool itself failed). An error with a status
    /// of its own (a container's) says so by overriding this.
    fn exit_code(&self) -> i32 {
        exec_status(self)
    }
}

/// 126/127 where `err` or one of its causes is an [`ExecError`], else 125.
pub fn exec_status(err: &(dyn std::error::Error + 'static)) -> i32 {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(exec) = e.downcast_ref::<ExecError>() {
            return exec.exit_code();
        }
        cause = e.source();
    }
    crate::EXIT_TOOL_FAILED
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

/// The failures every tool shares, which each tool's error wraps in one variant: a
/// file, a system call, a program that cannot be executed.
#[derive(Debug, thiserror::Error)]
pub enum OsError {
    /// A file could not be used.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A system call failed.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// A program could not be executed (the cause [`Failure::exit_code`] finds).
    #[error("{0}")]
    Exec(#[from] ExecError),
}

/// A file error: `what` was being done to `path`.
pub fn io(what: impl Into<String>, path: &Path, source: std::io::Error) -> OsError {
    IoError { what: what.into(), path: path.to_path_buf(), source }.into()
}

/// `E::io(what, path, source)` for every error type that wraps [`OsError`].
pub trait FromIo: From<OsError> {
    /// A file error: `what` was being done to `path`.
    fn io(what: impl Into<String>, path: &Path, source: std::io::Error) -> Self {
        io(what, path, source).into()
    }
}

impl<E: From<OsError>> FromIo for E {}

/// For `map_err`: a failed system call, described by `what`.
pub fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> OsError {
    let what = what.into();
    move |errno| SysError { what, errno }.into()
}

impl Failure for IoError {}
impl Failure for SysError {}
impl Failure for OsError {}

impl Failure for ExecError {}

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
        // A tool's own error that wraps the exec failure, two levels down.
        #[derive(Debug, thiserror::Error)]
        enum Inner {
            #[error(transparent)]
            Os(#[from] OsError),
        }
        #[derive(Debug, thiserror::Error)]
        enum Outer {
            #[error(transparent)]
            Inner(#[from] Inner),
            #[error(transparent)]
            Os(#[from] OsError),
        }
        impl Failure for Outer {}
        let exec = OsError::from(ExecError { program: "p".into(), errno: Errno::ENOENT });
        let nested = Outer::from(Inner::from(exec));
        assert_eq!(
            (nested.exit_code(), nested.to_string()),
            (127, "failed to execute 'p': No such file or directory".into())
        );
        assert_eq!(Outer::from(sys("x")(Errno::EIO)).exit_code(), 125);
    }
}
