//! A directory tree that something else may be changing while it is read (the upper
//! layer of a running container, written by the container's processes), read without
//! following any symlink in it: a container that swaps a directory for a symlink to
//! `/etc` between the walk and the read must not get the host's `/etc/shadow` into its
//! layer.
//!
//! Directories are opened from the root's descriptor with openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS); an entry is reached as `/proc/self/fd/DIR/NAME`, where the only
//! link followed is the magic link of our own open directory, and the callers use calls
//! that do not follow the last component (lstat, lgetxattr, readlink, open O_NOFOLLOW).

use std::cell::RefCell;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::sys::{openat2, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS};
use crate::Error;

/// The tree, open.
pub struct Tree {
    root: Rc<OwnedFd>,
    path: PathBuf,
    /// The directory of the last [`Tree::place`] (entries come sorted, so siblings
    /// follow each other).
    last: RefCell<Option<(PathBuf, Rc<OwnedFd>)>>,
}

/// One entry of the tree, reachable by [`Place::path`] while this lives.
pub struct Place {
    _dir: Rc<OwnedFd>,
    path: PathBuf,
    shown: PathBuf,
}

impl Place {
    /// A path to the entry that no symlink in the tree can redirect (for calls that do
    /// not follow the last component).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry as the user knows it (`UPPER/REL`), for messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }
}

fn open_dir(dir: &OwnedFd, rel: &Path, shown: &Path) -> Result<OwnedFd, Error> {
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    openat2(dir.as_fd(), rel, flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).map_err(|e| Error::Sys {
        what: format!("cannot open directory '{}' (a symlink, or changed while being read?)", shown.display()),
        errno: e,
    })
}

impl Tree {
    /// Open the tree at `path`.
    pub fn open(path: &Path) -> Result<Tree, Error> {
        let f = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        Ok(Tree { root: Rc::new(OwnedFd::from(f)), path: path.to_path_buf(), last: RefCell::new(None) })
    }

    /// Every path below the root, relative, sorted by bytes (so parents come before
    /// children, and the order never depends on a directory's own order).
    pub fn walk_sorted(&self) -> Result<Vec<PathBuf>, Error> {
        let mut all = Vec::new();
        self.collect(&self.root, Path::new(""), &mut all)?;
        all.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
        Ok(all)
    }

    fn collect(&self, dir: &OwnedFd, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
        let shown = self.path.join(rel);
        let listing = nix::dir::Dir::from_fd(
            nix::unistd::dup(dir)
                .map_err(|e| Error::Sys { what: format!("cannot read directory '{}'", shown.display()), errno: e })?,
        )
        .map_err(|e| Error::Sys { what: format!("cannot read directory '{}'", shown.display()), errno: e })?;
        let mut subdirs: Vec<OsString> = Vec::new();
        let mut listing = listing;
        for entry in listing.iter() {
            let entry = entry
                .map_err(|e| Error::Sys { what: format!("cannot read directory '{}'", shown.display()), errno: e })?;
            let name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
            if name == "." || name == ".." {
                continue;
            }
            let is_dir = match entry.file_type() {
                Some(t) => t == nix::dir::Type::Directory,
                None => nix::sys::stat::fstatat(dir, name.as_os_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR),
            };
            out.push(rel.join(&name));
            if is_dir {
                subdirs.push(name);
            }
        }
        for name in subdirs {
            let sub = open_dir(dir, Path::new(&name), &shown.join(&name))?;
            self.collect(&sub, &rel.join(&name), out)?;
        }
        Ok(())
    }

    /// The entry `rel` (relative to the root).
    pub fn place(&self, rel: &Path) -> Result<Place, Error> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        let name = rel.file_name().ok_or_else(|| Error::Usage(format!("'{}': not an entry", rel.display())))?;
        let cached = self.last.borrow().as_ref().filter(|(p, _)| p == parent).map(|(_, fd)| fd.clone());
        let dir = match cached {
            Some(fd) => fd,
            None => {
                let fd = if parent.as_os_str().is_empty() {
                    self.root.clone()
                } else {
                    Rc::new(open_dir(&self.root, parent, &self.path.join(parent))?)
                };
                *self.last.borrow_mut() = Some((parent.to_path_buf(), fd.clone()));
                fd
            }
        };
        let path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name);
        Ok(Place { _dir: dir, path, shown: self.path.join(rel) })
    }
}
