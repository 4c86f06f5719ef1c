//! `testkit`: what every integration test of the workspace uses.
//!
//! - [`bin`]: the path of a built tool (next to the test binary's `target/<profile>/`,
//!   or under `$TESTKIT_BIN_DIR`);
//! - [`run`]/[`Cmd`]: run a command with a time limit and get its exit code the way a
//!   shell reports it (128+N for a signal), its stdout and its stderr;
//! - [`Probe`]: the JSON the `probe` binary prints about itself;
//! - [`skip`]: record that a test did not run and why (the run's summary lists them);
//! - small facts about processes and namespaces ([`ns_inode`], [`is_dead`], [`wait_until`]).
//!
//! Every time bound here ([`Cmd`]'s limit, [`wait_until`]) is a bound on a hang, not on
//! speed: it is multiplied by [`time_factor`] (`$TESTKIT_TIME_FACTOR`, which
//! `scripts/vm-test` sets for the emulated VM), so a slow machine is never a failure.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use serde_json::Value;
pub use tempfile::TempDir;

/// The directory the workspace's binaries were built into.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TESTKIT_BIN_DIR") {
        return PathBuf::from(d);
    }
    // target/<profile>/deps/<test-binary> -> target/<profile>/
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a directory");
    deps.parent().expect("deps has a parent").to_path_buf()
}

/// The path of the workspace binary `name` (`unshare-rs`, `probe`, ...).
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(p.exists(), "binary {} not built (run the tests through cargo test --workspace)", p.display());
    p
}

/// The path of the probe binary.
pub fn probe() -> PathBuf {
    bin("probe")
}

/// A copy of the probe that any user can execute, `dir/probe` (this makes `dir`
/// world-traversable; a test passes its own temporary directory): for tests that run
/// the probe as another uid, or as root of a user namespace, which cannot reach the
/// build directory when the checkout sits under a 0700 directory (as `mktemp -d` makes
/// them).
pub fn probe_for_any_user(dir: &Path) -> PathBuf {
    for_any_user(dir, &probe())
}

/// A copy of the executable `exe` that any user can run, in `dir` under the same file
/// name (this makes `dir` world-traversable). See [`probe_for_any_user`].
pub fn for_any_user(dir: &Path, exe: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod the test directory");
    let p = dir.join(exe.file_name().expect("an executable has a file name"));
    std::fs::copy(exe, &p).unwrap_or_else(|e| panic!("copy {} to {}: {e}", exe.display(), p.display()));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod the copy");
    p
}

/// How much slower than this development machine the tests may run
/// (`$TESTKIT_TIME_FACTOR`, default 1; the TCG VM sets about 10). Every time bound of
/// testkit is multiplied by it.
pub fn time_factor() -> f64 {
    std::env::var("TESTKIT_TIME_FACTOR")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 1.0)
        .unwrap_or(1.0)
}

/// A bound on a hang, scaled by [`time_factor`].
pub fn scaled(d: Duration) -> Duration {
    d.mul_f64(time_factor())
}

/// Whether this process runs as root (the integration tests need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Record that `test` did not run, and why. The reason goes to stderr and, when
/// `$TESTKIT_SKIP_LOG` names a file, is appended there for the run's summary.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP {test}: {reason}");
    if let Some(log) = std::env::var_os("TESTKIT_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{test}: {reason}");
        }
    }
}

/// Skip the calling test unless running as root; returns whether it may go on.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            $crate::skip(module_path!(), "needs root");
            return;
        }
    };
}

/// Whether an external command exists on PATH.
pub fn has_command(name: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file())).unwrap_or(false)
}

/// What a finished command did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit code as a shell reports it: the status, or 128+N for signal N.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// Parse stdout as one JSON value (the probe's output, a tool's --json).
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr))
    }

    /// Assert the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Assert success.
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// stderr as one line (asserting it is exactly one line).
    /// The one error line on stderr (a usage error's second line, util-linux's `Try
    /// 'TOOL --help' for more information.`, is allowed and left out).
    pub fn one_line_error(&self) -> String {
        let mut lines: Vec<&str> = self.stderr.lines().collect();
        if lines.len() == 2 && lines[1].starts_with("Try '") && lines[1].ends_with(" --help' for more information.") {
            lines.pop();
        }
        assert_eq!(lines.len(), 1, "expected one line on stderr, got:\n{}", self.stderr);
        lines[0].to_string()
    }
}

