//! Resource limits with docker's names and units, checked, then planned as writes to
//! the interface files of the detected setup (v1 file names on v1 hierarchies, v2 file
//! names on the unified tree).
//!
//! Conversions:
//! - `--cpus N` = a quota of N × 100000 µs per 100000 µs period (`cpu.max` on v2,
//!   `cpu.cfs_quota_us`/`cpu.cfs_period_us` on v1).
//! - `--memory-swap` is docker's memory *plus* swap: `memory.memsw.limit_in_bytes` on
//!   v1; on v2 `memory.swap.max` = swap total − memory. `-1` is unlimited swap.
//! - `--cpu-shares` (v1, 2..262144) and `--cpu-weight` (v2, 1..10000) convert with
//!   runc's current formula (opencontainers/runc#4785): with l = log2(shares),
//!   weight = ⌈10^((l² + 125·l)/612 − 7/34)⌉, so 2 → 1, 1024 → 100, 262144 → 10000;
//!   weight → shares is its inverse, rounded.
//! - `--io-weight` (docker's 10..1000) is `blkio.weight` (or `blkio.bfq.weight`) on v1
//!   and `io.weight` = 1 + (w − 10) × 9999 / 990 (or `io.bfq.weight` = w) on v2;
//!   `--io-weight-device DEV:W` the same for one device (`blkio.weight_device` or
//!   `blkio.bfq.weight_device` on v1, `MAJ:MIN W` lines of the same files on v2).

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use chainload::units;

use crate::cpulist::CpuList;
use crate::name::GroupName;
use crate::setup::{Cgroups, Version};
use crate::Error;

/// `--memory-swap`: a total, or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    /// Memory plus swap, in bytes.
    Total(u64),
    /// `-1`: no swap limit.
    Unlimited,
}

/// `--pids-limit`: a number or unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidsLimit {
    /// At most this many tasks.
    Max(u64),
    /// `-1` or `max`.
    Unlimited,
}

/// `--device-*-bps` / `--device-*-iops`: a block device and a rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRate {
    /// The device path as given.
    pub path: PathBuf,
    /// The rate (bytes or operations per second).
    pub rate: u64,
    /// The flag text, for messages.
    pub given: String,
}

