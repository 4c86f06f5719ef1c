//! `--tmpfs DIR[:OPTIONS]`: a fresh tmpfs on DIR inside the new root.
//!
//! OPTIONS, comma-separated: tmpfs's own `size=`, `nr_inodes=`, `mode=`, `uid=`, `gid=`;
//! the mount attributes `ro`, `rw`, `noexec`, `exec`, `nosuid`, `suid`, `nodev`, `dev`
//! (default `nosuid,nodev`), `noatime`, `relatime`, `strictatime`; and `tmpcopyup`
//! (what the root has at DIR is copied into the new tmpfs, owners, modes and all, as
//! runc and crun do). Without `mode=` the tmpfs's root is mode 1777.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use chainload::error::sys;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, FchmodatFlags, Mode, SFlag};

use crate::sys::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOUNT_ATTR_STRICTATIME,
};
use crate::Error;

/// One `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    /// Where, inside the new root.
    pub dst: PathBuf,
    /// tmpfs options given to the filesystem (`size`, `mode`, ...), in order.
    pub options: Vec<(String, String)>,
    /// `MOUNT_ATTR_*` bits.
    pub attrs: u64,
    /// `tmpcopyup`.
    pub copy_up: bool,
}

const FS_OPTIONS: [&str; 5] = ["size", "nr_inodes", "mode", "uid", "gid"];

impl std::str::FromStr for Tmpfs {
    type Err = String;
    /// Parse `DIR` or `DIR:OPTIONS`.
    fn from_str(s: &str) -> Result<Tmpfs, String> {
        let (dst, list) = s.split_once(':').unwrap_or((s, ""));
        if !dst.starts_with('/') {
            return Err(format!("'{s}': DIR must be absolute"));
        }
        let mut t =
            Tmpfs { dst: PathBuf::from(dst), options: Vec::new(), attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, copy_up: false };
        for o in list.split(',').filter(|o| !o.is_empty()) {
            let mut set = |bit: u64, on: bool| if on { t.attrs |= bit } else { t.attrs &= !bit };
            match o {
                "ro" => set(MOUNT_ATTR_RDONLY, true),
                "rw" => set(MOUNT_ATTR_RDONLY, false),
                "noexec" => set(MOUNT_ATTR_NOEXEC, true),
                "exec" => set(MOUNT_ATTR_NOEXEC, false),
                "nosuid" => set(MOUNT_ATTR_NOSUID, true),
                "suid" => set(MOUNT_ATTR_NOSUID, false),
                "nodev" => set(MOUNT_ATTR_NODEV, true),
                "dev" => set(MOUNT_ATTR_NODEV, false),
                "noatime" => {
                    t.attrs = (t.attrs & !MOUNT_ATTR_STRICTATIME) | MOUNT_ATTR_NOATIME;
                }
                "strictatime" => {
                    t.attrs = (t.attrs & !MOUNT_ATTR_NOATIME) | MOUNT_ATTR_STRICTATIME;
                }
                "relatime" => t.attrs &= !(MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME),
                "tmpcopyup" => t.copy_up = true,
                _ => match o.split_once('=') {
                    Some((k, v)) if FS_OPTIONS.contains(&k) && !v.is_empty() => {
                        t.options.push((k.to_string(), v.to_string()))
                    }
                    _ => {
                        return Err(format!(
                            "'{s}': unknown tmpfs option '{o}' (size=, nr_inodes=, mode=, uid=, gid=, ro, rw, \
                             [no]exec, [no]suid, [no]dev, noatime, relatime, strictatime, tmpcopyup)"
                        ))
                    }
                },
            }
        }
        Ok(t)
    }
}

impl Tmpfs {
    /// Whether `mode=` was given.
    pub fn mode_given(&self) -> bool {
        self.options.iter().any(|(k, _)| k == "mode")
    }

