//! A server log kept in memory, so that a test (or the demo) can search what was logged.

use std::sync::Mutex;

use protocol_gateway::logging::LogSink;

/// Lines kept in memory.
#[derive(Debug, Default)]
pub struct MemoryLog {
    lines: Mutex<Vec<String>>,
}

impl MemoryLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every line so far.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl LogSink for MemoryLog {
    fn line(&self, line: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol_gateway::logging::NoLog;

    use super::*;

    #[test]
    fn a_memory_log_keeps_lines_in_order() {
        let log = MemoryLog::new();
        log.line("one");
        log.line("two");
        NoLog.line("nothing");
        assert_eq!(log.lines(), ["one", "two"]);
    }
}
