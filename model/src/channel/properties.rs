//! The properties, each a plain sentence, and the `sometimes` witnesses that show the
//! interesting states are reached (a property that holds vacuously proves nothing).

use protocol_core::wire::JobBody;
use stateright::Property;

use super::ChannelModel;
use super::state::{Happening, KeySym, Refusal, State};

/// An accepted message attributed to an honest job was built by that job.
fn sender_authentication(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.forged_sender
}

/// No message takes effect twice, and an honest job's accepted messages are exactly the start
/// of what it sent, in order, however its connections were cut.
fn injective_agreement(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.not_injective
}

/// A message changes only the state of the job whose own key carried it.
fn job_isolation(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.crossed
}

/// Only what a job may report takes effect: no reserved or undeclared output is completed by
/// an `output` message, and no command takes effect unless the UI server's key carried it.
fn allow_list(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.disallowed
}

/// Every command the honest UI server sends is judged on what it asks: none is refused for its
/// sequence number, so a refused command never blocks later ones, from anyone.
fn command_liveness(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.command_blocked
}

/// The registry holds only keys the job made itself, registered before its deadline.
fn registration_binding(model: &ChannelModel, state: &State) -> bool {
    let registry_ok = model.ids().iter().enumerate().all(|(n, id)| {
        state.core.job(id).and_then(|r| r.key()).is_none_or(|key| {
            state.core.binding(&key).is_none_or(|(bound, _)| bound == id)
                && KeySym::from_public(&key, model.job_count()) == u8::try_from(n).ok().map(KeySym::Job)
        })
    });
    !state.monitor.bad_registration && registry_ok
}

/// The attacker never holds the scheduler's private key or an honest job's.
fn key_secrecy(model: &ChannelModel, state: &State) -> bool {
    state.attacker.keys.iter().all(|k| match k {
        KeySym::Scheduler => model.env.scheduler_key_leaked,
        KeySym::Job(n) => !model.is_honest(*n),
        KeySym::Client => false,
        KeySym::Attacker | KeySym::LowOrder => true,
    })
}

/// Nothing takes effect on a job after its key was revoked or after its final message.
fn no_acceptance_after_revocation(_: &ChannelModel, state: &State) -> bool {
    !state.monitor.after_close
}

/// A job is marked succeeded only by an accepted `succeeded` message.
fn no_forged_completion(model: &ChannelModel, state: &State) -> bool {
    model.ids().iter().enumerate().all(|(n, id)| {
        let marked = state
            .core
            .job(id)
            .is_some_and(|r| r.completed_outputs().contains("succeeded"));
        // The core's state includes effects not yet durable, so their happenings count too.
        !marked
            || state.monitor.jobs.get(n).is_some_and(|w| w.succeeded)
            || state.durability.pending.iter().any(
                |h| matches!(h, Happening::Accepted { job, body: JobBody::Succeeded, .. } if usize::from(*job) == n),
            )
    })
}

/// Every acknowledgement an honest job has accepted is of its own message, and that message's
/// acceptance is durable (folded into the monitor, which sees only what the log has made
/// durable).
fn durable_acknowledgement(model: &ChannelModel, state: &State) -> bool {
    state.honest.iter().enumerate().all(|(n, job)| {
        let watch = state.monitor.jobs.get(n).copied().unwrap_or_default();
        let n = u8::try_from(n).unwrap_or(u8::MAX);
        (1..=model.plan(n).len() as u64).all(|seq| !job.core.is_acknowledged(seq) || watch.faithfully_accepted(seq))
    })
}

/// Once the defender has been told its revocation took effect, the compromised job's key is
/// not active in the scheduler, whatever crashes and restarts came after.
fn durable_revocation(model: &ChannelModel, state: &State) -> bool {
    use protocol_core::scheduler::KeyStatus;
    !state.durability.told_revoked
        || model.compromised().is_none_or(|c| {
            state
                .core
                .binding(&KeySym::Job(c).public())
                .is_none_or(|(_, status)| status != KeyStatus::Active)
        })
}

