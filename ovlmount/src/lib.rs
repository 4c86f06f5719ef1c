//! `ovlmount`: assemble an overlayfs root from layers, enter it with pivot_root, and
//! convert layers to and from OCI layer tars.
//!
//! # Synopsis
//!
//! ```text
//! ovlmount mount  --lower DIR [--lower DIR]... [--upper DIR --work DIR] [--init-layer DIR]
//!                 [-o OPTION]... [--json] TARGET
//! ovlmount umount TARGET
//! ovlmount enter  --lower ... [--upper DIR --work DIR] [--init-layer DIR] --target DIR
//!                 [--proc] [--dev] [--sys] [--tmpfs DIR[:OPTIONS]]... [--mask-defaults] [--readonly]
//!                 [--bind SRC:DST[:ro]]... [--init hostname=NAME|hosts|hosts=FILE|resolv=FILE]...
//!                 [--passwd-entry LINE]... [--group-entry LINE]... [--sysctl KEY=VALUE]... [--workdir DIR]
//!                 [--user USER[:GROUP]] [--group-add GROUP]... [--cap-add CAP]... [--cap-drop CAP]...
//!                 [--no-new-privs] -- CMD...
//! ovlmount commit UPPER -o FILE [--gzip] [--json]
//! ovlmount import FILE DIR
//! ovlmount diff   UPPER [--lower DIR]... [--json]
//! ```
//!
//! `--lower` is repeatable or colon-separated (`\:` for a colon in a path), top first.
//! Without `--upper` the overlay is read-only. See [`enter`] for what `enter` does in
//! order, [`commit`] and [`import`] for the layer format.
//!
//! # Exit status
//!
//! 125 when ovlmount fails (usage errors too); for `enter`, 126 when the program cannot
//! be executed, 127 when it is not found (otherwise `enter` is the program).

pub mod accounts;
pub mod archive;
pub mod commit;
pub mod diff;
pub mod enter;
pub mod hostns;
pub mod import;
pub mod overlay;
pub mod rootfs;
pub mod stack;
pub mod sys;
pub mod sysctl;
pub mod tmpfs;
pub mod tree;

mod error;
pub use error::Error;
