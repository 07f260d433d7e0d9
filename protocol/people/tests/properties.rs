//! Properties over random policies and random session histories.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use protocol_core::time::Millis;
use protocol_people::authz::Authorizer;
use protocol_people::groups::{Person, WorkflowRef};
use protocol_people::names::Subject;
use protocol_people::ops::{Level, Operation, Right};
use protocol_people::policy::Policy;
use protocol_people::session::{SessionConfig, SessionManager, UserDb};

use crate::common::*;

const PEOPLE: [&str; 4] = ["alice", "bob", "carol", "dave"];
const GROUPS: [&str; 2] = ["g1", "g2"];
const OWNERS: [&str; 2] = ["olivia", "oscar"];
const WORKFLOWS: [&str; 3] = ["olivia/w1", "olivia/w2", "oscar/w1"];
const RIGHTS: [&str; 19] = [
    "READ",
    "EXECUTE",
    "WRITE",
    "CONTROL",
    "ALL",
    "!READ",
    "!EXECUTE",
    "!CONTROL",
    "!ALL",
    "read",
    "stop",
    "trigger",
    "kill",
    "broadcast",
    "reload",
    "!stop",
    "!trigger",
    "!read",
    "!broadcast",
];

/// A site rule: owner selector, subject, default, limit.
type SiteSpec = (String, String, Option<Vec<&'static str>>, Option<Vec<&'static str>>);

#[derive(Debug, Clone)]
struct Spec {
    site: Vec<SiteSpec>,
    owners: Vec<(&'static str, String, Vec<&'static str>)>,
    workflows: Vec<(&'static str, String, Vec<&'static str>)>,
    membership: BTreeMap<&'static str, BTreeSet<&'static str>>,
}

fn subject(anyone: bool) -> BoxedStrategy<String> {
    let named = prop_oneof![
        select(&PEOPLE[..]).prop_map(str::to_owned),
        select(&GROUPS[..]).prop_map(|g| format!("group:{g}")),
    ];
    if anyone {
        prop_oneof![1 => Just("*".to_owned()), 3 => named].boxed()
    } else {
        named.boxed()
    }
}

fn rights() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(select(&RIGHTS[..]), 0..4)
}

fn spec(anyone: bool) -> impl Strategy<Value = Spec> {
    let owner_sel = prop_oneof![
        Just("*".to_owned()),
        select(&OWNERS[..]).prop_map(str::to_owned),
        Just("group:g1".to_owned())
    ];
    let site = prop::collection::vec(
        (
            owner_sel,
            subject(anyone),
            prop::option::of(rights()),
            prop::option::of(rights()),
        ),
        0..4,
    );
    let owners = prop::collection::vec((select(&OWNERS[..]), subject(anyone), rights()), 0..4);
    let workflows = prop::collection::vec((select(&WORKFLOWS[..]), subject(anyone), rights()), 0..3);
    let who = [&PEOPLE[..], &OWNERS[..]].concat();
    let membership = prop::collection::btree_map(
        select(who),
        prop::collection::btree_set(select(&GROUPS[..]), 0..3),
        0..6,
    );
    (site, owners, workflows, membership).prop_map(|(site, owners, workflows, membership)| Spec {
        site,
        owners,
        workflows,
        membership,
    })
}

fn parse(list: &[&str]) -> Vec<Right> {
    list.iter().map(|r| r.parse().expect("right")).collect()
}

fn sub(s: &str) -> Subject {
    s.parse().expect("subject")
}

impl Spec {
    fn policy(&self) -> Policy {
        let mut p = Policy::new();
        for (o, w, d, l) in &self.site {
            p = p.with_site_rule(sub(o), sub(w), d.as_deref().map(parse), l.as_deref().map(parse));
        }
        for (o, w, r) in &self.owners {
            p = p.with_owner_rule(owner(o), sub(w), parse(r));
        }
        for (id, w, r) in &self.workflows {
            p = p.with_workflow_rule(wid(id), sub(w), parse(r));
        }
        p
    }

    fn groups(&self, name: &str) -> Vec<&str> {
        self.membership
            .get(name)
            .map(|g| g.iter().copied().collect())
            .unwrap_or_default()
    }

    fn person(&self, name: &str) -> Person {
        person(name, &self.groups(name))
    }

    fn workflow(&self, id: &str) -> WorkflowRef {
        let w = wid(id);
        let groups = self.groups(w.owner().as_str()).into_iter().map(group).collect();
        WorkflowRef::new(w, groups)
    }

    /// The site limit for (person, workflow), computed here independently of the authoriser.
    fn limit(&self, p: &Person, w: &WorkflowRef) -> BTreeSet<Operation> {
        let (mut grants, mut negs) = (BTreeSet::new(), BTreeSet::new());
        for (o, who, d, l) in &self.site {
            if sub(o).matches(w.owner().as_str(), w.owner_groups.iter())
                && sub(who).matches(p.name.as_str(), p.groups.iter())
            {
                for r in parse(l.as_deref().or(d.as_deref()).unwrap_or(&[])) {
                    if r.negated {
                        negs.extend(r.operations())
                    } else {
                        grants.extend(r.operations())
                    }
                }
            }
        }
        grants.difference(&negs).copied().collect()
    }

