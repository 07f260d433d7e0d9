//! Judging the real system with the model's own properties.
//!
//! The model's properties read a `model::channel::State`: the scheduler core and the monitor
//! folded from what happened. This module builds that state from the real system — the real scheduler's
//! event log, with each event attributed to the replay step that caused it, real keys mapped
//! back to the model's key symbols, and a core restored from the translated log — and then runs
//! the model's property predicates on it, unchanged. A violation found this way is the same
//! violation the model found, observed on the real implementation.

use std::collections::BTreeMap;

use model::channel::{ChannelModel, Happening, KeySym, Monitor, Sender, State};
use protocol_core::job::JobCore;
use protocol_core::scheduler::{Event, RevokeReason, SchedulerConfig, SchedulerCore};
use protocol_core::wire::Reply;
use protocol_core::{JobId, PublicKey};
use stateright::{Expectation, Model};

/// Real events, re-told in the model's terms.
#[derive(Debug)]
pub struct Observer {
    model: ChannelModel,
    symbols: BTreeMap<PublicKey, KeySym>,
    history: Vec<Happening>,
    translated: Vec<Event>,
    /// Whether the launch deadline has passed (registrations after it are late).
    pub deadline_passed: bool,
}

impl Observer {
    /// An observer for `model`, knowing which real key stands for which symbol.
    #[must_use]
    pub fn new(model: ChannelModel, symbols: BTreeMap<PublicKey, KeySym>) -> Self {
        Self {
            model,
            symbols,
            history: Vec::new(),
            translated: Vec::new(),
            deadline_passed: false,
        }
    }

    /// The model.
    #[must_use]
    pub const fn model(&self) -> &ChannelModel {
        &self.model
    }

    fn sym(&self, key: &PublicKey) -> Option<KeySym> {
        self.symbols.get(key).copied()
    }

    /// The bytes the model uses for a real key (unknown keys stay as they are).
    fn symbolic(&self, key: &PublicKey) -> PublicKey {
        self.sym(key).map_or(*key, KeySym::public)
    }

    fn index(&self, job: &JobId) -> Option<u8> {
        self.model.index_of(job)
    }

    /// Takes in the events that make the model's initial state (the launches): they are restored
    /// into the core the properties read, but are not history. Without them the core would hold
    /// no job, and every property that reads the core would hold vacuously on the real system.
    pub fn initial(&mut self, events: &[Event]) {
        self.translated.extend(events.iter().cloned());
    }

    /// Takes in the events one replay step caused: `sender` built any accepted message and
    /// `key` is the session key it came on.
    pub fn record(&mut self, events: &[Event], sender: Sender, key: Option<KeySym>) {
        for event in events {
            let happening = match event {
                Event::Accepted { job, seq, body } => self.index(job).map(|job| Happening::Accepted {
                    job,
                    seq: *seq,
                    body: body.clone(),
                    sender,
                    key,
                }),
                Event::Registered { job, key } => self.index(job).map(|job| Happening::Registered {
                    job,
                    key: self.sym(key),
                    late: self.deadline_passed,
                }),
                Event::LaunchFailed { job, .. } => self.index(job).map(|job| Happening::LaunchFailed { job }),
                Event::Commanded { key, .. } => Some(Happening::Commanded { key: self.sym(key) }),
                Event::Revoked {
                    job,
                    reason: RevokeReason::Operator,
                } => self.index(job).map(|job| Happening::Revoked { job }),
                _ => None,
            };
            self.history.extend(happening);
            // Real keys become the model's symbols; everything else is as logged.
            let mut translated = event.clone();
            if let Event::Registered { key, .. } | Event::Commanded { key, .. } = &mut translated {
                *key = self.symbolic(key);
            }
            self.translated.push(translated);
        }
    }

    /// The scheduler answered the UI server's command with `reply`.
    pub fn command_answered(&mut self, reply: Reply) {
        let (seq, refused) = match reply {
            Reply::Ack { seq } => (seq, None),
            Reply::Rejected { seq, code } => (seq, Some(code)),
        };
        self.history.push(Happening::CommandAnswered { seq, refused });
    }

    /// A retransmission of `job`'s was acknowledged without effect.
    pub fn duplicate(&mut self, job: u8) {
        self.history.push(Happening::Duplicate { job });
    }

    /// The model state the real system is in: the model's initial state with the real
    /// history, a core restored from the real (translated) log, and the honest jobs' cores.
    #[must_use]
    pub fn state(&self, honest: &[JobCore]) -> State {
        let mut core = SchedulerCore::with_defences(
            SchedulerConfig::new(crate::live::target::workflow()),
            self.model.defences.clone(),
        );
        for event in &self.translated {
            core.restore(event);
        }
        let mut state = self
            .model
            .init_states()
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable_state(&self.model));
        state.core = core;
        state.monitor = Monitor::of(self.model.job_count(), &self.model, &self.history);
        for (slot, job) in state.honest.iter_mut().zip(honest) {
            slot.core = job.clone();
        }
        state
    }

    /// The model's `always` properties that the real system's state violates, by name.
    #[must_use]
    pub fn violated(&self, honest: &[JobCore]) -> Vec<&'static str> {
        let state = self.state(honest);
        self.model
            .properties()
            .into_iter()
            .filter(|p| matches!(p.expectation, Expectation::Always))
            .filter(|p| !(p.condition)(&self.model, &state))
            .map(|p| p.name)
            .collect()
    }
}

/// The channel model always has exactly one initial state; this is never called.
fn unreachable_state(model: &ChannelModel) -> State {
    State {
        core: SchedulerCore::with_defences(
            SchedulerConfig::new(crate::live::target::workflow()),
            model.defences.clone(),
        ),
        now: protocol_core::Millis(0),
        honest: Vec::new(),
        answered: Vec::new(),
        attacker: model::channel::Attacker::default(),
        ui: None,
        revoked: false,
        monitor: Monitor::new(model.job_count()),
        durability: model::channel::Durability::new(model.defences.clone(), None),
    }
}
