//! The live replay's steps on the hub's link to the UI server: the relay between them records
//! every request the hub forwards, so the attacker's copy is the bytes the hub really sent,
//! and its replay or edit goes straight to the UI server's loopback port, as anyone on the host
//! can send it. The UI server answers every refused assertion alike (`401`) and logs why
//! (`refused a request: hub assertion replayed`), which is the reason the replay reads.

use std::time::Duration;

use model::people::{Fact, Op, Party, Vouch};
use protocol_core::Millis;
use protocol_gateway::assertion::AssertionError;
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::send;
use protocol_people::ops::{Level, Operation};

use super::super::{StepError, StepOut};
use super::Live;
use crate::harness::HarnessError;
use crate::live::gateway::eventually;
use crate::uiserver::c09::{Captured, edit, request, requests};

/// A request the hub forwarded, as the relay recorded it, with what the model keeps of it.
#[derive(Debug, Clone)]
pub(in crate::conformance::people) struct Sent {
    captured: Captured,
    op: Op,
    level: Level,
    at: Millis,
    seed: usize,
    carried: bool,
}

/// The reason a UI server logged for a refused assertion, as the model's code.
fn code_of(reason: &str) -> Option<&'static str> {
    [
        (AssertionError::Missing, "missing"),
        (AssertionError::Malformed, "malformed"),
        (AssertionError::BadMac, "bad-mac"),
        (AssertionError::Stale, "stale"),
        (AssertionError::Replayed, "replayed"),
    ]
    .into_iter()
    .find(|(e, _)| e.to_string() == reason)
    .map(|(_, code)| code)
}

impl Live {
    /// The request the hub has just forwarded for `op` on the token from `seed`, once the relay
    /// has recorded it (a connection is recorded when it ends).
    pub(super) async fn forwarded(&self, op: Op, seed: usize, carried: bool) -> Result<Sent, HarnessError> {
        let before = self.recorded().len();
        let method = if op == Op::Read { "GET" } else { "POST" };
        eventually(Duration::from_secs(2), || self.recorded().len() > before).await;
        let captured = self
            .recorded()
            .into_iter()
            .rev()
            .find(|c| c.method == method && c.path == "/workflows/clouds" && !c.assertion.is_empty())
            .ok_or_else(|| HarnessError::setup(format!("the relay recorded no {method} /workflows/clouds")))?;
        let field = |name: &str| {
            captured
                .assertion
                .split(' ')
                .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(str::to_owned)
        };
        let level = field("level")
            .and_then(|l| l.parse::<Level>().ok())
            .ok_or_else(|| HarnessError::setup("the recorded assertion names no level"))?;
        let at = field("at")
            .and_then(|t| t.parse::<u64>().ok())
            .map(Millis)
            .ok_or_else(|| HarnessError::setup("the recorded assertion names no time"))?;
        Ok(Sent {
            captured,
            op,
            level,
            at,
            seed,
            carried,
        })
    }

    fn recorded(&self) -> Vec<Captured> {
        self.world
            .captured("atmosphere_stage")
            .iter()
            .flat_map(|bytes| requests(bytes))
            .collect()
    }

    /// The attacker keeps a copy of the request the hub forwarded in the last step.
    pub(super) fn capture(&mut self, last: Option<Sent>) -> Result<StepOut, StepError> {
        let sent = last.ok_or_else(|| StepError::NotPossible("the hub forwarded nothing in the last step".into()))?;
        self.judge
            .copied(sent.op, sent.level, sent.at, Some(sent.seed), sent.carried);
        let out = StepOut::seen(format!(
            "the relay between the hub and the UI server recorded {} {} with `{}`",
            sent.captured.method, sent.captured.path, sent.captured.assertion
        ));
        self.copy = Some(sent);
        Ok(out)
    }

    /// The attacker sends its copy straight to the UI server: as it was, or (`edited`) with
    /// the assertion vouching for Write and a nonce of its own.
    pub(super) async fn resend(&mut self, edited: bool) -> Result<StepOut, StepError> {
        let sent = self
            .copy
            .clone()
            .ok_or_else(|| StepError::NotPossible("the attacker holds no copy".into()))?;
        let header = if edited {
            let nonce = sent
                .captured
                .assertion
                .split(' ')
                .find_map(|p| p.strip_prefix("nonce="))
                .map(|n| format!("ff{}", n.get(2..).unwrap_or_default()))
                .unwrap_or_default();
            edit(&sent.captured.assertion, &[("level", "write"), ("nonce", &nonce)])
        } else {
            sent.captured.assertion.clone()
        };
        let addr = self
            .world
            .ui_address("atmosphere_stage")
            .ok_or_else(|| HarnessError::setup("no UI server for atmosphere_stage"))?;
        let req = request(
            &sent.captured.method,
            &sent.captured.path,
            Some(&header),
            &sent.captured.body,
        );
        let log_before = self.world.log_lines().len();
        let ui_before = self.on_disk("atmosphere_stage").len();
        let r = send(addr, None, &req, Duration::from_secs(5))
            .await
            .map_err(|e| HarnessError::setup(format!("the UI server did not answer: {e}")))?;
        let durable = self.on_disk("atmosphere_stage").len() > ui_before;
        let what = if edited { "the edited copy" } else { "the copy" };
        let operation = sent.op.operation();
        match r.status {
            200 | 409 => {
                let vouched = match (edited, sent.carried) {
                    (true, _) => Vouch::Altered,
                    (false, true) => Vouch::Again,
                    (false, false) => Vouch::Once,
                };
                self.judge
                    .effect_as(Party::Attacker, operation, Some(sent.seed), durable, vouched);
                let scheduler = if operation == Operation::Read {
                    String::new()
                } else {
                    self.commanded().await?
                };
                Ok(StepOut::seen(format!(
                    "{what} of {} {} sent straight to the UI server's port was answered {}{scheduler}",
                    sent.captured.method, sent.captured.path, r.status
                )))
            }
            401 => {
                let reason = self
                    .world
                    .log_lines()
                    .into_iter()
                    .skip(log_before)
                    .find_map(|l| l.strip_prefix("refused a request: ").map(str::to_owned))
                    .unwrap_or_default();
                let code = code_of(&reason).unwrap_or("unauthenticated");
                let at_edge = self.world.clock().now() == sent.at.after(model::people::max_skew());
                self.judge.push(Fact::AssertionRefused {
                    by: Party::Attacker,
                    code,
                    at_edge,
                });
                Ok(StepOut::seen(format!(
                    "{what} of {} {} sent straight to the UI server's port was answered 401; the UI server's log: `refused a request: {reason}`",
                    sent.captured.method, sent.captured.path
                ))
                .refused(code.to_owned()))
            }
            other => Err(StepError::Harness(HarnessError::setup(format!(
                "{what} was answered {other}"
            )))),
        }
    }
}
