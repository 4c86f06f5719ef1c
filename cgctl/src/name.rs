//! Group names: `/ctr/web` is absolute from each hierarchy's root; `web` or `a/b` is
//! relative to the caller's own cgroup in each hierarchy (runc's v1 convention). A name
//! that could leave the hierarchy is refused.

use std::path::{Path, PathBuf};

use crate::setup::Hierarchy;
use crate::Error;

/// A checked group name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName {
    text: String,
    absolute: bool,
    parts: Vec<String>,
}

impl GroupName {
    /// Check a name: non-empty components, none `.` or `..`, no NUL.
    pub fn parse(s: &str) -> Result<GroupName, Error> {
        let bad = |why: &str| Err(Error::Usage(format!("invalid group name '{s}': {why}")));
        if s.is_empty() || s == "/" {
            return bad("it is empty");
        }
        if s.contains('\0') || s.contains('\n') {
            return bad("it contains a NUL or newline");
        }
        let absolute = s.starts_with('/');
        let body = s.trim_start_matches('/').trim_end_matches('/');
        let mut parts = Vec::new();
        for p in body.split('/') {
            match p {
                "" => return bad("it has an empty component ('//')"),
                "." | ".." => return bad("'.' and '..' would leave the hierarchy"),
                _ => parts.push(p.to_string()),
            }
        }
        Ok(GroupName { text: s.to_string(), absolute, parts })
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the name is absolute.
    pub fn is_absolute(&self) -> bool {
        self.absolute
    }

    /// The cgroup path of this group in `h` (`/own/cgroup/web` or `/ctr/web`).
    pub fn cgroup_path(&self, h: &Hierarchy) -> PathBuf {
        let mut p = if self.absolute { PathBuf::from("/") } else { h.own_cgroup.clone() };
        for part in &self.parts {
            p.push(part);
        }
        p
    }

    /// The directory of this group in `h`.
    pub fn dir(&self, h: &Hierarchy) -> PathBuf {
        h.dir_of(&self.cgroup_path(h))
    }

    /// The directory of the base this name is relative to in `h` (the caller's own
    /// cgroup, or the hierarchy's root for an absolute name).
    pub fn base_dir(&self, h: &Hierarchy) -> PathBuf {
        if self.absolute {
            h.dir_of(Path::new("/"))
        } else {
            h.dir_of(&h.own_cgroup)
        }
    }

    /// The name of a child group `child` of this one.
    pub fn join(&self, child: &str) -> GroupName {
        let mut g = self.clone();
        g.text = format!("{}/{child}", self.text.trim_end_matches('/'));
        g.parts.push(child.to_string());
        g
    }
}

impl std::fmt::Display for GroupName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        assert!(GroupName::parse("..").is_err());
        assert!(GroupName::parse("a/../b").is_err());
        assert!(GroupName::parse("/../x").is_err());
        assert!(GroupName::parse("a//b").is_err());
        assert!(GroupName::parse("").is_err());
        assert!(GroupName::parse("./a").is_err());
        assert!(GroupName::parse("web").unwrap().parts == vec!["web"]);
        assert!(GroupName::parse("/ctr/web").unwrap().is_absolute());
    }
}
