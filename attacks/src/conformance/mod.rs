//! Conformance of the model to the implementation: every weakened design's minimal
//! counterexample, found by the model checker, replayed against a real scheduler over loopback.
//!
//! For each channel variant of `model::variants::Variant::all()`:
//!
//! 1. the model finds the shortest attack (`Variant::find_attack` within `Bounds::QUICK`);
//! 2. the replay ([`replay`]) performs its actions on a real scheduler built the same way
//!    weakened, and the model's own properties judge the real event log after every step
//!    ([`observe`]): the run must reach the violation the model found, at the same (last) step;
//! 3. the same replay on the real scheduler with every defence on must be refused at that step,
//!    by the check the variant removes (for the flaws, the check that stands in their place).
//!
//! Designs with no counterpart in the real code are reported as such, with the real system's
//! counterpart evidence (module `design`): for Cylc 7's key shipping, a scan showing the real
//! scheduler and jobs put no private key on disk, on the bootstrap channel or on the network;
//! for an unauthenticated bootstrap, the weakened replay plus the `s15-key-substitution`
//! harness run live.

mod design;
pub mod observe;
pub mod people;
pub mod replay;

use std::time::{Duration, Instant};

use model::channel::{Action, Bounds};
use model::variants::Variant;
use protocol_core::{Check, Flaw};
use serde::Serialize;

use crate::harness::{HarnessError, Weakening};
use crate::live::target::TargetConfig;
use crate::run::on_fresh_runtime;
use replay::{Replayer, StepRecord, describe_events};

/// How one side of a replay ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// The model's violation happened on the real system, at `step` (1-based).
    Violated {
        /// The step.
        step: usize,
        /// The model properties the real event log violates.
        property: String,
        /// What the real system did.
        evidence: String,
    },
    /// The real system refused the attack at `step`, by `check`.
    Refused {
        /// The step.
        step: usize,
        /// The check (or design property) that refused it.
        check: String,
        /// What the real system did.
        evidence: String,
    },
    /// Neither: the real system did something the model did not predict.
    Diverged {
        /// Where and how.
        evidence: String,
    },
    /// The design has no counterpart in the real code to replay against.
    NoCounterpart {
        /// Why.
        evidence: String,
    },
    /// The real system's counterpart of the design decision, checked live.
    Counterpart {
        /// What was checked and found.
        evidence: String,
    },
    /// The replay could not run.
    Error {
        /// What went wrong.
        error: String,
    },
}

impl Verdict {
    /// `violated`, `refused`, … as a word.
    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self {
            Self::Violated { .. } => "violated",
            Self::Refused { .. } => "refused",
            Self::Diverged { .. } => "diverged",
            Self::NoCounterpart { .. } => "no-counterpart",
            Self::Counterpart { .. } => "counterpart",
            Self::Error { .. } => "error",
        }
    }

    /// The evidence or the error.
    #[must_use]
    pub fn detail(&self) -> &str {
        match self {
            Self::Violated { evidence, .. }
            | Self::Refused { evidence, .. }
            | Self::Diverged { evidence }
            | Self::NoCounterpart { evidence }
            | Self::Counterpart { evidence } => evidence,
            Self::Error { error } => error,
        }
    }
}

/// One variant's conformance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConformanceResult {
    /// The variant's name (`bound-identity`, `dedup-by-session`, `cylc7-key-shipping`, …).
    pub variant: &'static str,
    /// What the variant is.
    pub description: String,
    /// The property the model found broken.
    pub property: Option<String>,
    /// The counterexample, step by step, as the model tells it.
    pub trace: Vec<String>,
    /// Whether the counterexample was replayed step by step against the real system.
    pub replayed: bool,
    /// The replay on the weakened build: must reach the model's violation at its last step.
    pub weakened: Verdict,
    /// The replay on the full build: must be refused at that step by the variant's check.
    pub normal: Verdict,
    /// How the variant maps to the real system.
    pub note: String,
    /// Wall-clock seconds, model search included (a timing field).
    pub seconds: f64,
}

