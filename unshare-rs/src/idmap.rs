//! User namespace id maps: parsing `--map-users`/`--map-groups`, reading subordinate id
//! ranges, merging a single-id map into ranges the way util-linux does, and writing
//! `/proc/PID/uid_map` and `gid_map` (directly as root, through newuidmap/newgidmap
//! otherwise).

use std::fmt;
use std::io::Write;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::Pid;

/// A map problem: bad syntax, overlap, or a subordinate id file without our line.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Not `inner:outer:count` or `outer,inner,count`.
    #[error("invalid mapping '{0}': expected INNER:OUTER:COUNT or OUTER,INNER,COUNT with a count of at least 1")]
    Syntax(String),
    /// A range runs past 2^32 - 1.
    #[error("invalid mapping '{0}': the range runs past the largest id (4294967294)")]
    TooLarge(String),
    /// Two ranges map the same id.
    #[error("overlapping {kind} mappings: '{a}' and '{b}' both map {side} id {id}")]
    Overlap {
        /// "uid" or "gid".
        kind: &'static str,
        /// One range.
        a: IdRange,
        /// The other.
        b: IdRange,
        /// "inner" or "outer".
        side: &'static str,
        /// The first id both map.
        id: u64,
    },
    /// More lines than the kernel takes.
    #[error("too many {kind} mappings: {n} (the kernel takes at most 340)")]
    TooMany {
        /// "uid" or "gid".
        kind: &'static str,
        /// How many.
        n: usize,
    },
    /// The subordinate id file has no line for this user.
    #[error("no line matching user '{user}' in '{file}'")]
    NoSubid {
        /// The user name (or uid).
        user: String,
        /// The file.
        file: String,
    },
    /// A file could not be read.
    #[error("cannot read '{file}': {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A subordinate id file line is malformed.
    #[error("malformed line in '{file}': '{line}'")]
    BadSubidLine {
        /// The file.
        file: String,
        /// The line.
        line: String,
    },
    /// The uid has no passwd entry (needed to find its subordinate ids).
    #[error(transparent)]
    Ids(#[from] chainload::ids::IdError),
    /// Writing the map failed.
    #[error("cannot write {what} of process {pid}: {}", errno.desc())]
    Write {
        /// "uid_map", "gid_map" or "setgroups".
        what: &'static str,
        /// The process.
        pid: i32,
        /// Why.
        errno: Errno,
    },
    /// newuidmap/newgidmap failed.
    #[error("{helper} failed: {reason}")]
    Helper {
        /// The helper's name.
        helper: &'static str,
        /// What happened.
        reason: String,
    },
}

/// Users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// uids: `uid_map`, `newuidmap`, `/etc/subuid`.
    User,
    /// gids: `gid_map`, `newgidmap`, `/etc/subgid`.
    Group,
}

impl IdKind {
    fn map_file(self) -> &'static str {
        match self {
            IdKind::User => "uid_map",
            IdKind::Group => "gid_map",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            IdKind::User => "newuidmap",
            IdKind::Group => "newgidmap",
        }
    }
    fn short(self) -> &'static str {
        match self {
            IdKind::User => "uid",
            IdKind::Group => "gid",
        }
    }
    /// `/etc/subuid` or `/etc/subgid`.
    pub fn subid_file(self) -> &'static str {
        match self {
            IdKind::User => "/etc/subuid",
            IdKind::Group => "/etc/subgid",
        }
    }
}

/// `count` ids from `outer` (in the parent namespace) mapped to `inner` (in the new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id inside the namespace.
    pub inner: u32,
    /// First id outside.
    pub outer: u32,
    /// How many.
    pub count: u32,
}

impl fmt::Display for IdRange {
    /// As a line of `/proc/PID/uid_map`: `inner outer count`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inner, self.outer, self.count)
    }
}

/// A range as asked for: `auto` ranges (from `--map-users=auto`, `--map-auto`) start
/// inside at 0, whatever else is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapEntry {
    /// The range.
    pub range: IdRange,
    /// Whether the inner start is "from zero" (an auto range).
    pub auto: bool,
}

/// What one `--map-users`/`--map-groups` value asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapSpec {
    /// An explicit range.
    Range(IdRange),
    /// `auto`: the caller's first subordinate range, mapped from 0.
    Auto,
    /// `subids`: the caller's first subordinate range, mapped to itself.
    Subids,
    /// `all`: every id of the parent namespace, mapped to itself.
    All,
}

fn parse_three(s: &str, sep: char) -> Option<(u32, u32, u32)> {
    let mut it = s.split(sep);
    let a = it.next()?.parse().ok()?;
    let b = it.next()?.parse().ok()?;
    let c = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((a, b, c))
}

