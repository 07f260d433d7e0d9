//! Defender controls (story S14) and rate limits (concern C06): counters per source,
//! thresholds that raise alerts into the audit log, and operator actions with immediate
//! effect.

use std::time::Duration;

use protocol_core::wire::{JobBody, JobMessage, Message, Reply};
use protocol_gateway::defender::Thresholds;
use protocol_gateway::http::client::HubClient;
use protocol_gateway::limits::RateLimit;
use protocol_gateway::rundir::RunDir;
use protocol_net::client::connect_to;
use protocol_net::framing::write_frame;
use serde_json::json;

use crate::common::{Options, World, eventually, password};

fn thresholds() -> Thresholds {
    Thresholds {
        window: Duration::from_secs(60),
        auth_failures: 3,
        denials: 1000,
        rejected_job_messages: 1,
        rate_limited: 2,
        audit_rate_limited: 1,
        auto_block: false,
        auto_block_for: Duration::from_secs(900),
    }
}

/// oceans_stage, an operator, elevated.
async fn operator(w: &World) -> HubClient {
    let mut op = w.login("oceans_stage").await;
    let r = op.elevate(&password("oceans_stage"), "execute").await.expect("elevate");
    assert_eq!(r.status, 200);
    op
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_source_raise_an_alert_and_an_operator_blocks_it_at_once() {
    let w = World::start(Options {
        thresholds: thresholds(),
        ..Options::default()
    })
    .await;
    let mut attacker = w.client_from("127.0.0.2");
    for _ in 0..3 {
        assert_eq!(attacker.login("jacintar", "guess").await.expect("login").status, 401);
    }
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("Defender raised an alert: 3 auth-failure from 127.0.0.2 within 60s")),
        "{hub:?}"
    );
    let mut op = operator(&w).await;
    let status = op.get("/operator/status").await.expect("status").json();
    let counted = status["counters"]
        .as_array()
        .expect("counters")
        .iter()
        .any(|c| c["source"] == "127.0.0.2" && c["signal"] == "auth-failure" && c["total"] == 3);
    assert!(counted, "{status}");
    let r = op
        .post("/operator/block", &json!({ "source": "127.0.0.2" }))
        .await
        .expect("block");
    assert_eq!(r.status, 200, "{}", r.text());
    let refused = attacker.login("jacintar", &password("jacintar")).await.expect("login");
    assert_eq!(
        (refused.status, refused.text().as_str()),
        (403, "{\"error\":\"blocked\"}")
    );
    let mut bystander = w.client_from("127.0.0.3");
    assert_eq!(
        bystander
            .login("mallory", &password("mallory"))
            .await
            .expect("login")
            .status,
        200
    );
    op.post("/operator/unblock", &json!({ "source": "127.0.0.2" }))
        .await
        .expect("unblock");
    assert_eq!(
        attacker
            .login("jacintar", &password("jacintar"))
            .await
            .expect("login")
            .status,
        200
    );
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("User oceans_stage blocked source 127.0.0.2"))
    );
    assert!(
        hub.iter()
            .any(|l| l.ends_with("User oceans_stage unblocked source 127.0.0.2"))
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_controls_need_an_elevated_operator_and_refusals_are_recorded() {
    let w = World::start(Options::default()).await;
    let mut jacintar = w.login("jacintar").await;
    jacintar
        .elevate(&password("jacintar"), "execute")
        .await
        .expect("elevate");
    let r = jacintar
        .post("/operator/block", &json!({ "source": "127.0.0.9" }))
        .await
        .expect("post");
    assert_eq!(r.status, 403, "an elevated non-operator");
    let mut lazy = w.login("oceans_stage").await;
    let r = lazy
        .post("/operator/block", &json!({ "source": "127.0.0.9" }))
        .await
        .expect("post");
    assert_eq!(r.status, 403, "an operator who has not re-authenticated");
    assert_eq!(lazy.get("/operator/status").await.expect("get").status, 403);
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("User jacintar was denied block-source on 127.0.0.9 (not-an-operator)")),
        "{hub:?}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_session_takes_effect_at_once() {
    let w = World::start(Options::default()).await;
    let mut mallory = w.login("mallory").await;
    let session = mallory.get("/me").await.expect("me").json()["session"]
        .as_u64()
        .expect("id");
    let mut op = operator(&w).await;
    let r = op
        .post("/operator/revoke-session", &json!({ "session": session }))
        .await
        .expect("revoke");
    assert_eq!((r.status, r.json()["revoked"].as_u64()), (200, Some(1)));
    assert_eq!(mallory.get("/me").await.expect("me").status, 401);
    let mut again = w.login("mallory").await;
    let r = op
        .post("/operator/revoke-session", &json!({ "user": "mallory" }))
        .await
        .expect("revoke");
    assert_eq!(r.json()["revoked"].as_u64(), Some(1));
    assert_eq!(again.get("/scan").await.expect("scan").status, 401);
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with(&format!("User oceans_stage revoked session s{session}")))
    );
    assert!(
        hub.iter()
            .any(|l| l.ends_with("User oceans_stage revoked every session of mallory"))
    );
    // A person who is not an operator trying either is recorded as asking for what they asked.
    let mut lazy = w.login("jacintar").await;
    for (body, line) in [
        (
            json!({ "session": session }),
            format!("User jacintar was denied revoke-session on s{session} (not-an-operator)"),
        ),
        (
            json!({ "user": "mallory" }),
            "User jacintar was denied revoke-user-sessions on mallory (not-an-operator)".to_owned(),
        ),
    ] {
        let r = lazy.post("/operator/revoke-session", &body).await.expect("post");
        assert_eq!(r.status, 403, "{}", r.text());
        let hub = w.audit_lines("hub.log");
        assert!(hub.iter().any(|l| l.ends_with(&line)), "{line}: {hub:?}");
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_job_key_and_a_client_key_reaches_the_scheduler_at_once() {
    let w = World::start(Options::default()).await;
    let clouds = w.workflow("clouds");
    let contact = RunDir::of(&w.runs(), &clouds.id)
        .read_contact()
        .expect("read")
        .expect("contact");
    let connect = |key| {
        connect_to(
            contact.address,
            &contact.scheduler_key,
            &clouds.id,
            key,
            Duration::from_secs(2),
        )
    };
    connect(&clouds.job_key).await.expect("the job can connect");
    let mut op = operator(&w).await;
    let r = op
        .post("/operator/revoke-job", &json!({ "job": clouds.job.to_string() }))
        .await
        .expect("revoke");
    assert_eq!(
        (r.status, r.json()["revoked"].as_bool()),
        (200, Some(true)),
        "{}",
        r.text()
    );
    let refused = connect(&clouds.job_key).await.err();
    assert!(
        matches!(refused, Some(protocol_net::framing::ConnError::Closed)),
        "a revoked job key gets no handshake answer, the connection is closed: {refused:?}"
    );

    // jacintar's command spawns atmosphere_stage's UI server and registers its key...
    let mut jacintar = w.login("jacintar").await;
    jacintar
        .elevate(&password("jacintar"), "execute")
        .await
        .expect("elevate");
    let hold = json!({ "op": "hold", "target": "1234/climb" });
    assert_eq!(
        jacintar
            .post("/o/atmosphere_stage/workflows/clouds", &hold)
            .await
            .expect("hold")
            .status,
        200
    );
    // ... and at winds' scheduler: the UI server publishes its key in every run directory of
    // the owner, but each scheduler registers it on its own next look, and only a command there
    // shows it has; without this the revocation below could find winds not yet registered.
    let winds = json!({ "op": "hold", "target": "1234/blow" });
    let r = jacintar
        .post("/o/atmosphere_stage/workflows/winds", &winds)
        .await
        .expect("hold");
    assert_eq!(r.status, 200, "{}", r.text());
    let key = op.get("/operator/status").await.expect("status").json()["uiservers"][0]["client_key"]
        .as_str()
        .expect("running")
        .to_owned();
    // ... which the operator revokes at every scheduler of the owner, stopping that server.
    let r = op
        .post("/operator/revoke-client", &json!({ "owner": "atmosphere_stage" }))
        .await
        .expect("revoke");
    assert_eq!(
        (r.status, r.json()["schedulers"].as_u64()),
        (200, Some(2)),
        "{}",
        r.text()
    );
    eventually("published", || {
        RunDir::of(&w.runs(), &clouds.id)
            .read_state()
            .ok()
            .flatten()
            .is_some_and(|s| s.revoked_clients.contains(&key))
    })
    .await;
    // The next request spawns a fresh UI server with a fresh key, which the scheduler accepts.
    let release = json!({ "op": "release", "target": "1234/climb" });
    let r = jacintar
        .post("/o/atmosphere_stage/workflows/clouds", &release)
        .await
        .expect("release");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.spawned(), 2);
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with(&format!("User oceans_stage revoked the job key of {}", clouds.job)))
    );
    assert!(
        hub.iter()
            .any(|l| l.ends_with(&format!("User oceans_stage revoked client key {key}")))
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_requests_get_429_with_retry_after_and_raise_an_alert() {
    let w = World::start(Options {
        requests: RateLimit::per_second(3, 1),
        thresholds: thresholds(),
        ..Options::default()
    })
    .await;
    let mut noisy = w.client_from("127.0.0.4");
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..5 {
        let r = noisy.get("/me").await.expect("get");
        statuses.push(r.status);
        if r.status == 429 {
            retry = r
                .headers
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            assert_eq!(r.text(), "{\"error\":\"rate-limited\"}");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(retry.as_deref(), Some("1"));
    let mut quiet = w.client_from("127.0.0.5");
    assert_eq!(
        quiet.get("/me").await.expect("get").status,
        401,
        "another source is not limited"
    );
    w.clock().advance(Duration::from_secs(1));
    assert_eq!(
        noisy.get("/me").await.expect("get").status,
        401,
        "a token is back after a second"
    );
    let hub = w.audit_lines("hub.log");
    assert!(
        hub.iter()
            .any(|l| l.ends_with("Defender raised an alert: 2 rate-limited from 127.0.0.4 within 60s")),
        "{hub:?}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_job_messages_at_a_scheduler_raise_an_alert() {
    let w = World::start(Options {
        thresholds: thresholds(),
        monitor_interval: Duration::from_millis(20),
        ..Options::default()
    })
    .await;
    let clouds = w.workflow("clouds");
    let contact = RunDir::of(&w.runs(), &clouds.id)
        .read_contact()
        .expect("read")
        .expect("contact");
    let (mut stream, mut reader, mut transport) = connect_to(
        contact.address,
        &contact.scheduler_key,
        &clouds.id,
        &clouds.job_key,
        Duration::from_secs(2),
    )
    .await
    .expect("connect");
    let forged = Message::Job(JobMessage {
        seq: 7,
        claim: clouds.job.clone(),
        body: JobBody::Started,
    });
    let mut sealed = Vec::new();
    transport.encrypt(&forged.to_bytes(), &mut sealed).expect("encrypt");
    write_frame(&mut stream, &sealed).await.expect("write");
    let frame = reader.read_frame(&mut stream).await.expect("reply");
    let mut plain = Vec::new();
    transport.decrypt(&frame, &mut plain).expect("decrypt");
    assert!(matches!(Reply::decode(&plain), Ok(Reply::Rejected { .. })));
    eventually("the alert", || {
        w.audit_lines("hub.log").iter().any(|l| {
            l.ends_with("Defender raised an alert: 1 rejected-job-message from ~atmosphere_stage/clouds within 60s")
        })
    })
    .await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_sources_refusals_are_not_counted_as_denials_and_anyone_elses_are() {
    let w = World::start(Options {
        thresholds: thresholds(),
        ..Options::default()
    })
    .await;
    let mut op = operator(&w).await;
    let r = op
        .post("/operator/block", &json!({ "source": "127.0.5.5" }))
        .await
        .expect("block");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut blocked = w.client_from("127.0.5.5");
    for _ in 0..2 {
        assert_eq!(blocked.get("/nope").await.expect("get").status, 403);
    }
    let mut other = w.client_from("127.0.5.6");
    assert_eq!(other.get("/nope").await.expect("get").status, 404);
    let status = op.get("/operator/status").await.expect("status").json();
    let denials = |source: &str| {
        status["counters"]
            .as_array()
            .expect("counters")
            .iter()
            .filter(|c| c["source"] == source && c["signal"] == "denial")
            .map(|c| c["total"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(denials("127.0.5.5"), 0, "{status}");
    assert_eq!(denials("127.0.5.6"), 1, "{status}");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_refused_requests_spend_a_persons_audit_rate() {
    let w = World::start(Options {
        refusals: RateLimit {
            burst: 2,
            per_minute: 1,
        },
        ..Options::default()
    })
    .await;
    let mut mallory = w.login("mallory").await;
    // Answered requests spend nothing of it.
    for _ in 0..10 {
        assert_eq!(mallory.get("/me").await.expect("me").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(mallory.get("/operator/status").await.expect("status").status, 403);
    }
    let r = mallory.get("/operator/status").await.expect("status");
    assert_eq!(r.status, 429, "the third refusal is past the rate: {}", r.text());
    let recorded = w
        .audit_lines("hub.log")
        .iter()
        .filter(|l| l.ends_with("User mallory from 127.0.0.1 was refused GET /operator/status (forbidden)"))
        .count();
    assert_eq!(recorded, 2);
    w.stop().await;
}
