//! `state.json`: what ctr-run knows about a container, and the identity of its processes
//! (pid *and* start time, so a recycled pid is never mistaken for the container).

use std::path::{Path, PathBuf};

use chainload::procstat;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::Error;
use chainload::error::FromIo;

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its directory exists; its chain has not started its PID 1 yet.
    Created,
    /// Its PID 1 runs.
    Running,
    /// It ended, and its restart policy starts it again (after a delay).
    Restarting,
    /// It ended.
    Exited,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        })
    }
}

/// A process: pid and start time (clock ticks after boot, `/proc/PID/stat` field 22).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    /// Host pid.
    pub pid: i32,
    /// Start time.
    pub start: u64,
}

impl Proc {
    /// The process `pid` as it is now, if it exists.
    pub fn of(pid: i32) -> Option<Proc> {
        procstat::read(pid).map(|s| Proc { pid, start: s.start })
    }

    /// Whether this very process is still alive (not a zombie, not a recycled pid).
    pub fn alive(&self) -> bool {
        procstat::read(self.pid).is_some_and(|s| !s.ended() && s.start == self.start)
    }
}

/// How the root filesystem was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "source")]
pub enum Rootfs {
    /// An imported image, by name.
    Image(String),
    /// A plain directory as the single read-only layer.
    Dir(PathBuf),
    /// The host's own root, read-only, as an ephemeral snapshot.
    Host,
}

/// Everything recorded about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Full id (64 hex digits).
    pub id: String,
    /// Name.
    pub name: String,
    /// Where it is in its life.
    pub status: Status,
    /// Its PID 1, once running.
    pub pid: Option<Proc>,
    /// The supervising ctr-run process.
    pub supervisor: Option<Proc>,
    /// Exit status, once exited (128+N for a signal).
    pub exit_code: Option<i32>,
    /// Whether the OOM killer ended it.
    pub oom_killed: bool,
    /// Creation time (seconds since the epoch).
    pub created: u64,
    /// End time (seconds since the epoch).
    pub finished: Option<u64>,
    /// Root filesystem source.
    pub rootfs: Rootfs,
    /// What it is and runs.
    #[serde(flatten)]
    pub config: Config,
    /// The chain that runs it, as one shell command (`inspect` shows it).
    #[serde(default)]
    pub chain: String,
    /// When its command last started (seconds since the epoch).
    #[serde(default)]
    pub started: Option<u64>,
    /// How often its restart policy (or `restart`) started it again.
    #[serde(default)]
    pub restart_count: u32,
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl State {
    /// Read `state.json`.
    pub fn load(path: &Path) -> Result<State, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        serde_json::from_str(&text).map_err(|source| Error::DamagedState { path: path.to_path_buf(), source })
    }

    /// Write `state.json` atomically ([`chainload::replace`]), readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string(self)?;
        chainload::replace::write(path, text.as_bytes(), 0o600).map_err(|e| Error::io("cannot write", path, e))
    }

    /// The first 12 digits of the id.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// Whether the container's PID 1 is alive.
    pub fn running(&self) -> bool {
        self.status == Status::Running && self.pid.is_some_and(|p| p.alive())
    }

    /// Whether the state says it is (or is about to be) running but its supervisor is
    /// gone: the supervisor was killed and nobody cleaned up.
    pub fn stale(&self) -> bool {
        self.status != Status::Exited && !self.supervisor.is_some_and(|s| s.alive())
    }
}
