//! Mounting a [`Stack`] with overlayfs.
//!
//! The new mount API (fsopen/fsconfig with one `lowerdir+` per layer, Linux 6.8+) takes
//! each path whole: no length limit, colons and commas allowed. Older kernels get
//! mount(2) with the classic option string, escaped (`\`, `:` and `,`), and, when the
//! string would exceed a page, with the layers given relative to their common parent
//! (the mount is made from inside it), as docker's overlay2 driver does.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use serde::Serialize;

use crate::stack::Stack;
use crate::{sys, Error};
use chainload::error::FromIo;

/// Which interface made the mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// fsopen/fsconfig/fsmount/move_mount with `lowerdir+`.
    Fsconfig,
    /// mount(2) with an option string.
    Mount2,
    /// A read-only bind mount: one layer and no upper, which overlayfs does not take.
    Bind,
}

/// Escape a path for overlayfs's option string.
fn escape(p: &Path) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.as_os_str().len());
    for b in p.as_os_str().as_bytes() {
        if matches!(b, b'\\' | b':' | b',') {
            out.push(b'\\');
        }
        out.push(*b);
    }
    out
}

fn option_string(stack: &Stack, rel_to: Option<&Path>) -> Vec<u8> {
    let show = |p: &Path| -> Vec<u8> {
        match rel_to.and_then(|base| p.strip_prefix(base).ok()) {
            Some(rel) => escape(rel),
            None => escape(p),
        }
    };
    let mut s = b"lowerdir=".to_vec();
    for (i, l) in stack.lowerdirs().iter().enumerate() {
        if i > 0 {
            s.push(b':');
        }
        s.extend(show(l));
    }
    if let (Some(u), Some(w)) = (&stack.upper, &stack.work) {
        s.extend(b",upperdir=");
        s.extend(show(u));
        s.extend(b",workdir=");
        s.extend(show(w));
    }
    for o in &stack.options {
        s.push(b',');
        s.extend(o.as_bytes());
    }
    s
}

/// The deepest directory that contains every layer.
fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.first()?.parent()?.to_path_buf();
    let mut base = first;
    while !paths.iter().all(|p| p.starts_with(&base) && p != &base) {
        base = base.parent()?.to_path_buf();
    }
    Some(base)
}

fn mount_fsconfig(stack: &Stack, target: &Path) -> Result<(), Errno> {
    let fs = sys::fsopen(c"overlay")?;
    let fd = fs.as_fd();
    sys::fsconfig_set_string(fd, c"source", OsStr::new("overlay"))?;
    for l in stack.lowerdirs() {
        sys::fsconfig_set_string(fd, c"lowerdir+", l.as_os_str())?;
    }
    if let (Some(u), Some(w)) = (&stack.upper, &stack.work) {
        sys::fsconfig_set_string(fd, c"upperdir", u.as_os_str())?;
        sys::fsconfig_set_string(fd, c"workdir", w.as_os_str())?;
    }
    for o in &stack.options {
        let (k, v) = o.split_once('=').map(|(k, v)| (k, Some(v))).unwrap_or((o.as_str(), None));
        let key = CString::new(k).map_err(|_| Errno::EINVAL)?;
        match v {
            Some(v) => sys::fsconfig_set_string(fd, &key, OsStr::new(v))?,
            None => sys::fsconfig_set_flag(fd, &key)?,
        }
    }
    sys::fsconfig_create(fd)?;
    let mnt = sys::fsmount(fd, 0)?;
    sys::move_mount(mnt.as_fd(), target)
}

