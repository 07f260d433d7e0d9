//! The harness API: what a harness is, what it reports, and what makes it pass.
//!
//! A harness attacks a live target twice: once with every defence on ([`Side::Real`]), where it
//! must be [`Outcome::Defended`], and once with the defence it tests removed
//! ([`Side::Control`]), where it must be [`Outcome::Breached`]. A control that is not breached
//! means the harness cannot tell a working defence from a missing one, so the harness fails.
//! Verdicts come from observing the target (counters, job states, the event log, replies on
//! the wire), never from the harness's own expectations.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;

/// What a harness is, for listings and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HarnessInfo {
    /// Stable, story-prefixed id (`s12-compromised-job`); the threat model cites it.
    pub id: &'static str,
    /// The threat story it serves (`S12`).
    pub story: &'static str,
    /// What kind of target it attacks (`scheduler`, `gateway`, `hub`, …).
    pub target: &'static str,
    /// What the attack does, as a plain sentence.
    pub title: &'static str,
    /// The named check or limit it tests (`bound-identity`, `handshake-deadline`).
    pub defence: &'static str,
    /// What the control target lacks (`variant:bound-identity`, or a sentence).
    pub control: &'static str,
}

/// Which target a run attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The reference system with every defence on.
    Real,
    /// The same system with the harness's defence removed.
    Control,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Real => "real",
            Self::Control => "control",
        })
    }
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The target stopped the attack; `evidence` says which defence fired and how it showed.
    Defended {
        /// Which defence fired, which error, what was observed.
        evidence: String,
    },
    /// The attack achieved its goal; `evidence` says what got through.
    Breached {
        /// What got through, as observed on the target.
        evidence: String,
    },
    /// The harness could not run to a verdict (setup failed, or it overran its time limit).
    /// Neither defended nor breached: the harness fails.
    Error {
        /// What went wrong.
        error: String,
    },
}

impl Outcome {
    /// A defended outcome.
    pub fn defended(evidence: impl Into<String>) -> Self {
        Self::Defended {
            evidence: evidence.into(),
        }
    }

    /// A breached outcome.
    pub fn breached(evidence: impl Into<String>) -> Self {
        Self::Breached {
            evidence: evidence.into(),
        }
    }

    /// Defended when `breaches` is empty (with `defended` as the evidence), else breached with
    /// every breach listed.
    pub fn judge(breaches: Vec<String>, defended: impl Into<String>) -> Self {
        if breaches.is_empty() {
            Self::defended(defended)
        } else {
            Self::breached(breaches.join("; "))
        }
    }

    /// Whether the attack was stopped.
    #[must_use]
    pub const fn is_defended(&self) -> bool {
        matches!(self, Self::Defended { .. })
    }

    /// Whether the attack got through.
    #[must_use]
    pub const fn is_breached(&self) -> bool {
        matches!(self, Self::Breached { .. })
    }

    /// `defended`, `breached` or `error`.
    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Defended { .. } => "defended",
            Self::Breached { .. } => "breached",
            Self::Error { .. } => "error",
        }
    }

    /// The evidence or the error.
    #[must_use]
    pub fn detail(&self) -> &str {
        match self {
            Self::Defended { evidence } | Self::Breached { evidence } => evidence,
            Self::Error { error } => error,
        }
    }
}

/// Why a harness run could not reach a verdict.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The target could not be started, or stopped under the harness.
    #[error("the target failed: {0}")]
    Target(#[from] protocol_net::ServerError),
    /// A temporary directory or file could not be made or read.
    #[error("filesystem: {0}")]
    Io(#[from] std::io::Error),
    /// A step the harness itself needs (not the attack) failed.
    #[error("{0}")]
    Setup(String),
    /// The target's event log holds a line the harness cannot read.
    #[error("event log line {line}: {detail}")]
    EventLog {
        /// One-based line number.
        line: usize,
        /// The parser's complaint.
        detail: String,
    },
    /// The run overran its time limit.
    #[error("no verdict within {0:?}")]
    Timeout(std::time::Duration),
}

impl HarnessError {
    /// A setup failure described in words.
    pub fn setup(what: impl fmt::Display) -> Self {
        Self::Setup(what.to_string())
    }
}

/// What one run of a harness returns.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<Outcome, HarnessError>> + Send>>;

/// A harness: its description and the attack, runnable against either side.
#[derive(Clone, Copy)]
pub struct Harness {
    /// What it is.
    pub info: HarnessInfo,
    /// Runs the attack against `side` on a fresh target. Must stop by itself within a few
    /// seconds; the runner gives up on it after [`crate::run::RUN_LIMIT`].
    pub run: fn(Side) -> RunFuture,
}

impl fmt::Debug for Harness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The result of one harness: both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HarnessResult {
    /// The harness.
    pub info: HarnessInfo,
    /// Against the real target: must be defended.
    pub real: Outcome,
    /// Against the control: must be breached.
    pub control: Outcome,
    /// Wall-clock seconds for both runs (a timing field: varies between runs; everything
    /// else is deterministic).
    pub seconds: f64,
}

impl HarnessResult {
    /// Real target defended and control breached.
    #[must_use]
    pub const fn passed(&self) -> bool {
        self.real.is_defended() && self.control.is_breached()
    }

    /// Why the harness failed, if it did.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        match (&self.real, &self.control) {
            (Outcome::Defended { .. }, Outcome::Breached { .. }) => None,
            (Outcome::Breached { evidence }, _) => Some(format!("the real target was breached: {evidence}")),
            (Outcome::Error { error }, _) => Some(format!("the real run failed: {error}")),
            (_, Outcome::Error { error }) => Some(format!("the control run failed: {error}")),
            (_, Outcome::Defended { evidence }) => Some(format!(
                "the control ({}) was not breached, so the harness has no teeth: {evidence}",
                self.info.control
            )),
        }
    }
}
