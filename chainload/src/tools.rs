//! Where the tools of the chain are: next to the running program's own executable
//! first (an unpacked release, a build tree), then on PATH.

use std::path::{Path, PathBuf};

/// The tool `name` next to this program's executable, else on PATH.
pub fn find(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok();
    if let Some(p) = me.as_deref().and_then(Path::parent).map(|d| d.join(name)).filter(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}
