//! `threatcheck authz explain --semantics cylc`: Cylc's decision with each step that led to it
//! — which owner keys applied, what its merge replaced, the limits, the grants or the site
//! defaults they fell back to, and the sets after expansion.

use std::collections::BTreeSet;
use std::fmt;

use super::CylcVersion;
use super::eval::{CylcAuthorization, CylcDecision, CylcReason, Lookup, MergeEvent, Permitted, Raised};

/// Cylc's decision and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CylcExplanation {
    /// The version reproduced.
    pub version: CylcVersion,
    /// The owner of the UI server.
    pub owner: String,
    /// The access user.
    pub user: String,
    /// Their groups (`group:NAME`).
    pub groups: Vec<String>,
    /// The owner's merge, in order.
    pub events: Vec<MergeEvent>,
    /// The permitted set's computation (absent for the owner or an unknown operation).
    pub permitted: Option<Result<Permitted, Raised>>,
    /// The decision.
    pub decision: CylcDecision,
    /// The site configuration's file.
    pub site_file: String,
    /// The owner's `user_authorization` file (empty: none).
    pub user_file: String,
}

impl CylcAuthorization {
    /// Decides and explains.
    #[must_use]
    pub fn explain(&self, user: &str, groups: &[String], op: &str) -> CylcExplanation {
        let decision = self.decide(user, groups, op);
        let permitted = match decision.reason {
            CylcReason::NotAnOperation { .. } | CylcReason::Owner => None,
            _ => Some(self.permitted(user, groups)),
        };
        CylcExplanation {
            version: self.version(),
            owner: self.owner().to_owned(),
            user: user.to_owned(),
            groups: groups.to_vec(),
            events: self.events().to_vec(),
            permitted,
            decision,
            site_file: self.site_file().to_owned(),
            user_file: self.user_file().to_owned(),
        }
    }
}

/// The entries of a lookup that name `op`: granting it (`trigger`, `CONTROL`) and removing it
/// (`!trigger`, `!!trigger`, `!CONTROL`), as `"KEY": "ENTRY" (FILE:LINE)`.
fn naming(version: CylcVersion, l: &Lookup, op: &str, file: &str) -> (Vec<String>, Vec<String>) {
    let holds = |group: &str| match group {
        "READ" => op == "read",
        "CONTROL" => version.control().any(|c| c == op),
        "ALL" => version.is_operation(op),
        _ => false,
    };
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for (key, items) in &l.by_key {
        for i in items {
            let v = i.value.as_str();
            let shown = format!("{key:?}: {v:?} ({file}:{})", i.line);
            if v == op || holds(v) {
                pos.push(shown);
            } else if v.starts_with('!') && (v.trim_start_matches('!') == op || v.strip_prefix('!').is_some_and(holds))
            {
                neg.push(shown);
            }
        }
    }
    (pos, neg)
}

fn set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        return "(nothing)".into();
    }
    let v: Vec<&str> = s.iter().map(String::as_str).collect();
    v.join(", ")
}

fn lookup(f: &mut fmt::Formatter<'_>, what: &str, file: &str, l: &Lookup) -> fmt::Result {
    if l.by_key.is_empty() {
        return writeln!(f, "  {what}: no key names them");
    }
    writeln!(f, "  {what}:")?;
    for (key, items) in &l.by_key {
        let shown: Vec<String> = items
            .iter()
            .map(|i| {
                if i.line == 0 {
                    format!("{:?}", i.value)
                } else {
                    format!("{:?} ({file}:{})", i.value, i.line)
                }
            })
            .collect();
        writeln!(
            f,
            "    {key:?}: {}",
            if shown.is_empty() {
                "[]".into()
            } else {
                shown.join(", ")
            }
        )?;
    }
    Ok(())
}

