//! util-linux's own test suite (its `tests/ts`, fetched and its helpers built by
//! `scripts/fetch-util-linux-tests`) run with `--use-system-commands` and our binaries
//! as `unshare` and `nsenter`: every test of it that runs those two commands must pass.
//! (With Debian 12's util-linux 2.38 in their place, `nsenter/enter-via-socket` fails
//! and the `unshare/forward-signals*` tests skip: what util-linux added since 2.38.)

use std::path::Path;

use testkit::{require_root, skip, Cmd};

/// The tests of the suite that run `unshare` or `nsenter`.
const TESTS: [&str; 4] = ["unshare/forward-signals", "unshare/forward-signals-kill-child", "nsenter", "lsns/ioctl_ns"];

#[test]
fn util_linux_suite_passes_with_our_unshare_and_nsenter() {
    require_root!();
    let name = "util_linux_suite_passes_with_our_unshare_and_nsenter";
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/util-linux/src");
    if !src.join("tests/run.sh").exists() || !src.join("test_sigreceive").exists() {
        skip(name, "util-linux's test suite was not fetched and built (scripts/fetch-util-linux-tests said why)");
        return;
    }
    let t = testkit::tempdir();
    let bin = t.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (as_name, ours) in [("unshare", "unshare-rs"), ("nsenter", "nsenter-rs")] {
        std::os::unix::fs::symlink(testkit::bin(ours), bin.join(as_name)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let present: Vec<&str> = TESTS.iter().copied().filter(|t| src.join("tests/ts").join(t).exists()).collect();
    assert!(!present.is_empty(), "the fetched suite has none of {TESTS:?}");
    let out = Cmd::new("bash")
        .arg(src.join("tests/run.sh"))
        .args(["--use-system-commands", "--parsable", "--noskip-commands"])
        .args(&present)
        .env("PATH", &path)
        .timeout(std::time::Duration::from_secs(180))
        .run();
    let results: Vec<&str> = out.stdout.lines().filter(|l| l.contains(" ... ")).collect();
    assert!(!results.is_empty(), "no test ran:\n{}{}", out.stdout, out.stderr);
    let bad: Vec<&&str> = results.iter().filter(|l| !l.trim_end().ends_with(" OK")).collect();
    assert!(bad.is_empty(), "util-linux's tests that did not pass:\n{bad:#?}\n\n{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The helpers' own builds live in the suite's tree: nothing of ours was used by
    // another name (the suite saw our binaries).
    let used = Cmd::new("bash").args(["-c", "command -v unshare"]).env("PATH", &path).run();
    assert_eq!(used.ok().stdout.trim(), bin.join("unshare").display().to_string());
}