/// Parse `inner:outer:count` or util-linux's older `outer,inner,count`.
pub fn parse_range(s: &str) -> Result<IdRange, MapError> {
    let range = if let Some((inner, outer, count)) = parse_three(s, ':') {
        IdRange { inner, outer, count }
    } else if let Some((outer, inner, count)) = parse_three(s, ',') {
        IdRange { inner, outer, count }
    } else {
        return Err(MapError::Syntax(s.to_string()));
    };
    if range.count == 0 {
        return Err(MapError::Syntax(s.to_string()));
    }
    // 4294967295 is the invalid id and may not be mapped.
    let limit = u64::from(u32::MAX);
    if u64::from(range.inner) + u64::from(range.count) > limit
        || u64::from(range.outer) + u64::from(range.count) > limit
    {
        return Err(MapError::TooLarge(s.to_string()));
    }
    Ok(range)
}

/// Parse one `--map-users`/`--map-groups` value.
pub fn parse_spec(s: &str) -> Result<MapSpec, MapError> {
    Ok(match s {
        "auto" => MapSpec::Auto,
        "subids" => MapSpec::Subids,
        "all" => MapSpec::All,
        _ => MapSpec::Range(parse_range(s)?),
    })
}

/// The first range of `uid`'s line (by name or number) in a subuid(5)/subgid(5) file.
pub fn subid_range(file: &Path, uid: u32, identity: bool) -> Result<MapEntry, MapError> {
    let first = subid_ranges(file, uid)?[0];
    Ok(MapEntry { range: IdRange { inner: if identity { first.0 } else { 0 }, ..first.into() }, auto: !identity })
}

/// Every range (first id, count) of `uid`'s lines (by name or number) in a
/// subuid(5)/subgid(5) file, in the file's order; at least one, else an error.
pub fn subid_ranges(file: &Path, uid: u32) -> Result<Vec<(u32, u32)>, MapError> {
    let who = chainload::ids::user_by_id(uid, Path::new("/etc/passwd"))?;
    let name = who.map(|e| e.name).unwrap_or_else(|| uid.to_string());
    let text =
        std::fs::read_to_string(file).map_err(|source| MapError::Read { file: file.display().to_string(), source })?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let mut f = line.split(':');
        let owner = f.next().unwrap_or("");
        if owner != name && owner.parse::<u32>().ok() != Some(uid) {
            continue;
        }
        let bad = || MapError::BadSubidLine { file: file.display().to_string(), line: line.to_string() };
        let outer: u32 = f.next().and_then(|s| s.trim().parse().ok()).ok_or_else(bad)?;
        let count: u32 = f.next().and_then(|s| s.trim().parse().ok()).ok_or_else(bad)?;
        out.push((outer, count));
    }
    if out.is_empty() {
        return Err(MapError::NoSubid { user: name, file: file.display().to_string() });
    }
    Ok(out)
}

impl From<(u32, u32)> for IdRange {
    /// A subordinate range (first id, count) mapped from 0.
    fn from((outer, count): (u32, u32)) -> IdRange {
        IdRange { inner: 0, outer, count }
    }
}

/// Every range of this process's own map (`--map-users=all`): each id mapped to itself.
pub fn identity_of_current(kind: IdKind) -> Result<Vec<MapEntry>, MapError> {
    let file = format!("/proc/self/{}", kind.map_file());
    let text = std::fs::read_to_string(&file).map_err(|source| MapError::Read { file, source })?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let v: Vec<u32> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (v.len() == 3).then(|| MapEntry { range: IdRange { inner: v[0], outer: v[0], count: v[2] }, auto: false })
        })
        .collect())
}

/// Resolve the asked-for specs of one kind into entries, in command-line order.
pub fn resolve_specs(kind: IdKind, specs: &[MapSpec], euid: u32) -> Result<Vec<MapEntry>, MapError> {
    let mut out = Vec::new();
    for spec in specs {
        match spec {
            MapSpec::Range(r) => out.push(MapEntry { range: *r, auto: false }),
            MapSpec::Auto => out.push(subid_range(Path::new(kind.subid_file()), euid, false)?),
            MapSpec::Subids => out.push(subid_range(Path::new(kind.subid_file()), euid, true)?),
            MapSpec::All => out.extend(identity_of_current(kind)?),
        }
    }
    Ok(out)
}

