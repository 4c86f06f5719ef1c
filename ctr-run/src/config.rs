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
    /// Its cgroup (a cgctl NAME); none for a rootless container where no cgroup is
    /// delegated to the user.
    pub cgroup: Option<String>,
    /// A rootless container's user namespace (the user's ids and subordinate ranges).
    #[serde(default)]
    pub userns: Option<crate::rootless::UserNs>,
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
    /// `--group-add`: more supplementary groups, names or gids, as given.
    #[serde(default)]
    pub group_add: Vec<String>,
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
    /// Its writes are in memory: its upper layer is a tmpfs of its own mount namespace
    /// (`ovlmount enter --upper-tmpfs`), so nothing of it is on disk but its state.
    /// See [`crate::resolve::writes_in_memory`]. Such a container cannot be committed.
    #[serde(default)]
    pub writes_in_memory: bool,
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
    /// `--restart`: what the supervisor of a detached container does when it ends.
    #[serde(default)]
    pub restart: Restart,
}

/// `--restart`: docker's restart policies. (`always` and `unless-stopped` differ only
/// when docker's daemon restarts; ctr-run has none, so they are the same here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Restart {
    /// Never restarted.
    #[default]
    No,
    /// Restarted when it exits with a status other than 0, at most N times if given.
    OnFailure(Option<u32>),
    /// Restarted whatever its status, until stopped.
    Always,
    /// As `Always`.
    UnlessStopped,
}

impl Restart {
    /// Parse `no`, `on-failure[:N]`, `always` or `unless-stopped`.
    pub fn parse(s: &str) -> Result<Restart, String> {
        match s.split_once(':') {
            None => match s {
                "no" => Ok(Restart::No),
                "on-failure" => Ok(Restart::OnFailure(None)),
                "always" => Ok(Restart::Always),
                "unless-stopped" => Ok(Restart::UnlessStopped),
                _ => Err(format!("'{s}' is not a restart policy (no, on-failure[:N], always, unless-stopped)")),
            },
            Some(("on-failure", n)) => n
                .parse::<u32>()
                .map(|n| Restart::OnFailure(Some(n)))
                .map_err(|_| format!("'{s}': the most restarts of on-failure is a number, not '{n}'")),
            Some((p, _)) => Err(format!("'{s}': only on-failure takes a count of restarts, not {p}")),
        }
    }

    /// Whether a container whose command ran and ended with `code`, restarted `restarts`
    /// times so far, is started again.
    pub fn again(self, code: i32, restarts: u32) -> bool {
        match self {
            Restart::No => false,
            Restart::OnFailure(max) => code != 0 && max.is_none_or(|m| restarts < m),
            Restart::Always | Restart::UnlessStopped => true,
        }
    }
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::No => f.write_str("no"),
            Restart::OnFailure(None) => f.write_str("on-failure"),
            Restart::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            Restart::Always => f.write_str("always"),
            Restart::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

impl TryFrom<String> for Restart {
    type Error = String;
    fn try_from(s: String) -> Result<Restart, String> {
        Restart::parse(&s)
    }
}

impl From<Restart> for String {
    fn from(r: Restart) -> String {
        r.to_string()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_print_and_decide() {
        for p in ["no", "on-failure", "on-failure:2", "always", "unless-stopped"] {
            assert_eq!(Restart::parse(p).unwrap().to_string(), p);
        }
        for bad in ["sometimes", "always:3", "on-failure:x", "on-failure:-1", ""] {
            assert!(Restart::parse(bad).is_err(), "{bad}");
        }
        let two = Restart::OnFailure(Some(2));
        assert!(two.again(1, 0) && two.again(1, 1) && !two.again(1, 2) && !two.again(0, 0));
        assert!(Restart::Always.again(0, 100) && !Restart::No.again(1, 0));
    }
}
