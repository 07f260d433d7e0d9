//! Driving a real scheduler through a model counterexample, one action at a time.
//!
//! | model action | on the real system |
//! |---|---|
//! | `KeyReply { job, key }` | a scripted launcher answers the job's launch with the real bytes of `key` (a real keypair per symbol; `LowOrder` is all zeros) |
//! | `DeadlinePasses` | the real bootstrap deadline (short in these runs) elapses |
//! | `Connect(n)` | honest job `n` completes a real Noise IK handshake over TCP |
//! | `Transmit(n)` | its real job core's next message is encrypted and put on the (attacker-held) wire |
//! | `Deliver(n)` | the next frame on that wire is written to the scheduler's socket and its reply read |
//! | `Receive(n)` | the job decrypts the next reply and feeds it to its job core |
//! | `Sever(n)` | the TCP connection is dropped with whatever was in flight |
//! | `Abandon(n)` | the job's core gives up on its connection and reconnects; the socket stays open with its frames |
//! | `DeliverStale(n)` | the next frame on the oldest such socket is written to the scheduler; its reply is read and dropped |
//! | `Forge { key, .. }` | a real Noise session with `key`'s real keypair sends the message |
//! | `ForgeFirstPayload { key, .. }` | a real key-compromise-impersonation first message made with the scheduler's private key ([`crate::live::forge`]) |
//! | `Revoke(n)` | `SchedulerHandle::revoke` |
//! | `Ask(ask)` | the UI server's real command core (`protocol_core::command`, built with the run's defences) queues `hold` on the target |
//! | `ClientConnect` | a real Noise IK handshake with the UI server's client key, registered through `SchedulerHandle::register_client` |
//! | `ClientTransmit` | the command core's next message is encrypted and put on the wire |
//! | `ClientDeliver` | the next frame is written to the scheduler's socket; its reply is read and decrypted (the scheduler's verdict) |
//! | `ClientReceive` | the command core takes that reply |
//! | `ClientSever` | the UI server's connection is dropped |
//!
//! After every step the replay reads what the real scheduler made durable and hands it to the
//! [`Observer`], which judges it with the model's own properties.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use model::channel::{Action, ChannelModel, KeySym, Sender};
use protocol_core::command::CommandCore;
use protocol_core::job::JobCore;
use protocol_core::noise::{Transport, prologue};
use protocol_core::scheduler::Event;
use protocol_core::wire::{CommandOp, JobBody, Message, RejectCode, Reply};
use protocol_core::{JobId, PublicKey, StaticKeypair};
use protocol_net::StatsSnapshot;
use protocol_net::client::connect_to;
use protocol_net::framing::{FrameReader, write_frame};
use tokio::net::TcpStream;

use super::observe::Observer;
use crate::harness::HarnessError;
use crate::live::forge::{kci_first_message, low_order_first_message};
use crate::live::launch::ScriptedLauncher;
use crate::live::peer::{Session, closed_by_peer};
use crate::live::target::{Target, TargetConfig, spec, workflow};
use crate::live::wait_for;

/// How long any one step may wait for the scheduler.
const STEP_LIMIT: Duration = Duration::from_secs(2);

/// An honest job's connection: the socket, and the frames the network holds each way.
struct Link {
    stream: TcpStream,
    reader: FrameReader,
    transport: Transport,
    to_scheduler: VecDeque<Vec<u8>>,
    to_job: VecDeque<Vec<u8>>,
}

struct Honest {
    core: JobCore,
    link: Option<Link>,
    /// Connections the job gave up on whose frames are still to be delivered, oldest first.
    stale: VecDeque<Link>,
}

/// The UI server's connection: replies are decrypted as they are read (the verdict is the
/// scheduler's at delivery) and handed to the command core on `ClientReceive`.
struct ClientLink {
    stream: TcpStream,
    reader: FrameReader,
    transport: Transport,
    to_scheduler: VecDeque<Vec<u8>>,
    replies: VecDeque<Reply>,
}

/// The UI server, driving the real command core.
struct Client {
    core: CommandCore,
    keypair: StaticKeypair,
    link: Option<ClientLink>,
}

/// What one step did, as the real system showed it.
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    /// Checks whose refusal counters rose during the step.
    pub refused_by: Vec<String>,
    /// Whether a retransmission was acknowledged as a duplicate.
    pub duplicate: bool,
    /// What the acting party saw on the wire or the bootstrap channel.
    pub seen: String,
    /// The durable events the step caused.
    pub events: Vec<Event>,
}

