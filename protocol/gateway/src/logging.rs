//! Operational log lines (not the audit log): where the hub and UI servers say what they did.
//!
//! Lines are built only from typed, validated values (route templates, status codes, account
//! names, addresses of peers); never from header values, bodies, query strings or raw paths,
//! so no token, password or cookie can reach a log line. The test kit's `MemoryLog` captures
//! lines for tests that check exactly that.

use std::fmt;
use std::sync::Arc;

/// Somewhere log lines go.
pub trait LogSink: Send + Sync + fmt::Debug {
    /// Writes one line (without a newline).
    fn line(&self, line: &str);
}

/// Standard error, each line prefixed with the component's name.
#[derive(Debug, Clone, Copy)]
pub struct StderrLog {
    prefix: &'static str,
}

impl StderrLog {
    /// Lines prefixed `prefix: `.
    #[must_use]
    pub const fn new(prefix: &'static str) -> Self {
        Self { prefix }
    }
}

impl LogSink for StderrLog {
    fn line(&self, line: &str) {
        eprintln!("{}: {line}", self.prefix);
    }
}

/// Discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLog;

impl LogSink for NoLog {
    fn line(&self, _: &str) {}
}

/// A shared log.
pub type Log = Arc<dyn LogSink>;
