//! The writes that apply a set of [`Limits`] on this machine's setup: one planner per
//! controller (`memory`, `cpu` with `cpuset`, `pids`, `io`), each choosing the v1 file
//! or the v2 file of its own controller, plus raw `--set` writes and the device
//! allow-list.

mod cpu;
mod io;
mod memory;
mod pids;

use crate::limits::{Limits, Write};
use crate::setup::{Cgroups, Hierarchy, Version};
use crate::Error;

/// The plan being built, and the setup it is built for.
pub(crate) struct Planner<'a> {
    cg: &'a Cgroups,
    out: Vec<Write>,
}

impl Planner<'_> {
    /// Where `flag`'s controller lives: its v1 hierarchy (named `v1`), else the v2 tree
    /// if it has `v2` there; anything else is an error naming the flag.
    fn home(&self, v1: &str, v2: &str, flag: &str) -> Result<Version, Error> {
        match self.cg.v1(v1) {
            Some(_) => Ok(Version::V1),
            None => match self.cg.v2() {
                Some(h) if h.has(v2) => Ok(Version::V2),
                _ => Err(Error::Unsupported(format!(
                    "{flag} needs the {v2} controller, which is not available on this machine ({} cgroups)",
                    self.cg.setup
                ))),
            },
        }
    }

    /// Plan a write of the first of `candidates` that exists.
    fn push(&mut self, controller: &str, version: Version, candidates: &[(&str, String)], flag: String) {
        self.out.push(Write {
            version,
            controller: controller.to_string(),
            candidates: candidates.iter().map(|(f, v)| (f.to_string(), v.clone())).collect(),
            flag,
            device_program: None,
        });
    }
}

impl Limits {
    /// The writes that apply these limits on this setup, in a safe order.
    pub fn plan(&self, cg: &Cgroups) -> Result<Vec<Write>, Error> {
        let mut p = Planner { cg, out: Vec::new() };
        memory::plan(&mut p, self)?;
        cpu::plan(&mut p, self)?;
        pids::plan(&mut p, self)?;
        io::plan(&mut p, self)?;
        raw_writes(&mut p, self)?;
        if let Some(policy) = &self.devices {
            p.out.extend(device_writes(cg, policy)?);
        }
        Ok(p.out)
    }
}

/// `--set FILE=VALUE`: written as given, in the hierarchy of the file's controller.
fn raw_writes(p: &mut Planner<'_>, l: &Limits) -> Result<(), Error> {
    for (file, value) in &l.set {
        let controller = file.split('.').next().unwrap_or("").to_string();
        let h: &Hierarchy = p.cg.home_of(&controller).ok_or_else(|| {
            Error::Unsupported(format!(
                "--set {file}: no hierarchy has the '{controller}' controller, so '{file}' cannot exist"
            ))
        })?;
        let version = h.version;
        p.push(&controller, version, &[(file.as_str(), value.clone())], format!("--set {file}={value}"));
    }
    Ok(())
}

/// The device allow-list: the v1 devices controller where there is one (v1, hybrid),
/// else an eBPF program on the v2 tree; neither is an error, never a group without it.
fn device_writes(cg: &Cgroups, policy: &crate::devices::Policy) -> Result<Vec<Write>, Error> {
    let flag = "the device allow-list (--devices/--device-allow/--device-deny)".to_string();
    if cg.v1("devices").is_some() {
        return Ok(policy
            .v1_lines()
            .into_iter()
            .map(|(file, line)| Write {
                version: Version::V1,
                controller: "devices".into(),
                candidates: vec![(file.to_string(), line)],
                flag: flag.clone(),
                device_program: None,
            })
            .collect());
    }
    if cg.v2().is_some() {
        return Ok(vec![Write {
            version: Version::V2,
            controller: "cgroup".into(),
            candidates: Vec::new(),
            flag,
            device_program: Some(policy.clone()),
        }]);
    }
    Err(Error::Unsupported(format!(
        "{flag} cannot be enforced here: no devices controller and no cgroup v2 tree ({} cgroups)",
        cg.setup
    )))
}
