//! The command line of cgctl (clap) and its translation into library calls' arguments.

use std::ffi::OsString;
use std::path::PathBuf;

use cgctl::cpulist::CpuList;
use cgctl::devices::{Base, DeviceRule, Policy};
use cgctl::limits::{self, DeviceRate, Limits, PidsLimit, Swap};
use cgctl::name::GroupName;
use clap::{Args, Parser, Subcommand};
use nix::sys::signal::Signal;

const EXAMPLES: &str = "\
Examples:
  cgctl run --memory 64M --cpus 0.5 --pids-limit 100 -- make -j4
  cgctl create web --memory 1G && cgctl exec web -- nginx
  cgctl stats web --json
  cgctl rm --force web";

/// Create cgroups, write limits, move processes in, read stats (cgroup v1, hybrid, v2).
///
/// NAME: `/a/b` is absolute from each hierarchy's root; `a/b` is relative to the
/// caller's own cgroup in each hierarchy.
#[derive(Debug, Parser)]
#[command(name = "cgctl", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

fn parse_name(s: &str) -> Result<GroupName, String> {
    GroupName::parse(s).map_err(|e| e.to_string())
}

fn parse_signal(s: &str) -> Result<Signal, String> {
    chainload::signals::parse_signal(s).map_err(|e| e.to_string())
}

fn parse_pid(s: &str) -> Result<i32, String> {
    s.parse::<i32>().ok().filter(|p| *p > 0).ok_or_else(|| format!("invalid pid '{s}'"))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
// (Each subcommand's arguments are built only when it is the one run: building them all
// was most of a start-up's own CPU.)
#[command(defer = true)]
pub enum Command {
    /// Show the setup (v1, hybrid, v2), mount points, controllers, and the caller's cgroups
    #[command(
        after_help = "Examples:\n  cgctl info  (v1, hybrid or v2; where each controller is; your own cgroups)\n  cgctl info --json"
    )]
    Info {
        /// One JSON object
        #[arg(long)]
        json: bool,
    },
    /// Create a group (in every hierarchy a limit needs) and apply LIMITS
    #[command(after_help = "Examples:\n  cgctl create web --memory 256M --pids-limit 100 --cpus 1.5\n  cgctl rm web")]
    Create {
        #[arg(value_parser = parse_name)]
        name: GroupName,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Change the limits of an existing group
    #[command(
        after_help = "Examples:\n  cgctl create web && cgctl set web --memory 512M --cpu-shares 512\n  cgctl rm web"
    )]
    Set {
        #[arg(value_parser = parse_name)]
        name: GroupName,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Join an existing group (applying LIMITS), then exec CMD
    #[command(
        after_help = "Examples:\n  cgctl exec --create job --memory 64M -- sh -c 'cat /proc/self/cgroup'\n  cgctl rm job"
    )]
    Exec {
        /// Create the group if it does not exist
        #[arg(long)]
        create: bool,
        #[arg(value_parser = parse_name)]
        name: GroupName,
        #[command(flatten)]
        limits: LimitArgs,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// Create a group, run CMD in it, forward signals, report an OOM kill, kill what is
    /// left and remove the group
    #[command(
        after_help = "Examples:\n  cgctl run --memory 64M --pids-limit 50 -- make  (a group of its own, removed after)\n  cgctl run --stats-json run.json -- true  (the outcome and final stats in run.json)"
    )]
    Run {
        /// The group's name (default: cgctl-run-PID, relative)
        #[arg(long, value_parser = parse_name)]
        name: Option<GroupName>,
        /// Keep the group afterwards
        #[arg(long)]
        keep: bool,
        /// Print the final stats (peak memory, CPU time, OOM kills) to stderr
        #[arg(long)]
        stats: bool,
        /// Print nothing of its own (no OOM message, no stats line); the status still tells
        #[arg(short, long)]
        quiet: bool,
        /// Write the outcome and final stats as JSON to FILE before the group is removed
        #[arg(long, value_name = "FILE")]
        stats_json: Option<PathBuf>,
        /// When cgctl dies, kill the command with SIGNAL (default SIGKILL)
        #[arg(long, value_name = "SIGNAL", num_args = 0..=1, require_equals = true, default_missing_value = "KILL", value_parser = parse_signal)]
        kill_child: Option<Signal>,
        #[command(flatten)]
        limits: LimitArgs,
        /// The command and its arguments
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<OsString>,
    },
    /// Move processes into a group
    #[command(after_help = "Examples:\n  sleep 30 & cgctl create web && cgctl add web $!\n  cgctl rm --force web")]
    Add {
        #[arg(value_parser = parse_name)]
        name: GroupName,
        #[arg(required = true, value_parser = parse_pid)]
        pids: Vec<i32>,
    },
    /// Show a group's usage and limits
    #[command(
        after_help = "Examples:\n  cgctl create web && cgctl stats web; cgctl stats web --json\n  cgctl stats web --format prometheus; cgctl rm web"
    )]
    Stats {
        #[arg(value_parser = parse_name)]
        name: GroupName,
        /// One JSON object
        #[arg(long, conflicts_with = "format")]
        json: bool,
        /// Output format: text or prometheus
        #[arg(long, value_parser = ["text", "prometheus"], default_value = "text")]
        format: String,
    },
    /// List the groups below NAME (default: below the caller's own cgroup), recursively
    #[command(
        after_help = "Examples:\n  cgctl create web && cgctl create web/db && cgctl ls; cgctl ls web --json\n  cgctl rm web/db web"
    )]
    Ls {
        #[arg(value_parser = parse_name)]
        name: Option<GroupName>,
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove groups, sub-groups first
    #[command(
        after_help = "Examples:\n  cgctl create a && cgctl create b && cgctl rm a b\n  sleep 30 & cgctl create web && cgctl add web $! && cgctl rm --force web  (kills the sleep first)"
    )]
    Rm {
        /// Kill the processes inside first (frozen ones too)
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_parser = parse_name)]
        names: Vec<GroupName>,
    },
    /// Freeze every process of a group
    #[command(
        after_help = "Examples:\n  sleep 30 & cgctl create web && cgctl add web $! && cgctl freeze web\n  cgctl thaw web && cgctl rm --force web"
    )]
    Freeze {
        #[arg(value_parser = parse_name)]
        name: GroupName,
    },
    /// Thaw a frozen group
    #[command(after_help = "Examples:\n  cgctl create web && cgctl freeze web && cgctl thaw web\n  cgctl rm web")]
    Thaw {
        #[arg(value_parser = parse_name)]
        name: GroupName,
    },
    /// Send a signal (default SIGKILL) to every process of a group
    #[command(
        after_help = "Examples:\n  sleep 30 & cgctl create web && cgctl add web $!\n  cgctl kill -s TERM web; cgctl rm --force web"
    )]
    Kill {
        /// The signal, by name or number
        #[arg(short, long, default_value = "KILL", value_parser = parse_signal)]
        signal: Signal,
        #[arg(value_parser = parse_name)]
        name: GroupName,
    },
}

