//! Verification across machines: `verify --shard K/N` runs a deterministic 1/N of the work and
//! `report --merge` joins the shards into what one run would have written.
//!
//! The work is a list of **units**, each run on its own (a fresh model, fresh targets): every
//! proof (`proof:channel`), every variant search with its replay on the real implementation
//! (`variant:fresh-sequence`), every harness with its controls (`harness:s01-…`), in the order
//! a single run reports them. Unit *i* of that list belongs to shard `i mod N + 1`. A shard's
//! `results.json` records which units it ran and a fingerprint of its inputs (the tool, the
//! threat model, the date acceptances are judged by, the lint findings, the bounds and the unit
//! list); [`merge`] refuses shards whose fingerprints differ, a missing or repeated shard, or a
//! unit run by the wrong shard, and otherwise puts every unit's evidence back in single-run
//! order — so the merged reports are byte-identical to a single run's except for timings.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::evidence::Evidence;
use crate::results::Results;

/// The most shards a run can be split into.
pub const MAX_SHARDS: u32 = 64;

/// `K/N`: the K-th of N shards (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardSpec {
    /// Which shard (1..=count).
    pub index: u32,
    /// How many.
    pub count: u32,
}

/// A `--shard` value that is not `K/N` with `1 ≤ K ≤ N ≤ 64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a shard: expected K/N with 1 <= K <= N <= {MAX_SHARDS}")]
pub struct BadShard(pub String);

impl FromStr for ShardSpec {
    type Err = BadShard;

    fn from_str(s: &str) -> Result<Self, BadShard> {
        let bad = || BadShard(s.to_owned());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.parse().map_err(|_| bad())?;
        let count: u32 = n.parse().map_err(|_| bad())?;
        if index == 0 || index > count || count > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ShardSpec {
    /// Whether unit number `i` (0-based, in [`units`] order) is this shard's.
    #[must_use]
    pub const fn owns(&self, i: usize) -> bool {
        i % self.count as usize == (self.index - 1) as usize
    }

    /// The units of `all` that are this shard's, in order.
    #[must_use]
    pub fn select<'a>(&self, all: &'a [String]) -> Vec<&'a str> {
        all.iter()
            .enumerate()
            .filter(|(i, _)| self.owns(*i))
            .map(|(_, u)| u.as_str())
            .collect()
    }
}

/// The unit of a proof.
#[must_use]
pub fn proof_unit(name: &str) -> String {
    format!("proof:{name}")
}

/// The unit of a variant (its search and its replay).
#[must_use]
pub fn variant_unit(name: &str) -> String {
    format!("variant:{name}")
}

/// The unit of a harness (its real run and its controls).
#[must_use]
pub fn harness_unit(id: &str) -> String {
    format!("harness:{id}")
}

/// What a shard's `results.json` says about the shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    /// Which shard.
    pub shard: ShardSpec,
    /// Every unit of the whole run, in single-run order.
    pub units: Vec<String>,
    /// The fingerprint of the inputs (hex SHA-256), equal in every shard of one run.
    pub inputs: String,
}

impl ShardInfo {
    /// The shard's description for `results`: `units` is the whole run's unit list and
    /// `bounds` names the bounds the proofs ran with (`quick` or `full`).
    #[must_use]
    pub fn new(shard: ShardSpec, units: Vec<String>, results: &Results, bounds: &str) -> Self {
        let inputs = fingerprint(results, &units, bounds, shard.count);
        Self { shard, units, inputs }
    }
}

