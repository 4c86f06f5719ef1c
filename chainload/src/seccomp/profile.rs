//! Seccomp profiles in docker's JSON format (`--seccomp FILE`, `--security-opt
//! seccomp=FILE`), which is also the OCI runtime spec's `linux.seccomp` with docker's
//! additions (`includes`/`excludes` by capability, architecture and kernel version).
//!
//! Every field is read or refused: an unknown field, action, operator or flag is an
//! error naming it, never a rule silently left out. A system call name this kernel's
//! architecture (x86_64) does not have is skipped when its rule would only allow more
//! than the default refuses (docker's own profile lists other architectures' calls),
//! and is an error when its rule would restrict it (a typo there would leave the call
//! open). Only x86_64 calls pass: `architectures` and `archMap` may name i386 and x32,
//! which stay refused (stronger than docker, which lets their calls through).

use serde::Deserialize;

use super::{Action, Cond, Filter, Op, Rule};
use crate::caps::{parse_cap, CapSet};

/// The largest profile read (docker's default is about 20 KiB).
pub const MAX_SIZE: u64 = 1 << 20;

/// A profile, read and checked; [`Profile::filter`] makes the filter for a process's
/// capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    default: Action,
    flags: u32,
    rules: Vec<ProfileRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ProfileRule {
    nrs: Vec<u32>,
    action: Action,
    conds: Vec<Cond>,
    includes: Applies,
    excludes: Applies,
}

/// `includes` / `excludes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Applies {
    caps: Vec<u32>,
    arches: Vec<String>,
    min_kernel: Option<(u32, u32)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Json {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u16>,
    #[serde(default, deserialize_with = "null_as_empty")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    arch_map: Vec<JsonArchMap>,
    #[serde(default, deserialize_with = "null_as_empty")]
    syscalls: Vec<JsonSyscall>,
    #[serde(default, deserialize_with = "null_as_empty")]
    flags: Vec<String>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonArchMap {
    architecture: String,
    // (i386 and x32 stay refused whatever the map says.)
    #[serde(default, rename = "subArchitectures", deserialize_with = "null_as_empty")]
    _sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonSyscall {
    #[serde(default, deserialize_with = "null_as_empty")]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u16>,
    #[serde(default, deserialize_with = "null_as_empty")]
    args: Vec<JsonArg>,
    #[serde(default, rename = "comment")]
    _comment: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    includes: JsonApplies,
    #[serde(default, deserialize_with = "null_as_empty")]
    excludes: JsonApplies,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonApplies {
    #[serde(default, deserialize_with = "null_as_empty")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsonArg {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// A list (or object) that docker writes as `null` when it is empty.
fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// This machine's architecture, by the names profiles use for it.
const OUR_ARCHES: [&str; 3] = ["amd64", "x86_64", "SCMP_ARCH_X86_64"];

fn action(name: &str, errno: Option<u16>, default_errno: u16) -> Result<Action, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(default_errno)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(0)),
        "SCMP_ACT_NOTIFY" => return Err("action SCMP_ACT_NOTIFY needs a seccomp agent, which is not supported".into()),
        other => return Err(format!("unknown action '{other}'")),
    })
}

fn op(name: &str, value: u64, value_two: u64) -> Result<(Op, u64), String> {
    Ok(match name {
        "SCMP_CMP_EQ" => (Op::Eq, value),
        "SCMP_CMP_NE" => (Op::Ne, value),
        "SCMP_CMP_LT" => (Op::Lt, value),
        "SCMP_CMP_LE" => (Op::Le, value),
        "SCMP_CMP_GE" => (Op::Ge, value),
        "SCMP_CMP_GT" => (Op::Gt, value),
        // (libseccomp's order: the mask first, then the value.)
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(value), value_two),
        other => return Err(format!("unknown operator '{other}'")),
    })
}

fn flag(name: &str) -> Result<u32, String> {
    Ok(match name {
        "SECCOMP_FILTER_FLAG_TSYNC" => 1,
        "SECCOMP_FILTER_FLAG_LOG" => 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
        other => return Err(format!("unknown flag '{other}'")),
    })
}

/// `4.8` or `5.10.0` as (major, minor).
fn kernel_version(s: &str) -> Result<(u32, u32), String> {
    let mut it = s.split('.').map(str::parse::<u32>);
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) => Ok((a, b)),
        _ => Err(format!("minKernel '{s}' is not a kernel version (such as 4.8)")),
    }
}

