//! Signal names, signal masks, and forwarding signals to a child while waiting for it.

use std::str::FromStr;

use nix::errno::Errno;
use nix::sys::signal::{self, SigSet, SigmaskHow, Signal};
use nix::unistd::Pid;

use crate::status::{try_wait_child, ChildStatus};

/// The signals a supervising parent passes on to its child: SIGINT, SIGTERM, SIGHUP,
/// SIGQUIT, SIGUSR1, SIGUSR2.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

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
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
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

/// Wait for `child` while passing every signal of [`FORWARDED`] on to it.
///
/// The caller must have blocked [`supervisor_set`] *before* forking (so that no signal
/// arrives between fork and this call unseen); this waits for them with sigwait(2),
/// so no asynchronous handler runs. `on_signal` is called for each forwarded signal
/// (after it was sent), for callers that must react too.
pub fn wait_forwarding(
    child: Pid,
    mut on_signal: impl FnMut(Signal),
) -> Result<ChildStatus, Errno> {
    let mut set = SigSet::empty();
    for s in supervisor_set() {
        set.add(s);
    }
    loop {
        if let Some(st) = try_wait_child(child)? {
            return Ok(st);
        }
        let sig = set.wait()?;
        if sig != Signal::SIGCHLD {
            match signal::kill(child, sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => return Err(e),
            }
            on_signal(sig);
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
