//! `results.json`: one run's threat model, evidence, lint findings and joined outcome, in a
//! versioned schema (`threatcheck-results/1`, documented in `threats/RESULTS.md`).
//!
//! The file carries everything the reports need, so `threatcheck report` re-renders every
//! report from it alone. On reading, the outcome is recomputed from the stored inputs and must
//! mean the same as the stored one (verdict, counts, statuses): a hand-edited verdict is
//! refused, never presented.

use std::fs;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::evidence::{Evidence, EvidenceError, Timing};
use crate::join::{Joined, join};
use crate::lint::LintFinding;
use crate::model::{Date, MAX_ITEMS, ThreatModel};

/// The schema identifier this library writes and reads.
pub const SCHEMA: &str = "threatcheck-results/1";
/// Largest `results.json` read, in bytes.
pub const MAX_RESULTS_BYTES: u64 = 64 * 1024 * 1024;
/// Where SARIF consumers are pointed for more about the tool.
pub const INFORMATION_URI: &str = "https://github.com/threatcheck/threatcheck/blob/main/threats/RESULTS.md";

/// The tool that produced the results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// `threatcheck`.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Where to read about it (SARIF `informationUri`).
    pub information_uri: String,
}

impl Tool {
    /// `threatcheck` at `version`, with [`INFORMATION_URI`].
    #[must_use]
    pub fn threatcheck(version: &str) -> Self {
        Self {
            name: "threatcheck".into(),
            version: version.into(),
            information_uri: INFORMATION_URI.into(),
        }
    }
}

/// One verification run, complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The producer.
    pub tool: Tool,
    /// The date risk acceptances were judged against.
    pub as_of: Date,
    /// The threat model.
    pub model: ThreatModel,
    /// The evidence.
    pub evidence: Evidence,
    /// Lint findings on the model.
    pub lint: Vec<LintFinding>,
    /// The join of the above (derived; checked on reading).
    pub outcome: Joined,
    /// When this is one shard of a run (`verify --shard K/N`): which, and of what; absent in a
    /// whole run's results (`report --merge` joins the shards into one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardInfo>,
}

/// Why a `results.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file could not be read.
    #[error("cannot read the results")]
    Read(#[source] std::io::Error),
    /// The file is larger than [`MAX_RESULTS_BYTES`].
    #[error("the results are larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Not JSON, or not this schema's shape.
    #[error("line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A different schema (or version).
    #[error("schema {found:?} is not supported (this threatcheck reads {SCHEMA:?})")]
    WrongSchema {
        /// The schema the file names.
        found: String,
    },
    /// The evidence is malformed.
    #[error("evidence: {0}")]
    Evidence(#[from] EvidenceError),
    /// Too many model items or lint findings.
    #[error("{what}: more than {limit}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The stored outcome differs from the one its inputs give.
    #[error("the stored outcome does not follow from the stored model and evidence ({0}); refusing to render it")]
    Inconsistent(String),
}

impl From<serde_json::Error> for ResultsError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}

#[derive(Deserialize)]
struct SchemaOnly {
    schema: Option<String>,
}

impl Results {
    /// The results of a run: joins `model`, `evidence` and `lint` as of `as_of`.
    #[must_use]
    pub fn new(tool: Tool, as_of: Date, model: ThreatModel, evidence: Evidence, lint: Vec<LintFinding>) -> Self {
        let outcome = join(&model, &evidence, &lint, as_of);
        Self {
            schema: SCHEMA.to_owned(),
            tool,
            as_of,
            model,
            evidence,
            lint,
            outcome,
            shard: None,
        }
    }

    /// The same results with every timing set to zero (for byte-stable output).
    #[must_use]
    pub fn without_timings(&self) -> Self {
        let mut r = self.clone();
        let zero = Timing::default();
        r.evidence.properties.iter_mut().for_each(|p| p.timing = zero);
        r.evidence.variants.iter_mut().for_each(|v| v.timing = zero);
        r.evidence.harnesses.iter_mut().for_each(|h| h.timing = zero);
        r
    }