/// The fingerprint of everything that must be equal across the shards of one run.
fn fingerprint(r: &Results, units: &[String], bounds: &str, count: u32) -> String {
    let mut h = Sha256::new();
    let mut part = |label: &str, bytes: &[u8]| {
        h.update(label.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part("schema", r.schema.as_bytes());
    part("tool", serde_json::to_vec(&r.tool).unwrap_or_default().as_slice());
    part("as-of", r.as_of.to_string().as_bytes());
    part("model", serde_json::to_vec(&r.model).unwrap_or_default().as_slice());
    part("lint", serde_json::to_vec(&r.lint).unwrap_or_default().as_slice());
    part("bounds", bounds.as_bytes());
    part("count", &count.to_be_bytes());
    for u in units {
        part("unit", u.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Why shards could not be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no shard results were given")]
    Empty,
    /// A file is a whole run, not a shard.
    #[error("result {index} is not a shard (it has no shard section)")]
    NotAShard {
        /// Its position among the inputs (1-based).
        index: usize,
    },
    /// The shards come from different runs or inputs.
    #[error("shard {shard} was made from different inputs than shard {first} (fingerprints {found} and {expected})")]
    DifferentInputs {
        /// The first shard.
        first: ShardSpec,
        /// The differing one.
        shard: ShardSpec,
        /// Its fingerprint.
        found: String,
        /// The first one's.
        expected: String,
    },
    /// A shard is given twice.
    #[error("shard {0} is given more than once")]
    Repeated(ShardSpec),
    /// A shard is missing.
    #[error("shard {index}/{count} is missing")]
    Missing {
        /// Which.
        index: u32,
        /// Of how many.
        count: u32,
    },
    /// A shard carries evidence of a unit that is not its own (or of no unit).
    #[error("shard {shard} carries evidence of {unit}, which is not its unit")]
    ForeignUnit {
        /// The shard.
        shard: ShardSpec,
        /// The unit.
        unit: String,
    },
}

/// The unit an evidence item belongs to.
fn units_of(e: &Evidence) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        e.properties.iter().map(|p| proof_unit(&p.proof)).collect(),
        e.variants.iter().map(|v| variant_unit(&v.name)).collect(),
        e.harnesses.iter().map(|h| harness_unit(&h.id)).collect(),
    )
}

/// Joins the shards of one run into the results a single run would have given.
///
/// # Errors
/// [`MergeError`]: no input, an input that is not a shard, different fingerprints, a missing
/// or repeated shard, or evidence of a unit the shard does not own.
pub fn merge(shards: &[Results]) -> Result<Results, MergeError> {
    let first = shards.first().ok_or(MergeError::Empty)?;
    let info = first.shard.as_ref().ok_or(MergeError::NotAShard { index: 1 })?;
    let mut by_index: BTreeMap<u32, &Results> = BTreeMap::new();
    for (n, r) in shards.iter().enumerate() {
        let s = r.shard.as_ref().ok_or(MergeError::NotAShard { index: n + 1 })?;
        if s.inputs != info.inputs || s.units != info.units || s.shard.count != info.shard.count {
            return Err(MergeError::DifferentInputs {
                first: info.shard,
                shard: s.shard,
                found: s.inputs.clone(),
                expected: info.inputs.clone(),
            });
        }
        if by_index.insert(s.shard.index, r).is_some() {
            return Err(MergeError::Repeated(s.shard));
        }
    }
    let count = info.shard.count;
    if let Some(index) = (1..=count).find(|i| !by_index.contains_key(i)) {
        return Err(MergeError::Missing { index, count });
    }
    // Every item must belong to one of its shard's own units.
    for r in by_index.values() {
        let Some(s) = r.shard.as_ref() else { continue };
        let own = s.shard.select(&s.units);
        let (p, v, h) = units_of(&r.evidence);
        if let Some(unit) = p.iter().chain(&v).chain(&h).find(|u| !own.contains(&u.as_str())) {
            return Err(MergeError::ForeignUnit {
                shard: s.shard,
                unit: unit.clone(),
            });
        }
    }
    let mut evidence = Evidence::default();
    for (i, unit) in info.units.iter().enumerate() {
        let owner_index = u32::try_from(i % count as usize).unwrap_or(0) + 1;
        let Some(owner) = by_index.get(&owner_index) else {
            continue;
        };
        let e = &owner.evidence;
        evidence
            .properties
            .extend(e.properties.iter().filter(|x| proof_unit(&x.proof) == *unit).cloned());
        evidence
            .variants
            .extend(e.variants.iter().filter(|x| variant_unit(&x.name) == *unit).cloned());
        evidence
            .harnesses
            .extend(e.harnesses.iter().filter(|x| harness_unit(&x.id) == *unit).cloned());
    }
    evidence.properties = crate::evidence::one_per_property(std::mem::take(&mut evidence.properties));
    Ok(Results::new(
        first.tool.clone(),
        first.as_of,
        first.model.clone(),
        evidence,
        first.lint.clone(),
    ))
}

/// The part of a whole run's `results` that shard `spec` would have produced, given the whole
/// run's `units`: for tests and for checking a merge against a single run.
#[must_use]
pub fn split(results: &Results, units: &[String], spec: ShardSpec, bounds: &str) -> Results {
    let own = spec.select(units);
    let mine = |u: String| own.contains(&u.as_str());
    let e = &results.evidence;
    let evidence = Evidence {
        properties: e
            .properties
            .iter()
            .filter(|p| mine(proof_unit(&p.proof)))
            .cloned()
            .collect(),
        variants: e
            .variants
            .iter()
            .filter(|v| mine(variant_unit(&v.name)))
            .cloned()
            .collect(),
        harnesses: e
            .harnesses
            .iter()
            .filter(|h| mine(harness_unit(&h.id)))
            .cloned()
            .collect(),
    };
    let mut shard = Results::new(
        results.tool.clone(),
        results.as_of,
        results.model.clone(),
        evidence,
        results.lint.clone(),
    );
    shard.shard = Some(ShardInfo::new(spec, units.to_vec(), &shard, bounds));
    shard
}

/// The units of a whole run's `results`, in single-run order (proofs in the order their
/// properties appear, then variants, then harnesses).
#[must_use]
pub fn units_in(results: &Results) -> Vec<String> {
    let (p, v, h) = units_of(&results.evidence);
    let mut units: Vec<String> = Vec::new();
    for u in p.into_iter().chain(v).chain(h) {
        if !units.contains(&u) {
            units.push(u);
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_only_in_range() {
        assert_eq!("2/3".parse(), Ok(ShardSpec { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "1/0", "1/65", "1", "a/b", "1/2/3", ""] {
            assert_eq!(bad.parse::<ShardSpec>(), Err(BadShard(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn the_shards_of_a_run_partition_its_units() {
        let units: Vec<String> = (0..23).map(|i| format!("harness:h{i:02}")).collect();
        for count in 1..=6 {
            let mut seen: Vec<&str> = Vec::new();
            for index in 1..=count {
                seen.extend(ShardSpec { index, count }.select(&units));
            }
            seen.sort_unstable();
            let all: Vec<&str> = units.iter().map(String::as_str).collect();
            assert_eq!(seen, all, "{count} shards");
        }
    }
}
