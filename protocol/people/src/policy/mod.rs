//! Authorisation policy: the site, owner and workflow layers, and loading them from a directory.
//!
//! ```text
//! DIR/site.toml                    site defaults and limits      (or Cylc's site.json)
//! DIR/users/OWNER.toml             OWNER's grants on all of their workflows (or OWNER.json)
//! DIR/workflows/OWNER/NAME.toml    grants on one workflow (NAME may hold '/': nested dirs)
//! ```
//!
//! Parsing is pure ([`Policy::from_files`]); [`Policy::load`] is the I/O edge that reads a
//! directory. Any error refuses the whole policy (check `fail-closed`): a typo in the file that
//! restricts a sensitive workflow must not quietly leave the laxer site default in force. For
//! the same reason a file in the directory that is not one of the above (a `.tml`, a stray
//! `users/notes.txt`) is an error, not ignored; only hidden files and `README*` are skipped.

pub(crate) mod cylc;
pub mod json;
mod toml_format;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use protocol_core::ids::{Owner, WorkflowId};

use crate::checks::{PeopleCheck, PeopleDefences};
use crate::names::{Subject, UserName};
use crate::ops::Right;

/// Where a rule was written: file (relative to the policy directory), line and field path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    /// The file, relative to the policy directory (`users/oceans_stage.toml`).
    pub file: String,
    /// 1-based line of the rule's key.
    pub line: usize,
    /// The field path (`grants."group:ocean_team"`).
    pub field: String,
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} {}", self.file, self.line, self.field)
    }
}

/// A site rule: for workflows of `owners`, people matching `who` get `default` unless the owner
/// or workflow layer names them, and can never get more than `limit` (which, as in Cylc, is the
/// default when not given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SiteRule {
    /// Where it was written.
    pub at: RuleRef,
    /// Whose workflows it is about.
    pub owners: Subject,
    /// Who it is about.
    pub who: Subject,
    /// Rights when no lower layer names the person.
    pub default: Option<Vec<Right>>,
    /// The most any layer may grant.
    pub limit: Option<Vec<Right>>,
}

impl SiteRule {
    /// The limit this rule sets: `limit`, else `default`, else nothing.
    #[must_use]
    pub fn effective_limit(&self) -> &[Right] {
        self.limit.as_deref().or(self.default.as_deref()).unwrap_or(&[])
    }
}

/// A grant in the owner or workflow layer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrantRule {
    /// Where it was written.
    pub at: RuleRef,
    /// Who it is about.
    pub who: Subject,
    /// The rights (an empty list names the person and grants nothing).
    pub rights: Vec<Right>,
}

/// A whole policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Policy {
    pub(crate) site: Vec<SiteRule>,
    pub(crate) owners: BTreeMap<UserName, Vec<GrantRule>>,
    pub(crate) workflows: BTreeMap<WorkflowId, Vec<GrantRule>>,
}

/// One file of a policy directory, read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyFile {
    /// Its path relative to the directory, with `/` separators.
    pub path: String,
    /// Its text.
    pub text: String,
}

