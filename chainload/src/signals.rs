//! Signal names, signal masks, and forwarding signals to a child while waiting for it.

use std::str::FromStr;

use nix::errno::Errno;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

use crate::status::{try_wait_child, ChildStatus};

/// The signals a supervising parent passes on to its child: SIGINT, SIGTERM, SIGHUP,
/// SIGQUIT, SIGUSR1, SIGUSR2.
pub const FORWARDED: [Signal; 6] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

/// A signal name or number that is not a signal.
#[derive(Debug, thiserror::Error)]
#[error("unknown signal: {0}")]
pub struct UnknownSignal(pub String);

/// Parse `TERM`, `SIGTERM`, `sigterm` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal, UnknownSignal> {
    let unknown = || UnknownSignal(s.to_string());
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| unknown());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map_err(|_| unknown())
}

/// The signal mask as it was before [`block`]; restore it in a forked child before exec,
/// because the blocked mask survives execve(2).
#[derive(Debug, Clone)]
pub struct SavedMask(SigSet);

impl SavedMask {
    /// Put the saved mask back.
    pub fn restore(&self) -> Result<(), Errno> {
        signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.0), None)
    }
}

/// Block `signals` (add them to the mask) and return the previous mask.
pub fn block(signals: &[Signal]) -> Result<SavedMask, Errno> {
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    let mut old = SigSet::empty();
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
    Ok(SavedMask(old))
}

/// Reset SIGCHLD to its default disposition: a parent that inherited SIG_IGN would have
/// its children reaped by the kernel and could never learn their status.
pub fn default_sigchld() -> Result<(), Errno> {
    // SAFETY: setting the default disposition installs no handler code.
    unsafe { signal::signal(Signal::SIGCHLD, signal::SigHandler::SigDfl) }.map(drop)
}

/// The set a forwarding supervisor blocks before it forks: [`FORWARDED`] and SIGCHLD.
pub fn supervisor_set() -> Vec<Signal> {
    let mut v = FORWARDED.to_vec();
    v.push(Signal::SIGCHLD);
    v
}

/// A signal taken from the pending set, with what its siginfo says of where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The signal.
    pub signal: Signal,
    /// Sent by the kernel itself (`si_code` SI_KERNEL), as a terminal sends Ctrl-C
    /// (SIGINT) and Ctrl-\ (SIGQUIT) to its whole foreground process group.
    pub by_kernel: bool,
}

impl Received {
    /// Whether `child` already has this signal: a terminal's keyboard signal went to the
    /// whole foreground process group, and `child` is in ours. Passing it on too would
    /// deliver it twice (a program that stops gracefully on the first Ctrl-C and at once
    /// on the second would take one key press for two).
    pub fn reached(&self, child: Pid) -> bool {
        self.by_kernel
            && matches!(self.signal, Signal::SIGINT | Signal::SIGQUIT)
            && nix::unistd::getpgid(Some(child)).ok() == nix::unistd::getpgid(None).ok()
    }
}

/// sigtimedwait(2): the next signal of `set` (which must be blocked), or `None` once
/// `timeout` has passed (`None`: wait as long as it takes, as sigwaitinfo(2)).
pub fn sigtimedwait(set: &SigSet, timeout: Option<std::time::Duration>) -> Result<Option<Received>, Errno> {
    let ts = timeout.map(|t| libc::timespec { tv_sec: t.as_secs() as _, tv_nsec: t.subsec_nanos() as _ });
    let ts_ptr = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let raw: &libc::sigset_t = set.as_ref();
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for the kernel to overwrite.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid set, siginfo and (null or valid) timespec for the call's duration.
        let n = unsafe { libc::sigtimedwait(raw, &mut info, ts_ptr) };
        if n > 0 {
            let signal = Signal::try_from(n)?;
            return Ok(Some(Received { signal, by_kernel: info.si_code == libc::SI_KERNEL }));
        }
        match Errno::last() {
            Errno::EAGAIN => return Ok(None),
            Errno::EINTR if timeout.is_none() => continue,
            Errno::EINTR => return Ok(None),
            e => return Err(e),
        }
    }
}

