//! The device allow-list: which device nodes the group's processes may create (mknod)
//! and open. A container's root has CAP_MKNOD, so without it any container could make
//! and open a node of a host disk.
//!
//! Rules are runc's (`c 1:3 rwm`, `b *:* m`, `a`): a type (`c` character, `b` block, `a`
//! all), a major and minor number (`*`: any), and access (`r` read, `w` write, `m`
//! mknod). A group with any device flag starts from nothing allowed; `--devices
//! default` adds runc's default list ([`default_rules`]), `--device-allow` adds rules,
//! `--device-deny` takes access away again (deny rules win over allow rules).
//!
//! Enforced by the v1 devices controller (`devices.deny` then `devices.allow`) where
//! there is one (v1 and hybrid), else by a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! attached to the group in the v2 tree ([`program`]); with neither, the request is an
//! error.

use std::fmt;

/// A device type of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// `a`: every type.
    All,
    /// `c`: character devices.
    Char,
    /// `b`: block devices.
    Block,
}

/// One rule: type, major:minor (`None`: `*`), access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// The type.
    pub kind: DeviceType,
    /// The major number, `None` for any.
    pub major: Option<u32>,
    /// The minor number, `None` for any.
    pub minor: Option<u32>,
    /// Bits of [`READ`], [`WRITE`], [`MKNOD`].
    pub access: u8,
}

/// Access bit: mknod (the kernel's `BPF_DEVCG_ACC_MKNOD`).
pub const MKNOD: u8 = 1;
/// Access bit: open for reading.
pub const READ: u8 = 2;
/// Access bit: open for writing.
pub const WRITE: u8 = 4;

impl std::str::FromStr for DeviceRule {
    type Err = String;

    /// `TYPE [MAJOR:MINOR [ACCESS]]`: `c 1:3 rwm`, `b 8:* r`, `a` (= `a *:* rwm`).
    fn from_str(s: &str) -> Result<DeviceRule, String> {
        let bad =
            || format!("'{s}' is not a device rule like 'c 1:3 rwm' (type a|b|c, MAJOR:MINOR or *, access of rwm)");
        let parts: Vec<&str> = s.split_whitespace().collect();
        let kind = match parts.first() {
            Some(&"a") => DeviceType::All,
            Some(&"c") => DeviceType::Char,
            Some(&"b") => DeviceType::Block,
            _ => return Err(bad()),
        };
        let number = |n: &str| -> Result<Option<u32>, String> {
            match n {
                "*" => Ok(None),
                n => n.parse().map(Some).map_err(|_| bad()),
            }
        };
        let (major, minor) = match parts.get(1) {
            None if kind == DeviceType::All => (None, None),
            None => return Err(bad()),
            Some(mm) => {
                let (ma, mi) = mm.split_once(':').ok_or_else(bad)?;
                (number(ma)?, number(mi)?)
            }
        };
        let access = match parts.get(2) {
            None => READ | WRITE | MKNOD,
            Some(a) if !a.is_empty() && a.chars().all(|c| "rwm".contains(c)) => a.chars().fold(0, |acc, c| {
                acc | match c {
                    'r' => READ,
                    'w' => WRITE,
                    _ => MKNOD,
                }
            }),
            Some(_) => return Err(bad()),
        };
        if parts.len() > 3 || (kind == DeviceType::All && (major.is_some() || minor.is_some())) {
            return Err(bad());
        }
        Ok(DeviceRule { kind, major, minor, access })
    }
}

impl fmt::Display for DeviceRule {
    /// The devices controller's form: `c 1:3 rwm`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        };
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
        let mut access = String::new();
        for (bit, c) in [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')] {
            if self.access & bit != 0 {
                access.push(c);
            }
        }
        write!(f, "{kind} {}:{} {access}", n(self.major), n(self.minor))
    }
}

const fn rule(kind: DeviceType, major: Option<u32>, minor: Option<u32>, access: u8) -> DeviceRule {
    DeviceRule { kind, major, minor, access }
}

