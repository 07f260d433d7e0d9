//! C06 — overuse of resources, from outside, against the hub itself: a flood of
//! wrong-password logins (each an argon2 hash), connections that never finish a request or
//! never send one, and a person making the hub write audit records as fast as it answers.
//!
//! * `password-pool`: the hub checks passwords on a fixed pool with no lock held, so a
//!   person already logged in is served while 24 logins from 24 addresses arrive at once,
//!   and what the pool cannot queue is refused at once with `503 busy`. Without it, every
//!   request waits behind the password checks (they hold the sessions lock): the harness
//!   measures the longest `GET /me` during the flood against one password check measured in
//!   the same run, and a `GET /me` that took longer than a whole check waited behind one.
//! * `connection-limits`: from one address, connections that send half a request head or
//!   nothing at all are closed (header timeout, idle timeout, the per-source cap dropping the
//!   oldest idle one) and that address's next real request is served.
//! * `audit-rate-limit`: a read-only person's refused operator requests are recorded at the
//!   person's rate and refused with `429` beyond it, so the audit log grows by a bounded
//!   amount however fast they send.

use std::time::{Duration, Instant};

use protocol::Defence;
use protocol_gateway::checks::GatewayCheck;
use protocol_gateway::conns::ConnLimits;
use protocol_gateway::limits::RateLimit;
use protocol_people::session::HashParams;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::{code, get, post};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};

/// A login flood while a person works.
pub const LOGIN_FLOOD: Harness = Harness {
    info: HarnessInfo {
        id: "c06-login-flood",
        story: "C06",
        target: "hub",
        title: "sends 24 wrong-password logins at once from 24 addresses (production argon2) while a logged-in person asks GET /me again and again",
        defences: &[Defence::Gateway(GatewayCheck::PasswordPool)],
        control: Control::WithoutEach,
        note: "The hub here has one password worker and a queue of two; the longest GET /me during the flood is compared with one password check timed in the same run.",
    },
    run: |w| Box::pin(login_flood(w)),
};

/// Slow and silent connections from one address.
pub const SLOW_CONNECTIONS: Harness = Harness {
    info: HarnessInfo {
        id: "c06-slow-connections",
        story: "C06",
        target: "hub",
        title: "opens 4 connections from one address that send half a request head, then 12 that send nothing, then asks the hub a real question from the same address",
        defences: &[Defence::Gateway(GatewayCheck::ConnectionLimits)],
        control: Control::WithoutEach,
        note: "The hub here allows 8 connections per source and 500 ms for a request head; the idle timeout is reached by moving the shared clock.",
    },
    run: |w| Box::pin(slow_connections(w)),
};

/// A person flooding the audit log with refused requests.
pub const AUDIT_FLOOD: Harness = Harness {
    info: HarnessInfo {
        id: "c06-audit-flood",
        story: "C06",
        target: "hub",
        title: "read-only mallory sends 40 operator block requests, each naming an 8 KB source, as fast as the hub answers",
        defences: &[Defence::Gateway(GatewayCheck::AuditRateLimit)],
        control: Control::WithoutEach,
        note: "The hub here records 10 refusals per person at once, refilled at 10 a minute; the clock stands still.",
    },
    run: |w| Box::pin(audit_flood(w)),
};

const FLOOD: usize = 24;

async fn login_flood(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences: w.gateway(),
        hash_params: HashParams::PRODUCTION,
        password_pool: (1, 2),
        ..GatewayOptions::default()
    })
    .await?;
    let result = flood_attack(&world).await;
    world.stop().await;
    result
}