fn mount_legacy(stack: &Stack, target: &Path) -> Result<(), Error> {
    let page = 4096usize;
    let full = option_string(stack, None);
    let flags = if stack.upper.is_none() { MsFlags::MS_RDONLY } else { MsFlags::empty() };
    let mount = |data: &[u8], target: &Path| {
        let data = OsString::from_vec(data.to_vec());
        nix::mount::mount(Some("overlay"), target, Some("overlay"), flags, Some(data.as_os_str()))
    };
    if full.len() < page {
        return mount(&full, target).map_err(|e| mount_error(stack, target, e));
    }
    let layers: Vec<PathBuf> =
        stack.lowerdirs().into_iter().chain(stack.upper.clone()).chain(stack.work.clone()).collect();
    let base = common_parent(&layers).ok_or_else(|| {
        Error::Unsupported("the layers share no parent directory to shorten their paths in the mount options".into())
    })?;
    let short = option_string(stack, Some(&base));
    if short.len() >= page {
        return Err(Error::Unsupported(format!(
            "the layer paths need {} bytes of mount options even relative to '{}'; this kernel takes at most {page} \
             (Linux 6.8 and later take any number through the new mount API)",
            short.len(),
            base.display()
        )));
    }
    let target_abs = std::fs::canonicalize(target).map_err(|e| Error::io("mount point", target, e))?;
    let cwd = std::fs::File::open(".").map_err(|e| Error::io("cannot open", Path::new("."), e))?;
    nix::unistd::chdir(&base).map_err(|e| {
        Error::from(chainload::error::sys(format!("cannot change directory to '{}'", base.display()))(e))
    })?;
    let result = mount(&short, &target_abs);
    let _ = nix::unistd::fchdir(cwd.as_fd());
    result.map_err(|e| mount_error(stack, target, e))
}

fn mount_error(stack: &Stack, target: &Path, errno: Errno) -> Error {
    Error::from(chainload::error::sys(format!(
        "cannot mount the overlay of {} layer(s) on '{}'",
        stack.lowerdirs().len(),
        target.display()
    ))(errno))
}

/// Mount `stack` (already [prepared](Stack::prepare)) on `target`; returns the API used.
pub fn mount(stack: &Stack, target: &Path) -> Result<Api, Error> {
    if !target.is_dir() {
        return Err(Error::Usage(format!("mount point '{}' is not a directory", target.display())));
    }
    if stack.upper.is_none() && stack.lowerdirs().len() == 1 {
        // overlayfs needs two lower layers when there is no upper; one read-only layer
        // is exactly a read-only (recursive) bind mount of it.
        let layer = &stack.lowerdirs()[0];
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        nix::mount::mount(Some(layer.as_path()), target, None::<&str>, flags, None::<&str>)
            .map_err(|e| mount_error(stack, target, e))?;
        // Read-only with every submount the recursive bind brought along.
        if let Err(e) = crate::rootfs::make_read_only_recursively(target) {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            return Err(e);
        }
        return Ok(Api::Bind);
    }
    match mount_fsconfig(stack, target) {
        Ok(()) => Ok(Api::Fsconfig),
        // ENOSYS: no new mount API; EINVAL: no "lowerdir+" (Linux < 6.8) or an option the
        // new API spells differently: try the classic way, which reports its own error.
        Err(Errno::ENOSYS | Errno::EINVAL | Errno::EOPNOTSUPP) => mount_legacy(stack, target).map(|()| Api::Mount2),
        Err(e) => Err(mount_error(stack, target, e)),
    }
}

/// `ovlmount mount`: prepare `stack` (making a missing upper and work directory), make a
/// missing mount point (left in place by umount; one that exists must be a directory),
/// and mount. On failure the directories this made are removed again.
pub fn prepare_and_mount(stack: &mut Stack, target: &Path) -> Result<Api, Error> {
    let mut created = stack.prepare()?;
    let result = (|| {
        if target.symlink_metadata().is_err() {
            std::fs::create_dir_all(target).map_err(|e| Error::io("cannot create mount point", target, e))?;
            created.push(target.to_path_buf());
        }
        mount(stack, target)
    })();
    if result.is_err() {
        for d in created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

/// umount2(2) the layer mount on `target`, refusing a target that is not a mount point.
pub fn umount(target: &Path) -> Result<(), Error> {
    let abs = std::fs::canonicalize(target).map_err(|e| Error::io("mount point", target, e))?;
    let mounts = mountinfo::read_self().map_err(|e| Error::io("cannot read", Path::new("/proc/self/mountinfo"), e))?;
    if !mounts.iter().any(|m| m.mount_point == abs) {
        return Err(Error::Usage(format!("'{}' is not a mount point", target.display())));
    }
    nix::mount::umount2(&abs, nix::mount::MntFlags::empty())
        .map_err(|e| Error::from(chainload::error::sys(format!("cannot unmount '{}'", target.display()))(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_separators() {
        assert_eq!(escape(Path::new("/a:b,c\\d")), b"/a\\:b\\,c\\\\d".to_vec());
    }

    #[test]
    fn finds_common_parent() {
        let p = vec![PathBuf::from("/x/img/l1"), "/x/img/l2".into(), "/x/c/upper".into()];
        assert_eq!(common_parent(&p), Some(PathBuf::from("/x")));
    }
}
