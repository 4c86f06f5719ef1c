//! nsenter-rs: join the namespaces of a running process, then exec. See the library docs.

mod cli;

const TOOL: &str = "nsenter-rs";

fn main() {
    let cli = chainload::cli::parse::<cli::Cli>(TOOL);
    chainload::cli::check_program_is_not_an_option(TOOL, cli.command());
    let options = match cli.into_options() {
        Ok(o) => o,
        Err(e) => chainload::cli::fail(TOOL, &e),
    };
    match nsenter_rs::run(&options) {
        Ok(status) => chainload::status::exit_like(status),
        Err(e) => chainload::cli::fail(TOOL, &e),
    }
}
