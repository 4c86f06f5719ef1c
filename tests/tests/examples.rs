//! Every example of the README (its `sh` blocks) and of each tool's `--help` runs as
//! written, after the build, on this machine: the test creates the files the examples
//! name (busybox layers in `img/`, a `busybox.tar` image, an OCI `bundle/` running
//! `sleep 1000`, a `Makefile`, a `./leaky`
//! program, a stand-in `nginx`, `data/`), starts the process the `nsenter-rs -t 1234`
//! examples join (1234 is replaced by its PID), and runs them all, in order, in one
//! shell inside mount and PID namespaces of its own where `/tmp` and `/run` are private
//! (the examples persist namespaces on `/tmp/net` and write `/run/c.pid`) and nothing
//! outlives the shell.
//!
//! Each line must exit 0 unless the table below says otherwise; a README or help
//! example that is neither run nor listed with a reason fails the test.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::{Path, PathBuf};

use testkit::{require_root, skip, Cmd};

/// What a line must do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Exit with this status.
    Exit(i32),
    /// Still run after a second (a long-running example): then it is stopped.
    Runs,
    /// Not run, for this reason.
    Skip(&'static str),
}

/// Lines (by a part of their text) that do not simply exit 0.
const EXPECTED: [(&str, Expect); 11] = [
    (
        "--rootfs ~/busybox",
        Expect::Skip(
            "rootless, a user's own root: ctr-run/tests/rootless.rs runs these as a user with subordinate ids",
        ),
    ),
    ("run -it --image", Expect::Skip("needs a terminal: ctr-run/tests/ctr_run.rs runs -it on one")),
    ("cargo build --release", Expect::Skip("the build itself (the test runs after it)")),
    (
        "scripts/install",
        Expect::Skip("installs into the system: tests/tests/install.rs installs into a temporary prefix"),
    ),
    ("bash scripts/test", Expect::Skip("the test suite itself")),
    ("bash scripts/vm-test", Expect::Skip("the VM stage of the test suite")),
    ("./leaky", Expect::Exit(137)),
    ("-- sleep 100", Expect::Runs),
    ("exec 3</dev/kvm", Expect::Exit(0)),
    ("podman --runtime", Expect::Skip("needs a busybox image in podman's store: ctr-oci/tests/podman.rs runs podman")),
    ("ctr run --rm --runc-binary", Expect::Skip("needs a containerd daemon: ctr-oci/tests/containerd.rs runs one")),
];

fn expectation(line: &str) -> Expect {
    // (A part ends at a word's end: `sleep 100` is not `sleep 1000`.)
    let has = |part: &str| {
        line.match_indices(part).any(|(at, _)| !line[at + part.len()..].starts_with(|c: char| c.is_alphanumeric()))
    };
    EXPECTED.iter().find(|(part, _)| has(part)).map(|(_, e)| *e).unwrap_or(Expect::Exit(0))
}

/// Shell lines with their `\\` continuations joined.
fn joined<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in lines {
        match line.strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(line);
                out.push(std::mem::take(&mut pending));
            }
        }
    }
    out
}

/// The commands of the README's `sh` blocks.
fn readme_examples(readme: &str) -> Vec<String> {
    let mut in_sh = false;
    let lines = readme.lines().filter(|line| {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            return false;
        }
        in_sh && !line.trim().is_empty()
    });
    joined(lines)
}

/// The commands of a tool's `--help` Examples section (each line: the command, then
/// two or more spaces and what it shows).
fn help_examples(help: &str) -> Vec<String> {
    let section = help.lines().skip_while(|l| !l.starts_with("Examples:")).skip(1);
    joined(section.map(|line| line.trim_start().split("  ").next().unwrap_or("").trim_end()))
}

