//! The decided configuration of a container: what `run` resolved from its options and
//! its image, once. The chain is built from it, and its state records it for `exec`,
//! `ps` and `commit`, so no field is copied by hand from one to the other.

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
}
