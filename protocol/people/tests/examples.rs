//! The shipped examples load, and loading fails closed with a location when they are broken.

use protocol_people::policy::{Policy, PolicyError};

use crate::common::*;

#[test]
fn the_example_policy_groups_and_users_load() {
    let p = Policy::load(&example_policy()).expect("example policy loads");
    assert_eq!(p.site_rules().len(), 2);
    assert_eq!(p.owner_rules(&owner("oceans_stage")).len(), 2);
    assert_eq!(p.workflow_rules(&wid("oceans_stage/currents")).len(), 1);
    assert_eq!(example_person("jacintar").groups.len(), 2);
    let _ = example_users();
}

#[test]
fn a_typo_in_a_policy_file_refuses_the_whole_policy_naming_file_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&example_policy(), dir.path());
    std::fs::write(
        dir.path().join("users/oceans_stage.toml"),
        "[grants]\n\"group:ocean_team\" = [\"READ\"]\n\"*\" = [\"nothing\"]\n",
    )
    .expect("write");
    assert_eq!(
        Policy::load(dir.path()),
        Err(PolicyError::UnknownRight {
            file: "users/oceans_stage.toml".into(),
            line: 3,
            field: "grants.\"*\"".into(),
            value: "nothing".into(),
        })
    );
}

#[test]
fn a_missing_directory_is_unreadable_and_one_without_a_site_layer_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Policy::load(&dir.path().join("nope")),
        Err(PolicyError::Unreadable { .. })
    ));
    assert!(matches!(Policy::load(dir.path()), Err(PolicyError::MissingSite { .. })));
    std::fs::write(dir.path().join("site.toml"), "").expect("write");
    assert!(Policy::load(dir.path()).is_ok_and(|p| p.site_rules().is_empty()));
}

#[test]
fn an_unreadable_policy_file_refuses_the_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&example_policy(), dir.path());
    std::fs::write(dir.path().join("users/bad.toml"), [0xff, 0xfe, 0x00]).expect("write");
    assert!(
        matches!(Policy::load(dir.path()), Err(PolicyError::Unreadable { path, .. }) if path.ends_with("bad.toml"))
    );
}
