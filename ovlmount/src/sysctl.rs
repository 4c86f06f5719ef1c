//! `--sysctl KEY=VALUE`: kernel parameters of the container's own namespaces, written
//! through `/proc/sys` from inside them (a namespaced parameter is the one of the
//! namespace of the process that writes it).
//!
//! Only namespaced parameters are accepted, as runc accepts them: the IPC ones
//! (`kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`, `kernel.sem`, `kernel.shmall`,
//! `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced`, `fs.mqueue.*`), the
//! network ones (`net.*`) and the UTS ones (`kernel.hostname`, `kernel.domainname`).
//! Any other would change the whole machine. Each is written only where its namespace
//! is not the host's.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chainload::error::FromIo;

use crate::hostns::{self, Namespace};
use crate::Error;

/// One `KEY=VALUE`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// The dotted key (`net.ipv4.ip_forward`).
    pub key: String,
    /// What is written.
    pub value: String,
    /// The namespace it belongs to.
    pub namespace: Namespace,
}

const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a key belongs to; `None`: not namespaced.
pub fn namespace_of(key: &str) -> Option<Namespace> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(Namespace::Ipc)
    } else if key.starts_with("net.") {
        Some(Namespace::Net)
    } else if matches!(key, "kernel.hostname" | "kernel.domainname") {
        Some(Namespace::Uts)
    } else {
        None
    }
}

impl Sysctl {
    /// Check `key` and `value`: a namespaced key made of plain components (`net.ipv4.
    /// ip_forward` or `net/ipv4/ip_forward`), a value of one line.
    pub fn new(key: &str, value: &str) -> Result<Sysctl, String> {
        let key = key.replace('/', ".");
        let plain = |c: &str| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !key.split('.').all(plain) {
            return Err(format!("'{key}' is not a sysctl key"));
        }
        let namespace = namespace_of(&key).ok_or_else(|| {
            format!("'{key}' is not namespaced: it would change the host (only IPC, network and UTS ones are allowed)")
        })?;
        if value.contains('\n') {
            return Err(format!("{key}: the value must be one line"));
        }
        Ok(Sysctl { key, value: value.to_string(), namespace })
    }

    /// Parse `KEY=VALUE`.
    pub fn parse(s: &str) -> Result<Sysctl, String> {
        let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))?;
        Sysctl::new(k, v)
    }

    /// Its file under /proc/sys.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/proc/sys").join(self.key.replace('.', "/"))
    }

    /// Write it, refusing where its namespace is the host's.
    pub fn apply(&self) -> Result<(), Error> {
        if hostns::is_host(self.namespace)? {
            return Err(Error::HostSysctl { key: self.key.clone(), namespace: self.namespace.name() });
        }
        let path = self.path();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io(format!("sysctl {}", self.key), &path, e))?;
        f.write_all(self.value.as_bytes())
            .map_err(|e| Error::io(format!("sysctl {}={}", self.key, self.value), &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_keys_only() {
        assert_eq!(Sysctl::parse("net.ipv4.ip_forward=1").unwrap().namespace, Namespace::Net);
        assert_eq!(Sysctl::parse("net/ipv4/ping_group_range=0 0").unwrap().key, "net.ipv4.ping_group_range");
        assert_eq!(Sysctl::parse("kernel.shmmax=1").unwrap().namespace, Namespace::Ipc);
        assert_eq!(Sysctl::parse("fs.mqueue.msg_max=20").unwrap().namespace, Namespace::Ipc);
        assert_eq!(Sysctl::parse("kernel.hostname=x").unwrap().namespace, Namespace::Uts);
        assert!(Sysctl::parse("kernel.panic=1").unwrap_err().contains("not namespaced"));
        assert!(Sysctl::parse("vm.overcommit_memory=1").is_err());
        assert!(Sysctl::parse("net.ipv4..x=1").is_err());
        assert!(Sysctl::parse("net.ipv4.x/../../kernel/panic=1").is_err());
        assert!(Sysctl::parse("net.ipv4").is_err());
        assert!(Sysctl::parse("net.ipv4.ip_forward=1\n2").is_err());
        assert_eq!(
            Sysctl::parse("net.core.somaxconn=1").unwrap().path(),
            PathBuf::from("/proc/sys/net/core/somaxconn")
        );
    }
}
