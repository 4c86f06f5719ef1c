//! The file operations cgroup interface files need: one write(2) per value, trimmed
//! reads, group directories walked and removed, and polling for a state to be reached.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chainload::error::io;

use crate::Error;

/// For `map_err`: `what` failed on `path`.
pub(crate) fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let (what, path) = (what.to_string(), path.to_path_buf());
    move |source| io(what, &path, source).into()
}

/// Write `value` to an interface file in one write(2).
pub fn write_file(path: &Path, value: &str) -> std::io::Result<()> {
    InterfaceWriter::default().write(path, value)
}

/// Writes to interface files, one write(2) per value, keeping the last file open:
/// consecutive values for one file (the lines of a device list) look its path up once.
#[derive(Debug, Default)]
pub struct InterfaceWriter {
    open: Option<(PathBuf, std::fs::File)>,
}

impl InterfaceWriter {
    /// Write `value` to `path`.
    pub fn write(&mut self, path: &Path, value: &str) -> std::io::Result<()> {
        let mut f = match self.open.take() {
            Some((p, f)) if p == path => f,
            other => {
                drop(other);
                std::fs::OpenOptions::new().write(true).open(path)?
            }
        };
        f.write_all(value.as_bytes())?;
        self.open = Some((path.to_path_buf(), f));
        Ok(())
    }
}

/// Read an interface file, trimmed.
pub fn read_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// rmdir(2), retried while the kernel says EBUSY (processes still leaving, a memory
/// cgroup still being offlined) for at most `patience`; a directory already gone is fine.
pub(crate) fn remove_dir_retrying(dir: &Path, patience: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY: processes are still leaving (or a memcg is still being offlined).
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < patience => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// The pids in `cgroup.procs` of `dir` (not of its children).
pub(crate) fn procs_of(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// `dir` and every group below it, parents before children.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(rd) = std::fs::read_dir(&out[i]) {
            let mut kids: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.path())
                .collect();
            kids.sort();
            out.extend(kids);
        }
        i += 1;
    }
    out
}

/// Poll `cond` every 2 ms until it holds or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
