//! S16 — as an insider with rudimentary access I would like to trick the role-based permission
//! model into giving me escalated rights.
//!
//! The insider (`mallory`, or an admin misconfiguring for them) controls what policy files and
//! group memberships say, within what a site lets owners write: [`ESCALATION_SEARCH`] generates
//! a bounded set of owner-layer and workflow-layer files and group memberships, has the real
//! policy and group loaders parse them, and asks the real authoriser what `mallory` may do on
//! `victim/prod` with a session elevated to write. Judged against an oracle computed from the
//! generated rules alone: nothing permitted may exceed the site limit, nothing negated in the
//! deciding layer or the site limit may be permitted, and what a UI is offered
//! (`permitted_ops`) must be exactly what is enforced (`decide`).

use std::collections::{BTreeMap, BTreeSet};

use protocol::Defence;
use protocol_core::{Owner, WorkflowId};
use protocol_people::authz::Authorizer;
use protocol_people::groups::{FileGroups, GroupProvider};
use protocol_people::ops::{Level, Operation, Right};
use protocol_people::policy::{Policy, PolicyFile};
use protocol_people::{Decision, PeopleCheck, PeopleDefences};

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};

/// The insider searches policy and group combinations for an escalation.
pub const ESCALATION_SEARCH: Harness = Harness {
    info: HarnessInfo {
        id: "s16-escalation-search",
        story: "S16",
        target: "authoriser",
        title: "an insider searches owner and workflow policy files and group memberships (bounded: 580 combinations × every operation) for rights above the site limit or past a negation",
        defences: &[
            Defence::People(PeopleCheck::SiteLimit),
            Defence::People(PeopleCheck::NegationWins),
        ],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(escalation_search(w)),
};

/// The site layer: everyone reads by default and may get at most Read and Execute; members of
/// `ops` may also be given `reload`, but never `kill`.
const SITE: &str = r#"[site."*"."*"]
default = ["READ"]
limit = ["READ", "EXECUTE"]

[site."*"."group:ops"]
limit = ["READ", "EXECUTE", "reload", "!kill"]
"#;

const INSIDER: &str = "mallory";
const VICTIM: &str = "victim";
const WORKFLOW: &str = "prod";

/// Who a generated rule names.
const SUBJECTS: [&str; 4] = ["mallory", "group:ops", "group:team", "*"];

/// What a generated owner-layer rule grants.
const RIGHTS: [&[&str]; 5] = [&["ALL"], &["WRITE"], &["!ALL"], &["EXECUTE", "!trigger"], &[]];

/// Grants to a group or everyone that a personal negation should beat (the misconfiguration
/// an insider hopes for).
const BROAD_GRANTS: [&[&str]; 2] = [&["ALL"], &["CONTROL"]];
const BROAD_SUBJECTS: [&str; 2] = ["group:ops", "*"];
const PERSONAL_NEGATIONS: [&[&str]; 2] = [&["!ALL"], &["!kill"]];

/// Workflow-layer files: nothing, or one of these rules.
const WORKFLOW_RULES: [(&str, &[&str]); 4] = [
    ("mallory", &["ALL"]),
    ("*", &["READ"]),
    ("group:team", &["EXECUTE", "!trigger"]),
    ("mallory", &[]),
];

/// The groups the insider may be in.
const GROUPS: [&[&str]; 4] = [&[], &["ops"], &["team"], &["ops", "team"]];

#[derive(Debug, Clone, Copy)]
struct Rule {
    who: &'static str,
    rights: &'static [&'static str],
}

type Layer = Vec<Rule>;

fn owner_layers() -> Vec<Layer> {
    let mut layers = vec![Vec::new()];
    for who in SUBJECTS {
        for rights in RIGHTS {
            layers.push(vec![Rule { who, rights }]);
        }
    }
    for who in BROAD_SUBJECTS {
        for grant in BROAD_GRANTS {
            for negation in PERSONAL_NEGATIONS {
                layers.push(vec![
                    Rule { who, rights: grant },
                    Rule {
                        who: INSIDER,
                        rights: negation,
                    },
                ]);
            }
        }
    }
    layers
}

