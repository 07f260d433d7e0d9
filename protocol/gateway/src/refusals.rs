//! Audit records of refusals that no handler recorded, for the hub's guard and a UI server's:
//! who (the person, or "unauthenticated"), from where, the method, the route template and the
//! refusal code, so that every refused attempt is in an audit log exactly once.
//!
//! Unauthenticated refusals are recorded one by one up to [`UNAUTHENTICATED_RECORDS`]; past
//! that rate they are counted, and the count is recorded (`Defender counted N refusals not
//! recorded one by one…`) before the next one that fits (or when the server asks, as the hub's monitor
//! does): a flood from rotating addresses costs the log a bounded rate, and no refusal goes
//! unaccounted. A person's refusals are bounded by the hub's per-person audit rate.
//!
//! Records go through one writer thread with a bounded queue ([`REFUSAL_QUEUE`]), so a burst
//! of refusals waits there, one record at a time ahead of anything else that appends, instead
//! of many threads contending for the audit lock (which the hub's logins hold together with
//! the sessions lock every authenticated request needs). A refusal that finds the queue full
//! is counted too, whoever made it (the count's record says both causes). The answer to a recorded refusal waits for its record, as every other answer
//! waits for its own.

use std::net::IpAddr;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, Weak};

use protocol_core::Owner;
use protocol_core::time::Millis;
use protocol_people::audit::{Actor, AuditEvent, AuditRecord};

use crate::limits::{RateLimit, RateLimiter};

/// How many unauthenticated refusals a second are recorded one by one (after a burst).
pub const UNAUTHENTICATED_RECORDS: RateLimit = RateLimit::per_second(50, 10);

/// How many batches of refusal records may wait for the writer.
pub const REFUSAL_QUEUE: usize = 64;

/// A server whose audit log the writer appends to.
pub(crate) trait AuditLog: Send + Sync + 'static {
    /// Appends `record` (blocking: durable when this returns); `false` if it failed.
    fn append(&self, record: &AuditRecord) -> bool;
}

type Batch = (Vec<AuditRecord>, tokio::sync::oneshot::Sender<()>);

/// The refusals' rate, their count past it, and the queue to the writer.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    unauthenticated: Mutex<(RateLimiter<()>, u64)>,
    queue: SyncSender<Batch>,
}

/// The writer's end of a [`RefusalLog`]'s queue, until it is started.
#[derive(Debug)]
pub(crate) struct Writer(Receiver<Batch>);

impl RefusalLog {
    /// A log and the writer's end of its queue ([`Writer::start`] it once the server exists).
    pub(crate) fn new() -> (Self, Writer) {
        let (queue, batches) = sync_channel(REFUSAL_QUEUE);
        let log = Self {
            unauthenticated: Mutex::new((RateLimiter::new(UNAUTHENTICATED_RECORDS, 1), 0)),
            queue,
        };
        (log, Writer(batches))
    }

    /// Records a refusal at `now`: by `person` if the credential was valid, else as
    /// unauthenticated at the bounded rate (counted past it).
    pub(crate) async fn record(&self, now: Millis, person: Option<Owner>, source: IpAddr, event: AuditEvent) {
        let mut records = Vec::with_capacity(2);
        if person.is_none() {
            let Ok(mut limit) = self.unauthenticated.lock() else {
                return;
            };
            if limit.0.check(now, &()).is_err() {
                limit.1 = limit.1.saturating_add(1);
                return;
            }
            let uncounted = std::mem::take(&mut limit.1);
            if uncounted > 0 {
                records.push(uncounted_record(now, uncounted));
            }
        }
        records.push(AuditRecord {
            at: now,
            actor: person.map_or(Actor::Unauthenticated, Actor::User),
            source: Some(source),
            event,
        });
        let (done, written) = tokio::sync::oneshot::channel();
        match self.queue.try_send((records, done)) {
            Ok(()) => {
                let _ = written.await;
            }
            Err(TrySendError::Full((records, _)) | TrySendError::Disconnected((records, _))) => {
                // The writer is behind: counted instead (the count is recorded with the next).
                if let Ok(mut limit) = self.unauthenticated.lock() {
                    limit.1 = limit.1.saturating_add(refusals_in(&records));
                }
            }
        }
    }

    /// The record of the refusals counted but not yet recorded, if any (taken: the caller
    /// appends it).
    pub(crate) fn take_uncounted(&self, now: Millis) -> Option<AuditRecord> {
        let pending = self
            .unauthenticated
            .lock()
            .map(|mut l| std::mem::take(&mut l.1))
            .unwrap_or(0);
        (pending > 0).then(|| uncounted_record(now, pending))
    }
}

impl Writer {
    /// Starts the writer thread for `server`'s audit log; it ends when the server is gone.
    ///
    /// # Errors
    /// The thread could not be started.
    pub(crate) fn start<A: AuditLog>(self, server: &Arc<A>, name: &str) -> std::io::Result<()> {
        let server = Arc::downgrade(server);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || write(&server, &self.0))
            .map(drop)
    }
}

fn write<A: AuditLog>(server: &Weak<A>, batches: &Receiver<Batch>) {
    while let Ok((records, done)) = batches.recv() {
        let Some(server) = server.upgrade() else { return };
        for r in &records {
            server.append(r);
        }
        let _ = done.send(());
    }
}

fn uncounted_record(now: Millis, refusals: u64) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: Actor::Defender,
        source: None,
        event: AuditEvent::Uncounted { refusals },
    }
}

/// How many refusals `records` stand for: one each, or a count record's count.
fn refusals_in(records: &[AuditRecord]) -> u64 {
    records
        .iter()
        .map(|r| match r.event {
            AuditEvent::Uncounted { refusals } => refusals,
            _ => 1,
        })
        .fold(0, u64::saturating_add)
}

/// The route a request matched, as its template, or `(unmatched)`.
#[must_use]
pub(crate) fn route_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |m| m.as_str().to_owned())
}

/// The event of a refusal of `method` on `route` (an axum route template, written
/// `/o/:owner/workflows/:name`, or `(unmatched)`; never a raw path) with `reason`.
#[must_use]
pub fn refused(method: &str, route: &str, reason: String) -> AuditEvent {
    AuditEvent::Refused {
        method: method.to_owned(),
        route: route.replace("{*", ":").replace('{', ":").replace('}', ""),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_that_finds_the_queue_full_is_counted_as_the_refusals_it_stands_for() {
        let refused = || AuditRecord {
            at: Millis(0),
            actor: Actor::Unauthenticated,
            source: None,
            event: refused("GET", "/me", "unauthenticated".into()),
        };
        assert_eq!(refusals_in(&[refused()]), 1);
        assert_eq!(refusals_in(&[uncounted_record(Millis(0), 30), refused()]), 31);
        assert_eq!(
            refusals_in(&[uncounted_record(Millis(0), u64::MAX), refused()]),
            u64::MAX
        );
        assert_eq!(refusals_in(&[]), 0);
    }

    #[test]
    fn routes_are_written_as_templates_with_colons() {
        let AuditEvent::Refused { route, .. } = refused("POST", "/o/{owner}/workflows/{*name}", "csrf".into()) else {
            panic!("a refusal");
        };
        assert_eq!(route, "/o/:owner/workflows/:name");
    }
}