/// A replay in progress against one target.
pub struct Replayer {
    target: Target,
    launcher: ScriptedLauncher,
    ids: Vec<JobId>,
    keys: BTreeMap<KeySym, StaticKeypair>,
    honest: Vec<Honest>,
    client: Option<Client>,
    observer: Observer,
    seen_events: usize,
    launched_at: tokio::time::Instant,
    bootstrap_timeout: Duration,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replayer")
            .field("ids", &self.ids)
            .finish_non_exhaustive()
    }
}

fn delta(before: &StatsSnapshot, after: &StatsSnapshot) -> Vec<String> {
    after
        .rejected_by_check
        .iter()
        .filter(|(name, n)| {
            let was = before
                .rejected_by_check
                .iter()
                .find(|(b, _)| b == name)
                .map_or(0, |(_, n)| *n);
            *n > was
        })
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

/// `message` encrypted for the wire.
fn seal(transport: &mut Transport, message: &Message) -> Result<Vec<u8>, HarnessError> {
    let mut sealed = Vec::new();
    transport
        .encrypt(&message.to_bytes(), &mut sealed)
        .map_err(HarnessError::setup)?;
    Ok(sealed)
}

/// A reply frame decrypted and decoded.
fn open_reply(transport: &mut Transport, frame: &[u8]) -> Result<Reply, HarnessError> {
    let mut plain = Vec::new();
    transport.decrypt(frame, &mut plain).map_err(HarnessError::setup)?;
    Reply::decode(&plain).map_err(HarnessError::setup)
}

/// Writes `frame` to the scheduler and reads the frame it answers with; `who` names the sender.
async fn round_trip(
    stream: &mut TcpStream,
    reader: &mut FrameReader,
    frame: &[u8],
    who: &str,
) -> Result<Vec<u8>, HarnessError> {
    write_frame(stream, frame).await.map_err(HarnessError::setup)?;
    tokio::time::timeout(STEP_LIMIT, reader.read_frame(stream))
        .await
        .map_err(|_| HarnessError::setup(format!("no reply to {who}'s message")))?
        .map_err(|e| HarnessError::setup(format!("{who}'s connection failed: {e}")))
}

fn reply_text(reply: &Reply) -> String {
    match reply {
        Reply::Ack { seq } => format!("acknowledged #{seq}"),
        Reply::Rejected { seq, code } => format!("rejected #{seq} ({})", code_name(*code)),
    }
}

/// SPEC.md §5.4's words for a rejection code.
#[must_use]
pub fn code_name(code: RejectCode) -> &'static str {
    match code {
        RejectCode::UnknownKey => "unknown key",
        RejectCode::RevokedKey => "revoked key",
        RejectCode::IdentityMismatch => "identity mismatch",
        RejectCode::SequenceGap => "sequence gap",
        RejectCode::ReplayedSequence => "replayed sequence",
        RejectCode::TypeNotAllowed => "type not allowed",
        RejectCode::InvalidTransition => "invalid transition",
        RejectCode::NotPermitted => "not permitted",
        RejectCode::OverQuota => "over quota",
    }
}

impl Replayer {
    /// Starts a target with `config` whose jobs are the model's, all launched and waiting for
    /// their bootstrap replies.
    ///
    /// # Errors
    /// [`HarnessError`] if the target does not start.
    pub async fn start(
        model: ChannelModel,
        mut config: TargetConfig,
        short_deadline: bool,
    ) -> Result<Self, HarnessError> {
        config.bootstrap_timeout = if short_deadline {
            Duration::from_millis(400)
        } else {
            Duration::from_secs(30)
        };
        let launcher = ScriptedLauncher::default();
        let target = Target::start_with(
            &config,
            std::sync::Arc::new(launcher.clone()),
            testkit::PresetKeyLauncher::default(),
        )
        .await?;
        let ids = model.ids().to_vec();
        let mut keys = BTreeMap::new();
        for n in 0..model.job_count() {
            keys.insert(KeySym::Job(n), StaticKeypair::generate_from_os());
        }
        keys.insert(KeySym::Attacker, StaticKeypair::generate_from_os());
        let client = if model.bounds.commands > 0 {
            let keypair = StaticKeypair::generate_from_os();
            target
                .handle
                .register_client(keypair.public(), workflow().owner().clone())
                .await?;
            // The UI server's core is built as the run is: with the flaw on the weakened side.
            let core = CommandCore::with_defences(config.defences.clone());
            Some((keypair, core))
        } else {
            None
        };
        let mut symbols: BTreeMap<PublicKey, KeySym> = keys.iter().map(|(s, k)| (k.public(), *s)).collect();
        symbols.insert(target.key(), KeySym::Scheduler);
        symbols.insert(KeySym::LowOrder.public(), KeySym::LowOrder);
        if let Some((keypair, _)) = &client {
            symbols.insert(keypair.public(), KeySym::Client);
        }
        let client = client.map(|(keypair, core)| Client {
            core,
            keypair,
            link: None,
        });
        let honest = (0..model.bounds.honest_jobs)
            .map(|n| {
                let mut core = JobCore::new(ids[usize::from(n)].clone(), 64);
                for body in model.plan(n) {
                    core.send(body);
                }
                Honest {
                    core,
                    link: None,
                    stale: VecDeque::new(),
                }
            })
            .collect();
        for id in &ids {
            target.handle.launch(spec(id)?).await?;
        }
        let launched_at = tokio::time::Instant::now();
        // Everything so far (the launches) is the model's initial state, not history.
        let launches = target.events().await?;
        let seen_events = launches.len();
        let mut observer = Observer::new(model, symbols);
        observer.initial(&launches);
        Ok(Self {
            target,
            launcher,
            ids,
            keys,
            honest,
            client,
            observer,
            seen_events,
            launched_at,
            bootstrap_timeout: config.bootstrap_timeout,
        })
    }

