//! Counterexamples as people read them: who did what, step by step (for the job channel; each
//! model implements [`crate::run::Explain`]).

use serde::Serialize;

use crate::channel::{Action, Body, ChannelModel, KeySym};

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceStep {
    /// Who acts: `scheduler`, `job h0`, `attacker`, `defender`, `clock`.
    pub actor: String,
    /// What kind of step.
    pub label: String,
    /// The step in a sentence.
    pub detail: String,
}

fn job_name(model: &ChannelModel, n: u8) -> String {
    model
        .ids()
        .get(usize::from(n))
        .map_or_else(|| format!("job {n}"), |id| format!("job {}", id.task()))
}

fn key_name(model: &ChannelModel, key: KeySym) -> String {
    match key {
        KeySym::Scheduler => "the scheduler's key".into(),
        KeySym::Job(n) => format!("{}'s key", job_name(model, n)),
        KeySym::Attacker => "the attacker's own key".into(),
        KeySym::LowOrder => "a low-order point".into(),
        KeySym::Client => "the UI server's key".into(),
    }
}

fn body_name(body: Body) -> &'static str {
    match body {
        Body::Started => "started",
        Body::Heartbeat => "heartbeat",
        Body::SucceededOutput => "output(succeeded)",
        Body::Succeeded => "succeeded",
        Body::Failed => "failed",
        Body::DeclaredOutput => "output(file-ready)",
        Body::UndeclaredOutput => "output(never-declared)",
        Body::Command => "a command (stop *)",
    }
}

fn step(model: &ChannelModel, action: &Action) -> TraceStep {
    let (actor, label, detail) = match *action {
        Action::KeyReply { job, key } if key == KeySym::Job(job) => (
            job_name(model, job),
            "key reply".to_owned(),
            format!(
                "{} answers on the bootstrap channel with its own public key",
                job_name(model, job)
            ),
        ),
        Action::KeyReply { job, key } => (
            if model.is_honest(job) {
                "attacker".to_owned()
            } else {
                job_name(model, job)
            },
            "key reply".to_owned(),
            format!(
                "the key reply for {} carries {}",
                job_name(model, job),
                key_name(model, key)
            ),
        ),
        Action::DeadlinePasses => ("clock".into(), "deadline".into(), "the launch deadline passes".into()),
        Action::ReadJobHostFiles => (
            "attacker".into(),
            "read files".into(),
            "the attacker reads the job host's files, private keys included".into(),
        ),
        Action::Connect(n) => (
            job_name(model, n),
            "connect".into(),
            "handshake (Noise IK) with its own key".into(),
        ),
        Action::Transmit(n) => (
            job_name(model, n),
            "send".into(),
            "sends its next unacknowledged message".into(),
        ),
        Action::Deliver(n) => (
            "scheduler".into(),
            "accept?".into(),
            format!(
                "reads {}'s next message through the acceptance pipeline",
                job_name(model, n)
            ),
        ),
        Action::Receive(n) => (job_name(model, n), "reply".into(), "reads the scheduler's reply".into()),
        Action::Sever(n) => (
            "attacker".into(),
            "cut".into(),
            format!("cuts {}'s connection; everything in flight is lost", job_name(model, n)),
        ),
        Action::Abandon(n) => (
            "attacker".into(),
            "stall".into(),
            format!(
                "stalls {}'s connection until the job gives up on it and reconnects; what it wrote is still on its way",
                job_name(model, n)
            ),
        ),
        Action::DeliverStale(n) => (
            "scheduler".into(),
            "accept?".into(),
            format!(
                "reads the oldest message still in flight on a connection {} gave up on; its answer reaches nobody",
                job_name(model, n)
            ),
        ),
        Action::Forge {
            key,
            body: Body::Command,
            seq,
            ..
        } => (
            "attacker".into(),
            "forge".into(),
            format!(
                "opens a session with {} and sends {} #{seq} in the workflow owner's name",
                key_name(model, key),
                body_name(Body::Command),
            ),
        ),
        Action::Forge { key, claim, body, seq } => (
            "attacker".into(),
            "forge".into(),
            format!(
                "opens a session with {} and sends {} #{seq} claiming to be {}",
                key_name(model, key),
                body_name(body),
                job_name(model, claim)
            ),
        ),
        Action::ForgeFirstPayload { key, claim, body, seq } => (
            "attacker".into(),
            "forge handshake".into(),
            format!(
                "with the scheduler's key, forges a first handshake message as {} carrying {} #{seq} for {}",
                key_name(model, key),
                body_name(body),
                job_name(model, claim)
            ),
        ),
        Action::ReplayFirstMessage(n) => (
            "attacker".into(),
            "replay".into(),
            format!(
                "replays {}'s captured first handshake message; the answer is useless without its keys",
                job_name(model, n)
            ),
        ),
        Action::Commit => (
            "scheduler".into(),
            "commit".into(),
            "makes its pending events durable, then sends the answers that waited for them".into(),
        ),
        Action::Crash => (
            "scheduler".into(),
            "crash".into(),
            "crashes, losing what was not yet durable, and restarts from its event log".into(),
        ),
        Action::Revoke(n) => (
            "defender".into(),
            "revoke".into(),
            format!("revokes {}'s key", job_name(model, n)),
        ),
        Action::Ask(ask) => (
            "person".into(),
            "ask".into(),
            format!("asks the UI server to hold {}", ask.target(&model.ids()[0])),
        ),
        Action::ClientConnect => (
            "ui server".into(),
            "connect".into(),
            "handshake (Noise IK) with its client key".into(),
        ),
        Action::ClientTransmit => (
            "ui server".into(),
            "send".into(),
            "sends the command in flight, numbering the next one if none is".into(),
        ),
        Action::ClientDeliver => (
            "scheduler".into(),
            "accept?".into(),
            "reads the UI server's next command through the client pipeline".into(),
        ),
        Action::ClientReceive => ("ui server".into(), "reply".into(), "reads the scheduler's reply".into()),
        Action::ClientSever => (
            "attacker".into(),
            "cut".into(),
            "cuts the UI server's connection; everything in flight is lost".into(),
        ),
    };
    TraceStep { actor, label, detail }
}

impl crate::run::Explain for ChannelModel {
    fn describe(&self, actions: &[Action]) -> Vec<TraceStep> {
        actions.iter().map(|a| step(self, a)).collect()
    }

    fn bound(&self) -> String {
        let b = self.bounds;
        format!(
            "{} honest job(s){}, {} forged message(s), {} cut connection(s){}{}{}",
            b.honest_jobs,
            if b.compromised_job {
                " and 1 compromised job"
            } else {
                ""
            },
            b.forgeries,
            b.severs,
            if b.revocation { ", revocation" } else { "" },
            if b.deadline { ", launch deadlines" } else { "" },
            if b.commands > 0 {
                format!(", {} command(s) through a UI server", b.commands)
            } else {
                String::new()
            }
        )
    }
}
