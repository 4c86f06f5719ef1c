//! Waiting for a child and passing its status on, the way a shell would see it.

use nix::errno::Errno;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    /// It called exit(2) with this status.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(Signal),
}

impl ChildStatus {
    /// The status a shell reports: the exit code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ChildStatus::Exited(code) => code,
            ChildStatus::Signaled(sig) => 128 + sig as i32,
        }
    }

    fn from_wait(ws: WaitStatus) -> Option<ChildStatus> {
        match ws {
            WaitStatus::Exited(_, code) => Some(ChildStatus::Exited(code)),
            WaitStatus::Signaled(_, sig, _) => Some(ChildStatus::Signaled(sig)),
            _ => None,
        }
    }
}

/// waitpid(2) until `pid` has ended (exited or killed); stops and continues are skipped.
pub fn wait_child(pid: Pid) -> Result<ChildStatus, Errno> {
    loop {
        match waitpid(pid, None) {
            Ok(ws) => {
                if let Some(st) = ChildStatus::from_wait(ws) {
                    return Ok(st);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// waitpid(2) with WNOHANG: `Some(status)` if `pid` has ended, `None` if it still runs.
pub fn try_wait_child(pid: Pid) -> Result<Option<ChildStatus>, Errno> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(ws) => return Ok(ChildStatus::from_wait(ws)),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// End this process the way the child ended, so the caller's shell sees the same status:
/// exit with the child's code, or re-raise the signal that killed it (with core dumps
/// disabled, so the re-raise itself writes no core file). Where the signal cannot kill
/// this process (its default action is to ignore, or this is a namespace's init),
/// exit with 128 + N instead.
pub fn exit_like(status: ChildStatus) -> ! {
    match status {
        ChildStatus::Exited(code) => std::process::exit(code),
        ChildStatus::Signaled(sig) => {
            // Each step is best effort: if one fails, the exit below still reports 128+N.
            let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
            // SAFETY: resetting a disposition to the default installs no handler code.
            let _ = unsafe { signal::signal(sig, signal::SigHandler::SigDfl) };
            let mut set = SigSet::empty();
            set.add(sig);
            let _ = signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
            let _ = signal::raise(sig);
            std::process::exit(status.shell_code())
        }
    }
}
