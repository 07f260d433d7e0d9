//! Cylc's decisions on the cases its own tests and the differential run found telling.

use std::collections::BTreeSet;

use super::*;

fn auth(site: &str, user: &str, owner: &str, owner_groups: &[&str]) -> CylcAuthorization {
    let site = CylcSite::parse("site.json", site).expect("site parses");
    let user = CylcUserConf::parse("users/x.json", user).expect("user conf parses");
    let groups: Vec<String> = owner_groups.iter().map(|g| (*g).to_owned()).collect();
    CylcAuthorization::new(CylcVersion::LATEST, owner, &groups, &site, &user).expect("Cylc's constructor succeeds")
}

fn allows(a: &CylcAuthorization, user: &str, groups: &[&str], op: &str) -> bool {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    a.decide(user, &groups, op).allowed
}

#[test]
fn a_later_owner_key_with_a_new_access_key_drops_the_default_merged_so_far() {
    let a = auth(
        r#"{"*":{"*":{"default":"READ"}},"own1":{"*":{"limit":"ALL"},"bob":{"limit":"READ"}}}"#,
        "{}",
        "own1",
        &[],
    );
    assert!(!allows(&a, "carol", &[], "read"), "Cylc denies carol read");
    assert!(
        a.events()
            .iter()
            .any(|e| matches!(e, MergeEvent::Replaced { key, lost, .. } if key == "*" && lost.len() == 1)),
        "{:?}",
        a.events()
    );
    // Another owner, where only "*" applies, keeps the default.
    let other = auth(
        r#"{"*":{"*":{"default":"READ"}},"own1":{"*":{"limit":"ALL"},"bob":{"limit":"READ"}}}"#,
        "{}",
        "own2",
        &[],
    );
    assert!(allows(&other, "carol", &[], "read"));
}

#[test]
fn a_later_owner_key_with_a_new_access_key_drops_a_negation_in_the_limit() {
    let a = auth(
        r#"{"*":{"*":{"limit":["CONTROL","!stop"]}},"own1":{"*":{"default":"CONTROL","limit":"CONTROL"},"bob":{"limit":"READ"}}}"#,
        "{}",
        "own1",
        &[],
    );
    assert!(allows(&a, "carol", &[], "stop"), "Cylc lets carol stop");
    assert!(!allows(&a, "carol", &[], "broadcast"));
}

