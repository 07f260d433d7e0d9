//! The harness API: what a harness is, what it reports, and what makes it pass.
//!
//! A harness attacks a live target with every defence on ([`Weakening::none`]), where it must
//! be [`Outcome::Defended`] — and only counts as defended if each defence it names actually
//! fired ([`Fired`], [`Outcome::judge`]) — and then once per named defence with exactly that
//! defence removed ([`HarnessInfo::controls`]), where it must be [`Outcome::Breached`]. A
//! control that is not breached means the harness cannot tell a working defence from a missing
//! one, so the harness fails. `verify --weaken D` runs every harness with D removed from every
//! target as well.
//! Verdicts come from observing the target (counters, job states, the event log, replies on
//! the wire), never from the harness's own expectations.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use protocol::{Defence, DriverCheck};
use protocol_core::{Defences, Flaw};
use protocol_gateway::checks::GatewayDefences;
use protocol_net::DriverFlaws;
use protocol_people::PeopleDefences;
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
    /// The named defences it tests: on the real target each must have fired for the run to
    /// count as defended, and the control removes each in turn (each must be breached).
    #[serde(serialize_with = "defence_names")]
    pub defences: &'static [Defence],
    /// How the control is built: without each defence, or (for a design-level variant) the
    /// design flaw instead.
    pub control: Control,
    /// What else the control's target does or lacks, as a sentence for the report (empty when
    /// removing the defence is all).
    pub note: &'static str,
}

fn defence_names<S: serde::Serializer>(defences: &&'static [Defence], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(defences.iter().map(|d| d.name()))
}

impl HarnessInfo {
    /// The weakenings its control runs: one per defence, or the design flaw.
    #[must_use]
    pub fn controls(&self) -> Vec<Weakening> {
        match self.control {
            Control::WithoutEach => self.defences.iter().map(|d| Weakening::without(*d)).collect(),
            Control::Flaw(flaw) => vec![Weakening::with_flaw(flaw)],
        }
    }

    /// What the control lacks, as the report words it (`without bound-identity`).
    #[must_use]
    pub fn control_label(&self) -> String {
        let base = match self.control {
            Control::WithoutEach => {
                let names: Vec<&str> = self.defences.iter().map(|d| d.name()).collect();
                format!("without {}", names.join(", then without "))
            }
            Control::Flaw(flaw) => format!("with the design flaw {}", flaw.name()),
        };
        if self.note.is_empty() {
            base
        } else {
            format!("{base} ({})", self.note)
        }
    }

    /// Whether it tests `defence`.
    #[must_use]
    pub fn tests(&self, defence: Defence) -> bool {
        self.defences.contains(&defence)
    }
}

/// How a harness's control target is weakened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// Each of the harness's defences removed, one at a time.
    WithoutEach,
    /// A design-level flaw (a rejected design) instead, where removing one check is not enough
    /// to make the attack possible.
    #[serde(serialize_with = "flaw_name")]
    Flaw(Flaw),
}

fn flaw_name<S: serde::Serializer>(flaw: &Flaw, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(flaw.name())
}

/// What a run's target lacks: the defences removed and the design flaws added. Empty for the
/// real system; one defence (or flaw) for a control; `verify --weaken D` adds D to both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Weakening {
    removed: BTreeSet<Defence>,
    flaws: BTreeSet<Flaw>,
}

impl Weakening {
    /// Nothing removed: the reference system.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Without `defence`.
    #[must_use]
    pub fn without(defence: impl Into<Defence>) -> Self {
        Self {
            removed: BTreeSet::from([defence.into()]),
            flaws: BTreeSet::new(),
        }
    }

    /// With the design flaw `flaw`.
    #[must_use]
    pub fn with_flaw(flaw: Flaw) -> Self {
        Self {
            removed: BTreeSet::new(),
            flaws: BTreeSet::from([flaw]),
        }
    }

    /// Both weakenings at once.
    #[must_use]
    pub fn and(&self, other: &Self) -> Self {
        Self {
            removed: self.removed.union(&other.removed).copied().collect(),
            flaws: self.flaws.union(&other.flaws).copied().collect(),
        }
    }

