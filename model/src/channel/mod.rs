//! The job channel as a model: the scheduler core and job cores from `protocol-core`, the
//! bootstrap channel, Noise sessions (symbolic), and a Dolev-Yao attacker who controls the
//! network and, optionally, one compromised job.
//!
//! Crypto is symbolic: a session's messages cannot be read, altered, replayed or reordered by
//! anyone without its keys (the attacker may only cut it), and the attacker can open a session
//! as a key only if it holds that key's private half (or the key is a low-order point). Every
//! acceptance decision is the real core's.

mod actions;
pub mod monitor;
pub mod properties;
mod state;

use std::collections::BTreeSet;
use std::time::Duration;

use protocol_core::command::CommandCore;
use protocol_core::job::JobCore;
use protocol_core::scheduler::{JobSpec, SchedulerConfig, SchedulerCore};
use protocol_core::wire::{JobBody, OutputName};
use protocol_core::{Defences, JobId, Millis, WorkflowId};
use serde::Serialize;
use stateright::{Model, Property};

pub use actions::Action;
pub use monitor::{JobWatch, Monitor, Plans};
pub use properties::names;
pub use state::{
    Ask, Attacker, Body, Durability, Happening, Held, HonestJob, KeySym, Link, Refusal, Sender, State, UiServer,
};

/// The de-duplication window (and a job's limit on unacknowledged messages) in the model.
pub const DEDUP_WINDOW: u64 = 2;

/// What the world around the protocol is like: the design-level variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Environment {
    /// Cylc 7's scheme: the scheduler makes each job's keypair and ships the private key to the
    /// job host, where it sits in a file the attacker's foothold there can read.
    pub cylc7_key_shipping: bool,
    /// The job's key reply crosses the network instead of the launch channel, so the attacker
    /// can substitute its own key.
    pub unauthenticated_bootstrap: bool,
    /// The attacker has learnt the scheduler's private key (key-compromise impersonation).
    pub scheduler_key_leaked: bool,
}

/// How far the checker explores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Bounds {
    /// Honest jobs (0 to 2).
    pub honest_jobs: u8,
    /// Whether a third job is compromised (the attacker holds its keys and answers its
    /// bootstrap).
    pub compromised_job: bool,
    /// Messages the attacker may send.
    pub forgeries: u8,
    /// Connections the attacker may cut.
    pub severs: u8,
    /// Whether the defender may revoke the compromised job's key.
    pub revocation: bool,
    /// Whether launch deadlines may pass.
    pub deadline: bool,
    /// Commands people may ask the honest UI server for (0: no UI server).
    pub commands: u8,
    /// Times the scheduler may crash and restart from its log (0: every step's events are
    /// durable at its end, and nothing is lost).
    pub crashes: u8,
}

impl Bounds {
    /// The default proof bound: two honest jobs with their whole lifecycles (three and two
    /// messages, through a de-duplication window of two that evicts), one compromised job,
    /// three forged messages (each any job-message kind with the claimed job's last, next,
    /// next-but-one or a far-ahead sequence number, or a replay of an honest job's captured
    /// first handshake message), two cut or stalled connections (a stalled one keeps delivering
    /// beside the job's next), revocation and deadlines (about 1.23 million states; 41 s on 2
    /// cores).
    pub const PROOF: Self = Self {
        honest_jobs: 2,
        compromised_job: true,
        forgeries: 3,
        severs: 2,
        revocation: true,
        deadline: true,
        commands: 0,
        crashes: 0,
    };

    /// The proof bound of the key-compromise run (the scheduler's private key leaked): the
    /// attacker's extra power multiplies the branching, so it keeps [`Self::PROOF`]'s forgeries
    /// (what KCI is about) with one cut connection (about 226,000 states, 33 s).
    pub const KCI: Self = Self {
        severs: 1,
        ..Self::PROOF
    };

