//! `/proc/PID/cgroup`: the cgroup of a process in each hierarchy.

use std::path::PathBuf;

/// One line: the hierarchy's controllers (none for v2's `0::/path`; `name=NAME` for a
/// named v1 hierarchy) and the process's group in it.
pub type Membership = (Vec<String>, PathBuf);

/// The text of a `/proc/PID/cgroup` file, one entry per hierarchy.
pub fn parse(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            let ctrls = f.next()?;
            let path = f.next()?;
            let list = if ctrls.is_empty() { Vec::new() } else { ctrls.split(',').map(String::from).collect() };
            Some((list, PathBuf::from(path)))
        })
        .collect()
}