/// The exit code a shell would report for a status.
pub fn shell_code(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    }
}

/// A command builder with a time limit (default 60 s, scaled by [`time_factor`]): a
/// test never hangs the suite, and a command that hangs is named in the failure.
pub struct Cmd {
    cmd: Command,
    timeout: Duration,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// A command running `program`.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Cmd { cmd, timeout: scaled(Duration::from_secs(60)), stdin: None }
    }

    /// A command running the workspace tool `name`.
    pub fn tool(name: &str) -> Cmd {
        Cmd::new(bin(name))
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Add one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.cmd.arg(a);
        self
    }

    /// Set an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.cmd.env(k, v);
        self
    }

    /// Give this text on stdin.
    pub fn stdin(mut self, input: &[u8]) -> Cmd {
        self.stdin = Some(input.to_vec());
        self.cmd.stdin(Stdio::piped());
        self
    }

    /// Change the time limit (scaled by [`time_factor`]).
    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = scaled(t);
        self
    }

    /// Run it (and everything it starts) on CPU 0 only.
    pub fn on_one_cpu(mut self) -> Cmd {
        use std::os::unix::process::CommandExt;
        // SAFETY: sched_setaffinity is async-signal-safe; nothing else runs before exec.
        unsafe {
            self.cmd.pre_exec(|| {
                let mut set = nix::sched::CpuSet::new();
                set.set(0).map_err(std::io::Error::from)?;
                nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(std::io::Error::from)
            });
        }
        self
    }

    /// Access the underlying `Command` (for pre_exec and the like).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    /// Start it without waiting.
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", self.cmd))
    }

    /// Run to the end (killing it at the time limit) and return what it did.
    pub fn run(mut self) -> Outcome {
        let desc = format!("{:?}", self.cmd);
        let mut child = self.cmd.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
        if let Some(input) = self.stdin.take() {
            if let Some(mut s) = child.stdin.take() {
                let _ = s.write_all(&input);
            }
        }
        let out_pipe = child.stdout.take();
        let err_pipe = child.stderr.take();
        let out_t = std::thread::spawn(move || read_all(out_pipe));
        let err_t = std::thread::spawn(move || read_all(err_pipe));
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("wait") {
                break st;
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{desc} did not finish within {:?}", self.timeout);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            code: shell_code(status),
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
        }
    }
}

impl Cmd {
    /// Run as the foreground process of a new terminal (a pseudo-terminal that is the
    /// controlling terminal of a new session), type `keys` once the output shows
    /// `prompt`, and return what it printed (stdout and stderr both, on the terminal).
    /// With `keys` "\x03", the terminal sends SIGINT to its foreground process group, as
    /// a user's Ctrl-C does.
    pub fn run_on_terminal(self, prompt: &str, keys: &[u8]) -> Outcome {
        self.run_on_terminal_then(prompt, &|master| {
            use std::io::Write;
            let mut m: &std::fs::File = master;
            m.write_all(keys).expect("type on the terminal");
        })
    }

