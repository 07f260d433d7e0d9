//! What can happen next, and what it does to the state: every step that touches the scheduler
//! goes through the real core's `handle_*` functions.

use protocol_core::Millis;
use protocol_core::commit::Answer as CommitAnswer;
use protocol_core::scheduler::{Accepted, Event, RevokeReason, SchedulerCore};
use protocol_core::wire::{Message, Reply};
use serde::Serialize;

use super::ChannelModel;
use super::state::{Ask, Body, Happening, Held, KeySym, Link, Refusal, Sender, State};

/// How far ahead the attacker's "far ahead" sequence number is.
const FAR_AHEAD: u64 = 1_000;

/// One step of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// A job's key reply reaches the scheduler on the bootstrap channel. For an honest job the
    /// key is its own, unless the bootstrap is unauthenticated and the attacker substitutes
    /// its key; for the compromised job the attacker picks any key it knows.
    KeyReply {
        /// The job.
        job: u8,
        /// The key in the reply.
        key: KeySym,
    },
    /// Time passes beyond every launch deadline.
    DeadlinePasses,
    /// The attacker reads the job host's files (only useful in the Cylc 7 variant, where
    /// job private keys are there).
    ReadJobHostFiles,
    /// An honest job connects (handshake with its own key).
    Connect(u8),
    /// An honest job writes its next message on its connection.
    Transmit(u8),
    /// The scheduler reads the next message on an honest job's connection.
    Deliver(u8),
    /// An honest job reads the next reply.
    Receive(u8),
    /// The attacker cuts an honest job's connection; whatever was in flight is lost.
    Sever(u8),
    /// The attacker stalls an honest job's connection until the job gives up on it and
    /// reconnects, while what it wrote stays on its way to the scheduler: the job then has two
    /// connections on its key at once. Counts against the cut connections.
    Abandon(u8),
    /// The scheduler reads the oldest message still in flight on a connection honest job `n`
    /// gave up on; its answer goes to a socket nobody reads.
    DeliverStale(u8),
    /// The attacker opens a session as `key` and sends a message claiming `claim`.
    Forge {
        /// The key it handshakes with.
        key: KeySym,
        /// The job the message claims to come from.
        claim: u8,
        /// What it says.
        body: Body,
        /// Its sequence number.
        seq: u64,
    },
    /// Knowing the scheduler's private key, the attacker forges a first handshake message as
    /// `key` with a message in its payload (key-compromise impersonation).
    ForgeFirstPayload {
        /// The key it impersonates.
        key: KeySym,
        /// The job the message claims to come from.
        claim: u8,
        /// What it says.
        body: Body,
        /// Its sequence number.
        seq: u64,
    },
    /// The attacker replays a first handshake message honest job `n` sent on any connection so
    /// far, at any later time: the scheduler answers with message 2, but without the job's static or
    /// ephemeral private key the attacker can neither finish the session nor read or send on
    /// it. Counts against the forgeries.
    ReplayFirstMessage(u8),
    /// The defender revokes the compromised job's key.
    Revoke(u8),
    /// The scheduler's pending group commit becomes durable and releases its answers (an
    /// explicit step only when the bounds allow a crash).
    Commit,
    /// The scheduler crashes: events not yet durable and the answers waiting for them are
    /// lost, every connection drops, and a restart restores the core from the durable log.
    Crash,
    /// A person asks the UI server for a command (it has authorised and audited it).
    Ask(Ask),
    /// The UI server connects (handshake with its client key).
    ClientConnect,
    /// The UI server writes what its command core has to send.
    ClientTransmit,
    /// The scheduler reads the next command on the UI server's connection.
    ClientDeliver,
    /// The UI server reads the next reply.
    ClientReceive,
    /// The attacker cuts the UI server's connection; whatever was in flight is lost.
    ClientSever,
}

impl Action {
    /// The key the attacker's message arrives on.
    #[must_use]
    pub const fn attack_key(self) -> Option<KeySym> {
        match self {
            Self::Forge { key, .. } | Self::ForgeFirstPayload { key, .. } => Some(key),
            Self::ReplayFirstMessage(n) => Some(KeySym::Job(n)),
            _ => None,
        }
    }

