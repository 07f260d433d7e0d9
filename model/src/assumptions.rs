//! What the models abstract, as data: each assumption a proof rests on, in words a reviewer can
//! check against the model's code, what covers the abstracted part instead, and the properties
//! (and so, through the threat model's citations, the threats) that rest on it. The reports
//! print this beside the proofs, so a property's "holds" is never read as more than it is.

use crate::property::Property;
use crate::variants::ModelKind;

/// One assumption of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assumption {
    /// Its stable name.
    pub name: &'static str,
    /// The model that makes it.
    pub model: ModelKind,
    /// What the model takes for granted, or leaves out.
    pub statement: &'static str,
    /// What tests the abstracted part instead (empty: nothing does).
    pub covered_by: &'static str,
    /// The properties whose proof rests on it.
    pub properties: &'static [Property],
}

use Property as P;

const CHANNEL_SESSION_PROPERTIES: &[Property] = &[
    P::SenderAuthentication,
    P::InjectiveAgreement,
    P::JobIsolation,
    P::AllowList,
    P::NoAcceptanceAfterRevocation,
    P::NoForgedCompletion,
    P::CommandLiveness,
];

/// The job-channel properties whose proof is an exploration (every one but key-secrecy, which
/// follows from what the attacker starts with): what the bounds and reductions underlie.
const CHANNEL_EXPLORED_PROPERTIES: &[Property] = &[
    P::SenderAuthentication,
    P::InjectiveAgreement,
    P::JobIsolation,
    P::AllowList,
    P::RegistrationBinding,
    P::NoAcceptanceAfterRevocation,
    P::NoForgedCompletion,
    P::KciResistance,
    P::CommandLiveness,
    P::DurableAcknowledgement,
    P::DurableRevocation,
];

