//! `--join-cgroup`: put the program into every cgroup the target is in (v1, hybrid and
//! v2 alike; util-linux does v2 only). The files are opened before any namespace is
//! entered, and written before too: inside the target's cgroup namespace the kernel
//! would refuse a move from outside it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cgctl::setup::{Cgroups, Version};

use crate::target::Target;
use crate::Error;
use chainload::error::io;

/// The open membership files of the target's groups this process is not in yet.
#[derive(Debug)]
pub struct Membership {
    files: Vec<(PathBuf, std::fs::File)>,
}

/// Open the membership files (`cgroup.procs` on v2, `tasks` on v1: this process is
/// single-threaded and moves itself) of each of the target's groups.
pub fn open(target: &Target) -> Result<Membership, Error> {
    let cg = Cgroups::detect()?;
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| io("cannot read", p, e));
    let theirs = cgctl::setup::parse_proc_cgroup(&read(&target.proc_path("cgroup"))?);
    let ours = cgctl::setup::parse_proc_cgroup(&read(Path::new("/proc/self/cgroup"))?);
    let mut files = Vec::new();
    for (ctrls, path) in &theirs {
        if ours.iter().any(|(c, p)| c == ctrls && p == path) {
            continue;
        }
        let h = cg.hierarchies.iter().find(|h| {
            let mut key = h.controllers.clone();
            if let Some(n) = &h.name {
                key.push(format!("name={n}"));
            }
            let (mut a, mut b) = (key, ctrls.clone());
            a.sort();
            b.sort();
            if h.version == Version::V2 {
                ctrls.is_empty()
            } else {
                a == b
            }
        });
        // A hierarchy the target is in (elsewhere than we are) that is not mounted here
        // cannot be joined: fail rather than run outside the target's group there.
        let Some(h) = h else {
            let what = if ctrls.is_empty() {
                "the cgroup v2 tree".to_string()
            } else {
                format!("the '{}' hierarchy", ctrls.join(","))
            };
            return Err(Error::Unjoinable { group: path.clone(), hierarchy: what });
        };
        let file = h.dir_of(path).join(if h.version == Version::V2 { "cgroup.procs" } else { "tasks" });
        let f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&file)
            .map_err(|e| io("--join-cgroup: cannot open", &file, e))?;
        files.push((file, f));
    }
    Ok(Membership { files })
}

impl Membership {
    /// Move this process into every group.
    pub fn join(self) -> Result<(), Error> {
        for (path, mut f) in self.files {
            f.write_all(b"0").map_err(|e| io("--join-cgroup: cannot write to", &path, e))?;
        }
        Ok(())
    }
}
