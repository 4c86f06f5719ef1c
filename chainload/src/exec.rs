//! exec(3) with the project's exit status convention: 126 when the program exists but
//! cannot be executed, 127 when it is not found.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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

/// The environment an exec passes on: this process's own, or exactly the one given.
struct Environment<'a> {
    /// The variables given, and the same as `KEY=VALUE` strings for execve(2).
    given: Option<(&'a Vars, Vec<CString>)>,
}

/// A whole environment, as the tools hold one.
type Vars = [(OsString, OsString)];

impl<'a> Environment<'a> {
    fn new(given: Option<&'a Vars>) -> Result<Environment<'a>, Errno> {
        let given = match given {
            None => None,
            Some(vars) => {
                let entries = vars
                    .iter()
                    .map(|(k, v)| {
                        let mut e = k.as_bytes().to_vec();
                        e.push(b'=');
                        e.extend_from_slice(v.as_bytes());
                        CString::new(e).map_err(|_| Errno::EINVAL)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((vars, entries))
            }
        };
        Ok(Environment { given })
    }

    /// A variable of the environment the program will get (PATH and SHELL are looked up
    /// there, as execvp(3) after setting `environ` would).
    fn var(&self, name: &str) -> Option<OsString> {
        match &self.given {
            None => std::env::var_os(name),
            Some((vars, _)) => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        }
    }

    /// execv(2) or execve(2), with SIGPIPE back to its default first.
    ///
    /// Rust's runtime ignores SIGPIPE in every Rust program, and an ignored signal stays
    /// ignored across exec: without this, every program the tools run would get EPIPE
    /// errors instead of the quiet death a closed pipe brings (`yes | head -1` would
    /// print "Broken pipe"). std's `Command` does the same for the children it spawns.
    fn exec(&self, path: &CString, args: &[CString]) -> Errno {
        // SAFETY: SIG_DFL installs no handler.
        let _ = unsafe {
            nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
        };
        let result = match &self.given {
            None => nix::unistd::execv(path, args),
            Some((_, env)) => nix::unistd::execve(path, args, env),
        };
        match result {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

/// execvp(3): search PATH for `argv[0]` and replace this process with it.
///
/// Unlike glibc's execvp, the search stats each candidate first and calls execve(2)
/// only on a file that exists: a failed execve allocates a new address space and copies
/// argv and the environment before it finds out, which costs tens of microseconds for
/// every PATH entry before the right one. Semantics are execvp's: a name with a `/` is
/// run as is; a candidate that cannot be executed (EACCES) is skipped, and reported only
/// if nothing else is found; a file the kernel cannot run (ENOEXEC) is run by `/bin/sh`.
/// Returns only on failure. An empty `argv` runs the user's shell (see [`exec_shell`]).
pub fn execvp(argv: &[OsString]) -> ExecError {
    exec_searching(argv, None)
}

/// [`execvp`] with exactly the environment `env` (execvpe(3)): PATH and `$SHELL` are
/// those of `env`, as for a program that set its environment and then called execvp,
/// without this process's own environment ever being changed.
pub fn execvpe(argv: &[OsString], env: &[(OsString, OsString)]) -> ExecError {
    exec_searching(argv, Some(env))
}

fn exec_searching(argv: &[OsString], env: Option<&[(OsString, OsString)]>) -> ExecError {
    let name = argv.first().map(|p| p.to_string_lossy().into_owned());
    let env = match Environment::new(env) {
        Ok(env) => env,
        Err(errno) => return ExecError { program: name.unwrap_or_else(|| "the shell".into()), errno },
    };
    let Some(program) = argv.first() else {
        return shell(&env);
    };
    let name = program.to_string_lossy().into_owned();
    let fail = |errno| ExecError { program: name.clone(), errno };
    let args: Vec<CString> = match argv.iter().map(|a| cstring(a)).collect() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if program.as_bytes().is_empty() {
        return fail(Errno::ENOENT);
    }
    if program.as_bytes().contains(&b'/') {
        return fail(execv_or_sh(&env, Path::new(program), &args));
    }
    let path = env.var("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    let mut seen_eacces = false;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let candidate = dir.join(program);
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                seen_eacces = true; // a directory of that name: execvp reports EACCES
                continue;
            }
            Err(_) => continue,
        }
        match execv_or_sh(&env, &candidate, &args) {
            Errno::EACCES => seen_eacces = true,
            Errno::ENOENT | Errno::ENOTDIR | Errno::ESTALE | Errno::ENODEV | Errno::ETIMEDOUT => {}
            other => return fail(other),
        }
    }
    fail(if seen_eacces { Errno::EACCES } else { Errno::ENOENT })
}

/// Where [`execvp`] would find `argv[0]` (with this process's PATH), or why it would not:
/// for a check before the exec itself (an OCI runtime's `create` fails for a program
/// that is not there, rather than the `start` after it).
pub fn find_program(argv: &[OsString]) -> Result<PathBuf, ExecError> {
    use nix::unistd::{access, AccessFlags};
    let Some(program) = argv.first() else {
        return Ok(PathBuf::from(std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into())));
    };
    let fail = |errno| ExecError { program: program.to_string_lossy().into_owned(), errno };
    if program.as_bytes().is_empty() {
        return Err(fail(Errno::ENOENT));
    }
    let executable = |p: &Path| match std::fs::metadata(p) {
        Ok(m) if m.is_file() => access(p, AccessFlags::X_OK).map(|()| p.to_path_buf()),
        Ok(_) => Err(Errno::EACCES),
        Err(e) => Err(Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT))),
    };
    if program.as_bytes().contains(&b'/') {
        return executable(Path::new(program)).map_err(fail);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    let mut seen_eacces = false;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        match executable(&dir.join(program)) {
            Ok(found) => return Ok(found),
            Err(Errno::EACCES) => seen_eacces = true,
            Err(_) => {}
        }
    }
    Err(fail(if seen_eacces { Errno::EACCES } else { Errno::ENOENT }))
}

/// Exec `file`; if the kernel does not know its format (ENOEXEC), run it as a shell
/// script with `/bin/sh`, as execvp(3) does.
fn execv_or_sh(env: &Environment<'_>, file: &Path, args: &[CString]) -> Errno {
    let Ok(path) = cstring(file.as_os_str()) else {
        return Errno::EINVAL;
    };
    let errno = env.exec(&path, args);
    if errno != Errno::ENOEXEC {
        return errno;
    }
    let mut sh_args: Vec<CString> = vec![c"/bin/sh".to_owned(), path];
    sh_args.extend(args.iter().skip(1).cloned());
    env.exec(&c"/bin/sh".to_owned(), &sh_args);
    Errno::ENOEXEC
}

/// Run `$SHELL` (else `/bin/sh`) as a login shell (`argv[0]` is `-sh`), as util-linux does
/// when no program is given.
pub fn exec_shell() -> ExecError {
    match Environment::new(None) {
        Ok(env) => shell(&env),
        Err(errno) => ExecError { program: "the shell".into(), errno },
    }
}

fn shell(env: &Environment<'_>) -> ExecError {
    let shell: OsString = env.var("SHELL").filter(|s| !s.is_empty()).unwrap_or_else(|| OsString::from("/bin/sh"));
    let base = std::path::Path::new(&shell).file_name().map(|b| b.as_bytes().to_vec()).unwrap_or_default();
    let mut arg0 = b"-".to_vec();
    arg0.extend_from_slice(&base);
    let name = shell.to_string_lossy().into_owned();
    let errno = match (cstring(&shell), CString::new(arg0)) {
        (Ok(file), Ok(arg0)) => env.exec(&file, &[arg0]),
        _ => Errno::EINVAL,
    };
    ExecError { program: name, errno }
}
