//! User and group names, looked up in a passwd(5)/group(5) file read directly.
//!
//! The tools read the files themselves rather than through NSS: a statically linked
//! tool has no NSS modules, and inside a container the file that counts is the
//! container's own `/etc/passwd`, not the host's. A container's file read from the host
//! side is opened inside the container's root ([`IdFile::InRoot`]): a symlink the image
//! or the container planted there must not lead to a host file.

use std::io;
use std::path::Path;

/// A passwd or group file: a path as this process sees it, or a path inside another
/// root (a container's, `/proc/PID/root`), resolved there with
/// `openat2(RESOLVE_IN_ROOT)` so that absolute symlinks and `..` stay inside it.
#[derive(Debug, Clone, Copy)]
pub enum IdFile<'a> {
    /// A path of this process.
    Path(&'a Path),
    /// `path` inside `root`.
    InRoot {
        /// The root directory (opened first).
        root: &'a Path,
        /// The path inside it (`/etc/passwd`).
        path: &'a Path,
    },
}

impl<'a> From<&'a Path> for IdFile<'a> {
    fn from(p: &'a Path) -> IdFile<'a> {
        IdFile::Path(p)
    }
}

impl<'a> From<&'a std::path::PathBuf> for IdFile<'a> {
    fn from(p: &'a std::path::PathBuf) -> IdFile<'a> {
        IdFile::Path(p)
    }
}

impl IdFile<'_> {
    fn display(&self) -> String {
        match self {
            IdFile::Path(p) => p.display().to_string(),
            IdFile::InRoot { root, path } => format!("{} (inside '{}')", path.display(), root.display()),
        }
    }

    /// The file's text. Only a regular file is read, and at most 16 MiB of it: a
    /// container's /etc/passwd may be a FIFO (which would block), a device (`/dev/zero`,
    /// endless) or anything else its image made it. (Opened without blocking and
    /// without taking a terminal, so that such a file is only opened and refused.)
    fn read(&self) -> io::Result<String> {
        use std::io::Read;
        const FLAGS: i32 = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
        let file = match self {
            IdFile::Path(p) => {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(p)?
            }
            IdFile::InRoot { root, path } => {
                use crate::openat2::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
                let dir = std::fs::File::open(root)?;
                let fd =
                    openat2(std::os::fd::AsFd::as_fd(&dir), path, FLAGS, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
                        .map_err(io::Error::from)?;
                std::fs::File::from(fd)
            }
        };
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "not a regular file"));
        }
        let mut text = String::new();
        file.take(16 << 20).read_to_string(&mut text)?;
        Ok(text)
    }
}

/// A name or id that could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum IdError {
    /// No such name in the file.
    #[error("no {kind} named '{name}' in '{file}'")]
    NoSuchName {
        /// "user" or "group".
        kind: &'static str,
        /// The name looked up.
        name: String,
        /// The file searched.
        file: String,
    },
    /// The file could not be read.
    #[error("cannot read '{file}': {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: io::Error,
    },
}

/// One line of passwd(5) or group(5): name, id, and (passwd) primary group and home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Login or group name.
    pub name: String,
    /// uid or gid.
    pub id: u32,
    /// passwd: the primary gid; group: 0.
    pub gid: u32,
    /// passwd: the home directory; group: the member list.
    pub extra: String,
}

/// The text of a passwd or group file; a missing file is empty.
fn read_text(file: IdFile<'_>) -> Result<String, IdError> {
    match file.read() {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(IdError::Read { file: file.display(), source }),
    }
}

/// The lines of a passwd or group text that can hold an entry (not comments).
fn entry_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.starts_with('#'))
}

/// Field `n` (from 0) of a colon-separated line.
fn field(line: &str, n: usize) -> Option<&str> {
    line.split(':').nth(n)
}

/// One line as an entry; `None` if it is malformed.
fn parse_entry(line: &str, passwd: bool) -> Option<Entry> {
    let f: Vec<&str> = line.split(':').collect();
    let id = f.get(2)?.parse().ok()?;
    let (gid, extra) = if passwd {
        (f.get(3)?.parse().ok()?, f.get(5).copied().unwrap_or("").to_string())
    } else {
        (0, f.get(3).copied().unwrap_or("").to_string())
    };
    Some(Entry { name: f[0].to_string(), id, gid, extra })
}

/// Read the entries of a passwd or group file. A missing file has no entries.
pub fn read_entries<'a>(file: impl Into<IdFile<'a>>, passwd: bool) -> Result<Vec<Entry>, IdError> {
    Ok(entry_lines(&read_text(file.into())?).filter_map(|l| parse_entry(l, passwd)).collect())
}

/// The first well-formed entry whose field `n` satisfies `wanted` (only the lines that
/// do are made entries).
fn find_entry(
    file: IdFile<'_>,
    passwd: bool,
    n: usize,
    wanted: impl Fn(&str) -> bool,
) -> Result<Option<Entry>, IdError> {
    Ok(entry_lines(&read_text(file)?).filter(|l| field(l, n).is_some_and(&wanted)).find_map(|l| parse_entry(l, passwd)))
}

fn resolve(spec: &str, file: IdFile<'_>, passwd: bool) -> Result<u32, IdError> {
    if let Ok(id) = spec.parse::<u32>() {
        return Ok(id);
    }
    find_entry(file, passwd, 0, |name| name == spec)?.map(|e| e.id).ok_or_else(|| IdError::NoSuchName {
        kind: if passwd { "user" } else { "group" },
        name: spec.to_string(),
        file: file.display(),
    })
}

/// A uid from a number or a name in `passwd` (e.g. `/etc/passwd`).
pub fn user_id<'a>(spec: &str, passwd: impl Into<IdFile<'a>>) -> Result<u32, IdError> {
    resolve(spec, passwd.into(), true)
}

