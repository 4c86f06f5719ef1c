//! `ps`'s own table, of some processes only: runc's `ps` and docker's `top` way (`ps -ef`,
//! or the options given, with only the rows of the given pids kept).

/// The header and the rows of `pids` from `ps OPTIONS` (default `-ef`), as lines.
pub fn table(pids: &[i32], options: &[String]) -> Result<Vec<String>, String> {
    let args: Vec<&str> = if options.is_empty() { vec!["-ef"] } else { options.iter().map(String::as_str).collect() };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| format!("cannot run ps: {}", crate::cli::io_reason(&e)))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| format!("ps {}: its output has no PID column", args.join(" ")))?;
    let mut rows = vec![header.to_string()];
    for l in lines {
        let pid = l.split_whitespace().nth(column).and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            rows.push(l.to_string());
        }
    }
    Ok(rows)
}
