//! `cgctl`: create cgroups, write limits, move processes in, read stats — on cgroup v1,
//! hybrid and v2 alike.
//!
//! # Synopsis
//!
//! ```text
//! cgctl info   [--json]
//! cgctl create NAME [LIMITS]
//! cgctl set    NAME LIMITS
//! cgctl exec   [--create] NAME [LIMITS] -- CMD...
//! cgctl run    [--name NAME] [--keep] [--stats] [LIMITS] -- CMD...
//! cgctl add    NAME PID...
//! cgctl stats  NAME [--json | --format prometheus]
//! cgctl ls     [NAME] [--json]
//! cgctl rm     [--force] NAME...
//! cgctl freeze NAME | cgctl thaw NAME | cgctl kill [-s SIGNAL] NAME
//! ```
//!
//! NAME `/ctr/web` is absolute from each hierarchy's root; `web` or `a/b` is relative to
//! the caller's own cgroup in each hierarchy. LIMITS use docker's names and units (see
//! [`limits`]).
//!
//! # What it does
//!
//! The setup is detected from `/proc/self/mountinfo` ([`setup`]). A group lives in the
//! v2 tree when one is mounted and, on v1 and hybrid machines, in the v1 hierarchies of
//! memory, cpu, cpuacct, pids and freezer plus any a limit needs ([`group`]). Limits are
//! checked before anything is created; a limit that cannot be applied is an error naming
//! the file and the value, and everything the command created is removed again.
//!
//! # Exit status
//!
//! 125 when cgctl fails (usage errors too); for `exec` and `run`, 126 when the command
//! cannot be executed, 127 when it is not found, else the command's status (a command
//! killed by signal N: cgctl dies by N; killed by the OOM killer: a message and 137).

pub mod bpf;
pub mod clone3;
pub mod commands;
pub mod cpulist;
pub mod devices;
pub mod files;
pub mod group;
pub mod limits;
pub mod name;
mod plan;
pub mod run;
pub mod setup;
pub mod stats;

use std::path::PathBuf;

pub use chainload::error::Failure;
use chainload::error::OsError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad options or arguments.
    #[error("{0}")]
    Usage(String),
    /// Something this machine or kernel cannot do (a controller, an interface file, a
    /// freezer that is not there).
    #[error("{0}")]
    Unsupported(String),
    /// A process named on the command line does not exist.
    #[error("no such process: {0}")]
    NoSuchProcess(i32),
    /// The group holds processes that are in the way, or that would not die.
    #[error("{0}")]
    Busy(String),
    /// The kernel did not report the group frozen.
    #[error("cannot freeze '{name}': the kernel did not report it frozen within {seconds} s ('{}': {state}); left thawed", file.display())]
    NotFrozen {
        /// The group.
        name: String,
        /// How long it was given.
        seconds: u64,
        /// The freezer state file.
        file: PathBuf,
        /// What it said.
        state: String,
    },
    /// The group does not exist.
    #[error("no such group '{0}'")]
    NoSuchGroup(String),
    /// The group already exists.
    #[error("group '{0}' already exists")]
    Exists(String),
    /// The kernel refused a value.
    #[error("cannot write '{value}' ({flag}) to '{}': {}", path.display(), chainload::cli::io_reason(source))]
    Write {
        /// The text written.
        value: String,
        /// The flag it came from.
        flag: String,
        /// The interface file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// cgroup v2's "no internal processes" rule.
    #[error(
        "cannot enable the {controller} controller in '{}': its group has processes of its own, \
         and cgroup v2 forbids controllers below a group with processes; use an absolute NAME under \
         a group without processes, or a parent delegated to you",
        path.display()
    )]
    NoInternalProcesses {
        /// The controller.
        controller: String,
        /// The `cgroup.subtree_control` file.
        path: PathBuf,
    },
    /// A report could not be encoded.
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file, a system call, or a program that could not be executed.
    #[error(transparent)]
    Os(#[from] OsError),
}

/// The exit status: 126/127 when the program could not be executed, else 125.
impl Failure for Error {}
