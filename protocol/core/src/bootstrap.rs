//! The bootstrap channel's two messages (SPEC.md §2).
//!
//! The scheduler writes one [`Offer`] line to the launched job's standard input; the job answers
//! with one [`KeyReply`] line on its standard output. The channel is the launch mechanism itself
//! (a child's pipes locally, `ssh host cmd` remotely), which is what authenticates the answer:
//! only the process the scheduler launched can write to it.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, WorkflowId};
use crate::keys::{KeyError, PublicKey};

/// Version of the bootstrap messages.
pub const BOOTSTRAP_VERSION: u8 = 1;
/// Longest line either side may send, newline included.
pub const MAX_BOOTSTRAP_LINE: usize = 1024;

/// Why a bootstrap line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    /// The line (or what arrived before the limit) is longer than [`MAX_BOOTSTRAP_LINE`].
    #[error("bootstrap line longer than {MAX_BOOTSTRAP_LINE} bytes")]
    TooLong,
    /// The line is not UTF-8.
    #[error("bootstrap line is not UTF-8")]
    NotUtf8,
    /// The line is not the expected JSON object.
    #[error("bootstrap line is not a valid {expected} message: {detail}")]
    Malformed {
        /// Which message was expected.
        expected: &'static str,
        /// The parser's complaint (never contains key material: keys are public).
        detail: String,
    },
    /// The version field is not [`BOOTSTRAP_VERSION`].
    #[error("unsupported bootstrap version {0}")]
    Version(u8),
    /// The returned key is malformed or unsafe.
    #[error("job key refused: {0}")]
    BadKey(KeyError),
    /// The channel closed before a complete line arrived.
    #[error("bootstrap channel closed before the job answered")]
    Closed,
}

/// Scheduler → job: who the job is and how to reach the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Always [`BOOTSTRAP_VERSION`].
    pub v: u8,
    /// The job's identity.
    pub job: JobId,
    /// The workflow (also bound into the Noise prologue).
    pub workflow: WorkflowId,
    /// The scheduler's static public key, 64 hex digits.
    pub scheduler_key: String,
    /// Where the scheduler listens, `host:port`.
    pub address: String,
}

/// Job → scheduler: the job's freshly made public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyReply {
    /// Always [`BOOTSTRAP_VERSION`].
    pub v: u8,
    /// The job's static public key, 64 hex digits.
    pub job_key: String,
}

/// Scheduler → job, after the key: whether it was registered. The job must wait for this line
/// before connecting, so that its first handshake never races the registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Always [`BOOTSTRAP_VERSION`].
    pub v: u8,
    /// Whether the key is now bound to the job.
    pub registered: bool,
    /// Why not, when not (for the job's error message; contains no secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Registration {
    /// The key was registered.
    #[must_use]
    pub const fn accepted() -> Self {
        Self {
            v: BOOTSTRAP_VERSION,
            registered: true,
            reason: None,
        }
    }

    /// The key was refused, for `reason`.
    #[must_use]
    pub fn refused(reason: String) -> Self {
        Self {
            v: BOOTSTRAP_VERSION,
            registered: false,
            reason: Some(reason),
        }
    }
}

/// Decodes the registration line (job side).
///
/// # Errors
/// A [`BootstrapError`] naming the problem.
pub fn decode_registration(line: &[u8]) -> Result<Registration, BootstrapError> {
    let reg: Registration = decode(line, "registration")?;
    if reg.v != BOOTSTRAP_VERSION {
        return Err(BootstrapError::Version(reg.v));
    }
    Ok(reg)
}

impl Offer {
    /// Builds an offer.
    #[must_use]
    pub fn new(job: JobId, scheduler_key: PublicKey, address: String) -> Self {
        Self {
            v: BOOTSTRAP_VERSION,
            workflow: job.workflow().clone(),
            job,
            scheduler_key: scheduler_key.to_hex(),
            address,
        }
    }

    /// The scheduler key, validated.
    ///
    /// # Errors
    /// [`BootstrapError::BadKey`].
    pub fn scheduler_key(&self) -> Result<PublicKey, BootstrapError> {
        PublicKey::from_hex(&self.scheduler_key).map_err(BootstrapError::BadKey)
    }
}

impl KeyReply {
    /// Builds a reply.
    #[must_use]
    pub fn new(job_key: PublicKey) -> Self {
        Self {
            v: BOOTSTRAP_VERSION,
            job_key: job_key.to_hex(),
        }
    }
}

/// Encodes a bootstrap message as one JSON line with its newline.
#[must_use]
pub fn encode_line<T: Serialize>(message: &T) -> String {
    // Serialising these plain structs cannot fail; fall back to an empty object, which the peer
    // refuses, rather than panic.
    let mut line = serde_json::to_string(message).unwrap_or_else(|_| String::from("{}"));
    line.push('\n');
    line
}

