//! The evidence schema: what the model checker and the attack harnesses report, converted into
//! these types by their producers. This is the contract between those crates and the reports;
//! nothing here knows the protocol crates.
//!
//! Every result has a deterministic part and a [`Timing`], kept apart so that reports can omit
//! or zero timings and stay byte-identical across runs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{EvidenceKind, EvidenceRef, is_evidence_name};

/// Most results of each kind, and most actions in one counterexample.
pub const MAX_RESULTS: usize = 10_000;
/// Most actions in one counterexample trace.
pub const MAX_TRACE: usize = 10_000;

/// Everything a verification run found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Model-checked properties of the full (production) model.
    pub properties: Vec<PropertyResult>,
    /// Weakened-model searches, one per removed check or design flaw.
    pub variants: Vec<VariantResult>,
    /// Attack harnesses against live targets.
    pub harnesses: Vec<HarnessResult>,
}

/// How long something took. Always a separate field: reports can zero or omit it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Wall-clock seconds (finite, ≥ 0).
    pub seconds: f64,
}

impl Timing {
    /// A timing of `seconds`.
    #[must_use]
    pub const fn seconds(seconds: f64) -> Self {
        Self { seconds }
    }
}

/// Whether a property holds in every reachable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PropertyVerdict {
    /// No reachable state violates it.
    Holds,
    /// A reachable state violates it (see the counterexample).
    Fails,
}

/// A `sometimes` property: a state the search must reach, showing the model is not vacuous.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Witness {
    /// Its name (`job-message-accepted`).
    pub name: String,
    /// Whether the search reached such a state.
    pub reached: bool,
}

/// One step of a counterexample trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Who acts (`attacker`, `job ~alice/wf//1/a/01`, `scheduler`).
    pub actor: String,
    /// Whom the action is addressed to, if it is a message (drawn as an arrow; otherwise a note).
    pub to: Option<String>,
    /// What happens, briefly (`replay frame 3`).
    pub label: String,
    /// Details (`seq=2 kind=succeeded`); may be empty.
    pub detail: String,
}

/// The result of checking one property on the full model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyResult {
    /// Its name (`sender-authentication`).
    pub name: String,
    /// The proof run that checked it (`channel`, `channel-kci`, `people`): one run checks
    /// several properties, so its states, depth and timing are the run's.
    #[serde(default)]
    pub proof: String,
    /// The property as a plain sentence.
    pub description: String,
    /// Holds or fails.
    pub verdict: PropertyVerdict,
    /// Distinct states explored.
    pub unique_states: u64,
    /// Deepest path explored.
    pub max_depth: u64,
    /// Reachability witnesses; each must be reached for the result to count.
    pub witnesses: Vec<Witness>,
    /// When the property fails: a path to a violating state.
    pub counterexample: Option<Vec<Action>>,
    /// How long the check took.
    pub timing: Timing,
}

/// What a variant weakens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VariantKind {
    /// One named check removed.
    Check,
    /// A different, worse design (Cylc 7 key shipping, identity from a claim, …).
    Design,
}

/// The result of searching a weakened model for the attack its defence stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantResult {
    /// The removed check or design flaw (`fresh-sequence`, `cylc7-key-shipping`).
    pub name: String,
    /// Check or design.
    pub kind: VariantKind,
    /// What is removed or changed, as a plain sentence.
    pub description: String,
    /// The property the weakened model should break.
    pub breaks: String,
    /// Whether the search found a violation (it must: otherwise the defence is not shown
    /// necessary).
    pub found: bool,
    /// The minimal counterexample, when found.
    pub counterexample: Vec<Action>,
    /// States explored.
    pub states_explored: u64,
    /// How long the search took.
    pub timing: Timing,
    /// The counterexample replayed against the real implementation over loopback, when the
    /// run did that (`threatcheck verify` does for the job channel's variants).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<Replay>,
}

/// A model counterexample replayed against the real implementation: on the weakened build
/// the attack must succeed, on the normal build the variant's check must refuse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replay {
    /// Whether the real system behaved as the model predicts on both builds.
    pub conforms: bool,
    /// What the weakened build did.
    pub weakened: String,
    /// What the normal build did.
    pub normal: String,
}

/// How an attack ended against a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HarnessOutcome {
    /// The target stopped the attack.
    Defended,
    /// The attack achieved its goal.
    Breached,
    /// The harness could not run to a verdict (setup failed, or it overran its time limit).
    Error,
}

impl HarnessOutcome {
    /// The word reports use: `defended`, `breached` or `error`.
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Defended => "defended",
            Self::Breached => "breached",
            Self::Error => "error",
        }
    }
}

/// The control run: the same attack against a target with the defence removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlRun {
    /// What the weakened target lacks (`variant:fresh-sequence`, or a sentence).
    pub weakened: String,
    /// Must be [`HarnessOutcome::Breached`]: otherwise the harness has no teeth.
    pub outcome: HarnessOutcome,
    /// What happened (the breach observed, or why it did not happen).
    pub evidence: String,
}