    /// The `always` properties of the model the real system violates now.
    #[must_use]
    pub fn violated(&self) -> Vec<&'static str> {
        let cores: Vec<JobCore> = self.honest.iter().map(|h| h.core.clone()).collect();
        self.observer.violated(&cores)
    }

    /// Stops the target.
    pub async fn finish(self) {
        self.target.shutdown().await;
    }

    fn key_bytes(&self, key: KeySym) -> [u8; 32] {
        match key {
            KeySym::Scheduler => *self.target.key().as_bytes(),
            KeySym::LowOrder => *KeySym::LowOrder.public().as_bytes(),
            other => self.keys.get(&other).map_or([0; 32], |k| *k.public().as_bytes()),
        }
    }

    fn id(&self, n: u8) -> Result<&JobId, HarnessError> {
        self.ids
            .get(usize::from(n))
            .ok_or_else(|| HarnessError::setup(format!("the trace names job {n}, which the model does not have")))
    }

    fn honest(&mut self, n: u8) -> Result<&mut Honest, HarnessError> {
        self.honest
            .get_mut(usize::from(n))
            .ok_or_else(|| HarnessError::setup(format!("the trace drives job {n} as honest, which it is not")))
    }

    fn client(&mut self) -> Result<&mut Client, HarnessError> {
        self.client
            .as_mut()
            .ok_or_else(|| HarnessError::setup("the trace drives a UI server, which this run does not have"))
    }

    fn client_link(&mut self) -> Result<&mut ClientLink, HarnessError> {
        self.client()?
            .link
            .as_mut()
            .ok_or_else(|| HarnessError::setup("the UI server has no connection at this step"))
    }

    fn link(&mut self, n: u8) -> Result<&mut Link, HarnessError> {
        self.honest(n)?
            .link
            .as_mut()
            .ok_or_else(|| HarnessError::setup(format!("job {n} has no connection at this step")))
    }

    /// Performs one action on the real system and records what it did.
    ///
    /// # Errors
    /// [`HarnessError`] when the step cannot be performed as the model describes it (the real
    /// system diverged from the model, e.g. closed a connection the model keeps open).
    pub async fn step(&mut self, action: &Action) -> Result<StepRecord, HarnessError> {
        let before = self.target.stats();
        let mut record = StepRecord::default();
        let (sender, key) = match *action {
            Action::Deliver(n) | Action::DeliverStale(n) => (Sender::Honest(n), Some(KeySym::Job(n))),
            Action::Forge { key, .. } | Action::ForgeFirstPayload { key, .. } => (Sender::Attacker, Some(key)),
            Action::ClientDeliver => (Sender::UiServer, Some(KeySym::Client)),
            _ => (Sender::Attacker, None),
        };
        match *action {
            // The live scheduler commits by itself, and a crash between an event and its write
            // cannot be timed from outside: crash traces are judged by their counterpart.
            Action::ReplayFirstMessage(_) => {
                return Err(HarnessError::setup(
                    "a replayed first message is replayed live by s01-replayed-first-message, not here".to_owned(),
                ));
            }
            Action::Commit | Action::Crash => {
                return Err(HarnessError::setup(
                    "a crash between an event and its write has no live replay".to_owned(),
                ));
            }
            Action::KeyReply { job, key } => {
                let id = self.id(job)?.clone();
                let settled = before.launched + before.launch_failed;
                if !self.launcher.answer(&id, self.key_bytes(key)) {
                    return Err(HarnessError::setup(format!("{id} was not waiting for a key")));
                }
                let handle = self.target.handle.clone();
                if !wait_for(STEP_LIMIT, || {
                    let s = handle.stats();
                    s.launched + s.launch_failed > settled
                })
                .await
                {
                    return Err(HarnessError::setup(format!(
                        "the scheduler did not decide on {id}'s key"
                    )));
                }
                record.seen = if self.target.stats().launched > before.launched {
                    "the key was registered".to_owned()
                } else {
                    "the key was refused and the launch failed".to_owned()
                };
            }
            Action::DeadlinePasses => {
                let due = self.launched_at + self.bootstrap_timeout + Duration::from_millis(150);
                tokio::time::sleep_until(due).await;
                self.observer.deadline_passed = true;
                record.seen = "the launch deadline passed".to_owned();
            }
            Action::ReadJobHostFiles => {
                return Err(HarnessError::setup(
                    "the real system has no job-host key files to read (no counterpart)",
                ));
            }
            Action::Connect(n) => {
                let keypair = self
                    .keys
                    .get(&KeySym::Job(n))
                    .ok_or_else(|| HarnessError::setup("no key for the job"))?;
                let (stream, reader, transport) =
                    connect_to(self.target.addr(), &self.target.key(), &workflow(), keypair, STEP_LIMIT)
                        .await
                        .map_err(|e| HarnessError::setup(format!("job {n}'s handshake failed: {e}")))?;
                let honest = self.honest(n)?;
                honest.core.handle_connected();
                honest.link = Some(Link {
                    stream,
                    reader,
                    transport,
                    to_scheduler: VecDeque::new(),
                    to_job: VecDeque::new(),
                });
                record.seen = "handshake completed".to_owned();
            }
            Action::Transmit(n) => {
                let honest = self.honest(n)?;
                let message = honest
                    .core
                    .poll_transmit()
                    .ok_or_else(|| HarnessError::setup(format!("job {n} had nothing to transmit")))?;
                let link = honest
                    .link
                    .as_mut()
                    .ok_or_else(|| HarnessError::setup(format!("job {n} has no connection")))?;
                link.to_scheduler.push_back(seal(&mut link.transport, &message)?);
                record.seen = format!("#{} on the wire", message.seq());
            }
            Action::Deliver(n) => {
                let link = self.link(n)?;
                let frame = link
                    .to_scheduler
                    .pop_front()
                    .ok_or_else(|| HarnessError::setup(format!("nothing in flight from job {n}")))?;
                let reply = round_trip(&mut link.stream, &mut link.reader, &frame, &format!("job {n}")).await?;
                link.to_job.push_back(reply);
                record.seen = "delivered; the reply is on the wire".to_owned();
            }
            Action::Receive(n) => {
                let honest = self.honest(n)?;
                let link = honest
                    .link
                    .as_mut()
                    .ok_or_else(|| HarnessError::setup(format!("job {n} has no connection")))?;
                let frame = link
                    .to_job
                    .pop_front()
                    .ok_or_else(|| HarnessError::setup(format!("no reply in flight to job {n}")))?;
                let reply = open_reply(&mut link.transport, &frame)?;
                record.seen = reply_text(&reply);
                if honest.core.handle_reply(reply).is_err() {
                    honest.link = None;
                }
            }
            Action::Sever(n) => {
                let honest = self.honest(n)?;
                honest.link = None;
                honest.core.handle_disconnect();
                record.seen = "connection cut".to_owned();
            }
            Action::Abandon(n) => {
                let honest = self.honest(n)?;
                let link = honest
                    .link
                    .take()
                    .ok_or_else(|| HarnessError::setup(format!("job {n} has no connection")))?;
                // The socket stays open with the job's frames on it; the job reconnects.
                honest.stale.push_back(link);
                honest.core.handle_disconnect();
                record.seen = "the job gave up on its connection; its frames are still on their way".to_owned();
            }
            Action::DeliverStale(n) => {
                let honest = self.honest(n)?;
                while honest.stale.front().is_some_and(|l| l.to_scheduler.is_empty()) {
                    honest.stale.pop_front();
                }
                let link = honest
                    .stale
                    .front_mut()
                    .ok_or_else(|| HarnessError::setup(format!("nothing in flight on job {n}'s old connections")))?;
                let frame = link
                    .to_scheduler
                    .pop_front()
                    .ok_or_else(|| HarnessError::setup(format!("nothing in flight on job {n}'s old connection")))?;
                // The scheduler answers on the old connection, which nobody reads any more.
                round_trip(&mut link.stream, &mut link.reader, &frame, &format!("job {n}")).await?;
                record.seen = "delivered on the old connection; its answer reaches nobody".to_owned();
            }
            Action::Forge { key, claim, body, seq } => {
                let forged = body.to_message(self.id(claim)?, seq);
                record.seen = match key {
                    KeySym::LowOrder => {
                        let first = low_order_first_message(&self.target.key(), &prologue(&workflow()), &[])
                            .map_err(HarnessError::setup)?;
                        self.first_message(&first).await?
                    }
                    _ => {
                        let keypair = self
                            .keys
                            .get(&key)
                            .ok_or_else(|| HarnessError::setup("no key for the forger"))?;
                        match Session::open(self.target.addr(), &self.target.key(), &workflow(), keypair).await {
                            Ok(mut session) => match session.exchange(&forged).await {
                                Ok(reply) => reply_text(&reply),
                                Err(e) => format!("the connection failed: {e}"),
                            },
                            Err(_) => "the handshake got no answer".to_owned(),
                        }
                    }
                };
            }
            Action::ForgeFirstPayload { key, claim, body, seq } => {
                let payload = body.to_message(self.id(claim)?, seq).to_bytes();
                let victim = PublicKey::from_trusted_bytes(self.key_bytes(key));
                let first = kci_first_message(
                    self.target.stolen_secret(),
                    &self.target.key(),
                    &victim,
                    &prologue(&workflow()),
                    &payload,
                )
                .map_err(HarnessError::setup)?;
                record.seen = self.first_message(&first).await?;
            }
            Action::Revoke(n) => {
                let id = self.id(n)?.clone();
                let had_key = self.target.handle.revoke(id).await?;
                record.seen = if had_key {
                    "revoked".to_owned()
                } else {
                    "nothing to revoke".to_owned()
                };
            }
            Action::Ask(ask) => {
                let target = ask.target(self.id(0)?);
                let client = self.client()?;
                client
                    .core
                    .send(workflow().owner().clone(), CommandOp::Hold, target.clone())
                    .map_err(HarnessError::setup)?;
                record.seen = format!("hold {target} queued");
            }
            Action::ClientConnect => {
                let (addr, key) = (self.target.addr(), self.target.key());
                let client = self.client()?;
                let (stream, reader, transport) = connect_to(addr, &key, &workflow(), &client.keypair, STEP_LIMIT)
                    .await
                    .map_err(|e| HarnessError::setup(format!("the UI server's handshake failed: {e}")))?;
                client.core.handle_connected();
                client.link = Some(ClientLink {
                    stream,
                    reader,
                    transport,
                    to_scheduler: VecDeque::new(),
                    replies: VecDeque::new(),
                });
                record.seen = "handshake completed".to_owned();
            }
            Action::ClientTransmit => {
                let client = self.client()?;
                let message = client
                    .core
                    .poll_transmit()
                    .ok_or_else(|| HarnessError::setup("the UI server had nothing to transmit"))?;
                let link = client
                    .link
                    .as_mut()
                    .ok_or_else(|| HarnessError::setup("the UI server has no connection"))?;
                link.to_scheduler.push_back(seal(&mut link.transport, &message)?);
                record.seen = format!("command #{} on the wire", message.seq());
            }
            Action::ClientDeliver => {
                let link = self.client_link()?;
                let frame = link
                    .to_scheduler
                    .pop_front()
                    .ok_or_else(|| HarnessError::setup("nothing in flight from the UI server"))?;
                let sealed = round_trip(&mut link.stream, &mut link.reader, &frame, "the UI server").await?;
                // Opened at delivery: the verdict is the scheduler's, whenever the UI server reads it.
                let reply = open_reply(&mut link.transport, &sealed)?;
                record.seen = format!("command {}", reply_text(&reply));
                link.replies.push_back(reply);
                self.observer.command_answered(reply);
            }
            Action::ClientReceive => {
                let client = self.client()?;
                let link = client
                    .link
                    .as_mut()
                    .ok_or_else(|| HarnessError::setup("the UI server has no connection"))?;
                let reply = link
                    .replies
                    .pop_front()
                    .ok_or_else(|| HarnessError::setup("no reply in flight to the UI server"))?;
                record.seen = format!("the UI server read: {}", reply_text(&reply));
                if client.core.handle_reply(reply).is_err() {
                    client.link = None;
                    client.core.handle_disconnect();
                }
            }
            Action::ClientSever => {
                let client = self.client()?;
                client.link = None;
                client.core.handle_disconnect();
                record.seen = "the UI server's connection cut".to_owned();
            }
        }
        let events = self.target.events().await?;
        record.events = events.get(self.seen_events..).unwrap_or_default().to_vec();
        self.seen_events = events.len();
        let after = self.target.stats();
        record.refused_by = delta(&before, &after);
        if let Action::Deliver(n) | Action::DeliverStale(n) = *action
            && after.duplicates > before.duplicates
        {
            record.duplicate = true;
            self.observer.duplicate(n);
        }
        self.observer.record(&record.events, sender, key);
        Ok(record)
    }

    /// Sends a forged first handshake message; returns what the forger saw.
    async fn first_message(&self, first: &[u8]) -> Result<String, HarnessError> {
        let mut stream = TcpStream::connect(self.target.addr()).await?;
        write_frame(&mut stream, first).await.map_err(HarnessError::setup)?;
        // An answer (message 2) means the scheduler went on with the handshake; the forger
        // cannot complete it, but a weakened scheduler has acted on the payload by then.
        let mut reader = FrameReader::new(1024);
        let answered = tokio::time::timeout(STEP_LIMIT, reader.read_frame(&mut stream))
            .await
            .is_ok_and(|r| r.is_ok());
        if !answered {
            closed_by_peer(&mut stream, Duration::from_millis(100)).await;
        }
        // Let the scheduler finish with the payload before reading its log.
        self.target.handle.sync().await?;
        Ok(if answered {
            "the scheduler answered the forged handshake".to_owned()
        } else {
            "the forged handshake got no answer".to_owned()
        })
    }
}

