//! exec(3) with the project's exit status convention: 126 when the program exists but
//! cannot be executed, 127 when it is not found.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;

use crate::{EXIT_CANNOT_EXECUTE, EXIT_NOT_FOUND};

/// Why a program could not be executed.
#[derive(Debug, thiserror::Error)]
#[error("failed to execute '{program}': {}", errno.desc())]
pub struct ExecError {
    /// The program as the user named it.
    pub program: String,
    /// What execvp(3) said.
    pub errno: Errno,
}

impl ExecError {
    /// 127 when the program is not found, 126 when it cannot be executed.
    pub fn exit_code(&self) -> i32 {
        match self.errno {
            Errno::ENOENT => EXIT_NOT_FOUND,
            _ => EXIT_CANNOT_EXECUTE,
        }
    }
}

fn cstring(s: &OsStr) -> Result<CString, Errno> {
    CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL)
}

/// execvp(3): search PATH for `argv[0]` and replace this process with it.
///
/// Returns only on failure. An empty `argv` runs the user's shell (see [`exec_shell`]).
pub fn execvp(argv: &[OsString]) -> ExecError {
    let Some(program) = argv.first() else {
        return exec_shell();
    };
    let name = program.to_string_lossy().into_owned();
    let args: Result<Vec<CString>, Errno> = argv.iter().map(|a| cstring(a)).collect();
    let errno = match (cstring(program), args) {
        (Ok(file), Ok(args)) => match nix::unistd::execvp(&file, &args) {
            Err(e) => e,
            Ok(never) => match never {},
        },
        _ => Errno::EINVAL,
    };
    ExecError {
        program: name,
        errno,
    }
}

/// Run `$SHELL` (else `/bin/sh`) as a login shell (`argv[0]` is `-sh`), as util-linux does
/// when no program is given.
pub fn exec_shell() -> ExecError {
    let shell: OsString = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| OsString::from("/bin/sh"));
    let base = std::path::Path::new(&shell)
        .file_name()
        .map(|b| b.as_bytes().to_vec())
        .unwrap_or_default();
    let mut arg0 = b"-".to_vec();
    arg0.extend_from_slice(&base);
    let name = shell.to_string_lossy().into_owned();
    let errno = match (cstring(&shell), CString::new(arg0)) {
        (Ok(file), Ok(arg0)) => match nix::unistd::execv(&file, &[arg0]) {
            Err(e) => e,
            Ok(never) => match never {},
        },
        _ => Errno::EINVAL,
    };
    ExecError {
        program: name,
        errno,
    }
}