    /// Whether this is the attacker sending something to the scheduler (spending a forgery).
    #[must_use]
    pub const fn is_attack_message(self) -> bool {
        matches!(
            self,
            Self::Forge { .. } | Self::ForgeFirstPayload { .. } | Self::ReplayFirstMessage(_)
        )
    }
}

impl ChannelModel {
    /// Keys the attacker can handshake with usefully: ones it holds that the core knows, plus
    /// the low-order point once registered (anyone can use it). Unregistered keys are refused
    /// at the handshake, so offering them adds states but no behaviour, except under the flaw
    /// that accepts any key.
    fn usable_keys(&self, state: &State) -> Vec<KeySym> {
        let any_key = self.defences.has_flaw(protocol_core::Flaw::IdentityFromClaim);
        state
            .attacker
            .keys
            .iter()
            .copied()
            .chain(std::iter::once(KeySym::LowOrder))
            .filter(|k| *k != KeySym::Scheduler)
            .filter(|k| state.core.binding(&k.public()).is_some() || (any_key && *k == KeySym::Attacker))
            .collect()
    }

    /// Sequence numbers worth trying for a message claiming `claim` on `key`'s session, as
    /// SPEC.md lets anyone write any number: the claimed job's last (a replay with other bytes),
    /// next, the one after (a gap) and one far ahead, and the next one of the job bound to the
    /// key. A refused number changes nothing but the attacker's tally, so the extra numbers
    /// cost few states.
    fn seqs(&self, state: &State, key: KeySym, claim: u8) -> Vec<u64> {
        let last = |id: &protocol_core::JobId| state.core.job(id).map_or(0, |r| r.last_seq());
        let l = last(&self.ids()[usize::from(claim)]);
        let mut seqs = vec![l + 1, l + 2, l + FAR_AHEAD];
        if l > 0 {
            seqs.push(l);
        }
        if let Some((bound, _)) = state.core.binding(&key.public()) {
            let s = last(bound) + 1;
            if !seqs.contains(&s) {
                seqs.push(s);
            }
        }
        seqs
    }

