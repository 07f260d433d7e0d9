//! The hub under hostile load: password checks on a bounded pool that sheds what it cannot
//! queue (`password-pool`), and back-off per account and per session that never locks the
//! owner out (`account-backoff`), and connection limits that drop what holds a server
//! open without asking anything of it (`connection-limits`).

use std::net::SocketAddr;
use std::time::Duration;

use protocol_gateway::backoff::BackoffPolicy;
use protocol_gateway::conns::ConnLimits;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
use protocol_people::session::HashParams;
use testkit::{GatewayOptions, GatewayWorld};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::password;

fn world_options() -> GatewayOptions {
    GatewayOptions {
        backoff: BackoffPolicy::default(),
        ..GatewayOptions::default()
    }
}

async fn start(o: GatewayOptions) -> GatewayWorld {
    GatewayWorld::start(o).await.expect("the world starts")
}

fn from(w: &GatewayWorld, ip: &str) -> HubClient {
    w.client_from(ip).expect("a loopback address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_one_account_from_many_addresses_back_off_but_its_owner_logs_in_from_a_known_address() {
    let w = start(world_options()).await;
    let mut owner = from(&w, "127.0.0.5");
    assert_eq!(
        owner
            .login("jacintar", &password("jacintar"))
            .await
            .expect("login")
            .status,
        200
    );
    // Six guesses from six addresses: each address is far under its own limit.
    for n in 0..6 {
        let mut guesser = from(&w, &format!("127.0.1.{n}"));
        let r = guesser.login("jacintar", "guess").await.expect("login");
        assert_eq!((r.status, r.text().as_str()), (401, "{\"error\":\"login-failed\"}"));
    }
    // The seventh attempt, even with the right password, is not checked until the wait is over.
    let mut lucky = from(&w, "127.0.1.99");
    let r = lucky.login("jacintar", &password("jacintar")).await.expect("login");
    assert_eq!((r.status, r.text().as_str()), (429, "{\"error\":\"rate-limited\"}"));
    assert_eq!(r.headers.get("retry-after").map(|v| v.as_bytes()), Some(&b"1"[..]));
    // Another account is not affected, and the owner's known address is exempt.
    let mut other = from(&w, "127.0.1.98");
    assert_eq!(
        other
            .login("mallory", &password("mallory"))
            .await
            .expect("login")
            .status,
        200
    );
    let mut again = from(&w, "127.0.0.5");
    assert_eq!(
        again
            .login("jacintar", &password("jacintar"))
            .await
            .expect("login")
            .status,
        200
    );
    let hub = w.audit_lines("hub");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("Defender raised an alert: 6 account-backoff from account:jacintar within 3600s")),
        "{hub:?}"
    );
    // A back-off, not a lock: after the wait the right password works from anywhere.
    w.advance(Duration::from_secs(2));
    let r = lucky.login("jacintar", &password("jacintar")).await.expect("login");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_elevation_passwords_back_off_that_session_only() {
    let w = start(world_options()).await;
    let mut stolen = w.login("jacintar").await.expect("login");
    for _ in 0..6 {
        let r = stolen.elevate("guess", "execute").await.expect("elevate");
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = stolen.elevate(&password("jacintar"), "execute").await.expect("elevate");
    assert_eq!((r.status, r.text().as_str()), (429, "{\"error\":\"rate-limited\"}"));
    // The owner's own new session elevates at once.
    let mut own = w.login("jacintar").await.expect("login");
    let r = own.elevate(&password("jacintar"), "execute").await.expect("elevate");
    assert_eq!(r.status, 200, "{}", r.text());
    let hub = w.audit_lines("hub");
    assert!(
        hub.iter()
            .any(|l| l.contains("6 account-backoff from session:") && l.contains(":jacintar within 3600s")),
        "{hub:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beyond_the_password_queue_are_refused_at_once_and_other_requests_are_served() {
    let w = start(GatewayOptions {
        // Production-cost hashes, one worker and one queued check.
        hash_params: HashParams::PRODUCTION,
        password_pool: (1, 1),
        ..GatewayOptions::default()
    })
    .await;
    let mut reader = w.login("mallory").await.expect("login");
    let mut flood = Vec::new();
    for n in 0..12 {
        let mut c = from(&w, &format!("127.0.2.{n}"));
        flood.push(tokio::spawn(async move { c.login("jacintar", "guess").await }));
    }
    let me = reader.get("/me").await.expect("me");
    assert_eq!(me.status, 200, "{}", me.text());
    let mut answers = Vec::new();
    for f in flood {
        let r = f.await.expect("task").expect("answer");
        let retry = r
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        answers.push((r.status, r.text(), retry));
    }
    let busy = answers
        .iter()
        .filter(|a| *a == &(503, "{\"error\":\"busy\"}".to_owned(), Some("1".to_owned())))
        .count();
    let failed = answers
        .iter()
        .filter(|(s, t, _)| *s == 401 && t == "{\"error\":\"login-failed\"}")
        .count();
    assert!(busy >= 1, "{answers:?}");
    assert_eq!(busy + failed, 12, "{answers:?}");
    // Every check that ran was recorded; the refused ones cost no hash and no record.
    let recorded = w
        .audit_lines("hub")
        .iter()
        .filter(|l| l.contains("User jacintar from 127.0.2.") && l.contains(" failed to log in"))
        .count();
    assert_eq!(recorded, failed, "{:?}", w.audit_lines("hub"));
}

fn tight(header_timeout: Duration, per_source: usize) -> GatewayOptions {
    GatewayOptions {
        connections: ConnLimits {
            header_timeout,
            max_per_source: per_source,
            ..ConnLimits::HUB
        },
        ..GatewayOptions::default()
    }
}

/// A connection from `ip` that has sent `bytes` and nothing more.
async fn silent(w: &GatewayWorld, ip: &str, bytes: &[u8]) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(ip.parse().expect("address"), 0))
        .expect("bind");
    let mut s = socket.connect(w.addr()).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    s
}

