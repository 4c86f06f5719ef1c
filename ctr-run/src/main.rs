//! ctr-run: the thin orchestrator. See the library docs.

mod cli;

use cli::{Command, ImageCommand};
use ctr_run::paths::{Root, Tools};
use ctr_run::supervise::RunEnd;
use ctr_run::{image, ops, supervise, Error};

const TOOL: &str = "ctr-run";

fn main() {
    let cli = chainload::cli::parse::<cli::Cli>(TOOL);
    if let Err(e) = dispatch(cli) {
        chainload::cli::fail(TOOL, &e);
    }
}

fn print_json(v: &impl serde::Serialize) -> Result<(), Error> {
    let text = serde_json::to_string(v)?;
    println!("{text}");
    Ok(())
}

/// Replace this process with a chain (chain loading: its status is ours).
fn exec_chain(argv: &[std::ffi::OsString], env: Option<&[(String, String)]>) -> Error {
    match env {
        Some(env) => {
            let vars: Vec<(std::ffi::OsString, std::ffi::OsString)> =
                env.iter().map(|(k, v)| (k.into(), v.into())).collect();
            chainload::error::OsError::from(chainload::exec::execvpe(argv, &vars)).into()
        }
        None => chainload::error::OsError::from(chainload::exec::execvp(argv)).into(),
    }
}

