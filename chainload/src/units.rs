//! Sizes (`64M`, `1.5G`, `512k`, `1048576`) and durations (`10s`, `250ms`, `2m`).
//!
//! Sizes use docker's binary units: k = 1024, m = 1024², g = 1024³, t = 1024⁴,
//! p = 1024⁵, case-insensitive, with an optional `b`/`ib` (`64MiB`, `64mb`).

use std::time::Duration;

/// A size or duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a number with a known unit.
    #[error("invalid size '{0}': expected a number with an optional unit (b, k, m, g, t, p), e.g. 64M or 1.5G")]
    BadSize(String),
    /// Negative sizes make no sense.
    #[error("invalid size '{0}': must not be negative")]
    NegativeSize(String),
    /// The value does not fit in 64 bits.
    #[error("invalid size '{0}': too large")]
    SizeOverflow(String),
    /// Not a number with a known unit.
    #[error("invalid duration '{0}': expected a number with a unit (ms, s, m, h), e.g. 10s")]
    BadDuration(String),
}

impl UnitError {
    /// Only why the value is wrong, without repeating it (for messages that already
    /// name the value, like clap's).
    pub fn reason(&self) -> &'static str {
        match self {
            UnitError::BadSize(_) => "expected a number with an optional unit (b, k, m, g, t, p), e.g. 64M or 1.5G",
            UnitError::NegativeSize(_) => "must not be negative",
            UnitError::SizeOverflow(_) => "too large (more than 64 bits)",
            UnitError::BadDuration(_) => "expected a number with a unit (ms, s, m, h), e.g. 10s",
        }
    }
}

fn split_number(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Multiply `int.frac` by `mult`, truncating fractional bytes; `None` on overflow.
fn scale(int: &str, frac: &str, mult: u64) -> Option<u64> {
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut total = whole.checked_mul(mult)?;
    if !frac.is_empty() {
        // frac digits beyond 18 cannot matter for u64 multipliers up to 1024^5.
        let digits = &frac[..frac.len().min(18)];
        let num: u128 = digits.parse().ok()?;
        let den: u128 = 10u128.pow(digits.len() as u32);
        let add = num * u128::from(mult) / den;
        total = total.checked_add(u64::try_from(add).ok()?)?;
    }
    Some(total)
}

/// Parse a size in bytes: `64M`, `1.5G`, `512k`, `1048576`, `64MiB`.
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let s = input.trim();
    let bad = || UnitError::BadSize(input.to_string());
    if s.starts_with('-') {
        return Err(UnitError::NegativeSize(input.to_string()));
    }
    let (num, unit) = split_number(s);
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        "p" | "pb" | "pib" => 1 << 50,
        _ => return Err(bad()),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.len() > 20 {
        return Err(UnitError::SizeOverflow(input.to_string()));
    }
    scale(int, frac, mult).ok_or_else(|| UnitError::SizeOverflow(input.to_string()))
}

/// Format bytes the short way docker prints them: `64M`, `1.5G`, `512k`, `100` (exact
/// where the value is a whole multiple, else with one decimal).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 5] = [(1 << 50, "P"), (1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "k")];
    for (mult, name) in UNITS {
        if bytes >= mult {
            if bytes.is_multiple_of(mult) {
                return format!("{}{name}", bytes / mult);
            }
            return format!("{:.1}{name}", bytes as f64 / mult as f64);
        }
    }
    bytes.to_string()
}

/// Parse a duration: `250ms`, `10s`, `1.5s`, `2m`, `1h`, or plain seconds.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let s = input.trim();
    let bad = || UnitError::BadDuration(input.to_string());
    let (num, unit) = split_number(s);
    if num.is_empty() || num.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(matches!(parse_size("10XB"), Err(UnitError::BadSize(_))));
        assert!(matches!(parse_size("-5M"), Err(UnitError::NegativeSize(_))));
        assert!(matches!(parse_size("99999999999999999999999"), Err(UnitError::SizeOverflow(_))));
        assert!(matches!(parse_size("20000000P"), Err(UnitError::SizeOverflow(_))));
        assert!(matches!(parse_size("M"), Err(UnitError::BadSize(_))));
        assert!(matches!(parse_size("1.2.3M"), Err(UnitError::BadSize(_))));
        assert!(matches!(parse_size(""), Err(UnitError::BadSize(_))));
    }

    #[test]
    fn formats() {
        assert_eq!(format_size(64 << 20), "64M");
        assert_eq!(format_size(3 << 29), "1.5G");
        assert_eq!(format_size(100), "100");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5y").is_err());
    }
}
