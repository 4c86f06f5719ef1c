//! Reading a group's usage and limits from the files of whichever hierarchy holds each
//! controller, as one JSON object or as Prometheus text exposition.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::files::read_file;
use crate::group::Group;
use crate::setup::{Setup, Version};

/// Memory figures in bytes.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Memory {
    /// Usage now.
    pub current: Option<u64>,
    /// Highest usage seen.
    pub peak: Option<u64>,
    /// The limit (`null`: none).
    pub limit: Option<u64>,
    /// Processes the OOM killer killed in the group.
    pub oom_kills: Option<u64>,
}

/// CPU figures in microseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Cpu {
    /// CPU time used.
    pub usage_usec: Option<u64>,
    /// Enforcement periods elapsed.
    pub nr_periods: Option<u64>,
    /// Periods in which the group was throttled.
    pub nr_throttled: Option<u64>,
    /// Time spent throttled.
    pub throttled_usec: Option<u64>,
    /// Quota per period (`null`: none).
    pub quota_usec: Option<u64>,
    /// The period.
    pub period_usec: Option<u64>,
}

/// Task counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Pids {
    /// Tasks now.
    pub current: Option<u64>,
    /// The limit (`null`: none).
    pub limit: Option<u64>,
}

/// `cgctl stats --json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    /// The group's name as given.
    pub name: String,
    /// v1, hybrid or v2.
    pub setup: Setup,
    /// Memory.
    pub memory: Memory,
    /// CPU.
    pub cpu: Cpu,
    /// Tasks.
    pub pids: Pids,
}

fn num(path: &Path) -> Option<u64> {
    read_file(path)?.parse().ok()
}

/// A v1 limit: the kernel reports "unlimited" as a huge page-aligned number.
fn v1_limit(path: &Path) -> Option<u64> {
    num(path).filter(|v| *v < (1u64 << 62))
}

/// `max` or a number.
fn max_or_num(path: &Path) -> Option<u64> {
    let v = read_file(path)?;
    if v == "max" {
        None
    } else {
        v.parse().ok()
    }
}

/// A flat keyed file (`cpu.stat`, `memory.events`), read once (reading `cpu.stat` makes
/// the kernel flush the group's statistics).
struct Keyed(Option<String>);

impl Keyed {
    fn read(path: &Path) -> Keyed {
        Keyed(read_file(path))
    }

    /// The value of `key`.
    fn get(&self, key: &str) -> Option<u64> {
        self.0.as_deref()?.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
    }
}

fn dir(g: &Group<'_>, controller: &str) -> Option<(Version, PathBuf)> {
    let h = g.cg.home_of(controller)?;
    let d = g.name.dir(h);
    d.is_dir().then_some((h.version, d))
}