    /// [`Cmd::run_on_terminal`], resizing the terminal to `rows` x `cols` once the output
    /// shows `prompt` (the kernel sends SIGWINCH to its foreground process group, as when
    /// a user resizes a terminal window).
    pub fn run_on_terminal_resized(self, prompt: &str, rows: u16, cols: u16) -> Outcome {
        self.run_on_terminal_then(prompt, &|master| {
            use std::os::fd::AsRawFd;
            let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
            // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer.
            let r = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
            assert!(r == 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
        })
    }

    fn run_on_terminal_then(self, prompt: &str, then: &dyn Fn(&std::fs::File)) -> Outcome {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let Cmd { mut cmd, timeout, .. } = self;
        let desc = format!("{cmd:?}");
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = |_| Stdio::from(pty.slave.try_clone().expect("dup the terminal"));
        cmd.stdin(slave(0)).stdout(slave(1)).stderr(slave(2));
        // SAFETY: setsid and ioctl are async-signal-safe; nothing else runs before exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {desc}: {e}"));
        // The terminal reads EIO once no process has it open: close our copies.
        drop(cmd);
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let start = Instant::now();
        let mut out = Vec::new();
        let mut typed = false;
        loop {
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{desc} did not finish within {timeout:?}; it printed:\n{}", String::from_utf8_lossy(&out));
            }
            let mut fds = [libc::pollfd { fd: master.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(fds.as_mut_ptr(), 1, 100) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // EIO: every process that had the terminal open has closed it.
            match (&master).read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            if !typed && String::from_utf8_lossy(&out).contains(prompt) {
                then(&master);
                typed = true;
            }
        }
        let status = child.wait().expect("wait");
        let text = String::from_utf8_lossy(&out).replace("\r\n", "\n");
        Outcome { code: shell_code(status), stdout: text, stderr: String::new() }
    }
}

/// A shell snippet printing `stty size` once the terminal has a size, not "0 0" (5 s at
/// most): a client that sets the size after the process has started (podman, ctr, with
/// runc too) races the program's first read.
pub const STTY_SIZE_ONCE_SET: &str =
    "i=0; s=; while [ \"$s\" = '' ] || [ \"$s\" = '0 0' ]; do [ $i = 100 ] && break; s=$(stty size 2>/dev/null); i=$((i+1)); sleep 0.05; done; echo \"$s\"";

impl Cmd {
    /// [`Cmd::run_on_terminal`] with the terminal `rows` x `cols` (set before the
    /// program starts) and nothing typed.
    pub fn run_on_terminal_sized(self, rows: u16, cols: u16) -> Outcome {
        self.after_shell(&format!("stty rows {rows} cols {cols}")).run_on_terminal("\u{0}never", b"")
    }

    /// This command (program, arguments, environment, time limit) exec'd by a shell
    /// once the shell has run `prelude` (`exec 3>FILE`: a descriptor to pass on).
    pub fn after_shell(mut self, prelude: &str) -> Cmd {
        let c = self.command();
        let mut sh = Cmd::new("sh")
            .args(["-c", &format!("{prelude}; exec \"$@\""), "sh"])
            .arg(c.get_program())
            .args(c.get_args())
            .timeout(self.timeout);
        for (k, v) in self.cmd.get_envs() {
            if let Some(v) = v {
                sh = sh.env(k, v);
            }
        }
        sh
    }
}

/// What one Ctrl-C typed on its terminal brings to the program of `cmd`, which must
/// run `probe --count-sigint SECS`: (SIGINTs received, those of them sent by a process).
/// A tool that passes signals on must not pass on the one the terminal sent to the
/// whole foreground process group already: the answer must be (1, 0).
pub fn sigints_per_ctrl_c(cmd: Cmd) -> (u32, u32) {
    let out = cmd.run_on_terminal("ready", b"\x03");
    out.stdout
        .lines()
        .find_map(|l| {
            let rest = l.split("total ").nth(1)?; // (after the terminal's echo of ^C)
            let (total, sent) = rest.trim().split_once(" sent ")?;
            Some((total.parse().ok()?, sent.parse().ok()?))
        })
        .unwrap_or_else(|| panic!("no count in the output (status {}):\n{}", out.code, out.stdout))
}

fn read_all<R: std::io::Read>(pipe: Option<R>) -> String {
    let mut s = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut s);
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// Shorthand: run a workspace tool with arguments.
pub fn run(tool: &str, args: &[&str]) -> Outcome {
    Cmd::tool(tool).args(args).run()
}

/// The inode of `/proc/PID/ns/NAME` (`pid = None`: this process).
pub fn ns_inode(pid: Option<i32>, name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let p = match pid {
        Some(p) => format!("/proc/{p}/ns/{name}"),
        None => format!("/proc/self/ns/{name}"),
    };
    std::fs::metadata(&p).unwrap_or_else(|e| panic!("stat {p}: {e}")).ino()
}

/// The probe's JSON field `ns.NAME` as an inode number.
pub fn probe_ns(v: &Value, name: &str) -> u64 {
    v["ns"][name].as_u64().unwrap_or_else(|| panic!("probe has no ns.{name}: {v}"))
}

/// Whether a process is gone or a zombie (`kill -0` succeeds on a zombie; this doesn't).
pub fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // The state follows the last ')' (the command name may hold spaces and parens).
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next());
            matches!(state, Some(Some('Z')) | Some(Some('X')))
        }
    }
}

/// Poll `cond` every 10 ms until it holds or `timeout` (scaled by [`time_factor`])
/// passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let timeout = scaled(timeout);
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Each namespace option of unshare(1)/nsenter(1) with its `/proc/PID/ns` name.
pub const NS_FLAGS: [(&str, &str); 8] = [
    ("-m", "mnt"),
    ("-u", "uts"),
    ("-i", "ipc"),
    ("-n", "net"),
    ("-p", "pid"),
    ("-U", "user"),
    ("-C", "cgroup"),
    ("-T", "time"),
];

