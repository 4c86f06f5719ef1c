//! Parsing the command line with clap under the project's exit status convention:
//! `--help` and `--version` print and exit 0; a usage error is reported as util-linux
//! reports it, `tool: message` on one line and then `Try 'tool --help' for more
//! information.` (naming the subcommand where there is one), with exit status 125
//! (clap's own would be 2).

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Parse this process's arguments into `T`, or exit as the convention says.
pub fn parse<T: clap::Parser>(tool: &str) -> T {
    crate::docs::generate_if_asked::<T>(tool);
    match try_parse::<T>() {
        Ok(t) => t,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print(); // nothing to do if stdout is closed
                std::process::exit(0)
            }
            _ => {
                let rendered = e.render().to_string();
                usage_error_with_hint(tool, &usage_message(&e, &rendered), &command_path(tool, &rendered))
            }
        },
    }
}

/// clap's `T::try_parse()`, but the command clap built and what it parsed are not freed:
/// a tool execs or exits soon after, and freeing them cost as much as a fifth of the
/// parse (every argument's definition is a handful of allocations).
fn try_parse<T: clap::Parser>() -> Result<T, clap::Error> {
    let mut cmd = T::command();
    let parsed = cmd.try_get_matches_from_mut(std::env::args_os()).and_then(|mut matches| {
        let t = T::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd));
        std::mem::forget(matches);
        t
    });
    std::mem::forget(cmd);
    parsed
}

/// The message of a clap error as util-linux words it where it has a word for it.
fn usage_message(e: &clap::Error, rendered: &str) -> String {
    match (e.kind(), e.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) if arg.starts_with('-') => {
            format!("unrecognized option '{arg}'")
        }
        (ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand, _) => "a command is required".into(),
        _ => first_line(rendered),
    }
}

/// The command a usage error is about (`ctr-run run`), from clap's `Usage:` line.
fn command_path(tool: &str, rendered: &str) -> String {
    let usage = rendered.lines().find_map(|l| l.trim().strip_prefix("Usage: "));
    let words: Vec<&str> = usage
        .map(|u| u.split_whitespace().take_while(|w| !w.starts_with(['[', '<', '-']) && *w != "|").collect())
        .unwrap_or_default();
    match words.first() {
        Some(first) if *first == tool => words.join(" "),
        _ => tool.to_string(),
    }
}

/// Report a usage error the util-linux way: `tool: message`, then the hint to run
/// `command --help`; exit 125.
pub fn usage_error_with_hint(tool: &str, message: &str, command: &str) -> ! {
    eprintln!("{tool}: {message}");
    eprintln!("Try '{command} --help' for more information.");
    std::process::exit(crate::EXIT_TOOL_FAILED)
}

/// Report an error the project's way: `tool: message` on one line, exit 125.
pub fn usage_error(tool: &str, message: &str) -> ! {
    eprintln!("{tool}: {message}");
    std::process::exit(crate::EXIT_TOOL_FAILED)
}

/// The first paragraph of a rendered clap error on one line, without clap's `error: `
/// prefix (so "the following required arguments were not provided:" keeps the argument).
pub fn first_line(rendered: &str) -> String {
    let para: Vec<&str> = rendered
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let text = if para.is_empty() { "invalid usage".to_string() } else { para.join(" ") };
    text.trim_start_matches("error: ").to_string()
}

/// Print `tool: error` once, on one line, and exit with `code`. Error types of the
/// workspace put the cause (the errno text) into their own message, so only the
/// top-level `Display` is printed.
pub fn fail<E: crate::error::Failure>(tool: &str, err: &E) -> ! {
    eprintln!("{tool}: {err}");
    std::process::exit(err.exit_code())
}

/// Refuse an unknown option that clap took for the program (`tool --bogus`): clap's
/// trailing program argument accepts values starting with `-`. A program named with a
/// leading `-` is still possible after `--`. `command` is the parsed program and its
/// arguments, which are always the tail of argv.
pub fn check_program_is_not_an_option(tool: &str, command: &[std::ffi::OsString]) {
    let Some(first) = command.first() else { return };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(first.as_os_str());
    if bytes.len() < 2 || bytes[0] != b'-' {
        return;
    }
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let start = argv.len().saturating_sub(command.len());
    if start > 0 && argv[start - 1] == "--" {
        return;
    }
    usage_error_with_hint(tool, &format!("unrecognized option '{}'", first.to_string_lossy()), tool)
}

/// The errno text of an I/O error (`Device or resource busy`), else its message: what
/// error messages of the workspace print after the colon.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// `w` as one word for a POSIX shell: as it is when it needs no quoting, else in single
/// quotes (for the chains the tools print: `--dry-run`, `ctr-oci chain`).
pub fn shell_quote(w: &str) -> String {
    if !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c)) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `argv` as one shell command line, each word quoted as [`shell_quote`] does.
pub fn shell_words<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter().map(|w| shell_quote(w.as_ref())).collect::<Vec<_>>().join(" ")
}
