//! Where the tools of the chain are: next to the running program's own executable
//! first (an unpacked release, a build tree), then on PATH.

use std::path::{Path, PathBuf};

/// A tool of the chain that is not installed.
#[derive(Debug, thiserror::Error)]
#[error("cannot find '{0}' next to this program or on PATH")]
pub struct Missing(pub String);

/// The tool `name` next to this program's executable, else on PATH.
pub fn find(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok();
    if let Some(p) = me.as_deref().and_then(Path::parent).map(|d| d.join(name)).filter(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The four tools the orchestrators chain.
#[derive(Debug, Clone)]
pub struct Tools {
    /// cgctl.
    pub cgctl: PathBuf,
    /// unshare-rs.
    pub unshare: PathBuf,
    /// ovlmount.
    pub ovlmount: PathBuf,
    /// nsenter-rs.
    pub nsenter: PathBuf,
}

impl Tools {
    /// Locate every tool.
    pub fn locate() -> Result<Tools, Missing> {
        let get = |name: &str| find(name).ok_or_else(|| Missing(name.to_string()));
        Ok(Tools {
            cgctl: get("cgctl")?,
            unshare: get("unshare-rs")?,
            ovlmount: get("ovlmount")?,
            nsenter: get("nsenter-rs")?,
        })
    }
}
