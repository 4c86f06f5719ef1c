//! unshare-rs: create namespaces, then exec the rest of argv. See the library docs.

mod cli;

const TOOL: &str = "unshare-rs";

fn main() {
    let cli = chainload::cli::parse::<cli::Cli>(TOOL);
    chainload::cli::check_program_is_not_an_option(TOOL, cli.command());
    let options = cli.into_options();
    match unshare_rs::run(&options) {
        Ok(status) => chainload::status::exit_like(status),
        Err(e) => chainload::cli::fail(TOOL, &e),
    }
}