/// runc's default allow-list: mknod of any node (opening it is another matter), and
/// /dev/null, zero, full, random, urandom, tty, console, ptmx and the pseudo-terminals.
pub fn default_rules() -> Vec<DeviceRule> {
    use DeviceType::{Block, Char};
    let rwm = READ | WRITE | MKNOD;
    vec![
        rule(Char, None, None, MKNOD),
        rule(Block, None, None, MKNOD),
        rule(Char, Some(1), Some(3), rwm), // null
        rule(Char, Some(1), Some(5), rwm), // zero
        rule(Char, Some(1), Some(7), rwm), // full
        rule(Char, Some(1), Some(8), rwm), // random
        rule(Char, Some(1), Some(9), rwm), // urandom
        rule(Char, Some(5), Some(0), rwm), // tty
        rule(Char, Some(5), Some(1), rwm), // console
        rule(Char, Some(5), Some(2), rwm), // ptmx
        rule(Char, Some(136), None, rwm),  // pts/*
    ]
}

/// `--devices`: where the list starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// runc's default list.
    Default,
    /// Nothing: only the `--device-allow` rules.
    None,
}

impl std::str::FromStr for Base {
    type Err = String;
    fn from_str(s: &str) -> Result<Base, String> {
        match s {
            "default" => Ok(Base::Default),
            "none" => Ok(Base::None),
            _ => Err(format!("'{s}': expected default (runc's allow-list) or none")),
        }
    }
}

/// The decided allow-list of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allowed, in order.
    pub allow: Vec<DeviceRule>,
    /// Denied (winning over `allow`).
    pub deny: Vec<DeviceRule>,
}

impl Policy {
    /// The policy of `--devices BASE`, `--device-allow`, `--device-deny`; `None` when no
    /// device flag was given (the group's devices are left as they are).
    pub fn from_flags(base: Option<Base>, allow: &[DeviceRule], deny: &[DeviceRule]) -> Option<Policy> {
        if base.is_none() && allow.is_empty() && deny.is_empty() {
            return None;
        }
        let mut rules = if base == Some(Base::Default) { default_rules() } else { Vec::new() };
        rules.extend_from_slice(allow);
        Some(Policy { allow: rules, deny: deny.to_vec() })
    }

    /// The v1 devices controller writes, in order: (file, line).
    pub fn v1_lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("devices.deny", "a *:* rwm".to_string())];
        out.extend(self.allow.iter().map(|r| ("devices.allow", r.to_string())));
        out.extend(self.deny.iter().map(|r| ("devices.deny", r.to_string())));
        out
    }

    /// Whether `kind major:minor` with `access` is allowed (what the kernel will decide).
    pub fn allows(&self, kind: DeviceType, major: u32, minor: u32, access: u8) -> bool {
        let matches = |r: &DeviceRule, need_all: bool| {
            (r.kind == DeviceType::All || r.kind == kind)
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
                && if need_all { access & !r.access == 0 } else { access & r.access != 0 }
        };
        !self.deny.iter().any(|r| matches(r, false)) && self.allow.iter().any(|r| matches(r, true))
    }
}

