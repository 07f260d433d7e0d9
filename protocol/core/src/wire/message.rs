//! Typed, versioned messages carried in Noise transport frames (SPEC.md §5).
//!
//! Every message starts with a version byte, a kind byte and a big-endian `u64` sequence
//! number. Decoding is canonical: one byte string per message, no trailing bytes, so a message's
//! encoding can serve as its digest for de-duplication.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{IdError, JobId, Owner};

/// The only message version this implementation speaks.
pub const WIRE_VERSION: u8 = 1;
/// Largest `message` text, in bytes of UTF-8.
pub const MAX_MESSAGE_TEXT: usize = 1024;
/// Largest output name.
pub const MAX_OUTPUT_NAME: usize = 64;
/// Largest command target.
pub const MAX_TARGET: usize = 128;

mod kind {
    pub const STARTED: u8 = 0x01;
    pub const SUCCEEDED: u8 = 0x02;
    pub const FAILED: u8 = 0x03;
    pub const MESSAGE: u8 = 0x04;
    pub const OUTPUT: u8 = 0x05;
    pub const HEARTBEAT: u8 = 0x06;
    pub const COMMAND: u8 = 0x20;
    pub const ACK: u8 = 0x80;
    pub const REJECTED: u8 = 0x81;
}

/// Why a plaintext could not be decoded. The connection that sent it is closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// The message ended before a field did.
    #[error("message truncated: {field} needs {need} more bytes")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes still needed.
        need: usize,
    },
    /// The version byte is not [`WIRE_VERSION`].
    #[error("unsupported message version {0}")]
    UnsupportedVersion(u8),
    /// The kind byte names no message this direction carries.
    #[error("unknown message kind 0x{0:02x}")]
    UnknownKind(u8),
    /// Bytes followed a complete message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// Sequence numbers start at 1.
    #[error("sequence number 0 is not allowed")]
    ZeroSequence,
    /// A text or name field is not UTF-8.
    #[error("{0} is not valid UTF-8")]
    BadUtf8(&'static str),
    /// A length-limited field is too long.
    #[error("{field} of {len} bytes exceeds {max}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// Its limit.
        max: usize,
    },
    /// The claimed job id is malformed.
    #[error("bad job id: {0}")]
    BadJobId(IdError),
    /// The acting user of a command is malformed.
    #[error("bad actor: {0}")]
    BadActor(IdError),
    /// An output name is empty or has characters outside `[A-Za-z0-9_-]`.
    #[error("bad output name")]
    BadOutputName,
    /// A severity byte outside 0..=4.
    #[error("unknown severity {0}")]
    BadSeverity(u8),
    /// A failure kind other than exit (0) or signal (1), or an exit status of 0.
    #[error("bad failure reason")]
    BadFailReason,
    /// A command operation code this version does not define.
    #[error("unknown command operation {0}")]
    BadCommandOp(u8),
    /// A rejection code this version does not define.
    #[error("unknown rejection code {0}")]
    BadRejectCode(u8),
    /// Text contains a NUL or other C0 control other than tab and newline.
    #[error("{0} contains a control character")]
    ControlCharacter(&'static str),
}

/// Severity of a `message` (Cylc's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Severity {
    Debug = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Critical = 4,
}

impl Severity {
    fn from_u8(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0 => Self::Debug,
            1 => Self::Info,
            2 => Self::Warning,
            3 => Self::Error,
            4 => Self::Critical,
            other => return Err(DecodeError::BadSeverity(other)),
        })
    }
}

/// How a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailReason {
    /// Exited with this status. A status of 0 is success and is refused by the decoder.
    Exit(u8),
    /// Killed by this signal number.
    Signal(u8),
}

/// A task output name: 1 to 64 bytes of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OutputName(String);

