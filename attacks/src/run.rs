//! The registry of harnesses and the runner.
//!
//! Each run gets a fresh target and its own two-thread tokio runtime, dropped afterwards, so
//! nothing a harness leaves behind (connections, launch tasks) reaches the next one. Harnesses
//! run one at a time: several of them measure whether honest jobs keep their service, which
//! other harnesses running beside them on two cores would disturb.

use std::time::{Duration, Instant};

use crate::harness::{Harness, HarnessInfo, HarnessResult, Outcome, Weakening};

/// The longest a single run may take before the runner gives up on it (harnesses stop by
/// themselves well within this; it is a backstop, not a budget).
pub const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Every harness, sorted by id.
#[must_use]
pub fn all() -> Vec<Harness> {
    let mut harnesses = crate::channel::all();
    harnesses.extend(crate::uiserver::all());
    harnesses.extend(crate::hub::all());
    harnesses.sort_by_key(|h| h.info.id);
    harnesses
}

/// The harness called `id`.
#[must_use]
pub fn find(id: &str) -> Option<Harness> {
    all().into_iter().find(|h| h.info.id == id)
}

/// A harness id that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no harness is called {0:?}")]
pub struct UnknownHarness(pub String);

/// The harnesses named by `ids` (all of them when `ids` is empty), sorted by id, each once.
///
/// # Errors
/// [`UnknownHarness`] for the first id that names none.
pub fn select<S: AsRef<str>>(ids: &[S]) -> Result<Vec<Harness>, UnknownHarness> {
    let mut chosen = Vec::new();
    for id in ids {
        let id = id.as_ref();
        let harness = find(id).ok_or_else(|| UnknownHarness(id.to_owned()))?;
        chosen.push(harness);
    }
    if ids.is_empty() {
        chosen = all();
    }
    chosen.sort_by_key(|h| h.info.id);
    chosen.dedup_by_key(|h| h.info.id);
    Ok(chosen)
}

/// Runs `f` to completion on a fresh two-thread runtime, giving up after `limit`. Must not be
/// called from inside a tokio runtime.
pub(crate) fn on_fresh_runtime<T>(
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, crate::harness::HarnessError>>,
) -> Result<T, crate::harness::HarnessError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        tokio::time::timeout(limit, f)
            .await
            .unwrap_or(Err(crate::harness::HarnessError::Timeout(limit)))
    });
    // Whatever the run left behind (relays, launch tasks, silent sockets) ends here.
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// Runs a harness once, against a fresh target with `weakening`, on a fresh runtime.
#[must_use]
pub fn run_once(harness: &Harness, weakening: &Weakening) -> Outcome {
    on_fresh_runtime(RUN_LIMIT, (harness.run)(weakening.clone()))
        .unwrap_or_else(|e| Outcome::Error { error: e.to_string() })
}

/// Runs every control of a harness (each of its defences removed in turn, on top of `base`):
/// breached only if every one was, with each breach listed; otherwise the first that was not.
#[must_use]
pub fn run_controls(harness: &Harness, base: &Weakening) -> Outcome {
    let mut breaches = Vec::new();
    for control in harness.info.controls() {
        match run_once(harness, &base.and(&control)) {
            Outcome::Breached { evidence } => breaches.push(format!("{control}: {evidence}")),
            Outcome::Defended { evidence } => {
                return Outcome::Defended {
                    evidence: format!("{control}: the attack was still refused: {evidence}"),
                };
            }
            Outcome::Error { error } => {
                return Outcome::Error {
                    error: format!("{control}: {error}"),
                };
            }
        }
    }
    if breaches.is_empty() {
        return Outcome::Error {
            error: "the harness has no control".to_owned(),
        };
    }
    Outcome::breached(breaches.join(" | "))
}

/// Runs a harness against the real target, then against its controls.
#[must_use]
pub fn run_harness(harness: &Harness) -> HarnessResult {
    run_harness_weakened(harness, &Weakening::none())
}

/// Runs a harness with `base` removed from every target: its "real" run is the system
/// without `base`, its controls lack `base` and the harness's own defence. With
/// [`Weakening::none`] this is [`run_harness`].
#[must_use]
pub fn run_harness_weakened(harness: &Harness, base: &Weakening) -> HarnessResult {
    let start = Instant::now();
    let real = run_once(harness, base);
    let control = run_controls(harness, base);
    HarnessResult {
        info: harness.info,
        base: base.clone(),
        real,
        control,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Runs the harnesses named by `ids` (all when empty), in id order; `progress` is told about
/// each before it starts.
///
/// # Errors
/// [`UnknownHarness`] before anything runs.
pub fn run<S: AsRef<str>>(
    ids: &[S],
    base: &Weakening,
    mut progress: impl FnMut(&HarnessInfo),
) -> Result<Vec<HarnessResult>, UnknownHarness> {
    let harnesses = select(ids)?;
    Ok(harnesses
        .iter()
        .map(|h| {
            progress(&h.info);
            run_harness_weakened(h, base)
        })
        .collect())
}
