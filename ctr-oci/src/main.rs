//! ctr-oci: an OCI runtime (runc's command line) on the chain. See the library docs.

mod cli;

use chainload::error::Failure;
use cli::{Cli, Command};
use ctr_oci::log::Log;
use ctr_oci::state::Root;
use ctr_oci::{features, ops, Error};

const TOOL: &str = "ctr-oci";

fn main() {
    standard_descriptors_open();
    let cli = chainload::cli::parse::<Cli>(TOOL);
    let log = Log { file: cli.log.clone(), format: cli.log_format };
    log.touch();
    // `state` is called with stderr closed (podman): its errors go to the log only.
    let quiet = matches!(cli.command, Command::State { .. });
    if let Err(e) = dispatch(cli) {
        log.error(&e.to_string());
        if !quiet {
            eprintln!("{TOOL}: {e}");
        }
        std::process::exit(e.exit_code());
    }
}

/// A caller may start us with fd 0, 1 or 2 closed: /dev/null takes its place, so no file
/// opened later becomes one of them (and gets our error messages).
fn standard_descriptors_open() {
    for fd in 0..3 {
        if nix::fcntl::fcntl(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, nix::fcntl::FcntlArg::F_GETFD).is_err()
        {
            // (The lowest free descriptor: this one.)
            let _ = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map(std::mem::forget::<std::fs::File>);
        }
    }
}

fn print_json(v: &serde_json::Value) -> Result<(), Error> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn dispatch(cli: Cli) -> Result<(), Error> {
    let root = Root::new(cli.root).logging_to(Log { file: cli.log.clone(), format: cli.log_format });
    match cli.command {
        Command::Create(a) => ops::create(&root, &a.id, &a.options()).map(drop),
        Command::Start { id } => ops::start(&root, &id),
        Command::State { id } => print_json(&root.find(&id)?.report(&root)),
        Command::Kill { all, id, signal } => {
            let sig = chainload::signals::parse_signal(&signal).map_err(|e| Error::Usage(e.to_string()))?;
            ops::kill(&root, &id, sig, all)
        }
        Command::Delete { force, id } => ops::delete(&root, &id, force),
        Command::Exec(a) => ctr_oci::exec::exec(&root, &a.id, &a.options()?),
        Command::Update(a) => ops::update(&root, &a.id, &a.resources()?),
        Command::Events { stats, interval, id } => {
            ctr_oci::events::events(&root, &id, &ctr_oci::events::EventOptions { stats, interval })
        }
        Command::Pause { id } => ops::pause(&root, &id),
        Command::Resume { id } => ops::resume(&root, &id),
        Command::Ps { format, id, ps_options } => ps(&root, &id, &format, &ps_options),
        Command::Run { create, detach } => {
            let code = ops::run(&root, &create.id, &create.options(), detach)?;
            std::process::exit(code)
        }
        Command::List { format, quiet } => list(&root, &format, quiet),
        Command::Features => print_json(&features::features()),
        Command::Spec { bundle } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(Error::Usage(format!("'{}' exists; remove it first", path.display())));
            }
            let text = serde_json::to_string_pretty(&features::default_spec())?;
            std::fs::write(&path, text + "\n").map_err(|e| chainload::error::io("cannot write", &path, e).into())
        }
        Command::Chain { bundle, id } => {
            let (plan, argv) = ops::chain_of(&root, &id, &bundle, 0)?;
            println!("{}", ctr_oci::chain::shell_command(&plan, &argv));
            Ok(())
        }
    }
}

/// `ps`: JSON, the pids; a table, `ps`'s own (runc's way: `ps -ef`, or the options
/// given) with only the container's processes kept.
fn ps(root: &Root, id: &str, format: &str, options: &[String]) -> Result<(), Error> {
    let pids = ops::pids(root, id)?;
    match format {
        "json" => print_json(&serde_json::json!(pids)),
        "table" => {
            for line in chainload::ps::table(&pids, options).map_err(Error::Usage)? {
                println!("{line}");
            }
            Ok(())
        }
        other => Err(Error::Usage(format!("unknown ps format '{other}' (table or json)"))),
    }
}

fn list(root: &Root, format: &str, quiet: bool) -> Result<(), Error> {
    let states = ops::list(root);
    if quiet {
        for s in &states {
            println!("{}", s["id"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    match format {
        "json" => {
            println!("{}", serde_json::Value::Array(states));
            Ok(())
        }
        "table" => {
            println!("{:<24}{:<10}{:<10}{:<40}{:<32}OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
            for s in &states {
                let f = |k: &str| s[k].as_str().map(str::to_string).unwrap_or_else(|| s[k].to_string());
                println!(
                    "{:<24}{:<10}{:<10}{:<40}{:<32}{}",
                    f("id"),
                    f("pid"),
                    f("status"),
                    f("bundle"),
                    f("created"),
                    f("owner")
                );
            }
            Ok(())
        }
        other => Err(Error::Usage(format!("unknown list format '{other}' (table or json)"))),
    }
}
