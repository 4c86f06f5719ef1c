//! The environment a program is exec'd with, where a tool sets it as a whole
//! (`unshare --clear-env`, `nsenter --env`, ctr-run's chain); the exec itself is
//! [`crate::exec::execvpe`], which leaves this process's environment alone.

use std::ffi::{OsStr, OsString};

/// The variables named in `names` (each a comma-separated list, as util-linux's
/// `--whitelist-env` takes them) that are set now, with their values.
pub fn kept(names: &[String]) -> Vec<(OsString, OsString)> {
    names
        .iter()
        .flat_map(|list| list.split(','))
        .filter(|n| !n.is_empty())
        .filter_map(|n| std::env::var_os(n).map(|v| (OsStr::new(n).to_os_string(), v)))
        .collect()
}

/// `KEY=VALUE` entries separated by NULs (`/proc/PID/environ`) as pairs; entries
/// without `=` or with an empty key are left out.
pub fn parse_environ(env: &[u8]) -> Vec<(OsString, OsString)> {
    use std::os::unix::ffi::OsStrExt;
    env.split(|b| *b == 0)
        .filter_map(|e| {
            let eq = e.iter().position(|b| *b == b'=')?;
            (eq > 0)
                .then(|| (OsStr::from_bytes(&e[..eq]).to_os_string(), OsStr::from_bytes(&e[eq + 1..]).to_os_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_entries() {
        let v = parse_environ(b"A=1\0B=x=y\0=bad\0noeq\0\0C=\0");
        let want: Vec<(OsString, OsString)> =
            [("A", "1"), ("B", "x=y"), ("C", "")].iter().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(v, want);
    }
}
