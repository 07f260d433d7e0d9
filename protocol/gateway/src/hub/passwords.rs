//! Password checks off the request path (`password-pool`).
//!
//! argon2 is the hub's one expensive step: tens of milliseconds of CPU and its m-cost of
//! memory per check. Run on the async workers or the unbounded blocking pool, and with the
//! sessions lock held, a flood of wrong-password logins stalled every request and left the
//! allocator holding gigabytes. Here a fixed set of threads (one per core by default) each
//! own one [`PasswordChecker`], so the memory is `threads × m-cost` whatever the load; the
//! queue in front of them is bounded, and a check that does not fit is refused at once
//! ([`Busy`], answered `503` with `Retry-After`) instead of waiting. Nothing else is locked
//! while a password is checked: the sessions are only touched before and after.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use protocol_people::session::PasswordChecker;

type Job = Box<dyn FnOnce(&mut PasswordChecker) + Send>;

/// The pool's queue is full: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("every password worker is busy")]
pub(crate) struct Busy;

/// The password workers.
#[derive(Debug)]
pub(crate) struct PasswordPool {
    jobs: SyncSender<Job>,
    checks: Arc<AtomicU64>,
    refused: AtomicU64,
}

impl PasswordPool {
    /// `threads` workers (at least 1) behind a queue of `queue` checks.
    pub(crate) fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let checks = Arc::new(AtomicU64::new(0));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            let checks = Arc::clone(&checks);
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || work(&rx, &checks))?;
        }
        Ok(Self {
            jobs,
            checks,
            refused: AtomicU64::new(0),
        })
    }

    /// Runs `job` on a worker's checker and waits (asynchronously) for its answer.
    ///
    /// # Errors
    /// [`Busy`] if the queue is full (or the workers are gone).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut PasswordChecker) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.submit(job)?.await.map_err(|_| Busy)
    }

    /// Queues `job`, or refuses it at once if the queue is full.
    fn submit<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut PasswordChecker) -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |checker| {
            let _ = tx.send(job(checker));
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(Busy)
            }
        }
    }

    /// Checks the workers have started.
    pub(crate) fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Checks refused because the queue was full.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

fn work(rx: &Mutex<Receiver<Job>>, checks: &AtomicU64) {
    let mut checker = PasswordChecker::new();
    loop {
        // The lock is held only while waiting for the next job, never while working on one.
        let next = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else {
            return; // The hub is gone.
        };
        checks.fetch_add(1, Ordering::Relaxed);
        job(&mut checker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_beyond_the_queue_is_refused_at_once_and_the_queued_one_still_runs() {
        let pool = PasswordPool::new(1, 1).expect("threads");
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let held = pool
            .submit(move |_| {
                let _ = started_tx.send(());
                let _ = hold_rx.recv();
                "held"
            })
            .expect("the worker takes the first");
        started_rx.recv().expect("the worker is inside the first job");
        let queued = pool.submit(|c| c.memory_kib()).expect("the queue takes the second");
        assert_eq!(pool.submit(|_| ()).map(drop), Err(Busy));
        assert_eq!(pool.refused(), 1);
        hold_tx.send(()).expect("the worker is waiting");
        assert_eq!(held.await, Ok("held"));
        assert_eq!(queued.await, Ok(0));
        assert_eq!(pool.run(|_| 7).await, Ok(7));
        assert_eq!(pool.checks(), 3);
    }
}
