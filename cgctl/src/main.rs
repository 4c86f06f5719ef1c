//! cgctl: create cgroups, write limits, move processes in, read stats. See the library docs.

mod cli;

use cgctl::group::Group;
use cgctl::run::{RunOptions, RunOutcome};
use cgctl::setup::Cgroups;
use cgctl::{commands, stats, Error};
use cli::Command;

const TOOL: &str = "cgctl";

fn main() {
    let cli = chainload::cli::parse::<cli::Cli>(TOOL);
    let cg = match Cgroups::detect() {
        Ok(cg) => cg,
        Err(e) => chainload::cli::fail(TOOL, &e),
    };
    if let Err(e) = dispatch(&cg, cli.command) {
        chainload::cli::fail(TOOL, &e);
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(v)?;
    println!("{text}");
    Ok(())
}

fn dispatch(cg: &Cgroups, command: Command) -> Result<(), Error> {
    match command {
        Command::Info { json } => {
            if json {
                return print_json(cg);
            }
            println!("setup: {}", cg.setup);
            for h in &cg.hierarchies {
                println!("{:<14} {:<32} own cgroup {}", h.label(), h.mount_point.display(), h.own_cgroup.display());
                if h.label() == "v2" {
                    println!("{:<14} controllers: {}", "", h.controllers.join(" "));
                }
            }
            Ok(())
        }
        Command::Create { name, limits } => commands::create(cg, &name, &limits.into()),
        Command::Set { name, limits } => commands::set(cg, &name, &limits.into()),
        Command::Exec { create, name, limits, command } => {
            chainload::cli::check_program_is_not_an_option(TOOL, &command);
            Err(commands::exec(cg, &name, &limits.into(), create, &command))
        }
        Command::Run { name, keep, stats, quiet, stats_json, kill_child, limits, command } => {
            chainload::cli::check_program_is_not_an_option(TOOL, &command);
            let opts = RunOptions { name, keep, stats, kill_child, stats_json, limits: limits.into(), command };
            let outcome = cgctl::run::run(cg, &opts)?;
            finish_run(outcome, quiet)
        }
        Command::Add { name, pids } => commands::add(cg, &name, &pids),
        Command::Stats { name, json, format } => {
            let g = Group::new(cg, name);
            g.require()?;
            let s = stats::read(&g);
            if json {
                print_json(&s)
            } else if format == "prometheus" {
                print!("{}", stats::prometheus(&s));
                Ok(())
            } else {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
                Ok(())
            }
        }
        Command::Ls { name, json } => {
            let rows = commands::ls(cg, name.as_ref())?;
            if json {
                return print_json(&rows);
            }
            println!("{:<40} {:>9}  HIERARCHIES", "NAME", "PROCESSES");
            for r in rows {
                println!("{:<40} {:>9}  {}", r.name, r.processes, r.hierarchies.join(" "));
            }
            Ok(())
        }
        Command::Rm { force, names } => commands::rm(cg, &names, force),
        Command::Freeze { name } => Group::new(cg, name).freeze(),
        Command::Thaw { name } => Group::new(cg, name).thaw(),
        Command::Kill { signal, name } => commands::kill(cg, &name, signal).map(drop),
    }
}

/// Report what `run` saw and end like the command did.
fn finish_run(o: RunOutcome, quiet: bool) -> ! {
    if let Some(s) = o.stats.as_ref().filter(|_| !quiet) {
        let peak = s.memory.peak.map(chainload::units::format_size).unwrap_or_else(|| "unknown".into());
        let cpu = s.cpu.usage_usec.map(|u| format!("{:.3} s", u as f64 / 1e6)).unwrap_or_else(|| "unknown".into());
        let ooms = s.memory.oom_kills.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into());
        eprintln!("{TOOL}: {}: peak memory {peak}, CPU time {cpu}, OOM kills {ooms}", o.name);
    }
    if o.oom_killed {
        if quiet {
            std::process::exit(chainload::EXIT_KILLED);
        }
        let limit = o.memory_limit.map(chainload::units::format_size).unwrap_or_else(|| "none".into());
        eprintln!("{TOOL}: {}: killed by the OOM killer (memory limit {limit})", o.name);
        std::process::exit(chainload::EXIT_KILLED);
    }
    chainload::status::exit_like(o.status)
}
