//! Whether this process is in one of the host's namespaces (mount, network, IPC, UTS):
//! `enter` refuses to mount in the host's mount namespace, `--sysctl` to write a
//! parameter of a namespace the host shares.
//!
//! The initial namespaces have fixed nsfs inodes: IPC and UTS for long, network and
//! mount since Linux 6.18 (`<linux/nsfs.h>`); other namespaces get inodes from
//! 0xF0000000 up, so no other namespace ever has them. Otherwise (and also in a
//! container, whose own first namespaces are its host's) the host's is PID 1's; where
//! PID 1's namespace cannot be read (a sandbox that hides it), in a user namespace that
//! is not the initial one, a namespace it owns is not the host's, one it does not own is
//! treated as the host's (nothing could be mounted there); else the
//! oldest ancestor whose namespace can be read stands for the host, unless an ancestor
//! between it and PID 1 cannot be read either (then it is not the host's: see
//! [`is_host`]).

use crate::Error;

/// A kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Mount.
    Mnt,
    /// Network.
    Net,
    /// IPC.
    Ipc,
    /// UTS.
    Uts,
}

impl Namespace {
    /// Its name under /proc/PID/ns.
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Mnt => "mnt",
            Namespace::Net => "net",
            Namespace::Ipc => "ipc",
            Namespace::Uts => "uts",
        }
    }

    /// The initial namespace's fixed inode.
    fn init_ino(self) -> u64 {
        match self {
            Namespace::Ipc => 0xEFFF_FFFF,
            Namespace::Uts => 0xEFFF_FFFE,
            Namespace::Net => 0xEFFF_FFF9,
            Namespace::Mnt => 0xEFFF_FFF8,
        }
    }
}

/// Whether this process is in the host's namespace of kind `ns`.
///
/// When PID 1 of the visible /proc is this very process (a new PID namespace with its
/// own /proc, which implies a new mount namespace), it is not the host's mount
/// namespace; nor, for any kind, when no ancestor's can be read (an orphan whose new
/// parent is a PID 1 that cannot be read: nothing says it is the host's).
pub fn is_host(ns: Namespace) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let own = format!("/proc/self/ns/{}", ns.name());
    let ino =
        std::fs::metadata(&own).map_err(|e| Error::NoProc(format!("{own}: {}", chainload::cli::io_reason(&e))))?.ino();
    if ino == ns.init_ino() {
        return Ok(true);
    }
    // This process's pid as the visible /proc numbers it (not getpid(): /proc may belong
    // to another PID namespace).
    let me: i32 = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| Error::NoProc("/proc/self".into()))?;
    if me == 1 {
        return Ok(false);
    }
    let link = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/{}", ns.name())).ok();
    let ours = link("self").ok_or_else(|| Error::NoProc(own.clone()))?;
    let owned = || owned_by_own_user_namespace(ns);
    let host = match link("1") {
        Some(h) => h,
        // A namespace owned by this process's own user namespace, not the initial one
        // (made in it: by the chain or by hand, `unshare-rs -U -m`), is not the host's,
        // whoever the ancestors are: the host's predates that user namespace. (This also
        // holds when the chain was orphaned and its readable ancestors end at an
        // unreadable PID 1.)
        None if owned() == Some(true) => return Ok(false),
        // And in a user namespace that is not the initial one, a namespace it does not
        // own was made above it: no mount could be made there (no capability over it),
        // and it is refused as the host's, before anything fails halfway.
        None if owned() == Some(false) => return Ok(true),
        None => {
            let mut reference = None;
            let mut pid = me;
            while let Some(parent) = chainload::procstat::read(pid).map(|s| s.ppid).filter(|p| *p > 0) {
                match link(&parent.to_string()) {
                    Some(n) => reference = Some(n),
                    // An ancestor other than PID 1 that cannot be read is in another
                    // user namespace, above ours: whatever is readable below it was
                    // made in ours (a chain that joined a user namespace and made a
                    // mount namespace in it), so nothing readable stands for the host.
                    // (The host's own mount namespace, if this were it, is then one
                    // our user namespace does not own: no mount here could succeed.)
                    None if parent != 1 => return Ok(false),
                    None => break,
                }
                pid = parent;
            }
            match reference {
                Some(r) => r,
                None => return Ok(false),
            }
        }
    };
    Ok(ours == host)
}

/// Whether this process is in a user namespace other than the initial one (its uid_map
/// is not the whole range mapped to itself).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// In a user namespace that is not the initial one (its uid_map is not the whole range
/// mapped to itself): whether this process's namespace of kind `ns` is owned by it.
/// `None` in the initial user namespace, or where it cannot be told.
fn owned_by_own_user_namespace(ns: Namespace) -> Option<bool> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::MetadataExt;
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    if !in_user_namespace() {
        return None;
    }
    let own_ns = std::fs::File::open(format!("/proc/self/ns/{}", ns.name())).ok()?;
    // SAFETY: an ioctl on a descriptor we hold; on success it returns a new descriptor,
    // which we then own.
    let r = unsafe { libc::ioctl(own_ns.as_raw_fd(), NS_GET_USERNS as _) };
    let owner = match r {
        r if r >= 0 => std::fs::File::from(unsafe { OwnedFd::from_raw_fd(r) }),
        // (EPERM: the owner is outside this user namespace's scope, above it.)
        _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) => return Some(false),
        _ => return None,
    };
    let own_user = std::fs::metadata("/proc/self/ns/user").ok()?.ino();
    Some(owner.metadata().ok()?.ino() == own_user)
}
