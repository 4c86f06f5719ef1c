//! `--tmpfs DIR[:OPTIONS]`: a fresh tmpfs on DIR inside the new root.
//!
//! OPTIONS, comma-separated: tmpfs's own `size=`, `nr_inodes=`, `mode=`, `uid=`, `gid=`;
//! the mount attributes `ro`, `rw`, `noexec`, `exec`, `nosuid`, `suid`, `nodev`, `dev`
//! (default `nosuid,nodev`), `noatime`, `relatime`, `strictatime`; and `tmpcopyup`
//! (what the root has at DIR is copied into the new tmpfs, owners, modes and all, as
//! runc and crun do). Without `mode=` the tmpfs's root has the mode of the directory it
//! covers, or 1777 where there was none (runc's way).

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use chainload::error::sys;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, FchmodatFlags, Mode, SFlag};

use crate::sys::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_STRICTATIME,
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
        let mut t = Tmpfs {
            dst: PathBuf::from(dst),
            options: Vec::new(),
            attrs: MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            copy_up: false,
        };
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

    /// The tmpfs options as fsconfig(2) keys and values; without `mode=`, the mode
    /// `covered` (of the directory it covers), or 1777.
    pub fn fs_options(&self, covered: Option<u32>) -> Result<Vec<(CString, String)>, Error> {
        let default_mode = ("mode".to_string(), format!("{:o}", covered.unwrap_or(0o1777)));
        self.options
            .iter()
            .chain((!self.mode_given()).then_some(&default_mode))
            .map(|(k, v)| {
                CString::new(k.as_str())
                    .map(|k| (k, v.clone()))
                    .map_err(|_| Error::Usage(format!("bad tmpfs option '{k}'")))
            })
            .collect()
    }
}

/// `tmpcopyup`: copy the tree of directory `src` into directory `dst` (the new tmpfs's
/// root, before it is attached), keeping owners and modes; the root takes `src`'s owner.
/// Nothing is followed: symbolic links are copied as links, devices, FIFOs and sockets
/// left out.
pub fn copy_up(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, shown: &Path) -> Result<(), Error> {
    let at = |what: &str, p: &Path| format!("tmpcopyup of '{}': cannot {what} '{}'", shown.display(), p.display());
    let st = nix::sys::stat::fstat(src).map_err(sys(at("stat", shown)))?;
    copy_dir(src, dst, shown)?;
    nix::unistd::fchownat(dst, "", Some(st.st_uid.into()), Some(st.st_gid.into()), AtFlags::AT_EMPTY_PATH)
        .map_err(sys(at("chown", shown)))?;
    Ok(())
}

fn copy_dir(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, shown: &Path) -> Result<(), Error> {
    let at = |what: &str, p: &Path| format!("tmpcopyup: cannot {what} '{}'", p.display());
    let mut dir =
        nix::dir::Dir::openat(src, ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
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
                let from = nix::fcntl::openat(
                    src,
                    name.as_c_str(),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
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
        nix::unistd::fchownat(
            dst,
            name.as_c_str(),
            Some(st.st_uid.into()),
            Some(st.st_gid.into()),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(sys(at("chown", &path)))?;
        // (Made here a moment ago, in a tmpfs nothing else can reach yet: following is
        // safe, and links themselves have no mode.)
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFLNK {
            fchmodat(dst, name.as_c_str(), mode, FchmodatFlags::FollowSymlink).map_err(sys(at("chmod", &path)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let t: Tmpfs = "/run:size=1m,mode=700,rw,noexec,tmpcopyup".parse().unwrap();
        assert_eq!(t.dst, PathBuf::from("/run"));
        assert_eq!(t.options, vec![("size".into(), "1m".into()), ("mode".into(), "700".into())]);
        assert_eq!(t.attrs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        assert!(t.copy_up && t.mode_given());
        let plain: Tmpfs = "/tmp".parse().unwrap();
        assert_eq!((plain.attrs, plain.copy_up), (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false));
        let mode =
            |t: &Tmpfs, covered| t.fs_options(covered).unwrap().into_iter().find(|(k, _)| k.as_bytes() == b"mode");
        assert_eq!(mode(&plain, None).map(|m| m.1), Some("1777".into()));
        assert_eq!(mode(&plain, Some(0o755)).map(|m| m.1), Some("755".into()));
        assert_eq!(mode(&t, Some(0o755)).map(|m| m.1), Some("700".into()));
        let ro: Tmpfs = "/x:ro,suid,dev,exec".parse().unwrap();
        assert_eq!(ro.attrs, MOUNT_ATTR_RDONLY);
        assert!("/x:size".parse::<Tmpfs>().is_err());
        assert!("/x:huge=1".parse::<Tmpfs>().unwrap_err().contains("unknown tmpfs option 'huge=1'"));
        assert!("x:size=1m".parse::<Tmpfs>().is_err());
    }
}
