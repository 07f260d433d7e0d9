//! The way an operation travels in production, driven with the real code at each hop: the
//! hub authenticates the token and vouches for the session on the request it forwards
//! (`assertion::vouch`, `assertion::sign`), and the UI server admits the assertion
//! (`assertion::admit`), reads the body (`uiserver::read_command`), then authorises and
//! records (`authorize_vouched`) before it acts. The attacker's copies of forwarded requests
//! come back through [`PeopleModel::deliver`].

use protocol_gateway::assertion::{self, AssertionError};
use protocol_gateway::refusals::refused;
use protocol_gateway::uiserver::{command_body, read_command};
use protocol_people::audit::{Actor, AuditRecord};
use protocol_people::gate::{Vouched, authorize_vouched};
use protocol_people::ops::Operation;
use protocol_people::session::Token;

use super::PeopleModel;
use super::actions::{Op, deny_code};
use super::state::{Aud, Fact, Forwarded, Origin, Party, PolicyVersion, State, Vouch};

/// The hub's route for a workflow, as its guard's refusal records name it.
const HUB_ROUTE: &str = "/o/{owner}/workflows/{*name}";

/// The UI server's path for the model's workflow, as the hub forwards a request to it.
const UI_PATH: &str = "/workflows/clouds";

/// The address every request comes from (the hub's records name it).
pub(super) const SOURCE: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

/// A header whose nonce had two hex digits put in front, cut back to 32 digits (the nonce's
/// first byte is then `ff`, one no forwarded request of the model uses).
pub(super) fn shorten_nonce(header: &str) -> String {
    header
        .split(' ')
        .map(|part| match part.strip_prefix("nonce=") {
            Some(hex) => format!("nonce={}", hex.get(..32).unwrap_or(hex)),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An assertion refusal's code, for traces and witnesses.
const fn assertion_code(e: AssertionError) -> &'static str {
    match e {
        AssertionError::Missing => "missing",
        AssertionError::Malformed => "malformed",
        AssertionError::BadMac => "bad-mac",
        AssertionError::Stale => "stale",
        AssertionError::Replayed => "replayed",
    }
}

impl PeopleModel {
    /// Sends an operation request the way production does: the hub authenticates the token,
    /// vouches for the session on the request it forwards, and the UI server admits and acts
    /// on it ([`Self::deliver`]). Returns whether the token was refused.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn request(
        &self,
        state: &mut State,
        by: Party,
        origin: Origin,
        token: &Token,
        seed: Option<u8>,
        at: Aud,
        op: Op,
        target: Option<&'static str>,
    ) -> bool {
        let now = state.now;
        let method = if op == Op::Read { "GET" } else { "POST" };
        // The hub (`HubState::authenticate`): the token, for this audience.
        let session = match state.sessions.authenticate(now, token, self.audience(at)) {
            Ok(session) => session,
            Err(e) => {
                // The hub's guard records a refusal no handler recorded (`refusal-audit`):
                // nobody, from where, what route, why. The record's fate is the guard's
                // concern; a full log changes nothing the properties judge here.
                let _receipt = state.log.push(&AuditRecord {
                    at: now,
                    actor: Actor::Unauthenticated,
                    source: Some(SOURCE),
                    event: refused(method, HUB_ROUTE, "unauthenticated".to_owned()),
                });
                state.facts.push(Fact::Refused {
                    by,
                    origin,
                    code: e.code(),
                });
                return true;
            }
        };
        Self::honoured(state, by, origin, seed, at);
        // The hub vouches for the session on the request it forwards (`proxy::forward`).
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&now.0.to_be_bytes());
        nonce[8] = state.ui.at_instant;
        state.ui.at_instant = state.ui.at_instant.saturating_add(1);
        let vouched = assertion::vouch(&session, false, now, nonce);
        let body = Self::body(op, target);
        let header = assertion::sign(&self.hub_key, &vouched, method, UI_PATH, &body);
        let mut sent = Forwarded {
            header,
            op,
            target,
            level: session.level,
            at: now,
            token: seed.and_then(|s| state.ledger.get(usize::from(s)).copied()),
            carried: false,
        };
        let header = sent.header.clone();
        sent.carried = self.deliver(state, by, &sent, &header);
        state.ui.last = Some(sent);
        false
    }

    /// The body of the request for `op`: none for a read (`GET`), the command body otherwise.
    fn body(op: Op, target: Option<&str>) -> Vec<u8> {
        if op == Op::Read {
            Vec::new()
        } else {
            command_body(op.operation(), target.unwrap_or_default())
        }
    }

    /// The UI server receives the request `sent` carrying `header`: it admits the assertion
    /// (`assertion::admit`), reads the body as its handler does, then authorises and records
    /// (`authorize_vouched`) before it acts. Returns whether `sent` has now been carried out.
    pub(super) fn deliver(&self, state: &mut State, by: Party, sent: &Forwarded, header: &str) -> bool {
        let now = state.now;
        let method = if sent.op == Op::Read { "GET" } else { "POST" };
        let body = Self::body(sent.op, sent.target);
        let admitted = assertion::admit(
            &self.hub_key,
            &mut state.ui.guard,
            header,
            (method, UI_PATH, &body),
            now,
            super::max_skew(),
            &self.gateway,
        );
        let vouched = match admitted {
            Ok(a) => a,
            Err(e) => {
                state.facts.push(Fact::AssertionRefused {
                    by,
                    code: assertion_code(e),
                    at_edge: now == sent.at.after(super::max_skew()),
                });
                return sent.carried;
            }
        };
        let (operation, target) = if sent.op == Op::Read {
            (Operation::Read, None)
        } else {
            match read_command(&body) {
                Ok((operation, _, target)) => (operation, Some(target)),
                // Answered 400: nothing recorded, nothing done (the model's bodies are well
                // formed, so this shows only if the model or the handler is wrong).
                Err(_) => {
                    state.facts.push(Fact::BadRequest);
                    return sent.carried;
                }
            }
        };
        let policy = state.policy;
        let outcome = authorize_vouched(
            self.authorizer(policy),
            &self.groups,
            &mut state.log,
            now,
            &Vouched {
                user: &vouched.user,
                level: vouched.level,
                workflow: &self.workflow,
                op: operation,
                target: target.as_deref(),
            },
        );
        match outcome {
            Ok(permit) => {
                let durable = permit.receipt().record <= state.log.durable_records();
                let as_vouched =
                    vouched.user == self.person && vouched.level == sent.level && operation == sent.op.operation();
                let vouch = match (as_vouched, sent.carried) {
                    (false, _) => Vouch::Altered,
                    (true, true) => Vouch::Again,
                    (true, false) => Vouch::Once,
                };
                state.facts.push(Fact::Effect {
                    by,
                    vouched: vouch,
                    op: permit.op(),
                    token: sent.token,
                    policy_broken: policy == PolicyVersion::WithTypo,
                    durable,
                });
                true
            }
            Err(e) => {
                state.facts.push(Fact::Denied {
                    by,
                    op: operation,
                    token: sent.token,
                    reason: deny_code(&e),
                });
                sent.carried
            }
        }
    }
}