impl ConformanceResult {
    /// Why the variant does not conform, if it does not.
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        let steps = self.trace.len();
        let weakened_ok = match &self.weakened {
            Verdict::Violated { step, property, .. } => {
                *step == steps
                    && self
                        .property
                        .as_ref()
                        .is_some_and(|p| property.split(", ").any(|q| q == p))
            }
            Verdict::NoCounterpart { .. } => !self.replayed,
            _ => false,
        };
        if !weakened_ok {
            return Some(format!(
                "weakened build: expected the model's violation ({}) at step {steps}, got {}: {}",
                self.property.as_deref().unwrap_or("none"),
                self.weakened.label(),
                self.weakened.detail()
            ));
        }
        let normal_ok = match &self.normal {
            // Usually at the violating step itself; earlier when the weakened run needed the
            // check absent before that step too (allowed-type: the first forged `succeeded`).
            Verdict::Refused { step, check, .. } => {
                *step <= steps && expected_check(self.variant) == Some(check.as_str())
            }
            Verdict::Counterpart { .. } => expected_check(self.variant).is_none(),
            _ => false,
        };
        (!normal_ok).then(|| {
            format!(
                "full build: expected a refusal by {} by step {steps}, got {}: {}",
                expected_check(self.variant).unwrap_or("the design"),
                self.normal.label(),
                self.normal.detail()
            )
        })
    }

    /// The weakened build reached the model's violation and the full build refused it (or,
    /// for a design without a counterpart, the real system's counterpart evidence holds).
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failure().is_none()
    }
}

/// The check whose refusal the full build must show, by variant name (`None` for designs
/// judged by their counterpart instead).
#[must_use]
pub fn expected_check(variant: &str) -> Option<&'static str> {
    let Some(v) = Variant::from_name(variant) else {
        return people::expected_check(variant);
    };
    match v {
        Variant::Without(check) => Some(check.name()),
        Variant::Flaw(Flaw::DedupBySession) => Some(Check::FreshSequence.name()),
        Variant::Flaw(Flaw::IdentityFromClaim) => Some(Check::AuthenticatedKey.name()),
        // No check of the scheduler's stands in for the UI server's numbering: the full build is
        // judged by the same trace doing no harm there.
        // The durability flaws are judged by the real driver's counterpart: its answers follow
        // their events onto the disk.
        Variant::Flaw(Flaw::BurnRefusedNumber | Flaw::AckBeforeDurable | Flaw::RevocationBeforeDurable)
        | Variant::Cylc7KeyShipping
        | Variant::UnauthenticatedBootstrap => None,
    }
}

/// A variant name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no variant is called {0:?}")]
pub struct UnknownVariant(pub String);

/// Every channel variant's conformance (or only those named), in the model's order; `progress`
/// is told each variant's name before it runs.
///
/// # Errors
/// [`UnknownVariant`] before anything runs.
pub fn run<S: AsRef<str>>(
    names: &[S],
    base: &Weakening,
    progress: impl FnMut(&str),
) -> Result<Vec<ConformanceResult>, UnknownVariant> {
    run_selected(
        names,
        Variant::all,
        Variant::from_name,
        Variant::name,
        |v| run_variant_weakened(v, base),
        progress,
    )
}

/// Runs `run_variant` on every variant of a model (or only those named, all looked up before
/// anything runs), telling `progress` each name first.
fn run_selected<V: Copy, S: AsRef<str>>(
    names: &[S],
    all: fn() -> Vec<V>,
    from_name: fn(&str) -> Option<V>,
    name: fn(V) -> &'static str,
    run_variant: impl Fn(V) -> ConformanceResult,
    mut progress: impl FnMut(&str),
) -> Result<Vec<ConformanceResult>, UnknownVariant> {
    let variants: Vec<V> = if names.is_empty() {
        all()
    } else {
        names
            .iter()
            .map(|n| from_name(n.as_ref()).ok_or_else(|| UnknownVariant(n.as_ref().to_owned())))
            .collect::<Result<_, _>>()?
    };
    Ok(variants
        .into_iter()
        .map(|v| {
            progress(name(v));
            run_variant(v)
        })
        .collect())
}

/// The longest one replay may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(20);

/// One variant's conformance: model search, then the replays.
#[must_use]
pub fn run_variant(variant: Variant) -> ConformanceResult {
    run_variant_weakened(variant, &Weakening::none())
}