    /// Pretty JSON with a final newline. Deterministic: fields in declaration order, lists in
    /// model and evidence order.
    ///
    /// # Errors
    ///
    /// Only if serialisation fails, which these types do not do.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = serde_json::to_vec_pretty(self)?;
        out.push(b'\n');
        Ok(out)
    }

    /// Reads `path` (at most [`MAX_RESULTS_BYTES`]) with [`Results::from_json`].
    ///
    /// # Errors
    ///
    /// See [`ResultsError`].
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        let file = fs::File::open(path).map_err(ResultsError::Read)?;
        let mut bytes = Vec::new();
        file.take(MAX_RESULTS_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(ResultsError::Read)?;
        Self::from_json(&bytes)
    }

    /// Parses and checks results: the schema version, the evidence, the limits, and that the
    /// stored outcome means what its inputs give. The returned outcome is the recomputed one.
    ///
    /// # Errors
    ///
    /// See [`ResultsError`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, ResultsError> {
        if bytes.len() as u64 > MAX_RESULTS_BYTES {
            return Err(ResultsError::TooLarge {
                limit: MAX_RESULTS_BYTES,
            });
        }
        let head: SchemaOnly = serde_json::from_slice(bytes)?;
        match head.schema {
            Some(s) if s == SCHEMA => {}
            found => {
                return Err(ResultsError::WrongSchema {
                    found: found.unwrap_or_default(),
                });
            }
        }
        let results: Self = serde_json::from_slice(bytes)?;
        results.evidence.validate()?;
        let m = &results.model;
        let items = m.boundaries.len()
            + m.entities.len()
            + m.flows.len()
            + m.assets.len()
            + m.dependencies.len()
            + m.stories.len()
            + m.sequences.iter().map(|s| 1 + s.steps.len()).sum::<usize>()
            + m.threats.len()
            + m.not_applicable.len();
        if items > MAX_ITEMS {
            return Err(ResultsError::TooMany {
                what: "model items",
                limit: MAX_ITEMS,
            });
        }
        if results.lint.len() > MAX_ITEMS {
            return Err(ResultsError::TooMany {
                what: "lint findings",
                limit: MAX_ITEMS,
            });
        }
        // Compare meaning, not wording: a newer threatcheck may phrase notes and reasons
        // differently, and then renders its own phrasing of the same outcome.
        let again = join(&results.model, &results.evidence, &results.lint, results.as_of);
        if let Some(what) = difference(&results.outcome, &again) {
            return Err(ResultsError::Inconsistent(what));
        }
        let mut results = results;
        results.outcome = again;
        Ok(results)
    }
}

/// How `stored` differs in meaning from `fresh` (verdict, counts, uncited evidence, and each
/// threat's status, acceptance date and item states), if it does.
fn difference(stored: &Joined, fresh: &Joined) -> Option<String> {
    if stored.verdict != fresh.verdict {
        return Some(format!(
            "the stored verdict is {:?}, the evidence gives {:?}",
            stored.verdict, fresh.verdict
        ));
    }
    if stored.counts != fresh.counts || stored.uncited != fresh.uncited {
        return Some("the stored counts differ".to_owned());
    }
    if stored.threats.len() != fresh.threats.len() {
        return Some("the stored threat outcomes differ in number".to_owned());
    }
    for (a, b) in stored.threats.iter().zip(&fresh.threats) {
        let items = |t: &crate::join::ThreatOutcome| {
            t.items
                .iter()
                .map(|i| (i.evidence.clone(), i.state))
                .collect::<Vec<_>>()
        };
        if a.id != b.id || a.status != b.status || a.accepted_until != b.accepted_until || items(a) != items(b) {
            return Some(format!(
                "threat {} is stored as {}, the evidence gives {}",
                b.id,
                a.label(),
                b.label()
            ));
        }
    }
    None
}