    /// The proof bound of the command channel: the UI server asked for four commands (each on a
    /// task that exists or one that does not) beside one honest job's whole lifecycle, one cut
    /// connection, and one message from the compromised job (a command on its own key among
    /// them), with revocation and deadlines (about 756,000 states, 17 s).
    pub const COMMANDS: Self = Self {
        honest_jobs: 1,
        compromised_job: true,
        forgeries: 1,
        severs: 1,
        revocation: true,
        deadline: true,
        commands: 4,
        crashes: 0,
    };

    /// The quick bound of the command channel.
    pub const COMMANDS_QUICK: Self = Self {
        commands: 2,
        ..Self::COMMANDS
    };

    /// The proof bound of crashes and restarts: two honest jobs with their whole lifecycles,
    /// the compromised job with one forged message, one cut connection, revocation, and one
    /// crash at any point, with every group commit an explicit step until the crash (so a
    /// crash can fall between an event and its durability): about 1.17 million states, 52 s.
    pub const CRASH: Self = Self {
        honest_jobs: 2,
        compromised_job: true,
        forgeries: 1,
        severs: 1,
        revocation: true,
        deadline: false,
        commands: 0,
        crashes: 1,
    };

    /// The quick bound of crashes and restarts.
    pub const CRASH_QUICK: Self = Self {
        honest_jobs: 1,
        severs: 0,
        ..Self::CRASH
    };

    /// The bound for pull requests (`--quick`) and for attack searches: every variant's attack
    /// is within it. One honest job with its whole lifecycle and the default proof's attacker
    /// (about 54,000 states, a few seconds).
    pub const QUICK: Self = Self {
        honest_jobs: 1,
        compromised_job: true,
        forgeries: 3,
        severs: 2,
        revocation: true,
        deadline: true,
        commands: 0,
        crashes: 0,
    };
}

/// The model. See the module documentation.
#[derive(Debug, Clone)]
pub struct ChannelModel {
    /// The defences the scheduler core is built with.
    pub defences: Defences,
    /// The environment.
    pub env: Environment,
    /// The bounds.
    pub bounds: Bounds,
    config: SchedulerConfig,
    ids: Vec<JobId>,
}

/// What each honest job reports: enough to exercise every state and a retransmission of a
/// message that is allowed twice (the heartbeat).
fn plan(job: u8) -> Vec<JobBody> {
    match job {
        0 => vec![JobBody::Started, JobBody::Heartbeat, JobBody::Succeeded],
        _ => vec![JobBody::Started, JobBody::Succeeded],
    }
}

impl ChannelModel {
    /// A model of the scheduler with `defences`, in `env`, explored within `bounds`.
    #[must_use]
    pub fn new(defences: Defences, env: Environment, bounds: Bounds) -> Self {
        let workflow = WorkflowId::new("alice", "wf").expect("a valid constant");
        let mut config = SchedulerConfig::new(workflow.clone());
        config.bootstrap_timeout = Duration::from_secs(30);
        // Small enough that a three-message job's window evicts; the job keeps at most this many
        // unacknowledged, as SPEC.md §7 ties the two together.
        config.dedup_window = DEDUP_WINDOW;
        let jobs = bounds.honest_jobs + u8::from(bounds.compromised_job);
        let ids = (0..jobs)
            .map(|n| {
                let task = if bounds.compromised_job && n == jobs - 1 {
                    "c".to_owned()
                } else {
                    format!("h{n}")
                };
                JobId::new(workflow.clone(), "1", &task, 1).expect("a valid constant")
            })
            .collect();
        Self {
            defences,
            env,
            bounds,
            config,
            ids,
        }
    }

    /// The full defences, the standard environment, the proof bound.
    #[must_use]
    pub fn standard() -> Self {
        Self::new(Defences::all(), Environment::default(), Bounds::PROOF)
    }

    /// Every job id, by index.
    #[must_use]
    pub fn ids(&self) -> &[JobId] {
        &self.ids
    }

