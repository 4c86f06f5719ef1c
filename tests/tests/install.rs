//! `scripts/install PREFIX`: every tool, its man pages (one per subcommand too) and its
//! bash, zsh and fish completions land under PREFIX, generated from the tool's own
//! command line; the pages render with `man -l`, the bash completion loads.

#![allow(clippy::unwrap_used)] // a test that cannot go on should panic

use std::path::Path;

use testkit::{skip, Cmd};

const TOOLS: [&str; 6] = ["unshare-rs", "cgctl", "nsenter-rs", "ovlmount", "ctr-run", "ctr-oci"];

#[test]
fn install_puts_binaries_man_pages_and_completions_under_the_prefix() {
    let prefix = testkit::tempdir();
    let p = prefix.path();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install");
    if !script.exists() || !testkit::has_command("bash") {
        skip("install", "no checkout with scripts/install, or no bash (the test VM)");
        return;
    }
    let out = Cmd::new("bash").arg(&script).arg(p).env("BIN_DIR", testkit::bin_dir()).run();
    assert_eq!(out.code, 0, "{out:?}");
    for t in TOOLS {
        let bin = p.join("bin").join(t);
        let v = Cmd::new(&bin).arg("--version").run();
        assert_eq!(v.code, 0, "{t} --version: {v:?}");
        let page = p.join(format!("share/man/man1/{t}.1"));
        assert!(std::fs::read_to_string(&page).unwrap().contains(".TH"), "{t}: no man page");
        let bash = std::fs::read_to_string(p.join(format!("share/bash-completion/completions/{t}"))).unwrap();
        assert!(bash.contains("complete -F"), "{t}: {bash}");
        let zsh = std::fs::read_to_string(p.join(format!("share/zsh/site-functions/_{t}"))).unwrap();
        assert!(zsh.starts_with(&format!("#compdef {t}")), "{t}: {zsh}");
        let fish = std::fs::read_to_string(p.join(format!("share/fish/vendor_completions.d/{t}.fish"))).unwrap();
        assert!(fish.contains(&format!("complete -c {t}")), "{t}: {fish}");
    }
    // A subcommand's page, rendered: its name, synopsis and an option of its own.
    let run_page = p.join("share/man/man1/ctr-run-run.1");
    if testkit::has_command("man") {
        let text = Cmd::new("man").arg("-l").arg(&run_page).env("MANWIDTH", "100").env("MAN_KEEP_FORMATTING", "").run();
        assert_eq!(text.code, 0, "{text:?}");
        // (man justifies the lines: compare the words.)
        let words = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        for part in ["ctr-run-run - Run a command in a new container", "SYNOPSIS ctr-run run [--name]", "--memory"] {
            assert!(words.contains(part), "'{part}' missing from the rendered page:\n{}", text.stdout);
        }
    } else {
        skip("install_man", "man (man-db) is not installed: the pages are not rendered");
    }
    // The bash completion loads and completes the subcommands (cgctl's, ctr-run's).
    for (tool, func, typed, want) in [("cgctl", "_cgctl", "fr", "freeze"), ("ctr-run", "_ctr__run", "res", "restart")] {
        let bash = p.join("share/bash-completion/completions").join(tool);
        let line = format!(
            "source {}; complete -p {tool}; COMP_WORDS=({tool} {typed}); COMP_CWORD=1; {func} {tool} {typed} {tool}; echo \"${{COMPREPLY[@]}}\"",
            bash.display()
        );
        let out = Cmd::new("bash").args(["-c", &line]).run();
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains(&format!("-F {func} {tool}")), "{out:?}");
        assert!(out.stdout.lines().last().unwrap_or_default().split_whitespace().any(|w| w == want), "{out:?}");
    }
    // A page for each of ctr-run's subcommands.
    for sub in ["run", "exec", "stop", "restart", "wait", "kill", "inspect", "stats", "top", "logs", "ps"] {
        assert!(p.join(format!("share/man/man1/ctr-run-{sub}.1")).exists(), "no page for ctr-run {sub}");
    }
    // Bad input to the generator: one line, 125.
    let bad = Cmd::new(p.join("bin/cgctl")).env("CTR_TOOLS_GENERATE", "tcsh").run();
    assert_eq!(bad.code, 125, "{bad:?}");
    assert_eq!(bad.stderr, "cgctl: CTR_TOOLS_GENERATE=tcsh: expected man:DIR, bash, zsh or fish\n");
}
