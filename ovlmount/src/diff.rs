//! `ovlmount diff`: what an upper directory changed, as `docker diff` prints it:
//! `A path` added, `C path` changed, `D path` deleted.
//!
//! A path is "changed" when it exists in a lower layer (given with `--lower`); without
//! lowers, when overlayfs recorded where it was copied up from (`overlay.origin`).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commit::is_whiteout;
use crate::tree::Tree;
use crate::Error;

/// One change.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// `A`, `C` or `D`.
    pub kind: char,
    /// The path as the container sees it.
    pub path: String,
}

/// The changes in `upper` over `lowers` (top first; may be empty).
pub fn diff(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, Error> {
    if !upper.is_dir() {
        return Err(Error::Usage(format!("upper '{}' is not a directory", upper.display())));
    }
    let mut out = Vec::new();
    let tree = Tree::open(upper)?;
    for rel in tree.walk_sorted()? {
        let entry = tree.place(&rel)?.open()?;
        let shown = format!("/{}", String::from_utf8_lossy(rel.as_os_str().as_bytes()));
        let kind = if is_whiteout(&entry) {
            'D'
        } else if lowers.is_empty() {
            let origin = ["trusted.overlay.origin", "user.overlay.origin"]
                .iter()
                .any(|a| entry.attrs().get(a.as_bytes()).is_ok());
            if origin {
                'C'
            } else {
                'A'
            }
        } else if lowers.iter().any(|l| l.join(&rel).symlink_metadata().is_ok()) {
            'C'
        } else {
            'A'
        };
        out.push(Change { kind, path: shown });
    }
    Ok(out)
}
