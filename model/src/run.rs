//! Running the checker: proofs (every property holds and every witness is reached, within a
//! bound) and attack searches (the shortest counterexample a weakened design admits). Generic
//! over any model that can explain its actions, so the job channel and the people side share
//! one harness.

use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

use serde::Serialize;
use stateright::{Checker, HasDiscoveries, Model};

use crate::trace::TraceStep;

/// A model whose actions can be told as steps a person reads.
pub trait Explain: Model {
    /// The steps of a trace.
    fn describe(&self, actions: &[Self::Action]) -> Vec<TraceStep>;

    /// The bound explored, in words, for reports.
    fn bound(&self) -> String;
}

/// How one property fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyOutcome {
    /// The property's name.
    pub name: String,
    /// `always` (must never be violated) or `sometimes` (a witness that must be reached).
    pub kind: &'static str,
    /// Whether it holds: no counterexample, or the witness was reached.
    pub holds: bool,
    /// The counterexample of a failed `always`, or the witness of a `sometimes`.
    pub trace: Vec<TraceStep>,
}

/// A proof run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProofReport {
    /// Which model.
    pub model: String,
    /// The bound explored.
    pub bound: String,
    /// Distinct states explored.
    pub unique_states: usize,
    /// States generated, repeats included.
    pub states: usize,
    /// Deepest path explored.
    pub max_depth: usize,
    /// Wall-clock seconds (a timing field: varies between runs).
    pub seconds: f64,
    /// Every property.
    pub properties: Vec<PropertyOutcome>,
}

impl ProofReport {
    /// Whether every `always` holds and every `sometimes` was reached.
    #[must_use]
    pub fn all_hold(&self) -> bool {
        self.properties.iter().all(|p| p.holds)
    }
}

/// An attack search against a weakened design.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    /// The variant's name.
    pub variant: String,
    /// What it is.
    pub description: String,
    /// Whether a counterexample was found (the defence is shown necessary).
    pub found: bool,
    /// The property it breaks.
    pub property: Option<String>,
    /// The shortest counterexample, step by step.
    pub trace: Vec<TraceStep>,
    /// Distinct states explored by the last (deepest) search.
    pub unique_states: usize,
    /// Wall-clock seconds (a timing field).
    pub seconds: f64,
}

/// Explores the whole bounded state space (depth-first, two threads) and judges every property.
#[must_use]
pub fn prove<M>(name: &str, model: M) -> ProofReport
where
    M: Explain + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync,
    M::Action: Clone + Debug + PartialEq + Send + Sync,
{
    let bound = model.bound();
    let start = Instant::now();
    let checker = model.checker().threads(2).spawn_dfs().join();
    let seconds = start.elapsed().as_secs_f64();
    let model = checker.model();
    let discoveries = checker.discoveries();
    let properties = model
        .properties()
        .iter()
        .map(|p| {
            let always = p.expectation.discovery_is_failure();
            let found = discoveries.get(p.name);
            PropertyOutcome {
                name: p.name.to_owned(),
                kind: if always { "always" } else { "sometimes" },
                holds: found.is_some() != always,
                trace: found
                    .map(|path| model.describe(&path.clone().into_actions()))
                    .unwrap_or_default(),
            }
        })
        .collect();
    ProofReport {
        model: name.to_owned(),
        bound,
        unique_states: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        seconds,
        properties,
    }
}

/// Finds the shortest attack on `target`, the `always` property the variant is catalogued as
/// breaking, in the model `make` builds: breadth-first searches of increasing depth, each
/// stopped once `target` is violated, so the first hit is minimal. Other properties the
/// variant happens to break on the way are not reported: "without X, P breaks" then always
/// means that P's counterexample was found. Returns the report and the counterexample's
/// actions (for replay against the real system).
pub fn find_attack<M>(
    variant: &str,
    description: &str,
    make: impl Fn() -> M,
    max_depth: usize,
    target: &'static str,
) -> (VariantReport, Vec<M::Action>)
where
    M: Explain + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync,
    M::Action: Clone + Debug + PartialEq + Send + Sync,
{
    let start = Instant::now();
    let mut unique_states = 0;
    let report = |found, property, trace, unique_states, start: Instant| VariantReport {
        variant: variant.to_owned(),
        description: description.to_owned(),
        found,
        property,
        trace,
        unique_states,
        seconds: start.elapsed().as_secs_f64(),
    };
    for depth in 1..=max_depth {
        let checker = make()
            .checker()
            .threads(1)
            .target_max_depth(depth)
            .finish_when(HasDiscoveries::AnyOf(std::iter::once(target).collect()))
            .timeout(Duration::from_secs(120))
            .spawn_bfs()
            .join();
        unique_states = checker.unique_state_count();
        let model = checker.model();
        let properties = model.properties();
        let hit = checker
            .discoveries()
            .into_iter()
            .find(|(name, _)| {
                *name == target
                    && properties
                        .iter()
                        .any(|p| p.name == *name && p.expectation.discovery_is_failure())
            })
            .map(|(name, path)| (name, path.into_actions()));
        if let Some((property, actions)) = hit {
            let trace = model.describe(&actions);
            return (
                report(true, Some(property.to_owned()), trace, unique_states, start),
                actions,
            );
        }
        if checker.max_depth() < depth {
            // The whole state space is shallower than the bound: nothing more to find.
            break;
        }
    }
    (report(false, None, Vec::new(), unique_states, start), Vec::new())
}
