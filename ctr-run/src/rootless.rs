//! Containers of an unprivileged user (as rootless podman runs them): a user namespace
//! that maps the user to root and the user's subordinate ids (`/etc/subuid`,
//! `/etc/subgid`, granted through `newuidmap`/`newgidmap`) from 1 up; the state under
//! the user's own runtime directory; and a cgroup only where one is delegated to the
//! user (cgroup v2), never a silent run without an asked-for limit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unshare_rs::idmap::{self, IdKind};

use crate::Error;
use chainload::error::FromIo;

/// One line of a uid or gid map: INNER OUTER COUNT.
pub type MapLine = (u32, u32, u32);

/// The user namespace of a rootless container: the user's own ids map to 0, their
/// subordinate ranges (every line of theirs, in order) to 1 and up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserNs {
    /// The user's uid (root inside).
    pub uid: u32,
    /// The user's gid (root's group inside).
    pub gid: u32,
    /// The subordinate uid ranges (first id, count), laid out from 1 inside.
    pub subuid: Vec<(u32, u32)>,
    /// The subordinate gid ranges, likewise.
    pub subgid: Vec<(u32, u32)>,
    /// `--userns keep-id`: the user's ids map to themselves, the subordinate ranges
    /// around them fill 0 up (as podman's keep-id).
    #[serde(default)]
    pub keep_id: bool,
}

impl UserNs {
    /// The namespace of the calling user, or None for root (whose containers need none).
    pub fn of_caller() -> Result<Option<UserNs>, Error> {
        let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
        if uid == 0 {
            return Ok(None);
        }
        if !chainload::kernel::at_least(5, 11) {
            // (Never a copy of the image instead of an overlay.)
            return Err(Error::Usage(format!(
                "rootless containers need Linux 5.11 or later (overlayfs mounted in a user namespace, with \
                 userxattr); this kernel is {}",
                nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default()
            )));
        }
        let ranges = |kind: IdKind| {
            idmap::subid_ranges(Path::new(kind.subid_file()), uid).map_err(|e| {
                Error::Usage(format!(
                    "a rootless container needs subordinate ids: {e} (ask an administrator for a line such as \
                     'usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER')"
                ))
            })
        };
        let (subuid, subgid) = (ranges(IdKind::User)?, ranges(IdKind::Group)?);
        Ok(Some(UserNs { uid, gid, subuid, subgid, keep_id: false }))
    }

    /// `unshare-rs`'s arguments that run `command` in a namespace like this one (for
    /// tools that must see the container's ids: import, commit, removal).
    pub fn wrap(&self, command: &[String]) -> Vec<String> {
        let mut a = self.unshare_args();
        a.push("--".into());
        a.extend(command.iter().cloned());
        a
    }

    /// unshare-rs's flags for this namespace (the maps written by newuidmap/newgidmap).
    pub fn unshare_args(&self) -> Vec<String> {
        // (keep-id: the chain sets the container up as root of the namespace, a
        // subordinate id; the command runs as the user, `--user UID:GID`.)
        let mut a = match self.keep_id {
            false => vec!["--user".to_string(), "--map-root-user".into()],
            true => vec!["--user".to_string(), "-S".into(), "0".into(), "-G".into(), "0".into()],
        };
        for (flag, own, ranges) in [("--map-users", self.uid, &self.subuid), ("--map-groups", self.gid, &self.subgid)] {
            for (inner, outer, count) in self.ranges_map(own, ranges) {
                a.extend([flag.to_string(), format!("{inner}:{outer}:{count}")]);
            }
        }
        a
    }

    /// The namespace's uid and gid maps as the kernel shows them (INNER OUTER COUNT,
    /// sorted): the helpers' lines and, but for keep-id, the user's own id as 0.
    pub fn maps(&self) -> (Vec<MapLine>, Vec<MapLine>) {
        let whole = |own: u32, ranges: &[(u32, u32)]| {
            let mut m = self.ranges_map(own, ranges);
            if !self.keep_id {
                m.push((0, own, 1));
            }
            m.sort_unstable();
            m
        };
        (whole(self.uid, &self.subuid), whole(self.gid, &self.subgid))
    }

