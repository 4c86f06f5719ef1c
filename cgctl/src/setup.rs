//! Which cgroup setup this machine has (v1, hybrid, v2), where each hierarchy is
//! mounted, which controllers it has, and where the caller sits in it. Everything is
//! read from `/proc/self/mountinfo` and `/proc/self/cgroup`, never from fixed paths.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;
use chainload::error::io;

/// The three worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setup {
    /// Only v1 hierarchies.
    V1,
    /// v1 controller hierarchies plus a v2 tree (usually with few or no controllers).
    Hybrid,
    /// Only the unified v2 tree.
    V2,
}

impl std::fmt::Display for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setup::V1 => "v1",
            Setup::Hybrid => "hybrid",
            Setup::V2 => "v2",
        })
    }
}

/// A cgroup filesystem version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    /// `cgroup` (one hierarchy per controller set).
    V1,
    /// `cgroup2` (the unified tree).
    V2,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, Serialize)]
pub struct Hierarchy {
    /// v1 or v2.
    pub version: Version,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path of the mount's root (`/` unless mounted from inside a group).
    #[serde(skip)]
    pub mount_root: PathBuf,
    /// Controllers: v1 from the mount options; v2 from the root's `cgroup.controllers`.
    pub controllers: Vec<String>,
    /// v1 named hierarchy (`name=systemd`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The caller's own cgroup in this hierarchy (from /proc/self/cgroup).
    pub own_cgroup: PathBuf,
}

impl Hierarchy {
    /// Whether this hierarchy has `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory of cgroup path `cgroup` (absolute, like `/a/b`) in this hierarchy.
    pub fn dir_of(&self, cgroup: &Path) -> PathBuf {
        let rel = cgroup.strip_prefix(&self.mount_root).or_else(|_| cgroup.strip_prefix("/")).unwrap_or(cgroup);
        self.mount_point.join(rel)
    }

    /// A short label: `v2` or the v1 controllers (`cpu,cpuacct`, `name=systemd`).
    pub fn label(&self) -> String {
        match (self.version, &self.name) {
            (Version::V2, _) => "v2".to_string(),
            (Version::V1, Some(n)) => format!("name={n}"),
            (Version::V1, None) => self.controllers.join(","),
        }
    }
}

/// The machine's cgroup setup.
#[derive(Debug, Clone, Serialize)]
pub struct Cgroups {
    /// v1, hybrid or v2.
    pub setup: Setup,
    /// Every mounted hierarchy (the first mount of each).
    pub hierarchies: Vec<Hierarchy>,
    /// Whether v2 groups have `cgroup.kill` (Linux 5.14 and later).
    pub v2_has_kill: bool,
}

/// The v1 controller names this kernel knows (`/proc/cgroups`).
fn known_v1_controllers() -> BTreeSet<String> {
    let text = mountinfo::read_virtual_file("/proc/cgroups").unwrap_or_default();
    let mut set: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    if set.is_empty() {
        for c in [
            "cpu",
            "cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "blkio",
            "pids",
            "net_cls",
            "net_prio",
            "hugetlb",
            "perf_event",
            "rdma",
            "misc",
        ] {
            set.insert(c.to_string());
        }
    }
    set
}

/// `/proc/self/cgroup` as (controllers, path) pairs; v2's line has no controllers.
fn own_cgroups() -> Result<Vec<(Vec<String>, PathBuf)>, Error> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| io("cannot read", Path::new("/proc/self/cgroup"), e))?;
    Ok(parse_proc_cgroup(&text))
}

pub use chainload::proccgroup::parse as parse_proc_cgroup;