fn workflow_layers() -> Vec<Layer> {
    let mut layers = vec![Vec::new()];
    for (who, rights) in WORKFLOW_RULES {
        layers.push(vec![Rule { who, rights }]);
    }
    layers
}

fn layer_text(layer: &[Rule]) -> String {
    let mut text = String::from("[grants]\n");
    for r in layer {
        let rights: Vec<String> = r.rights.iter().map(|x| format!("\"{x}\"")).collect();
        text.push_str(&format!("\"{}\" = [{}]\n", r.who, rights.join(", ")));
    }
    text
}

fn describe(layer: &[Rule]) -> String {
    if layer.is_empty() {
        return "nothing".to_owned();
    }
    layer
        .iter()
        .map(|r| format!("\"{}\" = [{}]", r.who, r.rights.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn groups_text(groups: &[&str]) -> String {
    let mut text = String::from("[groups]\n");
    for g in ["ops", "team"] {
        let members = if groups.contains(&g) { "\"mallory\"" } else { "" };
        text.push_str(&format!("{g} = [{members}]\n"));
    }
    text
}

fn expand(rights: &[&str]) -> Result<(BTreeSet<Operation>, BTreeSet<Operation>), HarnessError> {
    let mut grants = BTreeSet::new();
    let mut negations = BTreeSet::new();
    for r in rights {
        let right: Right = r.parse().map_err(HarnessError::setup)?;
        if right.negated {
            negations.extend(right.operations());
        } else {
            grants.extend(right.operations());
        }
    }
    Ok((grants, negations))
}

fn names(who: &str, groups: &[&str]) -> bool {
    who == "*" || who == INSIDER || who.strip_prefix("group:").is_some_and(|g| groups.contains(&g))
}

/// What the generated rules allow at most, computed from the rules alone.
struct Oracle {
    /// The site limit for the insider, negations removed.
    limit: BTreeSet<Operation>,
    /// What the site limit negates for the insider.
    limit_negated: BTreeSet<Operation>,
    /// Negations in the layer that decides (the most specific one naming the insider).
    negated: BTreeSet<Operation>,
}

fn oracle(owner: &[Rule], workflow: &[Rule], groups: &[&str]) -> Result<Oracle, HarnessError> {
    let (mut limit, _) = expand(&["READ", "EXECUTE"])?;
    let mut limit_negated = BTreeSet::new();
    if groups.contains(&"ops") {
        let (g, n) = expand(&["READ", "EXECUTE", "reload", "!kill"])?;
        limit.extend(g);
        limit.retain(|op| !n.contains(op));
        limit_negated = n;
    }
    let matching = |layer: &[Rule]| -> Vec<Rule> { layer.iter().copied().filter(|r| names(r.who, groups)).collect() };
    let deciding = [matching(workflow), matching(owner)]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    let mut negated = BTreeSet::new();
    for r in deciding {
        negated.extend(expand(r.rights)?.1);
    }
    Ok(Oracle {
        limit,
        limit_negated,
        negated,
    })
}

/// One escalation found.
struct Escalation {
    owner: String,
    workflow: String,
    groups: String,
    what: String,
}

/// What a search found.
#[derive(Default)]
struct Search {
    combinations: usize,
    decisions: usize,
    deny_codes: BTreeMap<&'static str, usize>,
    escalations: Vec<Escalation>,
}

fn search(defences: &PeopleDefences) -> Result<Search, HarnessError> {
    let insider = Owner::new(INSIDER).map_err(HarnessError::setup)?;
    let id = WorkflowId::new(VICTIM, WORKFLOW).map_err(HarnessError::setup)?;
    let mut found = Search::default();
    let people = GROUPS
        .iter()
        .map(|groups| {
            let provider = FileGroups::parse("groups.toml", &groups_text(groups)).map_err(HarnessError::setup)?;
            let person = provider.person(&(&insider).into()).map_err(HarnessError::setup)?;
            let wf = provider.workflow(&id).map_err(HarnessError::setup)?;
            Ok((*groups, person, wf))
        })
        .collect::<Result<Vec<_>, HarnessError>>()?;
    for owner in &owner_layers() {
        for workflow in &workflow_layers() {
            let mut files = vec![PolicyFile {
                path: "site.toml".into(),
                text: SITE.into(),
            }];
            if !owner.is_empty() {
                files.push(PolicyFile {
                    path: format!("users/{VICTIM}.toml"),
                    text: layer_text(owner),
                });
            }
            if !workflow.is_empty() {
                files.push(PolicyFile {
                    path: format!("workflows/{VICTIM}/{WORKFLOW}.toml"),
                    text: layer_text(workflow),
                });
            }
            let policy = Policy::from_files(&files, defences);
            if let Err(e) = &policy {
                return Err(HarnessError::setup(format!("a generated policy did not load: {e}")));
            }
            let authorizer = Authorizer::with_defences(policy, defences.clone());
            for (groups, person, wf) in &people {
                let offered = authorizer.permitted_ops(person, wf, Level::Write);
                let expect = oracle(owner, workflow, groups)?;
                found.combinations += 1;
                let mut wrong = Vec::new();
                for &op in Operation::ALL {
                    found.decisions += 1;
                    let decision = authorizer.decide(person, wf, op, Level::Write);
                    if let Decision::Deny(reason) = &decision {
                        *found.deny_codes.entry(reason.code()).or_default() += 1;
                    }
                    let allowed = decision.is_allowed();
                    if allowed && expect.limit_negated.contains(&op) {
                        wrong.push(format!("{op} although the site limit negates it"));
                    } else if allowed && !expect.limit.contains(&op) {
                        wrong.push(format!("{op} above the site limit"));
                    }
                    if allowed && expect.negated.contains(&op) {
                        wrong.push(format!("{op} although negated"));
                    }
                    if allowed != offered.contains(&op) {
                        wrong.push(format!(
                            "{op} {} but {} to a UI",
                            if allowed { "allowed" } else { "refused" },
                            if offered.contains(&op) {
                                "offered"
                            } else {
                                "not offered"
                            }
                        ));
                    }
                }
                if !wrong.is_empty() {
                    found.escalations.push(Escalation {
                        owner: describe(owner),
                        workflow: describe(workflow),
                        groups: if groups.is_empty() {
                            "no groups".into()
                        } else {
                            format!("groups {}", groups.join("+"))
                        },
                        what: wrong.join(", "),
                    });
                }
            }
        }
    }
    Ok(found)
}

fn judge(found: &Search) -> Outcome {
    let breaches: Vec<String> = found
        .escalations
        .first()
        .map(|first| {
            format!(
                "{} of {} combinations escalate {INSIDER} on {VICTIM}/{WORKFLOW}; first: owner layer {}, workflow \
                 layer {}, {}: {}",
                found.escalations.len(),
                found.combinations,
                first.owner,
                first.workflow,
                first.groups,
                first.what
            )
        })
        .into_iter()
        .collect();
    let count = |code: &str| found.deny_codes.get(code).copied().unwrap_or(0);
    // The authoriser's own deny codes: above-site-limit only site-limit gives, negated only
    // negation-wins.
    let fired = Fired::count(PeopleCheck::SiteLimit, count("above-site-limit") as u64)
        .and(PeopleCheck::NegationWins, count("negated") as u64);
    Outcome::judge(
        breaches,
        &fired,
        format!(
            "the real authoriser decided {} combinations ({} decisions at write level, files parsed by the real policy and \
         group loaders): nothing above the site limit was permitted (site-limit denied {} as above-site-limit), every \
         negation in the deciding layer or the site limit won (negation-wins denied {} as negated), and permitted_ops \
         always matched decide",
            found.combinations,
            found.decisions,
            count("above-site-limit"),
            count("negated")
        ),
    )
}

async fn escalation_search(w: Weakening) -> Result<Outcome, HarnessError> {
    Ok(judge(&search(&w.people())?))
}