    /// The passwd and group lines `--userns keep-id` adds to the container's files
    /// where they lack the user's ids, as podman's default entry
    /// (`NAME:*:UID:GID:NAME:HOME:/bin/sh`): the user's name and home on the host (else
    /// `$USER` or the uid, and `$HOME` or `/`), and the host's name of their group.
    pub fn keep_id_entries(&self) -> (String, String) {
        let me = chainload::ids::user_by_id(self.uid, Path::new("/etc/passwd")).ok().flatten();
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty() && !v.contains([':', '\n']));
        let name = me.as_ref().map(|e| e.name.clone()).or_else(|| var("USER")).unwrap_or_else(|| self.uid.to_string());
        let home = me.map(|e| e.extra).filter(|h| !h.is_empty()).or_else(|| var("HOME")).unwrap_or_else(|| "/".into());
        let group = chainload::ids::group_by_id(self.gid, Path::new("/etc/group")).ok().flatten();
        let group = group.map(|e| e.name).unwrap_or_else(|| name.clone());
        (format!("{name}:*:{}:{}:{name}:{home}:/bin/sh", self.uid, self.gid), format!("{group}:x:{}:{name}", self.gid))
    }

    /// What newuidmap/newgidmap write for the subordinate `ranges` (keep-id: the user's
    /// `own` id to itself too).
    fn ranges_map(&self, own: u32, ranges: &[(u32, u32)]) -> Vec<MapLine> {
        let mut maps = match self.keep_id {
            false => lay_out(ranges, 1, None),
            true => lay_out(ranges, 0, Some(own)),
        };
        if self.keep_id {
            maps.push((own, own, 1));
            maps.sort_unstable();
        }
        maps
    }
}

/// Subordinate `ranges` (first host id, count) laid end to end over the ids inside from
/// `start`, stepping over `hole` (an id inside that is mapped otherwise): the
/// INNER:OUTER:COUNT triples.
fn lay_out(ranges: &[(u32, u32)], start: u32, hole: Option<u32>) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    let mut inner = start;
    for &(mut outer, mut count) in ranges {
        while count > 0 {
            if Some(inner) == hole {
                inner += 1;
                continue;
            }
            let room = match hole {
                Some(h) if h > inner => (h - inner).min(count),
                _ => count,
            };
            out.push((inner, outer, room));
            (inner, outer, count) = (inner + room, outer + room, count - room);
        }
    }
    out
}

/// The default state directory of the calling user: `/run/ctr-run` for root, else
/// `$XDG_RUNTIME_DIR/ctr-run`, else `~/.local/share/ctr-run`.
pub fn default_root() -> Result<PathBuf, Error> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/run/ctr-run"));
    }
    let from = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = from("XDG_RUNTIME_DIR") {
        return Ok(dir.join("ctr-run"));
    }
    match from("HOME") {
        Some(home) => Ok(home.join(".local/share/ctr-run")),
        None => Err(Error::Usage(
            "neither XDG_RUNTIME_DIR nor HOME is set: say where a rootless container's state goes with --root DIR"
                .into(),
        )),
    }
}

/// Where the user's containers' cgroups may go: the cgroup v2 subtree delegated to the
/// user (the topmost group above the caller's own that the user owns, as systemd's
/// `Delegate=yes` or an administrator's chown leave it), as an absolute cgctl name. Err
/// says why there is none, for an error that tells how to get one.
pub fn delegated_parent() -> Result<String, String> {
    let cg = cgctl::setup::Cgroups::detect().map_err(|e| e.to_string())?;
    let kind = cg.setup;
    let how = "on a cgroup v2 system, run ctr-run in a subtree delegated to you (systemd-run --user --scope -p \
               Delegate=yes, with your shell moved into a leaf below it), or leave the limits out";
    if cg.setup != cgctl::setup::Setup::V2 {
        return Err(format!(
            "this machine's cgroups are {kind}, and only cgroup v2 delegates a subtree to a user; {how}"
        ));
    }
    let Some(v2) = cg.v2() else { return Err(format!("no cgroup v2 hierarchy is mounted; {how}")) };
    let own = v2.own_cgroup.display().to_string().trim_end_matches('/').to_string();
    let uid = nix::unistd::geteuid().as_raw();
    let owned = |rel: &str| {
        let dir = v2.dir_of(Path::new(rel));
        ["", "cgroup.procs", "cgroup.subtree_control"]
            .iter()
            .all(|f| std::fs::metadata(dir.join(f)).is_ok_and(|m| m.uid() == uid))
    };
    // The topmost owned ancestor of the caller's group (the caller's own group holds
    // processes: no container group may go below it).
    let mut top = None;
    let mut at = own.as_str();
    while let Some((parent, _)) = at.rsplit_once('/') {
        if parent.is_empty() || !owned(parent) {
            break;
        }
        top = Some(parent.to_string());
        at = parent;
    }
    match top {
        Some(t) => Ok(t),
        None if !own.is_empty() && owned(&own) => Err(format!(
            "your cgroup '{own}' is delegated to you but holds your own processes (cgroup v2 has no internal \
             processes): move your shell into a leaf below it (mkdir {m}{own}/shell; echo $$ > \
             {m}{own}/shell/cgroup.procs)",
            m = v2.mount_point.display()
        )),
        None => Err(format!("no cgroup above yours ('{own}') is delegated to you; {how}")),
    }
}

