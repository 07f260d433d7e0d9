//! The legitimate user whose service is measured: its bearer login (from 127.0.0.1), the
//! paced sequential `GET /me` loop that records every attempt's time and outcome, the
//! percentiles over those times, and the single `GET /me` probe that shows whether a hub is
//! serving again after a phase.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};

use crate::http::{login_request, me_request, request};
use crate::report::ms;

/// The legitimate user's per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// At most one legitimate request started per this interval.
pub const PACE: Duration = Duration::from_millis(5);

/// A bearer login from 127.0.0.1: the token and how long the login took.
pub async fn log_in(to: SocketAddr, password: &str) -> anyhow::Result<(String, Duration)> {
    let t0 = Instant::now();
    let a = request(None, to, &login_request(to, password, true), Duration::from_secs(30))
        .await
        .map_err(|e| anyhow!("the legitimate user's login failed: {e}"))?;
    if a.status != 200 {
        anyhow::bail!("the legitimate user's login was answered {}", a.status);
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).context("the login answer is not JSON")?;
    let token = v
        .get("token")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| anyhow!("the login answer has no bearer token"))?;
    Ok((token.to_owned(), t0.elapsed()))
}

#[derive(Debug, Default, Clone)]
pub struct Legit {
    /// Every attempt's time, failures included.
    pub latencies: Vec<Duration>,
    /// Attempts answered 200.
    pub completed: u64,
    /// Non-200 answers and errors.
    pub problems: BTreeMap<String, u64>,
}

impl Legit {
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.latencies.is_empty() {
            return None;
        }
        let mut v = self.latencies.clone();
        v.sort_unstable();
        let n = v.len();
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        v.get(rank - 1).copied()
    }

    pub fn max(&self) -> Option<Duration> {
        self.latencies.iter().max().copied()
    }
}

/// Sequential `GET /me` for `duration` (the last attempt may run up to its timeout past it).
pub async fn legit_user(to: SocketAddr, token: &str, duration: Duration) -> Legit {
    let req = me_request(to, token);
    let mut out = Legit::default();
    let start = Instant::now();
    while start.elapsed() < duration {
        let t0 = Instant::now();
        let r = request(None, to, &req, REQUEST_TIMEOUT).await;
        let took = t0.elapsed();
        out.latencies.push(took);
        match r {
            Ok(a) if a.status == 200 => out.completed += 1,
            Ok(a) => *out.problems.entry(format!("status-{}", a.status)).or_default() += 1,
            Err(e) => *out.problems.entry(e).or_default() += 1,
        }
        if took < PACE {
            tokio::time::sleep(PACE - took).await;
        }
    }
    out
}

/// One `GET /me` after a phase: is the hub serving again?
pub async fn probe(to: SocketAddr, token: &str) -> String {
    let t0 = Instant::now();
    let r = request(None, to, &me_request(to, token), REQUEST_TIMEOUT).await;
    let took = ms(t0.elapsed());
    match r {
        Ok(a) => format!("status {} in {took:.2} ms", a.status),
        Err(e) => format!("{e} after {took:.2} ms"),
    }
}
