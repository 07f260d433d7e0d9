//! Real Cylc's authorisation decisions (`threatcheck authz --semantics cylc`): what a
//! cylc-uiserver of a given version answers for a Cylc-format configuration, bugs included,
//! so a site learns what its Cylc does rather than what its documentation says.
//!
//! This is a reimplementation of cylc-uiserver's `Authorization` class (cylc/uiserver/
//! authorise.py) over the same inputs: the site's `site_authorization` and the owner's
//! `user_authorization` as JSON, keys in file order, names and operation strings matched
//! exactly as Python compares strings. In particular:
//!
//! * the owner's view of the site configuration is built by walking the owner keys in file
//!   order and, when a key brings an access key not seen yet, `dict.update()` with that key's
//!   whole entry, which replaces whatever was merged into the entries it also names;
//! * entries are matched only by exact spelling: `Trigger`, `HOLD`, `setHoldPoint` and
//!   `!Stop` never match an operation, `!!READ` never negates one; `""` is dropped;
//! * `[]` raises when a request reaches it, and the GraphQL middleware then denies;
//! * a request names its operation as GraphQL does and is converted with Graphene's
//!   `to_snake_case`; a name that is then not an operation of that version is refused.
//!
//! `tests` and `scripts/cylc-differential.sh` compare it with the real cylc-uiserver from PyPI.
//! [`lint`] reports where the two readings of a configuration (this one and the documented
//! one, [`crate::authz::Authorizer`]) part.

mod eval;
mod explain;
pub mod lint;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use eval::{
    ConstructError, CylcAuthorization, CylcDecision, CylcReason, Lookup, MergeEvent, Origin, Permitted, Raised,
};
pub use explain::CylcExplanation;

use crate::policy::PolicyError;
use crate::policy::cylc::parse_object;
use crate::policy::json::Member;

/// A cylc-uiserver release whose decisions we reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CylcVersion {
    /// cylc-uiserver 1.7 with cylc-flow 8.5 (checked against 1.7.1 / 8.5.4).
    UiServer1_7,
}

/// The operations of cylc-uiserver 1.7 / cylc-flow 8.5: every mutation of its schema, and
/// `read` (queries and subscriptions).
const OPS_1_7: &[&str] = &[
    "broadcast",
    "clean",
    "ext_trigger",
    "hold",
    "kill",
    "message",
    "pause",
    "play",
    "poll",
    "read",
    "release",
    "release_hold_point",
    "reload",
    "remove",
    "resume",
    "scan",
    "set",
    "set_graph_window_extent",
    "set_hold_point",
    "set_verbosity",
    "stop",
    "trigger",
];

impl CylcVersion {
    /// Every supported version.
    pub const ALL: [Self; 1] = [Self::UiServer1_7];
    /// The newest supported version (the default).
    pub const LATEST: Self = Self::UiServer1_7;

    /// The short name (`1.7`).
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::UiServer1_7 => "1.7",
        }
    }

    /// What it is, for reports.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::UiServer1_7 => "cylc-uiserver 1.7 / cylc-flow 8.5 (checked against 1.7.1 / 8.5.4)",
        }
    }

    /// `ALL`: every operation, in Cylc's authorisation spelling.
    #[must_use]
    pub const fn operations(self) -> &'static [&'static str] {
        match self {
            Self::UiServer1_7 => OPS_1_7,
        }
    }

    /// Whether `name` is one of its operations.
    #[must_use]
    pub fn is_operation(self, name: &str) -> bool {
        self.operations().contains(&name)
    }

    /// `CONTROL`: every mutation but `broadcast`.
    pub fn control(self) -> impl Iterator<Item = &'static str> {
        self.operations()
            .iter()
            .copied()
            .filter(|op| *op != "broadcast" && *op != "read")
    }
}

impl fmt::Display for CylcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A Cylc version we do not reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("cylc-uiserver {0:?} is not a supported version (supported: 1.7)")]
pub struct UnsupportedVersion(pub String);

impl FromStr for CylcVersion {
    type Err = UnsupportedVersion;

    fn from_str(s: &str) -> Result<Self, UnsupportedVersion> {
        match s {
            "1.7" | "1.7.0" | "1.7.1" => Ok(Self::UiServer1_7),
            _ => Err(UnsupportedVersion(s.to_owned())),
        }
    }
}

/// One string of a rights value, and its line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Item {
    /// As written.
    pub value: String,
    /// 1-based line.
    pub line: usize,
}

/// `site_authorization`: owner keys in file order, values as written. Cylc's code takes the
/// values as they come, so do we: a value of the wrong type is not refused here but fails
/// where Cylc's code fails on it ([`CylcAuthorization`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CylcSite {
    /// The file it came from.
    pub file: String,
    /// Owner keys in file order.
    pub owners: Vec<Member>,
}

/// An owner's `user_authorization`: keys in file order, values as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CylcUserConf {
    /// The file it came from (empty: none, Cylc's default `{}`).
    pub file: String,
    /// Keys in file order.
    pub entries: Vec<Member>,
}

impl CylcSite {
    /// Parses `site_authorization` as JSON. Refused only what Cylc refuses at start-up: text
    /// that is not JSON, or a document that is not an object (the setting is a `Dict` trait).
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] with the line.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        Ok(Self {
            file: file.to_owned(),
            owners: parse_object(file, text)?,
        })
    }
}

impl CylcUserConf {
    /// Parses one owner's `user_authorization` as JSON (refused as [`CylcSite::parse`]).
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] with the line.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        Ok(Self {
            file: file.to_owned(),
            entries: parse_object(file, text)?,
        })
    }
}

/// A Cylc-format policy directory: `site.json` (absent: Cylc's default `{}`) and
/// `users/OWNER.json` for each owner that has a `user_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CylcPolicy {
    /// `site_authorization`.
    pub site: CylcSite,
    /// Each owner's `user_authorization`, by owner name.
    pub users: BTreeMap<String, CylcUserConf>,
}

impl CylcPolicy {
    /// Parses files given as (path relative to the directory, text).
    ///
    /// # Errors
    /// [`PolicyError`]: a file Cylc would fail on, or one that is not Cylc's (a `.toml`).
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        for (path, text) in files {
            if path == "site.json" {
                policy.site = CylcSite::parse(path, text)?;
            } else if let Some(owner) = path.strip_prefix("users/").and_then(|p| p.strip_suffix(".json"))
                && !owner.is_empty()
                && !owner.contains('/')
            {
                policy.users.insert(owner.to_owned(), CylcUserConf::parse(path, text)?);
            } else {
                return Err(PolicyError::UnexpectedFile { file: path.to_owned() });
            }
        }
        Ok(policy)
    }

    /// Reads a directory: `site.json` and `users/*.json` (hidden files and `README*` skipped).
    ///
    /// # Errors
    /// [`PolicyError`] naming the file.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        let files = crate::policy::read_dir_files(dir)?;
        Self::from_files(files.iter().map(|f| (f.path.as_str(), f.text.as_str())))
    }

    /// The owner's `user_authorization` (Cylc's default `{}` when it has none).
    #[must_use]
    pub fn user_conf(&self, owner: &str) -> CylcUserConf {
        self.users.get(owner).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