/// The exit statuses every chain tool must pass on, as (command, expected status):
/// the program's own status, a fatal signal (128+N), not executable (126), not found
/// (127). The not-executable file is made in `dir`. SIGPIPE must kill the program (141):
/// a Rust tool ignores it, and an ignored signal stays ignored across exec unless the
/// tool puts the default back.
pub fn exit_status_cases(dir: &Path) -> Vec<(Vec<String>, i32)> {
    let noexec = dir.join("not-executable");
    std::fs::write(&noexec, "#!/bin/sh\n").expect("write the not-executable file");
    let sh = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    vec![
        (vec!["true".to_string()], 0),
        (sh("exit 7"), 7),
        (sh("kill -TERM $$"), 143),
        (sh("kill -KILL $$"), 137),
        (sh("kill -PIPE $$"), 141),
        (vec!["no-such-program-xyz".to_string()], 127),
        (vec![noexec.display().to_string()], 126),
    ]
}

/// A fresh temporary directory (removed when dropped).
pub fn tempdir() -> TempDir {
    tempfile::Builder::new().prefix("ctrtest-").tempdir().expect("tempdir")
}

/// The mount points of this process's mount table (for "nothing leaked" assertions).
pub fn mount_points() -> Vec<PathBuf> {
    mountinfo::read_self().expect("mountinfo").into_iter().map(|m| m.mount_point).collect()
}

/// Whether `path` is a mount point in this process's mount table.
pub fn is_mounted(path: &Path) -> bool {
    mount_points().iter().any(|m| m == path)
}

/// Kill a process we started and reap it, if it is still there.
pub fn kill_and_reap(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The extended attribute `name` of `path` (not following a symlink), if set.
pub fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

/// Whether the filesystem of directory `dir` keeps `user.*` extended attributes (tmpfs
/// does only since Linux 6.6).
pub fn has_user_xattrs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let probe = dir.join(format!(".xattr-probe-{}", std::process::id()));
    if std::fs::write(&probe, "").is_err() {
        return false;
    }
    let Ok(p) = std::ffi::CString::new(probe.as_os_str().as_bytes()) else { return false };
    // SAFETY: valid C strings and a one-byte value.
    let r = unsafe { libc::lsetxattr(p.as_ptr(), c"user.ctrtest".as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    let _ = std::fs::remove_file(&probe);
    r == 0
}

/// The busybox binary to build test root filesystems from (busybox-static).
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Fill `dir` with a minimal root filesystem: busybox and its applets in /bin, the
/// static probe as /probe, /etc/passwd and /etc/group with root and a user 1000.
pub fn busybox_rootfs(dir: &Path) {
    let bb = busybox().expect("busybox-static is not installed");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir bin");
    std::fs::copy(&bb, bin.join("busybox")).expect("copy busybox");
    let list = Cmd::new(&bb).arg("--list").run();
    for applet in list.stdout.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
    }
    std::fs::copy(probe(), dir.join("probe")).expect("copy probe");
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).expect("mkdir etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n")
        .expect("passwd");
    std::fs::write(etc.join("group"), "root:x:0:\nusers:x:1000:\nextra:x:2000:user\n").expect("group");
    for d in ["proc", "sys", "dev", "tmp", "root"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
}

/// The mount points at or below `dir` (what a test may compare before and after without
/// seeing other tests' mounts).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    mount_points().into_iter().filter(|m| m.starts_with(dir)).collect()
}

/// Paths a test mounted on the host, unmounted (lazily) when dropped, even on failure.
pub struct MountGuard(pub Vec<PathBuf>);

impl Drop for MountGuard {
    fn drop(&mut self) {
        for m in &self.0 {
            while is_mounted(m) {
                if nix::mount::umount2(m.as_path(), nix::mount::MntFlags::MNT_DETACH).is_err() {
                    break;
                }
            }
        }
    }
}

/// This process's mount points, minus those inside *other* tests' temporary directories
/// (tests of one binary run in parallel and may mount there on purpose): compare two
/// snapshots around an action to see what the action itself left on the host.
pub fn mount_snapshot(own: &Path) -> Vec<PathBuf> {
    let tmp = std::env::temp_dir();
    mount_points()
        .into_iter()
        .filter(|m| {
            let in_some_test = m
                .strip_prefix(&tmp)
                .ok()
                .and_then(|r| r.components().next())
                .is_some_and(|c| c.as_os_str().to_string_lossy().starts_with("ctrtest-"));
            !in_some_test || m.starts_with(own)
        })
        .collect()
}

