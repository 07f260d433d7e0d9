//! `threatcheck authz lint-cylc`: where a Cylc configuration does not do what it says.
//!
//! Two readings of the same files are compared: real Cylc's ([`CylcAuthorization`]) and the
//! documented one ([`Authorizer`] over [`Policy`], which reads `Trigger` as `trigger`, `!Stop`
//! as a negation and merges every owner key). Findings, each with file and line:
//!
//! * entries Cylc silently ignores (a wrong case or spelling, an operation of another version,
//!   an unknown field), negations that negate nothing (`!Stop`, `!!READ`), `""` entries that
//!   make Cylc fall back to the site defaults, `[]` (Cylc raises on every request reaching it);
//! * owner keys whose order changes the result (Cylc's merge replaces entries merged so far);
//! * limits an owner's `user_authorization` can lift in Cylc though the documented reading
//!   keeps them, and every person × operation Cylc allows where the documented reading
//!   denies: the site's exposure.
//!
//! People and owners considered: every name in the files (with their groups from a groups
//! file, if given), a member of each group named, and someone named nowhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::eval::{CylcAuthorization, MergeEvent};
use super::{CylcPolicy, CylcVersion};
use crate::authz::Authorizer;
use crate::checks::PeopleDefences;
use crate::groups::{FileGroups, GroupProvider, Person};
use crate::names::{GroupName, UserName};
use crate::ops::{Level, Right, RightTarget};
use crate::policy::json::{Json, Value};
use crate::policy::{Policy, PolicyError, PolicyFile};

/// A kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LintRule {
    /// A string Cylc never matches (`Trigger`, `HOLD`, `set-hold-point`, `EXECUTE`).
    IgnoredEntry,
    /// A field of a site entry other than `default` and `limit`.
    UnknownField,
    /// A `!` entry that removes nothing (`!Stop`, `!!READ`).
    NegationDoesNotNegate,
    /// A `user_authorization` value that is only `""`: Cylc uses the site defaults instead.
    EmptyStringFallback,
    /// `[]`: Cylc raises on every request that reaches it.
    EmptyList,
    /// A value of a type Cylc's code raises on (or, for an object, reads the keys of).
    WrongType,
    /// An owner key whose new access key makes Cylc drop entries merged so far.
    OrderDependent,
    /// A limit the documented reading keeps that an owner can exceed in Cylc.
    LimitLifted,
    /// Cylc allows what the documented reading denies.
    Exposure,
    /// The documented reading refuses the configuration, so exposure cannot be computed.
    DocumentedReadingRefuses,
}

impl LintRule {
    /// Its name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::IgnoredEntry => "ignored-entry",
            Self::UnknownField => "unknown-field",
            Self::NegationDoesNotNegate => "negation-does-not-negate",
            Self::EmptyStringFallback => "empty-string-fallback",
            Self::EmptyList => "empty-list",
            Self::WrongType => "wrong-type",
            Self::OrderDependent => "order-dependent",
            Self::LimitLifted => "limit-lifted",
            Self::Exposure => "exposure",
            Self::DocumentedReadingRefuses => "documented-reading-refuses",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LintFinding {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What kind.
    pub rule: LintRule,
    /// What is wrong, in words.
    pub message: String,
    /// The keys and names it is about (owner keys, access keys, people), as written.
    pub about: Vec<String>,
}

impl fmt::Display for LintFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.rule.name(), self.message)
    }
}

/// What Cylc does with one string of a rights value.
enum Reading {
    /// It names an operation, an access group or a negation of one.
    Effective,
    /// `""`.
    Empty,
    /// Never matched.
    Ignored,
    /// Starts with `!` and removes nothing.
    DoesNotNegate,
}

fn reading(version: CylcVersion, s: &str) -> Reading {
    const GROUPS: [&str; 3] = ["READ", "CONTROL", "ALL"];
    if s.is_empty() {
        return Reading::Empty;
    }
    if version.is_operation(s) || GROUPS.contains(&s) {
        return Reading::Effective;
    }
    if let Some(rest) = s.strip_prefix('!') {
        // `!READ` etc. are expanded before negations are removed; `!!READ` is not.
        if GROUPS.contains(&rest) || version.is_operation(s.trim_start_matches('!')) {
            return Reading::Effective;
        }
        return Reading::DoesNotNegate;
    }
    Reading::Ignored
}

