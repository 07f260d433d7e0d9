//! The scheduler's durable event log: one JSON object per line, appended in group commits and
//! made durable with `fdatasync` before any acknowledgement that depends on it is sent.
//!
//! Recovery tolerates exactly one kind of damage, a torn final line from a crash mid-write, and
//! truncates it. Anything else unreadable is corruption and is reported with its line number.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use protocol_core::scheduler::Event;

/// Why the event log could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// The file could not be opened, read, written or synced.
    #[error("event log {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Another process has it open: two schedulers appending to one log would interleave two
    /// histories (an operator restarting a scheduler that is still running, say).
    #[error("event log {path} is in use by another scheduler (it holds the file's lock)")]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// A complete line is not a valid event.
    #[error("event log {path} line {line} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        line: usize,
        /// The parser's complaint.
        detail: String,
    },
}

/// An open event log positioned for appending.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
    file: File,
    /// Bytes known to be whole records on stable storage.
    len: u64,
    /// A failed append may have left part of a batch after `len`.
    torn: bool,
}

impl EventLog {
    /// Opens (creating if needed) the log, returns the events already in it, and truncates a
    /// torn final line if the last write was interrupted.
    ///
    /// The log is locked while open: a second scheduler on it is refused.
    ///
    /// # Errors
    /// [`EventLogError::Io`], [`EventLogError::InUse`] or [`EventLogError::Corrupt`].
    pub fn open(path: &Path) -> Result<(Self, Vec<Event>), EventLogError> {
        let io = |source| EventLogError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        // Held for as long as this log is open (released when the file closes, however the
        // process ends, so a killed scheduler never leaves it stuck).
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(EventLogError::InUse { path: path.to_owned() }),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let (events, good_len) = read_whole_records(&mut file, path)?;
        if file.seek(SeekFrom::End(0)).map_err(io)? != good_len {
            file.set_len(good_len).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        Ok((
            Self {
                path: path.to_owned(),
                file,
                len: good_len,
                torn: false,
            },
            events,
        ))
    }

    /// The whole records of a log, read without opening it for appending: for reading a log a
    /// running scheduler holds (a torn last line is skipped, not cut).
    ///
    /// # Errors
    /// [`EventLogError::Io`] or [`EventLogError::Corrupt`].
    pub fn read(path: &Path) -> Result<Vec<Event>, EventLogError> {
        let mut file = File::open(path).map_err(|source| EventLogError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(read_whole_records(&mut file, path)?.0)
    }

    /// Serialises events into a batch buffer (no I/O).
    pub fn encode(events: impl IntoIterator<Item = Event>, buf: &mut Vec<u8>) {
        for event in events {
            // Events are plain data; serialisation cannot fail, and if it somehow did the
            // event would be missing from the log rather than the scheduler crashing.
            if serde_json::to_writer(&mut *buf, &event).is_ok() {
                buf.push(b'\n');
            }
        }
    }

    /// Appends an encoded batch and waits until it is on stable storage.
    ///
    /// On failure (a full disk, a file-size limit, an I/O error) whatever part of the batch
    /// reached the file is cut off again, so the log still ends at a whole record and the same
    /// batch can be retried; if even that cut fails, the torn tail is what [`EventLog::open`]
    /// drops on the next start, and a retry is refused until the cut succeeds.
    ///
    /// # Errors
    /// [`EventLogError::Io`]; the batch must then not be acknowledged.
    pub fn append_durable(&mut self, batch: &[u8]) -> Result<(), EventLogError> {
        let io = |source| EventLogError::Io {
            path: self.path.clone(),
            source,
        };
        if self.torn {
            // The file is opened for appending: after the cut, the next write lands at `len`.
            self.file.set_len(self.len).map_err(io)?;
            self.torn = false;
        }
        let written = self.file.write_all(batch).and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += batch.len() as u64;
                Ok(())
            }
            Err(source) => {
                self.torn = self.file.set_len(self.len).is_err();
                Err(io(source))
            }
        }
    }