impl OutputName {
    /// Validates an output name.
    ///
    /// # Errors
    /// [`DecodeError::BadOutputName`] or [`DecodeError::TooLong`].
    pub fn new(s: &str) -> Result<Self, DecodeError> {
        if s.len() > MAX_OUTPUT_NAME {
            return Err(DecodeError::TooLong {
                field: "output name",
                len: s.len(),
                max: MAX_OUTPUT_NAME,
            });
        }
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(DecodeError::BadOutputName);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OutputName {
    type Error = DecodeError;

    fn try_from(s: String) -> Result<Self, DecodeError> {
        Self::new(&s)
    }
}

impl From<OutputName> for String {
    fn from(o: OutputName) -> Self {
        o.0
    }
}

impl fmt::Display for OutputName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a job reports. These six are the only things a job may ever send.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobBody {
    /// The job began running.
    Started,
    /// The job finished successfully (terminal).
    Succeeded,
    /// The job failed (terminal).
    Failed(FailReason),
    /// A bounded, free-text message.
    Message {
        /// How serious.
        severity: Severity,
        /// At most [`MAX_MESSAGE_TEXT`] bytes; tab and newline are the only controls allowed.
        text: String,
    },
    /// A custom task output was completed.
    Output(OutputName),
    /// The job is alive.
    Heartbeat,
}

impl JobBody {
    /// Cylc's name for the message kind.
    #[must_use]
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed(_) => "failed",
            Self::Message { .. } => "message",
            Self::Output(_) => "output",
            Self::Heartbeat => "heartbeat",
        }
    }
}

/// A job's message: its sequence number, the job it claims to come from, and the body.
///
/// The claim is only ever compared with the identity bound to the sender's authenticated key;
/// the scheduler never learns who sent a message from the claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobMessage {
    /// Per-job sequence number, from 1, one more for each new message.
    pub seq: u64,
    /// The job the sender says it is.
    pub claim: JobId,
    /// What it reports.
    pub body: JobBody,
}

/// Operations a UI server may ask a scheduler to perform (Cylc's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum CommandOp {
    Hold = 1,
    Release = 2,
    Pause = 3,
    Resume = 4,
    Stop = 5,
    Kill = 6,
    Trigger = 7,
    Poll = 8,
    Broadcast = 9,
    Reload = 10,
    EditTrigger = 11,
}

impl CommandOp {
    /// Every operation, in code order.
    pub const ALL: [Self; 11] = [
        Self::Hold,
        Self::Release,
        Self::Pause,
        Self::Resume,
        Self::Stop,
        Self::Kill,
        Self::Trigger,
        Self::Poll,
        Self::Broadcast,
        Self::Reload,
        Self::EditTrigger,
    ];

    fn from_u8(b: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|op| *op as u8 == b)
            .ok_or(DecodeError::BadCommandOp(b))
    }

    /// Cylc's name for the operation.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Release => "release",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Stop => "stop",
            Self::Kill => "kill",
            Self::Trigger => "trigger",
            Self::Poll => "poll",
            Self::Broadcast => "broadcast",
            Self::Reload => "reload",
            Self::EditTrigger => "edit-trigger",
        }
    }
}

/// A command from a UI server, on behalf of a person it has authenticated and authorised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientCommand {
    /// Per-client sequence number, from 1.
    pub seq: u64,
    /// The person on whose behalf the command is sent.
    pub actor: Owner,
    /// What to do.
    pub op: CommandOp,
    /// What to do it to (`cycle/task`, a cycle, or `*`), at most [`MAX_TARGET`] bytes.
    pub target: String,
}

/// Anything a peer may send a scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Message {
    /// A job's report.
    Job(JobMessage),
    /// A UI server's command. Never accepted from a job's key.
    Command(ClientCommand),
}

impl Message {
    /// The sequence number.
    #[must_use]
    pub const fn seq(&self) -> u64 {
        match self {
            Self::Job(m) => m.seq,
            Self::Command(c) => c.seq,
        }
    }

