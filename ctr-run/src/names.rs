//! Name claims: `ROOT/names/NAME`, a file holding the id of the container that has the
//! name. A claim is made atomically, so of two `run --name X` at once exactly one wins:
//! the id is written to a temporary file, which is then hard-linked to the name (link(2)
//! fails if the name exists).
//!
//! A file rather than a symlink to the id: a 64-digit target does not fit in an ext4
//! inode (a "fast" symlink holds at most 59 bytes), so such a symlink takes a block at
//! once, and freeing it costs a synchronous discard on a disk mounted with `discard`
//! (about 0.05 ms made and removed on this project's development machine, where `/run`
//! is such an ext4). A 64-byte file removed before the writeback delay takes none.
//! Claims made by earlier versions, symlinks, are still read.

use std::path::Path;

use crate::paths::Root;
use crate::Error;
use chainload::error::FromIo;

/// Create the claim of `name` for container `id`: false if the name is claimed already.
pub fn create(root: &Root, name: &str, id: &str) -> Result<bool, Error> {
    let claim = root.names().join(name);
    let tmp = root.names().join(format!(".{name}.{}.tmp", std::process::id()));
    let written = crate::paths::private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, id.as_bytes()));
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, &claim));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::io("cannot claim the name", &claim, e)),
    }
}

/// The id of the container that claimed `name`, if any.
pub fn holder(root: &Root, name: &str) -> Option<String> {
    read(&root.names().join(name))
}

/// Remove the claim of `name`, if container `id` holds it.
pub fn release(root: &Root, name: &str, id: &str) {
    let claim = root.names().join(name);
    if read(&claim).is_some_and(|h| h == id) {
        let _ = std::fs::remove_file(&claim);
    }
}

/// Remove the claim of `name` whoever holds it (its container is gone).
pub fn remove(root: &Root, name: &str) {
    let _ = std::fs::remove_file(root.names().join(name));
}

/// The id a claim holds: its text, or the target of an older version's symlink.
fn read(claim: &Path) -> Option<String> {
    if let Ok(target) = std::fs::read_link(claim) {
        return Some(target.to_string_lossy().into_owned());
    }
    std::fs::read_to_string(claim).ok().filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(tag: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("ctr-run-names-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("names")).unwrap();
        Root { dir }
    }

    #[test]
    fn a_name_is_claimed_once_and_released_by_its_holder_only() {
        let r = root("claim");
        assert!(create(&r, "web", "aaaa").unwrap());
        assert!(!create(&r, "web", "bbbb").unwrap());
        assert_eq!(holder(&r, "web").as_deref(), Some("aaaa"));
        release(&r, "web", "bbbb");
        assert_eq!(holder(&r, "web").as_deref(), Some("aaaa"));
        release(&r, "web", "aaaa");
        assert_eq!(holder(&r, "web"), None);
        // Nothing but the claims is left in the directory.
        assert!(create(&r, "db", "cccc").unwrap());
        let left: Vec<_> = std::fs::read_dir(r.names()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("db")]);
        std::fs::remove_dir_all(&r.dir).unwrap();
    }

    #[test]
    fn an_older_versions_symlink_claim_is_read() {
        let r = root("symlink");
        std::os::unix::fs::symlink("dddd", r.names().join("old")).unwrap();
        assert_eq!(holder(&r, "old").as_deref(), Some("dddd"));
        assert!(!create(&r, "old", "eeee").unwrap());
        std::fs::remove_dir_all(&r.dir).unwrap();
    }
}