/// The result of one attack harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarnessResult {
    /// Its id, story-prefixed (`s01-handshake-flood`).
    pub id: String,
    /// The story it serves (`S01`).
    pub story: String,
    /// What kind of target it attacks (`scheduler`, `gateway`, `hub`, `audit-log`).
    pub target: String,
    /// What the attack does, as a plain sentence.
    pub description: String,
    /// How it ended against the real target.
    pub outcome: HarnessOutcome,
    /// Which defence fired or which error stopped it (or what was breached).
    pub evidence: String,
    /// The control run against the weakened target.
    pub control: ControlRun,
    /// How long the real and control runs took together.
    pub timing: Timing,
}

/// Green, or red with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The evidence shows what it should.
    Green,
    /// It does not, because …
    Red(String),
}

impl PropertyResult {
    /// Green when the property holds and every witness was reached.
    #[must_use]
    pub fn health(&self) -> Health {
        if self.verdict == PropertyVerdict::Fails {
            return Health::Red(format!("property {} fails", self.name));
        }
        let unreached: Vec<&str> = self
            .witnesses
            .iter()
            .filter(|w| !w.reached)
            .map(|w| w.name.as_str())
            .collect();
        if unreached.is_empty() {
            Health::Green
        } else {
            Health::Red(format!(
                "property {} holds but witness {} was never reached (the check may be vacuous)",
                self.name,
                unreached.join(", ")
            ))
        }
    }
}

impl VariantResult {
    /// Green when the weakened model's counterexample was found.
    #[must_use]
    pub fn health(&self) -> Health {
        if !self.found {
            Health::Red(format!(
                "variant {}: no counterexample to {} found, so the defence is not shown necessary",
                self.name, self.breaks
            ))
        } else if self.counterexample.is_empty() {
            Health::Red(format!(
                "variant {}: reported found but carries no counterexample",
                self.name
            ))
        } else if let Some(replay) = self.replay.as_ref().filter(|r| !r.conforms) {
            Health::Red(format!(
                "variant {}: the real system does not conform to the model's counterexample \
                 (weakened build: {}; normal build: {})",
                self.name, replay.weakened, replay.normal
            ))
        } else {
            Health::Green
        }
    }
}

impl HarnessResult {
    /// Green when the real target defended and the weakened control was breached.
    #[must_use]
    pub fn health(&self) -> Health {
        match (self.outcome, self.control.outcome) {
            (HarnessOutcome::Defended, HarnessOutcome::Breached) => Health::Green,
            (HarnessOutcome::Breached, _) => Health::Red(format!("harness {}: the real target was breached", self.id)),
            (HarnessOutcome::Error, _) => Health::Red(format!("harness {}: the real run did not finish", self.id)),
            (_, HarnessOutcome::Error) => Health::Red(format!("harness {}: the control run did not finish", self.id)),
            (HarnessOutcome::Defended, HarnessOutcome::Defended) => Health::Red(format!(
                "harness {}: the control ({}) was not breached, so the harness has no teeth",
                self.id, self.control.weakened
            )),
        }
    }
}

/// Why an evidence set is not acceptable as input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Two results of the same kind share a name.
    #[error("{0} appears twice in the evidence")]
    Duplicate(EvidenceRef),
    /// A name is not `[a-z0-9-]`.
    #[error("{kind} name {name:?} is not lowercase letters, digits and '-'")]
    BadName {
        /// property, variant or harness.
        kind: &'static str,
        /// The name.
        name: String,
    },
    /// More results or trace steps than the limits allow.
    #[error("{what}: more than {limit}")]
    TooMany {
        /// What.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A timing that is negative, infinite or not a number.
    #[error("{0}: timing is not a finite, non-negative number of seconds")]
    BadTiming(EvidenceRef),
    /// A property that holds but carries a counterexample.
    #[error("property {0} holds but carries a counterexample")]
    HoldsWithCounterexample(String),
}

/// Property results of several proof runs as one list: a property several runs check (the
/// key-compromise and command-channel runs repeat the main run's) is kept once, from the first
/// run that checks it, unless a later run breaks it, whose result then stands for it. A single
/// run and the merge of its shards both go through here, so they agree.
#[must_use]
pub fn one_per_property(results: impl IntoIterator<Item = PropertyResult>) -> Vec<PropertyResult> {
    let mut out: Vec<PropertyResult> = Vec::new();
    for result in results {
        match out.iter_mut().find(|o| o.name == result.name) {
            Some(o) if o.verdict == PropertyVerdict::Holds && result.verdict != PropertyVerdict::Holds => *o = result,
            Some(_) => {}
            None => out.push(result),
        }
    }
    out
}

impl Evidence {
    /// Whether a result with this reference is present.
    #[must_use]
    pub fn contains(&self, r: &EvidenceRef) -> bool {
        match r.kind {
            EvidenceKind::Property => self.property(&r.name).is_some(),
            EvidenceKind::Variant => self.variant(&r.name).is_some(),
            EvidenceKind::Harness => self.harness(&r.name).is_some(),
        }
    }

