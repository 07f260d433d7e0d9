//! The audit log: append-only, one record per attempt (allowed or denied), written and fsynced
//! before the effect, MAC-chained and anchored so that tampering is detected.
//!
//! * Records and their human lines: [`AuditRecord`] (fields escaped: `audit-escaping`).
//! * The chain, the key and the head anchor: [`AuditKey`]; format in the `chain` module docs.
//! * Writing: [`AuditWriter::append`] returns only once the record and the head are fsynced
//!   (`audit-before-effect`): act on `Ok`, never before. [`MemoryLog`] is the same chain in
//!   memory, for models.
//! * Checking: [`verify`] gives the record count, or the first bad record and why.
//!
//! **The key.** A 32-byte HMAC-SHA256 key in a file of 64 hex digits, mode 600, owned by the
//! account that runs the gateway, given by path to [`AuditWriter::open`] and to
//! `threatcheck audit verify --key-file`. It is never written to the log or the head, and
//! [`AuditKey`]'s `Debug` is redacted. Whoever holds it can forge a whole log; keep it
//! outside the log's directory, and give verifiers (auditors) a copy rather than write
//! access to the log.
//!
//! **The anchor.** A MAC chain alone cannot show that its tail was cut off. After each record
//! the writer replaces `LOG.head` (write to a temporary file, fsync, rename, fsync the
//! directory) with the record count and last MAC, themselves MACed. [`verify`] refuses a log
//! shorter than its head, a head that does not match the log, a forged head, and a missing
//! head. A crash between fsyncing a record and its head leaves the log one record ahead: that
//! record verifies (it needs the key to make) and is reported as unanchored; the writer
//! re-anchors it on open. What the anchor cannot stop is an attacker who can write both the
//! log and the head rolling both back to an older copy they kept, or deleting both (which looks
//! like a new log): put the head where the log's writers cannot write (another account's
//! directory, or ship it off the host) if that matters. One writer per log: it takes no lock.

mod chain;
mod record;
mod time;
mod writer;

use std::path::{Path, PathBuf};

pub use chain::{AuditKey, AuditKeyError};
pub use record::{Actor, AuditEvent, AuditRecord, CommandVerdict, DefenceAction, Outcome, escape};
pub use time::rfc3339;
pub use writer::{AuditError, AuditSink, AuditWriter, MemoryLog, Receipt};

use crate::checks::{PeopleCheck, PeopleDefences};

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BadReason {
    /// The line is not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// The line has no valid `[#N MAC]` trailer: a line added by hand, or one field's text
    /// broken onto a line of its own.
    #[error("not an audit record (no [#N MAC] trailer): a forged or mangled line")]
    NotARecord,
    /// The sequence number is not the line's position.
    #[error("sequence number {found} out of place: records were removed, reordered or inserted")]
    OutOfSequence {
        /// The number in the trailer.
        found: u64,
    },
    /// The MAC does not match.
    #[error("MAC mismatch: the record was edited, or records before it were removed, reordered or inserted")]
    MacMismatch,
    /// The last line has no newline: a write was cut short.
    #[error("incomplete last line (a write cut short)")]
    Incomplete,
    /// The log ends before the head says it does.
    #[error("missing: the head anchors {anchored} records, the log was truncated")]
    Missing {
        /// Records the head accounts for.
        anchored: u64,
    },
    /// More than one record after the head's count.
    #[error("beyond the anchor: the head anchors only {anchored} records")]
    BeyondAnchor {
        /// Records the head accounts for.
        anchored: u64,
    },
    /// The record the head anchors has a different MAC than the head says.
    #[error("does not match the head's MAC: the log was replaced or rewritten")]
    AnchorMismatch,
}

/// What is wrong with the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum HeadProblem {
    /// There is none (so truncation cannot be ruled out).
    #[error("missing: truncation of the log cannot be ruled out")]
    Missing,
    /// It is not in the head format.
    #[error("malformed")]
    Malformed,
    /// Its MAC is wrong: it was edited or forged.
    #[error("MAC mismatch: the head was edited or forged")]
    TagMismatch,
}

/// Why a log did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuditVerifyError {
    /// The log could not be read.
    #[error("{path}: cannot read: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The first bad record (1-based: the line number).
    #[error("record {record}: {reason}")]
    BadRecord {
        /// Its number.
        record: u64,
        /// Why.
        reason: BadReason,
    },
    /// The head is missing, malformed or forged.
    #[error("head {path}: {problem}")]
    Head {
        /// The head file.
        path: String,
        /// Why.
        problem: HeadProblem,
    },
}