async fn flood_attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    // One password check, timed in this run on this machine (a wrong password for a real
    // account: the same argon2 work as every login of the flood).
    let mut probe = world.client_from("127.0.72.250")?;
    let start = Instant::now();
    let r = probe
        .login("jacintar", "not-her-password")
        .await
        .map_err(|e| HarnessError::setup(format!("the timing login got no answer: {e}")))?;
    let one_check = start.elapsed();
    if r.status != 401 {
        return Err(HarnessError::setup(format!(
            "the timing login was answered {}",
            code(&r)
        )));
    }
    let mut reader = world.login("mallory").await?;
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..FLOOD {
        let mut c = world.client_from(&format!("127.0.72.{n}"))?;
        flood.spawn(async move { c.login(&format!("nobody{n}"), "guess").await.map(|r| code(&r)) });
    }
    let mut longest = Duration::ZERO;
    let mut reads = 0u32;
    let mut done = Vec::new();
    while !flood.is_empty() && reads < 400 {
        let start = Instant::now();
        let r = get(&mut reader, "/me").await?;
        longest = longest.max(start.elapsed());
        reads += 1;
        if r.status != 200 {
            return Err(HarnessError::setup(format!("GET /me was answered {}", code(&r))));
        }
        while let Some(d) = flood.try_join_next() {
            done.push(d);
        }
    }
    while let Some(d) = flood.join_next().await {
        done.push(d);
    }
    let mut busy = 0u64;
    let mut answers = Vec::new();
    for d in done {
        let answer = d
            .map_err(|e| HarnessError::setup(format!("a flood login failed: {e}")))?
            .map_err(|e| HarnessError::setup(format!("a flood login got no answer: {e}")))?;
        if answer == "503 busy" {
            busy += 1;
        } else if answer != "401 login-failed" {
            answers.push(answer);
        }
    }
    if let Some(odd) = answers.first() {
        return Err(HarnessError::setup(format!("a flood login was answered {odd}")));
    }
    let mut breaches = Vec::new();
    if longest > one_check {
        breaches.push(
            "a logged-in person's GET /me waited longer than a whole password check while the flood was checked"
                .to_owned(),
        );
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count_varying(GatewayCheck::PasswordPool, busy),
        "password-pool answered the logins it could not queue with 503 busy at once and checked the rest off every lock; \
         GET /me was answered within one password check's time throughout",
    ))
}

const SLOW: usize = 4;
const SILENT: usize = 12;
const ATTACKER: &str = "127.0.0.73";
const PER_SOURCE: usize = 8;

async fn slow_connections(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences: w.gateway(),
        connections: ConnLimits {
            header_timeout: Duration::from_millis(500),
            max_per_source: PER_SOURCE,
            ..ConnLimits::HUB
        },
        ..GatewayOptions::default()
    })
    .await?;
    let result = slow_attack(&world).await;
    world.stop().await;
    result
}

async fn connect(world: &GatewayWorld, ip: &str, bytes: &[u8]) -> Result<TcpStream, HarnessError> {
    let ip: std::net::IpAddr = ip.parse().map_err(HarnessError::setup)?;
    let socket = TcpSocket::new_v4().map_err(HarnessError::setup)?;
    socket
        .bind(std::net::SocketAddr::new(ip, 0))
        .map_err(HarnessError::setup)?;
    let mut s = socket.connect(world.addr()).await.map_err(HarnessError::setup)?;
    s.write_all(bytes).await.map_err(HarnessError::setup)?;
    Ok(s)
}

/// Whether the hub has closed `s` (its read ends or fails) within `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// How many of `streams` the hub closes within `limit` (all watched at once).
async fn count_closed(streams: Vec<TcpStream>, limit: Duration) -> u64 {
    let mut watching = tokio::task::JoinSet::new();
    for mut s in streams {
        watching.spawn(async move { closed_within(&mut s, limit).await });
    }
    let mut closed = 0;
    while let Some(c) = watching.join_next().await {
        if c.unwrap_or(false) {
            closed += 1;
        }
    }
    closed
}

