//! `--passwd-entry LINE` and `--group-entry LINE`: an account added to the new root's
//! `/etc/passwd` or `/etc/group` unless an entry with its id is there already, as
//! podman adds the user of `--userns keep-id` (so that `id -un`, `whoami` and programs
//! that look up their own user work). The line goes through the overlay, into the upper
//! layer; the files (and `/etc`) are made when the image has none.
//!
//! Everything is opened inside the new root (symlinks resolved in it), and only a
//! regular file is written: an image whose `/etc/passwd` leads out of it, or is a FIFO
//! or a device, gets an error, not a write elsewhere.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::sys::stat::{fstat, SFlag};

use crate::error::Error;
use crate::rootfs::{Kind, NewRoot};
use chainload::error::{sys, FromIo};

/// Which file an entry goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountFile {
    /// `/etc/passwd` (seven fields, the uid third).
    Passwd,
    /// `/etc/group` (four fields, the gid third).
    Group,
}

impl AccountFile {
    fn path(self) -> &'static str {
        match self {
            AccountFile::Passwd => "/etc/passwd",
            AccountFile::Group => "/etc/group",
        }
    }

    fn fields(self) -> usize {
        match self {
            AccountFile::Passwd => 7,
            AccountFile::Group => 4,
        }
    }

    fn flag(self) -> &'static str {
        match self {
            AccountFile::Passwd => "--passwd-entry",
            AccountFile::Group => "--group-entry",
        }
    }
}

/// One line to add, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    /// The file it goes to.
    pub file: AccountFile,
    /// The line, without its newline.
    pub line: String,
    /// Its uid or gid.
    pub id: u32,
}

impl AccountEntry {
    /// `line` as an entry of `file`: the right number of colon-separated fields, a name,
    /// a numeric id (and for passwd a numeric group), no newline.
    pub fn parse(file: AccountFile, line: &str) -> Result<AccountEntry, String> {
        let fields: Vec<&str> = line.split(':').collect();
        let expected = file.fields();
        if line.contains(['\n', '\0']) || fields.len() != expected {
            return Err(format!("expected {expected} colon-separated fields on one line, got '{line}'"));
        }
        if fields[0].is_empty() || fields[0].contains(char::is_whitespace) {
            return Err(format!("'{}' is not a name", fields[0]));
        }
        let id = fields[2].parse().map_err(|_| format!("'{}' is not a numeric id", fields[2]))?;
        if file == AccountFile::Passwd {
            fields[3].parse::<u32>().map_err(|_| format!("'{}' is not a numeric group id", fields[3]))?;
        }
        Ok(AccountEntry { file, line: line.to_string(), id })
    }

    /// Add the line to its file in `root`, unless an entry there has its id already.
    pub fn add(&self, root: &NewRoot) -> Result<(), Error> {
        let path = self.file.path();
        let fd = root.place(Path::new(path), Kind::File)?;
        let mut file = reopen_regular(&fd, path)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|e| Error::io("cannot read", Path::new(path), e))?;
        if has_id(&text, self.id) {
            return Ok(());
        }
        let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
        let flag = self.file.flag();
        file.write_all(format!("{sep}{}\n", self.line).as_bytes())
            .map_err(|e| Error::InContainer(format!("{flag}: cannot add to '{path}': {e}")))
    }
}

/// The regular file `fd` (an `O_PATH` descriptor opened inside the root) opened to read
/// and append; anything else is refused, before it is opened for real.
fn reopen_regular(fd: &OwnedFd, shown: &str) -> Result<std::fs::File, Error> {
    let st = fstat(fd).map_err(sys(format!("cannot stat '{shown}' inside the new root")))?;
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
        return Err(Error::InContainer(format!("'{shown}' in the container is not a regular file")));
    }
    // (The descriptor's own file, whatever its path has become: /proc's link to it.)
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(&link)
        .map_err(|e| Error::io("cannot open", Path::new(shown), e))
}

/// Whether an entry of `text` (passwd or group: the id is the third field) has `id`.
fn has_id(text: &str, id: u32) -> bool {
    text.lines().filter(|l| !l.starts_with('#')).any(|l| l.split(':').nth(2).and_then(|f| f.parse().ok()) == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked() {
        let e = AccountEntry::parse(AccountFile::Passwd, "me:*:1000:1000:me:/home/me:/bin/sh").unwrap();
        assert_eq!(e.id, 1000);
        assert_eq!(AccountEntry::parse(AccountFile::Group, "me:x:1001:").unwrap().id, 1001);
        for bad in
            ["me:*:1000:1000:me:/home/me", "me:*:x:1000:me:/h:/bin/sh", "me:*:1:g:me:/h:/bin/sh", ":*:1:1::/:/bin/sh"]
        {
            assert!(AccountEntry::parse(AccountFile::Passwd, bad).is_err(), "{bad}");
        }
        assert!(AccountEntry::parse(AccountFile::Passwd, "me:*:1:1:me:/h:/bin/sh\nroot:x:0:0::/:/bin/sh").is_err());
        assert!(AccountEntry::parse(AccountFile::Group, "me:x:1").is_err());
    }

    #[test]
    fn ids_are_found_in_entries_only() {
        let text = "root:x:0:0:root:/root:/bin/sh\n# old:x:1000:1000::/:/bin/sh\nbad:x:zz\n";
        assert!(has_id(text, 0));
        assert!(!has_id(text, 1000));
        assert!(has_id("www:x:0033:33::/:/bin/false", 33));
    }
}
