//! What the properties remember of the past: per-job monitors and sticky verdict flags,
//! folded from each durable happening as it occurs.
//!
//! The state keeps this summary instead of the ordered list of happenings because two runs
//! that reach the same cores, links and summary by different interleavings have the same
//! futures and the same verdicts: a history would tell them apart (which job registered first,
//! how many duplicates were acknowledged) and multiply the state space by the orderings. Each
//! field is exactly what some property or witness reads, and [`Monitor::observe`] is written so
//! that a property's verdict on a state is the verdict the ordered history would give (the
//! history versions are kept in the tests of this module, run against the fold over random
//! happenings).

use std::collections::BTreeSet;

use protocol_core::scheduler::RESERVED_OUTPUTS;
use protocol_core::wire::{JobBody, RejectCode};

use super::state::{Happening, KeySym, Sender};

/// What the monitor needs to know about the world it watches.
pub trait Plans {
    /// Whether job `n` is honest.
    fn is_honest(&self, n: u8) -> bool;
    /// What honest job `n` sends, in order.
    fn plan_of(&self, n: u8) -> Vec<JobBody>;
}

/// One job's past, as far as the properties care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JobWatch {
    /// Accepted messages so far (counted for honest jobs only: the faithfulness of the next
    /// one is judged against that position of the plan).
    pub accepted: u8,
    /// The sequence number of the last accepted message.
    pub last_seq: Option<u64>,
    /// Sequence numbers (1 to 8) whose acceptance was of the honest job's own planned message
    /// built by it, as a bit set (bit `seq - 1`).
    pub faithful: u8,
    /// Whether a `succeeded` was accepted.
    pub succeeded: bool,
    /// Whether the job is closed: its key revoked, or its final message accepted.
    pub closed: bool,
}

impl JobWatch {
    /// Whether `seq` was accepted as the honest job's own planned message.
    #[must_use]
    pub fn faithfully_accepted(&self, seq: u64) -> bool {
        seq.checked_sub(1)
            .and_then(|bit| u32::try_from(bit).ok())
            .and_then(|bit| 1u8.checked_shl(bit))
            .is_some_and(|mask| seq <= 8 && self.faithful & mask != 0)
    }
}

/// The properties' memory. Violation flags are sticky: once a happening breaks a property,
/// every later state of that run is a counterexample too (the checker reports the first).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Monitor {
    /// Per job, by index.
    pub jobs: Vec<JobWatch>,
    /// An accepted message attributed to an honest job was built by someone else.
    pub forged_sender: bool,
    /// A message took effect twice or out of order, or an honest job's accepted messages
    /// differ from what it sent.
    pub not_injective: bool,
    /// A message changed a job other than the one whose key carried it.
    pub crossed: bool,
    /// A reserved or undeclared output was completed, or a command arrived on a key not the UI
    /// server's.
    pub disallowed: bool,
    /// A key was registered that the job did not make, or after its deadline.
    pub bad_registration: bool,
    /// Something took effect on a closed job.
    pub after_close: bool,
    /// A UI-server command was refused for its sequence number.
    pub command_blocked: bool,
    /// Command numbers refused for what they asked.
    pub refused_commands: BTreeSet<u64>,
    /// A refused command's number was later applied.
    pub refused_number_reused: bool,
    /// A retransmission was acknowledged without effect.
    pub duplicate: bool,
    /// A launch failed.
    pub launch_failed: bool,
    /// A compromised job's own message took effect.
    pub attacker_accepted: bool,
    /// A crash lost an event that was not yet durable.
    pub crash_lost: bool,
    /// A crash came after the defender was told of its revocation.
    pub crash_after_told_revoked: bool,
}

impl Monitor {
    /// A monitor for `jobs` jobs that has seen nothing.
    #[must_use]
    pub fn new(jobs: u8) -> Self {
        Self {
            jobs: vec![JobWatch::default(); usize::from(jobs)],
            ..Self::default()
        }
    }