    pub(super) fn enumerate(&self, state: &State, actions: &mut Vec<Action>) {
        // An honest job writing its next message into its own connection touches only its core
        // and the tail of that connection, and nothing a property reads: whatever else happens
        // first, writing now reaches the same states (a cut or crash after the write leaves the
        // job core exactly as a cut before it, since a disconnect puts every unacknowledged
        // message back in the queue; a stall after it leaves more writes on their way, which
        // need never be delivered). So when a job can write, its write is the only step
        // explored from that state (a persistent set of one), which cuts the interleavings of
        // writes with everything else without losing a reachable verdict.
        if let Some(n) = state.honest.iter().position(|job| {
            job.link.is_some() && job.registered && !job.stopped && job.core.clone().poll_transmit().is_some()
        }) {
            actions.push(Action::Transmit(u8::try_from(n).unwrap_or(u8::MAX)));
            return;
        }
        let jobs = self.job_count();
        for job in 0..jobs {
            if state.answered[usize::from(job)] {
                continue;
            }
            if self.is_honest(job) {
                actions.push(Action::KeyReply {
                    job,
                    key: KeySym::Job(job),
                });
                if self.env.unauthenticated_bootstrap {
                    actions.push(Action::KeyReply {
                        job,
                        key: KeySym::Attacker,
                    });
                }
            } else {
                // The compromised job answers with its own key, a low-order point, or an honest
                // job's public key once that is registered (and so visible to the attacker).
                actions.push(Action::KeyReply {
                    job,
                    key: KeySym::Job(job),
                });
                actions.push(Action::KeyReply {
                    job,
                    key: KeySym::LowOrder,
                });
                for honest in 0..self.bounds.honest_jobs {
                    if state.core.binding(&KeySym::Job(honest).public()).is_some() {
                        actions.push(Action::KeyReply {
                            job,
                            key: KeySym::Job(honest),
                        });
                    }
                }
            }
        }
        if self.bounds.deadline && state.now == Millis(0) && state.answered.iter().any(|a| !a) {
            actions.push(Action::DeadlinePasses);
        }
        if self.env.cylc7_key_shipping && !state.attacker.read_files {
            actions.push(Action::ReadJobHostFiles);
        }
        for (n, job) in state.honest.iter().enumerate() {
            let n = u8::try_from(n).unwrap_or(u8::MAX);
            if !job.registered || job.stopped {
                continue;
            }
            match &job.link {
                None if !job.core.is_idle() => actions.push(Action::Connect(n)),
                None => {}
                Some(link) => {
                    if !link.to_scheduler.is_empty() {
                        actions.push(Action::Deliver(n));
                    }
                    if !link.to_job.is_empty() {
                        actions.push(Action::Receive(n));
                    }
                    if state.attacker.severed < self.bounds.severs {
                        actions.push(Action::Sever(n));
                        if !link.to_scheduler.is_empty() {
                            actions.push(Action::Abandon(n));
                        }
                    }
                }
            }
        }
        for (n, job) in state.honest.iter().enumerate() {
            if !job.stale.is_empty() {
                actions.push(Action::DeliverStale(u8::try_from(n).unwrap_or(u8::MAX)));
            }
        }
        if state.attacker.forged < self.bounds.forgeries {
            for (n, job) in state.honest.iter().enumerate() {
                if job.captured {
                    actions.push(Action::ReplayFirstMessage(u8::try_from(n).unwrap_or(u8::MAX)));
                }
            }
            for key in self.usable_keys(state) {
                for claim in 0..jobs {
                    for seq in self.seqs(state, key, claim) {
                        for body in Body::JOB {
                            actions.push(Action::Forge { key, claim, body, seq });
                        }
                    }
                }
                // A command on a job's key is refused (or obeyed) whatever its number; it names
                // the workflow's owner as its actor, the same for every claim, so one suffices.
                actions.push(Action::Forge {
                    key,
                    claim: 0,
                    body: Body::Command,
                    seq: 1,
                });
            }
            if self.env.scheduler_key_leaked {
                for key in (0..jobs)
                    .map(KeySym::Job)
                    .filter(|k| state.core.binding(&k.public()).is_some())
                {
                    for claim in 0..jobs {
                        for seq in self.seqs(state, key, claim) {
                            for body in Body::JOB {
                                actions.push(Action::ForgeFirstPayload { key, claim, body, seq });
                            }
                        }
                    }
                }
            }
        }
        if let Some(ui) = &state.ui {
            if ui.asked < self.bounds.commands {
                actions.extend(Ask::ALL.map(Action::Ask));
            }
            match &ui.link {
                None if !ui.core.is_idle() => actions.push(Action::ClientConnect),
                None => {}
                Some(link) => {
                    actions.push(Action::ClientTransmit);
                    if !link.to_scheduler.is_empty() {
                        actions.push(Action::ClientDeliver);
                    }
                    if !link.to_job.is_empty() {
                        actions.push(Action::ClientReceive);
                    }
                    if state.attacker.severed < self.bounds.severs {
                        actions.push(Action::ClientSever);
                    }
                }
            }
        }
        if let Some(c) = self.compromised()
            && self.bounds.revocation
            && !state.revoked
            && state.core.binding(&KeySym::Job(c).public()).is_some()
        {
            actions.push(Action::Revoke(c));
        }
        if self.bounds.crashes > 0 {
            if !state.durability.commit.is_empty() {
                actions.push(Action::Commit);
            }
            if state.durability.crashes < self.bounds.crashes {
                actions.push(Action::Crash);
            }
        }
    }

    fn message(&self, claim: u8, body: Body, seq: u64) -> Message {
        body.to_message(&self.ids()[usize::from(claim)], seq)
    }

