//! `inspect`, `stats` and `top`: what a container is and uses, read from its state and
//! from the kernel (its PID 1's mount table, its cgroup's files through cgctl).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::Config;
use crate::paths::Root;
use crate::state::{State, Status};
use crate::store;
use crate::Error;

/// `inspect KEY`: docker's shape: `Id`, `Name`, `Created`, `State` (status, pid, exit
/// code, OOM kill, start and end times), `Config` and `HostConfig` (docker's names for
/// what was asked), `Mounts` (from the container's own mount table while it runs),
/// `Chain` (the chain that runs it) and `CtrRunConfig` (the saved configuration whole).
pub fn inspect(root: &Root, key: &str) -> Result<Value, Error> {
    let st = store::find(root, key)?;
    let time = |secs: u64| chainload::time::rfc3339(secs as i64, 0);
    let running = st.status == Status::Running && st.pid.is_some_and(|p| p.alive());
    let pid = st.pid.filter(|_| running).map(|p| p.pid).unwrap_or(0);
    let mounts: Vec<Value> = if running { mounts_of(pid) } else { Vec::new() };
    let paused = running && crate::store::is_paused(&st);
    Ok(json!({
        "Id": st.id,
        "Name": st.name,
        "Created": time(st.created),
        "State": {
            "Status": match (running, paused) {
                (true, true) => "paused".to_string(),
                (true, false) => "running".to_string(),
                _ => st.status.to_string(),
            },
            "Running": running,
            "Paused": paused,
            "Pid": pid,
            "ExitCode": st.exit_code.unwrap_or(0),
            "OOMKilled": st.oom_killed,
            "StartedAt": time(st.started.unwrap_or(st.created)),
            "FinishedAt": st.finished.map(time),
        },
        "RestartCount": st.restart_count,
        "Config": docker_config(&st.config),
        "HostConfig": host_config(&st.config),
        "CtrRunConfig": st.config,
        "Rootfs": st.rootfs,
        "Mounts": mounts,
        "Chain": st.chain,
    }))
}

/// docker's `Config` of a container.
fn docker_config(c: &Config) -> Value {
    json!({
        "Hostname": c.hostname,
        "User": c.user.clone().unwrap_or_default(),
        "Env": c.env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "Cmd": c.command,
        "WorkingDir": c.workdir,
        "Labels": c.labels,
        "StopSignal": c.stop_signal,
        "StopTimeout": c.stop_timeout,
        "Tty": c.tty,
        "OpenStdin": c.interactive,
    })
}

/// docker's `HostConfig` of a container (what it has of it).
fn host_config(c: &Config) -> Value {
    let ulimits: Vec<Value> = c
        .rlimits
        .iter()
        .map(|r| {
            let n = chainload::rlimit::resource_name(r.resource);
            let v = |x: u64| if x == u64::MAX { -1 } else { x as i64 };
            json!({"Name": n, "Soft": v(r.soft), "Hard": v(r.hard)})
        })
        .collect();
    json!({
        "CgroupParent": c.cgroup,
        "Privileged": c.privileged,
        "CapAdd": c.cap_add,
        "CapDrop": c.cap_drop,
        "OomScoreAdj": c.oom_score_adj.unwrap_or(0),
        "Ulimits": ulimits,
        "AutoRemove": c.remove,
        "RestartPolicy": match c.restart {
            crate::config::Restart::OnFailure(n) => json!({"Name": "on-failure", "MaximumRetryCount": n.unwrap_or(0)}),
            other => json!({"Name": other.to_string(), "MaximumRetryCount": 0}),
        },
    })
}

/// The mounts of process `pid`'s mount namespace, as it sees them.
fn mounts_of(pid: i32) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    mountinfo::parse(&text)
        .iter()
        .map(|m| json!({ "Destination": m.mount_point, "Type": m.fstype, "Source": m.source, "Options": m.options }))
        .collect()
}

/// One container's usage, sampled twice `interval` apart for the CPU share.
#[derive(Debug, Clone)]
pub struct Usage {
    /// The container's name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// CPU time over the interval, as a percentage of one CPU.
    pub cpu_percent: f64,
    /// cgctl's figures at the second sample.
    pub stats: cgctl::stats::Stats,
}

/// `stats`: the running containers of `keys` (every running one when empty).
pub fn usage(root: &Root, keys: &[String], interval: Duration) -> Result<Vec<Usage>, Error> {
    let states: Vec<State> = if keys.is_empty() {
        store::list(root).into_iter().filter(|s| s.status == Status::Running).collect()
    } else {
        keys.iter().map(|k| store::find(root, k)).collect::<Result<_, _>>()?
    };
    let cg = cgctl::setup::Cgroups::detect()?;
    let mut groups = Vec::new();
    for st in &states {
        if st.status != Status::Running {
            return Err(Error::WrongState(format!("container {} is not running", st.name)));
        }
        let Some(cgroup) = &st.config.cgroup else {
            return Err(Error::WrongState(format!(
                "container {} has no cgroup to read figures from (a rootless container without a delegated cgroup)",
                st.name
            )));
        };
        let g = cgctl::group::Group::new(&cg, cgctl::name::GroupName::parse(cgroup)?);
        g.require()?;
        groups.push(g);
    }
    let first: Vec<Option<u64>> = groups.iter().map(|g| cgctl::stats::read(g).cpu.usage_usec).collect();
    let t0 = Instant::now();
    std::thread::sleep(interval);
    let elapsed = t0.elapsed().as_micros().max(1) as f64;
    let mut out = Vec::new();
    for ((st, g), before) in states.iter().zip(&groups).zip(first) {
        let stats = cgctl::stats::read(g);
        let used = match (before, stats.cpu.usage_usec) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64,
            _ => 0.0,
        };
        out.push(Usage { name: st.name.clone(), id: st.id.clone(), cpu_percent: used * 100.0 / elapsed, stats });
    }
    Ok(out)
}

/// `top KEY [PS_OPTIONS]`: `ps`'s table of the container's processes: those of its
/// cgroup in its PID namespace (not the chain's unshare-rs, which waits for PID 1 from
/// outside it, in the same cgroup), as docker lists them.
pub fn top(root: &Root, key: &str, options: &[String]) -> Result<Vec<String>, Error> {
    let st = store::find(root, key)?;
    let init = st.pid.filter(|p| st.status == Status::Running && p.alive());
    let Some(init) = init else {
        return Err(Error::WrongState(format!("container {} is not running", st.name)));
    };
    let pids = match &st.config.cgroup {
        Some(cgroup) => {
            let cg = cgctl::setup::Cgroups::detect()?;
            cgctl::group::Group::new(&cg, cgctl::name::GroupName::parse(cgroup)?).pids()
        }
        // (No cgroup of its own: its PID namespace alone says which processes are its.)
        None => all_pids(),
    };
    let pid_ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let own = pid_ns(init.pid);
    let pids: Vec<i32> = pids.into_iter().filter(|p| own.is_some() && pid_ns(*p) == own).collect();
    chainload::ps::table(&pids, options).map_err(Error::Usage)
}

/// Every process this one can see in /proc.
fn all_pids() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}