    fn all_permitted(&self, a: &Authorizer) -> Vec<BTreeSet<Operation>> {
        let mut out = Vec::new();
        for p in PEOPLE {
            for w in WORKFLOWS {
                out.push(a.permitted_ops(&self.person(p), &self.workflow(w), Level::Write));
            }
        }
        out
    }
}

proptest! {
    #[test]
    fn the_result_never_exceeds_the_site_limit(s in spec(true)) {
        let a = Authorizer::new(s.policy());
        for p in PEOPLE {
            for w in WORKFLOWS {
                let (p, w) = (s.person(p), s.workflow(w));
                let allowed = a.permitted_ops(&p, &w, Level::Write);
                let limit = s.limit(&p, &w);
                prop_assert!(allowed.is_subset(&limit), "{p:?} on {w:?}: {allowed:?} not within {limit:?}");
            }
        }
    }

    #[test]
    fn adding_a_negation_never_adds_a_right(
        s in spec(true),
        layer in 0..4usize,
        at in (select(&OWNERS[..]), select(&WORKFLOWS[..]), subject(true), select(&RIGHTS[..])),
    ) {
        let before = s.all_permitted(&Authorizer::new(s.policy()));
        let (o, w, who, right) = at;
        let neg: Right = right.trim_start_matches('!').parse().map(|r: Right| Right { negated: true, ..r }).expect("right");
        let p = s.policy();
        let p = match layer {
            0 => p.with_site_rule(sub(o), sub(&who), Some(vec![neg]), None),
            1 => p.with_site_rule(Subject::Anyone, sub(&who), None, Some(vec![neg])),
            2 => p.with_owner_rule(owner(o), sub(&who), vec![neg]),
            _ => p.with_workflow_rule(wid(w), sub(&who), vec![neg]),
        };
        let after = s.all_permitted(&Authorizer::new(p));
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(a.is_subset(b), "{neg} added {:?}", a.difference(b).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_person_outside_every_grant_gets_nothing(s in spec(false)) {
        let a = Authorizer::new(s.policy());
        let zed = person("zed", &["g9"]);
        for w in WORKFLOWS {
            prop_assert!(a.permitted_ops(&zed, &s.workflow(w), Level::Write).is_empty());
        }
    }

    #[test]
    fn nothing_is_allowed_above_the_sessions_level(s in spec(true), who in select([&PEOPLE[..], &OWNERS[..]].concat()), w in select(&WORKFLOWS[..])) {
        let a = Authorizer::new(s.policy());
        let (p, w) = (s.person(who), s.workflow(w));
        for level in Level::ALL {
            for op in a.permitted_ops(&p, &w, level) {
                prop_assert!(op.level() <= level, "{op} allowed at {level}");
            }
        }
    }
}

/// One step of a random session history.
#[derive(Debug, Clone, Copy)]
enum Step {
    Wait(u64),
    Authenticate,
    Elevate(Level),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u64..1200).prop_map(Step::Wait),
        2 => Just(Step::Authenticate),
        1 => Just(Step::Elevate(Level::Execute)),
        1 => Just(Step::Elevate(Level::Write)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn elevation_never_outlives_its_window(steps in prop::collection::vec(step(), 1..40), window_s in 1u64..3600) {
        let config = SessionConfig {
            idle_timeout: Duration::from_secs(6 * 3600),
            absolute_lifetime: Duration::from_secs(48 * 3600),
            elevation_window: Duration::from_secs(window_s),
            ..fast_config()
        };
        let mut users = UserDb::new();
        let phc = protocol_people::session::hash_password("pw", config.hash_params, &mut TestRng::new(1)).expect("hash");
        users.insert(owner("alice"), &phc).expect("insert");
        let mut m = SessionManager::new(users, config).expect("manager");
        let mut rng = TestRng::new(2);
        let gw = audience("gw");
        let (mut token, s) = m.login(T0, "alice", "pw", &gw, &mut rng).expect("login");
        let mut now = T0;
        let mut elevated_at: Option<Millis> = None;
        let window = Duration::from_secs(window_s);
        for st in steps {
            match st {
                Step::Wait(secs) => now = now.after(Duration::from_secs(secs)),
                Step::Authenticate => {
                    let seen = m.authenticate(now, &token, &gw).expect("alive").level;
                    prop_assert_eq!(seen, m.effective_level(now, s.id).expect("alive"));
                }
                Step::Elevate(to) => {
                    let (t, _) = m.elevate(now, &token, &gw, "pw", to, &mut rng).expect("elevates");
                    token = t;
                    elevated_at = Some(now);
                }
            }
            let level = m.effective_level(now, s.id).expect("alive");
            let inside = elevated_at.is_some_and(|t| now < t.after(window));
            prop_assert_eq!(level > Level::Read, inside, "at {:?} after elevating at {:?}", now, elevated_at);
        }
    }
}