    /// Bytes of whole records on stable storage.
    #[must_use]
    pub const fn durable_len(&self) -> u64 {
        self.len
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The events of every whole line from the start of `file`, and the length they take.
fn read_whole_records(file: &mut File, path: &Path) -> Result<(Vec<Event>, u64), EventLogError> {
    let io = |source| EventLogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut events = Vec::new();
    let mut good_len: u64 = 0;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            // A torn write: the crash happened before this line was complete, so it was
            // never acknowledged. Drop it.
            break;
        }
        let event = serde_json::from_slice(&line).map_err(|e| EventLogError::Corrupt {
            path: path.to_owned(),
            line: number,
            detail: e.to_string(),
        })?;
        events.push(event);
        good_len += n as u64;
    }
    Ok((events, good_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol_core::scheduler::RevokeReason;
    use protocol_core::{JobId, WorkflowId};

    fn event(task: &str) -> Event {
        let job = JobId::new(WorkflowId::new("alice", "wf").expect("valid"), "1", task, 1).expect("valid");
        Event::Revoked {
            job,
            reason: RevokeReason::Operator,
        }
    }

    #[test]
    fn a_failed_append_leaves_whole_records_and_the_same_batch_can_be_retried() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let (mut log, _) = EventLog::open(&path).expect("open");
        let mut first = Vec::new();
        EventLog::encode([event("a")], &mut first);
        log.append_durable(&first).expect("append");
        let mut second = Vec::new();
        EventLog::encode([event("b")], &mut second);
        // A handle that cannot write stands in for a device that refuses the write.
        log.file = File::open(&path).expect("reopen read-only");
        let err = log
            .append_durable(&second)
            .expect_err("a read-only handle cannot append");
        assert!(matches!(err, EventLogError::Io { .. }), "{err}");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), log.durable_len());
        log.file = OpenOptions::new().read(true).append(true).open(&path).expect("reopen");
        log.append_durable(&second).expect("the retry appends the whole batch");
        drop(log);
        let (_, events) = EventLog::open(&path).expect("reopen");
        assert_eq!(events, vec![event("a"), event("b")]);
    }

    #[test]
    fn events_survive_reopening_and_a_torn_final_line_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let (mut log, old) = EventLog::open(&path).expect("open");
        assert!(old.is_empty());
        let mut buf = Vec::new();
        EventLog::encode([event("a"), event("b")], &mut buf);
        log.append_durable(&buf).expect("append");
        log.append_durable(b"{\"event\":\"revo").expect("torn write");
        drop(log);
        let (mut log, events) = EventLog::open(&path).expect("reopen");
        assert_eq!(events, vec![event("a"), event("b")]);
        buf.clear();
        EventLog::encode([event("c")], &mut buf);
        log.append_durable(&buf).expect("append after recovery");
        drop(log);
        let (_, events) = EventLog::open(&path).expect("reopen");
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn a_log_open_in_one_scheduler_is_refused_to_a_second_but_can_still_be_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let (mut log, _) = EventLog::open(&path).expect("open");
        let mut buf = Vec::new();
        EventLog::encode([event("a")], &mut buf);
        log.append_durable(&buf).expect("append");
        log.append_durable(b"{\"event\":\"revo").expect("torn write");
        let err = EventLog::open(&path).expect_err("a second scheduler on the same log");
        assert!(
            matches!(err, EventLogError::InUse { ref path } if path.ends_with("events.jsonl")),
            "{err}"
        );
        // Reading does not lock, and leaves the torn line for its owner to cut.
        assert_eq!(EventLog::read(&path).expect("read"), vec![event("a")]);
        assert!(std::fs::read(&path).expect("bytes").ends_with(b"revo"));
        drop(log);
        let (_, events) = EventLog::open(&path).expect("free once the first closes");
        assert_eq!(events, vec![event("a")]);
    }

    #[test]
    fn a_corrupt_complete_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("events.jsonl");
        let mut buf = Vec::new();
        EventLog::encode([event("a")], &mut buf);
        buf.extend_from_slice(b"not json\n");
        std::fs::write(&path, &buf).expect("write");
        let err = EventLog::open(&path).expect_err("corrupt");
        assert!(matches!(err, EventLogError::Corrupt { line: 2, .. }), "{err}");
    }
}
