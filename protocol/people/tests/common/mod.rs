//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol_core::ids::{Owner, WorkflowId};
use protocol_core::time::Millis;
use protocol_people::groups::{FileGroups, GroupProvider, Person, WorkflowRef};
use protocol_people::names::GroupName;
use protocol_people::session::{Audience, HashParams, SessionConfig, UserDb};

/// The shipped examples.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The hub design notes' example policy directory.
pub fn example_policy() -> PathBuf {
    examples().join("policy")
}

/// The example groups.
pub fn example_groups() -> FileGroups {
    FileGroups::load(&examples().join("groups.toml")).expect("example groups load")
}

/// The example users.
pub fn example_users() -> UserDb {
    UserDb::load(&examples().join("users.toml")).expect("example users load")
}

/// The example password of a user.
pub fn password(user: &str) -> String {
    format!("{user}-example-password")
}

pub fn owner(s: &str) -> Owner {
    Owner::new(s).expect("valid owner")
}

pub fn group(s: &str) -> GroupName {
    GroupName::new(s).expect("valid group")
}

pub fn wid(s: &str) -> WorkflowId {
    s.parse().expect("valid workflow id")
}

/// A person with groups given by name.
pub fn person(name: &str, groups: &[&str]) -> Person {
    Person::new(owner(name), groups.iter().map(|g| group(g)).collect())
}

/// A workflow whose owner has no groups.
pub fn wf(s: &str) -> WorkflowRef {
    WorkflowRef::new(wid(s), BTreeSet::new())
}

/// A person as the example groups file sees them.
pub fn example_person(name: &str) -> Person {
    example_groups().person(&(&owner(name)).into()).expect("groups")
}

/// A workflow as the example groups file sees it.
pub fn example_wf(s: &str) -> WorkflowRef {
    example_groups().workflow(&wid(s)).expect("groups")
}

/// Fast hashing, short and distinct timeouts: idle 10 min, absolute 1 h, elevation 15 min.
pub fn fast_config() -> SessionConfig {
    SessionConfig {
        idle_timeout: Duration::from_secs(10 * 60),
        absolute_lifetime: Duration::from_secs(60 * 60),
        elevation_window: Duration::from_secs(15 * 60),
        hash_params: HashParams::FAST_INSECURE,
    }
}

pub fn audience(s: &str) -> Audience {
    Audience::new(s).expect("valid audience")
}

pub const T0: Millis = Millis(1_795_341_600_000);

pub fn at_secs(s: u64) -> Millis {
    T0.after(Duration::from_secs(s))
}

pub fn mins(m: u64) -> Millis {
    at_secs(m * 60)
}

/// A deterministic RNG for tests (SplitMix64): reproducible tokens and salts.
#[derive(Debug, Clone)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
}

impl rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for TestRng {}

/// Copies a directory tree (for tests that break a copy of the example policy).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).expect("copy");
        }
    }
}

/// Groups given directly.
pub fn groups_of(pairs: &[(&str, &[&str])]) -> FileGroups {
    let mut m: BTreeMap<Owner, BTreeSet<GroupName>> = BTreeMap::new();
    for (user, gs) in pairs {
        m.insert(owner(user), gs.iter().map(|g| group(g)).collect());
    }
    FileGroups::from_members(m)
}