/// The eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) that enforces `policy` on cgroup
/// v2, as runc's devicefilter builds it: the context `struct bpf_cgroup_dev_ctx {u32
/// access_type; u32 major; u32 minor;}` (type in the low 16 bits of access_type, access
/// in the high 16); each deny rule that matches any asked access returns 0, each allow
/// rule that covers all of it returns 1, and the end returns 0.
pub fn program(policy: &Policy) -> Vec<crate::bpf::Insn> {
    use crate::bpf::Insn;
    // Registers: r2 type, r3 access, r4 major, r5 minor; r1 scratch after the loads.
    let mut p = vec![
        Insn::ldx_w(2, 1, 0),
        Insn::and32_imm(2, 0xffff),
        Insn::ldx_w(3, 1, 0),
        Insn::rsh32_imm(3, 16),
        Insn::ldx_w(4, 1, 4),
        Insn::ldx_w(5, 1, 8),
    ];
    let block = |r: &DeviceRule, verdict: i32, deny: bool| -> Vec<Insn> {
        let mut checks: Vec<Insn> = Vec::new();
        // Each check jumps past the block when the rule does not match; the offsets are
        // filled in once the block's length is known.
        match r.kind {
            DeviceType::Char => checks.push(Insn::jne_imm(2, 2, 0)),
            DeviceType::Block => checks.push(Insn::jne_imm(2, 1, 0)),
            DeviceType::All => {}
        }
        if deny {
            // Matches when any asked access is in the rule: (access & rule) != 0.
            checks.push(Insn::mov64_reg(1, 3));
            checks.push(Insn::and32_imm(1, i32::from(r.access)));
            checks.push(Insn::jeq_imm(1, 0, 0));
        } else if r.access != READ | WRITE | MKNOD {
            // Matches when every asked access is in the rule: (access & ~rule) == 0.
            checks.push(Insn::mov64_reg(1, 3));
            checks.push(Insn::and32_imm(1, !i32::from(r.access)));
            checks.push(Insn::jne_imm(1, 0, 0));
        }
        if let Some(m) = r.major {
            checks.push(Insn::jne_imm(4, m as i32, 0));
        }
        if let Some(m) = r.minor {
            checks.push(Insn::jne_imm(5, m as i32, 0));
        }
        let total = checks.len() + 2;
        for (i, c) in checks.iter_mut().enumerate() {
            if c.is_jump() {
                c.off = (total - i - 1) as i16;
            }
        }
        checks.push(Insn::mov64_imm(0, verdict));
        checks.push(Insn::exit());
        checks
    };
    for r in &policy.deny {
        p.extend(block(r, 0, true));
    }
    for r in &policy.allow {
        p.extend(block(r, 1, false));
    }
    p.push(Insn::mov64_imm(0, 0));
    p.push(Insn::exit());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_runc_rules() {
        for s in ["c 1:3 rwm", "b *:* m", "c 136:* rw", "a *:* rwm"] {
            assert_eq!(s.parse::<DeviceRule>().map(|r| r.to_string()), Ok(s.to_string()));
        }
        assert_eq!("a".parse::<DeviceRule>().map(|r| r.to_string()), Ok("a *:* rwm".into()));
        assert_eq!("c 10:200".parse::<DeviceRule>().map(|r| r.to_string()), Ok("c 10:200 rwm".into()));
        for bad in ["", "x 1:3 r", "c 1 r", "c 1:3 rx", "c a:3 r", "a 1:2 r", "c 1:3 r extra"] {
            assert!(bad.parse::<DeviceRule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn default_policy_allows_what_runc_allows() {
        let p = Policy::from_flags(Some(Base::Default), &[], &[]).unwrap_or_default();
        assert!(p.allows(DeviceType::Char, 1, 3, READ | WRITE));
        assert!(p.allows(DeviceType::Char, 136, 7, READ | WRITE));
        assert!(p.allows(DeviceType::Block, 8, 0, MKNOD), "mknod of anything");
        assert!(!p.allows(DeviceType::Block, 8, 0, READ), "a disk");
        assert!(!p.allows(DeviceType::Char, 10, 232, READ | WRITE), "kvm");
        let deny: DeviceRule = "c 1:3 w".parse().unwrap_or(default_rules()[0]);
        let p = Policy::from_flags(Some(Base::Default), &["c 10:232 rw".parse().unwrap_or(deny)], &[deny])
            .unwrap_or_default();
        assert!(p.allows(DeviceType::Char, 10, 232, READ | WRITE));
        assert!(p.allows(DeviceType::Char, 1, 3, READ));
        assert!(!p.allows(DeviceType::Char, 1, 3, WRITE));
        assert_eq!(Policy::from_flags(None, &[], &[]), None);
    }

    #[test]
    fn program_jumps_stay_inside_the_program() {
        let p = Policy::from_flags(Some(Base::Default), &[], &["c 1:3 w".parse().unwrap_or(default_rules()[0])])
            .unwrap_or_default();
        let prog = program(&p);
        for (i, insn) in prog.iter().enumerate() {
            if insn.is_jump() {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!(to > i as i64 && (to as usize) < prog.len(), "jump at {i} to {to}");
            }
        }
        assert_eq!(prog.last().map(|i| i.code), Some(0x95), "ends with exit");
    }
}