    /// Whether the target lacks `defence`.
    #[must_use]
    pub fn lacks(&self, defence: impl Into<Defence>) -> bool {
        self.removed.contains(&defence.into())
    }

    /// Whether the target has `flaw`.
    #[must_use]
    pub fn has_flaw(&self, flaw: Flaw) -> bool {
        self.flaws.contains(&flaw)
    }

    /// Whether nothing is removed.
    #[must_use]
    pub fn is_none(&self) -> bool {
        self.removed.is_empty() && self.flaws.is_empty()
    }

    /// The defences removed.
    pub fn removed(&self) -> impl Iterator<Item = Defence> + '_ {
        self.removed.iter().copied()
    }

    /// The scheduler core's defences for this run.
    #[must_use]
    pub fn core(&self) -> Defences {
        let mut d = Defences::all();
        for removed in &self.removed {
            if let Defence::Channel(c) = removed {
                d = d.without(*c);
            }
        }
        for flaw in &self.flaws {
            d = d.with_flaw(*flaw);
        }
        d
    }

    /// The people cores' defences for this run.
    #[must_use]
    pub fn people(&self) -> PeopleDefences {
        let mut d = PeopleDefences::all();
        for removed in &self.removed {
            if let Defence::People(c) = removed {
                d = d.without(*c);
            }
        }
        d
    }

    /// The hub's and UI servers' defences for this run.
    #[must_use]
    pub fn gateway(&self) -> GatewayDefences {
        let mut d = GatewayDefences::all();
        for removed in &self.removed {
            if let Defence::Gateway(c) = removed {
                d = d.without(*c);
            }
        }
        d
    }

    /// The scheduler driver's removed defences that `protocol_net::DriverFlaws` carries.
    #[must_use]
    pub fn driver(&self) -> DriverFlaws {
        DriverFlaws {
            plaintext_transport: self.lacks(DriverCheck::NoiseTransport),
            shared_fate: self.lacks(DriverCheck::ConnectionIsolation),
            uncapped_keys: self.lacks(DriverCheck::KeyConnectionCap),
            unlimited_quota: self.lacks(DriverCheck::JobQuota),
            refuse_when_full: self.lacks(DriverCheck::HandshakeEviction),
        }
    }

    /// `none`, or what is removed (`without bound-identity; flaw identity-from-claim`).
    #[must_use]
    pub fn label(&self) -> String {
        if self.is_none() {
            return "none".to_owned();
        }
        let mut parts = Vec::new();
        if !self.removed.is_empty() {
            let names: Vec<&str> = self.removed.iter().map(|d| d.name()).collect();
            parts.push(format!("without {}", names.join(", ")));
        }
        if !self.flaws.is_empty() {
            let names: Vec<&str> = self.flaws.iter().map(|f| f.name()).collect();
            parts.push(format!("flaw {}", names.join(", ")));
        }
        parts.join("; ")
    }
}

impl fmt::Display for Weakening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// How often each named defence refused (or otherwise acted) during an attack, as the target
/// counted it (the scheduler's refusal counters) or as the harness saw it in a typed answer
/// that only that defence gives. [`Outcome::judge`] needs every one to be above zero.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fired(Vec<(Defence, u64, Count)>);

/// Whether a count is the same in every run (the reports quote it) or depends on timing (the
/// reports say only that the defence fired, so that they stay byte-identical across runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Count {
    Exact,
    Varies,
}

impl Fired {
    /// `defence` acted `times` times (the same in every run).
    #[must_use]
    pub fn count(defence: impl Into<Defence>, times: u64) -> Self {
        Self(vec![(defence.into(), times, Count::Exact)])
    }

    /// `defence` acted `times` times, a number that depends on timing (how many of a burst a
    /// queue could not take): judged like any count, quoted only as "fired".
    #[must_use]
    pub fn count_varying(defence: impl Into<Defence>, times: u64) -> Self {
        Self(vec![(defence.into(), times, Count::Varies)])
    }

    /// And `defence` acted `times` times.
    #[must_use]
    pub fn and(mut self, defence: impl Into<Defence>, times: u64) -> Self {
        self.0.push((defence.into(), times, Count::Exact));
        self
    }

