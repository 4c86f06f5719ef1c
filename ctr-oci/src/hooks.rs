//! The OCI hooks of `config.json`, at the points of the lifecycle the runtime spec
//! names, each given the container's state as JSON on its stdin:
//!
//! - `prestart` (deprecated) and `createRuntime`: during `create`, once the container's
//!   namespaces and mounts are made but before pivot_root (the init waits at
//!   `ovlmount enter --hook-gate`), in the runtime's namespaces;
//! - `createContainer`: right after them, in the container's namespaces (through
//!   `nsenter-rs`), the path resolved as the runtime sees it (the root is not changed
//!   yet);
//! - `startContainer`: during `start`, before the program runs, in the container's
//!   namespaces with the path resolved inside its root;
//! - `poststart`: once the program runs, before `start` returns; `poststop`: once the
//!   container is deleted, before `delete` returns.
//!
//! A failing (or timed-out) create or start hook fails the call and the container goes;
//! a failing poststart or poststop hook is a warning (in `--log`) and the rest go on, as
//! the spec says.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Error;

/// One hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// The program (absolute).
    pub path: PathBuf,
    /// Its argv (argv\[0\] first; empty: the path).
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<String>,
    /// Seconds it may take.
    pub timeout: Option<u64>,
}

/// The hooks, by lifecycle point (`prestart` runs with `createRuntime`, first).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// `prestart` then `createRuntime`.
    pub create_runtime: Vec<Hook>,
    /// `createContainer`.
    pub create_container: Vec<Hook>,
    /// `startContainer`.
    pub start_container: Vec<Hook>,
    /// `poststart`.
    pub poststart: Vec<Hook>,
    /// `poststop`.
    pub poststop: Vec<Hook>,
}

impl Hooks {
    /// The hooks of `spec.hooks`, checked (an absolute path, a timeout above 0).
    pub fn from_spec(h: Option<&oci_spec::runtime::Hooks>) -> Result<Hooks, Error> {
        let Some(h) = h else { return Ok(Hooks::default()) };
        let list = |name: &str, hooks: &Option<Vec<oci_spec::runtime::Hook>>| -> Result<Vec<Hook>, Error> {
            let mut out = Vec::new();
            for (i, hook) in hooks.iter().flatten().enumerate() {
                let field = format!("hooks.{name}[{i}]");
                if !hook.path().is_absolute() {
                    return Err(Error::Unsupported { field: format!("{field}.path"), why: "must be absolute".into() });
                }
                if hook.timeout().is_some_and(|t| t <= 0) {
                    return Err(Error::Unsupported {
                        field: format!("{field}.timeout"),
                        why: "must be above 0".into(),
                    });
                }
                out.push(Hook {
                    path: hook.path().clone(),
                    args: hook.args().clone().unwrap_or_default(),
                    env: hook.env().clone().unwrap_or_default(),
                    timeout: hook.timeout().map(|t| t as u64),
                });
            }
            Ok(out)
        };
        #[allow(deprecated)] // (prestart is deprecated, and still sent)
        let prestart = list("prestart", h.prestart())?;
        let mut create_runtime = prestart;
        create_runtime.extend(list("createRuntime", h.create_runtime())?);
        Ok(Hooks {
            create_runtime,
            create_container: list("createContainer", h.create_container())?,
            start_container: list("startContainer", h.start_container())?,
            poststart: list("poststart", h.poststart())?,
            poststop: list("poststop", h.poststop())?,
        })
    }

    /// Whether `create` must stop the init before pivot_root for them.
    pub fn need_gate(&self) -> bool {
        !self.create_runtime.is_empty() || !self.create_container.is_empty()
    }

    /// Whether there are none at all.
    pub fn is_empty(&self) -> bool {
        *self == Hooks::default()
    }
}

/// Where a hook runs: in the runtime's namespaces, or in the container's (those of its
/// init, through `nsenter-rs`).
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// As ctr-oci runs.
    Runtime,
    /// Joining every namespace of the init `pid` (nsenter-rs at `nsenter`).
    Container { nsenter: &'a std::path::Path, pid: i32 },
}

/// Run `hooks` (of lifecycle point `point`, for messages) one after the other, each
/// with `state` on its stdin; the first that fails (exits non-zero, cannot be run, or
/// outlives its timeout) is the error, with the last line of its stderr.
pub fn run(hooks: &[Hook], point: &str, state: &serde_json::Value, place: Place<'_>) -> Result<(), Error> {
    for hook in hooks {
        run_one(hook, state, place)
            .map_err(|why| Error::Hook(format!("{point} hook '{}' {why}", hook.path.display())))?;
    }
    Ok(())
}

/// [`run`], where a failure is only a warning: each one, as a line, returned.
pub fn run_warning(hooks: &[Hook], point: &str, state: &serde_json::Value) -> Vec<String> {
    hooks
        .iter()
        .filter_map(|hook| {
            run_one(hook, state, Place::Runtime)
                .err()
                .map(|why| format!("{point} hook '{}' {why}", hook.path.display()))
        })
        .collect()
}

fn run_one(hook: &Hook, state: &serde_json::Value, place: Place<'_>) -> Result<(), String> {
    let mut cmd = match place {
        Place::Runtime => {
            let mut c = Command::new(&hook.path);
            if let Some((argv0, rest)) = hook.args.split_first() {
                c.arg0(argv0).args(rest);
            }
            c
        }
        Place::Container { nsenter, pid } => {
            let mut c = Command::new(nsenter);
            c.args(["-t", &pid.to_string(), "-a", "--"]).arg(&hook.path);
            c.args(hook.args.iter().skip(1));
            c
        }
    };
    cmd.env_clear()
        .envs(hook.env.iter().filter_map(|e| e.split_once('=')))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot be run: {}", chainload::cli::io_reason(&e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // (A hook that does not read its state is no error.)
        let _ = stdin.write_all(state.to_string().as_bytes());
    }
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let limit = hook.timeout.map(Duration::from_secs);
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => return Err(format!("cannot be waited for: {e}")),
        }
        if limit.is_some_and(|l| started.elapsed() > l) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", limit.map_or(0, |l| l.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let text = reader.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!(": {}", l.trim()));
    Err(format!("failed ({status}){}", last.unwrap_or_default()))
}