fn decode<'a, T: Deserialize<'a>>(line: &'a [u8], expected: &'static str) -> Result<T, BootstrapError> {
    if line.len() > MAX_BOOTSTRAP_LINE {
        return Err(BootstrapError::TooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| BootstrapError::NotUtf8)?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| BootstrapError::Malformed {
        expected,
        detail: e.to_string(),
    })
}

/// Decodes an offer line (job side).
///
/// # Errors
/// A [`BootstrapError`] naming the problem.
pub fn decode_offer(line: &[u8]) -> Result<Offer, BootstrapError> {
    let offer: Offer = decode(line, "offer")?;
    if offer.v != BOOTSTRAP_VERSION {
        return Err(BootstrapError::Version(offer.v));
    }
    if offer.job.workflow() != &offer.workflow {
        return Err(BootstrapError::Malformed {
            expected: "offer",
            detail: "job and workflow disagree".into(),
        });
    }
    offer.scheduler_key()?;
    Ok(offer)
}

/// Decodes a key reply (scheduler side) and returns the key's bytes.
///
/// Only the encoding is checked here; whether the key is safe to register is the registry's
/// named check (`KeyValidation`), so that the model can remove it.
///
/// # Errors
/// A [`BootstrapError`] naming the problem.
pub fn decode_key_reply(line: &[u8]) -> Result<[u8; 32], BootstrapError> {
    let reply: KeyReply = decode(line, "key reply")?;
    if reply.v != BOOTSTRAP_VERSION {
        return Err(BootstrapError::Version(reply.v));
    }
    let mut key = [0u8; 32];
    if reply.job_key.len() != 64 || hex::decode_to_slice(&reply.job_key, &mut key).is_err() {
        return Err(BootstrapError::BadKey(KeyError::NotHex(reply.job_key.chars().count())));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::StaticKeypair;

    fn job() -> JobId {
        JobId::new(WorkflowId::new("alice", "wf").expect("valid"), "1", "a", 1).expect("valid")
    }

    #[test]
    fn offer_and_reply_round_trip_as_single_lines() {
        let sched = StaticKeypair::generate_from_os();
        let offer = Offer::new(job(), sched.public(), "127.0.0.1:4000".into());
        let line = encode_line(&offer);
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(decode_offer(line.as_bytes()), Ok(offer));
        let key = StaticKeypair::generate_from_os().public();
        assert_eq!(
            decode_key_reply(encode_line(&KeyReply::new(key)).as_bytes()),
            Ok(*key.as_bytes())
        );
    }

    #[test]
    fn registration_lines_round_trip() {
        for reg in [
            Registration::accepted(),
            Registration::refused("key already registered".into()),
        ] {
            assert_eq!(decode_registration(encode_line(&reg).as_bytes()), Ok(reg));
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_too_long() {
        let key = StaticKeypair::generate_from_os().public();
        let reply = encode_line(&KeyReply::new(key));
        // JSON allows spaces before the newline: pad the reply to exactly the limit.
        let pad = |n: usize| format!("{}{}\n", reply.trim_end(), " ".repeat(n - reply.len()));
        let exact = pad(MAX_BOOTSTRAP_LINE);
        assert_eq!(exact.len(), MAX_BOOTSTRAP_LINE);
        assert_eq!(decode_key_reply(exact.as_bytes()), Ok(*key.as_bytes()));
        let over = pad(MAX_BOOTSTRAP_LINE + 1);
        assert_eq!(decode_key_reply(over.as_bytes()), Err(BootstrapError::TooLong));
    }

    #[test]
    fn garbage_oversize_and_unknown_fields_are_refused() {
        assert!(matches!(
            decode_key_reply(b"hello\n"),
            Err(BootstrapError::Malformed { .. })
        ));
        assert_eq!(
            decode_key_reply(&[b'x'; MAX_BOOTSTRAP_LINE + 1]),
            Err(BootstrapError::TooLong)
        );
        assert_eq!(decode_key_reply(b"\xff\xfe\n"), Err(BootstrapError::NotUtf8));
        let extra = format!("{{\"v\":1,\"job_key\":\"{}\",\"job\":\"x\"}}\n", "11".repeat(32));
        assert!(matches!(
            decode_key_reply(extra.as_bytes()),
            Err(BootstrapError::Malformed { .. })
        ));
        let v2 = format!("{{\"v\":2,\"job_key\":\"{}\"}}\n", "11".repeat(32));
        assert_eq!(decode_key_reply(v2.as_bytes()), Err(BootstrapError::Version(2)));
        let short = "{\"v\":1,\"job_key\":\"abcd\"}\n";
        assert!(matches!(
            decode_key_reply(short.as_bytes()),
            Err(BootstrapError::BadKey(_))
        ));
    }
}