    /// The property result called `name`.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&PropertyResult> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The variant result called `name`.
    #[must_use]
    pub fn variant(&self, name: &str) -> Option<&VariantResult> {
        self.variants.iter().find(|v| v.name == name)
    }

    /// The harness result with id `id`.
    #[must_use]
    pub fn harness(&self, id: &str) -> Option<&HarnessResult> {
        self.harnesses.iter().find(|h| h.id == id)
    }

    /// The health of the result `r` names, or `None` if it is missing.
    #[must_use]
    pub fn health(&self, r: &EvidenceRef) -> Option<Health> {
        match r.kind {
            EvidenceKind::Property => self.property(&r.name).map(PropertyResult::health),
            EvidenceKind::Variant => self.variant(&r.name).map(VariantResult::health),
            EvidenceKind::Harness => self.harness(&r.name).map(HarnessResult::health),
        }
    }

    /// Every result's reference with its health, in evidence order.
    pub fn all(&self) -> impl Iterator<Item = (EvidenceRef, Health)> + '_ {
        let p = self
            .properties
            .iter()
            .map(|p| (EvidenceRef::new(EvidenceKind::Property, &p.name), p.health()));
        let v = self
            .variants
            .iter()
            .map(|v| (EvidenceRef::new(EvidenceKind::Variant, &v.name), v.health()));
        let h = self
            .harnesses
            .iter()
            .map(|h| (EvidenceRef::new(EvidenceKind::Harness, &h.id), h.health()));
        p.chain(v).chain(h)
    }

    /// Checks names, uniqueness, limits and timings.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn validate(&self) -> Result<(), EvidenceError> {
        let too_many = |what: &str, n: usize, limit: usize| {
            if n > limit {
                Err(EvidenceError::TooMany {
                    what: what.to_owned(),
                    limit,
                })
            } else {
                Ok(())
            }
        };
        too_many("properties", self.properties.len(), MAX_RESULTS)?;
        too_many("variants", self.variants.len(), MAX_RESULTS)?;
        too_many("harnesses", self.harnesses.len(), MAX_RESULTS)?;
        let mut seen = BTreeSet::new();
        let mut check = |kind: EvidenceKind, name: &str, timing: Timing| {
            if !is_evidence_name(name) {
                return Err(EvidenceError::BadName {
                    kind: kind.prefix(),
                    name: name.to_owned(),
                });
            }
            let r = EvidenceRef::new(kind, name);
            if !(timing.seconds.is_finite() && timing.seconds >= 0.0) {
                return Err(EvidenceError::BadTiming(r));
            }
            if !seen.insert(r.clone()) {
                return Err(EvidenceError::Duplicate(r));
            }
            Ok(())
        };
        for p in &self.properties {
            check(EvidenceKind::Property, &p.name, p.timing)?;
            let trace = p.counterexample.as_ref().map_or(0, Vec::len);
            too_many(&format!("property {} counterexample steps", p.name), trace, MAX_TRACE)?;
            too_many(
                &format!("property {} witnesses", p.name),
                p.witnesses.len(),
                MAX_RESULTS,
            )?;
            if p.verdict == PropertyVerdict::Holds && p.counterexample.is_some() {
                return Err(EvidenceError::HoldsWithCounterexample(p.name.clone()));
            }
        }
        for v in &self.variants {
            check(EvidenceKind::Variant, &v.name, v.timing)?;
            too_many(
                &format!("variant {} counterexample steps", v.name),
                v.counterexample.len(),
                MAX_TRACE,
            )?;
        }
        for h in &self.harnesses {
            check(EvidenceKind::Harness, &h.id, h.timing)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, proof: &str, verdict: PropertyVerdict) -> PropertyResult {
        PropertyResult {
            name: name.to_owned(),
            proof: proof.to_owned(),
            description: String::new(),
            verdict,
            unique_states: 1,
            max_depth: 1,
            witnesses: Vec::new(),
            counterexample: None,
            timing: Timing::seconds(0.0),
        }
    }

    #[test]
    fn a_property_checked_by_several_runs_is_reported_once_and_failing_if_any_run_breaks_it() {
        use PropertyVerdict::{Fails, Holds};
        let merged = one_per_property([
            result("allow-list", "channel", Holds),
            result("injective-agreement", "channel", Holds),
            result("allow-list", "channel-commands", Fails),
            result("injective-agreement", "channel-commands", Holds),
            result("command-liveness", "channel-commands", Holds),
        ]);
        let seen: Vec<(&str, &str, PropertyVerdict)> = merged
            .iter()
            .map(|p| (p.name.as_str(), p.proof.as_str(), p.verdict))
            .collect();
        assert_eq!(
            seen,
            [
                ("allow-list", "channel-commands", Fails),
                ("injective-agreement", "channel", Holds),
                ("command-liveness", "channel-commands", Holds),
            ]
        );
    }
}
