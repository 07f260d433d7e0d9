//! `verify --shard K/N` and `report --merge`: the shards of the committed run, merged in any
//! order, render byte for byte the reports the single run wrote; shards of different inputs,
//! missing, repeated or foreign shards are refused.

use std::path::PathBuf;

use threats::report::{RenderOptions, render_all};
use threats::results::Results;
use threats::shard::{MergeError, ShardSpec, merge, split, units_in};

fn committed() -> Results {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../reports/results.json");
    Results::read(&path).expect("the committed reports/results.json reads")
}

fn shards(full: &Results, count: u32) -> Vec<Results> {
    let units = units_in(full);
    (1..=count)
        .map(|index| split(full, &units, ShardSpec { index, count }, "full"))
        .collect()
}

#[test]
fn the_committed_run_split_into_shards_and_merged_in_any_order_renders_the_same_six_reports() {
    let full = committed();
    let expected = render_all(&full, RenderOptions::stable()).expect("renders");
    for count in [1, 2, 3, 5] {
        let mut parts = shards(&full, count);
        parts.reverse();
        let merged = merge(&parts).expect("the shards merge");
        assert!(merged.shard.is_none());
        let got = render_all(&merged, RenderOptions::stable()).expect("renders");
        for ((name, a), (_, b)) in expected.iter().zip(&got) {
            assert!(a == b, "{name} differs after merging {count} shards");
        }
    }
}

#[test]
fn every_unit_of_the_committed_run_has_evidence_in_exactly_one_shard() {
    let full = committed();
    let parts = shards(&full, 3);
    let total = |f: fn(&Results) -> usize| parts.iter().map(f).sum::<usize>();
    assert_eq!(total(|r| r.evidence.properties.len()), full.evidence.properties.len());
    assert_eq!(total(|r| r.evidence.variants.len()), full.evidence.variants.len());
    assert_eq!(total(|r| r.evidence.harnesses.len()), full.evidence.harnesses.len());
    assert!(
        parts.iter().all(|p| !p.evidence.harnesses.is_empty()),
        "3 shards share the harnesses"
    );
}

#[test]
fn a_shard_survives_its_results_json_and_a_whole_run_is_not_a_shard() {
    let full = committed();
    let part = shards(&full, 2).remove(1);
    let again = Results::from_json(&part.to_json().expect("json")).expect("reads back");
    assert_eq!(again.shard, part.shard);
    assert_eq!(
        merge(std::slice::from_ref(&full)),
        Err(MergeError::NotAShard { index: 1 })
    );
    assert_eq!(merge(&[]), Err(MergeError::Empty));
}

#[test]
fn shards_of_different_inputs_a_missing_or_repeated_shard_and_a_foreign_unit_are_refused() {
    let full = committed();
    let parts = shards(&full, 3);
    assert_eq!(merge(&parts[..2]), Err(MergeError::Missing { index: 3, count: 3 }));
    let repeated = vec![parts[0].clone(), parts[1].clone(), parts[1].clone()];
    assert_eq!(
        merge(&repeated),
        Err(MergeError::Repeated(ShardSpec { index: 2, count: 3 }))
    );
    // A shard judged as of another date has other inputs.
    let mut later = full.clone();
    later.as_of = "2027-01-01".parse().expect("date");
    let units = units_in(&full);
    let other = split(&later, &units, ShardSpec { index: 3, count: 3 }, "full");
    let mixed = vec![parts[0].clone(), parts[1].clone(), other];
    assert!(matches!(merge(&mixed), Err(MergeError::DifferentInputs { .. })));
    // So has one whose proofs ran within other bounds.
    let quick = split(&full, &units, ShardSpec { index: 3, count: 3 }, "quick");
    assert!(matches!(
        merge(&[parts[0].clone(), parts[1].clone(), quick]),
        Err(MergeError::DifferentInputs { .. })
    ));
    // A harness result moved into a shard that does not own it.
    let mut foreign = parts[0].clone();
    foreign.evidence.harnesses.push(parts[1].evidence.harnesses[0].clone());
    assert!(matches!(
        merge(&[foreign, parts[1].clone(), parts[2].clone()]),
        Err(MergeError::ForeignUnit { .. })
    ));
}