/// The same with `base` removed from both builds (`verify --weaken`): the "normal" build is
/// the system without `base`, the weakened one lacks `base` and the variant's check.
#[must_use]
pub fn run_variant_weakened(variant: Variant, base: &Weakening) -> ConformanceResult {
    let normal = TargetConfig::for_run(base);
    let start = Instant::now();
    let (report, actions) = variant.find_attack(Bounds::QUICK);
    let trace: Vec<String> = report
        .trace
        .iter()
        .map(|s| format!("{}: {}", s.actor, s.detail))
        .collect();
    let mut result = ConformanceResult {
        variant: variant.name(),
        description: variant.description(),
        property: report.property.clone(),
        trace,
        replayed: true,
        weakened: Verdict::Error {
            error: "the model found no attack to replay".into(),
        },
        normal: Verdict::Error {
            error: "the model found no attack to replay".into(),
        },
        note: String::new(),
        seconds: 0.0,
    };
    if report.found {
        match variant {
            Variant::Cylc7KeyShipping => {
                result.replayed = false;
                result.weakened = Verdict::NoCounterpart {
                    evidence: "the real scheduler never makes a job's private key, so there is no key file on a job \
                               host to read: nothing to weaken"
                        .into(),
                };
                result.normal = counterpart(design::no_private_key_anywhere());
                result.note = "design variant: judged by the real system's counterpart, a scan of everything the \
                               scheduler and a real job write (files, bootstrap channel, network) for private keys"
                    .into();
            }
            Variant::UnauthenticatedBootstrap => {
                result.weakened = replay(&result, &actions, variant, normal.clone(), Side::Weakened);
                result.normal = design::authenticated_bootstrap();
                result.note = "design variant: the weakened replay hands the scheduler the attacker's key as the \
                               honest job's reply, as a network-borne reply would; the real design carries the reply \
                               on the launch channel, so the full build is judged live by s15-key-substitution"
                    .into();
            }
            Variant::Without(check) => {
                let weakened = TargetConfig::for_run(&base.and(&Weakening::without(check)));
                result.weakened = replay(&result, &actions, variant, weakened, Side::Weakened);
                result.normal = replay(&result, &actions, variant, normal, Side::Full);
                result.note = format!("the scheduler core built without `{check}`");
            }
            Variant::Flaw(Flaw::AckBeforeDurable | Flaw::RevocationBeforeDurable) => {
                result.replayed = false;
                result.weakened = Verdict::NoCounterpart {
                    evidence: "the model's counterexample needs a crash between an event and its write, which \
                               cannot be timed against a live scheduler from outside"
                        .into(),
                };
                result.normal = counterpart(design::answers_follow_their_events());
                result.note = "durability variant: judged by the real driver's counterpart, which reads the \
                               event log on disk the moment each answer arrives (a job's ack, the operator's \
                               revocation) and finds the event it answers already there"
                    .into();
            }
            Variant::Flaw(flaw @ Flaw::BurnRefusedNumber) => {
                let weakened = TargetConfig::for_run(&base.and(&Weakening::with_flaw(flaw)));
                result.weakened = replay(&result, &actions, variant, weakened, Side::Weakened);
                result.normal = replay(&result, &actions, variant, normal, Side::Full);
                result.note = "the UI server's command core built with the flaw (the scheduler is the full build \
                               on both sides); the full build is judged by the same trace ending with the command \
                               applied"
                    .into();
            }
            Variant::Flaw(flaw) => {
                let weakened = TargetConfig::for_run(&base.and(&Weakening::with_flaw(flaw)));
                result.weakened = replay(&result, &actions, variant, weakened, Side::Weakened);
                result.normal = replay(&result, &actions, variant, normal, Side::Full);
                result.note = format!(
                    "the scheduler core built with the design flaw `{}`; the full build stops it with `{}`",
                    flaw.name(),
                    expected_check(variant.name()).unwrap_or("?")
                );
            }
        }
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

fn counterpart(outcome: Result<Verdict, HarnessError>) -> Verdict {
    outcome.unwrap_or_else(|e| Verdict::Error { error: e.to_string() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Weakened,
    Full,
}

fn replay(
    result: &ConformanceResult,
    actions: &[Action],
    variant: Variant,
    config: TargetConfig,
    side: Side,
) -> Verdict {
    let model = variant.model(Bounds::QUICK);
    let expected = expected_check(variant.name());
    counterpart(on_fresh_runtime(
        REPLAY_LIMIT,
        replay_on(model, actions, &result.trace, config, side, expected),
    ))
}

async fn replay_on(
    model: model::channel::ChannelModel,
    actions: &[Action],
    trace: &[String],
    config: TargetConfig,
    side: Side,
    expected: Option<&str>,
) -> Result<Verdict, HarnessError> {
    let short_deadline = actions.contains(&Action::DeadlinePasses);
    let mut replayer = Replayer::start(model, config, short_deadline).await?;
    let mut records: Vec<StepRecord> = Vec::new();
    // The full build's first refusal by the expected check: (step, what it showed).
    let mut refused: Option<(usize, String)> = None;
    let steps = actions.len();
    for (i, action) in actions.iter().enumerate() {
        let step = i + 1;
        let told = trace.get(i).map_or("?", String::as_str);
        let record = match replayer.step(action).await {
            Ok(r) => r,
            Err(e) => {
                replayer.finish().await;
                return Ok(Verdict::Diverged {
                    evidence: format!("step {step} ({told}) could not be performed: {e}"),
                });
            }
        };
        let happened = describe_events(replayer.model(), &record.events, |k| replayer.key_name(k));
        let violated = replayer.violated();
        if !violated.is_empty() {
            replayer.finish().await;
            return Ok(Verdict::Violated {
                step,
                property: violated.join(", "),
                evidence: format!(
                    "at step {step} ({told}) {}; the real scheduler's event log: {happened}{}; the model's {} \
                     fails on the real history",
                    record.seen,
                    if record.duplicate {
                        " (a duplicate was acknowledged)"
                    } else {
                        ""
                    },
                    violated.join(", ")
                ),
            });
        }
        if side == Side::Full
            && refused.is_none()
            && let Some(check) = expected
            && let Some(how) = refusal(check, &record, &records)
        {
            refused = Some((
                step,
                format!(
                    "at step {step} ({told}) {check} refused it: {how}; the real scheduler's event log: {happened}"
                ),
            ));
        }
        if step == steps && side == Side::Full && expected.is_none() {
            replayer.finish().await;
            return Ok(Verdict::Counterpart {
                evidence: format!(
                    "all {steps} steps ran on the full build and the model's properties held on the real history \
                     throughout; at the last step ({told}) {}; the real scheduler's event log: {happened}",
                    record.seen
                ),
            });
        }
        if step == steps && side == Side::Full {
            replayer.finish().await;
            let check = expected.unwrap_or("?");
            return Ok(match refused {
                Some((at, evidence)) => Verdict::Refused {
                    step: at,
                    check: check.to_owned(),
                    evidence: if at == step {
                        evidence
                    } else {
                        format!(
                            "{evidence}; the violating step {step} then found {} and did no harm",
                            record.seen
                        )
                    },
                },
                None => Verdict::Diverged {
                    evidence: format!(
                        "step {step} ({told}) did no harm, but no refusal by {check} was observed ({}; the real \
                         scheduler's event log: {happened})",
                        record.seen
                    ),
                },
            });
        }
        records.push(record);
    }
    replayer.finish().await;
    Ok(Verdict::Diverged {
        evidence: format!("all {steps} steps ran and the model's violation never happened on the real system"),
    })
}

/// How the last step shows the refusal by `check`, if it does.
fn refusal(check: &str, record: &StepRecord, earlier: &[StepRecord]) -> Option<String> {
    if record.refused_by.iter().any(|c| c == check) {
        return Some(format!("{} (counted among {check} refusals)", record.seen));
    }
    if check == Check::FreshSequence.name() && record.duplicate {
        return Some("the retransmission was acknowledged as a duplicate, without effect".to_owned());
    }
    if check == Check::BootstrapDeadline.name()
        && !record
            .events
            .iter()
            .any(|e| matches!(e, protocol_core::scheduler::Event::Registered { .. }))
        && earlier.iter().any(|r| {
            r.seen == "the launch deadline passed"
                && r.events
                    .iter()
                    .any(|e| matches!(e, protocol_core::scheduler::Event::LaunchFailed { .. }))
        })
    {
        return Some(format!(
            "the launch had already failed when the deadline passed, so {}",
            record
                .seen
                .replace("the key was refused and the launch failed", "the late key was refused")
        ));
    }
    None
}