/// Every limit cgctl can set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// `--memory`.
    pub memory: Option<u64>,
    /// `--memory-swap`.
    pub memory_swap: Option<Swap>,
    /// `--memory-reservation`.
    pub memory_reservation: Option<u64>,
    /// `--cpus`, in millionths of a CPU (exact decimal).
    pub cpus_micro: Option<u64>,
    /// `--cpu-quota` in µs (`-1`: none).
    pub cpu_quota: Option<i64>,
    /// `--cpu-period` in µs.
    pub cpu_period: Option<u64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpu-weight`.
    pub cpu_weight: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<CpuList>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<CpuList>,
    /// `--pids-limit`.
    pub pids_limit: Option<PidsLimit>,
    /// `--io-weight`.
    pub io_weight: Option<u64>,
    /// `--io-weight-device`: a weight (10..1000) for one device, as the rate.
    pub io_weight_device: Vec<DeviceRate>,
    /// `--device-read-bps`.
    pub device_read_bps: Vec<DeviceRate>,
    /// `--device-write-bps`.
    pub device_write_bps: Vec<DeviceRate>,
    /// `--device-read-iops`.
    pub device_read_iops: Vec<DeviceRate>,
    /// `--device-write-iops`.
    pub device_write_iops: Vec<DeviceRate>,
    /// `--set FILE=VALUE`, in order.
    pub set: Vec<(String, String)>,
    /// `--devices`, `--device-allow`, `--device-deny`: the device allow-list.
    pub devices: Option<crate::devices::Policy>,
    /// `--controllers`: v1 controllers whose hierarchies the group is created in (and
    /// joined) though no limit writes there (`all`: every one, as runc does).
    pub controllers: Vec<String>,
}

/// One planned write to an interface file of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The hierarchy: the v2 tree, or the v1 hierarchy of this controller.
    pub version: Version,
    /// The controller the file belongs to (`memory`, `cpu`, `io`...; `cgroup` for core files).
    pub controller: String,
    /// Candidate files and the text each takes; the first file that exists is written
    /// (`io.weight` takes `default 100`, else `io.bfq.weight` takes `100`).
    pub candidates: Vec<(String, String)>,
    /// The flag it came from (`--memory 64M`), for messages.
    pub flag: String,
    /// On the v2 tree, not a file: the device allow-list, as an eBPF program attached
    /// to the group (no candidates then).
    pub device_program: Option<crate::devices::Policy>,
}

// --- parsing (used by the command line) -----------------------------------------

/// Parse a size (`64M`, `1.5G`, `512k`, bytes).
pub fn parse_size(s: &str) -> Result<u64, String> {
    units::parse_size(s).map_err(|e| e.reason().to_string())
}

/// Parse `--memory-swap`: a size or `-1`.
pub fn parse_swap(s: &str) -> Result<Swap, String> {
    if s == "-1" {
        return Ok(Swap::Unlimited);
    }
    parse_size(s).map(Swap::Total)
}

/// Parse `--cpus`: a positive decimal with at most 6 places, kept exact.
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    let bad = || "expected a positive number of CPUs like 0.5 or 2".to_string();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > 6 {
        return Err("at most 6 decimal places".into());
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
    let frac_v: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
    let micro = whole.checked_mul(1_000_000).and_then(|w| w.checked_add(frac_v)).ok_or_else(bad)?;
    if micro == 0 {
        return Err("must be greater than 0".into());
    }
    if micro < 10_000 {
        return Err("the smallest is 0.01".into());
    }
    Ok(micro)
}

/// Parse `--cpu-quota`: µs ≥ 1000, or -1.
pub fn parse_cpu_quota(s: &str) -> Result<i64, String> {
    let v: i64 = s.parse().map_err(|_| "expected microseconds".to_string())?;
    if v == -1 || v >= 1000 {
        Ok(v)
    } else {
        Err("the kernel's minimum is 1000 µs (or -1 for none)".into())
    }
}

/// Parse `--cpu-period`: 1000..=1000000 µs.
pub fn parse_cpu_period(s: &str) -> Result<u64, String> {
    let v: u64 = s.parse().map_err(|_| "expected microseconds".to_string())?;
    if (1000..=1_000_000).contains(&v) {
        Ok(v)
    } else {
        Err("must be between 1000 µs (the kernel's minimum) and 1000000 µs".into())
    }
}

fn parse_range(s: &str, lo: u64, hi: u64) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("expected a whole number from {lo} to {hi}")),
    }
}

/// Parse `--cpu-shares` (2..262144).
pub fn parse_cpu_shares(s: &str) -> Result<u64, String> {
    parse_range(s, 2, 262_144)
}

/// Parse `--cpu-weight` (1..10000).
pub fn parse_cpu_weight(s: &str) -> Result<u64, String> {
    parse_range(s, 1, 10_000)
}

/// Parse `--io-weight` (docker's 10..1000).
pub fn parse_io_weight(s: &str) -> Result<u64, String> {
    parse_range(s, 10, 1000)
}

/// Parse a CPU or node list (`0-3,5`).
pub fn parse_cpulist(s: &str) -> Result<CpuList, String> {
    match CpuList::parse(s) {
        Some(l) if !l.is_empty() => Ok(l),
        _ => Err("expected numbers and ranges like 0-3,5".into()),
    }
}

/// Parse `--pids-limit`: a positive number, `-1`/`max`/`0` for unlimited (docker treats
/// 0 and -1 as unlimited).
pub fn parse_pids(s: &str) -> Result<PidsLimit, String> {
    match s {
        "-1" | "max" | "0" => Ok(PidsLimit::Unlimited),
        _ => match s.parse::<u64>() {
            Ok(n) => Ok(PidsLimit::Max(n)),
            Err(_) => Err("expected a positive number, or -1 or max for unlimited".into()),
        },
    }
}

fn parse_device(s: &str, bytes: bool) -> Result<DeviceRate, String> {
    let (dev, rate) = s.rsplit_once(':').ok_or_else(|| "expected DEVICE:RATE, e.g. /dev/sda:10M".to_string())?;
    let rate = if bytes {
        parse_size(rate)?
    } else {
        rate.parse::<u64>().map_err(|_| "the rate must be a whole number of operations".to_string())?
    };
    Ok(DeviceRate { path: PathBuf::from(dev), rate, given: s.to_string() })
}

/// Parse `--device-read-bps` / `--device-write-bps` (`/dev/sda:10M`).
pub fn parse_device_bps(s: &str) -> Result<DeviceRate, String> {
    parse_device(s, true)
}

/// Parse `--device-read-iops` / `--device-write-iops` (`/dev/sda:1000`).
pub fn parse_device_iops(s: &str) -> Result<DeviceRate, String> {
    parse_device(s, false)
}

/// Parse `--io-weight-device` (`/dev/sda:300`, or `8:0:300`; the weight 10..1000).
pub fn parse_io_weight_device(s: &str) -> Result<DeviceRate, String> {
    let (dev, weight) = s.rsplit_once(':').ok_or_else(|| "expected DEVICE:WEIGHT, e.g. /dev/sda:300".to_string())?;
    Ok(DeviceRate { path: PathBuf::from(dev), rate: parse_io_weight(weight)?, given: s.to_string() })
}

/// Parse `--set FILE=VALUE`.
pub fn parse_set(s: &str) -> Result<(String, String), String> {
    let (file, value) = s.split_once('=').ok_or_else(|| "expected FILE=VALUE".to_string())?;
    let valid = !file.is_empty()
        && file.contains('.')
        && !file.starts_with('.')
        && file.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
    if !valid {
        return Err(format!("'{file}' is not an interface file name (like memory.high)"));
    }
    Ok((file.to_string(), value.to_string()))
}

// --- conversions ------------------------------------------------------------------

/// v1 `cpu.shares` to v2 `cpu.weight` (runc's current formula; see the module docs).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// v2 `cpu.weight` to v1 `cpu.shares` (the inverse of [`shares_to_weight`], rounded).
pub fn weight_to_shares(weight: u64) -> u64 {
    if weight <= 1 {
        return 2;
    }
    if weight >= 10_000 {
        return 262_144;
    }
    let c = 612.0 * ((weight as f64).log10() + 7.0 / 34.0);
    let l = (-125.0 + (125.0f64 * 125.0 + 4.0 * c).sqrt()) / 2.0;
    (2f64.powf(l).round() as u64).clamp(2, 262_144)
}

/// docker's blkio weight (10..1000) to v2 `io.weight` (1..10000), as runc converts it.
pub fn blkio_weight_to_io_weight(w: u64) -> u64 {
    1 + (w.saturating_sub(10)) * 9999 / 990
}

// --- checking and planning --------------------------------------------------------

pub(crate) fn size_text(bytes: u64) -> String {
    units::format_size(bytes)
}

impl Limits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// The cgctl flags that set these limits (`--memory 67108864 --cpus 0.5 ...`), as
    /// `create`, `set`, `exec` and `run` parse them: how a tool that builds a chain
    /// passes limits it parsed and checked with this module on to cgctl. The device
    /// list is left out (its rules are the caller's to pass).
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut add = |flag: &str, v: String| a.extend([flag.to_string(), v]);
        let scalars = [
            ("--memory", self.memory.as_ref().map(ToString::to_string)),
            (
                "--memory-swap",
                self.memory_swap.map(|s| match s {
                    Swap::Total(n) => n.to_string(),
                    Swap::Unlimited => "-1".into(),
                }),
            ),
            ("--memory-reservation", self.memory_reservation.as_ref().map(ToString::to_string)),
            ("--cpus", self.cpus_micro.map(|c| format!("{}.{:06}", c / 1_000_000, c % 1_000_000))),
            ("--cpu-quota", self.cpu_quota.as_ref().map(ToString::to_string)),
            ("--cpu-period", self.cpu_period.as_ref().map(ToString::to_string)),
            ("--cpu-shares", self.cpu_shares.as_ref().map(ToString::to_string)),
            ("--cpu-weight", self.cpu_weight.as_ref().map(ToString::to_string)),
            ("--cpuset-cpus", self.cpuset_cpus.as_ref().map(ToString::to_string)),
            ("--cpuset-mems", self.cpuset_mems.as_ref().map(ToString::to_string)),
            (
                "--pids-limit",
                self.pids_limit.map(|p| match p {
                    PidsLimit::Max(n) => n.to_string(),
                    PidsLimit::Unlimited => "max".into(),
                }),
            ),
            ("--io-weight", self.io_weight.as_ref().map(ToString::to_string)),
        ];
        for (flag, value) in scalars {
            if let Some(v) = value {
                add(flag, v);
            }
        }
        let rates = [
            ("--io-weight-device", &self.io_weight_device),
            ("--device-read-bps", &self.device_read_bps),
            ("--device-write-bps", &self.device_write_bps),
            ("--device-read-iops", &self.device_read_iops),
            ("--device-write-iops", &self.device_write_iops),
        ];
        for (flag, list) in rates {
            for d in list {
                add(flag, d.given.clone());
            }
        }
        for (file, value) in &self.set {
            add("--set", format!("{file}={value}"));
        }
        if !self.controllers.is_empty() {
            add("--controllers", self.controllers.join(","));
        }
        a
    }

    /// The v1 controllers (or v2 ones) these limits write to, for deciding which
    /// hierarchies the group must exist in.
    pub fn controllers(&self, cg: &Cgroups) -> Vec<String> {
        let mut out: Vec<String> =
            self.plan(cg).map(|w| w.into_iter().map(|w| w.controller).collect()).unwrap_or_default();
        out.extend(self.also_in(cg));
        out
    }

    /// `--controllers` on this machine: the controllers named; `all`: one of each v1
    /// hierarchy's, and every controller of the v2 tree (enabled where it can be: see
    /// [`Limits::controllers_all`]).
    pub fn also_in(&self, cg: &Cgroups) -> Vec<String> {
        if self.controllers_all() {
            let v1 = cg.v1_controller_hierarchies().filter_map(|h| h.controllers.first().cloned());
            return v1.chain(cg.v2().into_iter().flat_map(|h| h.controllers.iter().cloned())).collect();
        }
        self.controllers.clone()
    }

    /// [`Limits::also_in`] with how to enable them, for [`crate::group::Group::create_and_apply`].
    pub fn also(&self, cg: &Cgroups) -> crate::group::Also {
        crate::group::Also { controllers: self.also_in(cg), best_effort: self.controllers_all() }
    }

    /// `--controllers all`: the v2 controllers are enabled where the kernel lets them
    /// be, as runc does (a named one must be).
    pub fn controllers_all(&self) -> bool {
        self.controllers.iter().any(|c| c == "all")
    }

    /// Check the limits against each other and this machine, before anything is created.
    pub fn check(&self, cg: &Cgroups, name: &GroupName) -> Result<(), Error> {
        let usage = |m: String| Err(Error::Usage(m));
        for c in self.controllers.iter().filter(|c| *c != "all") {
            if !cg.v1_controller_hierarchies().any(|h| h.has(c)) && !cg.v2().is_some_and(|h| h.has(c)) {
                return Err(Error::Unsupported(format!("--controllers {c}: no hierarchy has the '{c}' controller")));
            }
        }
        // The kernel rounds a memory limit down to whole pages: below one page it would
        // be 0, a limit no process can live under.
        let page = page_size();
        for (flag, v) in [("--memory", self.memory), ("--memory-reservation", self.memory_reservation)] {
            if let Some(v) = v.filter(|v| *v < page) {
                return usage(format!(
                    "{flag} {}: below the kernel's minimum of one page ({})",
                    size_text(v),
                    size_text(page)
                ));
            }
        }
        if let (Some(Swap::Total(total)), mem) = (self.memory_swap, self.memory) {
            match mem {
                None => return usage("--memory-swap needs --memory (it is memory plus swap)".into()),
                Some(m) if total < m => {
                    return usage(format!(
                        "--memory-swap {} is less than --memory {}: it is memory plus swap, so it must be at least the memory limit",
                        size_text(total),
                        size_text(m)
                    ))
                }
                _ => {}
            }
        }
        if self.memory_swap == Some(Swap::Unlimited) && self.memory.is_none() {
            return usage("--memory-swap needs --memory (it is memory plus swap)".into());
        }
        if self.cpus_micro.is_some() && (self.cpu_quota.is_some() || self.cpu_period.is_some()) {
            return usage("--cpus cannot be combined with --cpu-quota or --cpu-period".into());
        }
        if self.cpu_shares.is_some() && self.cpu_weight.is_some() {
            return usage("--cpu-shares and --cpu-weight set the same thing; give one".into());
        }
        if let Some(micro) = self.cpus_micro {
            let online = online_cpus();
            if micro > u64::from(online) * 1_000_000 {
                return usage(format!(
                    "--cpus {}: this machine has only {online} CPUs (the range is 0.01 to {online})",
                    micro as f64 / 1e6
                ));
            }
        }
        if let Some(list) = &self.cpuset_cpus {
            let avail = available_list(cg, name, "cpus");
            let missing = list.minus(&avail);
            if !missing.is_empty() {
                return usage(format!(
                    "--cpuset-cpus {list}: CPUs {missing} do not exist or are not available here (available: {avail})"
                ));
            }
        }
        if let Some(list) = &self.cpuset_mems {
            let avail = available_list(cg, name, "mems");
            let missing = list.minus(&avail);
            if !missing.is_empty() {
                return usage(format!(
                    "--cpuset-mems {list}: memory nodes {missing} are not available here (available: {avail})"
                ));
            }
        }
        if let Some(PidsLimit::Max(n)) = self.pids_limit {
            if n > i64::MAX as u64 {
                return usage(format!("invalid --pids-limit '{n}': too large"));
            }
        }
        for d in self.devices() {
            device_number(d)?;
        }
        for (file, _) in &self.set {
            let controller = file.split('.').next().unwrap_or("");
            if cg.home_of(controller).is_none() {
                return usage(format!(
                    "--set {file}: no hierarchy has the '{controller}' controller, so '{file}' cannot exist"
                ));
            }
        }
        self.plan(cg).map(drop)
    }

    fn devices(&self) -> impl Iterator<Item = &DeviceRate> {
        self.io_weight_device
            .iter()
            .chain(&self.device_read_bps)
            .chain(&self.device_write_bps)
            .chain(&self.device_read_iops)
            .chain(&self.device_write_iops)
    }
}

/// The size of a memory page.
pub fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().map(|p| p as u64).unwrap_or(4096)
}

/// The number of online CPUs.
pub fn online_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| CpuList::parse(&s))
        .map(|l| l.0.len() as u32)
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// CPUs or memory nodes the new group may use: the effective set of the cpuset group it
/// will be created under, else every online one.
fn available_list(cg: &Cgroups, name: &GroupName, what: &str) -> CpuList {
    let system = match what {
        "cpus" => "/sys/devices/system/cpu/online",
        _ => "/sys/devices/system/node/online",
    };
    let from_file =
        |p: PathBuf| std::fs::read_to_string(p).ok().and_then(|s| CpuList::parse(&s)).filter(|l| !l.is_empty());
    if let Some(h) = cg.home_of("cpuset") {
        let base = name.base_dir(h);
        let files: [&str; 2] = match (h.version, what) {
            (Version::V2, "cpus") => ["cpuset.cpus.effective", "cpuset.cpus"],
            (Version::V2, _) => ["cpuset.mems.effective", "cpuset.mems"],
            (Version::V1, "cpus") => ["cpuset.effective_cpus", "cpuset.cpus"],
            (Version::V1, _) => ["cpuset.effective_mems", "cpuset.mems"],
        };
        for f in files {
            if let Some(l) = from_file(base.join(f)) {
                return l;
            }
        }
    }
    from_file(PathBuf::from(system)).unwrap_or_else(|| CpuList::parse("0").unwrap_or_default())
}

/// The major:minor of a block device named in a device limit.
pub(crate) fn device_number(d: &DeviceRate) -> Result<(u64, u64), Error> {
    // (MAJ:MIN as the kernel's files take it, as an OCI runtime's config gives it.)
    let text = d.path.display().to_string();
    if let Some((Ok(major), Ok(minor))) = text.split_once(':').map(|(a, b)| (a.parse::<u64>(), b.parse::<u64>())) {
        return Ok((major, minor));
    }
    let meta = std::fs::metadata(&d.path).map_err(|e| {
        Error::Usage(format!(
            "invalid device limit '{}': '{}': {}",
            d.given,
            d.path.display(),
            chainload::cli::io_reason(&e)
        ))
    })?;
    if !meta.file_type().is_block_device() {
        return Err(Error::Usage(format!(
            "invalid device limit '{}': '{}' is not a block device",
            d.given,
            d.path.display()
        )));
    }
    let rdev = std::os::unix::fs::MetadataExt::rdev(&meta);
    Ok((u64::from(nix::sys::stat::major(rdev) as u32), u64::from(nix::sys::stat::minor(rdev) as u32)))
}

/// Whether a path is a cgroup interface file that exists.
pub fn file_exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runc_share_weight_formula() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), 262_144);
        for s in [2u64, 100, 512, 1024, 4096, 100_000] {
            let back = weight_to_shares(shares_to_weight(s));
            assert!((back as f64 / s as f64 - 1.0).abs() < 0.1, "{s} -> {back}");
        }
    }

    #[test]
    fn parses_flags() {
        assert_eq!(parse_cpus("0.5"), Ok(500_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("abc").is_err());
        assert!(parse_cpus("-1").is_err());
        assert!(parse_cpu_period("500").is_err());
        assert_eq!(parse_cpu_period("1000"), Ok(1000));
        assert_eq!(parse_pids("-1"), Ok(PidsLimit::Unlimited));
        assert_eq!(parse_pids("max"), Ok(PidsLimit::Unlimited));
        assert!(parse_pids("-7").is_err());
        assert!(parse_set("memory.max").is_err());
        assert_eq!(parse_set("memory.high=1G"), Ok(("memory.high".into(), "1G".into())));
        assert!(parse_set("../x=1").is_err());
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }
}
