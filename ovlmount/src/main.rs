//! ovlmount: layered overlayfs roots, entering them, OCI layers. See the library docs.

mod cli;

use cli::Command;
use ovlmount::{commit, diff, enter, import, overlay, stack, Error};

const TOOL: &str = "ovlmount";

fn main() {
    let cli = chainload::cli::parse::<cli::Cli>(TOOL);
    if let Err(e) = dispatch(cli.command) {
        chainload::cli::fail(TOOL, &e);
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(v)?;
    println!("{text}");
    Ok(())
}

fn dispatch(command: Command) -> Result<(), Error> {
    match command {
        Command::Mount { layers, json, target } => {
            let mut s = layers.stack();
            let api = overlay::prepare_and_mount(&mut s, &target)?;
            if json {
                print_json(&serde_json::json!({ "target": target, "stack": s, "api": api }))?;
            }
            Ok(())
        }
        Command::Umount { target } => overlay::umount(&target),
        Command::Enter(args) => {
            let opts = args.into_options().map_err(Error::Usage)?;
            Err(enter::enter(&opts))
        }
        Command::Commit { upper, output, gzip, json, progress } => {
            let c = commit::commit(&upper, &output, gzip, progress)?;
            if json {
                print_json(&c)?;
            }
            Ok(())
        }
        Command::Import { file, dir, max_size, progress } => import::import(&file, &dir, max_size, progress).map(drop),
        Command::Diff { upper, lowers, json } => {
            let changes = diff::diff(&upper, &stack::split_lowers(&lowers))?;
            if json {
                return print_json(&changes);
            }
            for c in changes {
                println!("{} {}", c.kind, c.path);
            }
            Ok(())
        }
    }
}