    /// Cylc's name for the kind of message.
    #[must_use]
    pub const fn kind_name(&self) -> &'static str {
        match self {
            Self::Job(m) => m.body.kind_name(),
            Self::Command(c) => c.op.name(),
        }
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Job(m) => {
                let kind = match &m.body {
                    JobBody::Started => kind::STARTED,
                    JobBody::Succeeded => kind::SUCCEEDED,
                    JobBody::Failed(_) => kind::FAILED,
                    JobBody::Message { .. } => kind::MESSAGE,
                    JobBody::Output(_) => kind::OUTPUT,
                    JobBody::Heartbeat => kind::HEARTBEAT,
                };
                header(out, kind, m.seq);
                short_str(out, m.claim.as_str());
                match &m.body {
                    JobBody::Started | JobBody::Succeeded | JobBody::Heartbeat => {}
                    JobBody::Failed(FailReason::Exit(code)) => out.extend_from_slice(&[0, *code]),
                    JobBody::Failed(FailReason::Signal(sig)) => out.extend_from_slice(&[1, *sig]),
                    JobBody::Message { severity, text } => {
                        out.push(*severity as u8);
                        // Text longer than u16 cannot be built through the decoder; truncating
                        // here keeps encode total and the decoder refuses the result.
                        let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
                        out.extend_from_slice(&len.to_be_bytes());
                        out.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
                    }
                    JobBody::Output(name) => short_str(out, name.as_str()),
                }
            }
            Self::Command(c) => {
                header(out, kind::COMMAND, c.seq);
                short_str(out, c.actor.as_str());
                out.push(c.op as u8);
                short_str(out, &c.target);
            }
        }
    }

    /// The canonical encoding as a new vector.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.encode(&mut out);
        out
    }

    /// Decodes one message, refusing anything non-canonical.
    ///
    /// # Errors
    /// The first [`DecodeError`] found.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(bytes);
        let (kind_byte, seq) = r.header()?;
        let message = match kind_byte {
            kind::STARTED..=kind::HEARTBEAT => {
                let claim: JobId = r.short_str("job id")?.parse().map_err(DecodeError::BadJobId)?;
                let body = match kind_byte {
                    kind::STARTED => JobBody::Started,
                    kind::SUCCEEDED => JobBody::Succeeded,
                    kind::FAILED => JobBody::Failed(match r.array::<2>("failure reason")? {
                        [0, code] if code != 0 => FailReason::Exit(code),
                        [1, sig] => FailReason::Signal(sig),
                        _ => return Err(DecodeError::BadFailReason),
                    }),
                    kind::MESSAGE => {
                        let severity = Severity::from_u8(r.array::<1>("severity")?[0])?;
                        let len = usize::from(u16::from_be_bytes(r.array::<2>("text length")?));
                        if len > MAX_MESSAGE_TEXT {
                            return Err(DecodeError::TooLong {
                                field: "message text",
                                len,
                                max: MAX_MESSAGE_TEXT,
                            });
                        }
                        let text = r.utf8(len, "message text")?;
                        if text.chars().any(|c| c.is_control() && c != '\t' && c != '\n') {
                            return Err(DecodeError::ControlCharacter("message text"));
                        }
                        JobBody::Message {
                            severity,
                            text: text.to_owned(),
                        }
                    }
                    kind::OUTPUT => JobBody::Output(OutputName::new(r.short_str("output name")?)?),
                    _ => JobBody::Heartbeat,
                };
                Self::Job(JobMessage { seq, claim, body })
            }
            kind::COMMAND => {
                let actor = Owner::new(r.short_str("actor")?).map_err(DecodeError::BadActor)?;
                let op = CommandOp::from_u8(r.array::<1>("operation")?[0])?;
                let target = r.short_str("target")?;
                if target.len() > MAX_TARGET {
                    return Err(DecodeError::TooLong {
                        field: "target",
                        len: target.len(),
                        max: MAX_TARGET,
                    });
                }
                if target.chars().any(char::is_control) {
                    return Err(DecodeError::ControlCharacter("target"));
                }
                Self::Command(ClientCommand {
                    seq,
                    actor,
                    op,
                    target: target.to_owned(),
                })
            }
            other => return Err(DecodeError::UnknownKind(other)),
        };
        r.finish()?;
        Ok(message)
    }
}