#[test]
fn entries_match_only_by_exact_spelling() {
    let site = r#"{"*":{"*":{"limit":"ALL"}}}"#;
    let a = auth(
        site,
        r#"{"bob":["READ","Trigger","HOLD","setHoldPoint","!Stop","CONTROL"]}"#,
        "own",
        &[],
    );
    assert!(allows(&a, "bob", &[], "read"));
    assert!(allows(&a, "bob", &[], "trigger"), "from CONTROL, not from Trigger");
    assert!(allows(&a, "bob", &[], "stop"), "!Stop negates nothing");
    let b = auth(site, r#"{"bob":["READ","Trigger"]}"#, "own", &[]);
    assert!(!allows(&b, "bob", &[], "trigger"), "Trigger is ignored");
    let c = auth(site, r#"{"bob":["CONTROL","!!stop","!!READ","READ"]}"#, "own", &[]);
    assert!(!allows(&c, "bob", &[], "stop"), "!!stop negates stop");
    assert!(allows(&c, "bob", &[], "read"), "!!READ negates nothing");
}

#[test]
fn operation_names_are_converted_as_graphql_names_and_unknown_ones_refused_even_for_the_owner() {
    let a = auth(
        r#"{"*":{"*":{"limit":["ALL"]}}}"#,
        r#"{"other":["CONTROL"]}"#,
        "me",
        &[],
    );
    for ok in [
        "release_hold_point",
        "ReleaseHoldPoint",
        "SetGraphWindowExtent",
        "set_graph_window_extent",
    ] {
        assert!(allows(&a, "other", &[], ok), "{ok}");
    }
    for no in [
        "no_such_permission",
        "RELeaseHOLdPoint",
        "SEtGRAPhWINDOwEXTENt",
        "Release_Hold_Point",
        "broadcast",
    ] {
        assert!(!allows(&a, "other", &[], no), "{no}");
    }
    let d = a.decide("me", &[], "set-hold-point");
    assert!(matches!(d.reason, CylcReason::NotAnOperation { .. }), "{d:?}");
    assert!(allows(&a, "me", &[], "broadcast"));
}

#[test]
fn an_empty_list_reached_by_a_request_denies_that_request_as_cylc_fails_secure() {
    let a = auth("{}", r#"{"other": []}"#, "me", &[]);
    let d = a.decide("other", &[], "read");
    assert!(
        matches!(&d.reason, CylcReason::Raised(r) if r.config == "user" && r.line == 1 && r.message.contains("[]")),
        "{d:?}"
    );
    let b = auth(
        r#"{"*": {"other": {"limit": []}, "*": {"default": "READ"}}}"#,
        "{}",
        "me",
        &[],
    );
    assert!(matches!(
        b.decide("other", &[], "read").reason,
        CylcReason::Raised(Raised { config: "site", .. })
    ));
    assert!(
        allows(&b, "carol", &[], "read"),
        "only the person whose lookup reaches [] is denied"
    );
}

#[test]
fn cylcs_own_fake_configuration_gives_its_tests_expected_operations() {
    let site = r#"{
 "*": {"*": {"default": "READ"}, "user1": {"limit": ["!ALL"]}},
 "server_owner_1": {"*": {"default": ["READ", "message"], "limit": ["READ", "CONTROL"]},
                    "user1": {"default": ["READ", "play", "pause"], "limit": ["ALL"]}},
 "server_owner_2": {"user2": {"limit": "ALL"}, "group:groupA": {"default": ["READ", "CONTROL"]}},
 "group:grp_of_svr_owners": {"group:group2": {"default": "READ", "limit": ["READ", "CONTROL", "!stop", "!kill"]}}
}"#;
    let user = r#"{"user1": ["READ", "pause", "trigger", "message"], "group:group1": ["ALL"],
 "user2": ["READ", "CONTROL", "!trigger", "!edit"], "user3": ["READ"], "user4": ["!ALL"],
 "user5": ["play", "pause"], "group:group2": ["READ", "CONTROL", "!reload"]}"#;
    let a = auth(site, user, "server_owner_2", &["group:grp_of_svr_owners"]);
    let p = a.permitted("user7", &["group:group2".into()]).expect("no []");
    let want: BTreeSet<String> = [
        "clean",
        "message",
        "play",
        "trigger",
        "resume",
        "scan",
        "set_verbosity",
        "set_graph_window_extent",
        "read",
        "poll",
        "hold",
        "remove",
        "set_hold_point",
        "release_hold_point",
        "ext_trigger",
        "pause",
        "set",
        "release",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(p.ops, want);
    let b = auth(site, user, "server_owner_1", &[""]);
    assert_eq!(
        b.permitted("user1", &[String::new()]).expect("no []").ops,
        BTreeSet::new()
    );
}

#[test]
fn values_of_the_wrong_type_fail_where_cylcs_code_fails_on_them_not_before() {
    // A string entry is accepted; only the person whose lookup reaches it is denied.
    let a = auth(r#"{"*": {"bob": "READ", "*": {"default": "READ"}}}"#, "{}", "me", &[]);
    let d = a.decide("bob", &[], "read");
    assert!(
        matches!(&d.reason, CylcReason::Raised(r) if r.message.contains("no attribute 'get'")),
        "{d:?}"
    );
    // "*" comes after the update "bob" triggered, so it is merged with itself: carol is fine.
    assert!(allows(&a, "carol", &[], "read"));
    // null and numbers raise when reached; an object's keys are read as the entries.
    let b = auth(
        r#"{"*": {"*": {"limit": "ALL"}}}"#,
        r#"{"*": null, "bob": 7, "eve": {"READ": 1}}"#,
        "me",
        &[],
    );
    assert!(matches!(
        b.decide("carol", &[], "read").reason,
        CylcReason::Raised(Raised { config: "user", .. })
    ));
    assert!(matches!(b.decide("bob", &[], "read").reason, CylcReason::Raised(_)));
    let c = auth(
        r#"{"*": {"*": {"limit": "ALL"}}}"#,
        r#"{"eve": {"READ": 1}}"#,
        "me",
        &[],
    );
    assert!(allows(&c, "eve", &[], "read"), "the dict's key READ is an entry");
    // A merge meeting a string entry makes the constructor raise: that UI server never starts.
    let site = CylcSite::parse(
        "site.json",
        r#"{"*": {"bob": "READ"}, "me": {"bob": {"default": "READ"}}}"#,
    )
    .expect("parses");
    let err =
        CylcAuthorization::new(CylcVersion::LATEST, "me", &[], &site, &CylcUserConf::default()).expect_err("raises");
    assert!(err.message.contains("'str' object has no attribute 'get'"), "{err}");
    // The owner block that is not an object fails only the owners it applies to.
    let site = CylcSite::parse("site.json", r#"{"fake": "config"}"#).expect("parses");
    let other = CylcAuthorization::new(CylcVersion::LATEST, "someone", &[], &site, &CylcUserConf::default())
        .expect("an owner key that does not apply is never read");
    assert!(other.events().is_empty());
    let err =
        CylcAuthorization::new(CylcVersion::LATEST, "fake", &[], &site, &CylcUserConf::default()).expect_err("raises");
    assert!(err.message.contains("no attribute 'items'"), "{err}");
}

#[test]
fn an_empty_or_zero_entry_counts_as_absent_so_the_next_owner_key_replaces_rather_than_merges() {
    // "bob" is {} under "*": falsy, so own1's "bob" triggers update(), which also replaces "*"
    // (dropping its default READ). Had {} counted as present, "*" would have been merged.
    let a = auth(
        r#"{"*": {"*": {"default": "READ", "limit": "READ"}, "bob": {}}, "own1": {"bob": {"limit": "ALL"}, "*": {"limit": "ALL"}}}"#,
        "{}",
        "own1",
        &[],
    );
    assert!(
        !allows(&a, "carol", &[], "read"),
        "the default was replaced, not merged"
    );
    let site = |entry: &str| {
        CylcSite::parse(
            "site.json",
            &format!(r#"{{"*": {{"bob": {entry}}}, "me": {{"bob": {{"default": "READ"}}}}}}"#),
        )
        .expect("parses")
    };
    let build =
        |entry: &str| CylcAuthorization::new(CylcVersion::LATEST, "me", &[], &site(entry), &CylcUserConf::default());
    // Falsy values are replaced without being read; truthy non-dicts are merged and raise.
    for falsy in ["0", "0.0", "\"\"", "null", "false", "[]", "{}"] {
        assert!(
            build(falsy).is_ok_and(|a| a.decide("bob", &[], "read").allowed),
            "{falsy}"
        );
    }
    for truthy in ["1", "\"x\"", "true", "[1]"] {
        let err = build(truthy).expect_err(truthy);
        assert!(err.message.contains("has no attribute 'get'"), "{truthy}: {err}");
    }
}

#[test]
fn python_names_the_type_a_lookup_cannot_iterate_and_the_line_of_an_empty_list() {
    let a = auth(
        r#"{"*": {"*": {"limit": "ALL"}}}"#,
        "{\"bob\": 7,\n\"eve\": 7.5}",
        "me",
        &[],
    );
    let reason = |who: &str| match a.decide(who, &[], "read").reason {
        CylcReason::Raised(r) => (r.message, r.line),
        other => panic!("{other:?}"),
    };
    assert_eq!(reason("bob"), ("'int' object is not iterable".to_owned(), 1));
    assert_eq!(reason("eve"), ("'float' object is not iterable".to_owned(), 2));
    // "bob" comes first, so it triggers the update and stays as written (not self-merged).
    let b = auth(
        "{\"*\": {\"bob\": {\"default\":\n []},\n \"*\": {\"limit\": \"ALL\"}}}",
        "{}",
        "me",
        &[],
    );
    let CylcReason::Raised(r) = b.decide("bob", &[], "read").reason else {
        panic!("raises")
    };
    assert_eq!((r.config, r.line), ("site", 2), "the line of the [] itself");
}

#[test]
fn the_supported_version_has_its_names_and_is_read_from_each_of_its_spellings() {
    let v = CylcVersion::LATEST;
    assert_eq!(v.id(), "1.7");
    assert_eq!(
        v.to_string(),
        "cylc-uiserver 1.7 / cylc-flow 8.5 (checked against 1.7.1 / 8.5.4)"
    );
    assert_eq!(v.to_string(), v.describe());
    for spelling in ["1.7", "1.7.0", "1.7.1"] {
        assert_eq!(spelling.parse::<CylcVersion>(), Ok(v), "{spelling}");
    }
    assert_eq!("1.8".parse::<CylcVersion>(), Err(UnsupportedVersion("1.8".to_owned())));
}

#[test]
fn a_policy_directory_is_read_into_the_site_and_each_owners_user_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("users")).expect("users/");
    std::fs::write(dir.path().join("site.json"), r#"{"*": {"*": {"limit": "ALL"}}}"#).expect("site");
    std::fs::write(dir.path().join("users/own1.json"), r#"{"bob": ["READ"]}"#).expect("user");
    let policy = CylcPolicy::load(dir.path()).expect("loads");
    assert_eq!(policy.users.keys().collect::<Vec<_>>(), ["own1"]);
    let a = CylcAuthorization::new(
        CylcVersion::LATEST,
        "own1",
        &[],
        &policy.site,
        &policy.user_conf("own1"),
    )
    .expect("builds");
    assert!(allows(&a, "bob", &[], "read"), "the owner's file grants bob read");
    assert!(!allows(&a, "bob", &[], "stop"));
    // An owner without a file gets Cylc's default {}: nothing beyond the site's defaults.
    let b = CylcAuthorization::new(
        CylcVersion::LATEST,
        "own2",
        &[],
        &policy.site,
        &policy.user_conf("own2"),
    )
    .expect("builds");
    assert!(!allows(&b, "bob", &[], "read"));
    assert_eq!(
        (a.owner(), a.site_file(), a.user_file()),
        ("own1", "site.json", "users/own1.json")
    );
    assert_eq!(b.user_file(), "");
    let err = CylcPolicy::from_files([("site.toml", "")]).expect_err("not Cylc's file");
    assert!(
        matches!(err, PolicyError::UnexpectedFile { ref file } if file == "site.toml"),
        "{err}"
    );
}

#[test]
fn a_raised_lookup_names_the_file_it_is_in_and_decisions_say_why_in_words() {
    let a = auth(
        r#"{"*": {"bob": "READ", "*": {"limit": "ALL"}}}"#,
        r#"{"*": null}"#,
        "me",
        &[],
    );
    let site_raised = a.decide("bob", &[], "read");
    assert!(
        matches!(&site_raised.reason, CylcReason::Raised(r) if r.config == "site" && r.file == "site.json"),
        "{site_raised:?}"
    );
    let user_raised = a.decide("carol", &[], "read");
    assert!(
        matches!(&user_raised.reason, CylcReason::Raised(r) if r.config == "user" && r.file == "users/x.json"),
        "{user_raised:?}"
    );
    let text = user_raised.to_string();
    assert!(text.starts_with("deny read: users/x.json:"), "{text}");
    assert!(text.contains("Cylc's code raises"), "{text}");
    let owner = a.decide("me", &[], "stop");
    assert_eq!(
        owner.to_string(),
        "allow stop: the owner may do anything on their own UI server"
    );
}