    pub(super) fn step(&self, state: &State, action: Action) -> Option<State> {
        // An attacker's message goes to a copy of the core first. One the real core refused
        // without changing anything (and that showed no refusal branch not shown before) leads
        // to the state it started from with less of the attacker's budget left: everything
        // after it can happen without it, so it is not explored further. This is what makes
        // every kind, number and key worth offering; a replayed first handshake message, which
        // in the full design the core answers without changing, is always such a step.
        let attack = if action.is_attack_message() {
            let mut core = state.core.clone();
            let verdict = self.send_attack(&mut core, state.now, action);
            let nothing_new = match verdict {
                Ok(()) => true,
                Err(refusal) => state.attacker.refused && refusal.is_none_or(|r| state.attacker.refusals.contains(&r)),
            };
            if nothing_new && core == state.core {
                return None;
            }
            Some((core, verdict))
        } else {
            None
        };
        let mut next = state.clone();
        match action {
            Action::KeyReply { job, key } => {
                next.answered[usize::from(job)] = true;
                let id = &self.ids()[usize::from(job)];
                let registered = next
                    .core
                    .handle_bootstrap_reply(next.now, id, *key.public().as_bytes())
                    .is_ok();
                self.record(&mut next, Sender::Attacker, None);
                if self.is_honest(job) {
                    // The job hears the verdict on its channel once the registration is durable;
                    // a substituted reply means the scheduler holds a key the job does not
                    // have, which it finds out on connect.
                    next.durability
                        .commit
                        .hold(CommitAnswer::Registration, Held::Registration { job, registered });
                }
            }
            Action::DeadlinePasses => {
                next.now = Millis(self.deadline().0 + 1);
                next.core.handle_timeout(next.now);
                self.record(&mut next, Sender::Attacker, None);
                for (n, job) in next.honest.iter_mut().enumerate() {
                    if !state.answered[n] {
                        job.stopped = true;
                    }
                }
            }
            Action::ReadJobHostFiles => {
                next.attacker.read_files = true;
                for n in 0..self.bounds.honest_jobs {
                    if state.answered[usize::from(n)] {
                        next.attacker.keys.insert(KeySym::Job(n));
                    }
                }
            }
            Action::Connect(n) => {
                let key = KeySym::Job(n).public();
                next.core.handle_handshake(next.now, &key, &[]).ok()?;
                let job = &mut next.honest[usize::from(n)];
                job.link = Some(Link::default());
                job.captured = true;
                job.core.handle_connected();
            }
            Action::Transmit(n) => {
                let job = &mut next.honest[usize::from(n)];
                let message = job.core.poll_transmit()?;
                job.link.as_mut()?.to_scheduler.push_back(message);
            }
            Action::Deliver(n) => {
                let message = next.honest[usize::from(n)].link.as_mut()?.to_scheduler.pop_front()?;
                let seq = message.seq();
                let verdict = next.core.handle_message(next.now, &KeySym::Job(n).public(), message);
                let reply = match &verdict {
                    Ok(accepted) => {
                        if let Accepted::Duplicate { job, .. } = accepted
                            && let Some(job) = self.index_of(job)
                        {
                            next.monitor.observe(self, &Happening::Duplicate { job });
                        }
                        Reply::Ack { seq }
                    }
                    Err(rejected) => Reply::Rejected {
                        seq,
                        code: rejected.code(),
                    },
                };
                self.record(&mut next, Sender::Honest(n), Some(KeySym::Job(n)));
                next.durability
                    .commit
                    .hold(CommitAnswer::Reply, Held::Job { job: n, reply });
            }
            Action::Receive(n) => {
                let job = &mut next.honest[usize::from(n)];
                let reply = job.link.as_mut()?.to_job.pop_front()?;
                if job.core.handle_reply(reply).is_err() {
                    job.stopped = true;
                    job.link = None;
                }
            }
            Action::Sever(n) => {
                next.attacker.severed += 1;
                let job = &mut next.honest[usize::from(n)];
                job.link = None;
                job.core.handle_disconnect();
                // Answers for the cut connection have nowhere to go.
                next.durability
                    .commit
                    .retain_answers(|h| !matches!(h, Held::Job { job, .. } if *job == n));
            }
            Action::Abandon(n) => {
                next.attacker.severed += 1;
                let job = &mut next.honest[usize::from(n)];
                let link = job.link.take()?;
                job.stale.extend(link.to_scheduler);
                job.core.handle_disconnect();
                next.durability
                    .commit
                    .retain_answers(|h| !matches!(h, Held::Job { job, .. } if *job == n));
            }
            Action::DeliverStale(n) => {
                let message = next.honest[usize::from(n)].stale.pop_front()?;
                if let Ok(Accepted::Duplicate { job, .. }) =
                    next.core.handle_message(next.now, &KeySym::Job(n).public(), message)
                    && let Some(job) = self.index_of(&job)
                {
                    next.monitor.observe(self, &Happening::Duplicate { job });
                }
                self.record(&mut next, Sender::Honest(n), Some(KeySym::Job(n)));
            }
            Action::Forge { .. } | Action::ForgeFirstPayload { .. } | Action::ReplayFirstMessage(_) => {
                let (core, verdict) = attack?;
                next.core = core;
                next.attacker.forged += 1;
                if let Err(refusal) = verdict {
                    next.attacker.refused = true;
                    next.attacker.refusals.extend(refusal);
                }
                self.record(&mut next, Sender::Attacker, action.attack_key());
            }
            Action::Revoke(c) => {
                next.revoked = true;
                next.core.revoke(&self.ids()[usize::from(c)]);
                self.record(&mut next, Sender::Attacker, None);
                next.durability.commit.hold(CommitAnswer::Revocation, Held::Revocation);
            }
            Action::Commit => self.commit(&mut next),
            Action::Crash => {
                let durability = &mut next.durability;
                durability.crashes += 1;
                let crashed = Happening::Crashed {
                    lost: durability.commit.pending_events().len(),
                    told_revoked: durability.told_revoked,
                };
                // A defender never told of its revocation will revoke again.
                next.revoked &= durability.told_revoked;
                durability.commit = protocol_core::commit::Commit::new(self.defences.clone());
                durability.pending.clear();
                next.monitor.observe(self, &crashed);
                // The restart: the core the real restore path rebuilt from the durable log alone.
                if let Some(restored) = &durability.restored {
                    next.core = restored.clone();
                }
                if durability.crashes >= self.bounds.crashes {
                    // The last crash: nothing reads the log again.
                    durability.restored = None;
                }
                for job in &mut next.honest {
                    if job.link.take().is_some() {
                        job.core.handle_disconnect();
                    }
                }
                if let Some(ui) = next.ui.as_mut()
                    && ui.link.take().is_some()
                {
                    ui.core.handle_disconnect();
                }
            }
            Action::Ask(ask) => {
                let target = ask.target(&self.ids()[0]);
                let actor = self.config.workflow.owner().clone();
                let ui = next.ui.as_mut()?;
                ui.asked += 1;
                ui.core.send(actor, protocol_core::wire::CommandOp::Hold, target).ok()?;
            }
            Action::ClientConnect => {
                next.core
                    .handle_handshake(next.now, &KeySym::Client.public(), &[])
                    .ok()?;
                let ui = next.ui.as_mut()?;
                ui.link = Some(Link::default());
                ui.core.handle_connected();
            }
            Action::ClientTransmit => {
                let ui = next.ui.as_mut()?;
                let message = ui.core.poll_transmit()?;
                ui.link.as_mut()?.to_scheduler.push_back(message);
            }
            Action::ClientDeliver => {
                let message = next.ui.as_mut()?.link.as_mut()?.to_scheduler.pop_front()?;
                let seq = message.seq();
                let verdict = next.core.handle_message(next.now, &KeySym::Client.public(), message);
                let (reply, refused) = match verdict {
                    Ok(_) => (Reply::Ack { seq }, None),
                    Err(rejected) => {
                        let code = rejected.code();
                        (Reply::Rejected { seq, code }, Some(code))
                    }
                };
                next.monitor.observe(self, &Happening::CommandAnswered { seq, refused });
                self.record(&mut next, Sender::UiServer, Some(KeySym::Client));
                next.durability.commit.hold(CommitAnswer::Reply, Held::Ui(reply));
            }
            Action::ClientReceive => {
                let ui = next.ui.as_mut()?;
                let reply = ui.link.as_mut()?.to_job.pop_front()?;
                if ui.core.handle_reply(reply).is_err() {
                    // What `SchedulerLink` does with an answer to nothing: drop the connection.
                    ui.link = None;
                    ui.core.handle_disconnect();
                }
            }
            Action::ClientSever => {
                next.attacker.severed += 1;
                let ui = next.ui.as_mut()?;
                ui.link = None;
                ui.core.handle_disconnect();
                next.durability.commit.retain_answers(|h| !matches!(h, Held::Ui(_)));
            }
        }
        // What a flawed policy releases before any write goes out at once.
        while let Some(held) = next.durability.commit.poll_release() {
            Self::release(&mut next, held);
        }
        if !self.crash_possible(&next) {
            // No crash left to fall between an event and its write, so when the write happens
            // can change nothing a property reads (an answer waiting for it and one already on
            // its way are lost alike by a cut): every step ends durable.
            self.commit(&mut next);
        }
        Some(next)
    }

