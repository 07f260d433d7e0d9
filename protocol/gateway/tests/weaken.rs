//! Each gateway defence is necessary: the full hub or UI server refuses an attack that the one
//! built without that check lets through (`cargo test -p protocol-gateway --features weaken`).

use std::time::Duration;

use protocol_core::Owner;
use protocol_gateway::assertion::{self, Assertion, HubKey};
use protocol_gateway::checks::{GatewayCheck, GatewayDefences};
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::{HttpRequest, Method, send};
use protocol_gateway::limits::RateLimit;
use protocol_people::ops::Level;
use serde_json::json;

use crate::common::{Options, World, password};

fn without(check: GatewayCheck) -> GatewayDefences {
    GatewayDefences::all().without(check)
}

/// The status a cross-site keep-alive gets: cookie only, no CSRF token, a foreign origin.
async fn forged_post(hub: GatewayDefences) -> u16 {
    let w = World::start(Options {
        hub_defences: hub,
        ..Options::default()
    })
    .await;
    let c = w.login("jacintar").await;
    let token = c.session_cookie().expect("cookie");
    let req = HttpRequest::new(Method::POST, "/o/atmosphere_stage/keepalive")
        .header("cookie", format!("tc_session={token}"))
        .header("origin", "http://evil.example");
    let status = send(w.addr(), None, &req, Duration::from_secs(5))
        .await
        .expect("answer")
        .status;
    w.stop().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_needs_both_the_token_and_the_origin_check() {
    assert_eq!(forged_post(GatewayDefences::all()).await, 403);
    assert_eq!(
        forged_post(without(GatewayCheck::CsrfToken).without(GatewayCheck::OriginCheck)).await,
        204,
        "the weakened hub acts on a cross-site request"
    );
    assert_eq!(
        forged_post(without(GatewayCheck::CsrfToken)).await,
        403,
        "the origin check alone still stops it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_login_header_a_cross_site_form_logs_in() {
    for (defences, expected) in [(GatewayDefences::all(), 403), (without(GatewayCheck::LoginHeader), 200)] {
        let w = World::start(Options {
            hub_defences: defences,
            ..Options::default()
        })
        .await;
        let form = HttpRequest::new(Method::POST, "/login")
            .json(json!({ "user": "mallory", "password": password("mallory") }).to_string());
        assert_eq!(
            send(w.addr(), None, &form, Duration::from_secs(5))
                .await
                .expect("answer")
                .status,
            expected
        );
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_rate_limits_and_blocks_a_source_is_never_stopped() {
    for (defences, limited) in [
        (GatewayDefences::all(), true),
        (without(GatewayCheck::RateLimit), false),
    ] {
        let w = World::start(Options {
            hub_defences: defences,
            requests: RateLimit::per_second(2, 1),
            ..Options::default()
        })
        .await;
        let mut c = w.client_from("127.0.0.6");
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(c.get("/me").await.expect("get").status);
        }
        assert_eq!(statuses.contains(&429), limited, "{statuses:?}");
        w.stop().await;
    }
    let w = World::start(Options {
        hub_defences: without(GatewayCheck::SourceBlock),
        operators: vec!["oceans_stage"],
        ..Options::default()
    })
    .await;
    let mut op = w.login("oceans_stage").await;
    op.elevate(&password("oceans_stage"), "execute").await.expect("elevate");
    op.post("/operator/block", &json!({ "source": "127.0.0.7" }))
        .await
        .expect("block");
    let mut blocked = w.client_from("127.0.0.7");
    assert_eq!(
        blocked
            .login("mallory", &password("mallory"))
            .await
            .expect("login")
            .status,
        200
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_assertion_checks_a_ui_server_believes_anyone() {
    let forged_key = HubKey::from_bytes([0xee; 32]);
    for (check, expect_write) in [(None, false), (Some(GatewayCheck::AssertionMac), true)] {
        let ui_defences = check.map_or_else(GatewayDefences::all, without);
        let w = World::start(Options {
            ui_defences,
            ..Options::default()
        })
        .await;
        // Spawn atmosphere_stage's UI server through the hub, then find it through the operator view.
        let mut c = w.login("jacintar").await;
        assert_eq!(c.get("/o/atmosphere_stage/workflows").await.expect("list").status, 200);
        let ui = w
            .log_lines()
            .iter()
            .find_map(|l| {
                l.split(" at ")
                    .nth(1)
                    .filter(|_| l.contains("spawned atmosphere_stage"))
                    .map(str::to_owned)
            })
            .expect("address in the log");
        let addr = ui.parse().expect("addr");
        let now = w.clock().now();
        let claim = Assertion {
            user: Owner::new("mallory").expect("owner"),
            level: Level::Write,
            session: 9,
            operator: true,
            at: now,
            nonce: [1; 16],
        };
        let header = assertion::sign(&forged_key, &claim, "GET", "/workflows", b"");
        let req = HttpRequest::new(Method::GET, "/workflows").header(assertion::HEADER, header);
        let r = send(addr, None, &req, Duration::from_secs(5)).await.expect("answer");
        assert_eq!(r.status == 200, expect_write, "{check:?}: {}", r.text());
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_freshness_and_replay_checks_a_captured_assertion_works_again_later() {
    use protocol_core::time::Millis;
    use testkit::ManualClock;

    use crate::uiserver::{assertion as claim, get, server};
    let key = HubKey::from_bytes([5; 32]);
    for (defences, replay_ok) in [
        (GatewayDefences::all(), false),
        (
            without(GatewayCheck::AssertionReplay).without(GatewayCheck::AssertionFreshness),
            true,
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = ManualClock::new(Millis(1_795_341_600_000));
        let ui = server(dir.path(), &clock, &key, defences).await;
        let captured = assertion::sign(
            &key,
            &claim("jacintar", Level::Read, clock.now(), 1),
            "GET",
            "/workflows",
            b"",
        );
        assert_eq!(get(ui.address(), Some(captured.clone())).await.status, 200);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(get(ui.address(), Some(captured)).await.status == 200, replay_ok);
        ui.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_url_check_a_token_in_a_query_string_is_served() {
    for (defences, expected) in [(GatewayDefences::all(), 400), (without(GatewayCheck::TokenInUrl), 200)] {
        let w = World::start(Options {
            hub_defences: defences,
            ..Options::default()
        })
        .await;
        let mut c = w.login("jacintar").await;
        let token = c.session_cookie().expect("cookie");
        assert_eq!(
            c.get(&format!("/me?token={token}")).await.expect("get").status,
            expected
        );
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_configured_owner_check_any_account_name_gets_a_ui_server() {
    for (defences, spawned) in [(GatewayDefences::all(), 0), (without(GatewayCheck::ConfiguredOwner), 1)] {
        let w = World::start(Options {
            hub_defences: defences,
            ..Options::default()
        })
        .await;
        let mut c = w.login("mallory").await;
        assert_eq!(c.get("/o/root/workflows").await.expect("list").status, 200);
        // Names that are not account names are refused either way.
        assert_eq!(c.get("/o/..%2Froot/workflows").await.expect("list").status, 404);
        assert_eq!(w.spawned(), spawned);
        w.stop().await;
    }
}

/// A launcher whose UI servers never answer: each instance's address had its listener closed.
#[derive(Debug)]
struct Dead;

#[derive(Debug)]
struct DeadUi(std::net::SocketAddr);

impl protocol_gateway::spawner::UiInstance for DeadUi {
    fn address(&self) -> std::net::SocketAddr {
        self.0
    }
    fn client_key(&self) -> protocol_core::PublicKey {
        protocol_core::StaticKeypair::generate_from_os().public()
    }
    fn pid(&self) -> Option<u32> {
        None
    }
    fn has_exited(&mut self) -> bool {
        false
    }
    fn stop(self: Box<Self>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async {})
    }
}

impl protocol_gateway::spawner::UiLauncher for Dead {
    fn launch(&self, _owner: Owner, _key: HubKey) -> protocol_gateway::spawner::LaunchFuture {
        Box::pin(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            drop(listener);
            Ok(Box::new(DeadUi(addr)) as Box<dyn protocol_gateway::spawner::UiInstance>)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uniform_errors_a_proxy_failure_tells_the_ui_servers_address() {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use protocol_core::time::Millis;
    use protocol_gateway::logging::NoLog;
    use protocol_gateway::{Hub, HubParts, HubSettings};
    use protocol_people::PeopleDefences;
    use protocol_people::audit::{AuditKey, MemoryLog};
    use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb};
    use testkit::ManualClock;

    use crate::common::{examples, owner};
    for (defences, leaks) in [
        (GatewayDefences::all(), false),
        (without(GatewayCheck::UniformErrors), true),
    ] {
        let users = UserDb::load(&examples().join("users.toml")).expect("users");
        let sessions = SessionManager::new(
            users,
            SessionConfig {
                hash_params: HashParams::FAST_INSECURE,
                ..SessionConfig::default()
            },
        )
        .expect("sessions");
        let hub = Hub::start(HubParts {
            sessions,
            audience: Audience::new("test-hub").expect("audience"),
            audit: Box::new(MemoryLog::new(AuditKey::from_bytes([7; 32]), PeopleDefences::all())),
            launcher: Arc::new(Dead),
            owners: BTreeSet::from([owner("atmosphere_stage")]),
            operators: BTreeSet::new(),
            runs: None,
            scan: None,
            clock: Arc::new(ManualClock::new(Millis::now())),
            log: Arc::new(NoLog),
            settings: HubSettings {
                defences,
                ..HubSettings::default()
            },
        })
        .await
        .expect("hub");
        let mut c = protocol_gateway::http::client::HubClient::new(hub.address());
        assert_eq!(
            c.login("mallory", &password("mallory")).await.expect("login").status,
            200
        );
        let r = c.get("/o/atmosphere_stage/workflows").await.expect("list");
        assert_eq!(r.status, 503);
        assert_eq!(r.text().contains("127.0.0.1:"), leaks, "{}", r.text());
        if !leaks {
            assert_eq!(r.text(), "{\"error\":\"unavailable\"}");
        }
        hub.shutdown().await;
    }
}
