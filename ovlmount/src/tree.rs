//! A directory tree that something else may be changing while it is read (the upper
//! layer of a running container, written by the container's processes), read without
//! following any symlink in it: a container that swaps a directory for a symlink to
//! `/etc` between the walk and the read must not get the host's `/etc/shadow` into its
//! layer.
//!
//! Directories are opened from the root's descriptor with openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS); an entry is reached from its open directory with *at calls
//! that do not follow it (fstatat, openat O_NOFOLLOW, readlinkat), and its extended
//! attributes are read from the opened file (or, for a symlink or a device node, through
//! `/proc/self/fd/DIR/NAME`, where the only link followed is our own directory's).

use std::cell::RefCell;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use crate::sys::{openat2, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS};
use crate::Error;
use chainload::error::{sys, FromIo};

/// The tree, open.
pub struct Tree {
    root: Rc<OwnedFd>,
    path: PathBuf,
    /// The directory of the last [`Tree::place`] (entries come sorted, so siblings
    /// follow each other).
    last: RefCell<Option<(PathBuf, Rc<OwnedFd>)>>,
}

/// One entry of the tree: its directory (open) and its name.
pub struct Place {
    dir: Rc<OwnedFd>,
    name: OsString,
    shown: PathBuf,
}

/// An entry as it was when opened: the metadata of what was opened, and for a regular
/// file or a directory the open file itself.
pub struct Opened {
    /// The metadata (of the open file where there is one).
    pub meta: std::fs::Metadata,
    /// The regular file or directory, opened read-only.
    pub file: Option<std::fs::File>,
    proc_path: PathBuf,
}

/// Where extended attributes are read from: the open file, or (for symlinks and device
/// nodes, which are never opened) the entry's path through its open directory.
pub enum Attrs<'a> {
    /// An open file.
    Fd(BorrowedFd<'a>),
    /// `/proc/self/fd/DIR/NAME`, not following NAME.
    Path(&'a Path),
}

impl Attrs<'_> {
    /// The names of the attributes.
    pub fn list(&self) -> Result<Vec<Vec<u8>>, Errno> {
        match self {
            Attrs::Fd(fd) => crate::sys::flistxattr(*fd),
            Attrs::Path(p) => crate::sys::llistxattr(p),
        }
    }

    /// One attribute's value.
    pub fn get(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        match self {
            Attrs::Fd(fd) => crate::sys::fgetxattr(*fd, name),
            Attrs::Path(p) => crate::sys::lgetxattr(p, name),
        }
    }
}

impl Opened {
    /// Where its extended attributes are read from.
    pub fn attrs(&self) -> Attrs<'_> {
        match &self.file {
            Some(f) => Attrs::Fd(f.as_fd()),
            None => Attrs::Path(&self.proc_path),
        }
    }
}

impl Place {
    /// The entry as the user knows it (`UPPER/REL`), for messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Open the entry as it is now: a regular file or directory is opened (without
    /// following a symlink that replaced it), anything else is looked at only.
    pub fn open(&self) -> Result<Opened, Error> {
        let proc_path = PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd())).join(&self.name);
        let st = nix::sys::stat::fstatat(&*self.dir, self.name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| Error::from(sys(format!("cannot stat '{}'", self.shown.display()))(e)))?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFDIR {
            let meta = proc_path.symlink_metadata().map_err(|e| Error::io("cannot stat", &self.shown, e))?;
            return Ok(Opened { meta, file: None, proc_path });
        }
        let mut flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
        if kind == libc::S_IFDIR {
            flags |= OFlag::O_DIRECTORY;
        }
        let fd = nix::fcntl::openat(&*self.dir, self.name.as_os_str(), flags, Mode::empty())
            .map_err(|e| Error::from(sys(format!("cannot open '{}'", self.shown.display()))(e)))?;
        let file = std::fs::File::from(fd);
        let meta = file.metadata().map_err(|e| Error::io("cannot stat", &self.shown, e))?;
        if (kind == libc::S_IFDIR) != meta.is_dir() {
            return Err(Error::Changed(self.shown.clone()));
        }
        Ok(Opened { meta, file: Some(file), proc_path })
    }

    /// The target of the symlink.
    pub fn read_link(&self) -> Result<OsString, Error> {
        nix::fcntl::readlinkat(&*self.dir, self.name.as_os_str())
            .map_err(|e| Error::from(sys(format!("cannot read link '{}'", self.shown.display()))(e)))
    }
}

fn open_dir(dir: &OwnedFd, rel: &Path, shown: &Path) -> Result<OwnedFd, Error> {
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    openat2(dir.as_fd(), rel, flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).map_err(|e| {
        Error::from(sys(format!(
            "cannot open directory '{}' (a symlink, or changed while being read?)",
            shown.display()
        ))(e))
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
                .map_err(|e| Error::from(sys(format!("cannot read directory '{}'", shown.display()))(e)))?,
        )
        .map_err(|e| Error::from(sys(format!("cannot read directory '{}'", shown.display()))(e)))?;
        let mut subdirs: Vec<OsString> = Vec::new();
        let mut listing = listing;
        for entry in listing.iter() {
            let entry =
                entry.map_err(|e| Error::from(sys(format!("cannot read directory '{}'", shown.display()))(e)))?;
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
        let name =
            rel.file_name().ok_or_else(|| Error::Usage(format!("'{}': not an entry of the tree", rel.display())))?;
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
        Ok(Place { dir, name: name.to_os_string(), shown: self.path.join(rel) })
    }
}
