//! A layer stack: read-only lower layers (top first, as overlayfs lists `lowerdir`), an
//! optional init layer above them, an optional upper and work directory. Everything is
//! checked before anything is mounted, and an error names the path that is wrong.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use chainload::error::FromIo;

/// The kernel's limit of lower layers (OVL_MAX_STACK).
pub const MAX_LOWERS: usize = 500;

/// A layer stack.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Stack {
    /// Image layers, top first.
    pub lowers: Vec<PathBuf>,
    /// The init layer (hostname, hosts, resolv.conf), above the image layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_layer: Option<PathBuf>,
    /// Where writes go; `None` makes the mount read-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper: Option<PathBuf>,
    /// overlayfs's work directory (same filesystem as upper, empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work: Option<PathBuf>,
    /// Extra mount options (`-o`), as given.
    pub options: Vec<String>,
}

/// Split `--lower` values: each may be one directory or several joined by `:`.
/// A `\:` is a colon inside a path.
pub fn split_lowers(values: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for v in values {
        let mut cur = String::new();
        let mut chars = v.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&':') => {
                    cur.push(':');
                    chars.next();
                }
                ':' => out.push(PathBuf::from(std::mem::take(&mut cur))),
                c => cur.push(c),
            }
        }
        out.push(PathBuf::from(cur));
    }
    out.into_iter().filter(|p| !p.as_os_str().is_empty()).collect()
}

fn absolute(p: &Path) -> Result<PathBuf, Error> {
    std::fs::canonicalize(p).map_err(|e| Error::io("layer", p, e))
}

impl Stack {
    /// The lower layers as overlayfs sees them: the init layer (if any) on top.
    pub fn lowerdirs(&self) -> Vec<PathBuf> {
        self.init_layer.iter().cloned().chain(self.lowers.iter().cloned()).collect()
    }

    /// Check the stack, resolve every path to an absolute one, and create upper and work
    /// if missing (returning which it created, so a failure can remove them).
    pub fn prepare(&mut self) -> Result<Vec<PathBuf>, Error> {
        let usage = |m: String| Err(Error::Usage(m));
        if self.lowers.is_empty() {
            return usage("at least one --lower layer is needed".into());
        }
        if self.lowerdirs().len() > MAX_LOWERS {
            return usage(format!("{} lower layers: the kernel takes at most {MAX_LOWERS}", self.lowerdirs().len()));
        }
        if self.upper.is_some() != self.work.is_some() {
            return usage("--upper and --work go together".into());
        }
        let mut resolved = Vec::with_capacity(self.lowers.len());
        for l in &self.lowers {
            let meta = std::fs::metadata(l).map_err(|e| Error::io("lower layer", l, e))?;
            if !meta.is_dir() {
                return usage(format!("lower layer '{}' is not a directory", l.display()));
            }
            resolved.push(absolute(l)?);
        }
        self.lowers = resolved;
        if let Some(i) = &self.init_layer {
            std::fs::create_dir_all(i).map_err(|e| Error::io("cannot create init layer", i, e))?;
            self.init_layer = Some(absolute(i)?);
        }
        let mut created = Vec::new();
        if let (Some(upper), Some(work)) = (self.upper.clone(), self.work.clone()) {
            for d in [&upper, &work] {
                if !d.exists() {
                    std::fs::create_dir_all(d).map_err(|e| Error::io("cannot create", d, e))?;
                    created.push(d.clone());
                }
            }
            let result = self.check_upper_work(&upper, &work);
            if let Err(e) = result {
                for d in created.iter().rev() {
                    let _ = std::fs::remove_dir(d);
                }
                return Err(e);
            }
        }
        if let Some((a, b)) = self.overlap() {
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return usage(format!("layers overlap: '{}' and '{}'", a.display(), b.display()));
        }
        Ok(created)
    }

    /// Two layers overlayfs refuses together: upper and work inside one another, a layer
    /// inside upper or work, or the same directory twice in different roles. (Upper and
    /// work *inside* a lower layer are fine: that is how the host's own root serves as a
    /// lower layer.)
    fn overlap(&self) -> Option<(PathBuf, PathBuf)> {
        let lowers: Vec<&PathBuf> = self.lowers.iter().chain(&self.init_layer).collect();
        let writable: Vec<&PathBuf> = self.upper.iter().chain(&self.work).collect();
        if let [u, w] = writable.as_slice() {
            if u.starts_with(w) || w.starts_with(u) {
                return Some(((*u).clone(), (*w).clone()));
            }
        }
        for w in &writable {
            for l in &lowers {
                if l.starts_with(w) {
                    return Some(((*l).clone(), (*w).clone()));
                }
            }
        }
        if let Some(init) = &self.init_layer {
            if let Some(l) = self.lowers.iter().find(|l| *l == init || init.starts_with(l) || l.starts_with(init)) {
                return Some((init.clone(), l.clone()));
            }
        }
        None
    }

    fn check_upper_work(&mut self, upper: &Path, work: &Path) -> Result<(), Error> {
        let um = std::fs::metadata(upper).map_err(|e| Error::io("upper", upper, e))?;
        let wm = std::fs::metadata(work).map_err(|e| Error::io("work", work, e))?;
        if !um.is_dir() || !wm.is_dir() {
            return Err(Error::Usage(format!(
                "--upper '{}' and --work '{}' must be directories",
                upper.display(),
                work.display()
            )));
        }
        if um.dev() != wm.dev() {
            return Err(Error::Usage(format!(
                "--upper '{}' and --work '{}' are on different filesystems; overlayfs needs them on one",
                upper.display(),
                work.display()
            )));
        }
        let entries = std::fs::read_dir(work).map_err(|e| Error::io("work", work, e))?;
        // overlayfs leaves its own `work` (and `index`) directory behind; those are fine.
        let foreign: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "work" && n != "index")
            .collect();
        if let Some(n) = foreign.first() {
            return Err(Error::Usage(format!("--work '{}' is not empty (it holds '{n}')", work.display())));
        }
        self.upper = Some(absolute(upper)?);
        self.work = Some(absolute(work)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_colons_and_escapes() {
        let v = split_lowers(&["a:b".into(), "c".into(), "with\\:colon:d".into()]);
        assert_eq!(v, vec![PathBuf::from("a"), "b".into(), "c".into(), "with:colon".into(), "d".into()]);
    }
}
