//! The registry of harnesses and the runner.
//!
//! Each run gets a fresh target and its own two-thread tokio runtime, dropped afterwards, so
//! nothing a harness leaves behind (connections, launch tasks) reaches the next one. Harnesses
//! run one at a time: several of them measure whether honest jobs keep their service, which
//! other harnesses running beside them on two cores would disturb.

use std::time::{Duration, Instant};

use crate::harness::{Harness, HarnessInfo, HarnessResult, Outcome, Side};

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

/// Runs one side of a harness on a fresh runtime.
#[must_use]
pub fn run_side(harness: &Harness, side: Side) -> Outcome {
    on_fresh_runtime(RUN_LIMIT, (harness.run)(side)).unwrap_or_else(|e| Outcome::Error { error: e.to_string() })
}

/// Runs a harness against the real target, then against its control.
#[must_use]
pub fn run_harness(harness: &Harness) -> HarnessResult {
    let start = Instant::now();
    let real = run_side(harness, Side::Real);
    let control = run_side(harness, Side::Control);
    HarnessResult {
        info: harness.info,
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
    mut progress: impl FnMut(&HarnessInfo),
) -> Result<Vec<HarnessResult>, UnknownHarness> {
    let harnesses = select(ids)?;
    Ok(harnesses
        .iter()
        .map(|h| {
            progress(&h.info);
            run_harness(h)
        })
        .collect())
}
