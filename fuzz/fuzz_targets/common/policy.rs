//! Shared by `policy_toml` and `policy_cylc`: a policy directory as fuzz input, parsed with
//! `Policy::from_files` (the pure core of `Policy::load`) and then asked questions.
//!
//! Input: files separated by NUL bytes; each is a path relative to the policy directory on its
//! first line (the target's extension, `.toml` or `.json`, is added when the path has
//! neither) and the file's text after it. So the fuzzer varies the layout (`site`,
//! `users/OWNER`, `workflows/OWNER/NAME`, stray names, duplicate layers) as well as the text.
//!
//! Checked, for people and workflows the policy names (and a few fixed ones; per input three
//! workflows and, for each, its owner and three people, chosen by the input's length), at
//! every level: a policy that does not load denies everything (`fail-closed`); owners may do
//! everything to their own workflows; nothing is allowed above the session's level
//! (`elevation-required`); a higher level never allows less; nothing a non-owner is allowed
//! exceeds the site limit computed independently from the site rules (`site-limit`), the
//! property `protocol/people/tests/properties.rs` states; `decide` agrees with
//! `permitted_ops` (four operations per pair); error messages render.

use std::collections::BTreeSet;

use protocol_core::{Owner, WorkflowId};
use protocol_people::authz::{AllowReason, Decision, DenyReason};
use protocol_people::names::{GroupName, Subject};
use protocol_people::ops::{Level, Operation};
use protocol_people::policy::{PolicyFile, SiteRule};
use protocol_people::{Authorizer, PeopleDefences, Person, Policy, WorkflowRef};

const PEOPLE: [&str; 4] = ["jacintar", "oceans_stage", "user1", "mallory"];
const WORKFLOWS: [(&str, &str); 4] = [
    ("atmosphere_stage", "clouds"),
    ("oceans_stage", "currents"),
    ("server_owner_1", "wf"),
    ("jacintar", "wf"),
];
const GROUPS: [&str; 5] = ["operators", "ocean_team", "groupA", "groupB", "grp_of_svr_owners"];

pub fn files(data: &[u8], extension: &str) -> Vec<PolicyFile> {
    data.split(|&b| b == 0)
        .take(16)
        .map(|chunk| {
            let text = String::from_utf8_lossy(chunk);
            let (path, body) = text.split_once('\n').unwrap_or((&text, ""));
            let path = if path.ends_with(".toml") || path.ends_with(".json") {
                path.to_owned()
            } else {
                format!("{path}.{extension}")
            };
            PolicyFile {
                path,
                text: body.to_owned(),
            }
        })
        .collect()
}

fn groups_of(name: &str) -> BTreeSet<GroupName> {
    // Everyone is in some of the groups the examples use, differently.
    let h = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    GROUPS
        .iter()
        .enumerate()
        .filter(|(i, _)| h & (1 << i) != 0)
        .filter_map(|(_, g)| GroupName::new(g).ok())
        .collect()
}

fn person(name: &Owner) -> Person {
    Person::new(name.clone(), groups_of(name.as_str()))
}

/// The site limit for (person, workflow), independently of the authoriser: the union of the
/// matching rules' `limit` (else `default`), less their negations.
fn site_limit(site: &[SiteRule], p: &Person, w: &WorkflowRef) -> BTreeSet<Operation> {
    let (mut grants, mut negations) = (BTreeSet::new(), BTreeSet::new());
    for rule in site {
        if rule.owners.matches(w.owner().as_str(), w.owner_groups.iter())
            && rule.who.matches(p.name.as_str(), p.groups.iter())
        {
            for right in rule.limit.as_deref().or(rule.default.as_deref()).unwrap_or(&[]) {
                if right.negated {
                    negations.extend(right.operations());
                } else {
                    grants.extend(right.operations());
                }
            }
        }
    }
    grants.difference(&negations).copied().collect()
}

pub fn run(data: &[u8], extension: &str) {
    let files = files(data, extension);
    let loaded = Policy::from_files(&files, &PeopleDefences::all());
    let authz = Authorizer::from_load(loaded.clone());
    let mut people: BTreeSet<Owner> = PEOPLE.iter().filter_map(|p| Owner::new(p).ok()).collect();
    let mut workflows: BTreeSet<WorkflowId> = WORKFLOWS
        .iter()
        .filter_map(|(o, n)| WorkflowId::new(o, n).ok())
        .collect();
    for f in &files {
        let stem = f.path.rsplit_once('.').map_or(f.path.as_str(), |(s, _)| s);
        if let Some(owner) = stem.strip_prefix("users/").and_then(|o| Owner::new(o).ok()) {
            workflows.insert(WorkflowId::new(owner.as_str(), "wf").expect("valid"));
            people.insert(owner);
        } else if let Some((o, n)) = stem.strip_prefix("workflows/").and_then(|r| r.split_once('/'))
            && let Ok(id) = WorkflowId::new(o, n)
        {
            workflows.insert(id);
        }
    }
    let policy = match loaded {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            let p = person(people.first().expect("people"));
            let w = WorkflowRef::new(workflows.first().expect("workflows").clone(), BTreeSet::new());
            assert!(
                authz.permitted_ops(&p, &w, Level::Write).is_empty(),
                "a broken policy allowed something"
            );
            assert!(matches!(
                authz.decide(&p, &w, Operation::Read, Level::Write),
                Decision::Deny(DenyReason::PolicyBroken { .. })
            ));
            return;
        }
    };
    for rule in policy.site_rules() {
        if let Subject::User(u) = &rule.who
            && let Ok(o) = u.to_owner()
        {
            people.insert(o);
        }
    }
    // A few of each, rotating with the input, keep every execution cheap.
    let spin = data.len();
    let workflows: Vec<&WorkflowId> = workflows.iter().collect();
    for id in workflows
        .iter()
        .cycle()
        .skip(spin % workflows.len())
        .take(workflows.len().min(3))
    {
        let w = WorkflowRef::new((*id).clone(), groups_of(id.owner().as_str()));
        // Three people, and always the owner.
        let chosen = people
            .iter()
            .cycle()
            .skip(spin % people.len())
            .take(people.len().min(3));
        for name in chosen.chain(std::iter::once(id.owner())) {
            let p = person(name);
            let at: Vec<BTreeSet<Operation>> = Level::ALL.iter().map(|&l| authz.permitted_ops(&p, &w, l)).collect();
            let (write, owner) = (&at[2], name == id.owner());
            for (level, allowed) in Level::ALL.iter().zip(&at) {
                assert!(
                    allowed.is_subset(write),
                    "{name} on {id}: more at {level} than at write"
                );
                for op in allowed {
                    assert!(op.level() <= *level, "{name} on {id}: {op} allowed at {level}");
                }
            }
            if owner {
                assert_eq!(
                    write.len(),
                    Operation::ALL.len(),
                    "{name} may not do everything to their own {id}"
                );
            } else {
                let limit = site_limit(policy.site_rules(), &p, &w);
                assert!(
                    write.is_subset(&limit),
                    "{name} on {id}: {:?} is beyond the site limit {limit:?}",
                    write.difference(&limit).collect::<Vec<_>>()
                );
            }
            for &op in Operation::ALL.iter().cycle().skip(spin % Operation::ALL.len()).take(4) {
                let d = authz.decide(&p, &w, op, Level::Write);
                assert_eq!(
                    d.is_allowed(),
                    write.contains(&op),
                    "{name} on {id}: decide and permitted_ops disagree on {op}"
                );
                if owner {
                    assert_eq!(d, Decision::Allow(AllowReason::Owner));
                }
                let _ = d.to_string();
            }
        }
    }
}