// LIMITS, with docker's names and units. (Not a doc comment: clap would make it the
// about of the subcommands it is flattened into.)
#[derive(Debug, Args, Default)]
pub struct LimitArgs {
    /// Memory limit (64M, 1.5G, 512k, bytes)
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = limits::parse_size, allow_hyphen_values = true)]
    memory: Option<u64>,
    /// Memory plus swap limit (docker's meaning); -1 for unlimited swap
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_swap, allow_hyphen_values = true)]
    memory_swap: Option<Swap>,
    /// Soft memory limit (v1 memory.soft_limit_in_bytes, v2 memory.low)
    #[arg(long, value_name = "SIZE", value_parser = limits::parse_size, allow_hyphen_values = true)]
    memory_reservation: Option<u64>,
    /// Number of CPUs (quota of N x 100ms per 100ms)
    #[arg(long, value_name = "N.N", value_parser = limits::parse_cpus, allow_hyphen_values = true)]
    cpus: Option<u64>,
    /// CPU quota per period in microseconds (-1: none)
    #[arg(long, value_name = "USEC", value_parser = limits::parse_cpu_quota, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CPU period in microseconds (1000..1000000)
    #[arg(long, value_name = "USEC", value_parser = limits::parse_cpu_period, allow_hyphen_values = true)]
    cpu_period: Option<u64>,
    /// Relative CPU weight, v1 scale (2..262144; converted for v2)
    #[arg(long, value_name = "N", value_parser = limits::parse_cpu_shares, allow_hyphen_values = true)]
    cpu_shares: Option<u64>,
    /// Relative CPU weight, v2 scale (1..10000; converted for v1)
    #[arg(long, value_name = "N", value_parser = limits::parse_cpu_weight, allow_hyphen_values = true)]
    cpu_weight: Option<u64>,
    /// CPUs the group may run on (0-3,5)
    #[arg(long, value_name = "LIST", value_parser = limits::parse_cpulist)]
    cpuset_cpus: Option<CpuList>,
    /// Memory nodes the group may use (0-1)
    #[arg(long, value_name = "LIST", value_parser = limits::parse_cpulist)]
    cpuset_mems: Option<CpuList>,
    /// Maximum number of tasks (-1 or max: unlimited)
    #[arg(long, value_name = "N", value_parser = limits::parse_pids, allow_hyphen_values = true)]
    pids_limit: Option<PidsLimit>,
    /// Block IO weight (10..1000)
    #[arg(long, value_name = "N", value_parser = limits::parse_io_weight, allow_hyphen_values = true)]
    io_weight: Option<u64>,
    /// Block IO weight of one device (/dev/sda:300, or 8:0:300; 10..1000); repeatable
    #[arg(long, value_name = "DEV:WEIGHT", value_parser = limits::parse_io_weight_device)]
    io_weight_device: Vec<DeviceRate>,
    /// Read rate limit of a device (/dev/sda:10M, or 8:0:10M); repeatable
    #[arg(long, value_name = "DEV:RATE", value_parser = limits::parse_device_bps)]
    device_read_bps: Vec<DeviceRate>,
    /// Write rate limit of a device (/dev/sda:10M, or 8:0:10M); repeatable
    #[arg(long, value_name = "DEV:RATE", value_parser = limits::parse_device_bps)]
    device_write_bps: Vec<DeviceRate>,
    /// Read operations per second of a device (/dev/sda:1000, or 8:0:1000); repeatable
    #[arg(long, value_name = "DEV:N", value_parser = limits::parse_device_iops)]
    device_read_iops: Vec<DeviceRate>,
    /// Write operations per second of a device (/dev/sda:1000, or 8:0:1000); repeatable
    #[arg(long, value_name = "DEV:N", value_parser = limits::parse_device_iops)]
    device_write_iops: Vec<DeviceRate>,
    /// Write VALUE to any other interface FILE of the group (memory.high=1G); repeatable
    #[arg(long = "set", value_name = "FILE=VALUE", value_parser = limits::parse_set)]
    set: Vec<(String, String)>,
    /// Device allow-list to start from: default (runc's: null, zero, full, random,
    /// urandom, tty, console, ptmx, pts, mknod of any node) or none
    #[arg(long, value_name = "default|none")]
    devices: Option<Base>,
    /// Also allow devices matching RULE ('c 10:232 rw', 'b 8:* r', 'a'); repeatable
    #[arg(long, value_name = "RULE")]
    device_allow: Vec<DeviceRule>,
    /// Deny the access of RULE ('c 1:3 w'), over any allow; repeatable
    #[arg(long, value_name = "RULE")]
    device_deny: Vec<DeviceRule>,
    /// Also be in the hierarchies of these v1 controllers, limits or not (cpuacct,blkio;
    /// all: every one, as runc puts a container)
    #[arg(long, value_name = "LIST|all", value_delimiter = ',')]
    controllers: Vec<String>,
}

