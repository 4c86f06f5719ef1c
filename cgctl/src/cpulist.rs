//! CPU and memory node lists in the kernel's format: `0-3,5,7-8`.

use std::collections::BTreeSet;

/// A set of CPU or node numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(pub BTreeSet<u32>);

impl CpuList {
    /// Parse `0-3,5`; `None` if malformed (empty, reversed range, non-numbers).
    pub fn parse(s: &str) -> Option<CpuList> {
        let mut set = BTreeSet::new();
        let s = s.trim();
        if s.is_empty() {
            return Some(CpuList(set));
        }
        for part in s.split(',') {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
                None => {
                    let n = part.trim().parse::<u32>().ok()?;
                    (n, n)
                }
            };
            if a > b || b - a > 65536 {
                return None;
            }
            set.extend(a..=b);
        }
        Some(CpuList(set))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The members not in `other`.
    pub fn minus(&self, other: &CpuList) -> CpuList {
        CpuList(self.0.difference(&other.0).copied().collect())
    }
}

impl std::fmt::Display for CpuList {
    /// The kernel's compact form: `0-3,5`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let mut it = self.0.iter().copied().peekable();
        while let Some(start) = it.next() {
            let mut end = start;
            while it.peek() == Some(&(end + 1)) {
                end += 1;
                it.next();
            }
            parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        }
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let l = CpuList::parse("0-3,5,7-8").unwrap();
        assert_eq!(l.to_string(), "0-3,5,7-8");
        assert!(CpuList::parse("3-1").is_none());
        assert!(CpuList::parse("a").is_none());
        assert_eq!(CpuList::parse("0-999").unwrap().minus(&CpuList::parse("0-1").unwrap()).to_string(), "2-999");
    }
}
