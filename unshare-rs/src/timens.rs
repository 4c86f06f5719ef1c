//! Time namespace clock offsets (`--monotonic`, `--boottime`).

use std::io::Write;

use nix::errno::Errno;

/// Which clock an offset applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// CLOCK_MONOTONIC.
    Monotonic,
    /// CLOCK_BOOTTIME.
    Boottime,
}

/// Write an offset in seconds to `/proc/self/timens_offsets`; valid only after
/// unshare(CLONE_NEWTIME) and before any process has entered the new namespace.
pub fn set_offset(clock: Clock, secs: i64) -> Result<(), Errno> {
    let id = match clock {
        Clock::Monotonic => libc::CLOCK_MONOTONIC,
        Clock::Boottime => libc::CLOCK_BOOTTIME,
    };
    let err = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mut f = std::fs::OpenOptions::new().write(true).open("/proc/self/timens_offsets").map_err(err)?;
    f.write_all(format!("{id} {secs} 0").as_bytes()).map_err(err)
}