/// Merge a single-id map (`outer` -> `inner`, from `-r`, `-c`, `--map-user`) into ranges,
/// exactly as util-linux does: the single map comes first; every range that contains
/// `inner` or `outer` loses one id and is split around them so nothing overlaps (the
/// ids left unmapped are the topmost of the range). `inner = None` merges nothing.
pub fn merge_single(entries: &[MapEntry], outer: u32, inner: Option<u32>) -> Vec<IdRange> {
    const NONE: u64 = u32::MAX as u64;
    let inner_v = inner.map(u64::from).unwrap_or(NONE);
    let outer_v = if inner.is_none() { NONE } else { u64::from(outer) };
    let mut out = Vec::new();
    if let Some(inner) = inner {
        out.push(IdRange { inner, outer, count: 1 });
    }
    for e in entries {
        let (m_outer, mut m_inner, mut m_count) =
            (u64::from(e.range.outer), u64::from(e.range.inner), u64::from(e.range.count));
        if e.auto {
            m_inner = 0;
        } else if inner.is_some()
            && ((outer_v >= m_outer && outer_v <= m_outer + m_count)
                || (inner_v >= m_inner && inner_v <= m_inner + m_count))
        {
            m_count -= 1;
        }
        let outer_off = outer_v.saturating_sub(m_outer).min(m_count);
        let inner_off = inner_v.saturating_sub(m_inner).min(m_count);
        let lo = (m_outer, m_inner, inner_off.min(outer_off));
        let mut mid = (lo.0 + lo.2, lo.1 + lo.2, outer_off.abs_diff(inner_off));
        mid.0 += u64::from(mid.0 == outer_v);
        mid.1 += u64::from(mid.1 == inner_v);
        let mut hi = (mid.0 + mid.2, mid.1 + mid.2, m_count - lo.2 - mid.2);
        hi.0 += u64::from(hi.0 == outer_v);
        hi.1 += u64::from(hi.1 == inner_v);
        for (o, i, c) in [lo, mid, hi] {
            if c > 0 {
                // All three pieces lie within the original range, which fits in u32.
                out.push(IdRange { inner: i as u32, outer: o as u32, count: c as u32 });
            }
        }
    }
    out
}

/// Refuse ranges that map an id twice, on either side.
pub fn check_overlaps(kind: IdKind, ranges: &[IdRange]) -> Result<(), MapError> {
    if ranges.len() > 340 {
        return Err(MapError::TooMany { kind: kind.short(), n: ranges.len() });
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            for (side, x, y) in [("inner", a.inner, b.inner), ("outer", a.outer, b.outer)] {
                let (x, y) = (u64::from(x), u64::from(y));
                let (ae, be) = (x + u64::from(a.count), y + u64::from(b.count));
                if x < be && y < ae {
                    return Err(MapError::Overlap { kind: kind.short(), a: *a, b: *b, side, id: x.max(y) });
                }
            }
        }
    }
    Ok(())
}

/// The text the kernel takes: one `inner outer count` line per range.
pub fn render(ranges: &[IdRange]) -> String {
    ranges.iter().map(|r| format!("{r}\n")).collect()
}

/// `/proc/PID/FILE`, or `/proc/self/FILE` for `None`.
fn proc_file(pid: Option<Pid>, what: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{}/{what}", p.as_raw()),
        None => format!("/proc/self/{what}"),
    }
}