/// Whether util-linux's own `tool` (not busybox's) is installed, for parity tests.
pub fn util_linux(tool: &str) -> bool {
    has_command(tool) && Cmd::new(tool).arg("--version").run().stdout.contains("util-linux")
}

/// A command run as the unprivileged user `nobody` (65534:65534, no supplementary
/// groups) through util-linux's setpriv: add the program and its arguments (check
/// [`util_linux`]`("setpriv")` first).
pub fn as_nobody() -> Cmd {
    Cmd::new("setpriv").args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"])
}

/// Lines a test added to `/etc/subuid` and `/etc/subgid` (so that `newuidmap` and
/// `newgidmap` grant a range), taken out again when dropped, even on failure; a file
/// that did not exist before is removed once no grant's line is left in it.
pub struct SubordinateIds {
    line: String,
    created: Vec<&'static str>,
}

impl SubordinateIds {
    const FILES: [&'static str; 2] = ["/etc/subuid", "/etc/subgid"];

    /// Grant `user` the ids `start..start+count` in both files (unless a line says so
    /// already).
    pub fn grant(user: &str, start: u32, count: u32) -> SubordinateIds {
        let _one_writer = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let line = format!("{user}:{start}:{count}");
        let mut created = Vec::new();
        for f in Self::FILES {
            let old = match std::fs::read_to_string(f) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    created.push(f);
                    String::new()
                }
                Err(e) => panic!("read {f}: {e}"),
            };
            if !old.lines().any(|l| l == line) {
                let sep = if old.is_empty() || old.ends_with('\n') { "" } else { "\n" };
                replace_file(f, &format!("{old}{sep}{line}\n")).unwrap_or_else(|e| panic!("write {f}: {e}"));
            }
        }
        SubordinateIds { line, created }
    }
}

impl Drop for SubordinateIds {
    fn drop(&mut self) {
        let _one_writer = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for f in Self::FILES {
            if let Ok(old) = std::fs::read_to_string(f) {
                let kept: String = old.lines().filter(|l| *l != self.line).map(|l| format!("{l}\n")).collect();
                // (A file this made goes once no other grant's line is left in it.)
                if kept.is_empty() && self.created.contains(&f) {
                    let _ = std::fs::remove_file(f);
                } else {
                    let _ = replace_file(f, &kept);
                }
            }
        }
    }
}

/// Replace `file`'s content at once (a new file renamed over it, mode 0644): a reader
/// such as newuidmap, in another test, never sees it half written.
fn replace_file(file: &str, text: &str) -> std::io::Result<()> {
    let tmp = format!("{file}.ctrtest-{}", std::process::id());
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    std::fs::rename(&tmp, file)
}

