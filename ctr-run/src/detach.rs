//! `ctr-run run -d`: the container is handed to a supervisor of its own (a double fork
//! into a new session, so it is nobody's child); the caller waits until the container
//! runs or failed to start.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use chainload::error::{sys, Failure, FromIo};

use crate::chain::Chain;
use crate::paths::{Root, Tools};
use crate::state::{Proc, State};
use crate::store;
use crate::supervise::{supervise, RunEnd};
use crate::Error;

/// `-d`: hand the container to a supervisor in its own session (double fork, so it is
/// nobody's child), wait until the container runs (or failed to start), return its id.
pub fn detach(root: &Root, tools: &Tools, state: State, chain: Chain) -> Result<RunEnd, Error> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::from(sys("pipe failed")(e)))?;
    // SAFETY: ctr-run is single-threaded.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::from(sys("fork failed")(e)))? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(w);
            let _ = chainload::status::wait_child(child);
            let mut line = String::new();
            let _ = BufReader::new(std::fs::File::from(r)).read_line(&mut line);
            match line.trim() {
                "running" => Ok(RunEnd::Detached(state.id.clone())),
                other if other.starts_with("error ") => Err(Error::Failed {
                    code: chainload::EXIT_TOOL_FAILED,
                    message: other["error ".len()..].to_string(),
                }),
                other => {
                    // `failed CODE LINE` (never ran), `exited CODE` (ran and ended).
                    let mut words = other.splitn(3, ' ');
                    let (_, code, why) = (words.next(), words.next(), words.next().unwrap_or("").trim());
                    let code = code.and_then(|c| c.parse().ok()).unwrap_or(chainload::EXIT_TOOL_FAILED);
                    let message = if code == chainload::EXIT_TOOL_FAILED && other.starts_with("failed ") {
                        // (Refused before anything ran: the tool's own line; nothing is left.)
                        if why.is_empty() {
                            format!("container {} could not be started", state.name)
                        } else {
                            why.to_string()
                        }
                    } else if !why.is_empty() {
                        format!(
                            "container {} failed to start (status {code}): {why}; see ctr-run logs {}",
                            state.name, state.name
                        )
                    } else {
                        format!(
                            "container {} failed to start (status {code}); see ctr-run logs {}",
                            state.name, state.name
                        )
                    };
                    Err(Error::Failed { code, message })
                }
            }
        }
        nix::unistd::ForkResult::Child => {
            drop(r);
            let _ = nix::unistd::setsid();
            // SAFETY: still single-threaded.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {}
                _ => std::process::exit(0),
            }
            let mut state = state;
            state.supervisor = Proc::of(std::process::id() as i32);
            let dir = root.container(&state.id);
            // The supervisor keeps nothing of the caller's: its stdio goes to /dev/null and
            // the log (or a caller reading our output would wait for it forever).
            if let Err(e) = redirect_stdio(&dir) {
                // Nothing has started: take the container back (unless it ran before and
                // is restarted) and tell the caller.
                if state.started.is_none() {
                    let _ = store::remove_dir(root, &state);
                }
                let _ = writeln!(std::fs::File::from(w), "error {e}");
                std::process::exit(chainload::EXIT_TOOL_FAILED);
            }
            let _ = state.save(&dir.state());
            let code = match supervise(root, tools, state, &chain, Some(std::fs::File::from(w))) {
                Ok(RunEnd::Exited { code, .. }) => code,
                Ok(_) => chainload::EXIT_TOOL_FAILED,
                Err(e) => {
                    // Into the container's log: the supervisor has no terminal.
                    eprintln!("ctr-run: supervisor: {e}");
                    e.exit_code()
                }
            };
            std::process::exit(code)
        }
    }
}

/// Point fds 0, 1, 2 at /dev/null and the log of `dir`; an error if either cannot be opened (a
/// detached container must never write to a terminal that is gone).
fn redirect_stdio(dir: &crate::paths::ContainerDir) -> Result<(), Error> {
    use std::os::fd::AsFd;
    let null = std::fs::File::open("/dev/null").map_err(|e| Error::io("cannot open", Path::new("/dev/null"), e))?;
    let out = dir.open_log()?;
    use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout};
    dup2_stdin(null.as_fd()).map_err(sys("dup2 onto fd 0 failed"))?;
    dup2_stdout(out.as_fd()).map_err(sys("dup2 onto fd 1 failed"))?;
    dup2_stderr(out.as_fd()).map_err(sys("dup2 onto fd 2 failed"))?;
    Ok(())
}
