//! The threat model as data and the evidence it is joined with.
//!
//! This library knows the reference system only through its own evidence types; the
//! `threatcheck` binary (src/main.rs and src/cmd/) is where the protocol crates are used.
//!
//! | module | what |
//! |---|---|
//! | [`model`] | the threat model's types and [`ThreatModel::load`] (TOML, schema in `threats/model/README.md`) |
//! | [`evidence`] | the results schema producers fill: properties, variants, harnesses |
//! | [`lint`] | the readiness check of a model ([`lint::lint`]) |
//! | [`join`] | model + evidence + lint → a status per threat and a verdict ([`join::join`]) |
//! | [`results`] | `results.json` ([`Results`]), versioned and self-contained |
//! | [`report`] | the six report writers and [`report::write_reports`] |
//!
//! A run, end to end:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use threats::{Date, Evidence, KnownEvidence, Results, ThreatModel, Tool};
//! let model = ThreatModel::load(std::path::Path::new("threats/model"))?;
//! let evidence = Evidence::default(); // filled by the model checker and the attack harnesses
//! let today: Date = "2026-11-23".parse()?;
//! let findings = threats::lint::lint(&model, &KnownEvidence::from_evidence(&evidence), today);
//! let results = Results::new(Tool::threatcheck("0.1.0"), today, model, evidence, findings);
//! threats::report::write_reports(&results, std::path::Path::new("reports"))?;
//! let exit = if results.outcome.verdict == threats::Verdict::Green { 0 } else { 1 };
//! # let _ = exit;
//! # Ok(())
//! # }
//! ```

pub mod evidence;
pub mod join;
pub mod lint;
pub mod model;
pub mod report;
pub mod results;
pub mod shard;

pub use evidence::{
    Action, ControlRun, Evidence, HarnessOutcome, HarnessResult, PropertyResult, PropertyVerdict, Timing, VariantKind,
    VariantResult, Witness,
};
pub use join::{Joined, Status, Verdict};
pub use lint::{KnownEvidence, LintFinding, Severity};
pub use model::{Date, EvidenceRef, ThreatModel};
pub use report::{RenderOptions, write_reports};
pub use results::{Results, Tool};