/// Why the scheduler refused a message, as carried on the wire. Codes are stable; serialised as
/// [`RejectCode::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum RejectCode {
    UnknownKey = 1,
    RevokedKey = 2,
    IdentityMismatch = 3,
    SequenceGap = 4,
    ReplayedSequence = 5,
    TypeNotAllowed = 6,
    InvalidTransition = 7,
    NotPermitted = 8,
    OverQuota = 9,
}

impl RejectCode {
    const ALL: [Self; 9] = [
        Self::UnknownKey,
        Self::RevokedKey,
        Self::IdentityMismatch,
        Self::SequenceGap,
        Self::ReplayedSequence,
        Self::TypeNotAllowed,
        Self::InvalidTransition,
        Self::NotPermitted,
        Self::OverQuota,
    ];

    /// The stable kebab-case name (`sequence-gap`), the one spelling every report, HTTP answer
    /// and harness uses.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownKey => "unknown-key",
            Self::RevokedKey => "revoked-key",
            Self::IdentityMismatch => "identity-mismatch",
            Self::SequenceGap => "sequence-gap",
            Self::ReplayedSequence => "replayed-sequence",
            Self::TypeNotAllowed => "type-not-allowed",
            Self::InvalidTransition => "invalid-transition",
            Self::NotPermitted => "not-permitted",
            Self::OverQuota => "over-quota",
        }
    }

    fn from_u8(b: u8) -> Result<Self, DecodeError> {
        Self::ALL
            .into_iter()
            .find(|c| *c as u8 == b)
            .ok_or(DecodeError::BadRejectCode(b))
    }
}

/// What a scheduler answers to each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reply {
    /// The message with this sequence number is durable (or was a duplicate of one that is).
    Ack {
        /// Its sequence number.
        seq: u64,
    },
    /// The message was refused and will never take effect; do not resend it.
    Rejected {
        /// Its sequence number.
        seq: u64,
        /// Why.
        code: RejectCode,
    },
}

impl Reply {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Ack { seq } => header(out, kind::ACK, seq),
            Self::Rejected { seq, code } => {
                header(out, kind::REJECTED, seq);
                out.push(code as u8);
            }
        }
    }

    /// Decodes one reply.
    ///
    /// # Errors
    /// The first [`DecodeError`] found.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader(bytes);
        let reply = match r.header()? {
            (kind::ACK, seq) => Self::Ack { seq },
            (kind::REJECTED, seq) => Self::Rejected {
                seq,
                code: RejectCode::from_u8(r.array::<1>("code")?[0])?,
            },
            (other, _) => return Err(DecodeError::UnknownKind(other)),
        };
        r.finish()?;
        Ok(reply)
    }
}

fn header(out: &mut Vec<u8>, kind: u8, seq: u64) {
    out.push(WIRE_VERSION);
    out.push(kind);
    out.extend_from_slice(&seq.to_be_bytes());
}

