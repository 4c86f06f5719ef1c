//! `memory`: `--memory`, `--memory-swap`, `--memory-reservation`.

use super::Planner;
use crate::limits::{size_text, Limits, Swap};
use crate::setup::Version;
use crate::Error;

pub(super) fn plan(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    if let Some(m) = l.memory {
        let flag = format!("--memory {}", size_text(m));
        match p.home("memory", "memory", "--memory")? {
            Version::V1 => p.push("memory", Version::V1, &[("memory.limit_in_bytes", m.to_string())], flag),
            Version::V2 => p.push("memory", Version::V2, &[("memory.max", m.to_string())], flag),
        }
    }
    if let Some(sw) = l.memory_swap {
        let flag = match sw {
            Swap::Total(t) => format!("--memory-swap {}", size_text(t)),
            Swap::Unlimited => "--memory-swap -1".to_string(),
        };
        match p.home("memory", "memory", "--memory-swap")? {
            // v1: memory and swap together.
            Version::V1 => {
                let v = match sw {
                    Swap::Total(t) => t.to_string(),
                    Swap::Unlimited => "-1".into(),
                };
                p.push("memory", Version::V1, &[("memory.memsw.limit_in_bytes", v)], flag);
            }
            // v2: swap alone.
            Version::V2 => {
                let v = match (sw, l.memory) {
                    (Swap::Total(t), Some(m)) => t.saturating_sub(m).to_string(),
                    _ => "max".into(),
                };
                p.push("memory", Version::V2, &[("memory.swap.max", v)], flag);
            }
        }
    }
    if let Some(r) = l.memory_reservation {
        let flag = format!("--memory-reservation {}", size_text(r));
        match p.home("memory", "memory", "--memory-reservation")? {
            Version::V1 => p.push("memory", Version::V1, &[("memory.soft_limit_in_bytes", r.to_string())], flag),
            Version::V2 => p.push("memory", Version::V2, &[("memory.low", r.to_string())], flag),
        }
    }
    Ok(())
}
