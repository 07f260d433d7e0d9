//! The items of a threat model, as loaded and as carried in `results.json`.
//!
//! Field meanings are documented for model authors in `threats/model/README.md`; these types
//! are the loaded form (ids resolved to strings, every item with its [`Location`]).

use serde::{Deserialize, Serialize};

use super::{Date, EvidenceRef, Location, Rating, Stride};

/// A whole threat model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreatModel {
    /// The model directory as a `/`-separated path relative to the repository root
    /// (`threats/model`), used to make SARIF locations; callers may rewrite it.
    pub source_dir: String,
    /// The model files read, sorted.
    pub files: Vec<String>,
    /// The description of the service (the threat-analysis review process: purpose, intended usage, deployment).
    pub system: Option<System>,
    /// Trust boundaries.
    pub boundaries: Vec<Boundary>,
    /// Components and actors.
    pub entities: Vec<Entity>,
    /// Data flows (interfaces) between entities.
    pub flows: Vec<Flow>,
    /// Data assets at risk.
    pub assets: Vec<Asset>,
    /// External dependencies and the security assumptions made about them.
    pub dependencies: Vec<Dependency>,
    /// Threat stories and concerns (S01–S16, C01–C10).
    pub stories: Vec<Story>,
    /// Sequence diagrams of common operations.
    pub sequences: Vec<Sequence>,
    /// Threats, per entity and STRIDE category.
    pub threats: Vec<Threat>,
    /// STRIDE categories that do not apply to an entity, and why.
    pub not_applicable: Vec<NotApplicable>,
}

impl ThreatModel {
    /// An empty model (for building models in code).
    #[must_use]
    pub fn empty(source_dir: impl Into<String>) -> Self {
        Self {
            source_dir: source_dir.into(),
            files: Vec::new(),
            system: None,
            boundaries: Vec::new(),
            entities: Vec::new(),
            flows: Vec::new(),
            assets: Vec::new(),
            dependencies: Vec::new(),
            stories: Vec::new(),
            sequences: Vec::new(),
            threats: Vec::new(),
            not_applicable: Vec::new(),
        }
    }

    /// The entity with this id.
    #[must_use]
    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.id == id)
    }

    /// The threat with this id.
    #[must_use]
    pub fn threat(&self, id: &str) -> Option<&Threat> {
        self.threats.iter().find(|t| t.id == id)
    }

    /// The path of a model file relative to the repository root (`threats/model/x.toml`).
    #[must_use]
    pub fn repo_path(&self, file: &str) -> String {
        let dir = self.source_dir.trim_end_matches('/');
        if dir.is_empty() || dir == "." {
            file.to_owned()
        } else {
            format!("{dir}/{file}")
        }
    }
}

/// The service being modelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Who uses it, and how.
    pub usage: String,
    /// The best-practice deployment the model describes.
    pub deployment: String,
    /// How it is administered, and by whom.
    pub administration: String,
    /// Where it was declared.
    pub location: Location,
}

/// A trust boundary: a region inside which components trust each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundary {
    /// Stable id (`workflow-host`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What is inside and who controls it.
    pub description: String,
    /// Where it was declared.
    pub location: Location,
}

/// The kind of an entity (drawn differently in the block diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityKind {
    /// A person (and their user agent).
    Person,
    /// A running program.
    Process,
    /// Something that stores data (a file, a log).
    DataStore,
    /// A communication channel treated as an element (network, bootstrap channel).
    Channel,
    /// Something outside the system's control (a host, an identity provider).
    External,
}

impl EntityKind {
    /// The kebab-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Process => "process",
            Self::DataStore => "data-store",
            Self::Channel => "channel",
            Self::External => "external",
        }
    }
}

/// A component or actor of the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Stable id (`scheduler`).
    pub id: String,
    /// Upper-case code used in its threats' ids (`SCHED` in `T-SCHED-S-01`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// What kind of element it is.
    pub kind: EntityKind,
    /// The trust boundary it lives in.
    pub boundary: String,
    /// What it is for.
    pub purpose: String,
    /// The sensitive data it persists or holds.
    pub sensitive_data: Vec<String>,
    /// The protocols it exposes.
    pub protocols: Vec<String>,
    /// Where it was declared.
    pub location: Location,
}

