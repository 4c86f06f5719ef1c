//! What every tool does the same way.

use testkit::Cmd;

const TOOLS: [&str; 6] = ["unshare-rs", "nsenter-rs", "cgctl", "ovlmount", "ctr-run", "ctr-oci"];

/// A usage error reads like util-linux's, in every tool: `TOOL: unrecognized option
/// '--x'`, then `Try 'TOOL --help' for more information.` (naming the subcommand where
/// the error is in one), exit status 125, nothing on stdout.
#[test]
fn usage_errors_read_like_util_linux() {
    for tool in TOOLS {
        let out = Cmd::tool(tool).arg("--no-such-option").run();
        assert_eq!(out.code, 125, "{tool}");
        assert_eq!(
            out.stderr,
            format!("{tool}: unrecognized option '--no-such-option'\nTry '{tool} --help' for more information.\n"),
            "{tool}"
        );
        assert_eq!(out.stdout, "", "{tool}");
    }
    let cases: [(&str, &[&str], &str, &str); 4] = [
        ("ctr-run", &["run", "--bogus"], "unrecognized option '--bogus'", "ctr-run run"),
        ("ctr-run", &["image", "import"], "the following required arguments were not provided", "ctr-run image import"),
        ("ovlmount", &["mount"], "the following required arguments were not provided: <--lower", "ovlmount mount"),
        ("cgctl", &[], "a command is required", "cgctl"),
    ];
    for (tool, args, says, command) in cases {
        let out = Cmd::tool(tool).args(args.iter().copied()).run();
        assert_eq!(out.code, 125, "{tool} {args:?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{tool} {args:?}: {}", out.stderr);
        assert!(lines[0].starts_with(&format!("{tool}: {says}")), "{tool} {args:?}: {}", out.stderr);
        assert_eq!(lines[1], format!("Try '{command} --help' for more information."), "{tool} {args:?}");
        // The hint works: that command's help exists and exits 0.
        let mut help: Vec<&str> = command.split(' ').skip(1).collect();
        help.push("--help");
        assert_eq!(Cmd::tool(tool).args(help).run().code, 0, "{command} --help");
    }
}
