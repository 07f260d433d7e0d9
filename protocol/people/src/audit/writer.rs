//! Appending records: to a file ([`AuditWriter`], fsynced before `append` returns) or to memory
//! ([`MemoryLog`], the same chain for models and tests).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::chain::{self, AuditKey, Tag};
use super::{AuditRecord, AuditVerifyError, BadReason, VerifyReport, check, default_head_path};
use crate::checks::{PeopleCheck, PeopleDefences};

/// Proof that a record is durable: the effect it records may now happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "act only after the record is durable, and only with its receipt"]
pub struct Receipt {
    /// The record's number (1-based).
    pub record: u64,
}

/// Why a record could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuditError {
    /// Reading, writing or syncing failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The existing log does not verify; it is not extended.
    #[error("the existing audit log does not verify: {0}")]
    Corrupt(AuditVerifyError),
    /// An earlier write failed part-way; reopen the writer (which checks and repairs the log).
    #[error("an earlier audit write failed; reopen the log")]
    Poisoned,
}

/// Somewhere audit records go.
pub trait AuditSink {
    /// Appends a record; returns once it is durable.
    ///
    /// # Errors
    /// [`AuditError`]; the caller must not act.
    fn append(&mut self, record: &AuditRecord) -> Result<Receipt, AuditError>;
}

/// Records not yet written when `audit-before-effect` is removed (a write-behind buffer).
const WRITE_BEHIND: usize = 8;

/// Appends records to an audit log file and keeps its head anchor.
#[derive(Debug)]
pub struct AuditWriter {
    path: PathBuf,
    head: PathBuf,
    file: File,
    key: AuditKey,
    defences: PeopleDefences,
    count: u64,
    last: Tag,
    pending: Vec<String>,
    poisoned: bool,
}

fn io_err(path: &Path, e: &std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn write_head(head: &Path, text: &str) -> Result<(), AuditError> {
    let tmp = {
        let mut p = head.as_os_str().to_owned();
        p.push(".tmp");
        PathBuf::from(p)
    };
    // Private to the gateway's user, like the log (the head reveals the record count).
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_err(&tmp, &e))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err(&tmp, &e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_err(&tmp, &e))?;
    f.sync_all().map_err(|e| io_err(&tmp, &e))?;
    std::fs::rename(&tmp, head).map_err(|e| io_err(head, &e))?;
    let dir = match head.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err(dir, &e))
}

impl AuditWriter {
    /// Opens (or creates) the log at `path`, anchored by `path.head`, with every defence.
    ///
    /// # Errors
    /// [`AuditError::Corrupt`] if the existing log does not verify, [`AuditError::Io`].
    pub fn open(path: &Path, key: AuditKey) -> Result<Self, AuditError> {
        Self::open_with(path, &default_head_path(path), key, PeopleDefences::all())
    }

    /// Opens (or creates) a log with an explicit head path and defences. An existing log is
    /// verified first; a last line cut short by a crash, which no caller was told was written,
    /// is dropped, and a record fsynced but not yet anchored is anchored.
    ///
    /// # Errors
    /// As [`AuditWriter::open`].
    pub fn open_with(path: &Path, head: &Path, key: AuditKey, defences: PeopleDefences) -> Result<Self, AuditError> {
        let corrupt = AuditError::Corrupt;
        let head_text = match std::fs::read_to_string(head) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(head, &e)),
        };
        let (count, last) = match std::fs::read(path) {
            // A crash between creating the log and writing its first head leaves an empty log
            // and no head: nothing was ever recorded, so start afresh.
            Ok(bytes) if bytes.is_empty() && head_text.is_none() => {
                write_head(head, &chain::head_text(&key, 0, &[0; 32]))?;
                (0, [0; 32])
            }
            Ok(mut bytes) => {
                let chained = defences.is_on(PeopleCheck::AuditChain);
                let scan = chain::scan(&key, chained, &bytes)
                    .map_err(|(record, reason)| corrupt(AuditVerifyError::BadRecord { record, reason }))?;
                let partial = scan.partial;
                bytes.truncate(scan.complete_len);
                let report: VerifyReport = check(
                    &key,
                    &defences,
                    &bytes,
                    head_text.as_deref(),
                    &head.display().to_string(),
                )
                .map_err(corrupt)?;
                if partial {
                    // Only once the rest verifies: a torn last line no caller was told of.
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| io_err(path, &e))?;
                    let len = u64::try_from(scan.complete_len).unwrap_or(u64::MAX);
                    f.set_len(len)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| io_err(path, &e))?;
                }
                if report.unanchored > 0 || head_text.is_none() {
                    write_head(head, &chain::head_text(&key, scan.count(), &scan.last()))?;
                }
                (scan.count(), scan.last())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(text) = head_text {
                    // Only a head that authentically anchors nothing lets a missing log be made anew.
                    match chain::parse_head(&key, &text) {
                        Ok((0, _)) => {}
                        Ok((anchored, _)) => {
                            return Err(corrupt(AuditVerifyError::BadRecord {
                                record: 1,
                                reason: BadReason::Missing { anchored },
                            }));
                        }
                        Err(problem) => {
                            return Err(corrupt(AuditVerifyError::Head {
                                path: head.display().to_string(),
                                problem,
                            }));
                        }
                    }
                }
                File::options()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| io_err(path, &e))?;
                write_head(head, &chain::head_text(&key, 0, &[0; 32]))?;
                (0, [0; 32])
            }
            Err(e) => return Err(io_err(path, &e)),
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| io_err(path, &e))?;
        // A log made before logs were created private is made private now: its records name
        // people and what they did.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_err(path, &e))?;
        Ok(Self {
            path: path.to_owned(),
            head: head.to_owned(),
            file,
            key,
            defences,
            count,
            last,
            pending: Vec::new(),
            poisoned: false,
        })
    }

    /// Records in the log so far.
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    fn write_out(&mut self, text: &str, sync: bool) -> Result<(), AuditError> {
        self.file
            .write_all(text.as_bytes())
            .map_err(|e| io_err(&self.path, &e))?;
        if sync {
            self.file.sync_data().map_err(|e| io_err(&self.path, &e))?;
        }
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), AuditError> {
        let text: String = self.pending.drain(..).collect();
        self.write_out(&text, false)?;
        write_head(&self.head, &chain::head_text(&self.key, self.count, &self.last))
    }
}

