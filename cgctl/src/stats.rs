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
    /// CPU time used in user mode.
    pub user_usec: Option<u64>,
    /// CPU time used in the kernel.
    pub system_usec: Option<u64>,
}

/// Block I/O done on one device (counted where the kernel's I/O controller sees it:
/// v2 `io.stat`, v1 `blkio.throttle.io_service*_recursive`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IoDevice {
    /// The device's major number.
    pub major: u64,
    /// Its minor number.
    pub minor: u64,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub read_ios: u64,
    /// Write operations.
    pub write_ios: u64,
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
    /// Block I/O, per device (empty where the group has no I/O controller).
    pub io: Vec<IoDevice>,
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
        io: Vec::new(),
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
        s.cpu.user_usec = stat.get("user_usec");
        s.cpu.system_usec = stat.get("system_usec");
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
        // (In USER_HZ ticks, which is 100 on every architecture's ABI.)
        let ticks = Keyed::read(&d.join("cpuacct.stat"));
        s.cpu.user_usec = ticks.get("user").map(|t| t * 10_000);
        s.cpu.system_usec = ticks.get("system").map(|t| t * 10_000);
    }
    s.io = match dir(g, "io").or_else(|| dir(g, "blkio")) {
        Some((Version::V2, d)) => read_file(&d.join("io.stat")).map(|t| io_v2(&t)).unwrap_or_default(),
        Some((Version::V1, d)) => io_v1(
            &read_file(&d.join("blkio.throttle.io_service_bytes_recursive")).unwrap_or_default(),
            &read_file(&d.join("blkio.throttle.io_serviced_recursive")).unwrap_or_default(),
        ),
        None => Vec::new(),
    };
    if let Some((_, d)) = dir(g, "pids") {
        s.pids.current = num(&d.join("pids.current"));
        s.pids.limit = max_or_num(&d.join("pids.max"));
    }
    s
}

/// `MAJ:MIN` as numbers.
fn device(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N` per line.
fn io_v2(text: &str) -> Vec<IoDevice> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(device) else { continue };
        let mut d = IoDevice { major, minor, ..IoDevice::default() };
        for w in words {
            let Some((k, v)) = w.split_once('=') else { continue };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => d.read_bytes = v,
                "wbytes" => d.write_bytes = v,
                "rios" => d.read_ios = v,
                "wios" => d.write_ios = v,
                _ => {}
            }
        }
        out.push(d);
    }
    out
}

/// v1 `blkio.throttle.io_service_bytes_recursive` and `..._io_serviced_recursive`:
/// `MAJ:MIN Read|Write|Sync|Async|Discard|Total N` per line, and a last `Total N`.
fn io_v1(bytes: &str, ios: &str) -> Vec<IoDevice> {
    let mut out: Vec<IoDevice> = Vec::new();
    for (text, is_bytes) in [(bytes, true), (ios, false)] {
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let [dev, op, value] = w[..] else { continue };
            let (Some((major, minor)), Ok(value)) = (device(dev), value.parse::<u64>()) else { continue };
            let i = match out.iter().position(|d| d.major == major && d.minor == minor) {
                Some(i) => i,
                None => {
                    out.push(IoDevice { major, minor, ..IoDevice::default() });
                    out.len() - 1
                }
            };
            let d = &mut out[i];
            match (op, is_bytes) {
                ("Read", true) => d.read_bytes = value,
                ("Write", true) => d.write_bytes = value,
                ("Read", false) => d.read_ios = value,
                ("Write", false) => d.write_ios = value,
                _ => {}
            }
        }
    }
    out
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
    type Figure = fn(&IoDevice) -> u64;
    let io: [(&str, &str, Figure); 4] = [
        ("cgctl_io_read_bytes_total", "Bytes read from the device.", |d| d.read_bytes),
        ("cgctl_io_write_bytes_total", "Bytes written to the device.", |d| d.write_bytes),
        ("cgctl_io_reads_total", "Read operations on the device.", |d| d.read_ios),
        ("cgctl_io_writes_total", "Write operations on the device.", |d| d.write_ios),
    ];
    for (name, help, value) in io.iter().filter(|_| !s.io.is_empty()) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for d in &s.io {
            out.push_str(&format!("{name}{{cgroup=\"{label}\",device=\"{}:{}\"}} {}\n", d.major, d.minor, value(d)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_v2() {
        let t = "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0\n";
        assert_eq!(
            io_v2(t),
            [
                IoDevice { major: 8, minor: 0, read_bytes: 4096, write_bytes: 8192, read_ios: 1, write_ios: 2 },
                IoDevice { major: 253, minor: 1, read_bytes: 1, write_bytes: 0, read_ios: 1, write_ios: 0 },
            ]
        );
    }

    #[test]
    fn io_stat_v1() {
        let bytes =
            "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Async 4608\n8:0 Discard 0\n8:0 Total 4608\nTotal 4608\n";
        let ios = "8:0 Read 3\n8:0 Write 1\n8:0 Total 4\nTotal 4\n";
        assert_eq!(
            io_v1(bytes, ios),
            [IoDevice { major: 8, minor: 0, read_bytes: 4096, write_bytes: 512, read_ios: 3, write_ios: 1 }]
        );
        assert_eq!(io_v1("Total 0\n", "Total 0\n"), []);
    }
}
