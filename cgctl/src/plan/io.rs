//! `blkio` (v1) and `io` (v2): `--io-weight`, `--io-weight-device` and the per-device
//! throttles (`--device-read-bps` and friends).

use super::Planner;
use crate::limits::{blkio_weight_to_io_weight, device_number, Limits};
use crate::setup::Version;
use crate::Error;

pub(super) fn plan(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    if let Some(w) = l.io_weight {
        let flag = format!("--io-weight {w}");
        match p.home("blkio", "io", &flag)? {
            Version::V1 => p.push(
                "blkio",
                Version::V1,
                &[("blkio.weight", w.to_string()), ("blkio.bfq.weight", w.to_string())],
                flag,
            ),
            // io.weight takes "default N" (1..10000); io.bfq.weight takes N (1..1000).
            Version::V2 => p.push(
                "io",
                Version::V2,
                &[("io.weight", format!("default {}", blkio_weight_to_io_weight(w))), ("io.bfq.weight", w.to_string())],
                flag,
            ),
        }
    }
    for d in &l.io_weight_device {
        let (maj, min) = device_number(d)?;
        let (w, flag) = (d.rate, format!("--io-weight-device {}", d.given));
        // The file of the device's scheduler: BFQ's where the device uses BFQ, else the
        // generic one (v1: CFQ's; v2: io.weight, which needs io.cost enabled on the device).
        let bfq = uses_bfq(maj, min);
        match p.home("blkio", "io", &flag)? {
            Version::V1 => {
                let file = if bfq { "blkio.bfq.weight_device" } else { "blkio.weight_device" };
                p.push("blkio", Version::V1, &[(file, format!("{maj}:{min} {w}"))], flag)
            }
            Version::V2 if bfq => p.push("io", Version::V2, &[("io.bfq.weight", format!("{maj}:{min} {w}"))], flag),
            Version::V2 => p.push(
                "io",
                Version::V2,
                &[("io.weight", format!("{maj}:{min} {}", blkio_weight_to_io_weight(w)))],
                flag,
            ),
        }
    }
    let throttles = [
        (&l.device_read_bps, "--device-read-bps", "blkio.throttle.read_bps_device", "rbps"),
        (&l.device_write_bps, "--device-write-bps", "blkio.throttle.write_bps_device", "wbps"),
        (&l.device_read_iops, "--device-read-iops", "blkio.throttle.read_iops_device", "riops"),
        (&l.device_write_iops, "--device-write-iops", "blkio.throttle.write_iops_device", "wiops"),
    ];
    for (list, flag, v1file, v2key) in throttles {
        for d in list {
            let (maj, min) = device_number(d)?;
            let flag = format!("{flag} {}", d.given);
            match p.home("blkio", "io", &flag)? {
                Version::V1 => p.push("blkio", Version::V1, &[(v1file, format!("{maj}:{min} {}", d.rate))], flag),
                Version::V2 => {
                    p.push("io", Version::V2, &[("io.max", format!("{maj}:{min} {v2key}={}", d.rate))], flag)
                }
            }
        }
    }
    Ok(())
}

/// Whether block device MAJ:MIN (or the disk a partition is on) uses the BFQ scheduler.
fn uses_bfq(maj: u64, min: u64) -> bool {
    let dev = std::path::PathBuf::from(format!("/sys/dev/block/{maj}:{min}"));
    [dev.join("queue/scheduler"), dev.join("../queue/scheduler")]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .is_some_and(|s| s.contains("[bfq]"))
}
