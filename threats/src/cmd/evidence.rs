//! Converts what the model checker and the attack harnesses report into the `threats`
//! library's evidence schema (the library knows the protocol only through these types).

use attacks::conformance::ConformanceResult;
use attacks::{HarnessResult as RunResult, Outcome as RunOutcome};
use model::run::{ProofReport, VariantReport};
use model::trace::TraceStep;
use model::{Catalogue, catalogue};
use threats::evidence::{
    Action, ControlRun, HarnessOutcome, HarnessResult, PropertyResult, PropertyVerdict, Replay, Timing, VariantKind,
    VariantResult, Witness,
};

use super::model::ModelResults;

/// Who a step's arrow points at, for sequence diagrams: steps that send something to the
/// scheduler (or, in the people model, to the hub) point at it; everything else is drawn as a
/// note over its actor.
fn recipient(step: &TraceStep) -> Option<String> {
    match step.label.as_str() {
        "key reply" | "connect" | "send" | "forge" | "forge handshake" => Some("scheduler".into()),
        // The people model: requests go to the hub (which proxies to the UI server).
        "login" | "elevate" | "request" | "replay" | "guess logins" | "inject" => Some("hub".into()),
        "reply" | "cut" | "revoke" | "deadline" | "read files" => None,
        _ => None,
    }
}

fn actions(trace: &[TraceStep]) -> Vec<Action> {
    trace
        .iter()
        .map(|s| Action {
            actor: s.actor.clone(),
            to: recipient(s),
            label: s.label.clone(),
            detail: s.detail.clone(),
        })
        .collect()
}

/// The properties of one proof run.
fn properties(proof: &ProofReport, describe: impl Fn(&str) -> String) -> Vec<PropertyResult> {
    let witnesses: Vec<Witness> = proof
        .properties
        .iter()
        .filter(|p| p.kind == "sometimes")
        .map(|p| Witness {
            name: p.name.clone(),
            reached: p.holds,
        })
        .collect();
    proof
        .properties
        .iter()
        .filter(|p| p.kind == "always")
        .map(|p| PropertyResult {
            name: p.name.clone(),
            proof: proof.model.clone(),
            description: describe(&p.name),
            verdict: if p.holds {
                PropertyVerdict::Holds
            } else {
                PropertyVerdict::Fails
            },
            unique_states: proof.unique_states as u64,
            max_depth: proof.max_depth as u64,
            witnesses: witnesses.clone(),
            counterexample: (!p.holds).then(|| actions(&p.trace)),
            timing: Timing::seconds(proof.seconds),
        })
        .collect()
}

/// Property evidence from the model runs.
#[must_use]
pub fn property_results(results: &ModelResults) -> Vec<PropertyResult> {
    let describe = |name: &str| Catalogue::sentence(name).unwrap_or("").to_owned();
    threats::evidence::one_per_property(results.proofs.iter().flat_map(|proof| properties(proof, describe)))
}

/// Variant evidence from the attack searches, with the replays of their counterexamples on
/// the real implementation where there are any.
#[must_use]
pub fn variant_results(results: &ModelResults, replays: &[ConformanceResult]) -> Vec<VariantResult> {
    let catalogue = catalogue();
    results
        .variants
        .iter()
        .map(|v: &VariantReport| {
            let entry = catalogue.variant(&v.variant);
            VariantResult {
                name: v.variant.clone(),
                kind: if entry.is_none_or(|e| e.is_check) {
                    VariantKind::Check
                } else {
                    VariantKind::Design
                },
                description: v.description.clone(),
                breaks: v
                    .property
                    .clone()
                    .or_else(|| entry.map(|e| e.breaks.to_owned()))
                    .unwrap_or_default(),
                found: v.found,
                counterexample: actions(&v.trace),
                states_explored: v.unique_states as u64,
                timing: Timing::seconds(v.seconds),
                replay: replays.iter().find(|r| r.variant == v.variant).map(|r| Replay {
                    conforms: r.passed(),
                    weakened: format!("{}: {}", r.weakened.label(), r.weakened.detail()),
                    normal: format!("{}: {}", r.normal.label(), r.normal.detail()),
                }),
            }
        })
        .collect()
}

fn outcome(o: &RunOutcome) -> HarnessOutcome {
    match o {
        RunOutcome::Defended { .. } => HarnessOutcome::Defended,
        RunOutcome::Breached { .. } => HarnessOutcome::Breached,
        RunOutcome::Error { .. } => HarnessOutcome::Error,
    }
}

/// Harness evidence from the attack runs.
#[must_use]
pub fn harness_results(runs: &[RunResult]) -> Vec<HarnessResult> {
    runs.iter()
        .map(|h| HarnessResult {
            id: h.info.id.to_owned(),
            story: h.info.story.to_owned(),
            target: h.info.target.to_owned(),
            description: h.info.title.to_owned(),
            outcome: outcome(&h.real),
            evidence: h.real.detail().to_owned(),
            control: ControlRun {
                weakened: h.info.control_label(),
                outcome: outcome(&h.control),
                evidence: h.control.detail().to_owned(),
            },
            timing: Timing::seconds(h.seconds),
        })
        .collect()
}