/// Every assumption, the job channel's first.
pub const ALL: [Assumption; 11] = [
    Assumption {
        name: "noise-ik-as-authenticated-channels",
        model: ModelKind::Channel,
        statement: "Noise IK is symbolic: a completed handshake is one atomic step that gives both sides a channel bound to the peer's static key, and nobody without that session's keys can read, alter, replay, reorder or inject its messages; the attacker can only cut it. Connecting needs the private half of a registered key (or a low-order point).",
        covered_by: "The SPEC test vectors, the noise_responder and wire_decode fuzz targets, and the live harnesses (s15-bit-flip, s01-garbage-frames) against real snow sessions.",
        properties: CHANNEL_SESSION_PROPERTIES,
    },
    Assumption {
        name: "message-1-replay-and-kci",
        model: ModelKind::Channel,
        statement: "Noise IK's first message is replayable and, to whoever holds the scheduler's private key, forgeable for any job's key (key-compromise impersonation), as the Noise specification grades it. The model gives that forging power only in the channel-kci run, and only for the first message: with the scheduler's private key the attacker can compute message 1's es and ss for any initiator, but not message 2's se (the job's static key with the scheduler's fresh ephemeral), so no session as an honest job completes, and what follows the first payload rests on noise-ik-as-authenticated-channels. A replayed first message is in every run: once an honest job has connected, the attacker may replay its captured first message at any later point (while that connection is up, after it closed, after the job finished, after a restart; a forgery each), and the real core judges the handshake; the answer (message 2) is useless without the job's private keys, so the replay never becomes a session. In the full design the core answers it without changing anything it keeps, so the step is pruned as a no-op (see state-space-reductions); a weakened core that did change on it would be explored. In reality a replay also holds a half-open connection.",
        covered_by: "Harnesses s01-replayed-first-message and s01-held-handshakes (half-open connections are bounded and evicted), and the empty-first-payload variant replayed live.",
        properties: &[P::KciResistance, P::SenderAuthentication],
    },
    Assumption {
        name: "confidential-transport",
        model: ModelKind::Channel,
        statement: "What crosses the network is confidential and the model derives no knowledge from it: the attacker holds exactly the keys it starts with, plus the job host's key files in the Cylc 7 variant. So key-secrecy can fail only where a design ships a private key, which is what it is evidence about.",
        covered_by: "The cylc7-key-shipping counterpart scan (no private key in any file, bootstrap line or packet the real system writes) and the secrets tests (zeroised, never in Debug, logs or errors).",
        properties: &[P::KeySecrecy],
    },
    Assumption {
        name: "authenticated-launch-channel",
        model: ModelKind::Channel,
        statement: "The launch channel (the job's standard input and output through the job runner) is authenticated and private: only the launched job writes its key reply, except in the unauthenticated-bootstrap variant. Time has two values, before and after every launch deadline.",
        covered_by: "Harnesses s15-key-substitution and s12-late-key against the real launcher.",
        properties: &[P::RegistrationBinding],
    },
    Assumption {
        name: "crash-and-restart-abstracted",
        model: ModelKind::Channel,
        statement: "Only the channel-crash run crashes the scheduler (once, at any point); the other runs make every step's events durable at its end. In channel-crash every group commit is an explicit step of the real durability policy (protocol_core::commit, which the server's driver runs) until the crash, and automatic after it: a crash loses the events not yet durable and the answers waiting for them, drops every connection, and the restart takes the core the real restore path rebuilt from the durable events (restored one by one as each became durable, the calls a start-up restore makes). A write is atomic (a torn last line is not modelled), and how a running job learns the restarted scheduler's new key is abstracted: it simply reconnects. The scheduler is never restarted under a UI server.",
        covered_by: "Harness s01-scheduler-restart, the server's restart test (kill -9 at three random points among 100 jobs: nothing acknowledged lost, nothing accepted twice), the event log's torn-final-line test, and the conformance counterpart that reads the log from disk as each answer arrives.",
        properties: &[
            P::InjectiveAgreement,
            P::NoAcceptanceAfterRevocation,
            P::DurableAcknowledgement,
            P::DurableRevocation,
        ],
    },
    Assumption {
        name: "small-channel-bounds",
        model: ModelKind::Channel,
        statement: "The proofs are bounded: two honest jobs (three and two messages), one compromised job, three forged messages and two cut or stalled connections (channel); the same with one and the scheduler's key leaked (channel-kci); four commands from one UI server acting for one person beside one honest job, one cut or stalled connection and one forged message (channel-commands); two honest jobs, the compromised job with one forged message, one cut connection, revocation and one crash (channel-crash). A forged message is any job-message kind (message is left out: like heartbeat it is allowed only while running and changes nothing) with the claimed job's last, next, next-but-one or a far-ahead sequence number, or the next of the job bound to its key. The de-duplication window, and a job's limit on unacknowledged messages, is 2 instead of 64, so it evicts. An honest job's connection is either cut (what was in flight is lost) or stalled until the job gives up on it and reconnects, its unread messages still delivered later, interleaved with the new connection's (one queue per job for every stalled connection, oldest first); the attacker's messages each open a session of their own, and the core keeps no per-connection state (every check reads the job's record, keyed by the session's key), so any number of connections on one key are to it one stream of messages in the order it reads them.",
        covered_by: "The scheduler_ops fuzz target (long random sequences of launches, replies, messages, commands, revocations and restarts against the core's invariants) and the live harnesses, among them s01-scheduler-restart's 502 messages per job.",
        properties: CHANNEL_EXPLORED_PROPERTIES,
    },
    Assumption {
        name: "state-space-reductions",
        model: ModelKind::Channel,
        statement: "Three reductions keep the runs small; none removes a reachable verdict. (1) The properties read a monitor folded from each durable happening (per-job counts, last numbers, closed flags, sticky violation flags) instead of the ordered history, so interleavings that reach the same cores, links and monitor are one state; a unit test checks the fold against the history readings it replaced on every prefix of 20,000 random histories. (2) An attacker's message the real core refuses without changing anything, showing no refusal branch not already shown, is computed and then not explored further: its state is the one it started from with less budget. (3) An honest job's write into its own connection is the only step explored where one is possible (a persistent set of one): it touches only that job's core and the tail of its connection, no other party's step reads either, and a cut, stall or crash after it leaves the job core as one before it (a stall then leaves more of the job's writes on their way, which need never arrive, so the state with fewer is simulated). Commits are explicit steps only while a crash may still come.",
        covered_by: "The monitor's fold test against the history readings; every variant's attack is still found within the quick bound, with the step counts the model tests pin.",
        properties: CHANNEL_EXPLORED_PROPERTIES,
    },
    Assumption {
        name: "one-ui-server-one-command-at-a-time",
        model: ModelKind::Channel,
        statement: "The command channel is checked with the UI server's real command core and the real scheduler core, but the HTTP side (authorisation, audit, the hub's assertion) is not in this model, and the scheduler is not restarted under a UI server.",
        covered_by: "The gateway test that a command the scheduler rejects does not block the next command from anyone, on a live hub, UI server and scheduler.",
        properties: &[P::CommandLiveness],
    },
    Assumption {
        name: "hub-and-ui-server-as-production-composes-them",
        model: ModelKind::People,
        statement: "An operation goes the way production takes it: the hub's SessionManager::authenticate, assertion::vouch and assertion::sign on the request the hub forwards (the command body as uiserver::command_body writes it), then the UI server's assertion::admit (MAC, freshness within production's 30 s, the real replay guard), uiserver::read_command and authorize_vouched, which records before the UI server acts. Abstracted: the hub's CSRF, Origin, rate-limit and block checks (the live harnesses attack them), the operator flag (no operator is configured), the scheduler's answer to a command, and the two processes' separate audit files, which the model keeps as one chain (the conformance replays read both files). A refused token is recorded as the hub guard's refusal record (gateway::refusals::refused); a logout ends the session, then is recorded, as the hub does. The attacker reads the loopback link between hub and UI server: it may copy one forwarded request of its choice and send it to the UI server later, as it was or edited (Write, a nonce of its own); once it holds a copy only the clock and its sending are explored, because nothing else changes what the UI server reads when it judges the copy (later requests add only their own nonces to the guard, the session store is never read by a UI server, the policy changes only at the first step). Neither hub nor UI server crashes between vouching and acting, and the attacker does not hold the hub's original back (a request that never arrives is lost, not forged, and the copy's late delivery is explored).",
        covered_by: "The gateway's assertion tests (signed for one request, stale and replayed assertions refused, the nonce remembered to its window's last instant and forgotten just after), the c09-delegated-credentials harness on a live hub and UI server, and the people conformance replays of assertion-mac, assertion-freshness and assertion-replay on a live hub and UI server with a relay recording the hub's link.",
        properties: &[
            P::HubAssertionAgreement,
            P::ElevationRequired,
            P::AuditBeforeEffect,
            P::TokenConfinement,
            P::FailClosed,
        ],
    },
    Assumption {
        name: "one-policy-one-person",
        model: ModelKind::People,
        statement: "Authorisation is checked over one fixed three-layer policy, one honest person and one attacker; a bug that needs a different policy, not a longer trace, is outside the proof.",
        covered_by: "The authoriser's property tests over generated policies (never above the site limit, a negation never adds a right, nothing outside every grant, nothing above the session's level) and the Cylc policy tests.",
        properties: &[
            P::SiteLimitRespected,
            P::NegationRespected,
            P::FailClosed,
            P::ElevationRequired,
        ],
    },
    Assumption {
        name: "ten-minute-ticks-and-exact-deadlines",
        model: ModelKind::People,
        statement: "Time moves in 10-minute steps against a 15-minute elevation, a 20-minute idle expiry and a 30-minute lifetime (production: 15 minutes, 1 hour, 12 hours; only the order of the boundaries matters to the properties), and the clock may instead jump (spending a step) to the next elevation end or the copied assertion's last fresh instant exactly. So every boundary is crossed in every order, and each is met at its exact millisecond in some run: an elevation's end and an assertion's freshness by a jump, a session's idle timeout and lifetime by the steps in runs without a jump (sessions then open on the steps' grid). One jump per run: a run that needs two exact deadlines is outside the bound.",
        covered_by: "The session manager's tests (an elevation lapses at the exact millisecond its window ends; idle and absolute expiry), the replay guard's test at its window's last instant and just after, and the model's witnesses that an elevated request is denied at the very instant its elevation ends and a copy sent at its last fresh instant is refused as a replay (an off-by-one in either check breaks elevation-required or hub-assertion-agreement).",
        properties: &[P::ElevationRequired, P::TokenConfinement, P::HubAssertionAgreement],
    },
];

/// Every assumption of `model`.
pub fn of(model: ModelKind) -> impl Iterator<Item = &'static Assumption> {
    ALL.iter().filter(move |a| a.model == model)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn assumption_names_are_unique_and_each_names_properties_of_its_own_model() {
        let names: BTreeSet<&str> = ALL.iter().map(|a| a.name).collect();
        assert_eq!(names.len(), ALL.len());
        for a in ALL {
            assert!(!a.properties.is_empty(), "{}", a.name);
            for p in a.properties {
                assert_eq!(p.model(), a.model, "{}: {p}", a.name);
            }
        }
    }

    #[test]
    fn every_channel_property_rests_on_some_assumption() {
        for p in Property::ALL.into_iter().filter(|p| p.model() == ModelKind::Channel) {
            assert!(
                of(ModelKind::Channel).any(|a| a.properties.contains(&p)),
                "{p} rests on nothing stated"
            );
        }
    }
}
