//! Cylc's site_authorization / user_authorization JSON, read and decided as Cylc documents.

use protocol_people::authz::{Authorizer, Decision, DenyReason, LayerKind};
use protocol_people::cylc::{CylcAuthorization, CylcPolicy, CylcReason, CylcVersion};
use protocol_people::groups::WorkflowRef;
use protocol_people::ops::{Level, Operation};
use protocol_people::policy::Policy;

use crate::common::*;

fn cylc() -> Authorizer {
    Authorizer::from_load(Policy::load(&examples().join("cylc")))
}

fn ops(a: &Authorizer, who: &str, groups: &[&str], on: &str) -> std::collections::BTreeSet<Operation> {
    a.permitted_ops(&person(who, groups), &wf(on), Level::Write)
}

#[test]
fn the_cylc_example_loads_and_reads_as_cylcs_documentation_says() {
    let a = cylc();
    assert!(a.policy().is_ok(), "{:?}", a.policy().err());
    // "*": READ -> any authenticated user may view server_owner_1's workflows.
    assert_eq!(ops(&a, "carol", &[], "server_owner_1/w"), [Operation::Read].into());
    // group:groupA: CONTROL, capped by server_owner_1's limit READ+CONTROL; READ comes from "*".
    let a_member = ops(&a, "carol", &["groupA"], "server_owner_1/w");
    assert!(a_member.contains(&Operation::Read) && a_member.contains(&Operation::Stop));
    assert!(!a_member.contains(&Operation::Broadcast));
    // user4: read, pause, not play: the negation wins over groupA's CONTROL.
    let user4 = ops(&a, "user4", &["groupA"], "server_owner_1/w");
    assert!(
        user4.contains(&Operation::Pause) && user4.contains(&Operation::Stop),
        "{user4:?}"
    );
    assert!(!user4.contains(&Operation::Play), "{user4:?}");
    // user2: !ALL.
    assert!(ops(&a, "user2", &[], "server_owner_1/w").is_empty());
    // user1: the site's default ["!ALL"] is also its limit, so no owner can give user1
    // anything, whatever the owner's file says ("read", "pause").
    assert!(ops(&a, "user1", &["groupA"], "server_owner_1/w").is_empty());
}

#[test]
fn a_cylc_user_grant_above_the_site_limit_is_capped_and_real_cylc_caps_it_too() {
    let a = cylc();
    // Real Cylc (cylc-uiserver 1.7) agrees: its limit for server_owner_1 is READ + CONTROL.
    let dir = examples().join("cylc");
    let real = CylcPolicy::load(&dir).expect("loads");
    let owner = CylcAuthorization::new(
        CylcVersion::LATEST,
        "server_owner_1",
        &[],
        &real.site,
        &real.user_conf("server_owner_1"),
    )
    .expect("Cylc starts");
    let b = owner.decide("user3", &[], "broadcast");
    assert_eq!((b.allowed, &b.reason), (false, &CylcReason::NotPermitted));
    // ...but reads "Trigger" as nothing, where the documented reading grants trigger.
    assert!(!owner.decide("user3", &[], "trigger").allowed);
    let d = a.decide(
        &person("user3", &[]),
        &wf("server_owner_1/w"),
        Operation::Broadcast,
        Level::Write,
    );
    assert!(
        matches!(
            d,
            Decision::Deny(DenyReason::AboveSiteLimit {
                layer: LayerKind::Owner,
                ..
            })
        ),
        "{d:?}"
    );
    let t = a.decide(
        &person("user3", &[]),
        &wf("server_owner_1/w"),
        Operation::Trigger,
        Level::Write,
    );
    assert!(
        t.is_allowed(),
        "Trigger (capitalised, as in Cylc's docs) is granted: {t:?}"
    );
}

#[test]
fn cylc_site_defaults_apply_where_the_owner_has_no_user_authorization() {
    let a = cylc();
    // server_owner_2 has no user file: group:groupA gets its site default READ + CONTROL.
    let ga = ops(&a, "carol", &["groupA"], "server_owner_2/w");
    assert!(ga.contains(&Operation::Read) && ga.contains(&Operation::Reload));
    // user1 is denied everything by default for every owner.
    assert!(ops(&a, "user1", &[], "server_owner_2/w").is_empty());
    // Owners in group:grp_of_svr_owners may give groupB READ and CONTROL but not stop or kill;
    // with no user file, groupB gets the default READ.
    let owner_in_group = WorkflowRef::new(wid("dana/w"), [group("grp_of_svr_owners")].into());
    let b = a.permitted_ops(&person("erin", &["groupB"]), &owner_in_group, Level::Write);
    assert_eq!(b, [Operation::Read].into());
}