/// The number of system call `name` on x86_64.
pub fn syscall_number(name: &str) -> Option<u32> {
    let table = super::syscalls_x86_64::X86_64;
    table.binary_search_by(|(n, _)| n.cmp(&name)).ok().map(|i| table[i].1)
}

impl Profile {
    /// Read a profile from its JSON text.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let j: Json = serde_json::from_str(text).map_err(|e| format!("not a seccomp profile: {e}"))?;
        if j.listener_path.is_some() || j.listener_metadata.is_some() {
            return Err("listenerPath (a seccomp agent) is not supported".into());
        }
        let arches: Vec<&String> = j.architectures.iter().chain(j.arch_map.iter().map(|m| &m.architecture)).collect();
        if !arches.is_empty() && !arches.iter().any(|a| OUR_ARCHES.contains(&a.as_str())) {
            return Err(format!(
                "the profile is for {}, not for this machine (SCMP_ARCH_X86_64)",
                arches.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        let default_errno = j.default_errno_ret.unwrap_or(nix::errno::Errno::EPERM as u16);
        let default =
            action(&j.default_action, j.default_errno_ret, default_errno).map_err(|e| format!("defaultAction: {e}"))?;
        let mut flags = 0;
        for f in &j.flags {
            flags |= flag(f).map_err(|e| format!("flags: {e}"))?;
        }
        let mut rules = Vec::new();
        for (i, s) in j.syscalls.iter().enumerate() {
            let at = |e: String| format!("syscalls[{i}]: {e}");
            let act = action(&s.action, s.errno_ret, default_errno).map_err(at)?;
            let mut conds = Vec::new();
            for a in &s.args {
                if a.index > 5 {
                    return Err(at(format!("argument index {} does not exist (0 to 5)", a.index)));
                }
                let (op, value) = op(&a.op, a.value, a.value_two).map_err(at)?;
                conds.push(Cond { arg: a.index, op, value, low32: false });
            }
            let mut nrs = Vec::new();
            for name in s.names.iter().chain(s.name.iter()) {
                match syscall_number(name) {
                    Some(nr) => nrs.push(nr),
                    // A name this architecture does not have (a shared profile lists
                    // every architecture's): left out, a call of it gets the default.
                    // That lets nothing through unless the default allows and the rule
                    // refuses (a misspelt deny rule): only that is an error.
                    None if !matches!(default, Action::Allow | Action::Log)
                        || matches!(act, Action::Allow | Action::Log) => {}
                    None => return Err(at(format!("unknown system call '{name}' (on x86_64)"))),
                }
            }
            let applies = |a: &JsonApplies| -> Result<Applies, String> {
                let caps = a.caps.iter().map(|c| parse_cap(c).map_err(|e| e.to_string())).collect::<Result<_, _>>()?;
                let min_kernel = a.min_kernel.as_deref().map(kernel_version).transpose()?;
                Ok(Applies { caps, arches: a.arches.clone(), min_kernel })
            };
            let includes = applies(&s.includes).map_err(|e| at(format!("includes: {e}")))?;
            let excludes = applies(&s.excludes).map_err(|e| at(format!("excludes: {e}")))?;
            rules.push(ProfileRule { nrs, action: act, conds, includes, excludes });
        }
        Ok(Profile { default, flags, rules })
    }

    /// Read a profile file (at most [`MAX_SIZE`] bytes).
    pub fn read(path: &std::path::Path) -> Result<Profile, String> {
        use std::io::Read;
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot open '{}': {}", path.display(), crate::cli::io_reason(&e)))?;
        let mut text = String::new();
        f.take(MAX_SIZE + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read '{}': {}", path.display(), crate::cli::io_reason(&e)))?;
        if text.len() as u64 > MAX_SIZE {
            return Err(format!("'{}' is larger than {} KiB: not a seccomp profile", path.display(), MAX_SIZE >> 10));
        }
        Profile::parse(&text).map_err(|e| format!("'{}': {e}", path.display()))
    }

    /// The filter for a process that keeps the capabilities `caps` on a kernel of
    /// version `kernel`: the rules whose `includes` hold and whose `excludes` do not.
    pub fn filter(&self, caps: CapSet, kernel: (u32, u32)) -> Filter {
        let includes = |a: &Applies| {
            a.caps.iter().all(|c| caps.contains(*c))
                && (a.arches.is_empty() || a.arches.iter().any(|x| OUR_ARCHES.contains(&x.as_str())))
                && a.min_kernel.is_none_or(|k| kernel >= k)
        };
        let excludes = |a: &Applies| {
            a.caps.iter().any(|c| caps.contains(*c))
                || a.arches.iter().any(|x| OUR_ARCHES.contains(&x.as_str()))
                || a.min_kernel.is_some_and(|k| kernel >= k)
        };
        let rules = self
            .rules
            .iter()
            .filter(|r| includes(&r.includes) && !excludes(&r.excludes))
            .flat_map(|r| r.nrs.iter().map(|nr| Rule { nr: *nr, action: r.action, conds: r.conds.clone() }))
            .collect();
        Filter { default: self.default, rules, flags: self.flags }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::{compile, tests::run, AUDIT_ARCH_X86_64, RET_ALLOW, RET_ERRNO};

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
        "syscalls": [
            {"names": ["read", "write", "_llseek", "arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir", "bdflush"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "bdflush: not on x86_64, refused by the default"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "99.0"}},
            {"names": ["s390_pci_mmio_read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}},
            {"names": ["uname"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}, "comment": "ours"},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW", "args": null, "includes": null, "excludes": {}}
        ]
    }"#;

    fn nr(name: &str) -> u32 {
        syscall_number(name).unwrap()
    }

    #[test]
    fn names_are_x86_64_numbers() {
        assert_eq!(nr("read"), 0);
        assert_eq!(nr("mkdir"), libc::SYS_mkdir as u32);
        assert_eq!(nr("clone3"), libc::SYS_clone3 as u32);
        assert_eq!(nr("mseal"), 462);
        assert_eq!(syscall_number("_llseek"), None);
    }

    #[test]
    fn includes_and_excludes_follow_the_capabilities() {
        let p = Profile::parse(PROFILE).unwrap();
        let admin = compile(&p.filter(CapSet::all(), (6, 1))).unwrap();
        let plain = compile(&p.filter(CapSet::docker_default(), (6, 1))).unwrap();
        let r = |f: &[_], name: &str, a0: u64| run(f, AUDIT_ARCH_X86_64, nr(name), [a0, 0, 0, 0, 0, 0]);
        assert_eq!(r(&plain, "read", 0), RET_ALLOW);
        assert_eq!(r(&plain, "mkdir", 0), RET_ERRNO | 13);
        assert_eq!(r(&plain, "rmdir", 0), RET_ERRNO | 1, "the default");
        assert_eq!(r(&plain, "personality", 8), RET_ALLOW);
        assert_eq!(r(&plain, "personality", 9), RET_ERRNO | 1);
        assert_eq!(r(&plain, "clone", 0x11), RET_ALLOW);
        assert_eq!(r(&plain, "clone", 0x1000_0000), RET_ERRNO | 1, "CLONE_NEWUSER without CAP_SYS_ADMIN");
        assert_eq!(r(&admin, "clone", 0x1000_0000), RET_ALLOW);
        assert_eq!(r(&admin, "mount", 0), RET_ERRNO | 1, "minKernel 99.0 not reached");
        assert_eq!(r(&plain, "uname", 0), RET_ALLOW, "includes our architecture");
        assert_eq!(r(&plain, "getpid", 0), RET_ALLOW, "null lists and objects");
    }

    #[test]
    fn what_cannot_be_honoured_is_an_error_naming_it() {
        let bad = |json: &str, says: &str| {
            let e = Profile::parse(json).unwrap_err();
            assert!(e.contains(says), "{json}: {e}");
        };
        bad(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ERRNO"}]}"#,
            "unknown system call 'mkdri'",
        );
        bad(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, "SCMP_ACT_NOTIFY");
        bad(r#"{"defaultAction": "SCMP_ACT_BOGUS"}"#, "unknown action 'SCMP_ACT_BOGUS'");
        bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "bogus": 1}"#, "unknown field `bogus`");
        bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"]}"#, "not for this machine");
        bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent"}"#, "listenerPath");
        bad(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]}"#,
            "syscalls[0]: unknown operator 'SCMP_CMP_XX'",
        );
        bad(r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#, "unknown flag");
        bad("[1, 2]", "not a seccomp profile");
    }
}
