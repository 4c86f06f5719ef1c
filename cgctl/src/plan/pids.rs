//! `pids`: `--pids-limit`.

use super::Planner;
use crate::limits::{Limits, PidsLimit};
use crate::Error;

pub(super) fn plan(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    if let Some(limit) = l.pids_limit {
        let (value, flag) = match limit {
            PidsLimit::Max(n) => (n.to_string(), format!("--pids-limit {n}")),
            PidsLimit::Unlimited => ("max".to_string(), "--pids-limit max".to_string()),
        };
        let v = p.home("pids", "pids", "--pids-limit")?;
        p.push("pids", v, &[("pids.max", value)], flag);
    }
    Ok(())
}
