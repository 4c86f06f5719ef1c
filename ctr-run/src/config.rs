//! The decided configuration of a container: what `run` resolved from its options and
//! its image, once. The chain is built from it, and its state records it for `exec`,
//! `ps` and `commit`, so no field is copied by hand from one to the other.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::chain::Seccomp;

/// What a container is and runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Its cgroup (a cgctl NAME).
    pub cgroup: String,
    /// Read-only layers, top first: the image's, the single directory, or `/`.
    pub layers: Vec<PathBuf>,
    /// Hostname.
    pub hostname: String,
    /// The program's environment.
    pub env: Vec<(String, String)>,
    /// Its working directory.
    pub workdir: String,
    /// Its user, as given (`UID[:GID]` or a name).
    pub user: Option<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// The system call filter (`Unconfined` with `--privileged`); in a container's state,
    /// a profile is the copy in its directory, which `exec` uses too.
    pub seccomp: Seccomp,
    /// The command.
    pub command: Vec<String>,
    /// `-d`.
    pub detached: bool,
    /// `--keep`.
    pub keep: bool,
    /// `--rm`: removed when it exits, detached too.
    pub remove: bool,
    /// `-t`: a pseudo-terminal of the container's own.
    #[serde(default)]
    pub tty: bool,
    /// `-i`: the caller's stdin reaches the container (else it reads /dev/null).
    #[serde(default)]
    pub interactive: bool,
    /// `--ulimit`: the container's resource limits (an `exec` gets them too).
    #[serde(default)]
    pub rlimits: Vec<chainload::rlimit::Rlimit>,
    /// `--oom-score-adj` (an `exec` gets it too).
    #[serde(default)]
    pub oom_score_adj: Option<i32>,
    /// The signal `stop` sends first (`--stop-signal`, else the image's): its name.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL.
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    /// The image's labels and `--label`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The resource flags of the container's program that `ovlmount enter` and
/// `nsenter-rs` share: `--rlimit`, `--oom-score-adj`.
pub fn process_args(c: &Config) -> Vec<String> {
    let mut a = Vec::new();
    for l in &c.rlimits {
        a.extend(["--rlimit".to_string(), l.to_arg()]);
    }
    if let Some(n) = c.oom_score_adj {
        a.extend(["--oom-score-adj".to_string(), n.to_string()]);
    }
    a
}