    /// What an attacker's message does to `core`: `Err` with the witnessed refusal branch (if
    /// it is one) when the core refused it.
    fn send_attack(&self, core: &mut SchedulerCore, now: Millis, action: Action) -> Result<(), Option<Refusal>> {
        match action {
            Action::Forge { key, claim, body, seq } => core
                .handle_handshake(now, &key.public(), &[])
                .and_then(|_| core.handle_message(now, &key.public(), self.message(claim, body, seq)))
                .map(|_| ())
                .map_err(|rejected| Refusal::witnessed(&rejected)),
            Action::ForgeFirstPayload { key, claim, body, seq } => {
                let payload = self.message(claim, body, seq).to_bytes();
                // A session that never read the payload refused it too, with no branch shown.
                match core.handle_handshake(now, &key.public(), &payload) {
                    Ok(session) => match session.first_payload {
                        Some(Ok(_)) => Ok(()),
                        Some(Err(rejected)) => Err(Refusal::witnessed(&rejected)),
                        None => Err(None),
                    },
                    Err(rejected) => Err(Refusal::witnessed(&rejected)),
                }
            }
            // Whatever the scheduler answers goes to an attacker who cannot use it; only what
            // the handshake does to the core matters.
            Action::ReplayFirstMessage(n) => core
                .handle_handshake(now, &KeySym::Job(n).public(), &[])
                .map(|_| ())
                .map_err(|rejected| Refusal::witnessed(&rejected)),
            _ => Ok(()),
        }
    }

