//! `cpu` and `cpuset`: `--cpus` (or `--cpu-quota`/`--cpu-period`), `--cpu-shares` (or
//! `--cpu-weight`), `--cpuset-cpus`, `--cpuset-mems`.

use super::Planner;
use crate::limits::{shares_to_weight, weight_to_shares, Limits};
use crate::setup::Version;
use crate::Error;

/// The CFS period `--cpus` uses, as docker's.
const PERIOD_US: u64 = 100_000;

pub(super) fn plan(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    bandwidth(p, l)?;
    weight(p, l)?;
    for (list, file, flag) in
        [(&l.cpuset_cpus, "cpuset.cpus", "--cpuset-cpus"), (&l.cpuset_mems, "cpuset.mems", "--cpuset-mems")]
    {
        if let Some(list) = list {
            let v = p.home("cpuset", "cpuset", flag)?;
            p.push("cpuset", v, &[(file, list.to_string())], format!("{flag} {list}"));
        }
    }
    Ok(())
}

/// The quota per period.
fn bandwidth(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    let (quota, period, flag) = match (l.cpus_micro, l.cpu_quota, l.cpu_period) {
        (Some(micro), _, _) => {
            (Some(micro * PERIOD_US / 1_000_000), PERIOD_US, format!("--cpus {}", micro as f64 / 1e6))
        }
        (None, None, None) => return Ok(()),
        (None, q, per) => {
            let quota = q.filter(|q| *q >= 0).map(|q| q as u64);
            let flag = [q.map(|q| format!("--cpu-quota {q}")), per.map(|per| format!("--cpu-period {per}"))]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (quota, per.unwrap_or(PERIOD_US), flag)
        }
    };
    match p.home("cpu", "cpu", &flag)? {
        Version::V1 => {
            p.push("cpu", Version::V1, &[("cpu.cfs_period_us", period.to_string())], flag.clone());
            let q = quota.map(|q| q.to_string()).unwrap_or_else(|| "-1".into());
            p.push("cpu", Version::V1, &[("cpu.cfs_quota_us", q)], flag);
        }
        Version::V2 => {
            let q = quota.map(|q| q.to_string()).unwrap_or_else(|| "max".into());
            p.push("cpu", Version::V2, &[("cpu.max", format!("{q} {period}"))], flag);
        }
    }
    Ok(())
}

/// The relative weight (v1 shares and v2 weight converted as runc does).
fn weight(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    let (shares, w, flag) = match (l.cpu_shares, l.cpu_weight) {
        (Some(s), _) => (s, shares_to_weight(s), format!("--cpu-shares {s}")),
        (None, Some(w)) => (weight_to_shares(w), w, format!("--cpu-weight {w}")),
        _ => return Ok(()),
    };
    match p.home("cpu", "cpu", &flag)? {
        Version::V1 => p.push("cpu", Version::V1, &[("cpu.shares", shares.to_string())], flag),
        Version::V2 => p.push("cpu", Version::V2, &[("cpu.weight", w.to_string())], flag),
    }
    Ok(())
}
