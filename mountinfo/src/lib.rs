//! `mountinfo`: parse `/proc/PID/mountinfo` (proc(5)), the mount table that unshare-rs
//! (propagation of a persist target), cgctl (where the cgroup hierarchies are), ovlmount
//! (mounts under a new root) and ctr-run (what a container left) all read.

use std::io;
use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Unique id of the mount.
    pub id: u32,
    /// Id of the parent mount.
    pub parent: u32,
    /// `major:minor` of the filesystem's device.
    pub dev: String,
    /// The directory of the filesystem that forms this mount's root.
    pub root: PathBuf,
    /// Where it is mounted, relative to the reader's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub options: String,
    /// Optional fields (`shared:1`, `master:2`, `propagate_from:3`, `unbindable`).
    pub optional: Vec<String>,
    /// Filesystem type (`ext4`, `cgroup2`, `overlay`).
    pub fstype: String,
    /// Mount source (device or `none`).
    pub source: String,
    /// Per-superblock options (`rw,lowerdir=...`, the cgroup v1 controllers).
    pub super_options: String,
}

/// How mount events propagate to and from a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// `shared:N` without `master:`.
    Shared,
    /// `master:N` (a slave), possibly also shared.
    Slave,
    /// Neither.
    Private,
    /// `unbindable`.
    Unbindable,
}

impl Mount {
    /// The mount's propagation type.
    pub fn propagation(&self) -> Propagation {
        let has = |p: &str| self.optional.iter().any(|o| o.starts_with(p));
        if has("unbindable") {
            Propagation::Unbindable
        } else if has("master:") {
            Propagation::Slave
        } else if has("shared:") {
            Propagation::Shared
        } else {
            Propagation::Private
        }
    }

    /// Whether a comma-separated per-mount option is set (`ro`, `nosuid`).
    pub fn has_option(&self, opt: &str) -> bool {
        self.options.split(',').any(|o| o == opt)
    }

    /// Whether a per-superblock option is set (`memory` for a v1 memory hierarchy).
    pub fn has_super_option(&self, opt: &str) -> bool {
        self.super_options.split(',').any(|o| o == opt)
    }
}

/// Undo the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one line; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<Mount> {
    let mut f = line.split(' ');
    let id = f.next()?.parse().ok()?;
    let parent = f.next()?.parse().ok()?;
    let dev = f.next()?.to_string();
    let root = PathBuf::from(unescape(f.next()?));
    let mount_point = PathBuf::from(unescape(f.next()?));
    let options = f.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        let o = f.next()?;
        if o == "-" {
            break;
        }
        optional.push(o.to_string());
    }
    let fstype = f.next()?.to_string();
    let source = unescape(f.next()?);
    let super_options = f.next().unwrap_or("").to_string();
    Some(Mount { id, parent, dev, root, mount_point, options, optional, fstype, source, super_options })
}

/// Parse a whole mountinfo text.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

/// The filesystem type of a mountinfo line (the field after the ` - ` separator),
/// without parsing the rest: usually the third field from the end, as the source and
/// the superblock options that follow it hold no space (the kernel escapes them).
pub fn fstype_of(line: &str) -> Option<&str> {
    let mut back = line.rsplitn(5, ' ');
    match (back.next(), back.next(), back.next(), back.next()) {
        (Some(_), Some(_), Some(fstype), Some("-")) => Some(fstype),
        // (A line without superblock options.)
        _ => line.split_once(" - ").and_then(|(_, after)| after.split(' ').next()),
    }
}

/// Parse only the lines of a mountinfo text whose filesystem type is one of `fstypes`
/// (cgctl wants the cgroup mounts of a table that may hold hundreds).
pub fn parse_of_types(text: &str, fstypes: &[&str]) -> Vec<Mount> {
    text.lines().filter(|l| fstype_of(l).is_some_and(|t| fstypes.contains(&t))).filter_map(parse_line).collect()
}

/// Read a file of procfs or sysfs whole. Their files report size 0, so a plain
/// `read_to_string` starts with 32-byte reads; this reads 8 KiB at a time.
pub fn read_virtual_file(path: impl AsRef<Path>) -> io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = Vec::with_capacity(8192);
    f.read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The mount table of this process.
pub fn read_self() -> io::Result<Vec<Mount>> {
    Ok(parse(&read_virtual_file("/proc/self/mountinfo")?))
}

/// The mount table of process `pid`.
pub fn read_pid(pid: i32) -> io::Result<Vec<Mount>> {
    Ok(parse(&read_virtual_file(format!("/proc/{pid}/mountinfo"))?))
}

/// The mount id of the mount `path` is on (from `/proc/self/fdinfo`, which follows the
/// path exactly as the kernel resolves it, bind mounts and all).
pub fn mount_id_of(path: &Path) -> io::Result<u32> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    // O_PATH: opens any file type without reading it (x86_64/aarch64 value).
    const O_PATH: i32 = 0o10000000;
    let f = std::fs::OpenOptions::new().read(true).custom_flags(O_PATH).open(path)?;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", f.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no mnt_id in fdinfo"))
}

/// The mount `path` is on, in this process's table.
pub fn mount_of(path: &Path) -> io::Result<Mount> {
    let id = mount_id_of(path)?;
    read_self()?
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("mount {id} not in mountinfo")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines() {
        let m =
            parse_line("36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue")
                .unwrap();
        assert_eq!(m.id, 36);
        assert_eq!(m.mount_point, PathBuf::from("/mnt 2"));
        assert_eq!(m.optional, vec!["master:1", "shared:7"]);
        assert_eq!(m.propagation(), Propagation::Slave);
        assert_eq!(m.fstype, "ext3");
        assert!(m.has_option("noatime"));
        let p = parse_line("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw").unwrap();
        assert_eq!(p.propagation(), Propagation::Private);
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn parses_only_the_types_asked_for() {
        let text = "22 1 0:21 / /proc rw - proc proc rw\n\
                    30 22 0:26 / /sys/fs/cgroup/a\\040b rw - cgroup cgroup rw,memory\n\
                    31 22 0:27 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n\
                    bad line\n";
        assert_eq!(fstype_of("22 1 0:21 / /proc rw - proc proc rw"), Some("proc"));
        assert_eq!(fstype_of("bad line"), None);
        assert_eq!(fstype_of("22 1 0:21 / /proc rw - proc proc"), Some("proc"));
        let got = parse_of_types(text, &["cgroup", "cgroup2"]);
        let points: Vec<&Path> = got.iter().map(|m| m.mount_point.as_path()).collect();
        assert_eq!(points, [Path::new("/sys/fs/cgroup/a b"), Path::new("/sys/fs/cgroup/unified")]);
        assert_eq!(got, parse(text).into_iter().filter(|m| m.fstype.starts_with("cgroup")).collect::<Vec<_>>());
        assert_eq!(unescape("/plain/path"), "/plain/path");
    }

    #[test]
    fn finds_root_mount() {
        let m = mount_of(Path::new("/")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/"));
    }
}
