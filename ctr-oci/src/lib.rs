//! ctr-oci: an OCI runtime with runc's command line (`create`, `start`, `state`, `kill`,
//! `delete`, `run`, `list`, `features`, `spec`, `exec`, `pause`, `resume`, `ps`,
//! `update`, `events`), so podman (through conmon) and
//! containerd (through its runc shim) can run containers on the chain.
//!
//! A bundle's `config.json` (typed with `oci-spec`) becomes the chain, which `ctr-oci
//! chain --bundle DIR` prints as a shell command:
//!
//! ```text
//! cgctl exec --create --controllers all [limits, device list] CGROUP --
//!   unshare-rs --detach --pid-file STATE/pid [namespaces] [--hostname H] --
//!     ovlmount enter --rootfs BUNDLE/rootfs [mounts, masks, user, capabilities,
//!       seccomp] --start-fifo STATE/exec.fifo --stderr-fd N -- ARGS
//! ```
//!
//! `create` runs it and returns once the container's init waits at the start gate,
//! fully set up but for its seccomp filter (runc's exec FIFO); no process of ours stays
//! between the init and the caller (`unshare-rs --detach`): the caller, as a
//! subreaper, reaps it. `start` opens the FIFO. The state kept in `ROOT/ID/` is what the
//! runtime command line promises; `state` derives the status from the init itself
//! (`stopped` once it has ended, a zombie too, or its pid was reused).
//!
//! What `config.json` asks and the chain cannot do is an error naming the field, never
//! ignored (see [`bundle`]).

pub mod bundle;
pub mod chain;
mod error;
pub mod events;
pub mod exec;
pub mod features;
pub mod hooks;
pub mod log;
pub mod ops;
pub mod state;
pub mod userns;
pub use chainload::time;

pub use error::Error;
