//! How a foreground container is attached to the caller's stdio (`-t`, `-i`); and a
//! detached one's pty (`-d -t`) to its log.
//!
//! With `-t` the container gets a pseudo-terminal of its own: `ovlmount enter
//! --console-socket` opens it in the container's devpts, makes it the program's stdio
//! and controlling terminal, and sends its master here. The caller's terminal is then in
//! raw mode (restored however the container ends), its window size is passed on at
//! start and on every SIGWINCH, and what is typed goes to the master (with `-i`), so a
//! Ctrl-C reaches the container's foreground processes as one SIGINT, from its own
//! terminal.
//!
//! Without `-t` the container never holds the caller's terminal (no TIOCSTI into the
//! user's shell, no job-control tricks): where stdout or stderr (or, with `-i`, stdin)
//! is a terminal, the container gets a pipe and a thread here copies it through. Without
//! `-i` stdin is /dev/null, as docker's.

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::termios::{self, SetArg, Termios};

use crate::Error;
use chainload::error::{sys, FromIo};

/// The attachment of one foreground container.
pub struct Attach {
    tty: bool,
    interactive: bool,
    listener: Option<UnixListener>,
    master: Arc<OnceLock<OwnedFd>>,
    saved: Option<Termios>,
    pumps: Vec<JoinHandle<()>>,
}

/// Whether our descriptor `fd` (0, 1 or 2) is a terminal.
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: 0, 1 and 2 are this process's for its whole life.
    nix::unistd::isatty(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap_or(false)
}

impl Attach {
    /// Whether `-t -i` can be honoured: the input must be a terminal (docker's rule).
    pub fn check(tty: bool, interactive: bool) -> Result<(), Error> {
        if tty && interactive && !is_terminal(0) {
            return Err(Error::Usage(
                "the input device is not a TTY: -it needs a terminal as stdin (without -t, -i takes a pipe)".into(),
            ));
        }
        Ok(())
    }

    /// Before the chain starts: with `tty`, listen on `socket` (in the container's own
    /// directory) for the pty's master.
    pub fn prepare(tty: bool, interactive: bool, socket: &Path) -> Result<Attach, Error> {
        let listener = if tty {
            // (A restarted container's last run left its socket.)
            let _ = std::fs::remove_file(socket);
            Some(UnixListener::bind(socket).map_err(|e| Error::io("cannot listen on", socket, e))?)
        } else {
            None
        };
        Ok(Attach { tty, interactive, listener, master: Arc::new(OnceLock::new()), saved: None, pumps: Vec::new() })
    }

    /// The chain's stdin, stdout and stderr.
    pub fn stdio(&mut self) -> Result<(Stdio, Stdio, Stdio), Error> {
        let stdin = if self.interactive && !self.tty { self.through(0)? } else { Stdio::null() };
        if self.tty {
            // (ovlmount's pty becomes the program's stdio; until then the chain's errors
            // go to the caller's stderr.)
            return Ok((stdin, Stdio::inherit(), Stdio::inherit()));
        }
        Ok((stdin, self.through(1)?, self.through(2)?))
    }