/// Why a policy was refused. Every variant names the file, and where possible the line and
/// field, that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {reason}")]
    Unreadable {
        /// The path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The directory has no site layer.
    #[error("{dir}: no site layer: expected site.toml (or Cylc's site.json)")]
    MissingSite {
        /// The directory.
        dir: String,
    },
    /// A file that is not part of the layout.
    #[error("{file}: not a policy file (expected site.toml, users/OWNER.toml or workflows/OWNER/NAME.toml)")]
    UnexpectedFile {
        /// The file.
        file: String,
    },
    /// A file name that is not a valid owner or workflow name.
    #[error("{file}: file name is not a valid {what}: {reason}")]
    BadFileName {
        /// The file.
        file: String,
        /// `owner` or `workflow`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Two files define the same layer (`users/a.toml` and `users/a.json`).
    #[error("{file}: defines the same layer as {other}")]
    DuplicateLayer {
        /// The second file.
        file: String,
        /// The first.
        other: String,
    },
    /// The file is not valid TOML/JSON or not of the expected shape (unknown or missing field,
    /// wrong type).
    #[error("{file}:{line}: {message} (at `{near}`)")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The parser's message (it names the field when the field is unknown or missing).
        message: String,
        /// The text of that line (escaped, at most 80 characters): where the field is.
        near: String,
    },
    /// A right that is neither an operation nor an access group.
    #[error("{file}:{line}: {field}: unknown operation or access group {value:?}")]
    UnknownRight {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The field path.
        field: String,
        /// The value as written.
        value: String,
    },
    /// A subject (or owner selector) that is not `*`, `group:NAME` or a user name.
    #[error("{file}:{line}: {field}: {value:?} is not \"*\", \"group:NAME\" or a user name: {reason}")]
    BadSubject {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The field path.
        field: String,
        /// The value as written.
        value: String,
        /// Why.
        reason: String,
    },
    /// Cylc refuses `[]` in its authorisation settings; a Cylc-format file must say `"!ALL"`.
    #[error("{file}:{line}: {field}: Cylc does not accept []: use [\"!ALL\"] to remove every right")]
    CylcEmptyList {
        /// The file.
        file: String,
        /// 1-based line (best effort: the line of the key).
        line: usize,
        /// The field path.
        field: String,
    },
}