    /// The monitor after `happenings`, in order.
    #[must_use]
    pub fn of<'a>(jobs: u8, plans: &impl Plans, happenings: impl IntoIterator<Item = &'a Happening>) -> Self {
        let mut monitor = Self::new(jobs);
        for happening in happenings {
            monitor.observe(plans, happening);
        }
        monitor
    }

    /// Folds in one durable happening.
    pub fn observe(&mut self, plans: &impl Plans, happening: &Happening) {
        match happening {
            Happening::Accepted {
                job,
                seq,
                body,
                sender,
                key,
            } => self.accepted(plans, *job, *seq, body, *sender, *key),
            Happening::Registered { job, key, late } => {
                self.bad_registration |= *key != Some(KeySym::Job(*job)) || *late;
            }
            Happening::LaunchFailed { .. } => self.launch_failed = true,
            Happening::Duplicate { .. } => self.duplicate = true,
            Happening::Revoked { job } => {
                if let Some(watch) = self.jobs.get_mut(usize::from(*job)) {
                    watch.closed = true;
                }
            }
            Happening::CommandAnswered { seq, refused } => match refused {
                Some(RejectCode::SequenceGap | RejectCode::ReplayedSequence) => self.command_blocked = true,
                Some(RejectCode::InvalidTransition) => {
                    self.refused_commands.insert(*seq);
                }
                Some(_) => {}
                None => self.refused_number_reused |= self.refused_commands.contains(seq),
            },
            Happening::Commanded { key } => self.disallowed |= *key != Some(KeySym::Client),
            Happening::Crashed { lost, told_revoked } => {
                self.crash_lost |= *lost > 0;
                self.crash_after_told_revoked |= *told_revoked;
            }
        }
    }

    fn accepted(&mut self, plans: &impl Plans, job: u8, seq: u64, body: &JobBody, sender: Sender, key: Option<KeySym>) {
        let honest = plans.is_honest(job);
        self.forged_sender |= honest && sender != Sender::Honest(job);
        self.crossed |= key != Some(KeySym::Job(job));
        self.attacker_accepted |= sender == Sender::Attacker;
        if let JobBody::Output(name) = body {
            self.disallowed |= name.as_str() != "file-ready" || RESERVED_OUTPUTS.contains(&name.as_str());
        }
        let Some(watch) = self.jobs.get_mut(usize::from(job)) else {
            return;
        };
        self.after_close |= watch.closed;
        watch.closed |= matches!(body, JobBody::Succeeded | JobBody::Failed(_));
        self.not_injective |= watch.last_seq.is_some_and(|last| seq <= last);
        watch.last_seq = Some(seq);
        watch.succeeded |= *body == JobBody::Succeeded;
        if honest {
            let plan = plans.plan_of(job);
            self.not_injective |= plan.get(usize::from(watch.accepted)) != Some(body);
            watch.accepted = watch.accepted.saturating_add(1);
            let planned = usize::try_from(seq)
                .ok()
                .and_then(|s| s.checked_sub(1))
                .and_then(|i| plan.get(i));
            if sender == Sender::Honest(job) && planned == Some(body) && (1..=8).contains(&seq) {
                watch.faithful |= 1 << (seq - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fold against the ordered-history readings it replaces, over pseudo-random
    //! histories of a two-job world (job 0 honest, job 1 compromised).

    use protocol_core::wire::{FailReason, OutputName};

    use super::*;

    struct World;

    impl Plans for World {
        fn is_honest(&self, n: u8) -> bool {
            n == 0
        }

        fn plan_of(&self, _: u8) -> Vec<JobBody> {
            vec![JobBody::Started, JobBody::Heartbeat, JobBody::Succeeded]
        }
    }

    fn output(name: &str) -> JobBody {
        JobBody::Output(OutputName::new(name).expect("a valid name"))
    }

    /// A deterministic generator (a 64-bit LCG): the same histories on every run.
    struct Lcg(u64);

    impl Lcg {
        fn pick(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap_or(0) % n
        }
    }

    fn happening(rng: &mut Lcg) -> Happening {
        let job = u8::try_from(rng.pick(2)).unwrap_or(0);
        match rng.pick(8) {
            0..=3 => {
                let bodies = [
                    JobBody::Started,
                    JobBody::Heartbeat,
                    JobBody::Succeeded,
                    JobBody::Failed(FailReason::Exit(1)),
                    output("file-ready"),
                    output("succeeded"),
                    output("never-declared"),
                ];
                Happening::Accepted {
                    job,
                    seq: u64::try_from(rng.pick(4)).unwrap_or(0) + 1,
                    body: bodies[rng.pick(bodies.len())].clone(),
                    sender: [Sender::Honest(0), Sender::Honest(1), Sender::Attacker][rng.pick(3)],
                    key: [Some(KeySym::Job(0)), Some(KeySym::Job(1)), None][rng.pick(3)],
                }
            }
            4 => Happening::Registered {
                job,
                key: [Some(KeySym::Job(job)), Some(KeySym::Attacker)][rng.pick(2)],
                late: rng.pick(4) == 0,
            },
            5 => [
                Happening::Revoked { job },
                Happening::Duplicate { job },
                Happening::LaunchFailed { job },
            ][rng.pick(3)]
            .clone(),
            6 => Happening::CommandAnswered {
                seq: u64::try_from(rng.pick(3)).unwrap_or(0) + 1,
                refused: [
                    None,
                    Some(RejectCode::InvalidTransition),
                    Some(RejectCode::SequenceGap),
                    Some(RejectCode::ReplayedSequence),
                ][rng.pick(4)],
            },
            _ => [
                Happening::Commanded {
                    key: Some(KeySym::Client),
                },
                Happening::Commanded {
                    key: Some(KeySym::Job(1)),
                },
                Happening::Crashed {
                    lost: rng.pick(2),
                    told_revoked: rng.pick(2) == 0,
                },
            ][rng.pick(3)]
            .clone(),
        }
    }

    fn accepted(history: &[Happening]) -> Vec<(u8, u64, &JobBody, Sender, Option<KeySym>)> {
        history
            .iter()
            .filter_map(|h| match h {
                Happening::Accepted {
                    job,
                    seq,
                    body,
                    sender,
                    key,
                } => Some((*job, *seq, body, *sender, *key)),
                _ => None,
            })
            .collect()
    }

    /// The readings of the ordered history that the monitor replaces, as the properties were
    /// written before it.
    fn readings(history: &[Happening]) -> Vec<bool> {
        let world = World;
        let acc = accepted(history);
        let plan = world.plan_of(0);
        let sender = acc
            .iter()
            .all(|(job, _, _, sender, _)| !world.is_honest(*job) || *sender == Sender::Honest(*job));
        let injective = (0..2u8).all(|job| {
            let mine: Vec<_> = acc.iter().filter(|a| a.0 == job).collect();
            mine.windows(2).all(|w| w[0].1 < w[1].1)
                && (!world.is_honest(job) || mine.iter().enumerate().all(|(i, a)| plan.get(i) == Some(a.2)))
        });
        let isolation = acc.iter().all(|a| a.4 == Some(KeySym::Job(a.0)));
        let allow = acc.iter().all(|a| match a.2 {
            JobBody::Output(name) => name.as_str() == "file-ready",
            _ => true,
        }) && history.iter().all(|h| match h {
            Happening::Commanded { key } => *key == Some(KeySym::Client),
            _ => true,
        });
        let registration = history.iter().all(|h| match h {
            Happening::Registered { job, key, late } => *key == Some(KeySym::Job(*job)) && !late,
            _ => true,
        });
        let after = (0..2u8).all(|job| {
            let mut closed = false;
            for h in history {
                match h {
                    Happening::Revoked { job: j } if *j == job => closed = true,
                    Happening::Accepted { job: j, body, .. } if *j == job => {
                        if closed {
                            return false;
                        }
                        closed = matches!(body, JobBody::Succeeded | JobBody::Failed(_));
                    }
                    _ => {}
                }
            }
            true
        });
        let liveness = !history.iter().any(|h| {
            matches!(
                h,
                Happening::CommandAnswered {
                    refused: Some(RejectCode::SequenceGap | RejectCode::ReplayedSequence),
                    ..
                }
            )
        });
        let reused = history.iter().enumerate().any(|(i, h)| match h {
            Happening::CommandAnswered {
                seq,
                refused: Some(RejectCode::InvalidTransition),
            } => history[i + 1..]
                .iter()
                .any(|l| matches!(l, Happening::CommandAnswered { seq: s, refused: None } if s == seq)),
            _ => false,
        });
        let mut out = vec![
            sender,
            injective,
            isolation,
            allow,
            registration,
            after,
            liveness,
            reused,
        ];
        for seq in 1..=3u64 {
            out.push(acc.iter().any(|a| {
                a.0 == 0
                    && a.1 == seq
                    && plan.get(usize::try_from(seq - 1).unwrap_or(0)) == Some(a.2)
                    && a.3 == Sender::Honest(0)
            }));
        }
        for job in 0..2u8 {
            out.push(acc.iter().any(|a| a.0 == job && *a.2 == JobBody::Succeeded));
        }
        out.push(history.iter().any(|h| matches!(h, Happening::Duplicate { .. })));
        out.push(history.iter().any(|h| matches!(h, Happening::LaunchFailed { .. })));
        out.push(acc.iter().any(|a| a.3 == Sender::Attacker));
        out.push(
            history
                .iter()
                .any(|h| matches!(h, Happening::Crashed { lost, .. } if *lost > 0)),
        );
        out.push(
            history
                .iter()
                .any(|h| matches!(h, Happening::Crashed { told_revoked: true, .. })),
        );
        out
    }

    fn monitor_readings(m: &Monitor) -> Vec<bool> {
        let mut out = vec![
            !m.forged_sender,
            !m.not_injective,
            !m.crossed,
            !m.disallowed,
            !m.bad_registration,
            !m.after_close,
            !m.command_blocked,
            m.refused_number_reused,
        ];
        for seq in 1..=3 {
            out.push(m.jobs[0].faithfully_accepted(seq));
        }
        for job in 0..2 {
            out.push(m.jobs[job].succeeded);
        }
        out.extend([
            m.duplicate,
            m.launch_failed,
            m.attacker_accepted,
            m.crash_lost,
            m.crash_after_told_revoked,
        ]);
        out
    }

    #[test]
    fn the_monitor_gives_every_reading_the_ordered_history_gives_on_every_prefix_of_random_histories() {
        let mut rng = Lcg(0x7e57);
        let mut disagreements = Vec::new();
        // Readings that came out both ways, so the comparison is not between constants.
        let mut seen = [[false; 2]; 18];
        for _ in 0..20_000 {
            let len = 1 + rng.pick(10);
            let history: Vec<Happening> = (0..len).map(|_| happening(&mut rng)).collect();
            let mut monitor = Monitor::new(2);
            for end in 1..=history.len() {
                monitor.observe(&World, &history[end - 1]);
                let (want, got) = (readings(&history[..end]), monitor_readings(&monitor));
                for (i, w) in want.iter().enumerate() {
                    seen[i][usize::from(*w)] = true;
                }
                if want != got && disagreements.len() < 3 {
                    disagreements.push((history[..end].to_vec(), want, got));
                }
            }
        }
        assert!(disagreements.is_empty(), "{disagreements:#?}");
        assert!(seen.iter().all(|both| both[0] && both[1]), "{seen:?}");
    }
}