impl AuditWriter {
    /// Writes the record, fsyncs it, replaces and fsyncs the head, then returns: act on `Ok`.
    /// Without `audit-before-effect` it buffers the record and returns at once (flushing every
    /// eight records, unsynced): the effect can then outrun its record.
    ///
    /// # Errors
    /// [`AuditError::Io`] (after which the writer is poisoned), [`AuditError::Poisoned`].
    pub fn append(&mut self, record: &AuditRecord) -> Result<Receipt, AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned);
        }
        let human = record.render(self.defences.is_on(PeopleCheck::AuditEscaping));
        let seq = self.count + 1;
        let mac = chain::record_mac(
            &self.key,
            self.defences.is_on(PeopleCheck::AuditChain),
            &self.last,
            seq,
            &human,
        );
        let line = chain::line(&human, seq, &mac);
        if !self.defences.is_on(PeopleCheck::AuditBeforeEffect) {
            self.pending.push(line);
            self.count = seq;
            self.last = mac;
            if self.pending.len() >= WRITE_BEHIND {
                self.flush_pending()?;
            }
            return Ok(Receipt { record: seq });
        }
        let written = self
            .write_out(&line, true)
            .and_then(|()| write_head(&self.head, &chain::head_text(&self.key, seq, &mac)));
        if let Err(e) = written {
            self.poisoned = true;
            return Err(e);
        }
        self.count = seq;
        self.last = mac;
        Ok(Receipt { record: seq })
    }
}

impl AuditSink for AuditWriter {
    fn append(&mut self, record: &AuditRecord) -> Result<Receipt, AuditError> {
        Self::append(self, record)
    }
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.flush_pending();
        }
    }
}

/// The audit chain in memory (sans-IO): what a model checks, and what tests compare against.
///
/// Durability follows [`AuditWriter`]'s: with every defence a record is durable when `push`
/// returns; without `audit-before-effect` records wait in a write-behind buffer (flushed every
/// eight records) that [`MemoryLog::crash`] loses, so a model can see an effect outrun its
/// record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryLog {
    key: AuditKey,
    defences: PeopleDefences,
    /// What the file holds: durable lines only.
    text: String,
    /// Lines written but not yet durable (only without `audit-before-effect`).
    pending: Vec<String>,
    count: u64,
    last: Tag,
    durable: u64,
    durable_last: Tag,
}

impl MemoryLog {
    /// An empty log.
    #[must_use]
    pub fn new(key: AuditKey, defences: PeopleDefences) -> Self {
        Self {
            key,
            defences,
            text: String::new(),
            pending: Vec::new(),
            count: 0,
            last: [0; 32],
            durable: 0,
            durable_last: [0; 32],
        }
    }

    /// The log's text, as the file would hold it (durable records only).
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The head's text, as the head file would hold it (anchoring the durable records).
    #[must_use]
    pub fn head(&self) -> String {
        chain::head_text(&self.key, self.durable, &self.durable_last)
    }

    /// The human lines of the durable records, without trailers.
    #[must_use]
    pub fn lines(&self) -> Vec<&str> {
        self.text
            .lines()
            .map(|l| l.rsplit_once(" [#").map_or(l, |(h, _)| h))
            .collect()
    }

    /// Records appended so far (durable or not).
    #[must_use]
    pub const fn records(&self) -> u64 {
        self.count
    }

    /// Records that are durable: a crash keeps exactly these. Equal to
    /// [`MemoryLog::records`] unless `audit-before-effect` was removed.
    #[must_use]
    pub const fn durable_records(&self) -> u64 {
        self.durable
    }

    /// A crash: records not yet durable are lost, and the chain continues from the last
    /// durable one (as [`AuditWriter::open_with`] would on restart).
    pub fn crash(&mut self) {
        self.pending.clear();
        self.count = self.durable;
        self.last = self.durable_last;
    }
}

impl AuditSink for MemoryLog {
    fn append(&mut self, record: &AuditRecord) -> Result<Receipt, AuditError> {
        Ok(self.push(record))
    }
}

impl MemoryLog {
    /// Appends a record (memory cannot fail).
    pub fn push(&mut self, record: &AuditRecord) -> Receipt {
        let human = record.render(self.defences.is_on(PeopleCheck::AuditEscaping));
        let seq = self.count + 1;
        let mac = chain::record_mac(
            &self.key,
            self.defences.is_on(PeopleCheck::AuditChain),
            &self.last,
            seq,
            &human,
        );
        self.pending.push(chain::line(&human, seq, &mac));
        self.count = seq;
        self.last = mac;
        if self.defences.is_on(PeopleCheck::AuditBeforeEffect) || self.pending.len() >= WRITE_BEHIND {
            self.text.extend(self.pending.drain(..));
            self.durable = seq;
            self.durable_last = mac;
        }
        Receipt { record: seq }
    }
}
