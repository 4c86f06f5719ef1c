//! A process's resources that its children inherit: resource limits (setrlimit) by the
//! names docker's `--ulimit` and the OCI's `process.rlimits` use, and the OOM score
//! (`/proc/self/oom_score_adj`). Shared by `ovlmount enter --rlimit`, `nsenter-rs
//! --rlimit` and `ctr-oci` (which sets them in the chain's first process).

use nix::errno::Errno;

/// The resources by name: docker's (`nofile`), the OCI's are `RLIMIT_` and the same in
/// capitals. (The casts are for glibc, where the constants are `u32`; musl's are `i32`.)
#[allow(clippy::unnecessary_cast)]
const RESOURCES: [(&str, i32); 16] = [
    ("cpu", libc::RLIMIT_CPU as i32),
    ("fsize", libc::RLIMIT_FSIZE as i32),
    ("data", libc::RLIMIT_DATA as i32),
    ("stack", libc::RLIMIT_STACK as i32),
    ("core", libc::RLIMIT_CORE as i32),
    ("rss", libc::RLIMIT_RSS as i32),
    ("nproc", libc::RLIMIT_NPROC as i32),
    ("nofile", libc::RLIMIT_NOFILE as i32),
    ("memlock", libc::RLIMIT_MEMLOCK as i32),
    ("as", libc::RLIMIT_AS as i32),
    ("locks", libc::RLIMIT_LOCKS as i32),
    ("sigpending", libc::RLIMIT_SIGPENDING as i32),
    ("msgqueue", libc::RLIMIT_MSGQUEUE as i32),
    ("nice", libc::RLIMIT_NICE as i32),
    ("rtprio", libc::RLIMIT_RTPRIO as i32),
    ("rttime", libc::RLIMIT_RTTIME as i32),
];

/// One resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rlimit {
    /// The `RLIMIT_*` number.
    pub resource: i32,
    /// The soft limit (`u64::MAX`: unlimited).
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
}

/// The `RLIMIT_*` number of `name`: `nofile`, `NOFILE` or `RLIMIT_NOFILE`.
pub fn resource_number(name: &str) -> Option<i32> {
    let lower = name.to_ascii_lowercase();
    let short = lower.strip_prefix("rlimit_").unwrap_or(&lower);
    RESOURCES.iter().find(|(n, _)| *n == short).map(|(_, r)| *r)
}

/// The docker name of resource number `resource` (`nofile`).
pub fn resource_name(resource: i32) -> &'static str {
    RESOURCES.iter().find(|(_, r)| *r == resource).map(|(n, _)| *n).unwrap_or("?")
}

fn parse_value(s: &str) -> Result<u64, String> {
    match s {
        "unlimited" | "-1" => Ok(u64::MAX),
        _ => s.parse().map_err(|_| format!("'{s}' is not a number (or unlimited)")),
    }
}

impl Rlimit {
    /// Parse `NAME=SOFT[:HARD]` (docker's `--ulimit`: the hard limit is the soft one when
    /// not given; `unlimited` or -1 for none).
    pub fn parse(s: &str) -> Result<Rlimit, String> {
        let (name, values) = s.split_once('=').ok_or_else(|| format!("expected NAME=SOFT[:HARD], got '{s}'"))?;
        let resource = resource_number(name).ok_or_else(|| {
            let names: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
            format!("'{name}' is not a resource limit (one of {})", names.join(", "))
        })?;
        let (soft, hard) = match values.split_once(':') {
            Some((soft, hard)) => (parse_value(soft)?, parse_value(hard)?),
            None => {
                let v = parse_value(values)?;
                (v, v)
            }
        };
        if soft > hard {
            return Err(format!("'{s}': the soft limit is above the hard limit"));
        }
        Ok(Rlimit { resource, soft, hard })
    }

    /// `NAME=SOFT:HARD`, as [`Rlimit::parse`] reads it.
    pub fn to_arg(&self) -> String {
        let v = |n: u64| if n == u64::MAX { "unlimited".to_string() } else { n.to_string() };
        format!("{}={}:{}", resource_name(self.resource), v(self.soft), v(self.hard))
    }
}

/// Set every limit of `limits`, in order: setrlimit only (async-signal-safe, nothing
/// allocated, so it may run between fork and exec). On failure: which one, and why.
pub fn set_all(limits: &[Rlimit]) -> Result<(), (Rlimit, Errno)> {
    for l in limits {
        let lim = libc::rlimit { rlim_cur: l.soft, rlim_max: l.hard };
        // SAFETY: a valid rlimit for the duration of the call. (c_int on musl, an
        // unsigned resource type on glibc.)
        if unsafe { libc::setrlimit(l.resource as _, &lim) } != 0 {
            return Err((*l, Errno::last()));
        }
    }
    Ok(())
}

/// Parse an OOM score adjustment (-1000 to 1000).
pub fn parse_oom_score_adj(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(n) if (-1000..=1000).contains(&n) => Ok(n),
        _ => Err(format!("'{s}': the OOM score adjustment is a number from -1000 to 1000")),
    }
}

/// Write `score` to `/proc/self/oom_score_adj`. `text` is the score as text with a
/// newline, made before (open, write and close only: it may run between fork and exec).
pub fn set_oom_score_adj(text: &str) -> Result<(), Errno> {
    // SAFETY: a NUL-terminated path; the buffer is valid for its length.
    unsafe {
        let fd = libc::open(c"/proc/self/oom_score_adj".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(Errno::last());
        }
        let n = libc::write(fd, text.as_ptr().cast(), text.len());
        let err = Errno::last();
        libc::close(fd);
        if n < 0 {
            return Err(err);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_ulimit() {
        let l = Rlimit::parse("nofile=100:200").unwrap();
        #[allow(clippy::unnecessary_cast)] // (u32 on glibc)
        let nofile = libc::RLIMIT_NOFILE as i32;
        assert_eq!((l.resource, l.soft, l.hard), (nofile, 100, 200));
        assert_eq!(Rlimit::parse("nproc=50").unwrap().hard, 50);
        assert_eq!(Rlimit::parse("core=unlimited").unwrap().soft, u64::MAX);
        assert_eq!(Rlimit::parse("RLIMIT_STACK=1:-1").unwrap().hard, u64::MAX);
        assert!(Rlimit::parse("nofile=200:100").is_err());
        assert!(Rlimit::parse("files=1").is_err());
        assert!(Rlimit::parse("nofile").is_err());
        assert_eq!(Rlimit::parse("nofile=1:unlimited").unwrap().to_arg(), "nofile=1:unlimited");
        assert!(parse_oom_score_adj("1001").is_err());
        assert_eq!(parse_oom_score_adj("-500"), Ok(-500));
    }
}