/// What the documented reading makes of a string, in Cylc's spelling, for a hint.
fn meant(version: CylcVersion, s: &str) -> String {
    match s.parse::<Right>() {
        Ok(r) => {
            let bang = if r.negated { "!" } else { "" };
            match r.target {
                RightTarget::Op(op) if version.is_operation(&op.snake_name()) => {
                    format!("; Cylc's spelling is \"{bang}{}\"", op.snake_name())
                }
                RightTarget::Op(op) => format!("; `{}` is not an operation of {version}", op.snake_name()),
                RightTarget::Group(g) if matches!(g.name(), "READ" | "CONTROL" | "ALL") => {
                    format!("; Cylc's spelling is \"{bang}{}\"", g.name())
                }
                RightTarget::Group(g) => format!("; {} is threatcheck's access group, not Cylc's", g.name()),
            }
        }
        Err(_) => String::new(),
    }
}

fn finding(file: &str, line: usize, rule: LintRule, about: &[&str], message: String) -> LintFinding {
    LintFinding {
        file: file.to_owned(),
        line,
        rule,
        message,
        about: about.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn string_finding(
    version: CylcVersion,
    file: &str,
    key: &str,
    about: &[&str],
    value: &str,
    line: usize,
) -> Option<LintFinding> {
    let (rule, what) = match reading(version, value) {
        Reading::Effective | Reading::Empty => return None,
        Reading::Ignored => (
            LintRule::IgnoredEntry,
            "Cylc matches entries by exact name and ignores this one",
        ),
        Reading::DoesNotNegate => (LintRule::NegationDoesNotNegate, "this negation removes nothing in Cylc"),
    };
    Some(finding(
        file,
        line,
        rule,
        about,
        format!("{key:?}: {value:?}: {what}{}", meant(version, value)),
    ))
}

/// Findings on one rights value as written.
fn value_findings(version: CylcVersion, file: &str, key: &str, about: &[&str], v: &Json, out: &mut Vec<LintFinding>) {
    let raises = |what: &str| {
        finding(
            file,
            v.line,
            LintRule::WrongType,
            about,
            format!("{key:?} is {what}: Cylc's code raises on every request that reaches it, and denies it"),
        )
    };
    match &v.value {
        Value::Str(s) => out.extend(string_finding(version, file, key, about, s, v.line)),
        Value::Array(items) if items.is_empty() => out.push(finding(
            file,
            v.line,
            LintRule::EmptyList,
            about,
            format!("{key:?} is []: Cylc raises on every request that reaches it, and denies it (use \"!ALL\")"),
        )),
        Value::Array(items) => {
            for i in items {
                match &i.value {
                    Value::Str(s) => out.extend(string_finding(version, file, key, about, s, i.line)),
                    other => out.push(finding(
                        file,
                        i.line,
                        LintRule::WrongType,
                        about,
                        format!(
                            "{key:?} holds {}: Cylc's code raises on every request that reaches it, and denies it",
                            other.kind()
                        ),
                    )),
                }
            }
        }
        Value::Object(members) => {
            out.push(finding(
                file,
                v.line,
                LintRule::WrongType,
                about,
                format!("{key:?} is an object: Cylc reads its keys as the entries"),
            ));
            for m in members {
                out.extend(string_finding(version, file, key, about, &m.key, m.line));
            }
        }
        other => out.push(raises(other.kind())),
    }
}

/// The entries themselves: ignored strings, unknown fields, negations, `""`, `[]`, types.
fn entry_findings(version: CylcVersion, policy: &CylcPolicy) -> Vec<LintFinding> {
    let mut out = Vec::new();
    let site = &policy.site;
    for o in &site.owners {
        let Value::Object(entries) = &o.value.value else {
            out.push(finding(
                &site.file,
                o.value.line,
                LintRule::WrongType,
                &[&o.key],
                format!(
                    "{:?} is {}, not an object: Cylc's UI servers of the owners it applies to fail to start",
                    o.key,
                    o.value.value.kind()
                ),
            ));
            continue;
        };
        for e in entries {
            let key = format!("{}.{}", o.key, e.key);
            let about = [o.key.as_str(), e.key.as_str()];
            let Value::Object(fields) = &e.value.value else {
                out.push(finding(
                    &site.file,
                    e.value.line,
                    LintRule::WrongType,
                    &about,
                    format!(
                        "{key:?} is {}, not {{\"default\": …, \"limit\": …}}: Cylc raises on requests that reach it, or fails to start when it merges it",
                        e.value.value.kind()
                    ),
                ));
                continue;
            };
            for f in fields {
                match f.key.as_str() {
                    "default" | "limit" => {
                        value_findings(
                            version,
                            &site.file,
                            &format!("{key}.{}", f.key),
                            &about,
                            &f.value,
                            &mut out,
                        );
                    }
                    other => out.push(finding(
                        &site.file,
                        f.line,
                        LintRule::UnknownField,
                        &about,
                        format!("{key:?}: Cylc ignores the field {other:?} (it reads only \"default\" and \"limit\")"),
                    )),
                }
            }
        }
    }
    for (owner, conf) in &policy.users {
        for e in &conf.entries {
            let about = [owner.as_str(), e.key.as_str()];
            value_findings(version, &conf.file, &e.key, &about, &e.value, &mut out);
            let only_empty = match &e.value.value {
                Value::Str(s) => s.is_empty(),
                Value::Array(items) => {
                    !items.is_empty() && items.iter().all(|i| matches!(&i.value, Value::Str(s) if s.is_empty()))
                }
                _ => false,
            };
            if only_empty {
                out.push(finding(
                    &conf.file,
                    e.line,
                    LintRule::EmptyStringFallback,
                    &about,
                    format!(
                        "{:?} is only \"\": Cylc treats it as not given, so {owner}'s site defaults apply to {:?}",
                        e.key, e.key
                    ),
                ));
            }
        }
    }
    out
}

/// Someone the lint asks about: a name for both readings and their groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Who {
    name: String,
    groups: BTreeSet<GroupName>,
}

impl Who {
    fn cylc_groups(&self) -> Vec<String> {
        self.groups.iter().map(|g| format!("group:{g}")).collect()
    }
}

/// Named people and owners, a member of each group named, and someone named nowhere.
fn population(policy: &CylcPolicy, groups: Option<&FileGroups>) -> (Vec<Who>, Vec<Who>) {
    let (mut people, mut owners, mut group_keys, mut owner_group_keys) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let note = |key: &str, names: &mut BTreeSet<String>, gs: &mut BTreeSet<String>| {
        if let Some(g) = key.strip_prefix("group:") {
            gs.insert(g.to_owned());
        } else if key != "*" {
            names.insert(key.to_owned());
        }
    };
    for o in &policy.site.owners {
        note(&o.key, &mut owners, &mut owner_group_keys);
        if let Value::Object(entries) = &o.value.value {
            for e in entries {
                note(&e.key, &mut people, &mut group_keys);
            }
        }
    }
    for (owner, conf) in &policy.users {
        owners.insert(owner.clone());
        for e in &conf.entries {
            note(&e.key, &mut people, &mut group_keys);
        }
    }
    people.extend(owners.iter().cloned());
    let groups_of = |name: &str| -> BTreeSet<GroupName> {
        match (groups, UserName::new(name)) {
            (Some(g), Ok(u)) => g.groups_of(&u).unwrap_or_default(),
            _ => BTreeSet::new(),
        }
    };
    let build = |names: &BTreeSet<String>, gs: &BTreeSet<String>, member: &str, nobody: &str| {
        let mut v: Vec<Who> = names
            .iter()
            .map(|n| Who {
                name: n.clone(),
                groups: groups_of(n),
            })
            .collect();
        v.extend(gs.iter().filter_map(|g| {
            Some(Who {
                name: format!("({member} group:{g})"),
                groups: [GroupName::new(g).ok()?].into(),
            })
        }));
        v.push(Who {
            name: nobody.to_owned(),
            groups: BTreeSet::new(),
        });
        v
    };
    (
        build(&people, &group_keys, "a member of", "(anyone else)"),
        build(&owners, &owner_group_keys, "an owner in", "(any other owner)"),
    )
}

fn ops_list(ops: &BTreeSet<String>) -> String {
    ops.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// Lints a Cylc configuration given as files (`site.json`, `users/OWNER.json`).
///
/// # Errors
/// [`PolicyError`] when Cylc itself would fail on the configuration.
pub fn lint(
    files: &[PolicyFile],
    groups: Option<&FileGroups>,
    version: CylcVersion,
) -> Result<Vec<LintFinding>, PolicyError> {
    let policy = CylcPolicy::from_files(files.iter().map(|f| (f.path.as_str(), f.text.as_str())))?;
    let mut findings = entry_findings(version, &policy);
    let documented = Policy::from_files(files, &PeopleDefences::all());
    let authorizer = match documented {
        Ok(p) => Some(Authorizer::new(p)),
        Err(e) => {
            findings.push(LintFinding {
                about: Vec::new(),
                file: policy.site.file.clone(),
                line: 1,
                rule: LintRule::DocumentedReadingRefuses,
                message: format!(
                    "threatcheck's documented reading refuses this configuration, so its exposure is not computed: {e}"
                ),
            });
            None
        }
    };
    let (people, owners) = population(&policy, groups);
    let mut order: BTreeMap<(usize, String), (Vec<usize>, Vec<String>)> = BTreeMap::new();
    for owner in &owners {
        let conf = policy.user_conf(&owner.name);
        let cylc = match CylcAuthorization::new(version, &owner.name, &owner.cylc_groups(), &policy.site, &conf) {
            Ok(c) => c,
            Err(e) => {
                findings.push(finding(
                    &e.file,
                    e.line,
                    LintRule::WrongType,
                    &[&owner.name],
                    format!(
                        "{}'s UI server does not start: Cylc's Authorization raises {:?}",
                        owner.name, e.message
                    ),
                ));
                continue;
            }
        };
        for e in cylc.events() {
            if let MergeEvent::Replaced { key, lost, by_line } = e {
                let entry = order.entry((*by_line, key.clone())).or_default();
                entry.0.extend(lost.iter().map(|o| o.entry_line));
                entry.1.push(owner.name.clone());
            }
        }
        let Some(authorizer) = &authorizer else { continue };
        let Ok(owner_name) = UserName::new(&owner.name) else {
            continue;
        };
        let scope = Scope {
            version,
            authorizer,
            people: &people,
            policy: &policy,
        };
        scope.exposure(&cylc, owner, &owner_name, &mut findings);
    }
    for ((by_line, key), (mut lines, owners)) in order {
        lines.sort_unstable();
        lines.dedup();
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        let mut about = owners.clone();
        about.push(key.clone());
        findings.push(LintFinding {
            about,
            file: policy.site.file.clone(),
            line: by_line,
            rule: LintRule::OrderDependent,
            message: format!(
                "for {}: this owner key brings an access key not seen before, so Cylc's owner_dict.update() replaces {key:?} with this key's entry and drops what lines {} gave it (Cylc's documentation merges them)",
                owners.join(", "),
                lines.join(", ")
            ),
        });
    }
    findings.sort();
    findings.dedup();
    Ok(findings)
}

/// What the exposure of one owner is computed against.
struct Scope<'a> {
    version: CylcVersion,
    authorizer: &'a Authorizer,
    people: &'a [Who],
    policy: &'a CylcPolicy,
}

impl Scope<'_> {
    fn exposure(&self, cylc: &CylcAuthorization, owner: &Who, owner_name: &UserName, findings: &mut Vec<LintFinding>) {
        let Self {
            version,
            authorizer,
            people,
            policy,
        } = *self;
        let at = |who: &Who| -> (String, usize) {
            // The most telling line: the user file's entry for them, else the owner's first site key.
            let conf = policy.users.get(&owner.name);
            let key_line = conf.and_then(|c| {
                c.entries
                    .iter()
                    .find(|e| e.key == who.name)
                    .map(|e| (c.file.clone(), e.line))
            });
            key_line.unwrap_or_else(|| {
                let line = cylc
                    .events()
                    .iter()
                    .find_map(|e| match e {
                        MergeEvent::Replaced { by_line, .. } => Some(*by_line),
                        _ => None,
                    })
                    .or_else(|| {
                        cylc.events().iter().find_map(|e| match e {
                            MergeEvent::Applies { line, .. } => Some(*line),
                            _ => None,
                        })
                    })
                    .unwrap_or(1);
                (policy.site.file.clone(), line)
            })
        };
        for who in people.iter().filter(|w| w.name != owner.name) {
            let Ok(name) = UserName::new(&who.name) else { continue };
            let person = Person::new(name, who.groups.clone());
            let Ok(p) = cylc.permitted(&who.name, &who.cylc_groups()) else {
                continue;
            };
            let documented: BTreeSet<String> = authorizer
                .permitted_ops_for_owner(&person, owner_name, &owner.groups, Level::Write)
                .into_iter()
                .map(|op| op.snake_name())
                .collect();
            let exposed: BTreeSet<String> = p.ops.iter().filter(|op| !documented.contains(*op)).cloned().collect();
            let (file, line) = at(who);
            if !exposed.is_empty() {
                findings.push(LintFinding {
                    about: vec![owner.name.clone(), who.name.clone()],
                    file: file.clone(),
                    line,
                    rule: LintRule::Exposure,
                    message: format!(
                        "on {}'s workflows, Cylc lets {} {}, which the documented reading denies",
                        owner.name,
                        who.name,
                        ops_list(&exposed)
                    ),
                });
            }
            let Some(limit) = authorizer.site_limit_for_owner(&person, owner_name, &owner.groups) else {
                continue;
            };
            let limit: BTreeSet<String> = limit.into_iter().map(|op| op.snake_name()).collect();
            let lifted: BTreeSet<String> = p
                .limit_ops
                .iter()
                .filter(|op| version.is_operation(op) && !limit.contains(*op))
                .cloned()
                .collect();
            if !lifted.is_empty() {
                findings.push(LintFinding {
                    about: vec![owner.name.clone(), who.name.clone()],
                    file,
                    line,
                    rule: LintRule::LimitLifted,
                    message: format!(
                        "in Cylc, {}'s user_authorization can give {} {}, beyond the site limit as documented",
                        owner.name,
                        who.name,
                        ops_list(&lifted)
                    ),
                });
            }
        }
    }
}