/// One writer at a time of /etc/passwd, /etc/subuid and friends (tests run in parallel).
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// An unprivileged user made for a test (its lines in /etc/passwd and /etc/group,
/// written here: the VM has no useradd), with 65536 subordinate uids and gids of its
/// own and a home (0700) holding its runtime directory (`XDG_RUNTIME_DIR`, 0700); all of
/// it, and every process of its ids, removed when dropped, even on failure.
pub struct TestUser {
    /// The login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its gid (the same number).
    pub gid: u32,
    /// Its home directory.
    pub home: PathBuf,
    /// The first of its subordinate ids (uids and gids alike).
    pub subids: u32,
    lines: Vec<(&'static str, String)>,
    granted: Option<SubordinateIds>,
    /// `~/bin`, once the tools are in it (tests may ask from several threads at once).
    bin: std::sync::OnceLock<PathBuf>,
}

impl TestUser {
    /// A new user, or why there can be none here (no newuidmap or setpriv).
    pub fn create() -> Result<TestUser, String> {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        for tool in ["newuidmap", "newgidmap"] {
            if !has_command(tool) {
                return Err(format!("{tool} is not installed (uidmap)"));
            }
        }
        if !util_linux("setpriv") {
            return Err("util-linux's setpriv is not installed".into());
        }
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 16;
        let pid = std::process::id();
        let slot = (pid % 2048) * 16 + n;
        let (name, uid) = (format!("ctrt{pid}x{n}"), 40_000 + slot);
        let home = PathBuf::from("/home").join(&name);
        let lines = vec![
            ("/etc/passwd", format!("{name}:x:{uid}:{uid}:ctr test user:{}:/bin/sh", home.display())),
            ("/etc/group", format!("{name}:x:{uid}:")),
        ];
        let mut user = TestUser {
            name,
            uid,
            gid: uid,
            home,
            subids: 1_000_000 + slot * 65536,
            lines,
            granted: None,
            bin: Default::default(),
        };
        {
            let _one_writer = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
            for (file, line) in &user.lines {
                let old = std::fs::read_to_string(file).map_err(|e| format!("read {file}: {e}"))?;
                let taken = old.lines().any(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    f.first() == Some(&user.name.as_str()) || f.get(2) == Some(&uid.to_string().as_str())
                });
                if taken {
                    return Err(format!("{file} has {} or id {uid} already", user.name));
                }
                let sep = if old.is_empty() || old.ends_with('\n') { "" } else { "\n" };
                replace_file(file, &format!("{old}{sep}{line}\n")).map_err(|e| format!("write {file}: {e}"))?;
            }
        }
        user.granted = Some(SubordinateIds::grant(&user.name, user.subids, 65536));
        let run = user.runtime_dir();
        for d in [&user.home, &run] {
            std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
            std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(|e| format!("chmod {}: {e}", d.display()))?;
            std::os::unix::fs::chown(d, Some(uid), Some(uid)).map_err(|e| format!("chown {}: {e}", d.display()))?;
        }
        Ok(user)
    }

    /// A second line of subordinate ids for this user (`count`, at most 1000, uids and
    /// gids above every test user's first range), taken out again when the guard is
    /// dropped; and its first id.
    pub fn grant_more(&self, count: u32) -> (SubordinateIds, u32) {
        assert!(count <= 1000, "grant_more: at most 1000 ids");
        // (First ranges end below 1_000_000 + 32768 * 65536 = 2_148_483_648.)
        let start = 2_200_000_000 + (self.subids - 1_000_000) / 65536 * 1000;
        (SubordinateIds::grant(&self.name, start, count), start)
    }

    /// Its runtime directory (`XDG_RUNTIME_DIR`).
    pub fn runtime_dir(&self) -> PathBuf {
        self.home.join("run")
    }

    /// A command run as this user (setpriv, its own groups), with nothing of the caller's
    /// environment but PATH: HOME, USER, XDG_RUNTIME_DIR are the user's. Add the program.
    pub fn cmd(&self) -> Cmd {
        let mut c = Cmd::new("setpriv").args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
            "--init-groups",
            "--reset-env",
            "--",
            "env",
        ]);
        c.command().env_clear();
        c.args([
            format!("HOME={}", self.home.display()),
            format!("USER={}", self.name),
            format!("XDG_RUNTIME_DIR={}", self.runtime_dir().display()),
            "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
        ])
    }

    /// Copy of the busybox root filesystem ([`busybox_rootfs`]) in the user's home, owned
    /// by the user (so root's inside their user namespace).
    pub fn busybox_rootfs(&self) -> PathBuf {
        let dir = self.home.join("rootfs");
        busybox_rootfs(&dir);
        let out = Cmd::new("chown").args(["-R", &format!("{}:{}", self.uid, self.gid)]).arg(&dir).run();
        assert_eq!(out.code, 0, "chown: {}", out.stderr);
        dir
    }

    /// The workspace's tools in the user's home (`~/bin`: the build directory may sit
    /// below a directory the user cannot enter), linked or copied; the path of `name`'s.
    /// (Made once, whichever thread asks first; a copy goes to a temporary name renamed
    /// into place, never through an existing link to the build's own file.)
    pub fn tool(&self, name: &str) -> PathBuf {
        let dir = self.bin.get_or_init(|| {
            let dir = self.home.join("bin");
            std::fs::create_dir_all(&dir).expect("mkdir ~/bin");
            for t in ["ctr-run", "cgctl", "unshare-rs", "ovlmount", "nsenter-rs"] {
                let (from, to) = (bin(t), dir.join(t));
                if std::fs::hard_link(&from, &to).is_err() {
                    let tmp = dir.join(format!(".{t}.tmp"));
                    std::fs::copy(&from, &tmp).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
                    std::fs::rename(&tmp, &to).unwrap_or_else(|e| panic!("rename {}: {e}", tmp.display()));
                }
            }
            std::os::unix::fs::chown(&dir, Some(self.uid), Some(self.gid)).expect("chown ~/bin");
            dir
        });
        dir.join(name)
    }

    /// The live processes (not zombies) of this user's ids and of its subordinate ids
    /// (its containers').
    pub fn processes(&self) -> Vec<i32> {
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        let sub = self.subids..self.subids + 65536;
        dir.flatten()
            .filter_map(|e| {
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let uid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(e.path()).ok()?);
                ((uid == self.uid || sub.contains(&uid)) && !is_dead(pid)).then_some(pid)
            })
            .collect()
    }
}