fn write_proc(pid: Option<Pid>, what: &'static str, text: &str) -> Result<(), MapError> {
    let err = |e: std::io::Error| MapError::Write {
        what,
        pid: pid.map(Pid::as_raw).unwrap_or_else(|| Pid::this().as_raw()),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    let path = proc_file(pid, what);
    let mut f = std::fs::OpenOptions::new().write(true).open(path).map_err(err)?;
    // The kernel takes a map in one write(2).
    f.write_all(text.as_bytes()).map_err(err)
}

/// Write `/proc/PID/setgroups` (`allow` or `deny`; `None`: this process). A kernel
/// without the file is fine.
pub fn write_setgroups(pid: Option<Pid>, allow: bool) -> Result<(), MapError> {
    if !Path::new(&proc_file(pid, "setgroups")).exists() {
        return Ok(());
    }
    write_proc(pid, "setgroups", if allow { "allow" } else { "deny" })
}

/// Write `ranges` to `/proc/PID/uid_map` or `gid_map` directly (`None`: this process;
/// needs CAP_SETUID or CAP_SETGID over the parent namespace, or a single map of the
/// writer's own id).
pub fn write_map(pid: Option<Pid>, kind: IdKind, ranges: &[IdRange]) -> Result<(), MapError> {
    write_proc(pid, kind.map_file(), &render(ranges))
}

/// Set the map through the setuid helper newuidmap(1)/newgidmap(1), which checks the
/// ranges against `/etc/subuid`/`/etc/subgid`.
pub fn run_helper(pid: Pid, kind: IdKind, ranges: &[IdRange]) -> Result<(), MapError> {
    wait_helper(kind, spawn_helper(pid, kind, ranges)?)
}

/// Start newuidmap(1)/newgidmap(1) for `ranges` of process `pid` (see [`run_helper`]).
fn spawn_helper(pid: Pid, kind: IdKind, ranges: &[IdRange]) -> Result<std::process::Child, MapError> {
    let mut cmd = std::process::Command::new(kind.helper());
    cmd.arg(pid.as_raw().to_string());
    for r in ranges {
        cmd.args([r.inner.to_string(), r.outer.to_string(), r.count.to_string()]);
    }
    cmd.spawn().map_err(|e| MapError::Helper { helper: kind.helper(), reason: e.to_string() })
}

/// Wait for a helper [`spawn_helper`] started.
fn wait_helper(kind: IdKind, mut child: std::process::Child) -> Result<(), MapError> {
    let status = child.wait().map_err(|e| MapError::Helper { helper: kind.helper(), reason: e.to_string() })?;
    if status.success() {
        Ok(())
    } else {
        Err(MapError::Helper { helper: kind.helper(), reason: format!("exited with {status}") })
    }
}

/// Set the map the way the caller's privilege allows: directly as root, else by helper.
pub fn set_map(pid: Pid, kind: IdKind, ranges: &[IdRange]) -> Result<(), MapError> {
    if nix::unistd::geteuid().is_root() {
        write_map(Some(pid), kind, ranges)
    } else {
        run_helper(pid, kind, ranges)
    }
}

/// Set the uid and gid maps of `pid` (either may be empty), `setgroups` denied first if
/// `deny_setgroups` and there is a gid map. Without root the two helpers run at once
/// (each is a setuid program that reads the passwd and subordinate id files: most of a
/// rootless start's wait).
pub fn set_maps(pid: Pid, users: &[IdRange], groups: &[IdRange], deny_setgroups: bool) -> Result<(), MapError> {
    if deny_setgroups && !groups.is_empty() {
        write_setgroups(Some(pid), false)?;
    }
    let wanted = [(IdKind::User, users), (IdKind::Group, groups)];
    if nix::unistd::geteuid().is_root() {
        for (kind, ranges) in wanted.iter().filter(|(_, r)| !r.is_empty()) {
            write_map(Some(pid), *kind, ranges)?;
        }
        return Ok(());
    }
    let mut started = Vec::new();
    for (kind, ranges) in wanted.iter().filter(|(_, r)| !r.is_empty()) {
        match spawn_helper(pid, *kind, ranges) {
            Ok(child) => started.push((*kind, child)),
            Err(e) => {
                // (The other one is waited for: no helper outlives this call.)
                for (k, c) in started {
                    let _ = wait_helper(k, c);
                }
                return Err(e);
            }
        }
    }
    let results: Vec<Result<(), MapError>> = started.into_iter().map(|(k, c)| wait_helper(k, c)).collect();
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(inner: u32, outer: u32, count: u32) -> IdRange {
        IdRange { inner, outer, count }
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!(parse_range("0:100000:65536").unwrap(), r(0, 100000, 65536));
        assert_eq!(parse_range("100000,0,65536").unwrap(), r(0, 100000, 65536));
        assert!(parse_range("0:1").is_err());
        assert!(parse_range("0:1:0").is_err());
        assert!(parse_range("a:b:c").is_err());
        assert!(parse_range("0:1:2:3").is_err());
        assert!(matches!(parse_range("4294967290:0:10"), Err(MapError::TooLarge(_))));
    }

    #[test]
    fn merges_like_util_linux() {
        // --map-users=0:100000:65536 --map-root-user as root (euid 0).
        let e = [MapEntry { range: r(0, 100000, 65536), auto: false }];
        assert_eq!(merge_single(&e, 0, Some(0)), vec![r(0, 0, 1), r(1, 100000, 65535)]);
        // An auto range is mapped from zero and keeps its count.
        let e = [MapEntry { range: r(0, 100000, 65536), auto: true }];
        assert_eq!(merge_single(&e, 0, Some(0)), vec![r(0, 0, 1), r(1, 100000, 65536)]);
        // No single map: ranges pass through.
        let e = [MapEntry { range: r(5, 100000, 10), auto: false }];
        assert_eq!(merge_single(&e, 0, None), vec![r(5, 100000, 10)]);
        // --map-current-user as uid 1000 inside a range starting at 0.
        let e = [MapEntry { range: r(0, 100000, 65536), auto: false }];
        let m = merge_single(&e, 1000, Some(1000));
        check_overlaps(IdKind::User, &m).unwrap();
        assert_eq!(m[0], r(1000, 1000, 1));
        assert_eq!(m.iter().map(|x| u64::from(x.count)).sum::<u64>(), 65536);
    }

    #[test]
    fn finds_overlaps() {
        assert!(check_overlaps(IdKind::User, &[r(0, 100, 10), r(5, 200, 10)]).is_err());
        assert!(check_overlaps(IdKind::User, &[r(0, 100, 10), r(10, 105, 10)]).is_err());
        check_overlaps(IdKind::User, &[r(0, 100, 10), r(10, 110, 10)]).unwrap();
    }
}
