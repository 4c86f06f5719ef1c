//! A helper process forked *before* unshare(2), so that it stays in the original
//! namespaces, and told to act once the parent has unshared. It does what the parent
//! can no longer do from inside its new namespaces: write a multi-range id map (needs
//! privilege over the parent user namespace) or bind-mount namespace files so they are
//! visible on the host (needs the original mount namespace).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::unistd::{fork, ForkResult, Pid};

/// A forked helper waiting for [`Helper::release`]. Dropping it unreleased tells the
/// helper to exit without acting (it reads EOF) and reaps it; in a forked child of the
/// parent, dropping it just closes that child's copies of the pipes.
#[derive(Debug)]
pub struct Helper {
    pid: Pid,
    go: Option<std::fs::File>,
    report: Option<std::fs::File>,
}

/// Why a helper could not be started or failed.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// pipe(2) or fork(2) failed.
    #[error("cannot start a helper process: {}", .0.desc())]
    Spawn(Errno),
    /// The helper reported this failure.
    #[error("{0}")]
    Failed(String),
}

fn pipe() -> Result<(std::fs::File, std::fs::File), Errno> {
    let (r, w): (OwnedFd, OwnedFd) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

impl Helper {
    /// Fork a helper that waits for the go-ahead, then runs `task` and reports its error.
    pub fn spawn<E: std::fmt::Display>(task: impl FnOnce() -> Result<(), E>) -> Result<Helper, HelperError> {
        let (mut go_r, go_w) = pipe().map_err(HelperError::Spawn)?;
        let (report_r, mut report_w) = pipe().map_err(HelperError::Spawn)?;
        // SAFETY: the tools are single-threaded; the child only runs `task` and _exit()s.
        match unsafe { fork() }.map_err(HelperError::Spawn)? {
            ForkResult::Parent { child } => Ok(Helper { pid: child, go: Some(go_w), report: Some(report_r) }),
            ForkResult::Child => {
                drop(go_w);
                drop(report_r);
                let mut byte = [0u8; 1];
                let code = match go_r.read(&mut byte) {
                    Ok(1) => match task() {
                        Ok(()) => 0,
                        Err(e) => {
                            let _ = report_w.write_all(e.to_string().as_bytes());
                            1
                        }
                    },
                    _ => 0, // the parent gave up: do nothing
                };
                // SAFETY: _exit(2) ends the helper without running the parent's teardown.
                unsafe { libc::_exit(code) }
            }
        }
    }

    /// Tell the helper to act, wait for it, and return its error, if any.
    pub fn release(mut self) -> Result<(), HelperError> {
        let sent = self.go.take().map(|mut go| go.write_all(&[1]));
        let mut msg = String::new();
        if let Some(mut report) = self.report.take() {
            let _ = report.read_to_string(&mut msg); // EOF when the helper exits
        }
        let status = chainload::status::wait_child(self.pid).map_err(HelperError::Spawn)?;
        if !msg.is_empty() {
            return Err(HelperError::Failed(msg));
        }
        match (sent, status) {
            (Some(Ok(())), chainload::status::ChildStatus::Exited(0)) => Ok(()),
            (_, st) => Err(HelperError::Failed(format!("helper process ended with status {}", st.shell_code()))),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.go.take().is_some() {
            self.report.take();
            // ECHILD in a forked child of the parent, where the helper is a sibling.
            let _ = chainload::status::wait_child(self.pid);
        }
    }
}