fn dispatch(cli: cli::Cli) -> Result<(), Error> {
    let root = Root::new(&cli.root.map_or_else(ctr_run::rootless::default_root, Ok)?)?;
    match cli.command {
        Command::Init { command } => Err(ctr_run::init::init(&command)),
        Command::HoldUserns => ctr_run::pause::pause(),
        Command::Pause { ids } => each(&ids, |id| ops::pause(&root, id, true)),
        Command::Unpause { ids } => each(&ids, |id| ops::pause(&root, id, false)),
        Command::Run(args) => {
            chainload::cli::check_program_is_not_an_option(TOOL, &args.command());
            let tools = Tools::locate()?;
            report_run(supervise::run(&root, &tools, &args.into_options())?)
        }
        Command::Exec { tty, interactive, env, workdir, user, id, command } => {
            let tools = Tools::locate()?;
            let attached = tty || [0, 1, 2].iter().any(|fd| ctr_run::terminal::is_terminal(*fd));
            if !attached {
                // (No terminal to keep from it: the chain is this process, as it was.)
                let o = ops::ExecOptions { env, workdir, user, command, console_socket: None };
                let (argv, env) = ops::exec_chain(&root, &tools, &id, &o)?;
                return Err(exec_chain(&argv, Some(&env)));
            }
            ctr_run::terminal::Attach::check(tty, interactive)?;
            // (In the container's own directory, 0700: no one else can take the name.)
            let full = ctr_run::store::find(&root, &id)?.id;
            let socket = root.container(&full).dir.join(format!("exec-{}.sock", std::process::id()));
            let o = ops::ExecOptions { env, workdir, user, command, console_socket: tty.then(|| socket.clone()) };
            let (argv, env) = ops::exec_chain(&root, &tools, &id, &o)?;
            let code = ctr_run::terminal::run_attached(&argv, &env, tty, interactive, &socket);
            let _ = std::fs::remove_file(&socket);
            std::process::exit(code?)
        }
        Command::Ps { all, json, quiet, filters, format } => match format {
            Some(template) => ps_format(&root, all, &filters, &template),
            None => ps(&root, all, json, quiet, &filters),
        },
        Command::Kill { signal, id } => ops::kill(&root, &id, signal),
        Command::Stop { time, ids } => {
            for name in ops::stop(&root, &ids, time.map(std::time::Duration::from_secs))? {
                println!("{name}");
            }
            Ok(())
        }
        Command::Restart { time, ids } => {
            let tools = Tools::locate()?;
            ops::restart(&root, &tools, &ids, time.map(std::time::Duration::from_secs), &mut |name| println!("{name}"))
        }
        Command::Wait { ids } => {
            for code in ops::wait(&root, &ids)? {
                println!("{code}");
            }
            Ok(())
        }
        Command::Rm { force, ids } => ops::rm(&root, &ids, force, &mut |key| println!("{key}")),
        Command::Inspect { format, ids } => {
            let all: Vec<serde_json::Value> =
                ids.iter().map(|k| ctr_run::inspect::inspect(&root, k)).collect::<Result<_, _>>()?;
            match format {
                Some(template) => print_rendered(&template, &all),
                None => print_json(&all),
            }
        }
        Command::Stats { no_stream, json, format, ids } => stats(&root, &ids, no_stream, json, &format),
        Command::Top { id, ps_options } => {
            for line in ctr_run::inspect::top(&root, &id, &ps_options)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Logs { follow, tail, id } => {
            ops::logs(&root, &id, tail.and_then(|t| t.0), follow, &mut std::io::stdout().lock())
        }
        Command::Diff { id, json } => Err(exec_chain(&ops::diff_argv(&root, &Tools::locate()?, &id, json)?, None)),
        Command::Commit { id, output, gzip, pause } => ops::commit(&root, &Tools::locate()?, &id, &output, gzip, pause),
        Command::Image(ImageCommand::Import { name, file, max_size }) => {
            image::import(&root, &Tools::locate()?, &name, &file, max_size).map(drop)
        }
        Command::Image(ImageCommand::Ls { json }) => {
            let images = image::list(&root);
            if json {
                return print_json(&images);
            }
            println!("{:<30}  {:>6}  CREATED", "NAME", "LAYERS");
            for i in images {
                println!("{:<30}  {:>6}  {}", i.name, i.layers.len(), i.created);
            }
            Ok(())
        }
        Command::Image(ImageCommand::Rm { name }) => image::remove(&root, &name),
    }
}

/// `f` for each of `ids` in turn, each printed once done, as docker's pause and unpause
/// print them; the first failure ends it.
fn each(ids: &[String], f: impl Fn(&str) -> Result<(), Error>) -> Result<(), Error> {
    for id in ids {
        f(id)?;
        println!("{id}");
    }
    Ok(())
}

/// `--format TEMPLATE` (inspect, ps): one line per value, printed only once every one
/// renders.
fn print_rendered(template: &str, values: &[serde_json::Value]) -> Result<(), Error> {
    let lines: Vec<String> = values
        .iter()
        .map(|v| ctr_run::template::render(template, v))
        .collect::<Result<_, _>>()
        .map_err(|why| Error::Usage(format!("--format: {why}")))?;
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

/// Print what `run` ended with, and exit with the container's status.
fn report_run(end: RunEnd) -> Result<(), Error> {
    match end {
        RunEnd::DryRun(cmd) => {
            println!("{cmd}");
            Ok(())
        }
        RunEnd::Detached(id) => {
            println!("{id}");
            Ok(())
        }
        RunEnd::Exited { name, code, oom } => {
            if let Some(limit) = oom {
                let limit = limit.map(chainload::units::format_size).unwrap_or_else(|| "none".into());
                eprintln!("{TOOL}: {name}: killed by the OOM killer (memory limit {limit})");
                std::process::exit(chainload::EXIT_KILLED);
            }
            std::process::exit(code)
        }
    }
}

/// `ps`: docker's columns, or JSON.
/// `stats`: a sample (CPU over one second) of each container, as a table, JSON lines or
/// Prometheus text; again every second unless `no_stream`, until none runs.
fn stats(root: &Root, ids: &[String], no_stream: bool, json: bool, format: &str) -> Result<(), Error> {
    use chainload::units::format_size;
    loop {
        let samples = ctr_run::inspect::usage(root, ids, std::time::Duration::from_secs(1))?;
        if json {
            for u in &samples {
                let v =
                    serde_json::json!({ "id": u.id, "name": u.name, "cpu_percent": u.cpu_percent, "stats": u.stats });
                println!("{v}");
            }
        } else if format == "prometheus" {
            for u in &samples {
                print!("{}", cgctl::stats::prometheus(&u.stats));
            }
        } else {
            println!(
                "{:<20}  {:>7}  {:>21}  {:>6}  {:>5}  BLOCK I/O",
                "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"
            );
            for u in &samples {
                let m = &u.stats.memory;
                let usage = m.current.map(format_size).unwrap_or_else(|| "-".into());
                let limit = m.limit.map(format_size).unwrap_or_else(|| "none".into());
                let percent = match (m.current, m.limit) {
                    (Some(c), Some(l)) if l > 0 => format!("{:.2}%", c as f64 * 100.0 / l as f64),
                    _ => "-".into(),
                };
                let pids = u.stats.pids.current.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
                let (r, w) = u.stats.io.iter().fold((0, 0), |(r, w), d| (r + d.read_bytes, w + d.write_bytes));
                println!(
                    "{:<20}  {:>6.2}%  {:>21}  {:>6}  {:>5}  {} / {}",
                    u.name,
                    u.cpu_percent,
                    format!("{usage} / {limit}"),
                    percent,
                    pids,
                    format_size(r),
                    format_size(w)
                );
            }
        }
        if no_stream || samples.is_empty() {
            return Ok(());
        }
    }
}

/// The rows `ps` lists: all with -a (or a filter that asks for exited ones), filtered.
fn ps_rows(root: &Root, all: bool, filters: &[ops::PsFilter]) -> Result<Vec<ops::Row>, Error> {
    Ok(ops::filtered(ops::ps(root, all || filters.iter().any(ops::PsFilter::wants_exited))?, filters))
}

/// `ps --format TEMPLATE`: each row through docker's template, with docker's fields.
fn ps_format(root: &Root, all: bool, filters: &[ops::PsFilter], template: &str) -> Result<(), Error> {
    let now = ctr_run::state::now();
    let rows: Vec<serde_json::Value> = ps_rows(root, all, filters)?.iter().map(|r| r.docker_fields(now)).collect();
    print_rendered(&template.replace("\\t", "\t"), &rows)
}

fn ps(root: &Root, all: bool, json: bool, quiet: bool, filters: &[ops::PsFilter]) -> Result<(), Error> {
    let rows = ps_rows(root, all, filters)?;
    // A damaged state file is named, not silently left out.
    for e in ctr_run::store::list_all(root).1 {
        eprintln!("{TOOL}: warning: {e}");
    }
    if json {
        return print_json(&rows);
    }
    if quiet {
        for r in rows {
            println!("{}", &r.id[..12.min(r.id.len())]);
        }
        return Ok(());
    }
    let now = ctr_run::state::now();
    // Each column as wide as its widest cell (docker's tabwriter way): a status like
    // "Up 5 minutes (restarted 3 times)" never runs into the next column.
    let mut table = vec![["ID", "NAME", "STATUS", "CREATED", "PID"].map(String::from).to_vec()];
    let mut commands = vec!["COMMAND".to_string()];
    for r in &rows {
        let created = format!("{} ago", ctr_run::ops::human_duration(now.saturating_sub(r.created)));
        let pid = r.pid.map(|p| p.to_string()).unwrap_or_default();
        table.push(vec![r.id[..12.min(r.id.len())].to_string(), r.name.clone(), r.status_at(now), created, pid]);
        commands.push(r.command.join(" "));
    }
    let widths: Vec<usize> =
        (0..5).map(|c| table.iter().map(|row| row[c].chars().count()).max().unwrap_or(0)).collect();
    for (row, command) in table.iter().zip(&commands) {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            // (PID right-aligned, as numbers are.)
            let cell = if c == 4 { format!("{cell:>w$}", w = widths[c]) } else { format!("{cell:<w$}", w = widths[c]) };
            line.push_str(&cell);
            line.push_str("  ");
        }
        line.push_str(command);
        println!("{line}");
    }
    Ok(())
}
