//! The user namespace a user's containers share, kept by a pause process, as rootless
//! podman's containers share the namespace of its pause process.
//!
//! Mapping a user's whole subordinate range takes the setuid helpers `newuidmap` and
//! `newgidmap`: two more programs per container, about 1 ms of its start on this
//! project's development machine. So the namespace is made once, by `unshare-rs` with
//! the helpers, around a process that does nothing but hold it (`ctr-run hold-userns`), and
//! each container's chain joins it first (`nsenter-rs --user=LINK`) and makes its other
//! namespaces in it. `LINK` is `ROOT/userns/root` (`ROOT/userns/keep-id` for
//! `--userns keep-id`), a symlink to the pause process's `/proc/PID/ns/user`; it is
//! checked before each container starts (the process alive, its namespace mapped as
//! the user's ids are now), and a new pause process is started where it fails.
//!
//! The pause process keeps running after the last container, as podman's does; a
//! `kill` of its pid (`readlink LINK`) ends it, and the next container starts another.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use crate::paths::{Root, Tools};
use crate::rootless::UserNs;
use crate::Error;
use chainload::error::FromIo;

/// The link to the user namespace of `u`'s pause process, under the state root `root`.
pub fn link(root: &Path, u: &UserNs) -> PathBuf {
    root.join("userns").join(if u.keep_id { "keep-id" } else { "root" })
}

/// Make sure a pause process holds a namespace mapped as `u` says, and [`link`] names
/// it: the one there if it is alive and mapped so, else a new one.
pub fn ensure(root: &Root, tools: &Tools, u: &UserNs) -> Result<PathBuf, Error> {
    let link = link(&root.dir, u);
    if holder(&link, u).is_some() {
        return Ok(link);
    }
    let dir = root.dir.join("userns");
    crate::paths::private_dir_all(&dir)?;
    // (One at a time: of two first containers at once, one starts the pause process.)
    let lock_path = dir.join("lock");
    let lock_file = crate::paths::private_file()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io("cannot open", &lock_path, e))?;
    let _lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io("cannot lock", &lock_path, e.into()))?;
    if holder(&link, u).is_some() {
        return Ok(link);
    }
    let pid = start(root, tools, u)?;
    let tmp = dir.join(format!(".link.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("/proc/{pid}/ns/user"), &tmp)
        .map_err(|e| Error::io("cannot create", &tmp, e))?;
    std::fs::rename(&tmp, &link).map_err(|e| Error::io("cannot create", &link, e))?;
    Ok(link)
}

/// The pid of the pause process `link` names, if it is alive and its namespace is
/// mapped as `u` says.
fn holder(link: &Path, u: &UserNs) -> Option<i32> {
    let target = std::fs::read_link(link).ok()?;
    let pid: i32 = target.strip_prefix("/proc").ok()?.iter().next()?.to_str()?.parse().ok()?;
    if chainload::procstat::read(pid).is_none_or(|s| s.ended()) {
        return None;
    }
    // (Not ours: a pid reused by a process outside any namespace of ours.)
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).ok()?;
    if std::fs::read_link("/proc/self/ns/user").ok()? == ns {
        return None;
    }
    let (uids, gids) = u.maps();
    (read_map(pid, "uid_map")? == uids && read_map(pid, "gid_map")? == gids).then_some(pid)
}

/// `/proc/PID/FILE` (`uid_map`, `gid_map`): its INNER OUTER COUNT lines, sorted.
fn read_map(pid: i32, file: &str) -> Option<Vec<crate::rootless::MapLine>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<u32> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
        let [inner, outer, count] = f[..] else { return None };
        out.push((inner, outer, count));
    }
    out.sort_unstable();
    Some(out)
}

/// Start a pause process in a new user namespace mapped as `u` says (`unshare-rs`, with
/// the helpers), and wait until it runs there: its pid.
fn start(root: &Root, tools: &Tools, u: &UserNs) -> Result<i32, Error> {
    let me = std::env::current_exe().map_err(|e| Error::io("cannot find", Path::new("/proc/self/exe"), e))?;
    let argv =
        u.wrap(&[me.display().to_string(), "--root".into(), root.dir.display().to_string(), "hold-userns".into()]);
    let mut child = std::process::Command::new(&tools.unshare)
        .args(&argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("cannot start", &tools.unshare, e))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    if line == READY {
        return Ok(child.id() as i32);
    }
    let mut why = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut why);
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(Error::Usage(format!(
        "cannot make the user namespace of rootless containers: {}",
        why.lines().next().unwrap_or("its pause process ended")
    )))
}

/// What the pause process prints once it runs in its namespace.
const READY: &str = "ready\n";

/// `ctr-run hold-userns`: hold the user namespace it was started in. Says [`READY`] on stdout,
/// lets go of the caller (a session of its own, stdio on /dev/null, `/` as its
/// directory), and sleeps until killed.
pub fn pause() -> ! {
    use std::io::Write;
    use std::os::fd::AsFd;
    let _ = nix::unistd::setsid();
    let _ = nix::unistd::chdir("/");
    let _ = std::io::stdout().write_all(READY.as_bytes());
    let _ = std::io::stdout().flush();
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(null.as_fd());
        let _ = nix::unistd::dup2_stdout(null.as_fd());
        let _ = nix::unistd::dup2_stderr(null.as_fd());
    }
    // (SIGHUP of a closing terminal is not the end of the namespace.)
    // SAFETY: setting a signal's disposition to SIG_IGN.
    let _ = unsafe { nix::sys::signal::signal(nix::sys::signal::Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn) };
    loop {
        nix::unistd::pause();
    }
}
