//! `chainload`: what every tool of the chain does the same way.
//!
//! The tools follow the chain-loading convention (read your options, do your one
//! thing, exec the rest of argv). This crate holds the pieces of that convention
//! that three or more tools share, and nothing else:
//!
//! - [`exec`]: exec a program and map failure to 126 (cannot execute) or 127 (not found);
//! - [`status`]: wait for a child and pass its status on (re-raising a fatal signal);
//! - [`signals`]: signal names, masks, and forwarding signals to a child while waiting;
//! - [`confine`]: the final confinement before exec (capability bounding set,
//!   no_new_privs, closing inherited file descriptors);
//! - [`openat2`]: opening what a container's tree controls without following it out;
//! - [`caps`]: capability names and the capget/capset/prctl primitives behind them;
//! - [`ids`]: user and group names from a passwd/group file;
//! - [`units`]: sizes (`64M`, `1.5G`) and durations;
//! - [`kernel`]: the running kernel's version;
//! - [`procstat`]: a process's state, parent and start time from `/proc/PID/stat`;
//! - [`ps`]: `ps`'s table of some processes (a container's `top`);
//! - [`replace`]: replacing a small file atomically (state and pid files);
//! - [`time`]: RFC 3339 timestamps;
//! - [`cli`]: parsing with clap and the exit status convention for usage errors;
//! - [`docs`]: man pages and shell completions from the same clap definitions;
//! - [`error`]: the error type of the tools that need nothing more specific;
//! - the memory allocator of every tool built for musl (see `alloc.rs`).

mod alloc;
pub mod caps;
pub mod cli;
pub mod confine;
pub mod console;
pub mod docs;
pub mod environment;
pub mod error;
pub mod exec;
pub mod ids;
pub mod kernel;
pub mod openat2;
pub mod pidfile;
pub mod proccgroup;
pub mod procstat;
pub mod progress;
pub mod ps;
pub mod replace;
pub mod rlimit;
pub mod seccomp;
pub mod signals;
pub mod status;
pub mod time;
pub mod tools;
pub mod units;

/// Exit status when the tool itself failed (usage errors included).
pub const EXIT_TOOL_FAILED: i32 = 125;
/// Exit status when the program was found but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the program was not found.
pub const EXIT_NOT_FOUND: i32 = 127;

/// The status of a program killed by SIGKILL (128 + 9), as a shell reports it: what a
/// container killed by the OOM killer or by `kill` exits with.
pub const EXIT_KILLED: i32 = 128 + libc::SIGKILL;