/// Remove `dir`, a tree of a container or image. A rootless one's (`userns`): what the
/// user's own ids own directly (overlayfs's work directory, left mode 0, opened first),
/// and where the container's other ids own something, from inside the user namespace,
/// where its root may remove anything of theirs.
pub fn remove_tree(userns: Option<&UserNs>, dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let Some(userns) = userns else {
        return std::fs::remove_dir_all(dir).map_err(|e| Error::io("cannot remove", dir, e));
    };
    // (overlayfs's work directory: `work`, `incompat/volatile`... mode 0, the user's.)
    fn open_up(d: &Path, uid: u32) {
        if !std::fs::symlink_metadata(d).is_ok_and(|m| m.is_dir() && m.uid() == uid) {
            return;
        }
        let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            open_up(&e.path(), uid);
        }
    }
    open_up(&dir.join("work"), userns.uid);
    let Err(first) = std::fs::remove_dir_all(dir) else { return Ok(()) };
    if first.kind() != std::io::ErrorKind::PermissionDenied {
        return Err(Error::io("cannot remove", dir, first));
    }
    let tools = crate::paths::Tools::locate()?;
    let argv = userns.wrap(&["rm".into(), "-rf".into(), "--".into(), dir.display().to_string()]);
    let out = std::process::Command::new(&tools.unshare)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot start", &tools.unshare, e))?;
    if !out.status.success() || dir.exists() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Usage(format!(
            "cannot remove '{}' in the user namespace: {}",
            dir.display(),
            why.lines().next().unwrap_or("it is still there")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_what_the_kernel_shows() {
        let mut u =
            UserNs { uid: 1000, gid: 1001, subuid: vec![(100000, 65536)], subgid: vec![(200000, 10)], keep_id: false };
        assert_eq!(u.maps(), (vec![(0, 1000, 1), (1, 100000, 65536)], vec![(0, 1001, 1), (1, 200000, 10)]));
        u.keep_id = true;
        assert_eq!(u.maps().0, vec![(0, 100000, 1000), (1000, 1000, 1), (1001, 101000, 64536)]);
        assert_eq!(u.maps().1, vec![(0, 200000, 10), (1001, 1001, 1)]);
    }

    #[test]
    fn ranges_are_laid_end_to_end_around_the_hole() {
        assert_eq!(lay_out(&[(100000, 65536)], 1, None), [(1, 100000, 65536)]);
        assert_eq!(lay_out(&[(100000, 10), (300000, 5)], 1, None), [(1, 100000, 10), (11, 300000, 5)]);
        // keep-id for uid 1000: 0..999 from the first range, 1000 skipped, the rest after.
        assert_eq!(lay_out(&[(100000, 65536)], 0, Some(1000)), [(0, 100000, 1000), (1001, 101000, 64536)]);
        // A hole beyond the ranges, and one at a range's edge.
        assert_eq!(lay_out(&[(100000, 10)], 0, Some(70000)), [(0, 100000, 10)]);
        assert_eq!(lay_out(&[(100000, 10), (200000, 10)], 0, Some(10)), [(0, 100000, 10), (11, 200000, 10)]);
    }
}
