//! Parsing the command line with clap under the project's exit status convention:
//! `--help` and `--version` print and exit 0; every usage error is one line on stderr,
//! `tool: message`, and exit status 125 (clap's own would be 2).

use clap::error::ErrorKind;

/// Parse this process's arguments into `T`, or exit as the convention says.
pub fn parse<T: clap::Parser>(tool: &str) -> T {
    match T::try_parse() {
        Ok(t) => t,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print(); // nothing to do if stdout is closed
                std::process::exit(0)
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                usage_error(tool, &format!("a command is required; try '{tool} --help'"))
            }
            _ => usage_error(tool, &first_line(&e.render().to_string())),
        },
    }
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
pub fn fail(tool: &str, err: &dyn std::error::Error, code: i32) -> ! {
    eprintln!("{tool}: {err}");
    std::process::exit(code)
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
    usage_error(tool, &format!("unexpected argument '{}' found; try '{tool} --help'", first.to_string_lossy()))
}

/// The errno text of an I/O error (`Device or resource busy`), else its message: what
/// error messages of the workspace print after the colon.
pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}
