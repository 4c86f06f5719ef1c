//! `--init`: a tiny init as the container's PID 1 (bound in as `/dev/init`, as docker
//! does with docker-init). It runs the command as its child, passes every forwarded
//! signal on to it, reaps every zombie that is reparented to it, and exits as the
//! command did.

use std::ffi::OsString;

use chainload::status::ChildStatus;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::Error;
use chainload::error::sys;

/// Run `command` under the init. Returns only on failure to start it.
pub fn init(command: &[OsString]) -> Error {
    let blocked = chainload::signals::supervisor_set();
    let saved = match chainload::signals::block(&blocked) {
        Ok(s) => s,
        Err(e) => return Error::from(sys("cannot block signals")(e)),
    };
    // SAFETY: the init is single-threaded.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = saved.restore();
            return chainload::error::OsError::from(chainload::exec::execvp(command)).into();
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return Error::from(sys("fork failed")(e)),
    };
    let mut set = SigSet::empty();
    for s in &blocked {
        set.add(*s);
    }
    loop {
        if let Some(status) = reap_all(child) {
            chainload::status::exit_like(status);
        }
        match chainload::signals::sigtimedwait(&set, None) {
            Ok(Some(got)) if got.signal != Signal::SIGCHLD && !got.reached(child) => {
                let _ = nix::sys::signal::kill(child, got.signal);
            }
            _ => {}
        }
    }
}

/// Reap every exited child; the command's status once it has ended.
fn reap_all(main: Pid) -> Option<ChildStatus> {
    let mut main_status = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => main_status = Some(ChildStatus::Exited(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => main_status = Some(ChildStatus::Signaled(sig)),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return main_status,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => return main_status,
        }
    }
}
