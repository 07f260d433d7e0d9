//! The MAC chain: the key, the line and head formats, and checking a log's text (pure).
//!
//! Line `n` (from 1) of a log is `HUMAN [#n MAC]`, where
//! `MAC = HMAC-SHA256(key, "threatcheck-audit-v1\0" ‖ MAC(n-1) ‖ n (u64 BE) ‖ HUMAN)` and
//! `MAC(0)` is 32 zero bytes (check `audit-chain`). Editing a line breaks its MAC; deleting,
//! reordering or inserting lines breaks the next line's link; a line injected by hand has no
//! valid trailer at all. Cutting lines off the end leaves a valid chain, so the writer also
//! keeps a head file (check `audit-anchor`):
//! `threatcheck-audit-head v1 COUNT LAST-MAC TAG`, `TAG = HMAC(key, "threatcheck-audit-head-v1\0"
//! ‖ COUNT (u64 BE) ‖ LAST-MAC)`, replaced atomically and fsynced after every record.

use std::fmt;
use std::path::Path;

use hmac::digest::generic_array::GenericArray;
use hmac::{Hmac, Mac};
use rand_core::CryptoRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{BadReason, HeadProblem};

/// A MAC.
pub(crate) type Tag = [u8; 32];

/// The audit MAC key: 32 bytes, kept in a file of 64 hex digits readable only by its owner.
/// Never written into the log; zeroised on drop; `Debug` shows nothing of it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AuditKey([u8; 32]);

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuditKeyError {
    /// It could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// It is not 64 hex digits.
    #[error("{path}: an audit key file must hold 64 hex digits (32 bytes)")]
    Format {
        /// The file.
        path: String,
    },
    /// Others than its owner may read or write it.
    #[error("{path}: key file mode {mode:o} lets others read it; chmod 600")]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

impl AuditKey {
    /// A key from bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key.
    #[must_use]
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut k = Self([0; 32]);
        rng.fill_bytes(&mut k.0);
        k
    }

    /// Reads a key file (64 hex digits, surrounding whitespace ignored), refusing one that
    /// group or others may access.
    ///
    /// # Errors
    /// [`AuditKeyError`].
    pub fn from_file(path: &Path) -> Result<Self, AuditKeyError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| AuditKeyError::Io {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(AuditKeyError::TooOpen { path: shown, mode });
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        let mut key = Self([0; 32]);
        hex::decode_to_slice(text.trim(), &mut key.0).map_err(|_| AuditKeyError::Format { path: shown })?;
        Ok(key)
    }

    /// Makes a new key file (mode 600; refuses to overwrite) and returns the key.
    ///
    /// # Errors
    /// [`AuditKeyError::Io`].
    pub fn create_file(path: &Path, rng: &mut impl CryptoRngCore) -> Result<Self, AuditKeyError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |e: std::io::Error| AuditKeyError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let key = Self::generate(rng);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(key.0)));
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(key)
    }

    pub(crate) fn mac(&self, parts: &[&[u8]]) -> Tag {
        // HMAC pads a short key with zeros to the block size, so this is HMAC with our key.
        let mut block = Zeroizing::new([0u8; 64]);
        block[..32].copy_from_slice(&self.0);
        let mut m = <Hmac<Sha256> as Mac>::new(GenericArray::from_slice(block.as_slice()));
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

impl PartialEq for AuditKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for AuditKey {}

impl std::hash::Hash for AuditKey {
    /// Hashes nothing: equal keys hash alike, and no key material reaches a hasher.
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// The MAC of record `seq` with text `human` after `prev`.
pub(crate) fn record_mac(key: &AuditKey, chained: bool, prev: &Tag, seq: u64, human: &str) -> Tag {
    if chained {
        key.mac(&[b"threatcheck-audit-v1\0", prev, &seq.to_be_bytes(), human.as_bytes()])
    } else {
        key.mac(&[b"threatcheck-audit-v1\0", human.as_bytes()])
    }
}

/// A full log line, with its newline.
pub(crate) fn line(human: &str, seq: u64, mac: &Tag) -> String {
    format!("{human} [#{seq} {}]\n", hex::encode(mac))
}

/// The head's text for `count` records ending in `last`.
pub(crate) fn head_text(key: &AuditKey, count: u64, last: &Tag) -> String {
    let tag = key.mac(&[b"threatcheck-audit-head-v1\0", &count.to_be_bytes(), last]);
    format!(
        "threatcheck-audit-head v1 {count} {} {}\n",
        hex::encode(last),
        hex::encode(tag)
    )
}

/// Parses and authenticates a head.
pub(crate) fn parse_head(key: &AuditKey, text: &str) -> Result<(u64, Tag), HeadProblem> {
    let mut words = text.trim_end_matches('\n').split(' ');
    let (Some("threatcheck-audit-head"), Some("v1"), Some(count), Some(last), Some(tag), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return Err(HeadProblem::Malformed);
    };
    let count: u64 = count.parse().map_err(|_| HeadProblem::Malformed)?;
    let mut last_b = [0u8; 32];
    let mut tag_b = [0u8; 32];
    hex::decode_to_slice(last, &mut last_b).map_err(|_| HeadProblem::Malformed)?;
    hex::decode_to_slice(tag, &mut tag_b).map_err(|_| HeadProblem::Malformed)?;
    let want = key.mac(&[b"threatcheck-audit-head-v1\0", &count.to_be_bytes(), &last_b]);
    if !bool::from(want.ct_eq(&tag_b)) {
        return Err(HeadProblem::TagMismatch);
    }
    Ok((count, last_b))
}

/// A log's text, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// `macs[i]` is the MAC after `i` records (`macs[0]` is the zero MAC).
    pub(crate) macs: Vec<Tag>,
    /// Bytes up to the end of the last complete line.
    pub(crate) complete_len: usize,
    /// Whether bytes follow the last newline (a write cut short).
    pub(crate) partial: bool,
}

impl Scan {
    pub(crate) fn count(&self) -> u64 {
        u64::try_from(self.macs.len().saturating_sub(1)).unwrap_or(u64::MAX)
    }

    pub(crate) fn last(&self) -> Tag {
        self.macs.last().copied().unwrap_or([0; 32])
    }
}

fn parse_line(line: &str) -> Option<(&str, u64, Tag)> {
    let (human, trailer) = line.rsplit_once(" [#")?;
    let (seq, mac) = trailer.strip_suffix(']')?.split_once(' ')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq = seq.parse().ok()?;
    let mut tag = [0u8; 32];
    hex::decode_to_slice(mac, &mut tag).ok()?;
    Some((human, seq, tag))
}

/// Checks every complete line of a log; the error is the first bad record (1-based) and why.
pub(crate) fn scan(key: &AuditKey, chained: bool, bytes: &[u8]) -> Result<Scan, (u64, BadReason)> {
    let mut macs: Vec<Tag> = vec![[0; 32]];
    let mut offset = 0;
    let mut seq: u64 = 0;
    while let Some(nl) = bytes[offset..].iter().position(|&b| b == b'\n') {
        seq += 1;
        let raw = &bytes[offset..offset + nl];
        offset += nl + 1;
        let text = std::str::from_utf8(raw).map_err(|_| (seq, BadReason::NotUtf8))?;
        let (human, found, tag) = parse_line(text).ok_or((seq, BadReason::NotARecord))?;
        if chained && found != seq {
            return Err((seq, BadReason::OutOfSequence { found }));
        }
        let prev = macs.last().copied().unwrap_or([0; 32]);
        let want = record_mac(key, chained, &prev, found, human);
        if !bool::from(want.ct_eq(&tag)) {
            return Err((seq, BadReason::MacMismatch));
        }
        macs.push(tag);
    }
    Ok(Scan {
        macs,
        complete_len: offset,
        partial: offset < bytes.len(),
    })
}
