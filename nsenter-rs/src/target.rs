//! The target process, held by a pidfd so that a recycled pid is never joined by
//! mistake: everything read from `/proc/PID` is read while the pidfd shows the process
//! alive, and checked again afterwards.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use nix::errno::Errno;

use crate::Error;
use chainload::error::sys;

/// A running process we are about to join.
#[derive(Debug)]
pub struct Target {
    /// Its pid in our PID namespace.
    pub pid: i32,
    pidfd: OwnedFd,
}

/// pidfd_send_signal(2) with signal 0: whether the process still exists (a zombie counts
/// as gone: its namespaces are already released).
fn pidfd_alive(fd: BorrowedFd<'_>) -> bool {
    chainload::signals::pidfd_send_signal(fd, None).is_ok()
}

impl Target {
    /// Hold process `pid`.
    pub fn open(pid: i32) -> Result<Target, Error> {
        if pid <= 0 {
            return Err(Error::Usage(format!("invalid target pid {pid}")));
        }
        let pidfd = chainload::signals::pidfd_open(nix::unistd::Pid::from_raw(pid)).map_err(|e| match e {
            Errno::ESRCH => Error::NoSuchTarget(pid),
            e => sys(format!("cannot open target process {pid}"))(e).into(),
        })?;
        let t = Target { pid, pidfd };
        t.check_alive()?;
        Ok(t)
    }

    /// An error unless the process is still alive.
    pub fn check_alive(&self) -> Result<(), Error> {
        let running = chainload::procstat::read(self.pid).is_some_and(|s| !s.ended());
        if pidfd_alive(self.pidfd.as_fd()) && running {
            Ok(())
        } else {
            Err(Error::TargetExited(self.pid))
        }
    }

    /// The pidfd, for setns(2).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// `/proc/PID/<rel>`.
    pub fn proc_path(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{rel}", self.pid))
    }
}
