//! S09 — as an attacker I want to spawn a non-UI server (arbitrary code, not the UI server).
//!
//! The only thing a request contributes to spawning is the owner name in the URL. The
//! attacker puts path traversals, shell words, option-like names, unicode look-alikes,
//! over-long names and accounts the hub does not serve there, on every route that names an
//! owner. The launcher must never be called for anything but a configured owner, and no file
//! may appear for one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use protocol::Defence;
use protocol_core::Owner;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::spawner::{SpawnError, SpawnPolicy};
use serde_json::json;

use super::{code, get, post};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, OWNERS};
use crate::live::scan::files_under;

/// Owner-name injection into the spawner.
pub const SPAWNER_INJECTION: Harness = Harness {
    info: HarnessInfo {
        id: "s09-spawner-injection",
        story: "S09",
        target: "hub",
        title: "names owners with ../, ;, spaces, $(..), --options, unicode, 40 characters, and accounts the hub does not serve, on every route that spawns",
        defences: &[Defence::Gateway(GatewayCheck::ConfiguredOwner)],
        control: Control::WithoutEach,
        note: "any valid account name gets a UI server; the account-name rules of Owner stay",
    },
    run: |w| Box::pin(spawner_injection(w)),
};

/// Owner names as they appear in the URL (percent-encoded where a URL needs it).
const NAMES: [&str; 16] = [
    "..%2F..%2Ftmp",
    "%2E%2E",
    "atmosphere_stage%2F..%2Foceans_stage",
    "a%3Bid",
    "atmosphere_stage%20--policy%20%2Ftmp%2Fevil",
    "%24(id)",
    "%60id%60",
    "--policy=%2Ftmp%2Fevil",
    "-x",
    "%EF%BD%81tmosphere_stage",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Atmosphere_stage",
    "atmosphere_stage%00",
    "root",
    "nobody",
    "mallory",
];

async fn spawner_injection(w: Weakening) -> Result<Outcome, HarnessError> {
    let hub_defences = w.gateway();
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences,
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

/// `%XX` decoded, as the hub's router sees a path segment.
fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// What the real process launcher's policy (the configured program, its fixed arguments, then
/// `--owner OWNER`) makes of each name: (invalid, unserved, commands built).
fn policy_verdicts() -> Result<(usize, usize, Vec<String>), HarnessError> {
    let owners = OWNERS
        .iter()
        .map(|o| Owner::new(o).map_err(HarnessError::setup))
        .collect::<Result<_, _>>()?;
    let policy = SpawnPolicy::new("/usr/local/bin/threatcheck".into(), vec!["uiserver".into()], owners)
        .map_err(HarnessError::setup)?;
    let (mut invalid, mut unserved, mut built) = (0, 0, Vec::new());
    for name in NAMES {
        let name = String::from_utf8_lossy(&decode(name)).into_owned();
        match policy.command_for(&name) {
            Err(SpawnError::InvalidOwner) => invalid += 1,
            Err(_) => unserved += 1,
            Ok(c) => built.push(format!("{} {}", c.program.display(), c.args.join(" "))),
        }
    }
    Ok((invalid, unserved, built))
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let before: BTreeSet<PathBuf> = files_under(world.dir()).into_iter().collect();
    let mut c = world.login("mallory").await?;
    let mut codes: Vec<String> = Vec::new();
    let mut requests = 0;
    for name in NAMES {
        for r in [
            get(&mut c, &format!("/o/{name}/workflows")).await?,
            get(&mut c, &format!("/o/{name}/workflows/clouds")).await?,
            post(&mut c, &format!("/o/{name}/keepalive"), &json!({})).await?,
            post(&mut c, &format!("/o/{name}/workflows/clouds"), &json!({ "op": "play" })).await?,
        ] {
            requests += 1;
            let c = code(&r);
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
    }
    let launches = world.launches();
    // What only configured-owner stops: a valid account name the hub does not serve (the
    // account-name rules refuse the others) for which the launcher was never called.
    let unserved_kept: u64 = NAMES
        .iter()
        .map(|n| String::from_utf8_lossy(&decode(n)).into_owned())
        .filter(|n| Owner::new(n).is_ok() && !OWNERS.contains(&n.as_str()))
        .filter(|n| !launches.contains(n))
        .count() as u64;
    let foreign: BTreeSet<&str> = launches
        .iter()
        .map(String::as_str)
        .filter(|o| !OWNERS.contains(o))
        .collect();
    let dir = world.dir();
    let new_files: Vec<String> = files_under(dir)
        .into_iter()
        .filter(|p| !before.contains(p))
        .filter_map(|p| p.strip_prefix(dir).ok().map(|p| p.display().to_string()))
        .filter(|p| !OWNERS.iter().any(|o| p.contains(o)))
        .collect();
    let mut breaches = Vec::new();
    if !foreign.is_empty() {
        breaches.push(format!(
            "the hub spawned UI servers for {}, which it does not serve",
            foreign.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !new_files.is_empty() {
        breaches.push(format!("files appeared for them: {}", new_files.join(", ")));
    }
    let (invalid, unserved, built) = policy_verdicts()?;
    if !built.is_empty() {
        breaches.push(format!("the process launcher's policy would run: {}", built.join("; ")));
    }
    codes.sort();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::ConfiguredOwner, unserved_kept),
        format!(
            "all {requests} requests naming {} injected or unserved owners were answered without a spawn ({}): the \
             launcher was called {} times, never for an owner outside {}, and no file appeared; the process launcher's \
             spawn policy refuses the same names ({invalid} not account names, {unserved} not served)",
            NAMES.len(),
            codes.join(", "),
            launches.len(),
            OWNERS.join(" and ")
        ),
    ))
}