/// The container directories under a ctr-run state root (not `images`, `names`, the
/// kept empty ones in `spare`, or a rootless user's `userns`).
pub fn ctr_run_containers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !["images", "names", "spare", "userns"].contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for TestUser {
    fn drop(&mut self) {
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        self.granted = None;
        let _ = std::fs::remove_dir_all(&self.home);
        let _one_writer = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for (file, line) in &self.lines {
            if let Ok(old) = std::fs::read_to_string(file) {
                let kept: String = old.lines().filter(|l| l != line).map(|l| format!("{l}\n")).collect();
                let _ = replace_file(file, &kept);
            }
        }
    }
}

/// The sha256 of a file, in hex (`sha256sum`). (Test support: it panics, as a test
/// that cannot go on should.)
#[allow(clippy::unwrap_used)]
pub fn sha256(p: &Path) -> String {
    let out = Cmd::new("sha256sum").arg(p).run().ok().stdout.clone();
    out.split_whitespace().next().unwrap().to_string()
}

/// A `docker save` archive, in `dir`, of these layer tars (bottom first, each with its
/// diff_id) with the image config `config` (its `rootfs.diff_ids` are filled in).
#[allow(clippy::unwrap_used)]
pub fn docker_save(dir: &Path, layers: &[(PathBuf, String)], config: &Value) -> PathBuf {
    let stage = tempfile::Builder::new().prefix("save-").tempdir_in(dir).unwrap().keep();
    let mut cfg = config.clone();
    cfg["rootfs"]["diff_ids"] = serde_json::json!(layers.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>());
    let cfg_path = stage.join("config.tmp");
    std::fs::write(&cfg_path, serde_json::to_string(&cfg).unwrap()).unwrap();
    let cfg_hex = sha256(&cfg_path);
    std::fs::rename(&cfg_path, stage.join(format!("{cfg_hex}.json"))).unwrap();
    let mut names = Vec::new();
    for (l, diff) in layers {
        let hex = diff.trim_start_matches("sha256:");
        std::fs::create_dir_all(stage.join(hex)).unwrap();
        std::fs::copy(l, stage.join(hex).join("layer.tar")).unwrap();
        names.push(format!("{hex}/layer.tar"));
    }
    let manifest =
        serde_json::json!([{"Config": format!("{cfg_hex}.json"), "RepoTags": ["bb:latest"], "Layers": names}]);
    std::fs::write(stage.join("manifest.json"), manifest.to_string()).unwrap();
    let out = dir.join(format!("save-{}.tar", names.len()));
    Cmd::new("tar").arg("-cf").arg(&out).arg("-C").arg(&stage).arg(".").run().ok();
    out
}

/// This process's deepest cgroup, when every other one of its cgroups is an ancestor of
/// it (so that a group below it is below the process's own cgroup in every hierarchy:
/// where the tests may put what real clients, podman and containerd, create).
pub fn own_cgroup() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let paths: Vec<PathBuf> = text.lines().filter_map(|l| l.splitn(3, ':').nth(2)).map(PathBuf::from).collect();
    let deepest = paths.iter().max_by_key(|p| p.components().count())?.clone();
    paths.iter().all(|p| deepest.starts_with(p)).then_some(deepest)
}

