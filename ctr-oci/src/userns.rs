//! A user namespace joined by path: which process is in it, and its id maps as the host
//! sees them (a config's mappings must be the namespace's own).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A pid in the user namespace at `path` (a `/proc/PID/ns/user` link or a bind-mounted
/// namespace file): the one the path names, else the first process found in it.
pub fn member(path: &Path) -> Result<i32, String> {
    let ns = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let id = (ns.dev(), ns.ino());
    let in_ns = |pid: i32| std::fs::metadata(format!("/proc/{pid}/ns/user")).is_ok_and(|m| (m.dev(), m.ino()) == id);
    let named = path
        .strip_prefix("/proc")
        .ok()
        .and_then(|rest| rest.components().next())
        .and_then(|c| c.as_os_str().to_str()?.parse::<i32>().ok());
    if let Some(pid) = named.filter(|p| in_ns(*p)) {
        return Ok(pid);
    }
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| in_ns(*pid))
        .ok_or_else(|| format!("no process is in the user namespace {} (its id maps cannot be read)", path.display()))
}

/// `/proc/PID/<file>` (`uid_map` or `gid_map`) as (inner, outer, count) triples.
pub fn read_map(pid: i32, file: &str) -> Result<Vec<(u32, u32, u32)>, String> {
    let p = format!("/proc/{pid}/{file}");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{p}: {e}"))?;
    text.lines()
        .map(|line| {
            let f: Vec<u32> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            match f[..] {
                [inner, outer, count] => Ok((inner, outer, count)),
                _ => Err(format!("{p}: unreadable line '{line}'")),
            }
        })
        .collect()
}

/// The outer id `inner` is mapped to.
pub fn outer_of(maps: &[(u32, u32, u32)], inner: u32) -> Option<u32> {
    maps.iter().find(|(i, _, n)| inner >= *i && inner - i < *n).map(|(i, o, _)| o + (inner - i))
}

/// `maps` in order of their inner ids (the kernel keeps a map's lines as written).
pub fn sorted(mut maps: Vec<(u32, u32, u32)>) -> Vec<(u32, u32, u32)> {
    maps.sort_unstable();
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_and_its_maps() {
        let me = std::process::id() as i32;
        assert_eq!(member(Path::new(&format!("/proc/{me}/ns/user"))), Ok(me));
        let maps = read_map(me, "uid_map").unwrap_or_default();
        assert!(!maps.is_empty());
        assert!(member(Path::new("/no/such/ns")).is_err());
        assert_eq!(outer_of(&[(0, 100000, 10), (10, 5, 1)], 3), Some(100003));
        assert_eq!(outer_of(&[(0, 100000, 10), (10, 5, 1)], 10), Some(5));
        assert_eq!(outer_of(&[(1, 100000, 10)], 0), None);
        assert_eq!(sorted(vec![(5, 1, 1), (0, 9, 2)]), vec![(0, 9, 2), (5, 1, 1)]);
    }
}
