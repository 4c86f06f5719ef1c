//! `--log FILE` and `--log-format text|json`: where a call's error goes besides stderr.
//! The file exists after every call (clients open it whatever happened); a failed call
//! writes exactly one line (podman reads the file as one JSON object, containerd takes
//! its last error line).

use std::io::Write;
use std::path::PathBuf;

/// The format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// logrus's text form, as runc writes it: `time="..." level=error msg="..."`.
    #[default]
    Text,
    /// One JSON object a line: `{"level":"error","msg":"...","time":"..."}`.
    Json,
}

/// The log of one call.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// `--log`.
    pub file: Option<PathBuf>,
    /// `--log-format`.
    pub format: Format,
}

impl Log {
    /// Create the file if it is not there (with nothing in it).
    pub fn touch(&self) {
        if let Some(f) = &self.file {
            let _ = std::fs::OpenOptions::new().create(true).append(true).open(f);
        }
    }

    /// One error line. (A log that cannot be written is no reason for a second error.)
    pub fn error(&self, msg: &str) {
        self.line("error", msg);
    }

    /// One warning line (a poststart or poststop hook that failed).
    pub fn warn(&self, msg: &str) {
        self.line("warning", msg);
    }

    fn line(&self, level: &str, msg: &str) {
        let Some(f) = &self.file else { return };
        let time = crate::time::now();
        let line = match self.format {
            Format::Json => serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string(),
            Format::Text => format!("time={time:?} level={level} msg={msg:?}"),
        };
        if let Ok(mut out) = std::fs::OpenOptions::new().create(true).append(true).open(f) {
            let _ = writeln!(out, "{line}");
        }
    }
}