/// Whether the server closes `s` within `limit` (reads end or fail).
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_that_never_ends_is_cut_at_the_header_timeout() {
    let w = start(tight(Duration::from_millis(300), 32)).await;
    let mut slow = silent(&w, "127.0.4.1", b"GET /me HTTP/1.1\r\nHost: hub\r\nX-Slow: a").await;
    assert!(closed_within(&mut slow, Duration::from_secs(10)).await);
    let mut op = w.elevated("oceans_stage", "execute").await.expect("operator");
    let status = op.get("/operator/status").await.expect("status").json();
    assert!(status["connections"]["header_timeouts"].as_u64() >= Some(1), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_at_its_connection_cap_loses_its_oldest_idle_connection_and_its_new_request_is_served() {
    let w = start(tight(Duration::from_secs(60), 3)).await;
    let mut first = silent(&w, "127.0.4.2", b"").await;
    let _second = silent(&w, "127.0.4.2", b"").await;
    let _third = silent(&w, "127.0.4.2", b"").await;
    // Another source is not touched.
    let mut bystander = silent(&w, "127.0.4.3", b"").await;
    let mut c = from(&w, "127.0.4.2");
    let r = c.login("mallory", &password("mallory")).await.expect("login");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(closed_within(&mut first, Duration::from_secs(5)).await);
    assert!(!closed_within(&mut bystander, Duration::from_millis(200)).await);
    let mut op = w.elevated("oceans_stage", "execute").await.expect("operator");
    let status = op.get("/operator/status").await.expect("status").json();
    assert!(status["connections"]["evicted"].as_u64() >= Some(1), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_with_nothing_in_flight_is_closed_after_the_idle_timeout() {
    let w = start(GatewayOptions::default()).await;
    let mut idle = silent(&w, "127.0.4.4", b"").await;
    assert!(!closed_within(&mut idle, Duration::from_millis(700)).await);
    w.advance(ConnLimits::HUB.idle_timeout);
    assert!(closed_within(&mut idle, Duration::from_secs(5)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_refusals_are_recorded_at_a_bounded_rate_and_beyond_it_refused_with_one_alert() {
    let w = start(GatewayOptions {
        refusals: RateLimit {
            burst: 3,
            per_minute: 3,
        },
        ..GatewayOptions::default()
    })
    .await;
    let mut mallory = w.login("mallory").await.expect("login");
    let big = "x".repeat(8 * 1024);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = mallory
            .post("/operator/block", &serde_json::json!({ "source": big }))
            .await
            .expect("answer");
        statuses.push(r.status);
    }
    assert_eq!(statuses, [403, 403, 403, 429, 429, 429]);
    let hub = w.audit_lines("hub");
    let refused = hub
        .iter()
        .filter(|l| l.contains("User mallory was denied block-source"))
        .count();
    assert_eq!(refused, 3, "{hub:?}");
    let alerts: Vec<_> = hub
        .iter()
        .filter(|l| l.contains("Defender raised an alert: 1 audit-rate-limited from user:mallory"))
        .collect();
    assert_eq!(alerts.len(), 1, "{hub:?}");
    // Someone else's refusals are their own.
    let mut jacintar = w.login("jacintar").await.expect("login");
    let r = jacintar
        .post("/operator/block", &serde_json::json!({ "source": "127.0.0.9" }))
        .await
        .expect("answer");
    assert_eq!(r.status, 403);
    // The bucket refills: a minute later one more refusal is recorded.
    w.advance(Duration::from_secs(20));
    let r = mallory
        .post("/operator/block", &serde_json::json!({ "source": "127.0.0.9" }))
        .await
        .expect("answer");
    assert_eq!(r.status, 403);
    let mut op = w.elevated("oceans_stage", "execute").await.expect("operator");
    let status = op.get("/operator/status").await.expect("status").json();
    assert_eq!(status["audit_rate_limited"], 3, "{status}");
}
