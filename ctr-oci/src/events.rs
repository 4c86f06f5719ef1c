//! `events [--stats] [--interval D] ID`: a container's resource usage, from its cgroup
//! (cgctl's stats), as runc prints it: `{"type":"stats","id":ID,"data":{...}}` with
//! runc's field names and units (CPU in nanoseconds, memory in bytes, block I/O per
//! device and operation). With `--stats`, one object; otherwise one every interval, and
//! an `{"type":"oom","id":ID}` object whenever the OOM killer has killed in the group
//! since the last one, until the container stops.

use std::io::Write;
use std::time::Duration;

use chainload::error::FromIo;
use serde_json::{json, Map, Value};

use crate::state::{Root, Status};
use crate::Error;

/// What `events` was asked for.
#[derive(Debug, Clone)]
pub struct EventOptions {
    /// `--stats`: one stats object, then return.
    pub stats: bool,
    /// `--interval`: between two stats objects.
    pub interval: Duration,
}

/// Insert `v` under `key` where it is known.
fn put(m: &mut Map<String, Value>, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        m.insert(key.into(), v.into());
    }
}

/// cgctl's stats in runc's `types.Stats` shape.
pub fn runc_stats(s: &cgctl::stats::Stats) -> Value {
    let ns = |usec: Option<u64>| usec.map(|u| u.saturating_mul(1000));
    let mut usage = Map::new();
    put(&mut usage, "total", ns(s.cpu.usage_usec));
    usage.insert("kernel".into(), ns(s.cpu.system_usec).unwrap_or(0).into());
    usage.insert("user".into(), ns(s.cpu.user_usec).unwrap_or(0).into());
    let mut throttling = Map::new();
    put(&mut throttling, "periods", s.cpu.nr_periods);
    put(&mut throttling, "throttledPeriods", s.cpu.nr_throttled);
    put(&mut throttling, "throttledTime", ns(s.cpu.throttled_usec));
    let mut mem = Map::new();
    // (No limit: runc reports the largest number, as cgroup v2's "max".)
    mem.insert("limit".into(), s.memory.limit.unwrap_or(u64::MAX).into());
    put(&mut mem, "usage", s.memory.current);
    put(&mut mem, "max", s.memory.peak);
    mem.insert("failcnt".into(), 0.into());
    let mut pids = Map::new();
    put(&mut pids, "current", s.pids.current);
    put(&mut pids, "limit", s.pids.limit);
    let entries = |value: fn(&cgctl::stats::IoDevice) -> (u64, u64)| -> Vec<Value> {
        let mut out = Vec::new();
        for d in &s.io {
            let (read, write) = value(d);
            for (op, v) in [("Read", read), ("Write", write), ("Total", read + write)] {
                out.push(json!({"major": d.major, "minor": d.minor, "op": op, "value": v}));
            }
        }
        out
    };
    json!({
        "cpu": {"usage": usage, "throttling": throttling},
        "memory": {"usage": mem, "raw": {"oom_kill": s.memory.oom_kills.unwrap_or(0)}},
        "pids": pids,
        "blkio": {
            "ioServiceBytesRecursive": entries(|d| (d.read_bytes, d.write_bytes)),
            "ioServicedRecursive": entries(|d| (d.read_ios, d.write_ios)),
        },
        "hugetlb": {},
    })
}

/// The stats of container `id` now (an error once it has stopped: its cgroup is no
/// longer its own).
fn read(root: &Root, id: &str) -> Result<cgctl::stats::Stats, Error> {
    let st = root.find(id)?;
    if st.status(root) == Status::Stopped {
        return Err(Error::NotRunning);
    }
    let (cg, name) = crate::ops::group(&st.cgroup)?;
    let g = cgctl::group::Group::new(&cg, name);
    g.require()?;
    Ok(cgctl::stats::read(&g))
}

/// `events`: print to stdout as described above.
pub fn events(root: &Root, id: &str, o: &EventOptions) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    let mut print = |v: Value| -> Result<(), Error> {
        writeln!(out, "{v}").and_then(|()| out.flush()).map_err(|e| Error::io("cannot write", "stdout".as_ref(), e))
    };
    let first = read(root, id)?;
    if o.stats {
        return print(json!({"type": "stats", "id": id, "data": runc_stats(&first)}));
    }
    let mut ooms = first.memory.oom_kills.unwrap_or(0);
    let mut s = first;
    loop {
        let now = s.memory.oom_kills.unwrap_or(0);
        if now > ooms {
            print(json!({"type": "oom", "id": id}))?;
        }
        ooms = now;
        print(json!({"type": "stats", "id": id, "data": runc_stats(&s)}))?;
        std::thread::sleep(o.interval);
        s = match read(root, id) {
            Ok(s) => s,
            // (The container has ended: so have its events.)
            Err(Error::NotRunning) => return Ok(()),
            Err(e) => return Err(e),
        };
    }
}
