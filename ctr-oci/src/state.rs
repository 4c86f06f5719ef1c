//! What `ctr-oci` keeps of a container, in `ROOT/ID/` (0700): `state.json` (written
//! atomically), the start gate's `exec.fifo` while the container is created and not
//! started, and the chain's own files (the init's pid, a seccomp profile).
//!
//! The status is never stored: it is read from the init and its cgroup each time, so it
//! cannot be stale. An init that has ended (a zombie too), or whose pid now belongs to
//! another process (its start time differs), is `stopped`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chainload::error::FromIo;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The OCI runtime spec version the state reports.
pub const OCI_VERSION: &str = "1.2.0";

/// Where the states are (`--root`).
#[derive(Debug, Clone)]
pub struct Root {
    /// The directory.
    pub dir: PathBuf,
    /// The call's `--log` (for warnings).
    pub log: crate::log::Log,
}

/// The init's pid file's name.
pub const PID_FILE: &str = "init.pid";

/// One container's directory.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    /// The directory.
    pub dir: PathBuf,
}

impl ContainerDir {
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// The start gate's FIFO.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }
    /// Where unshare-rs writes the init's pid.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join(PID_FILE)
    }
    /// In a joined user namespace, where it writes it instead: a directory of that
    /// namespace's root (the chain is root there, and cannot write in this one).
    pub fn joined_pid_dir(&self) -> PathBuf {
        self.dir.join("userns-init")
    }
    /// The init's pid as unshare-rs wrote it, in either place; 0 if not (yet) written.
    pub fn read_pid(&self) -> i32 {
        [self.pid_file(), self.joined_pid_dir().join(PID_FILE)]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
            .unwrap_or(0)
    }
    /// The seccomp profile the init gets (docker's JSON form of the spec's).
    pub fn seccomp(&self) -> PathBuf {
        self.dir.join("seccomp.json")
    }
}

/// runc's rule for ids: letters, digits, `_`, `+`, `-`, `.`, not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid container id '{id}': use letters, digits, '_', '+', '-' and '.'")))
    }
}

impl Root {
    /// `--root`, or runc's default (`/run/ctr-oci`; `$XDG_RUNTIME_DIR/ctr-oci` for a user
    /// other than root).
    pub fn new(given: Option<PathBuf>) -> Root {
        let dir = given.unwrap_or_else(|| match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(x) if !nix::unistd::geteuid().is_root() => PathBuf::from(x).join("ctr-oci"),
            _ => PathBuf::from("/run/ctr-oci"),
        });
        Root { dir, log: crate::log::Log::default() }
    }

    /// This root, its warnings going to `log` too.
    pub fn logging_to(self, log: crate::log::Log) -> Root {
        Root { log, ..self }
    }

    /// A warning: on stderr and in the log.
    pub fn warn(&self, msg: &str) {
        eprintln!("ctr-oci: warning: {msg}");
        self.log.warn(msg);
    }

    /// The directory of container `id` (which may not exist).
    pub fn container(&self, id: &str) -> ContainerDir {
        ContainerDir { dir: self.dir.join(id) }
    }

    /// Create the root (0700) if it is not there.
    pub fn ensure(&self) -> Result<(), Error> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| Error::io("cannot create", &self.dir, e))
    }

    /// Every container's state, by id; directories without a readable state are left
    /// out (a `create` in progress).
    pub fn list(&self) -> Vec<State> {
        let mut out: Vec<State> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| State::load(&ContainerDir { dir: e.path() }.state()).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// The state of container `id`, or "container does not exist".
    pub fn find(&self, id: &str) -> Result<State, Error> {
        check_id(id)?;
        let p = self.container(id).state();
        if !p.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        State::load(&p)
    }
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Set up, its init waiting at the start gate.
    Created,
    /// Started.
    Running,
    /// Its cgroup is frozen.
    Paused,
    /// Its init has ended.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What is kept of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Its id.
    pub id: String,
    /// The init's host pid.
    pub pid: i32,
    /// The init's start time (`/proc/PID/stat` field 22): a pid with another is not it.
    pub pid_start: u64,
    /// The bundle (absolute).
    pub bundle: PathBuf,
    /// The root filesystem (absolute).
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Who created it (the user name, or the uid).
    pub owner: String,
    /// The spec's annotations, echoed by `state`.
    pub annotations: BTreeMap<String, String>,
    /// Its cgroup, a cgctl NAME (as chosen at `create`, for every later call).
    pub cgroup: String,
    /// The hooks still to come (start, poststart, poststop).
    #[serde(default, skip_serializing_if = "crate::hooks::Hooks::is_empty")]
    pub hooks: crate::hooks::Hooks,
}

impl State {
    /// Read a state file.
    pub fn load(path: &Path) -> Result<State, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Write it atomically ([`chainload::replace`]).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string(self)?;
        chainload::replace::write(path, text.as_bytes(), 0o644).map_err(|e| Error::io("cannot write", path, e))
    }

    /// Whether the init still runs (not ended, not a zombie, not a reused pid).
    pub fn init_alive(&self) -> bool {
        self.pid > 0 && chainload::procstat::read(self.pid).is_some_and(|s| !s.ended() && s.start == self.pid_start)
    }

    /// The status now.
    pub fn status(&self, root: &Root) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if root.container(&self.id).fifo().exists() {
            return Status::Created;
        }
        let frozen = cgctl::setup::Cgroups::detect().ok().is_some_and(|cg| {
            cgctl::name::GroupName::parse(&self.cgroup).is_ok_and(|n| cgctl::group::Group::new(&cg, n).is_frozen())
        });
        if frozen {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The state as `ctr-oci state` prints it (the runtime spec's, with pid 0 once
    /// stopped).
    pub fn report(&self, root: &Root) -> serde_json::Value {
        let status = self.status(root);
        let pid = if status == Status::Stopped { 0 } else { self.pid };
        serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": status.to_string(),
            "pid": pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": self.annotations,
        })
    }

    /// The state a hook is given: the runtime spec's, with `status` as the hook's point
    /// of the lifecycle has it.
    pub fn for_hook(&self, status: &str) -> serde_json::Value {
        hook_state(&self.id, status, self.pid, &self.bundle, &self.annotations)
    }
}

/// The state given to a hook on its stdin.
pub fn hook_state(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &Path,
    annotations: &BTreeMap<String, String>,
) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
        "annotations": annotations,
    })
}