/// Read the stats of a group (which must exist).
pub fn read(g: &Group<'_>) -> Stats {
    let mut s = Stats {
        name: g.name.to_string(),
        setup: g.cg.setup,
        memory: Memory::default(),
        cpu: Cpu::default(),
        pids: Pids::default(),
    };
    match dir(g, "memory") {
        Some((Version::V2, d)) => {
            s.memory.current = num(&d.join("memory.current"));
            s.memory.peak = num(&d.join("memory.peak"));
            s.memory.limit = max_or_num(&d.join("memory.max"));
            s.memory.oom_kills = Keyed::read(&d.join("memory.events")).get("oom_kill");
        }
        Some((Version::V1, d)) => {
            s.memory.current = num(&d.join("memory.usage_in_bytes"));
            s.memory.peak = num(&d.join("memory.max_usage_in_bytes"));
            s.memory.limit = v1_limit(&d.join("memory.limit_in_bytes"));
            s.memory.oom_kills = Keyed::read(&d.join("memory.oom_control")).get("oom_kill");
        }
        None => {}
    }
    // CPU usage: v2 cpu.stat is a core file (no controller needed); v1 has cpuacct.
    let cpu = dir(g, "cpu");
    if let Some(v2) = g.cg.v2().map(|h| g.name.dir(h)) {
        let stat = Keyed::read(&v2.join("cpu.stat"));
        s.cpu.usage_usec = stat.get("usage_usec");
        if let Some((Version::V2, _)) = &cpu {
            s.cpu.nr_periods = stat.get("nr_periods");
            s.cpu.nr_throttled = stat.get("nr_throttled");
            s.cpu.throttled_usec = stat.get("throttled_usec");
        }
    }
    match cpu {
        Some((Version::V2, d)) => {
            if let Some(max) = read_file(&d.join("cpu.max")) {
                let mut it = max.split_whitespace();
                s.cpu.quota_usec = it.next().and_then(|q| q.parse().ok());
                s.cpu.period_usec = it.next().and_then(|p| p.parse().ok());
            }
        }
        Some((Version::V1, d)) => {
            let stat = Keyed::read(&d.join("cpu.stat"));
            s.cpu.nr_periods = stat.get("nr_periods");
            s.cpu.nr_throttled = stat.get("nr_throttled");
            s.cpu.throttled_usec = stat.get("throttled_time").map(|ns| ns / 1000);
            s.cpu.quota_usec = read_file(&d.join("cpu.cfs_quota_us"))
                .and_then(|q| q.parse::<i64>().ok())
                .filter(|q| *q >= 0)
                .map(|q| q as u64);
            s.cpu.period_usec = num(&d.join("cpu.cfs_period_us"));
        }
        None => {}
    }
    if let Some((Version::V1, d)) = dir(g, "cpuacct") {
        s.cpu.usage_usec = num(&d.join("cpuacct.usage")).map(|ns| ns / 1000);
    }
    if let Some((_, d)) = dir(g, "pids") {
        s.pids.current = num(&d.join("pids.current"));
        s.pids.limit = max_or_num(&d.join("pids.max"));
    }
    s
}

/// The stats as Prometheus text exposition, one gauge or counter per figure that is known.
pub fn prometheus(s: &Stats) -> String {
    let label = s.name.replace('\\', "\\\\").replace('"', "\\\"");
    let metrics: [(&str, &str, &str, Option<u64>); 13] = [
        ("cgctl_memory_current_bytes", "gauge", "Memory in use.", s.memory.current),
        ("cgctl_memory_peak_bytes", "gauge", "Highest memory use seen.", s.memory.peak),
        ("cgctl_memory_limit_bytes", "gauge", "Memory limit.", s.memory.limit),
        ("cgctl_memory_oom_kills_total", "counter", "Processes killed by the OOM killer.", s.memory.oom_kills),
        ("cgctl_cpu_usage_microseconds_total", "counter", "CPU time used.", s.cpu.usage_usec),
        ("cgctl_cpu_periods_total", "counter", "CPU bandwidth periods elapsed.", s.cpu.nr_periods),
        (
            "cgctl_cpu_throttled_periods_total",
            "counter",
            "Periods in which the group was throttled.",
            s.cpu.nr_throttled,
        ),
        ("cgctl_cpu_throttled_microseconds_total", "counter", "Time spent throttled.", s.cpu.throttled_usec),
        ("cgctl_cpu_quota_microseconds", "gauge", "CPU quota per period.", s.cpu.quota_usec),
        ("cgctl_cpu_period_microseconds", "gauge", "CPU bandwidth period.", s.cpu.period_usec),
        ("cgctl_pids_current", "gauge", "Tasks in the group.", s.pids.current),
        ("cgctl_pids_limit", "gauge", "Task limit.", s.pids.limit),
        ("cgctl_info", "gauge", "Always 1; the setup is a label.", Some(1)),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in metrics {
        let Some(v) = value else { continue };
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        if name == "cgctl_info" {
            out.push_str(&format!("{name}{{cgroup=\"{label}\",setup=\"{}\"}} {v}\n", s.setup));
        } else {
            out.push_str(&format!("{name}{{cgroup=\"{label}\"}} {v}\n"));
        }
    }
    out
}