impl From<LimitArgs> for Limits {
    fn from(a: LimitArgs) -> Limits {
        Limits {
            memory: a.memory,
            memory_swap: a.memory_swap,
            memory_reservation: a.memory_reservation,
            cpus_micro: a.cpus,
            cpu_quota: a.cpu_quota,
            cpu_period: a.cpu_period,
            cpu_shares: a.cpu_shares,
            cpu_weight: a.cpu_weight,
            cpuset_cpus: a.cpuset_cpus,
            cpuset_mems: a.cpuset_mems,
            pids_limit: a.pids_limit,
            io_weight: a.io_weight,
            io_weight_device: a.io_weight_device,
            device_read_bps: a.device_read_bps,
            device_write_bps: a.device_write_bps,
            device_read_iops: a.device_read_iops,
            device_write_iops: a.device_write_iops,
            set: a.set,
            devices: Policy::from_flags(a.devices, &a.device_allow, &a.device_deny),
            controllers: a.controllers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct Only {
        #[command(flatten)]
        limits: LimitArgs,
    }

    fn parse(args: &[&str]) -> Limits {
        let argv = std::iter::once("cgctl").chain(args.iter().copied());
        Only::try_parse_from(argv).map(|o| Limits::from(o.limits)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// What `Limits::to_args` writes parses back to the same limits, for every limit.
    #[test]
    fn limits_round_trip_through_their_flags() {
        let given = parse(&[
            "--memory",
            "64M",
            "--memory-swap",
            "-1",
            "--memory-reservation",
            "32M",
            "--cpus",
            "1.25",
            "--cpu-quota",
            "-1",
            "--cpu-period",
            "50000",
            "--cpu-shares",
            "512",
            "--cpu-weight",
            "50",
            "--cpuset-cpus",
            "0-1",
            "--cpuset-mems",
            "0",
            "--pids-limit",
            "max",
            "--io-weight",
            "300",
            "--io-weight-device",
            "8:0:500",
            "--device-read-bps",
            "8:0:10M",
            "--device-write-bps",
            "/dev/null:1M",
            "--device-read-iops",
            "8:0:100",
            "--device-write-iops",
            "8:0:200",
            "--set",
            "memory.high=1G",
            "--controllers",
            "blkio,cpuacct",
        ]);
        let args = given.to_args();
        let again = parse(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(again, given, "{args:?}");
        assert_eq!(
            parse(&["--memory-swap", "128M", "--pids-limit", "7"]).to_args(),
            ["--memory-swap", "134217728", "--pids-limit", "7"]
        );
        assert!(Limits::default().to_args().is_empty());
    }
}
