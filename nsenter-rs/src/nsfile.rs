//! Namespace files: opening them (a persisted bind mount, or `/proc/PID/ns/X`), checking
//! they are namespaces of the right type, and setns(2).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use unshare_rs::namespaces::Namespace;

use crate::Error;
use chainload::error::{io, sys};

/// ioctl(NS_GET_NSTYPE): the CLONE_NEW* type of a namespace file (ioctl_ns(2)).
fn ns_get_nstype(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703; // _IO(0xb7, 0x3)
                                                 // SAFETY: an ioctl with no argument on a valid descriptor.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) })
}

/// Open `path` as a namespace file of type `ns`, refusing anything else.
pub fn open_ns_file(ns: Namespace, path: &Path) -> Result<OwnedFd, Error> {
    use std::os::fd::AsFd;
    let file =
        std::fs::File::open(path).map_err(|e| io(format!("cannot open {} namespace file", ns.long_name()), path, e))?;
    let fd = OwnedFd::from(file);
    match ns_get_nstype(fd.as_fd()) {
        Ok(t) if t == ns.clone_flag().bits() => Ok(fd),
        Ok(t) => {
            let actual =
                Namespace::ALL.iter().find(|n| n.clone_flag().bits() == t).map(|n| n.long_name()).unwrap_or("other");
            Err(Error::WrongNamespace { path: path.to_path_buf(), actual, wanted: ns.long_name() })
        }
        Err(_) => Err(Error::NotNamespace(path.to_path_buf())),
    }
}

/// `--net-socket FD`: the network namespace of the socket the target holds as FD
/// (pidfd_getfd(2), then ioctl(SIOCGSKNS)), as util-linux's nsenter does.
pub fn netns_of_socket(target: BorrowedFd<'_>, pid: i32, fd: i32) -> Result<OwnedFd, Error> {
    use std::os::fd::FromRawFd;
    const SIOCGSKNS: libc::c_ulong = 0x894C;
    // SAFETY: integers only; the kernel returns a new descriptor or -1.
    let sock = Errno::result(unsafe { libc::syscall(libc::SYS_pidfd_getfd, target.as_raw_fd(), fd, 0) })
        .map_err(sys(format!("--net-socket: cannot get descriptor {fd} of process {pid}")))?;
    // SAFETY: the kernel just returned this descriptor.
    let sock = unsafe { OwnedFd::from_raw_fd(sock as i32) };
    // SAFETY: an ioctl with no argument on a valid descriptor.
    let ns = Errno::result(unsafe { libc::ioctl(sock.as_raw_fd(), SIOCGSKNS as _) }).map_err(|e| match e {
        Errno::ENOTTY => Error::NotSocket { pid, fd },
        e => sys(format!("--net-socket: cannot get the network namespace of descriptor {fd}"))(e).into(),
    })?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(ns) })
}

/// setns(2) into one namespace file (or, with a pidfd, into several of its namespaces).
pub fn setns(fd: BorrowedFd<'_>, flags: CloneFlags) -> Result<(), Errno> {
    nix::sched::setns(fd, flags)
}