/// Wait for `child` while passing every signal of [`FORWARDED`] on to it (except a
/// terminal's keyboard signal that reached it already, see [`Received::reached`]).
///
/// The caller must have blocked [`supervisor_set`] *before* forking (so that no signal
/// arrives between fork and this call unseen); this waits for them with
/// [`sigtimedwait`], so no asynchronous handler runs. `on_signal` is called for each
/// signal received (after it was passed on, where it was), for callers that must react
/// too.
pub fn wait_forwarding(child: Pid, on_signal: impl FnMut(Signal)) -> Result<ChildStatus, Errno> {
    wait_forwarding_also(child, &[], on_signal)
}

/// [`wait_forwarding`], also taking the signals of `also` (blocked by the caller as
/// well), which are not passed on: only `on_signal` hears them (SIGWINCH, say).
pub fn wait_forwarding_also(
    child: Pid,
    also: &[Signal],
    mut on_signal: impl FnMut(Signal),
) -> Result<ChildStatus, Errno> {
    let mut set = SigSet::empty();
    for s in supervisor_set().into_iter().chain(also.iter().copied()) {
        set.add(s);
    }
    loop {
        if let Some(st) = try_wait_child(child)? {
            return Ok(st);
        }
        let Some(got) = sigtimedwait(&set, None)? else { continue };
        if also.contains(&got.signal) {
            on_signal(got.signal);
        } else if got.signal != Signal::SIGCHLD {
            if !got.reached(child) {
                match signal::kill(child, got.signal) {
                    Ok(()) | Err(Errno::ESRCH) => {}
                    Err(e) => return Err(e),
                }
            }
            on_signal(got.signal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("TERM").ok(), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("sigkill").ok(), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("SIGUSR1").ok(), Some(Signal::SIGUSR1));
        assert_eq!(parse_signal("9").ok(), Some(Signal::SIGKILL));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
    }
}

/// pidfd_open(2): a file descriptor that refers to process `pid` (it cannot be confused
/// with a later process that reuses the pid).
pub fn pidfd_open(pid: Pid) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes integers only and returns a new descriptor we own.
    let fd = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) })?;
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// pidfd_send_signal(2): `sig` to the process `pidfd` refers to (`None`: only check that
/// it is alive, as kill(pid, 0) does).
pub fn pidfd_send_signal(pidfd: std::os::fd::BorrowedFd<'_>, sig: Option<Signal>) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let n = sig.map_or(0, |s| s as libc::c_int);
    // SAFETY: integers and a null siginfo only.
    Errno::result(unsafe {
        libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), n, std::ptr::null::<libc::siginfo_t>(), 0)
    })
    .map(drop)
}

/// `--kill-child`: the forked child must die when its parent dies, also when the parent
/// dies before the child could ask for it. Take a [`ParentWatch`] in the parent before
/// forking; the child [arms](ParentWatch::arm) it as the last step before exec.
#[derive(Debug)]
pub struct ParentWatch(std::os::fd::OwnedFd);

impl ParentWatch {
    /// A watch on this process, to hand to a child about to be forked.
    pub fn of_self() -> Result<ParentWatch, Errno> {
        pidfd_open(Pid::this()).map(ParentWatch)
    }

    /// In the child: set the parent-death signal (prctl PR_SET_PDEATHSIG; a change of
    /// credentials clears it, so call this after any setuid), then check the parent is
    /// still there; if it already died, die now by `sig`.
    pub fn arm(self, sig: Signal) -> Result<(), Errno> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        nix::sys::prctl::set_pdeathsig(Some(sig))?;
        let mut fds = [PollFd::new(std::os::fd::AsFd::as_fd(&self.0), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::ZERO)? > 0 {
            // kill(getpid()), not raise(): after a raw clone3 the C library's cached thread id is
            // the parent's.
            let _ = signal::kill(Pid::this(), sig);
            std::process::exit(crate::EXIT_TOOL_FAILED);
        }
        Ok(())
    }
}