/// A gid from a number or a name in `group` (e.g. `/etc/group`).
pub fn group_id<'a>(spec: &str, group: impl Into<IdFile<'a>>) -> Result<u32, IdError> {
    resolve(spec, group.into(), false)
}

/// The passwd entry of `uid`, if any.
pub fn user_by_id<'a>(uid: u32, passwd: impl Into<IdFile<'a>>) -> Result<Option<Entry>, IdError> {
    find_entry(passwd.into(), true, 2, |id| id.parse::<u32>().ok() == Some(uid))
}

/// The home directory of `uid` in `passwd`, `/` where it has none (or cannot be read):
/// the HOME a program gets where its environment has none, as runc gives it.
pub fn home_dir<'a>(uid: u32, passwd: impl Into<IdFile<'a>>) -> String {
    let entry = user_by_id(uid, passwd).ok().flatten();
    entry.map(|e| e.extra).filter(|h| !h.is_empty()).unwrap_or_else(|| "/".into())
}

/// The group entry of `gid`, if any.
pub fn group_by_id<'a>(gid: u32, group: impl Into<IdFile<'a>>) -> Result<Option<Entry>, IdError> {
    find_entry(group.into(), false, 2, |id| id.parse::<u32>().ok() == Some(gid))
}

/// The supplementary groups `user` is a member of in `group` (by name in the member list).
pub fn groups_of<'a>(user: &str, group: impl Into<IdFile<'a>>) -> Result<Vec<u32>, IdError> {
    Ok(read_entries(group, false)?
        .into_iter()
        .filter(|e| e.extra.split(',').any(|m| m == user))
        .map(|e| e.id)
        .collect())
}

/// `names` (group names in `group`, or gids) added to `groups` where missing, as
/// docker's `--group-add`; the name that could not be resolved, with why.
pub fn add_groups<'a>(
    groups: &mut Vec<u32>,
    names: &[String],
    group: impl Into<IdFile<'a>>,
) -> Result<(), (String, IdError)> {
    let group = group.into();
    for name in names {
        let gid = group_id(name, group).map_err(|e| (name.clone(), e))?;
        if !groups.contains(&gid) {
            groups.push(gid);
        }
    }
    Ok(())
}

/// `USER[:GROUP]` (names or numbers) as the credentials a process runs with, docker's
/// way: the uid; the GROUP given, else the user's primary group from `passwd`, else the
/// uid; and, when no GROUP is given, the supplementary groups `group` lists the user in.
pub fn credentials<'a>(
    spec: &str,
    passwd: impl Into<IdFile<'a>>,
    group: impl Into<IdFile<'a>>,
) -> Result<crate::confine::Credentials, IdError> {
    let (passwd, group) = (passwd.into(), group.into());
    let (user, grp) = spec.split_once(':').map(|(u, g)| (u, Some(g))).unwrap_or((spec, None));
    let uid = user_id(user, passwd)?;
    let entry = user_by_id(uid, passwd)?;
    let gid = match grp {
        Some(g) => group_id(g, group)?,
        None => entry.as_ref().map(|e| e.gid).unwrap_or(uid),
    };
    let groups = match (&entry, grp) {
        (Some(e), None) => groups_of(&e.name, group)?,
        _ => Vec::new(),
    };
    Ok(crate::confine::Credentials { uid, gid, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_names_and_numbers() {
        let dir = std::env::temp_dir().join(format!("ids-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("passwd");
        std::fs::write(&p, "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n").unwrap();
        let g = dir.join("group");
        std::fs::write(&g, "root:x:0:\nweb:x:34:www,bob\n").unwrap();
        assert_eq!(user_id("www", &p).unwrap(), 33);
        assert_eq!(user_id("1234", &p).unwrap(), 1234);
        assert!(user_id("nobody-here", &p).is_err());
        assert_eq!(group_id("web", &g).unwrap(), 34);
        assert_eq!(groups_of("www", &g).unwrap(), vec![34]);
        assert_eq!(user_by_id(33, &p).unwrap().unwrap().gid, 34);
        assert_eq!(group_by_id(34, &g).unwrap().map(|e| e.name), Some("web".to_string()));
        assert_eq!(group_by_id(35, &g).unwrap(), None);
        let mut groups = vec![34];
        add_groups(&mut groups, &["web".into(), "root".into(), "77".into()], &g).unwrap();
        assert_eq!(groups, vec![34, 0, 77]);
        assert_eq!(add_groups(&mut groups, &["nope".into()], &g).unwrap_err().0, "nope");
        assert_eq!((home_dir(33, &p), home_dir(34, &p)), ("/var/www".to_string(), "/".to_string()));
        // Not a regular file (a FIFO would block a plain read; /dev/zero never ends): refused.
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        for odd in [fifo.as_path(), Path::new("/dev/zero")] {
            let e = user_id("www", odd).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
            assert_eq!(home_dir(0, odd), "/");
        }
        let c = credentials("www", &p, &g).unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (33, 34, vec![34]));
        let c = credentials("www:root", &p, &g).unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (33, 0, vec![]));
        let c = credentials("4321", &p, &g).unwrap();
        assert_eq!((c.uid, c.gid, c.groups), (4321, 4321, vec![]));
        // Comments and malformed lines are passed over, even where their field matches.
        std::fs::write(&p, "# www:x:1:1\nwww:x:33:bad\nwww:x:0033:35:www:/w:/bin/false\n").unwrap();
        assert_eq!(user_id("www", &p).unwrap(), 33);
        assert_eq!(user_by_id(33, &p).unwrap().map(|e| (e.name, e.gid)), Some(("www".to_string(), 35)));
        assert_eq!(user_by_id(1, &p).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