impl AuditVerifyError {
    /// The check that caught the tampering (`None` when the log is not a log at all: not
    /// UTF-8, not records, or unreadable).
    #[must_use]
    pub const fn check(&self) -> Option<PeopleCheck> {
        match self {
            Self::BadRecord { reason, .. } => match reason {
                BadReason::OutOfSequence { .. } | BadReason::MacMismatch | BadReason::Incomplete => {
                    Some(PeopleCheck::AuditChain)
                }
                BadReason::Missing { .. } | BadReason::BeyondAnchor { .. } | BadReason::AnchorMismatch => {
                    Some(PeopleCheck::AuditAnchor)
                }
                BadReason::NotUtf8 | BadReason::NotARecord => None,
            },
            Self::Head { .. } => Some(PeopleCheck::AuditAnchor),
            Self::Io { .. } => None,
        }
    }
}

/// A verified log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifyReport {
    /// Records in the log.
    pub records: u64,
    /// Records after the head's count (0, or 1 after a crash between record and head).
    pub unanchored: u64,
}

/// The head file of a log: `LOG.head`.
#[must_use]
pub fn default_head_path(log: &Path) -> PathBuf {
    let mut p = log.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}

/// Checks a log's bytes against its head's text (pure). `head_name` names the head in errors.
///
/// # Errors
/// [`AuditVerifyError::BadRecord`] or [`AuditVerifyError::Head`].
pub fn check(
    key: &AuditKey,
    defences: &PeopleDefences,
    log: &[u8],
    head: Option<&str>,
    head_name: &str,
) -> Result<VerifyReport, AuditVerifyError> {
    let scan = chain::scan(key, defences.is_on(PeopleCheck::AuditChain), log)
        .map_err(|(record, reason)| AuditVerifyError::BadRecord { record, reason })?;
    let count = scan.count();
    if scan.partial {
        return Err(AuditVerifyError::BadRecord {
            record: count + 1,
            reason: BadReason::Incomplete,
        });
    }
    if !defences.is_on(PeopleCheck::AuditAnchor) {
        return Ok(VerifyReport {
            records: count,
            unanchored: 0,
        });
    }
    let head_err = |problem| AuditVerifyError::Head {
        path: head_name.to_owned(),
        problem,
    };
    let (anchored, last) =
        chain::parse_head(key, head.ok_or_else(|| head_err(HeadProblem::Missing))?).map_err(head_err)?;
    if count < anchored {
        return Err(AuditVerifyError::BadRecord {
            record: count + 1,
            reason: BadReason::Missing { anchored },
        });
    }
    if count > anchored.saturating_add(1) {
        return Err(AuditVerifyError::BadRecord {
            record: anchored + 2,
            reason: BadReason::BeyondAnchor { anchored },
        });
    }
    let at = usize::try_from(anchored).unwrap_or(usize::MAX);
    if scan.macs.get(at) != Some(&last) {
        return Err(AuditVerifyError::BadRecord {
            record: anchored,
            reason: BadReason::AnchorMismatch,
        });
    }
    Ok(VerifyReport {
        records: count,
        unanchored: count - anchored,
    })
}

/// Verifies the log at `path` against `path.head` with every defence; gives the record count.
///
/// # Errors
/// [`AuditVerifyError`]: the first bad record and why, or a head problem, or an I/O error.
pub fn verify(path: &Path, key: &AuditKey) -> Result<usize, AuditVerifyError> {
    let report = verify_with(path, &default_head_path(path), key, &PeopleDefences::all())?;
    Ok(usize::try_from(report.records).unwrap_or(usize::MAX))
}

/// Verifies the log at `path` against the head at `head` with the given defences.
///
/// # Errors
/// As [`verify`].
pub fn verify_with(
    path: &Path,
    head: &Path,
    key: &AuditKey,
    defences: &PeopleDefences,
) -> Result<VerifyReport, AuditVerifyError> {
    let log = std::fs::read(path).map_err(|e| AuditVerifyError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let head_text = match std::fs::read_to_string(head) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(AuditVerifyError::Io {
                path: head.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    check(key, defences, &log, head_text.as_deref(), &head.display().to_string())
}