/// A readable account of durable events, in the model's names.
#[must_use]
pub fn describe_events(model: &ChannelModel, events: &[Event], symbols: impl Fn(&PublicKey) -> String) -> String {
    let job = |id: &JobId| {
        model
            .index_of(id)
            .and_then(|i| model.ids().get(usize::from(i)))
            .map_or_else(|| id.to_string(), |id| format!("job {}", id.task()))
    };
    let body = |b: &JobBody| match b {
        JobBody::Output(name) => format!("output({name})"),
        other => other.kind_name().to_owned(),
    };
    let parts: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Registered { job: j, key } => Some(format!("registered {} for {}", symbols(key), job(j))),
            Event::Accepted { job: j, seq, body: b } => Some(format!("accepted {} #{seq} for {}", body(b), job(j))),
            Event::Commanded {
                key, op, target, seq, ..
            } => Some(format!(
                "applied command #{seq} ({} {target}) from {}",
                op.name(),
                symbols(key)
            )),
            Event::LaunchFailed { job: j, .. } => Some(format!("failed {}'s launch", job(j))),
            Event::Revoked { job: j, reason } => Some(format!(
                "retired {}'s key ({})",
                job(j),
                match reason {
                    protocol_core::scheduler::RevokeReason::Operator => "revoked",
                    protocol_core::scheduler::RevokeReason::Terminal => "terminal",
                }
            )),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        "nothing new".to_owned()
    } else {
        parts.join(", ")
    }
}

impl Replayer {
    /// The model's name for a real key.
    #[must_use]
    pub fn key_name(&self, key: &PublicKey) -> String {
        if *key == self.target.key() {
            return "the scheduler's key".to_owned();
        }
        if key.as_bytes() == KeySym::LowOrder.public().as_bytes() {
            return "a low-order point".to_owned();
        }
        match self.keys.iter().find(|(_, k)| k.public() == *key).map(|(s, _)| *s) {
            Some(KeySym::Job(n)) => self
                .ids
                .get(usize::from(n))
                .map_or_else(|| format!("job {n}'s key"), |id| format!("job {}'s key", id.task())),
            Some(KeySym::Attacker) => "the attacker's own key".to_owned(),
            _ if self.client.as_ref().is_some_and(|c| c.keypair.public() == *key) => "the UI server's key".to_owned(),
            _ => "an unknown key".to_owned(),
        }
    }

    /// The model.
    #[must_use]
    pub const fn model(&self) -> &ChannelModel {
        self.observer.model()
    }
}