/// Property names, as the threat model cites them.
pub mod names {
    /// See the function of the same name.
    pub const SENDER_AUTHENTICATION: &str = "sender-authentication";
    /// See the function of the same name.
    pub const INJECTIVE_AGREEMENT: &str = "injective-agreement";
    /// See the function of the same name.
    pub const JOB_ISOLATION: &str = "job-isolation";
    /// See the function of the same name.
    pub const ALLOW_LIST: &str = "allow-list";
    /// See the function of the same name.
    pub const REGISTRATION_BINDING: &str = "registration-binding";
    /// See the function of the same name.
    pub const KEY_SECRECY: &str = "key-secrecy";
    /// See the function of the same name.
    pub const NO_ACCEPTANCE_AFTER_REVOCATION: &str = "no-acceptance-after-revocation";
    /// See the function of the same name.
    pub const NO_FORGED_COMPLETION: &str = "no-forged-completion";
    /// Sender authentication when the attacker holds the scheduler's private key.
    pub const KCI_RESISTANCE: &str = "kci-resistance";
    /// See the function of the same name.
    pub const COMMAND_LIVENESS: &str = "command-liveness";
    /// See the function of the same name.
    pub const DURABLE_ACKNOWLEDGEMENT: &str = "durable-acknowledgement";
    /// See the function of the same name.
    pub const DURABLE_REVOCATION: &str = "durable-revocation";

    /// Every property (the key-compromise one is checked only with the scheduler's key leaked,
    /// command liveness only in bounds with a UI server).
    pub const ALL: [&str; 12] = [
        SENDER_AUTHENTICATION,
        INJECTIVE_AGREEMENT,
        JOB_ISOLATION,
        ALLOW_LIST,
        REGISTRATION_BINDING,
        KEY_SECRECY,
        NO_ACCEPTANCE_AFTER_REVOCATION,
        NO_FORGED_COMPLETION,
        KCI_RESISTANCE,
        COMMAND_LIVENESS,
        DURABLE_ACKNOWLEDGEMENT,
        DURABLE_REVOCATION,
    ];

    /// The property in a plain sentence.
    #[must_use]
    pub fn sentence(name: &str) -> Option<&'static str> {
        Some(match name {
            SENDER_AUTHENTICATION => "an accepted message attributed to an honest job was built by that job",
            INJECTIVE_AGREEMENT => {
                "no message takes effect twice, and a job's accepted messages are exactly what it sent, in order, however its connections are cut"
            }
            JOB_ISOLATION => "a message changes only the state of the job whose own key carried it",
            ALLOW_LIST => {
                "only what a job may report takes effect: no reserved or undeclared output is completed, and no command arrives on a job's key"
            }
            REGISTRATION_BINDING => "the registry holds only keys the job made itself, registered before its deadline",
            KEY_SECRECY => "the attacker never holds the scheduler's private key or an honest job's",
            NO_ACCEPTANCE_AFTER_REVOCATION => {
                "nothing takes effect on a job after its key was revoked or after its final message"
            }
            NO_FORGED_COMPLETION => "a job is marked succeeded only by an accepted succeeded message from it",
            COMMAND_LIVENESS => {
                "every command the UI server sends is judged on what it asks, never refused for its sequence number, so a refused command blocks no later one"
            }
            DURABLE_ACKNOWLEDGEMENT => {
                "every acknowledgement an honest job accepts is of its own message, whose acceptance is already durable, so no crash loses what a job was told was taken"
            }
            DURABLE_REVOCATION => "a key the defender was told is revoked stays revoked, across crashes and restarts",
            KCI_RESISTANCE => {
                "an accepted message attributed to an honest job was built by that job, even when the attacker holds the scheduler's private key"
            }
            _ => return None,
        })
    }
}

