//! The running kernel's version, for features that appeared in a known release.

/// Whether the running kernel is at least `major.minor` (from uname(2)'s release).
pub fn at_least(major: u32, minor: u32) -> bool {
    version() >= (major, minor)
}

/// The running kernel's (major, minor) version; (0, 0) when uname(2) says nothing usable.
pub fn version() -> (u32, u32) {
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    parse_release(&release).unwrap_or((0, 0))
}

fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse::<u32>().ok());
    Some((it.next()?, it.next()?))
}

/// Whether a release string such as `6.1.0-56-amd64` is at least `major.minor`.
#[cfg(test)]
fn release_at_least(release: &str, major: u32, minor: u32) -> bool {
    parse_release(release).is_some_and(|v| v >= (major, minor))
}

#[cfg(test)]
mod tests {
    use super::release_at_least;

    #[test]
    fn compares_major_then_minor() {
        assert!(release_at_least("6.1.0-56-amd64", 5, 10));
        assert!(release_at_least("5.10.0", 5, 10));
        assert!(!release_at_least("5.9.16", 5, 10));
        assert!(!release_at_least("4.19.0-27-amd64", 5, 10));
        assert!(release_at_least("6.18.44-fc-v657", 6, 18));
        assert!(!release_at_least("garbage", 5, 10));
    }
}