async fn slow_attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    // Half-sent request heads, fewer than the per-source cap: only the header timeout can
    // close them.
    let mut slow = Vec::new();
    for _ in 0..SLOW {
        slow.push(connect(world, ATTACKER, b"GET /me HTTP/1.1\r\nHost: hub\r\nX-Slow: a").await?);
    }
    let slow_closed = count_closed(slow, Duration::from_secs(3)).await;
    if slow_closed < SLOW as u64 {
        breaches.push(format!(
            "{} of {SLOW} connections that never finished a request head were held past the header timeout",
            SLOW as u64 - slow_closed
        ));
    }
    // Silent connections past the per-source cap: the oldest are dropped at once.
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(connect(world, ATTACKER, b"").await?);
    }
    let rest = silent.split_off(SILENT - PER_SOURCE);
    let evicted = count_closed(silent, Duration::from_secs(1)).await;
    if evicted < (SILENT - PER_SOURCE) as u64 {
        breaches.push(format!(
            "{SILENT} idle connections from one address were all held, past the per-source cap of {PER_SOURCE}"
        ));
    }
    // The address's real request is served (making room by dropping one more idle one).
    let mut client = world.client_from(ATTACKER)?;
    let r = client
        .login("mallory", &password("mallory"))
        .await
        .map_err(|e| HarnessError::setup(format!("the real request got no answer: {e}")))?;
    if r.status != 200 {
        breaches.push(format!("the address's real request was refused ({})", code(&r)));
    }
    // Past the idle timeout (the shared clock moves; the server sweeps twice a second).
    world.advance(ConnLimits::HUB.idle_timeout);
    let idle_closed = count_closed(rest, Duration::from_secs(3)).await;
    if idle_closed < PER_SOURCE as u64 {
        breaches.push(format!(
            "{} connections that never sent anything were held past the idle timeout",
            PER_SOURCE as u64 - idle_closed
        ));
    }
    // Which limit closed what, as the hub counted it.
    let mut op = world.elevated("oceans_stage", "execute").await?;
    let status = get(&mut op, "/operator/status").await?.json();
    let counted = |k: &str| status["connections"][k].as_u64().unwrap_or(0);
    let (timeouts, drops, idle) = (counted("header_timeouts"), counted("evicted"), counted("idle_closed"));
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::ConnectionLimits, slow_closed + evicted + idle_closed),
        format!(
            "connection-limits closed all {SLOW} half-sent request heads at the header timeout, dropped the oldest idle connections from the \
             address past its cap of {PER_SOURCE} (the last to make room for its real request, which was served) and closed the rest at the idle timeout \
             (the hub counted {timeouts} header timeouts, {drops} dropped for room, {idle} idle)"
        ),
    ))
}

const REFUSAL_BURST: u32 = 10;
const BLOCKS: usize = 40;

async fn audit_flood(w: Weakening) -> Result<Outcome, HarnessError> {
    let world = GatewayWorld::start(GatewayOptions {
        hub_defences: w.gateway(),
        refusals: RateLimit {
            burst: REFUSAL_BURST,
            per_minute: 10,
        },
        ..GatewayOptions::default()
    })
    .await?;
    let result = audit_attack(&world).await;
    world.stop().await;
    result
}

async fn audit_attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut mallory = world.login("mallory").await?;
    let before = world.audit_lines("hub").len();
    let source = "x".repeat(8 * 1024);
    let (mut refused, mut limited) = (0u64, 0u64);
    for _ in 0..BLOCKS {
        let r = post(
            &mut mallory,
            "/operator/block",
            &serde_json::json!({ "source": source }),
        )
        .await?;
        match code(&r).as_str() {
            "403 forbidden" => refused += 1,
            "429 rate-limited" => limited += 1,
            other => return Err(HarnessError::setup(format!("a block request was answered {other}"))),
        }
    }
    let lines = world.audit_lines("hub");
    let records = lines[before..]
        .iter()
        .filter(|l| l.contains("User mallory was denied block-source"))
        .count() as u64;
    let alerts = lines[before..]
        .iter()
        .filter(|l| l.contains("audit-rate-limited from user:mallory"))
        .count();
    let mut breaches = Vec::new();
    if records > u64::from(REFUSAL_BURST) {
        breaches.push(format!(
            "{records} refusal records were written for one person's {BLOCKS} back-to-back requests, past the person's rate of {REFUSAL_BURST}"
        ));
    }
    if limited > 0 && alerts != 1 {
        breaches.push(format!("{alerts} alerts were raised for the refused flood, not one"));
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(GatewayCheck::AuditRateLimit, limited),
        format!(
            "audit-rate-limit recorded {refused} of mallory's {BLOCKS} refused block requests (each source field cut to 256 characters), \
             answered the other {limited} 429 rate-limited with nothing written, and raised one alert"
        ),
    ))
}