fn short_str(out: &mut Vec<u8>, s: &str) {
    let len = u8::try_from(s.len()).unwrap_or(u8::MAX);
    out.push(len);
    out.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated {
                field,
                need: n - self.0.len(),
            });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn header(&mut self) -> Result<(u8, u64), DecodeError> {
        let [version, kind] = self.array::<2>("header")?;
        if version != WIRE_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let seq = u64::from_be_bytes(self.array::<8>("sequence number")?);
        if seq == 0 {
            return Err(DecodeError::ZeroSequence);
        }
        Ok((kind, seq))
    }

    fn utf8(&mut self, len: usize, field: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.take(len, field)?).map_err(|_| DecodeError::BadUtf8(field))
    }

    fn short_str(&mut self, field: &'static str) -> Result<&'a str, DecodeError> {
        let len = usize::from(self.array::<1>(field)?[0]);
        self.utf8(len, field)
    }

    fn finish(self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.0.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkflowId;

    fn claim() -> JobId {
        JobId::new(WorkflowId::new("alice", "wf").expect("valid"), "1", "a", 1).expect("valid")
    }

    #[test]
    fn reject_codes_have_one_unique_kebab_case_name_each() {
        let names: std::collections::BTreeSet<&str> = RejectCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), RejectCode::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
        assert_eq!(RejectCode::SequenceGap.name(), "sequence-gap");
    }

    fn all_job_bodies() -> Vec<JobBody> {
        vec![
            JobBody::Started,
            JobBody::Succeeded,
            JobBody::Failed(FailReason::Exit(3)),
            JobBody::Failed(FailReason::Signal(9)),
            JobBody::Message {
                severity: Severity::Warning,
                text: "disk\tfull\nsoon ☂".into(),
            },
            JobBody::Output(OutputName::new("file-ready").expect("valid")),
            JobBody::Heartbeat,
        ]
    }

    #[test]
    fn every_message_kind_round_trips_canonically() {
        let mut messages: Vec<Message> = all_job_bodies()
            .into_iter()
            .map(|body| {
                Message::Job(JobMessage {
                    seq: 7,
                    claim: claim(),
                    body,
                })
            })
            .collect();
        messages.push(Message::Command(ClientCommand {
            seq: 1,
            actor: Owner::new("jacintar").expect("valid"),
            op: CommandOp::EditTrigger,
            target: "1234/climb".into(),
        }));
        for m in messages {
            let bytes = m.to_bytes();
            assert_eq!(Message::decode(&bytes), Ok(m.clone()));
            assert_eq!(Message::decode(&bytes).map(|d| d.to_bytes()), Ok(bytes));
        }
    }

    #[test]
    fn started_message_matches_the_worked_example_in_spec() {
        let m = Message::Job(JobMessage {
            seq: 1,
            claim: claim(),
            body: JobBody::Started,
        });
        assert_eq!(
            hex::encode(m.to_bytes()),
            "01010000000000000001117e616c6963652f77662f2f312f612f3031"
        );
    }

    #[test]
    fn replies_round_trip_and_match_the_worked_example_in_spec() {
        let ack = Reply::Ack { seq: 1 };
        let mut out = Vec::new();
        ack.encode(&mut out);
        assert_eq!(hex::encode(&out), "01800000000000000001");
        assert_eq!(Reply::decode(&out), Ok(ack));
        let rej = Reply::Rejected {
            seq: 2,
            code: RejectCode::TypeNotAllowed,
        };
        let mut out = Vec::new();
        rej.encode(&mut out);
        assert_eq!(Reply::decode(&out), Ok(rej));
    }

    #[test]
    fn malformed_messages_get_their_own_error() {
        let good = Message::Job(JobMessage {
            seq: 1,
            claim: claim(),
            body: JobBody::Started,
        })
        .to_bytes();
        let cases: Vec<(Vec<u8>, DecodeError)> = vec![
            (
                vec![],
                DecodeError::Truncated {
                    field: "header",
                    need: 2,
                },
            ),
            ([&[2u8], &good[1..]].concat(), DecodeError::UnsupportedVersion(2)),
            (
                [&good[..1], &[0x7f], &good[2..]].concat(),
                DecodeError::UnknownKind(0x7f),
            ),
            ([&good[..], &[0]].concat(), DecodeError::TrailingBytes(1)),
            ([&good[..2], &[0; 8], &good[10..]].concat(), DecodeError::ZeroSequence),
            (
                good[..good.len() - 1].to_vec(),
                DecodeError::Truncated {
                    field: "job id",
                    need: 1,
                },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Message::decode(&bytes), Err(expected));
        }
    }

    #[test]
    fn message_text_is_bounded_and_free_of_control_characters() {
        let mut bytes = Message::Job(JobMessage {
            seq: 1,
            claim: claim(),
            body: JobBody::Message {
                severity: Severity::Info,
                text: "a".repeat(MAX_MESSAGE_TEXT + 1),
            },
        })
        .to_bytes();
        assert!(matches!(Message::decode(&bytes), Err(DecodeError::TooLong { .. })));
        bytes = Message::Job(JobMessage {
            seq: 1,
            claim: claim(),
            body: JobBody::Message {
                severity: Severity::Info,
                text: "line\r2000-01-01 forged".into(),
            },
        })
        .to_bytes();
        assert_eq!(
            Message::decode(&bytes),
            Err(DecodeError::ControlCharacter("message text"))
        );
    }

    fn text_of(len: usize) -> Result<Message, DecodeError> {
        Message::decode(
            &Message::Job(JobMessage {
                seq: 1,
                claim: claim(),
                body: JobBody::Message {
                    severity: Severity::Info,
                    text: "a".repeat(len),
                },
            })
            .to_bytes(),
        )
    }

    fn target_of(len: usize) -> Result<Message, DecodeError> {
        Message::decode(
            &Message::Command(ClientCommand {
                seq: 1,
                actor: Owner::new("alice").expect("valid"),
                op: CommandOp::Hold,
                target: "t".repeat(len),
            })
            .to_bytes(),
        )
    }

    #[test]
    fn message_text_and_command_targets_of_exactly_their_limits_decode_and_longer_ones_do_not() {
        assert!(text_of(MAX_MESSAGE_TEXT).is_ok_and(|m| m.seq() == 1));
        assert!(
            target_of(MAX_TARGET).is_ok_and(|m| m.kind_name() == "hold"),
            "a command reads as its operation"
        );
        for extra in [1, 2] {
            assert_eq!(
                text_of(MAX_MESSAGE_TEXT + extra),
                Err(DecodeError::TooLong {
                    field: "message text",
                    len: MAX_MESSAGE_TEXT + extra,
                    max: MAX_MESSAGE_TEXT
                })
            );
            assert_eq!(
                target_of(MAX_TARGET + extra),
                Err(DecodeError::TooLong {
                    field: "target",
                    len: MAX_TARGET + extra,
                    max: MAX_TARGET
                })
            );
        }
    }

    #[test]
    fn kinds_operations_and_output_names_read_as_spec_md_spells_them() {
        let job = |body| {
            Message::Job(JobMessage {
                seq: 1,
                claim: claim(),
                body,
            })
        };
        assert_eq!(job(JobBody::Started).kind_name(), "started");
        assert_eq!(job(JobBody::Heartbeat).kind_name(), "heartbeat");
        let ops: Vec<&str> = (1..=11)
            .map(|b| CommandOp::from_u8(b).map(CommandOp::name).unwrap_or("?"))
            .collect();
        assert_eq!(
            ops,
            [
                "hold",
                "release",
                "pause",
                "resume",
                "stop",
                "kill",
                "trigger",
                "poll",
                "broadcast",
                "reload",
                "edit-trigger"
            ]
        );
        let name = OutputName::new("file-ready").expect("valid");
        assert_eq!(name.to_string(), "file-ready");
        assert_eq!(String::from(name), "file-ready");
    }

    #[test]
    fn a_failure_with_exit_status_zero_is_refused() {
        let mut bytes = Message::Job(JobMessage {
            seq: 1,
            claim: claim(),
            body: JobBody::Failed(FailReason::Exit(1)),
        })
        .to_bytes();
        let last = bytes.len() - 1;
        bytes[last] = 0;
        assert_eq!(Message::decode(&bytes), Err(DecodeError::BadFailReason));
    }
}