pub(super) fn all(model: &ChannelModel) -> Vec<Property<ChannelModel>> {
    use names::*;
    let mut props = vec![
        Property::always(
            if model.env.scheduler_key_leaked {
                KCI_RESISTANCE
            } else {
                SENDER_AUTHENTICATION
            },
            sender_authentication,
        ),
        Property::always(INJECTIVE_AGREEMENT, injective_agreement),
        Property::always(JOB_ISOLATION, job_isolation),
        Property::always(ALLOW_LIST, allow_list),
        Property::always(REGISTRATION_BINDING, registration_binding),
        Property::always(KEY_SECRECY, key_secrecy),
        Property::always(NO_ACCEPTANCE_AFTER_REVOCATION, no_acceptance_after_revocation),
        Property::always(NO_FORGED_COMPLETION, no_forged_completion),
        Property::always(DURABLE_ACKNOWLEDGEMENT, durable_acknowledgement),
        Property::always(DURABLE_REVOCATION, durable_revocation),
    ];
    if model.bounds.crashes > 0 && model.bounds.honest_jobs > 0 {
        props.push(Property::sometimes(
            "a crash loses an event that was not yet durable, and an honest job still finishes",
            |_, s: &State| s.monitor.crash_lost && s.honest.first().is_some_and(|j| j.core.is_finished()),
        ));
    }
    if model.bounds.crashes > 0 && model.bounds.revocation && model.bounds.compromised_job {
        props.push(Property::sometimes(
            "the scheduler restarts after the defender was told of its revocation",
            |_, s: &State| s.monitor.crash_after_told_revoked,
        ));
    }
    if model.bounds.honest_jobs > 0 {
        props.push(Property::sometimes(
            "an honest job finishes and its final message is acknowledged",
            |_, s: &State| s.honest.first().is_some_and(|j| j.core.is_finished()),
        ));
        props.push(Property::sometimes(
            "a cut connection's messages are resent and recognised as duplicates",
            |_, s: &State| s.monitor.duplicate,
        ));
    }
    if model.bounds.honest_jobs > 0 && model.bounds.severs > 0 {
        props.push(Property::sometimes(
            "a job's new connection is up while messages from one it gave up on are still on their way",
            // A state, not a flag: a witness kept in the state would split it.
            |_, s: &State| s.honest.iter().any(|j| j.link.is_some() && !j.stale.is_empty()),
        ));
    }
    if model.bounds.forgeries > 0 {
        props.push(Property::sometimes(
            "the scheduler refuses an attacker's message",
            |_, s: &State| s.attacker.refused,
        ));
    }
    if model.bounds.forgeries > 0 && model.bounds.compromised_job {
        props.push(Property::sometimes(
            "a message skipping a sequence number is refused as a gap",
            |_, s: &State| s.attacker.refusals.contains(&Refusal::Gap),
        ));
    }
    if model.bounds.forgeries > 1 && model.bounds.compromised_job {
        // Both need an earlier accepted message (`started`) first.
        props.push(Property::sometimes(
            "an earlier sequence number with other bytes is refused as a replay",
            |_, s: &State| s.attacker.refusals.contains(&Refusal::Replay),
        ));
        props.push(Property::sometimes(
            "an output the task never declared is refused",
            |_, s: &State| s.attacker.refusals.contains(&Refusal::UndeclaredOutput),
        ));
    }
    if model.bounds.forgeries > 2 && model.bounds.compromised_job {
        // started, the output, the output again: three messages.
        props.push(Property::sometimes(
            "an output completed twice is refused",
            |_, s: &State| s.attacker.refusals.contains(&Refusal::CompletedOutput),
        ));
    }
    if model.bounds.honest_jobs > 0 {
        props.push(Property::sometimes(
            "a job's de-duplication window evicts its oldest message",
            |m: &ChannelModel, s: &State| {
                m.ids()
                    .iter()
                    .any(|id| s.core.job(id).is_some_and(|r| r.last_seq() > super::DEDUP_WINDOW))
            },
        ));
    }
    if model.bounds.commands > 0 {
        props.push(Property::always(COMMAND_LIVENESS, command_liveness));
    }
    if model.bounds.commands > 1 {
        props.push(Property::sometimes(
            "a refused command's number is carried by the next command, which is applied",
            |_, s: &State| s.monitor.refused_number_reused,
        ));
    }
    if model.bounds.compromised_job {
        props.push(Property::sometimes(
            "a compromised job's own message takes effect",
            |_, s: &State| s.monitor.attacker_accepted,
        ));
    }
    if model.bounds.revocation && model.bounds.compromised_job {
        props.push(Property::sometimes(
            "the defender revokes the compromised job",
            |_, s: &State| s.revoked,
        ));
    }
    if model.bounds.deadline {
        props.push(Property::sometimes("a launch fails at its deadline", |_, s: &State| {
            s.monitor.launch_failed
        }));
    }
    props
}
