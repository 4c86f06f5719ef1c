//! Container directories kept for reuse. A removed container's directory is emptied and
//! moved to `ROOT/spare` (at most [`MAX`] of them), and the next container's directory
//! is one of those renamed into place: a rename allocates and frees nothing on the
//! filesystem. On ext4 (mounted with `discard`, as this project's development machine's
//! `/run` is) every directory made costs a block, and removing it discards that block
//! synchronously: a directory made and removed costs about 0.1 ms there, against a few
//! microseconds on a tmpfs.
//!
//! A spare holds at most an empty `merged` (the overlay's mount point, reused too).
//! One found otherwise is not used: it is removed, and a new directory made.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::paths::Root;
use crate::rootless::UserNs;
use crate::Error;
use chainload::error::FromIo;

/// How many emptied container directories are kept at most.
pub const MAX: usize = 8;

/// The one entry a spare may keep.
const KEPT: &str = "merged";

/// Make the directory `dir` of a new container (0700): a spare renamed into place when
/// there is one, else a new one.
pub fn take(root: &Root, dir: &Path) -> Result<(), Error> {
    for e in std::fs::read_dir(root.spares()).into_iter().flatten().flatten() {
        // (Another ctr-run may take the same spare first: then the next one.)
        if std::fs::rename(e.path(), dir).is_err() {
            continue;
        }
        if is_clean(dir) {
            return Ok(());
        }
        let _ = std::fs::remove_dir_all(dir);
        break;
    }
    crate::paths::private_dir(dir)
}

/// Remove what the directory `dir` of a removed container holds, and keep it as a
/// spare; remove it too where [`MAX`] spares are kept already. (`userns`: a rootless
/// container's, whose files the user may only remove in its namespace.)
pub fn give_back(root: &Root, userns: Option<&UserNs>, dir: &Path) -> Result<(), Error> {
    let keep = std::fs::read_dir(root.spares()).map(|rd| rd.count() < MAX).unwrap_or(false);
    if keep {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))?;
        for e in entries.flatten() {
            let path = e.path();
            if e.file_name() == KEPT && is_empty_dir(&path) {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => crate::rootless::remove_tree(userns, &path)?,
                _ => std::fs::remove_file(&path).map_err(|err| Error::io("cannot remove", &path, err))?,
            }
        }
        if let Some(name) = dir.file_name() {
            if std::fs::rename(dir, root.spares().join(name)).is_ok() {
                return Ok(());
            }
        }
    }
    crate::rootless::remove_tree(userns, dir)
}

/// Whether `dir` is a spare as [`give_back`] leaves one: this user's directory, 0700,
/// holding at most an empty `merged`.
fn is_clean(dir: &Path) -> bool {
    let mine =
        |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::geteuid().as_raw());
    if !mine(dir) || std::fs::symlink_metadata(dir).map(|m| m.mode() & 0o7777).ok() != Some(0o700) {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().all(|e| e.file_name() == KEPT && mine(&e.path()) && is_empty_dir(&e.path()))
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut rd| rd.next().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_is_reused_only_when_clean_and_at_most_max_are_kept() {
        let t = std::env::temp_dir().join(format!("ctr-run-spares-{}", std::process::id()));
        let root = Root::new(&t).unwrap();
        root.ensure().unwrap();
        // Given back with its files, it keeps only its empty `merged`; taken again, it is
        // the same directory.
        let a = t.join("a".repeat(64));
        take(&root, &a).unwrap();
        std::fs::create_dir(a.join("merged")).unwrap();
        std::fs::create_dir_all(a.join("upper/etc")).unwrap();
        std::fs::write(a.join("state.json"), "{}").unwrap();
        let ino = std::fs::metadata(&a).unwrap().ino();
        give_back(&root, None, &a).unwrap();
        assert!(!a.exists());
        let b = t.join("b".repeat(64));
        take(&root, &b).unwrap();
        assert_eq!(std::fs::metadata(&b).unwrap().ino(), ino, "the spare was not reused");
        let left: Vec<_> = std::fs::read_dir(&b).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, ["merged"]);
        // A spare that holds something else is not used.
        std::fs::write(b.join("stray"), "x").unwrap();
        std::fs::rename(&b, root.spares().join("dirty")).unwrap();
        let c = t.join("c".repeat(64));
        take(&root, &c).unwrap();
        assert!(std::fs::read_dir(&c).unwrap().next().is_none(), "a dirty spare was used");
        assert!(!root.spares().join("dirty").exists(), "the dirty spare was kept");
        // At most MAX are kept: the ones after are removed.
        let made: Vec<_> = (0..MAX).map(|i| t.join(format!("{i:064}"))).collect();
        for d in &made {
            take(&root, d).unwrap();
        }
        let dirs: Vec<_> = made.into_iter().chain([c]).collect();
        for d in &dirs {
            give_back(&root, None, d).unwrap();
            assert!(!d.exists());
        }
        assert_eq!(std::fs::read_dir(root.spares()).unwrap().count(), MAX);
        std::fs::remove_dir_all(&t).unwrap();
    }
}
