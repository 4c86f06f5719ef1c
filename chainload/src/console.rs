//! `--console-socket PATH`: the program's terminal, as an OCI runtime gives it
//! (`ovlmount enter` for a container's init, `nsenter-rs` for a process exec'd into it).
//!
//! The socket (a unix stream socket its caller listens on: conmon, containerd's shim)
//! is connected while the host's paths are still reachable. Once in the container's
//! root (after pivot_root, or joining its mount namespace) a pty is
//! opened in the container's own devpts (`/dev/ptmx` of the new root), its slave found
//! through the master (`TIOCGPTPEER`: no path is looked up), made the controlling
//! terminal of a new session and the program's stdin, stdout and stderr; the master is
//! sent over the socket in one `SCM_RIGHTS` message (the slave's name as its data, as
//! runc sends it) and closed here: the caller holds the only copy.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::sys;
use nix::fcntl::OFlag;
use nix::sys::socket::{
    connect, sendmsg, socket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::error::OsError;

/// Give the terminal `to` the window size of the first of `from` that is a terminal (none
/// is: nothing changes).
pub fn copy_window_size(from: &[i32], to: i32) {
    for &fd in from {
        // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize for the duration of the call.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) };
            return;
        }
    }
}

/// A connected console socket.
#[derive(Debug)]
pub struct ConsoleSocket {
    sock: OwnedFd,
    path: PathBuf,
}

impl ConsoleSocket {
    /// Connect to the socket at `path`.
    pub fn connect(path: &Path) -> Result<ConsoleSocket, OsError> {
        let shown = || format!("cannot connect to the console socket '{}'", path.display());
        let sock = socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(sys(shown()))?;
        let addr = UnixAddr::new(path).map_err(sys(shown()))?;
        connect(sock.as_raw_fd(), &addr).map_err(sys(shown()))?;
        Ok(ConsoleSocket { sock, path: path.to_path_buf() })
    }

    /// Open the pty in the new root's devpts, send its master, and make its slave the
    /// controlling terminal and fds 0, 1 and `stderr` (2, or the start gate's descriptor
    /// that becomes 2 at the gate).
    pub fn hand_over(self, stderr: i32) -> Result<(), OsError> {
        let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .map_err(sys("--console-socket: cannot open /dev/ptmx in the container (it needs a devpts)"))?;
        nix::pty::grantpt(&master).map_err(sys("cannot grant the pty"))?;
        nix::pty::unlockpt(&master).map_err(sys("cannot unlock the pty"))?;
        let name = nix::pty::ptsname_r(&master).map_err(sys("cannot name the pty"))?;
        let flags = (OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).bits();
        // SAFETY: TIOCGPTPEER takes the open flags and returns a new descriptor (or -1).
        let peer = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
        if peer < 0 {
            return Err(sys("cannot open the pty's slave (TIOCGPTPEER needs Linux 4.13)")(nix::errno::Errno::last()));
        }
        // SAFETY: a descriptor just returned to this process, owned from here.
        let slave = unsafe { OwnedFd::from_raw_fd(peer) };
        // Where the descriptors given to us are a terminal (ctr-run's caller's), its window
        // size, before the program can ask for it (the caller sets it again itself).
        copy_window_size(&[0, 1, 2, stderr], slave.as_raw_fd());
        nix::unistd::setsid().map_err(sys("cannot start a session for the terminal"))?;
        // SAFETY: TIOCSCTTY on an open terminal descriptor, argument 0 (do not steal).
        if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return Err(sys("cannot make the pty the controlling terminal")(nix::errno::Errno::last()));
        }
        nix::unistd::dup2_stdin(&slave).map_err(sys("cannot make the pty stdin"))?;
        nix::unistd::dup2_stdout(&slave).map_err(sys("cannot make the pty stdout"))?;
        // SAFETY: `stderr` is 2 or the gate's descriptor, both this process's to replace.
        let mut target = unsafe { OwnedFd::from_raw_fd(stderr) };
        let dup = nix::unistd::dup2(&slave, &mut target).map_err(sys("cannot make the pty stderr"));
        std::mem::forget(target); // (still fd `stderr`: it is the program's)
        dup?;
        let fds = [master.as_raw_fd()];
        let data = [IoSlice::new(name.as_bytes())];
        sendmsg::<()>(
            self.sock.as_fd().as_raw_fd(),
            &data,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(sys(format!("cannot send the pty to the console socket '{}'", self.path.display())))?;
        Ok(())
    }
}
