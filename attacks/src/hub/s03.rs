//! S03 — as an attacker I want to harvest usernames and passwords.
//!
//! User names: a failed login for an account that does not exist must look exactly like one
//! for an account that does (status, body, headers) and take as long — the hub must do the
//! same argon2 work for both (production hashing parameters here, so the work is
//! measurable). Timing is judged on a bounded, interleaved sample by its fastest answers,
//! with a wide margin: only "one kind of failure skips the password hash" counts.
//! Passwords: guessing from one address is cut off by the per-source login limit, so even the
//! right password, once guessed, is not checked.

use std::time::{Duration, Instant};

use protocol::Defence;
use protocol_gateway::http::client::HttpResponse;
use protocol_gateway::limits::RateLimit;
use protocol_people::PeopleCheck;
use protocol_people::session::HashParams;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};
use crate::live::timing::{self, LoginTiming};

/// Enumerating accounts through failed logins, and guessing passwords.
pub const ACCOUNT_ENUMERATION: Harness = Harness {
    info: HarnessInfo {
        id: "s03-account-enumeration",
        story: "S03",
        target: "hub",
        title: "compares failed logins for unknown and known user names (status, body, headers, answer time) and guesses a password from one address",
        defences: &[Defence::People(PeopleCheck::UniformLoginFailure)],
        control: Control::WithoutEach,
        note: "",
    },
    run: |w| Box::pin(enumeration(w)),
};

/// Login pairs sampled (unknown, known), interleaved, each pair from its own address.
const SAMPLES: usize = 9;
const GUESSER: &str = "127.0.0.60";
const LOGIN_BURST: u32 = 5;
const GUESSES: usize = 10;

async fn enumeration(w: Weakening) -> Result<Outcome, HarnessError> {
    let session_defences = w.people();
    let world = GatewayWorld::start(GatewayOptions {
        session_defences,
        hash_params: HashParams::PRODUCTION,
        logins: RateLimit {
            burst: LOGIN_BURST,
            per_minute: 10,
        },
        ..GatewayOptions::default()
    })
    .await?;
    let result = attack(&world).await;
    world.stop().await;
    result
}

/// What an attacker can compare between two answers: status, body, every header but `date`.
fn shape(r: &HttpResponse) -> String {
    let mut headers: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    headers.sort();
    format!("{} {} [{}]", r.status, r.text(), headers.join("; "))
}

async fn timed_login(
    world: &GatewayWorld,
    ip: &str,
    user: &str,
    pw: &str,
) -> Result<(HttpResponse, Duration), HarnessError> {
    let mut c = world.client_from(ip)?;
    let start = Instant::now();
    let r = c
        .login(user, pw)
        .await
        .map_err(|e| HarnessError::setup(format!("a login got no answer: {e}")))?;
    Ok((r, start.elapsed()))
}

async fn attack(world: &GatewayWorld) -> Result<Outcome, HarnessError> {
    let mut breaches = Vec::new();
    // Warm up both paths once (first-use costs are not the defence's business).
    let _ = timed_login(world, "127.0.0.50", "jacintar", "warm-up").await?;
    let _ = timed_login(world, "127.0.0.50", "nobody_here", "warm-up").await?;
    let (mut unknown, mut known) = (Vec::new(), Vec::new());
    let (mut unknown_shapes, mut known_shapes) = (Vec::new(), Vec::new());
    for i in 0..SAMPLES + timing::EXTRA_PAIRS {
        if i >= SAMPLES && timing::judge(&unknown, &known) != LoginTiming::Unclear {
            break;
        }
        // Each pair from its own address, so the login limit never answers for the hub; the
        // extra pairs a busy machine may need come from another range.
        let ip = if i < SAMPLES {
            format!("127.0.0.{}", 51 + i)
        } else {
            format!("127.0.2.{}", 1 + i)
        };
        let name = [
            "nobody_here",
            "root",
            "admin",
            "jacintar2",
            "oceans",
            "x",
            "operator",
            "Bad Name",
            "ｍallory",
        ][i % 9];
        let (r, t) = timed_login(world, &ip, name, "Summer2026!").await?;
        unknown.push(t);
        unknown_shapes.push(shape(&r));
        let user = ["jacintar", "mallory", "oceans_stage", "atmosphere_stage"][i % 4];
        let (r, t) = timed_login(world, &ip, user, "Summer2026!").await?;
        known.push(t);
        known_shapes.push(shape(&r));
    }
    // What uniform-login-failure does: the argon2 work for a name that does not exist. Its
    // answers, as timed: those for unknown names that took at least a third of the fastest
    // known name's (the work was done, not skipped).
    let floor = known.iter().min().map_or(Duration::ZERO, |k| *k / 3);
    let hashed = unknown.iter().filter(|t| **t >= floor).count();
    unknown_shapes.dedup();
    known_shapes.dedup();
    let same_answer = unknown_shapes.len() == 1 && unknown_shapes == known_shapes;
    if !same_answer {
        breaches.push(format!(
            "a failed login for an unknown name answers {} but for a known name {}",
            unknown_shapes.join(" | "),
            known_shapes.join(" | ")
        ));
    }
    if timing::judge(&unknown, &known) == LoginTiming::Apart {
        breaches.push(
            "a failed login for an unknown name returns without the argon2 work: its fastest answer is under a third \
             of a known name's fastest, so timing tells which accounts exist"
                .to_owned(),
        );
    }
    // Guessing mallory's password from one address, the right one last.
    let mut checked = 0;
    let mut limited = 0;
    for i in 0..GUESSES {
        let pw = if i + 1 == GUESSES {
            password("mallory")
        } else {
            format!("guess-{i}")
        };
        let (r, _) = timed_login(world, GUESSER, "mallory", &pw).await?;
        match r.status {
            429 => limited += 1,
            200 => breaches.push(format!("the password was guessed from {GUESSER} in {GUESSES} tries")),
            _ => checked += 1,
        }
    }
    if limited == 0 {
        breaches.push(format!("all {GUESSES} password guesses from {GUESSER} were checked"));
    }
    let shown = known_shapes
        .first()
        .map(|s| s.split(" [").next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::UniformLoginFailure, hashed as u64),
        format!(
            "uniform-login-failure: {SAMPLES} or more failed logins for unknown names and as many for known names \
             got the same status, body and headers ({shown}) and the same argon2 work (fastest answers never a \
             factor of three apart); the login limit checked {checked} of {GUESSES} guesses from {GUESSER} and refused the other {limited}, \
             the right password included, with 429 rate-limited"
        ),
    ))
}
