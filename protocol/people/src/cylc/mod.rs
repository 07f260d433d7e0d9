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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use eval::{CylcAuthorization, CylcDecision, CylcReason, MergeEvent, Origin, Raised};
pub use explain::CylcExplanation;

use crate::policy::PolicyError;
use crate::policy::cylc::{parse_object, strings};
use crate::policy::json::{Json, Value};

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

/// A rights value as Python holds it: a string, or a list of strings (possibly empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Perm {
    /// `"READ"`.
    Str(Item),
    /// `["READ", "stop"]`, or `[]`.
    List(Vec<Item>),
}

impl Perm {
    /// The strings it holds.
    #[must_use]
    pub fn items(&self) -> &[Item] {
        match self {
            Self::Str(i) => std::slice::from_ref(i),
            Self::List(v) => v,
        }
    }

    /// `== []` in Python: the value Cylc raises on.
    #[must_use]
    pub fn is_empty_list(&self) -> bool {
        matches!(self, Self::List(v) if v.is_empty())
    }
}

/// `"ACCESS_KEY": {"default": …, "limit": …}` under one owner key of `site_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteEntry {
    /// The access key (`*`, a user name or `group:NAME`).
    pub key: String,
    /// Its line.
    pub line: usize,
    /// `default`, if given.
    pub default: Option<Perm>,
    /// `limit`, if given.
    pub limit: Option<Perm>,
    /// Other keys (Cylc ignores them; `defualt` is one).
    pub ignored: Vec<Item>,
}

impl SiteEntry {
    /// Whether the Python dict is non-empty (Cylc tests an existing entry's truth).
    #[must_use]
    pub fn is_truthy(&self) -> bool {
        self.default.is_some() || self.limit.is_some() || !self.ignored.is_empty()
    }
}

/// One owner key of `site_authorization` and its entries, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteOwner {
    /// The owner key (`*`, an owner's name or `group:NAME`).
    pub key: String,
    /// Its line.
    pub line: usize,
    /// Its entries, in file order.
    pub entries: Vec<SiteEntry>,
}

/// `site_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CylcSite {
    /// The file it came from.
    pub file: String,
    /// Owner keys in file order.
    pub owners: Vec<SiteOwner>,
}

/// One key of an owner's `user_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserEntry {
    /// The key (`*`, a user name or `group:NAME`).
    pub key: String,
    /// Its line.
    pub line: usize,
    /// The rights.
    pub perm: Perm,
}

/// An owner's `user_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CylcUserConf {
    /// The file it came from (empty: none, Cylc's default `{}`).
    pub file: String,
    /// Keys in file order.
    pub entries: Vec<UserEntry>,
}

fn syntax(file: &str, text: &str, line: usize, message: String) -> PolicyError {
    PolicyError::Syntax {
        file: file.to_owned(),
        line,
        message,
        near: crate::policy::line_text(text, line),
    }
}

/// A rights value: what Cylc fails on (not a string or list of strings) is refused, `[]` kept.
fn perm(file: &str, text: &str, value: &Json, field: &str) -> Result<Perm, PolicyError> {
    if matches!(&value.value, Value::Array(v) if v.is_empty()) {
        return Ok(Perm::List(Vec::new()));
    }
    let items: Vec<Item> = strings(file, text, value, field)?
        .into_iter()
        .map(|(s, line)| Item {
            value: s.to_owned(),
            line,
        })
        .collect();
    Ok(match (&value.value, items.as_slice()) {
        (Value::Str(_), [one]) => Perm::Str(one.clone()),
        _ => Perm::List(items),
    })
}

impl CylcSite {
    /// Parses `site_authorization` as JSON. Refused: what makes Cylc's constructor or every
    /// request fail (an owner key whose value is not an object, an entry that is not an
    /// object, a value that is not a string or a list of strings).
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] with the line.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        let mut owners = Vec::new();
        for o in parse_object(file, text)? {
            let Value::Object(people) = &o.value.value else {
                return Err(syntax(
                    file,
                    text,
                    o.value.line,
                    format!(
                        "\"{}\": expected an object, not {} (Cylc fails to start)",
                        o.key,
                        o.value.value.kind()
                    ),
                ));
            };
            let mut entries = Vec::new();
            for p in people {
                let field = format!("\"{}\".\"{}\"", o.key, p.key);
                let Value::Object(fields) = &p.value.value else {
                    return Err(syntax(
                        file,
                        text,
                        p.value.line,
                        format!("{field}: expected an object, not {} (Cylc fails on it)", p.value.value.kind()),
                    ));
                };
                let mut e = SiteEntry {
                    key: p.key.clone(),
                    line: p.line,
                    default: None,
                    limit: None,
                    ignored: Vec::new(),
                };
                for f in fields {
                    let sub = format!("{field}.{}", f.key);
                    match f.key.as_str() {
                        "default" => e.default = Some(perm(file, text, &f.value, &sub)?),
                        "limit" => e.limit = Some(perm(file, text, &f.value, &sub)?),
                        _ => e.ignored.push(Item {
                            value: f.key.clone(),
                            line: f.line,
                        }),
                    }
                }
                entries.push(e);
            }
            owners.push(SiteOwner {
                key: o.key,
                line: o.line,
                entries,
            });
        }
        Ok(Self {
            file: file.to_owned(),
            owners,
        })
    }
}

impl CylcUserConf {
    /// Parses one owner's `user_authorization` as JSON.
    ///
    /// # Errors
    /// [`PolicyError::Syntax`] with the line, for a value Cylc fails on.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        let entries = parse_object(file, text)?
            .into_iter()
            .map(|m| {
                let field = format!("\"{}\"", m.key);
                Ok(UserEntry {
                    perm: perm(file, text, &m.value, &field)?,
                    key: m.key,
                    line: m.line,
                })
            })
            .collect::<Result<_, PolicyError>>()?;
        Ok(Self {
            file: file.to_owned(),
            entries,
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