    /// How many jobs there are.
    #[must_use]
    pub fn job_count(&self) -> u8 {
        u8::try_from(self.ids.len()).unwrap_or(u8::MAX)
    }

    /// The index of the compromised job, if there is one.
    #[must_use]
    pub fn compromised(&self) -> Option<u8> {
        self.bounds.compromised_job.then(|| self.job_count() - 1)
    }

    /// Whether job `n` is honest.
    #[must_use]
    pub fn is_honest(&self, n: u8) -> bool {
        n < self.bounds.honest_jobs
    }

    /// The index of a job id.
    #[must_use]
    pub fn index_of(&self, id: &JobId) -> Option<u8> {
        self.ids.iter().position(|i| i == id).and_then(|p| u8::try_from(p).ok())
    }

    /// The launch deadline every job shares (all are launched at time 0).
    #[must_use]
    pub fn deadline(&self) -> Millis {
        Millis(0).after(self.config.bootstrap_timeout)
    }

    /// What honest job `n` reports.
    #[must_use]
    pub fn plan(&self, n: u8) -> Vec<JobBody> {
        plan(n)
    }

    fn initial(&self) -> State {
        let mut core = SchedulerCore::with_defences(self.config.clone(), self.defences.clone());
        let declared: BTreeSet<OutputName> = BTreeSet::from([OutputName::new("file-ready").expect("a valid constant")]);
        for id in &self.ids {
            // Launching cannot fail here: distinct ids of this workflow, no reserved outputs.
            let _ = core.launch(
                Millis(0),
                JobSpec {
                    id: id.clone(),
                    outputs: declared.clone(),
                },
            );
        }
        let ui = (self.bounds.commands > 0).then(|| {
            let owner = self.config.workflow.owner().clone();
            // A fresh, valid, unique key: registration cannot fail.
            let _ = core.register_client(*KeySym::Client.public().as_bytes(), owner);
            UiServer {
                core: CommandCore::with_defences(self.defences.clone()),
                link: None,
                asked: 0,
            }
        });
        // The launches (and the UI server's registration) are the initial state: durable
        // before anything happens, and what a restart restores first.
        let mut restored =
            (self.bounds.crashes > 0).then(|| SchedulerCore::with_defences(self.config.clone(), self.defences.clone()));
        while let Some(event) = core.poll_event() {
            if let Some(restored) = restored.as_mut() {
                restored.restore(&event);
            }
        }
        let durability = Durability::new(self.defences.clone(), restored);
        let honest = (0..self.bounds.honest_jobs)
            .map(|n| {
                let mut job = JobCore::new(self.ids[usize::from(n)].clone(), self.config.dedup_window);
                for body in plan(n) {
                    job.send(body);
                }
                HonestJob {
                    core: job,
                    link: None,
                    registered: false,
                    stopped: false,
                    stale: std::collections::VecDeque::new(),
                    captured: false,
                }
            })
            .collect();
        let mut keys = BTreeSet::from([KeySym::Attacker]);
        if let Some(c) = self.compromised() {
            keys.insert(KeySym::Job(c));
        }
        if self.env.scheduler_key_leaked {
            keys.insert(KeySym::Scheduler);
        }
        State {
            core,
            now: Millis(0),
            honest,
            answered: vec![false; self.ids.len()],
            attacker: Attacker {
                keys,
                ..Attacker::default()
            },
            ui,
            revoked: false,
            monitor: Monitor::new(self.job_count()),
            durability,
        }
    }
}

impl Plans for ChannelModel {
    fn is_honest(&self, n: u8) -> bool {
        Self::is_honest(self, n)
    }

    fn plan_of(&self, n: u8) -> Vec<JobBody> {
        plan(n)
    }
}

impl Model for ChannelModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.enumerate(state, actions);
    }

    fn next_state(&self, state: &State, action: Action) -> Option<State> {
        self.step(state, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(self)
    }
}
