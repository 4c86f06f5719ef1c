//! `/proc/PID/stat`: the few fields the tools look at (state, parent, start time).
//!
//! The file is read with one read(2) into a fixed buffer: its size shows as 0, so a
//! growing read (`read_to_string`) would take half a dozen calls, and these are read in
//! loops (an ancestry walk, a supervisor's polling).

use std::io::Read;

/// The fields of `/proc/PID/stat` that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 3: R, S, D, Z, T, t, X, ...
    pub state: char,
    /// Field 4: the parent's pid (0 when the parent is outside the PID namespace of
    /// the /proc that was read).
    pub ppid: i32,
    /// Field 22: start time, in clock ticks after boot.
    pub start: u64,
}

impl Stat {
    /// Whether the process has ended (a zombie or dead).
    pub fn ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parse the text of a stat file. The command name (field 2) may hold spaces and
/// parentheses, so the fields after it start after the *last* `)`.
pub fn parse(text: &str) -> Option<Stat> {
    let mut rest = text.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    // Fields 5..=21 lie between the parent (4) and the start time (22).
    let start = rest.nth(17)?.parse().ok()?;
    Some(Stat { state, ppid, start })
}

/// `/proc/PID/stat` of `pid` (`None`: no such process, or unreadable).
pub fn read(pid: i32) -> Option<Stat> {
    let mut f = std::fs::File::open(format!("/proc/{pid}/stat")).ok()?;
    // 52 fields: the longest line is well under 1 KiB.
    let mut buf = [0u8; 1024];
    let n = f.read(&mut buf).ok()?;
    parse(std::str::from_utf8(&buf[..n]).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_odd_command_names() {
        let line = "42 (a) b (c) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1 2 3 4";
        assert_eq!(parse(line), Some(Stat { state: 'S', ppid: 7, start: 123456 }));
        assert_eq!(parse("42 (x) Z"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = read(std::process::id() as i32).expect("own stat");
        // (The state is the main thread's: running, or asleep while a test thread runs.)
        assert!(matches!(me.state, 'R' | 'S'), "{me:?}");
        assert_eq!(me.ppid, nix::unistd::getppid().as_raw());
        assert!(!me.ended());
        assert!(read(-1).is_none());
    }
}