impl Cgroups {
    /// Detect the setup of this machine from this process's mount table.
    pub fn detect() -> Result<Cgroups, Error> {
        let text = mountinfo::read_virtual_file("/proc/self/mountinfo")
            .map_err(|e| io("cannot read", Path::new("/proc/self/mountinfo"), e))?;
        let mounts = mountinfo::parse_of_types(&text, &["cgroup", "cgroup2"]);
        // (Each line's controllers sorted once, to be compared with a hierarchy's.)
        let own: Vec<(Vec<String>, PathBuf)> = own_cgroups()?
            .into_iter()
            .map(|(mut c, p)| {
                c.sort();
                (c, p)
            })
            .collect();
        let known = known_v1_controllers();
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for m in &mounts {
            if m.fstype == "cgroup2" {
                if hierarchies.iter().any(|h| h.version == Version::V2) {
                    continue;
                }
                let controllers = std::fs::read_to_string(m.mount_point.join("cgroup.controllers"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from)
                    .collect();
                let own_cgroup =
                    own.iter().find(|(c, _)| c.is_empty()).map(|(_, p)| p.clone()).unwrap_or_else(|| "/".into());
                hierarchies.push(Hierarchy {
                    version: Version::V2,
                    mount_point: m.mount_point.clone(),
                    mount_root: m.root.clone(),
                    controllers,
                    name: None,
                    own_cgroup,
                });
                continue;
            }
            let opts: Vec<&str> = m.super_options.split(',').collect();
            let controllers: Vec<String> = opts.iter().filter(|o| known.contains(**o)).map(|s| s.to_string()).collect();
            let name = opts.iter().find_map(|o| o.strip_prefix("name=")).map(String::from);
            if controllers.is_empty() && name.is_none() {
                continue;
            }
            if hierarchies.iter().any(|h| h.version == Version::V1 && h.controllers == controllers && h.name == name) {
                continue;
            }
            let mut key: Vec<String> = controllers.clone();
            if let Some(n) = &name {
                key.push(format!("name={n}"));
            }
            key.sort();
            let own_cgroup = own.iter().find(|(c, _)| *c == key).map(|(_, p)| p.clone()).unwrap_or_else(|| "/".into());
            hierarchies.push(Hierarchy {
                version: Version::V1,
                mount_point: m.mount_point.clone(),
                mount_root: m.root.clone(),
                controllers,
                name,
                own_cgroup,
            });
        }
        let has_v1 = hierarchies.iter().any(|h| h.version == Version::V1 && h.name.is_none());
        let has_v2 = hierarchies.iter().any(|h| h.version == Version::V2);
        let setup = match (has_v1, has_v2) {
            (true, true) => Setup::Hybrid,
            (true, false) => Setup::V1,
            (false, true) => Setup::V2,
            (false, false) => {
                return Err(Error::Unsupported("no cgroup filesystem is mounted (see /proc/self/mountinfo)".into()))
            }
        };
        Ok(Cgroups { setup, hierarchies, v2_has_kill: has_v2 && chainload::kernel::at_least(5, 14) })
    }

    /// The v2 tree, if mounted (v2 and hybrid).
    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }

    /// The v1 hierarchy that has `controller`, if mounted.
    pub fn v1(&self, controller: &str) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V1 && h.has(controller))
    }

    /// Where the files of `controller` live on this setup: its v1 hierarchy if mounted
    /// (v1, hybrid), else the v2 tree if the controller is available there.
    pub fn home_of(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1(controller).or_else(|| self.v2().filter(|h| controller == "cgroup" || h.has(controller)))
    }

    /// The v1 controller hierarchies (not the named ones like `name=systemd`).
    pub fn v1_controller_hierarchies(&self) -> impl Iterator<Item = &Hierarchy> {
        self.hierarchies.iter().filter(|h| h.version == Version::V1 && h.name.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_lines() {
        let got = parse_proc_cgroup("12:memory:/user.slice\n1:name=systemd:/x\n5:cpu,cpuacct:/\n0::/a:b\nbad\n");
        let want: Vec<(Vec<String>, PathBuf)> = vec![
            (vec!["memory".into()], "/user.slice".into()),
            (vec!["name=systemd".into()], "/x".into()),
            (vec!["cpu".into(), "cpuacct".into()], "/".into()),
            (vec![], "/a:b".into()),
        ];
        assert_eq!(got, want);
    }
}