/// A data flow (an interface between two entities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Stable id (`F05`).
    pub id: String,
    /// Sending entity.
    pub from: String,
    /// Receiving entity.
    pub to: String,
    /// Channel entities the flow crosses (`network`, `bootstrap`), in order.
    pub via: Vec<String>,
    /// The protocol (`Noise_IK_25519_ChaChaPoly_BLAKE2s over TCP`).
    pub protocol: String,
    /// What it carries, in words.
    pub description: String,
    /// Ids of the data assets it carries.
    pub carries: Vec<String>,
    /// How the sending and receiving ends are authenticated.
    pub authentication: String,
    /// Confidentiality need.
    pub confidentiality: Rating,
    /// Integrity need.
    pub integrity: Rating,
    /// Availability need.
    pub availability: Rating,
    /// Whether an attacker can use it as an entry point to the system.
    pub entry_point: bool,
    /// Where it was declared.
    pub location: Location,
}

/// A data asset that might be at risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Stable id (`scheduler-static-key`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Entities that hold it at rest or in memory.
    pub held_by: Vec<String>,
    /// Confidentiality rating.
    pub confidentiality: Rating,
    /// Integrity rating.
    pub integrity: Rating,
    /// Availability rating.
    pub availability: Rating,
    /// Where it was declared.
    pub location: Location,
}

/// An external dependency and the security assumptions made about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    /// Stable id (`ssh`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Entities that rely on it.
    pub used_by: Vec<String>,
    /// What the design assumes of it.
    pub assumptions: Vec<String>,
    /// Where it was declared.
    pub location: Location,
}

/// A threat story or concern the model must answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Story {
    /// Stable id (`S01`, `C05`).
    pub id: String,
    /// Short title.
    pub title: String,
    /// The story as told (`As an attacker I want …`).
    pub text: String,
    /// Where it comes from (`2019 Cylc 8 threat-modelling session`).
    pub source: String,
    /// Whether at least one attack harness must serve it.
    pub requires_harness: bool,
    /// How the story is met other than by threats (exempts it from needing a threat).
    pub met_by: Option<String>,
    /// Why the story is outside this model's scope (exempts it from needing threats).
    pub out_of_scope: Option<String>,
    /// Where it was declared.
    pub location: Location,
}

/// A sequence diagram of a common operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    /// Stable id (`key-exchange`).
    pub id: String,
    /// Title.
    pub title: String,
    /// What the operation is.
    pub description: String,
    /// The messages, in order.
    pub steps: Vec<Step>,
    /// Where it was declared.
    pub location: Location,
}

/// One message of a sequence diagram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Sending entity.
    pub from: String,
    /// Receiving entity (the sender itself for a note).
    pub to: String,
    /// The message.
    pub message: String,
}

/// A threat to one entity in one STRIDE category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threat {
    /// Stable id `T-{entity code}-{STRIDE letter}-{NN}` (`T-SCHED-S-01`).
    pub id: String,
    /// The entity threatened.
    pub entity: String,
    /// The STRIDE category.
    pub stride: Stride,
    /// Short title.
    pub title: String,
    /// How the threat manifests.
    pub description: String,
    /// The countermeasure.
    pub countermeasure: String,
    /// How likely it is to be attempted and succeed without the countermeasure.
    pub likelihood: Rating,
    /// How bad it would be.
    pub impact: Rating,
    /// Stories it serves.
    pub stories: Vec<String>,
    /// Evidence that the countermeasure works.
    pub evidence: Vec<EvidenceRef>,
    /// A risk acceptance, for a threat without evidence.
    pub acceptance: Option<Acceptance>,
    /// Where it was declared.
    pub location: Location,
}

impl Threat {
    /// Likelihood × impact, 1 to 9 (C10: prioritise by consequence and likelihood).
    #[must_use]
    pub const fn risk(&self) -> u8 {
        self.likelihood.weight() * self.impact.weight()
    }
}

/// An explicit, owned, dated decision to live with a threat for now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// Who accepted the risk.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// The last day the acceptance is valid.
    pub until: Date,
}

/// A STRIDE category that does not apply to an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotApplicable {
    /// The entity.
    pub entity: String,
    /// The category.
    pub stride: Stride,
    /// Why it does not apply.
    pub reason: String,
    /// Where it was declared.
    pub location: Location,
}