/// The text of 1-based `line` of `text`, trimmed, escaped and cut to 80 characters.
#[must_use]
pub fn line_text(text: &str, line: usize) -> String {
    let raw = text.lines().nth(line.saturating_sub(1)).unwrap_or("").trim();
    let cut: String = raw.chars().take(80).collect();
    cut.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// The 1-based line of byte `offset` in `text`.
#[must_use]
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

impl Policy {
    /// An empty policy: nobody but owners may do anything.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The site rules, in file order.
    #[must_use]
    pub fn site_rules(&self) -> &[SiteRule] {
        &self.site
    }

    /// An owner's rules.
    #[must_use]
    pub fn owner_rules(&self, owner: &Owner) -> &[GrantRule] {
        self.owners.get(owner.as_str()).map_or(&[], Vec::as_slice)
    }

    /// The rules of an owner given by any user name.
    #[must_use]
    pub fn owner_rules_named(&self, owner: &str) -> &[GrantRule] {
        self.owners.get(owner).map_or(&[], Vec::as_slice)
    }

    /// A workflow's rules.
    #[must_use]
    pub fn workflow_rules(&self, workflow: &WorkflowId) -> &[GrantRule] {
        self.workflows.get(workflow).map_or(&[], Vec::as_slice)
    }

    /// Adds a site rule (for models and tests; files are the usual source).
    #[must_use]
    pub fn with_site_rule(
        mut self,
        owners: Subject,
        who: Subject,
        default: Option<Vec<Right>>,
        limit: Option<Vec<Right>>,
    ) -> Self {
        let at = memory_ref(self.site.len(), format!("site.\"{owners}\".\"{who}\""));
        self.site.push(SiteRule {
            at,
            owners,
            who,
            default,
            limit,
        });
        self
    }

    /// Adds an owner-layer rule.
    #[must_use]
    pub fn with_owner_rule(mut self, owner: Owner, who: Subject, rights: Vec<Right>) -> Self {
        let rules = self.owners.entry(owner.into()).or_default();
        let at = memory_ref(rules.len(), format!("grants.\"{who}\""));
        rules.push(GrantRule { at, who, rights });
        self
    }

    /// Adds a workflow-layer rule.
    #[must_use]
    pub fn with_workflow_rule(mut self, workflow: WorkflowId, who: Subject, rights: Vec<Right>) -> Self {
        let rules = self.workflows.entry(workflow).or_default();
        let at = memory_ref(rules.len(), format!("grants.\"{who}\""));
        rules.push(GrantRule { at, who, rights });
        self
    }

    /// Reads and parses a policy directory with every defence on.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first file (line, field) that is wrong.
    pub fn load(dir: &Path) -> Result<Self, PolicyError> {
        Self::load_with(dir, &PeopleDefences::all())
    }

    /// Reads and parses a policy directory. Without `fail-closed`, a file that does not parse is
    /// skipped and the rest is used (the fail-open behaviour the check exists to prevent).
    ///
    /// # Errors
    /// [`PolicyError`] naming the first file (line, field) that is wrong.
    pub fn load_with(dir: &Path, defences: &PeopleDefences) -> Result<Self, PolicyError> {
        let files = read_dir_files(dir)?;
        let policy = Self::from_files(&files, defences)?;
        let has_site = files.iter().any(|f| f.path == "site.toml" || f.path == "site.json");
        if !has_site {
            return Err(PolicyError::MissingSite {
                dir: dir.display().to_string(),
            });
        }
        Ok(policy)
    }

    /// Reads every file of a policy directory as [`Policy::load`] does (hidden files and
    /// `README*` skipped), for callers that parse the same files more than one way.
    ///
    /// # Errors
    /// [`PolicyError::Unreadable`].
    pub fn read_files(dir: &Path) -> Result<Vec<PolicyFile>, PolicyError> {
        read_dir_files(dir)
    }

    /// Parses the files of a policy directory (pure: no I/O).
    ///
    /// # Errors
    /// [`PolicyError`] naming the first file (line, field) that is wrong.
    pub fn from_files(files: &[PolicyFile], defences: &PeopleDefences) -> Result<Self, PolicyError> {
        let mut policy = Self::default();
        let mut layers: BTreeMap<String, String> = BTreeMap::new();
        for file in files {
            match policy.add_file(file, &mut layers) {
                Ok(()) => {}
                Err(e) if defences.is_on(PeopleCheck::FailClosed) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(policy)
    }

    fn add_file(&mut self, file: &PolicyFile, layers: &mut BTreeMap<String, String>) -> Result<(), PolicyError> {
        let path = file.path.as_str();
        let (layer, stem, json) = if let Some(stem) = path.strip_suffix(".toml") {
            (layer_key(path, stem)?, stem, false)
        } else if let Some(stem) = path.strip_suffix(".json") {
            (layer_key(path, stem)?, stem, true)
        } else {
            return Err(PolicyError::UnexpectedFile { file: path.to_owned() });
        };
        if let Some(other) = layers.insert(layer, path.to_owned()) {
            return Err(PolicyError::DuplicateLayer {
                file: path.to_owned(),
                other,
            });
        }
        if stem == "site" {
            let rules = if json {
                cylc::parse_site(path, &file.text)?
            } else {
                toml_format::parse_site(path, &file.text)?
            };
            self.site.extend(rules);
        } else if let Some(owner) = stem.strip_prefix("users/") {
            let owner = owner_from_file(path, owner)?;
            let rules = if json {
                cylc::parse_grants(path, &file.text)?
            } else {
                toml_format::parse_grants(path, &file.text)?
            };
            self.owners.insert(owner, rules);
        } else if let Some(rest) = stem.strip_prefix("workflows/") {
            if json {
                return Err(PolicyError::UnexpectedFile { file: path.to_owned() });
            }
            let (owner, name) = rest.split_once('/').unwrap_or((rest, ""));
            let id = WorkflowId::new(owner, name).map_err(|e| PolicyError::BadFileName {
                file: path.to_owned(),
                what: "workflow",
                reason: e.to_string(),
            })?;
            self.workflows.insert(id, toml_format::parse_grants(path, &file.text)?);
        }
        Ok(())
    }
}

fn memory_ref(index: usize, field: String) -> RuleRef {
    RuleRef {
        file: "<memory>".into(),
        line: index + 1,
        field,
    }
}

/// Which layer a file defines: `site`, `users/OWNER`, `workflows/OWNER/NAME`.
fn layer_key(path: &str, stem: &str) -> Result<String, PolicyError> {
    let known = stem == "site"
        || stem
            .strip_prefix("users/")
            .is_some_and(|o| !o.is_empty() && !o.contains('/'))
        || stem.strip_prefix("workflows/").is_some_and(|w| w.contains('/'));
    if known {
        Ok(stem.to_owned())
    } else {
        Err(PolicyError::UnexpectedFile { file: path.to_owned() })
    }
}

fn owner_from_file(path: &str, name: &str) -> Result<UserName, PolicyError> {
    UserName::new(name).map_err(|e| PolicyError::BadFileName {
        file: path.to_owned(),
        what: "owner",
        reason: e.to_string(),
    })
}

/// Reads every file of a policy directory (the I/O edge), skipping hidden files and `README*`.
pub(crate) fn read_dir_files(dir: &Path) -> Result<Vec<PolicyFile>, PolicyError> {
    let meta = std::fs::metadata(dir).map_err(|e| unreadable(dir, &e))?;
    if !meta.is_dir() {
        return Err(PolicyError::Unreadable {
            path: dir.display().to_string(),
            reason: "not a directory".into(),
        });
    }
    let mut files = Vec::new();
    walk(dir, "", 0, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Workflow names nest at most this deep; a deeper tree (or a symlink loop) is refused.
const MAX_DEPTH: usize = 16;

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<PolicyFile>) -> Result<(), PolicyError> {
    if depth > MAX_DEPTH {
        return Err(PolicyError::UnexpectedFile {
            file: prefix.to_owned(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|e| unreadable(dir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(dir, &e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err(PolicyError::UnexpectedFile {
                file: path.display().to_string(),
            });
        };
        if name.starts_with('.') || (prefix.is_empty() && name.starts_with("README")) {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let meta = std::fs::metadata(&path).map_err(|e| unreadable(&path, &e))?;
        if meta.is_dir() {
            walk(&path, &format!("{rel}/"), depth + 1, out)?;
        } else {
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(&path, &e))?;
            out.push(PolicyFile { path: rel, text });
        }
    }
    Ok(())
}

fn unreadable(path: &Path, e: &std::io::Error) -> PolicyError {
    PolicyError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> PolicyFile {
        PolicyFile {
            path: path.into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_file_outside_the_layout_refuses_the_policy() {
        let files = [file("site.toml", ""), file("users/oceans_stage.tml", "")];
        assert_eq!(
            Policy::from_files(&files, &PeopleDefences::all()),
            Err(PolicyError::UnexpectedFile {
                file: "users/oceans_stage.tml".into()
            })
        );
    }

    #[test]
    fn toml_and_json_for_the_same_layer_are_refused_as_duplicates() {
        let files = [file("users/bob.json", "{}"), file("users/bob.toml", "")];
        assert!(matches!(
            Policy::from_files(&files, &PeopleDefences::all()),
            Err(PolicyError::DuplicateLayer { .. })
        ));
    }

    #[test]
    fn an_owner_file_name_with_a_control_character_is_refused_and_a_directory_name_is_not() {
        let files = [file("users/Bad\u{1b}Name.toml", "")];
        assert!(matches!(
            Policy::from_files(&files, &PeopleDefences::all()),
            Err(PolicyError::BadFileName { what: "owner", .. })
        ));
        let files = [file("users/jane.doe.json", "{\"john.smith\": \"READ\"}")];
        let p = Policy::from_files(&files, &PeopleDefences::all()).expect("loads");
        assert_eq!(p.owners.keys().map(UserName::as_str).collect::<Vec<_>>(), ["jane.doe"]);
    }

    #[test]
    fn nested_workflow_files_name_nested_workflows() {
        let files = [file("workflows/bob/a/b.toml", "[grants]\n\"*\" = [\"READ\"]\n")];
        let p = Policy::from_files(&files, &PeopleDefences::all()).expect("parses");
        let id = WorkflowId::new("bob", "a/b").expect("valid");
        assert_eq!(p.workflow_rules(&id).len(), 1);
    }

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
    }
}
