//! A UI server believes the hub's signed assertion and nothing else.

use std::sync::Arc;
use std::time::Duration;

use protocol_core::time::Millis;
use protocol_core::{Owner, StaticKeypair};
use protocol_gateway::assertion::{self, Assertion, HubKey};
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::{HttpRequest, Method, send};
use protocol_gateway::{UiServer, UiServerParts, UiSettings};
use protocol_people::audit::AuditKey;
use protocol_people::audit::MemoryLog as AuditMemory;
use protocol_people::authz::Authorizer;
use protocol_people::checks::PeopleDefences;
use protocol_people::groups::FileGroups;
use protocol_people::ops::Level;
use protocol_people::policy::Policy;
use testkit::ManualClock;
use testkit::MemoryLog;

use crate::common::examples;

pub fn assertion(user: &str, level: Level, at: Millis, nonce: u8) -> Assertion {
    Assertion {
        user: Owner::new(user).expect("owner"),
        level,
        session: 1,
        operator: false,
        at,
        nonce: [nonce; 16],
    }
}

/// A UI server for atmosphere_stage with no run directories, trusting `key`.
pub async fn server(dir: &std::path::Path, clock: &ManualClock, key: &HubKey, defences: GatewayDefences) -> UiServer {
    UiServer::start(UiServerParts {
        owner: Owner::new("atmosphere_stage").expect("owner"),
        authorizer: Authorizer::from_load(Policy::load(&examples().join("policy"))),
        groups: Arc::new(FileGroups::load(&examples().join("groups.toml")).expect("groups")),
        audit: Box::new(AuditMemory::new(AuditKey::from_bytes([1; 32]), PeopleDefences::all())),
        runs: dir.to_owned(),
        hub_key: key.clone(),
        keypair: StaticKeypair::generate_from_os(),
        clock: Arc::new(clock.clone()),
        log: Arc::new(MemoryLog::new()),
        settings: UiSettings {
            defences,
            ..UiSettings::default()
        },
    })
    .await
    .expect("start")
}

/// `GET /workflows` with an assertion header, if any.
pub async fn get(addr: std::net::SocketAddr, header: Option<String>) -> protocol_gateway::http::client::HttpResponse {
    let mut r = HttpRequest::new(Method::GET, "/workflows");
    if let Some(h) = header {
        r = r.header(assertion::HEADER, h);
    }
    send(addr, None, &r, Duration::from_secs(5)).await.expect("answer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_fresh_unreplayed_assertion_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let clock = ManualClock::new(Millis(1_795_341_600_000));
    let key = HubKey::from_bytes([5; 32]);
    let server = server(dir.path(), &clock, &key, GatewayDefences::all()).await;
    let addr = server.address();
    let now = clock.now();
    let good = assertion::sign(
        &key,
        &assertion("jacintar", Level::Read, now, 1),
        "GET",
        "/workflows",
        b"",
    );
    let r = get(addr, Some(good.clone())).await;
    assert_eq!(
        (r.status, r.text()),
        (200, "{\"owner\":\"atmosphere_stage\",\"workflows\":[]}".to_owned())
    );
    let forged = assertion::sign(
        &HubKey::from_bytes([6; 32]),
        &assertion("jacintar", Level::Write, now, 2),
        "GET",
        "/workflows",
        b"",
    );
    let stale = assertion::sign(
        &key,
        &assertion("jacintar", Level::Read, Millis(now.0 - 60_000), 3),
        "GET",
        "/workflows",
        b"",
    );
    let for_another_path = assertion::sign(
        &key,
        &assertion("jacintar", Level::Read, now, 4),
        "GET",
        "/keepalive",
        b"",
    );
    for (what, h) in [
        ("none", None),
        ("forged", Some(forged)),
        ("stale", Some(stale)),
        ("replayed", Some(good)),
        ("for another request", Some(for_another_path)),
        ("garbage", Some("v1 user=root".into())),
    ] {
        let r = get(addr, h).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (401, "{\"error\":\"unauthenticated\"}"),
            "{what}"
        );
    }
    server.shutdown().await;
}
