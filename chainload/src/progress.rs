//! A one-line progress indicator for long work (importing or committing a layer), on
//! stderr, for a person watching: drawn only when stderr is a terminal (or when asked
//! with `--progress`), redrawn at most ten times a second, ended with a newline; nothing
//! at all otherwise, so scripts and CI logs stay clean.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::units::format_size;

/// The indicator of one piece of work.
pub struct Progress {
    what: String,
    enabled: bool,
    total_bytes: Option<u64>,
    total_entries: Option<u64>,
    bytes: u64,
    entries: u64,
    start: Instant,
    last: Option<Instant>,
}

const EVERY: Duration = Duration::from_millis(100);

impl Progress {
    /// An indicator for `what` (`importing layer.tar`), shown if stderr is a terminal or
    /// `forced`.
    pub fn new(what: impl Into<String>, forced: bool) -> Progress {
        let tty = nix::unistd::isatty(std::io::stderr()).unwrap_or(false);
        Progress {
            what: what.into(),
            enabled: tty || forced,
            total_bytes: None,
            total_entries: None,
            bytes: 0,
            entries: 0,
            start: Instant::now(),
            last: None,
        }
    }

    /// The totals, where known.
    pub fn totals(&mut self, bytes: Option<u64>, entries: Option<u64>) {
        self.total_bytes = bytes;
        self.total_entries = entries;
    }

    /// Now `bytes` and `entries` are done; redraw if it is time.
    pub fn set(&mut self, bytes: u64, entries: u64) {
        self.bytes = bytes;
        self.entries = entries;
        if self.enabled && self.last.is_none_or(|t| t.elapsed() >= EVERY) {
            self.draw();
        }
    }

    /// The line as it is drawn (without the carriage return and the erase).
    pub fn line(&self) -> String {
        let of = |n: u64, total: Option<u64>, fmt: &dyn Fn(u64) -> String| match total {
            Some(t) if t > 0 => format!("{} of {} ({}%)", fmt(n), fmt(t), (n.min(t) * 100) / t),
            _ => fmt(n),
        };
        let secs = self.start.elapsed().as_secs_f64().max(0.001);
        format!(
            "{}: {}, {} entries, {}/s",
            self.what,
            of(self.bytes, self.total_bytes, &format_size),
            of(self.entries, self.total_entries, &|n| n.to_string()),
            format_size((self.bytes as f64 / secs) as u64)
        )
    }

    fn draw(&mut self) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{}\x1b[K", self.line());
        let _ = err.flush();
        self.last = Some(Instant::now());
    }

    /// Draw the last state and end the line (also done when dropped, so an error message
    /// after it starts on a line of its own).
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw();
            let _ = writeln!(std::io::stderr());
            self.enabled = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_with_and_without_totals() {
        let mut p = Progress::new("importing l.tar", false);
        p.totals(Some(4 << 20), Some(10));
        p.set(1 << 20, 5);
        let l = p.line();
        assert!(l.starts_with("importing l.tar: 1M of 4M (25%), 5 of 10 (50%) entries, "), "{l}");
        p.totals(None, None);
        assert!(p.line().starts_with("importing l.tar: 1M, 5 entries, "), "{}", p.line());
    }
}