/// An interface file of process `pid`'s cgroup: `v1_file` in its group of the v1
/// hierarchy of `controller` where it has one (hybrid and v1 machines), else `v2_file`
/// in its group of the v2 tree (`/sys/fs/cgroup/unified` on hybrid machines).
pub fn cgroup_file(pid: i32, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let file = cgroup_path(pid, controller, v1_file, v2_file);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Where [`cgroup_file`] reads.
pub fn cgroup_path(pid: i32, controller: &str, v1_file: &str, v2_file: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let parts = |l: &str| -> Option<(String, String)> {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        Some((ctrls.to_string(), path.trim_start_matches('/').to_string()))
    };
    let rows: Vec<(String, String)> = text.lines().filter_map(parts).collect();
    let base = Path::new("/sys/fs/cgroup");
    match rows.iter().find(|(c, _)| c.split(',').any(|c| c == controller)) {
        Some((_, path)) => base.join(controller).join(path).join(v1_file),
        None => {
            let path = rows.iter().find(|(c, _)| c.is_empty()).map(|(_, p)| p.clone()).unwrap_or_default();
            let v2 = if base.join("unified/cgroup.controllers").exists() {
                base.join("unified")
            } else {
                base.to_path_buf()
            };
            v2.join(path).join(v2_file)
        }
    }
}

/// Whether `controller` of process `pid` is on the v2 tree (no v1 hierarchy has it).
pub fn on_cgroup_v2(pid: i32, controller: &str) -> bool {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    !text.lines().any(|l| l.split(':').nth(1).is_some_and(|cs| cs.split(',').any(|c| c == controller)))
}

/// MAJ:MIN of a block device the kernel has (any will do for a throttle rule: a loop
/// device on the host, the virtual disk in the VM).
pub fn some_disk() -> Option<String> {
    std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|d| d.trim().to_string())
}

/// Remove the empty cgroup directory `top` and those below it, deepest first.
pub fn remove_cgroup_tree(top: &Path) {
    let mut dirs = vec![top.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for e in std::fs::read_dir(&dirs[i]).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(e.path());
            }
        }
        i += 1;
    }
    for d in dirs.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
}

/// [`remove_cgroup_tree`] of `abs` (absolute from each hierarchy's root) in every
/// hierarchy mounted on /sys/fs/cgroup (named ones too, which cgctl does not manage).
pub fn remove_cgroup_everywhere(abs: &Path) {
    let base = Path::new("/sys/fs/cgroup");
    let rel = abs.strip_prefix("/").unwrap_or(abs);
    remove_cgroup_tree(&base.join(rel));
    for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
        remove_cgroup_tree(&e.path().join(rel));
    }
}

/// What a test driving a real container client (podman, containerd) needs: root, the
/// client's `commands` (`what` names them in the skip message), busybox for its image,
/// and a cgroup below which its containers stay inside this process's own (returned).
/// `None` (said with [`skip`]) when something is missing.
pub fn client_preconditions(tag: &str, commands: &[&str], what: &str) -> Option<PathBuf> {
    if !is_root() {
        skip(tag, "needs root");
        return None;
    }
    if !commands.iter().all(|c| has_command(c)) {
        skip(tag, &format!("{what} is not installed (scripts/install-deps installs it)"));
        return None;
    }
    if busybox().is_none() {
        skip(tag, "busybox-static is not installed (the image is built from it)");
        return None;
    }
    let own = own_cgroup();
    match &own {
        Some(own) => remove_client_groups_at_exit(own),
        None => skip(tag, "this process's cgroups are not nested (no group is below all of them)"),
    }
    own
}

/// The clients create `own` (this process's deepest cgroup) in every hierarchy where it
/// is not yet, with whatever ancestors of it are missing there: those copies, from the
/// outermost ancestor made, and the empty groups below them, are removed when the test
/// binary exits (deepest first; a group that still holds anything stays).
fn remove_client_groups_at_exit(own: &Path) {
    static MADE: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    extern "C" fn remove_made() {
        fn rmdir_empty(d: &Path) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    rmdir_empty(&e.path());
                }
            }
            let _ = std::fs::remove_dir(d);
        }
        for d in MADE.get().into_iter().flatten() {
            rmdir_empty(d);
        }
    }
    MADE.get_or_init(|| {
        let rel = own.strip_prefix("/").unwrap_or(own);
        let hierarchies = std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten().map(|e| e.path());
        // In each hierarchy, the outermost missing directory on the way down to `own`.
        let outermost_missing = |h: PathBuf| {
            let mut d = h;
            rel.components().find_map(|c| {
                d.push(c);
                (!d.exists()).then(|| d.clone())
            })
        };
        let missing: Vec<PathBuf> = hierarchies.filter_map(outermost_missing).collect();
        // SAFETY: registers a function without arguments that only removes directories.
        unsafe { libc::atexit(remove_made) };
        missing
    });
}
