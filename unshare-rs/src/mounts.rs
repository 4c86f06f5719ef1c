//! The mount-namespace steps: root propagation, `--root`/`--wd`, and `--mount-proc`.

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};

/// `--propagation`: what to make `/` (recursively) in the new mount namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// `MS_PRIVATE | MS_REC` (the default).
    #[default]
    Private,
    /// `MS_SHARED | MS_REC`.
    Shared,
    /// `MS_SLAVE | MS_REC`.
    Slave,
    /// Leave it as inherited.
    Unchanged,
}

impl Propagation {
    /// Parse `private`, `shared`, `slave`, `unchanged`.
    pub fn parse(s: &str) -> Option<Propagation> {
        Some(match s {
            "private" => Propagation::Private,
            "shared" => Propagation::Shared,
            "slave" => Propagation::Slave,
            "unchanged" => Propagation::Unchanged,
            _ => return None,
        })
    }

    fn flags(self) -> Option<MsFlags> {
        match self {
            Propagation::Private => Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
            Propagation::Shared => Some(MsFlags::MS_SHARED | MsFlags::MS_REC),
            Propagation::Slave => Some(MsFlags::MS_SLAVE | MsFlags::MS_REC),
            Propagation::Unchanged => None,
        }
    }
}

/// mount(2) with `MS_REC | type` on `/`: change the propagation of every mount.
pub fn set_propagation(p: Propagation) -> Result<(), Errno> {
    match p.flags() {
        Some(flags) => mount(Some("none"), "/", None::<&str>, flags, None::<&str>),
        None => Ok(()),
    }
}

/// Mount a new proc (of the caller's PID namespace) on `dir`, nosuid,nodev,noexec.
/// With a non-default propagation and no new root, `dir` is first made private, so the
/// new proc does not propagate back to the host (util-linux does the same).
pub fn mount_proc(dir: &Path, propagation: Propagation, new_root: bool) -> Result<(), Errno> {
    if !new_root && propagation != Propagation::Private {
        match mount(Some("none"), dir, None::<&str>, MsFlags::MS_PRIVATE | MsFlags::MS_REC, None::<&str>) {
            Ok(()) | Err(Errno::EINVAL) => {} // EINVAL: nothing mounted there yet
            Err(e) => return Err(e),
        }
    }
    mount(Some("proc"), dir, Some("proc"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>)
}