    /// Whether a crash may still come (only then does anything read the durable log, or can
    /// the moment of a write make a difference).
    fn crash_possible(&self, state: &State) -> bool {
        state.durability.crashes < self.bounds.crashes
    }

    /// The pending group commit becomes durable: its events join the log (and their
    /// happenings the monitor), then its answers go out.
    fn commit(&self, state: &mut State) {
        let Some(batch) = state.durability.commit.poll_commit() else {
            return;
        };
        if let Some(restored) = state.durability.restored.as_mut() {
            for event in &batch.events {
                restored.restore(event);
            }
        }
        for happening in std::mem::take(&mut state.durability.pending) {
            state.monitor.observe(self, &happening);
        }
        for held in batch.answers {
            Self::release(state, held);
        }
    }

    /// An answer reaches its receiver.
    fn release(state: &mut State, held: Held) {
        match held {
            Held::Job { job, reply } => {
                if let Some(link) = state.honest.get_mut(usize::from(job)).and_then(|j| j.link.as_mut()) {
                    link.to_job.push_back(reply);
                }
            }
            Held::Ui(reply) => {
                if let Some(link) = state.ui.as_mut().and_then(|ui| ui.link.as_mut()) {
                    link.to_job.push_back(reply);
                }
            }
            Held::Registration { job, registered } => {
                if let Some(honest) = state.honest.get_mut(usize::from(job)) {
                    honest.registered = registered;
                    honest.stopped = !registered;
                }
            }
            Held::Revocation => state.durability.told_revoked = true,
        }
    }

    /// Hands the core's new events to the durability policy, their happenings waiting beside
    /// them for the monitor; accepted messages are attributed to the party that built them and
    /// the session key they arrived on.
    fn record(&self, state: &mut State, sender: Sender, key: Option<KeySym>) {
        while let Some(event) = state.core.poll_event() {
            let index = |id| self.index_of(id);
            let happening = match &event {
                Event::Accepted { job, seq, body } => index(job).map(|job| Happening::Accepted {
                    job,
                    seq: *seq,
                    body: body.clone(),
                    sender,
                    key,
                }),
                Event::Registered { job, key } => index(job).map(|job| Happening::Registered {
                    job,
                    key: KeySym::from_public(key, self.job_count()),
                    late: state.now > self.deadline(),
                }),
                Event::LaunchFailed { job, .. } => index(job).map(|job| Happening::LaunchFailed { job }),
                Event::Commanded { key, .. } => Some(Happening::Commanded {
                    key: KeySym::from_public(key, self.job_count()),
                }),
                Event::Revoked {
                    job,
                    reason: RevokeReason::Operator,
                } => index(job).map(|job| Happening::Revoked { job }),
                _ => None,
            };
            state.durability.pending.extend(happening);
            state.durability.commit.handle_event(event);
        }
    }
}