impl fmt::Display for CylcExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        let verdict = if d.allowed { "allow" } else { "deny" };
        writeln!(
            f,
            "{verdict}: {} may{} {} {}'s workflows",
            self.user,
            if d.allowed { "" } else { " not" },
            d.op,
            self.owner
        )?;
        writeln!(f, "semantics: Cylc's own code, {}", self.version)?;
        let groups = if self.groups.is_empty() {
            "(none)".to_owned()
        } else {
            self.groups.join(", ")
        };
        writeln!(f, "  access user {} in groups {groups}", self.user)?;
        match &d.reason {
            CylcReason::NotAnOperation { given, snake } => {
                return writeln!(
                    f,
                    "  {given:?} becomes {snake:?} under Graphene's to_snake_case, which is not an operation of this version: Cylc answers 400"
                );
            }
            CylcReason::Owner => return writeln!(f, "  the owner may do anything on their own UI server"),
            _ => {}
        }
        writeln!(f, "  owner's view of site_authorization ({}):", self.site_file)?;
        if self.events.is_empty() {
            writeln!(f, "    no owner key applies to {}", self.owner)?;
        }
        for e in &self.events {
            match e {
                MergeEvent::Applies { key, line } => writeln!(f, "    line {line}: owner key {key:?} applies")?,
                MergeEvent::Merged { key, line } => {
                    writeln!(f, "    line {line}: {key:?} merged into the entry already there")?;
                }
                MergeEvent::Update {
                    owner_key,
                    trigger,
                    trigger_line,
                    ..
                } => writeln!(
                    f,
                    "    line {trigger_line}: {trigger:?} is new, so Cylc's owner_dict.update() takes every entry of {owner_key:?} as it is"
                )?,
                MergeEvent::Replaced { key, lost, by_line } => {
                    let lines: Vec<String> = lost.iter().map(|o| o.entry_line.to_string()).collect();
                    writeln!(
                        f,
                        "    {key:?}: replaced by owner key at line {by_line}; what lines {} gave it is lost",
                        lines.join(", ")
                    )?;
                }
            }
        }
        if let CylcReason::Raised(r) = &d.reason {
            return writeln!(
                f,
                "  {}:{} {:?} is []: Cylc raises \"Error in {} config\", and its middleware denies",
                r.file, r.line, r.key, r.config
            );
        }
        if let Some(Ok(p)) = &self.permitted {
            lookup(f, "limits the owner may give", &self.site_file, &p.limits)?;
            let user_file = if self.user_file.is_empty() {
                "(none)"
            } else {
                &self.user_file
            };
            lookup(f, "the owner's user_authorization", user_file, &p.grants)?;
            if p.fell_back {
                writeln!(f, "  nothing granted there, so the site defaults apply:")?;
                lookup(f, "site defaults", &self.site_file, &p.defaults)?;
            }
            writeln!(f, "  limits expanded: {}", set(&p.limit_ops))?;
            writeln!(f, "  grants expanded: {}", set(&p.grant_ops))?;
            writeln!(f, "  permitted (both): {}", set(&p.ops))?;
            let (grants, grant_file) = if p.fell_back {
                (&p.defaults, self.site_file.as_str())
            } else {
                (&p.grants, self.user_file.as_str())
            };
            let (g_pos, g_neg) = naming(self.version, grants, &d.op, grant_file);
            let (l_pos, l_neg) = naming(self.version, &p.limits, &d.op, &self.site_file);
            let list = |v: &[String]| v.join("; ");
            let grant_side = if !g_neg.is_empty() {
                format!("the grants name it ({}) but {} removes it", list(&g_pos), list(&g_neg))
            } else if g_pos.is_empty() {
                "no grant names it".to_owned()
            } else {
                format!("granted by {}", list(&g_pos))
            };
            let limit_side = if !l_neg.is_empty() {
                format!("the limits name it ({}) but {} removes it", list(&l_pos), list(&l_neg))
            } else if l_pos.is_empty() {
                "no limit allows it".to_owned()
            } else {
                format!("the limit allows it by {}", list(&l_pos))
            };
            writeln!(f, "  decided by: {grant_side}; {limit_side}")?;
        }
        Ok(())
    }
}