    /// The first defence that never acted.
    #[must_use]
    pub fn silent(&self) -> Option<Defence> {
        self.0.iter().find(|(_, n, _)| *n == 0).map(|(d, _, _)| *d)
    }

    /// Whether no defence was named.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `bound-identity ×2, allowed-type ×1` (`password-pool` alone for a count that varies
    /// between runs, `password-pool ×0` for one that did not fire).
    #[must_use]
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(d, n, c)| match c {
                Count::Varies if *n > 0 => d.to_string(),
                _ => format!("{d} ×{n}"),
            })
            .collect();
        parts.join(", ")
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
    /// A breached outcome.
    pub fn breached(evidence: impl Into<String>) -> Self {
        Self::Breached {
            evidence: evidence.into(),
        }
    }

    /// The verdict of a run: breached when `breaches` is not empty (every breach listed);
    /// otherwise defended only if every defence in `fired` fired at least once during the
    /// attack, with `defended` as the evidence. An attack that got nowhere while a named
    /// defence stayed silent was stopped by something else — a typo in the request, a closed
    /// port, another check — so it proves nothing about that defence: the outcome is
    /// [`Outcome::Error`] naming the silent defence.
    pub fn judge(breaches: Vec<String>, fired: &Fired, defended: impl Into<String>) -> Self {
        if !breaches.is_empty() {
            return Self::breached(breaches.join("; "));
        }
        let defended = defended.into();
        match fired.silent() {
            Some(silent) => Self::Error {
                error: format!(
                    "the attack got nowhere but {silent} never fired ({}), so the run proves nothing about it: \
                     {defended}",
                    fired.summary()
                ),
            },
            None if fired.is_empty() => Self::Error {
                error: format!("the harness named no defence to have fired: {defended}"),
            },
            None => Self::Defended {
                evidence: format!("{defended} [fired: {}]", fired.summary()),
            },
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

impl From<testkit::WorldError> for HarnessError {
    fn from(e: testkit::WorldError) -> Self {
        match e {
            testkit::WorldError::Target(e) => Self::Target(e),
            testkit::WorldError::Io(e) => Self::Io(e),
            testkit::WorldError::Setup(s) => Self::Setup(s),
            testkit::WorldError::EventLog { line, detail } => Self::EventLog { line, detail },
        }
    }
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
    /// Runs the attack on a fresh target with the given weakening ([`Weakening::none`] for
    /// the real system). Must stop by itself within a few seconds; the runner gives up on it
    /// after [`crate::run::RUN_LIMIT`].
    pub run: fn(Weakening) -> RunFuture,
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
    /// What every target of this result lacked besides the control's own removal (none in a
    /// normal run; the defence of `verify --weaken`).
    #[serde(serialize_with = "weakening_label")]
    pub base: Weakening,
    /// Against the real target: must be defended.
    pub real: Outcome,
    /// Against the control (each of its weakenings in turn): must be breached by every one.
    pub control: Outcome,
    /// Wall-clock seconds for both runs (a timing field: varies between runs; everything
    /// else is deterministic).
    pub seconds: f64,
}

fn weakening_label<S: serde::Serializer>(w: &Weakening, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&w.label())
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
                self.info.control_label()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol_gateway::checks::GatewayCheck;

    use super::*;

    #[test]
    fn a_count_that_varies_between_runs_is_quoted_only_as_fired_and_still_judged() {
        let varying = Fired::count_varying(GatewayCheck::PasswordPool, 21).and(GatewayCheck::RateLimit, 3);
        assert_eq!(varying.summary(), "password-pool, rate-limit ×3");
        let silent = Fired::count_varying(GatewayCheck::PasswordPool, 0);
        assert_eq!(silent.summary(), "password-pool ×0");
        assert!(matches!(
            Outcome::judge(Vec::new(), &silent, "x"),
            Outcome::Error { .. }
        ));
        assert!(matches!(
            Outcome::judge(Vec::new(), &varying, "x"),
            Outcome::Defended { .. }
        ));
    }
}
