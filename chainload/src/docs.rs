//! Man pages and shell completions, generated from each tool's own clap definition
//! (`clap_mangen`, `clap_complete`), so they never disagree with `--help`.
//!
//! A tool started with `CTR_TOOLS_GENERATE` in its environment prints or writes them
//! and exits, whatever its arguments (`scripts/install` runs each tool so):
//!
//! - `man:DIR`: `DIR/TOOL.1`, and `DIR/TOOL-SUBCOMMAND.1` for each subcommand;
//! - `bash`, `zsh`, `fish`: the completion script, on stdout.

use std::path::Path;

/// The environment variable that asks for them.
pub const ENV: &str = "CTR_TOOLS_GENERATE";

/// Where `CTR_TOOLS_GENERATE` is set: generate what it asks for `T`'s command line and
/// exit (0, or 125 with one line saying why not).
pub fn generate_if_asked<T: clap::CommandFactory>(tool: &str) {
    let Some(what) = std::env::var_os(ENV) else { return };
    let what = what.to_string_lossy().into_owned();
    let mut cmd = T::command().name(leak(tool)).bin_name(tool.to_string());
    // (Subcommands are built when used: here all of them are.)
    cmd.build();
    let done = match what.split_once(':') {
        Some(("man", dir)) => man_pages(&cmd, tool, Path::new(dir)),
        _ => match what.parse::<clap_complete::Shell>() {
            Ok(shell) => {
                clap_complete::generate(shell, &mut cmd, tool, &mut std::io::stdout());
                Ok(())
            }
            Err(_) => Err(format!("{ENV}={what}: expected man:DIR, bash, zsh or fish")),
        },
    };
    match done {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{tool}: {e}");
            std::process::exit(crate::EXIT_TOOL_FAILED)
        }
    }
}

/// A name for clap, which keeps `&'static str` names (without its `string` feature):
/// the process exits once the pages are written.
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_string().into_boxed_str())
}

/// The tool's page and one per subcommand (`ctr-run-run.1`), as clap_mangen renders them.
fn man_pages(cmd: &clap::Command, tool: &str, dir: &Path) -> Result<(), String> {
    let write = |name: &str, c: clap::Command| -> Result<(), String> {
        let mut page = Vec::new();
        clap_mangen::Man::new(c).render(&mut page).map_err(|e| format!("cannot render the man page of {name}: {e}"))?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page)
            .map_err(|e| format!("cannot write '{}': {}", path.display(), crate::cli::io_reason(&e)))
    };
    write(tool, cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("{tool}-{}", sub.get_name());
        write(&name, sub.clone().name(leak(&name)).bin_name(format!("{tool} {}", sub.get_name())))?;
    }
    Ok(())
}