    /// The tmpfs options as fsconfig(2) keys and values (`mode=1777` unless given).
    pub fn fs_options(&self) -> Result<Vec<(CString, String)>, Error> {
        let default_mode = ("mode".to_string(), "1777".to_string());
        self.options
            .iter()
            .chain((!self.mode_given()).then_some(&default_mode))
            .map(|(k, v)| {
                CString::new(k.as_str()).map(|k| (k, v.clone())).map_err(|_| Error::Usage(format!("bad tmpfs option '{k}'")))
            })
            .collect()
    }
}

/// `tmpcopyup`: copy the tree of directory `src` into directory `dst` (the new tmpfs's
/// root, before it is attached), keeping owners and modes; the root takes `src`'s owner
/// (and its mode, unless `keep_mode`). Nothing is followed: symbolic links are copied as
/// links, devices, FIFOs and sockets left out.
pub fn copy_up(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, shown: &Path, keep_mode: bool) -> Result<(), Error> {
    let at = |what: &str, p: &Path| format!("tmpcopyup of '{}': cannot {what} '{}'", shown.display(), p.display());
    let st = nix::sys::stat::fstat(src).map_err(sys(at("stat", shown)))?;
    copy_dir(src, dst, shown)?;
    nix::unistd::fchownat(dst, "", Some(st.st_uid.into()), Some(st.st_gid.into()), AtFlags::AT_EMPTY_PATH)
        .map_err(sys(at("chown", shown)))?;
    if !keep_mode {
        let d = nix::fcntl::openat(dst, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(sys(at("open", shown)))?;
        nix::sys::stat::fchmod(&d, Mode::from_bits_truncate(st.st_mode & 0o7777)).map_err(sys(at("chmod", shown)))?;
    }
    Ok(())
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, shown: &Path) -> Result<(), Error> {
    let at = |what: &str, p: &Path| format!("tmpcopyup: cannot {what} '{}'", p.display());
    let mut dir = nix::dir::Dir::openat(src, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys(at("read", shown)))?;
    let names: Vec<CString> = dir
        .iter()
        .flatten()
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let path = shown.join(name.to_string_lossy().as_ref());
        let st = fstatat(src, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(sys(at("stat", &path)))?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFDIR => {
                mkdirat(dst, name.as_c_str(), Mode::from_bits_truncate(0o700)).map_err(sys(at("create", &path)))?;
                let open = |fd: BorrowedFd<'_>| -> Result<OwnedFd, Error> {
                    nix::fcntl::openat(
                        fd,
                        name.as_c_str(),
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| sys(at("open", &path))(e).into())
                };
                let (s, d) = (open(src)?, open(dst)?);
                copy_dir(s.as_fd(), d.as_fd(), &path)?;
            }
            SFlag::S_IFREG => {
                let from = nix::fcntl::openat(src, name.as_c_str(), OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                    .map_err(sys(at("open", &path)))?;
                let to = nix::fcntl::openat(
                    dst,
                    name.as_c_str(),
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(sys(at("create", &path)))?;
                std::io::copy(&mut std::fs::File::from(from), &mut std::fs::File::from(to))
                    .map_err(|e| Error::InContainer(format!("tmpcopyup: cannot copy '{}': {e}", path.display())))?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name.as_c_str()).map_err(sys(at("read", &path)))?;
                nix::unistd::symlinkat(target.as_os_str(), dst, name.as_c_str()).map_err(sys(at("create", &path)))?;
            }
            _ => continue,
        }
        nix::unistd::fchownat(dst, name.as_c_str(), Some(st.st_uid.into()), Some(st.st_gid.into()), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(sys(at("chown", &path)))?;
        // (Made here a moment ago, in a tmpfs nothing else can reach yet: following is
        // safe, and links themselves have no mode.)
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFLNK {
            fchmodat(dst, name.as_c_str(), mode, FchmodatFlags::FollowSymlink).map_err(sys(at("chmod", &path)))?;
        }
    }
    Ok(())
}