    /// Descriptor `fd` of ours for the container: itself, or where it is a terminal a
    /// pipe copied through by a thread.
    fn through(&mut self, fd: RawFd) -> Result<Stdio, Error> {
        if !is_terminal(fd) {
            return Ok(Stdio::inherit());
        }
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("cannot make a pipe"))?;
        if fd == 0 {
            // (Not waited for: it ends with the process, blocked on the caller's input.)
            std::thread::spawn(move || copy(0, w.as_raw_fd()));
            return Ok(Stdio::from(r));
        }
        self.pumps.push(std::thread::spawn(move || copy(r.as_raw_fd(), fd)));
        Ok(Stdio::from(w))
    }

    /// Before the chain runs (`-t`): the caller's terminal to raw mode, and a thread that
    /// takes the pty's master from the socket, gives it the caller's window size, and
    /// copies the container's output out (and, with `-i`, the caller's input in).
    pub fn start(&mut self) -> Result<(), Error> {
        let Some(listener) = self.listener.take() else { return Ok(()) };
        if is_terminal(0) {
            let stdin = std::io::stdin();
            let saved = termios::tcgetattr(stdin.as_fd()).map_err(sys("cannot read the terminal's modes"))?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).map_err(sys("cannot set the terminal raw"))?;
            self.saved = Some(saved);
        }
        let (master, interactive) = (self.master.clone(), self.interactive);
        self.pumps.push(std::thread::spawn(move || {
            let Some(fd) = receive_master(&listener) else { return };
            let raw = fd.as_raw_fd();
            let _ = master.set(fd);
            chainload::console::copy_window_size(&[0, 1], raw);
            if interactive {
                std::thread::spawn(move || copy(0, raw));
            }
            copy(raw, 1);
        }));
        Ok(())
    }

    /// SIGWINCH: the caller's window size to the container's terminal.
    pub fn resize(&self) {
        if let Some(m) = self.master.get() {
            chainload::console::copy_window_size(&[0, 1], m.as_raw_fd());
        }
    }

    /// The container has ended: let what it wrote reach the caller (a while at most: a
    /// process it left may hold its end), and restore the terminal.
    pub fn finish(mut self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for p in std::mem::take(&mut self.pumps) {
            while !p.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.restore();
    }

    fn restore(&mut self) {
        if let Some(saved) = self.saved.take() {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &saved);
        }
    }
}

impl Drop for Attach {
    /// However the supervisor leaves (an error included), the caller's terminal is as
    /// it was.
    fn drop(&mut self) {
        self.restore();
    }
}

/// Run `argv` (a chain that ends in the container: `exec`) attached as above, passing
/// signals on; its exit status (128+N for a signal).
pub fn run_attached(
    argv: &[std::ffi::OsString],
    env: &[(String, String)],
    tty: bool,
    interactive: bool,
    socket: &Path,
) -> Result<i32, Error> {
    let mut attach = Attach::prepare(tty, interactive, socket)?;
    let (stdin, stdout, stderr) = attach.stdio()?;
    // (SIGWINCH: the caller's new window size to the command's terminal.)
    let also: &[nix::sys::signal::Signal] = if tty { &[nix::sys::signal::Signal::SIGWINCH] } else { &[] };
    let mut blocked = chainload::signals::supervisor_set();
    blocked.extend_from_slice(also);
    chainload::signals::block(&blocked).map_err(sys("cannot block signals"))?;
    let mut cmd = std::process::Command::new(&argv[0]);
    cmd.args(&argv[1..]).env_clear().envs(env.iter().map(|(k, v)| (k, v))).stdin(stdin).stdout(stdout).stderr(stderr);
    // SAFETY: sigprocmask and setsid are async-signal-safe; nothing else runs before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )
            .map_err(std::io::Error::from)?;
            // Out of the caller's session: no controlling terminal to open as /dev/tty
            // (wait_forwarding passes the terminal's signals on).
            nix::unistd::setsid().map(drop).map_err(std::io::Error::from)
        });
    }
    attach.start()?;
    let child = cmd.spawn().map_err(|e| Error::io("cannot run", Path::new(&argv[0]), e))?;
    let status = chainload::signals::wait_forwarding_also(nix::unistd::Pid::from_raw(child.id() as i32), also, |_| {
        attach.resize()
    })
    .map_err(sys("waitpid failed"))?;
    attach.finish();
    Ok(status.shell_code())
}

/// Accept ovlmount's connection and take the master from its one message.
fn receive_master(listener: &UnixListener) -> Option<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().ok()?;
    let mut name = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut name)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).ok()?;
    let fd = msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
        _ => None,
    })?;
    // SAFETY: a descriptor just received, this process's to own.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Copy from `from` to `to` until the end, an error, or a closed writer.
fn copy(from: RawFd, to: RawFd) {
    let mut buf = [0u8; 8192];
    loop {
        // SAFETY: both descriptors stay open while this thread runs (their owners wait
        // for it, or the process ends).
        let (src, dst) = unsafe { (BorrowedFd::borrow_raw(from), BorrowedFd::borrow_raw(to)) };
        let n = match nix::unistd::read(src, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            match nix::unistd::write(dst, rest) {
                Ok(0) | Err(_) => return,
                Ok(w) => rest = &rest[w..],
            }
        }
    }
}
