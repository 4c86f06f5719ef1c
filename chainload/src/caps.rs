//! Linux capabilities: names, sets, and the capget(2)/capset(2)/prctl(2) calls behind them.

use std::fmt;

use nix::errno::Errno;

/// Capability names, indexed by number (capabilities(7)).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capability set (the 14 of moby's `DefaultCapabilities`).
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// A capability name that is not one.
#[derive(Debug, thiserror::Error)]
#[error("unknown capability: {0}")]
pub struct UnknownCapability(pub String);

/// A set of capabilities as a bit mask (bit N = capability N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The empty set.
    pub const EMPTY: CapSet = CapSet(0);

    /// Every capability this kernel knows (0..=cap_last_cap).
    pub fn all() -> CapSet {
        let last = last_cap();
        CapSet(if last >= 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 })
    }

    /// Docker's default set.
    pub fn docker_default() -> CapSet {
        let mut s = CapSet::EMPTY;
        for name in DOCKER_DEFAULT {
            if let Some(n) = NAMES.iter().position(|c| *c == name) {
                s.insert(n as u32);
            }
        }
        s
    }

    /// Whether capability `n` is in the set.
    pub fn contains(self, n: u32) -> bool {
        n < 64 && self.0 & (1u64 << n) != 0
    }

    /// Add capability `n`.
    pub fn insert(&mut self, n: u32) {
        if n < 64 {
            self.0 |= 1u64 << n;
        }
    }

    /// Remove capability `n`.
    pub fn remove(&mut self, n: u32) {
        if n < 64 {
            self.0 &= !(1u64 << n);
        }
    }

    /// The capability numbers in the set, ascending.
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |n| self.contains(*n))
    }
}

impl fmt::Display for CapSet {
    /// Names joined with commas, as `CAP_CHOWN,CAP_KILL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.iter().map(cap_name).collect();
        f.write_str(&names.join(","))
    }
}

/// `CAP_CHOWN` for 0; `CAP_N` for a number this table does not know.
pub fn cap_name(n: u32) -> String {
    match NAMES.get(n as usize) {
        Some(name) => format!("CAP_{name}"),
        None => format!("CAP_{n}"),
    }
}

/// Parse `CHOWN`, `CAP_CHOWN`, `cap_chown` (not `ALL`; callers decide what ALL means).
pub fn parse_cap(s: &str) -> Result<u32, UnknownCapability> {
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|c| *c == bare).map(|n| n as u32).ok_or_else(|| UnknownCapability(s.to_string()))
}

/// The highest capability number this kernel knows: the last one PR_CAPBSET_READ
/// accepts. Asked of the kernel, not read from `/proc/sys/kernel/cap_last_cap`: inside a
/// new root, `/proc` may be whatever the image put there (a directory with a
/// `cap_last_cap` saying 5 would keep every capability above 5 in the bounding set).
pub fn last_cap() -> u32 {
    let mut last = 0;
    while last < 63 && bounding_has(last + 1).is_ok() {
        last += 1;
    }
    last
}

/// The effective, permitted and inheritable sets of a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadCaps {
    /// Effective set.
    pub effective: CapSet,
    /// Permitted set.
    pub permitted: CapSet,
    /// Inheritable set.
    pub inheritable: CapSet,
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

fn join(lo: u32, hi: u32) -> CapSet {
    CapSet(u64::from(lo) | (u64::from(hi) << 32))
}

/// capget(2): this thread's capability sets.
pub fn capget() -> Result<ThreadCaps, Errno> {
    let mut hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: hdr and data are valid for the kernel's version-3 layout (two CapData).
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut CapHeader, data.as_mut_ptr()) };
    Errno::result(rc)?;
    Ok(ThreadCaps {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// capset(2): set this thread's capability sets.
pub fn capset(caps: ThreadCaps) -> Result<(), Errno> {
    let mut hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let split = |s: CapSet| (s.0 as u32, (s.0 >> 32) as u32);
    let (el, eh) = split(caps.effective);
    let (pl, ph) = split(caps.permitted);
    let (il, ih) = split(caps.inheritable);
    let data = [
        CapData { effective: el, permitted: pl, inheritable: il },
        CapData { effective: eh, permitted: ph, inheritable: ih },
    ];
    // SAFETY: hdr and data are valid for the kernel's version-3 layout (two CapData).
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    Errno::result(rc).map(drop)
}

/// prctl(PR_CAPBSET_DROP): remove capability `n` from the bounding set.
pub fn bounding_drop(n: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(n), 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// prctl(PR_CAPBSET_READ): whether capability `n` is in the bounding set.
pub fn bounding_has(n: u32) -> Result<bool, Errno> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(n), 0, 0, 0) };
    Errno::result(rc).map(|r| r == 1)
}

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE): add capability `n` to the ambient set.
pub fn ambient_raise(n: u32) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe {
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, libc::c_ulong::from(n), 0, 0)
    };
    Errno::result(rc).map(drop)
}

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL): empty the ambient set.
pub fn ambient_clear() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    Errno::result(rc).map(drop)
}

/// Keep the permitted capabilities across exec for a non-root program: copy the
/// permitted set into the inheritable and ambient sets (util-linux `--keep-caps`).
pub fn permitted_to_ambient() -> Result<(), Errno> {
    let mut caps = capget()?;
    caps.inheritable = caps.permitted;
    capset(caps)?;
    for n in caps.permitted.iter() {
        ambient_raise(n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_has_fourteen() {
        let s = CapSet::docker_default();
        assert_eq!(s.iter().count(), 14);
        assert!(s.contains(parse_cap("NET_RAW").unwrap()));
        assert!(!s.contains(parse_cap("SYS_ADMIN").unwrap()));
    }

    #[test]
    fn parses_forms() {
        assert_eq!(parse_cap("cap_sys_admin").ok(), Some(21));
        assert_eq!(parse_cap("SYS_ADMIN").ok(), Some(21));
        assert!(parse_cap("SYS_NOPE").is_err());
        assert_eq!(cap_name(0), "CAP_CHOWN");
    }
}
