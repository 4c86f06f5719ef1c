//! `ctr-run`: the thin orchestrator. It chains the other four tools into `docker run` and
//! friends, and supervises the chain.
//!
//! # Synopsis
//!
//! ```text
//! ctr-run [--root DIR] run [OPTIONS] [--] [CMD...]
//! ctr-run [--root DIR] exec [-e KEY=VAL]... [-w DIR] [-u UID[:GID]] ID -- CMD...
//! ctr-run [--root DIR] ps [-a] [--json | -q | --format TEMPLATE] [-f KEY=VALUE]...
//! ctr-run [--root DIR] kill [-s SIGNAL] ID
//! ctr-run [--root DIR] stop | restart | wait | rm [-f] | pause | unpause ID...
//! ctr-run [--root DIR] inspect [-f TEMPLATE] ID... | top ID | stats [ID...]
//! ctr-run [--root DIR] logs ID
//! ctr-run [--root DIR] diff [--json] ID
//! ctr-run [--root DIR] commit ID -o FILE [--gzip]
//! ctr-run [--root DIR] image import NAME FILE | image ls [--json] | image rm NAME
//! ```
//!
//! A container is a visible chain (see [`chain`]): `cgctl exec --create` (the cgroup and
//! its limits) → `unshare-rs` (namespaces) → `ovlmount enter` (layered root, pivot_root,
//! confinement) → the command; its supervisor (ctr-run) reads the OOM kill count and
//! removes the cgroup when it ends. `run --dry-run` prints it as one shell command that
//! builds the same container by hand. State lives under `--root` (default
//! `/run/ctr-run`; a user's `$XDG_RUNTIME_DIR/ctr-run`, see [`rootless`]): `ROOT/ID/` per
//! container ([`paths`], [`state`]), `ROOT/names/NAME` per name ([`names`]),
//! `ROOT/images/NAME/` per image ([`image`]).
//!
//! # Exit status
//!
//! docker's: 125 when ctr-run itself fails (one line says what), 126 when the command
//! cannot be executed, 127 when it is not found, otherwise the container's status
//! (128+N for a signal); an OOM kill prints `ctr-run: NAME: killed by the OOM killer
//! (memory limit SIZE)` and exits 137.

pub mod chain;
pub mod config;
pub mod detach;
pub mod environ;
pub mod image;
pub mod init;
pub mod inspect;
pub mod names;
pub mod ops;
pub mod paths;
pub mod pause;
pub mod resolve;
pub mod rootless;
pub mod spares;
pub mod state;
pub mod store;
pub mod supervise;
pub mod template;
pub mod terminal;

mod error;
pub use error::Error;