fn write(p: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The files the examples name, in `w`.
fn fixtures(w: &Path) {
    testkit::busybox_rootfs(&w.join("img/l1"));
    write(&w.join("img/l2/etc/motd"), "from layer 2\n", 0o644);
    for d in ["c", "data", "tmp"] {
        std::fs::create_dir_all(w.join(d)).unwrap();
    }
    write(&w.join("Makefile"), "all:\n\t@echo built\n", 0o644);
    // Grows without bound (tail keeps the one endless line in memory).
    write(&w.join("leaky"), "#!/bin/sh\nexec tail /dev/zero\n", 0o755);
    write(&w.join("bin/nginx"), "#!/bin/sh\necho 'nginx stand-in: started'\n", 0o755);
    let layer = w.join("busybox-layer.tar");
    let c = Cmd::tool("ovlmount").arg("commit").arg(w.join("img/l1")).arg("-o").arg(&layer).arg("--json").run();
    let diff_id = c.ok().json()["diff_id"].as_str().unwrap().to_string();
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": []}});
    let archive = testkit::docker_save(w, &[(layer, diff_id)], &config);
    std::fs::rename(archive, w.join("busybox.tar")).unwrap();
    // An OCI bundle whose process runs until it is stopped (ctr-oci's examples).
    let bundle = w.join("bundle");
    testkit::busybox_rootfs(&bundle.join("rootfs"));
    Cmd::tool("ctr-oci").arg("spec").arg("--bundle").arg(&bundle).run().ok();
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
    std::fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn readme_and_help_examples_run_as_written() {
    require_root!();
    let name = "readme_and_help_examples_run_as_written";
    for (cmd, why) in [("nsenter", "util-linux nsenter"), ("ip", "iproute2's ip"), ("make", "make"), ("ps", "ps")] {
        if !testkit::has_command(cmd) {
            skip(name, &format!("{why} is not installed (an example runs it)"));
            return;
        }
    }
    if testkit::busybox().is_none() {
        skip(name, "busybox-static is not installed (the example image is built from it)");
        return;
    }
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let mut sources: Vec<(String, Vec<String>)> = vec![("README".to_string(), readme_examples(&readme))];
    for tool in ["unshare-rs", "cgctl", "nsenter-rs", "ovlmount", "ctr-run", "ctr-oci"] {
        let help = Cmd::tool(tool).arg("--help").run();
        let found = help_examples(&help.ok().stdout);
        assert!(!found.is_empty(), "{tool} --help shows no example");
        sources.push((format!("{tool} --help"), found));
    }
    // Every subcommand of the tools shows examples too, and they run.
    let subs = ["cgctl", "ovlmount", "ctr-run", "ctr-oci"].into_iter().flat_map(|t| subcommands(&[t]));
    for sub in subs {
        let help = Cmd::tool(&sub[0]).args(&sub[1..]).arg("--help").run();
        let found = help_examples(&help.ok().stdout);
        assert!(!found.is_empty(), "{} --help shows no example", sub.join(" "));
        sources.push((format!("{} --help", sub.join(" ")), found));
    }
    // Each source on a fresh machine of its own (fixtures, /tmp, /run): they repeat
    // each other's examples.
    let had_parent = ctr_run_parent_exists();
    let failures: Vec<String> = sources.iter().flat_map(|(from, lines)| run_examples(from, lines)).collect();
    // The examples' containers use ctr-run's default cgroup parent: made here, removed here.
    if !had_parent {
        Cmd::tool("cgctl").args(["rm", "/ctr-run"]).run().ok();
        assert!(!ctr_run_parent_exists(), "the examples left /ctr-run behind");
    }
    assert!(failures.is_empty(), "examples that do not run as written:\n{}", failures.join("\n"));
}

/// The subcommands (`TOOL SUB`, `TOOL SUB SUBSUB`) below `cmd`, from the `Commands:`
/// sections of their help (not `help` itself).
fn subcommands(cmd: &[&str]) -> Vec<Vec<String>> {
    let help = Cmd::tool(cmd[0]).args(&cmd[1..]).arg("--help").run().ok().stdout.clone();
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|n| n != "help")
        .collect();
    let mut out = Vec::new();
    for n in names {
        let mut sub: Vec<&str> = cmd.to_vec();
        sub.push(&n);
        let below = subcommands(&sub);
        if below.is_empty() {
            out.push(sub.iter().map(|s| s.to_string()).collect());
        }
        out.extend(below);
    }
    out
}

/// Whether ctr-run's default cgroup parent `/ctr-run` exists in any hierarchy.
fn ctr_run_parent_exists() -> bool {
    let root = Path::new("/sys/fs/cgroup");
    root.join("ctr-run").is_dir()
        || std::fs::read_dir(root).is_ok_and(|d| d.flatten().any(|e| e.path().join("ctr-run").is_dir()))
}

/// Run `lines` in order in one shell (they build on each other); the failures.
fn run_examples(from: &str, lines: &[String]) -> Vec<String> {
    let t = testkit::tempdir();
    let w = t.path();
    fixtures(w);
    let kvm = Path::new("/dev/kvm").exists();
    let tools: PathBuf = testkit::bin_dir();
    let mut script = format!(
        "set -u\nmount -t tmpfs -o mode=755 run /run\nmkdir /run/examples /run/tools\n\
         mount --bind {w} /run/examples\nmount --bind {tools} /run/tools\n\
         mount --bind {w}/tmp /tmp\ncd /run/examples\nexport PATH=/run/tools:/run/examples/bin:$PATH\n\
         unshare-rs -fpmuin --kill-child --mount-proc -- sleep 600 </dev/null >/dev/null 2>&1 &\nTARGET=$!\n\
         for i in $(seq 50); do PID=$(cat /proc/$TARGET/task/$TARGET/children 2>/dev/null | tr -d ' '); \
         [ -n \"$PID\" ] && break; sleep 0.1; done\n",
        w = shell_quote(&w.display().to_string()),
        tools = shell_quote(&tools.display().to_string()),
    );
    let mut run: Vec<(usize, Expect)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut expect = expectation(line);
        if line.contains("/dev/kvm") && !kvm {
            expect = Expect::Skip("this machine has no /dev/kvm");
        }
        let line = line.replace("1234", "$PID");
        let out = format!("/run/examples/out.{i}");
        match expect {
            Expect::Skip(_) => continue,
            Expect::Exit(_) => script.push_str(&format!("( {line}\n) </dev/null >{out} 2>&1; echo \"rc {i} $?\"\n")),
            // (SIGKILL: unshare-rs ignores SIGTERM while it waits, as util-linux's does.)
            Expect::Runs => script.push_str(&format!(
                "{line} </dev/null >{out} 2>&1 &\nbg=$!; sleep 1\n\
                 if kill -0 $bg 2>/dev/null; then echo \"rc {i} running\"; kill -9 $bg; wait $bg; \
                 else wait $bg; echo \"rc {i} $?\"; fi\n"
            )),
        }
        run.push((i, expect));
    }
    script
        .push_str("kill -9 $TARGET\nctr-run rm -f web >/dev/null 2>&1; cgctl rm --force web >/dev/null 2>&1\nexit 0\n");
    let script_path = w.join("examples.sh");
    std::fs::write(&script_path, &script).unwrap();
    // (In a PID namespace of its own: whatever an example leaves running ends with it.)
    let out = Cmd::tool("unshare-rs")
        .args(["-m", "-p", "-f", "--kill-child", "--mount-proc", "--", "bash"])
        .arg(&script_path)
        .timeout(std::time::Duration::from_secs(120))
        .run();
    assert_eq!(out.code, 0, "{from}: the examples' shell: {}", out.stderr);
    let mut failures = Vec::new();
    for (i, expect) in run {
        let line = &lines[i];
        let got = out.stdout.lines().find_map(|l| l.strip_prefix(&format!("rc {i} "))).unwrap_or("not run");
        let ok = match expect {
            Expect::Exit(code) => got == code.to_string(),
            Expect::Runs => got == "running",
            Expect::Skip(_) => true,
        };
        if !ok {
            let text = std::fs::read_to_string(w.join(format!("out.{i}"))).unwrap_or_default();
            failures.push(format!("{from}: `{line}`: {got} (expected {expect:?})\n{text}"));
        }
    }
    failures
}

#[test]
fn examples_are_found() {
    let readme = "text\n```sh\na one  # c\nb \\\n  two\n```\n```\nnot sh\n```\n";
    assert_eq!(readme_examples(readme), vec!["a one  # c".to_string(), "b   two".to_string()]);
    let help = "Usage: x\n\nExamples:\n  x run a   what it does\n  x b \\\n      c    more\n";
    assert_eq!(help_examples(help), vec!["x run a".to_string(), "x b c".to_string()]);
}
