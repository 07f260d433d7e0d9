//! People-model traces as people read them: each action replayed from the initial state, told
//! with what the cores answered.

use stateright::Model;

use super::actions::{INJECTED, UNKNOWN_USER, minutes};
use super::state::{Aud, Fact, Guess, Held, Issue, Origin, State, Tamper, Vouch};
use super::{Action, Op, PERSON, PeopleModel, WORKFLOW};
use crate::run::Explain;
use crate::trace::TraceStep;

fn op_name(op: Op) -> &'static str {
    op.operation().name()
}

fn aud_name(model: &PeopleModel, aud: Aud) -> String {
    match aud {
        Aud::Hub => format!("the hub ({})", model.audience(aud)),
        Aud::UiServer => format!("another service ({})", model.audience(aud)),
    }
}

fn held_name(state: &State, held: Held) -> String {
    let seed = held.seed();
    let what = match state.ledger.get(usize::from(seed)).map(|t| t.by) {
        Some(Issue::Login) => "login token",
        Some(Issue::Elevation { reauth: true, .. }) => "elevated token",
        Some(Issue::Elevation { reauth: false, .. }) => "token from its own elevation",
        None => "token",
    };
    let current = if state.honest.token == Some(seed) {
        ", the one they use now"
    } else {
        ""
    };
    match held {
        Held::Stolen(_) => format!("{PERSON}'s {what} #{seed} (stolen{current})"),
        Held::Obtained(_) => format!("the {what} #{seed}"),
    }
}

/// What the cores answered, from the facts of the state after the step.
fn outcome(after: Option<&State>) -> String {
    let Some(state) = after else {
        return "not possible here".into();
    };
    let said: Vec<String> = state
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Honoured { .. } | Fact::Injected => None,
            Fact::Refused { code, .. } => Some(format!("refused ({code})")),
            Fact::Effect {
                op, durable, vouched, ..
            } => Some(format!(
                "the hub vouches for it and the UI server performs {op}{}{}",
                if *durable {
                    ", its audit record already durable"
                } else {
                    " BEFORE its audit record is durable"
                },
                match vouched {
                    Vouch::Once => "",
                    Vouch::Again => ", A SECOND TIME for one request the hub forwarded",
                    Vouch::Altered => ", NOT AS THE HUB VOUCHED for it",
                }
            )),
            Fact::AssertionRefused { code, at_edge, .. } => Some(format!(
                "the UI server refuses the hub assertion ({code}){}",
                if *at_edge {
                    " at the last instant of its freshness window"
                } else {
                    ""
                }
            )),
            Fact::Denied { reason, .. } => Some(format!("denied ({reason}), and recorded")),
            Fact::Elevated { to, reauth, .. } => Some(format!(
                "raised to {to}{}; a new token is issued",
                if *reauth { "" } else { " WITHOUT the password" }
            )),
            Fact::ElevationRefused { code, .. } => Some(format!("refused ({code})")),
            Fact::BadRequest => Some("the UI server refuses the body (400)".into()),
            Fact::LoggedIn => Some("logged in, read-only".into()),
            Fact::LoggedOut => Some("logged out, then recorded".into()),
            Fact::Tampered { detected, .. } => Some(if *detected {
                "verification fails: the tampering is detected".into()
            } else {
                "the tampered log VERIFIES".into()
            }),
            Fact::Crashed { lost } => Some(format!("{lost} acknowledged record(s) lost")),
        })
        .collect();
    if said.is_empty() {
        String::new()
    } else {
        format!(": {}", said.join("; "))
    }
}

fn step(model: &PeopleModel, before: &State, action: Action, after: Option<&State>) -> TraceStep {
    let result = outcome(after);
    let at = format!("at +{} min", minutes(before.now));
    let (actor, label, detail): (&str, &str, String) = match action {
        Action::Misconfigure => (
            "administrator",
            "policy typo",
            format!("installs a policy whose file for {WORKFLOW} says \"REED\" where \"READ\" was meant"),
        ),
        Action::Login => (
            PERSON,
            "login",
            format!("{at}, logs in to the hub with their password{result}"),
        ),
        Action::Elevate(raise) => (
            PERSON,
            "elevate",
            format!(
                "{at}, asks to raise their session to {} and gives their password again{result}",
                raise.level()
            ),
        ),
        Action::Act(op) => (
            PERSON,
            "request",
            format!("{at}, asks the hub to {} {WORKFLOW}{result}", op_name(op)),
        ),
        Action::Logout => (PERSON, "logout", format!("{at}, logs out{result}")),
        Action::Wait { watching } => (
            "clock",
            "time passes",
            format!(
                "10 minutes pass (now +{} min){}",
                minutes(before.now) + 10,
                if watching {
                    format!("; {PERSON}'s open view keeps the session alive with a read{result}")
                } else {
                    String::new()
                }
            ),
        ),
        Action::Jump => (
            "clock",
            "deadline",
            format!(
                "the clock moves to the next deadline exactly{}",
                after.map_or(String::new(), |s| format!(
                    " (now +{} min {} s)",
                    minutes(s.now),
                    (s.now.0.saturating_sub(super::START.0) / 1000) % 60
                ))
            ),
        ),
        Action::Capture => (
            "attacker",
            "capture",
            format!(
                "copies the request the hub has just forwarded to the UI server off the loopback link ({})",
                before.ui.last.as_ref().map_or(String::new(), |f| format!(
                    "{} at {}, signed at +{} min",
                    op_name(f.op),
                    f.level,
                    minutes(f.at)
                ))
            ),
        ),
        Action::ReplayAssertion => (
            "attacker",
            "replay assertion",
            format!("{at}, sends the UI server the request it copied, as it was{result}"),
        ),
        Action::EditAssertion => (
            "attacker",
            "edit assertion",
            format!(
                "{at}, sends the UI server the request it copied, its assertion edited to vouch for write with a nonce of its own{result}"
            ),
        ),
        Action::ElevateWith(held) => (
            "attacker",
            "elevate",
            format!(
                "{at}, asks to raise the session of {} to execute, without the password{result}",
                held_name(before, held)
            ),
        ),
        Action::Present { held, at: aud } => (
            "attacker",
            "replay",
            format!(
                "{at}, presents {} to {} and asks to stop {WORKFLOW}{result}",
                held_name(before, held),
                aud_name(model, aud),
            ),
        ),
        Action::ReplayStore => (
            "attacker",
            "store copy",
            format!(
                "{at}, reads a copy of the session store and presents each of its {} key(s) to the hub as a token{result}",
                before.sessions.stored_keys().len()
            ),
        ),
        Action::GuessLogins => (
            "attacker",
            "guess logins",
            format!(
                "tries to log in as {UNKNOWN_USER} (no such user) and as {PERSON}, each with a wrong password{}",
                after.map_or(String::new(), |s| {
                    let answer = |g: Guess| {
                        s.attacker.guesses.get(&g).map_or("nothing".into(), |r| match r {
                            Ok(()) => "logged in".to_owned(),
                            Err(e) => format!("\"{e}\""),
                        })
                    };
                    format!(
                        ": answered {} and {}",
                        answer(Guess::UnknownUser),
                        answer(Guess::KnownUser)
                    )
                })
            ),
        ),
        Action::InjectLine => (
            "attacker",
            "inject",
            format!(
                "tries to log in under the name {INJECTED:?}{result}{}",
                after.map_or(String::new(), |s| format!(
                    " (the log now holds {} line(s) for {} record(s))",
                    s.log.text().lines().count(),
                    s.log.durable_records()
                ))
            ),
        ),
        Action::Tamper(kind) => (
            "attacker",
            "tamper",
            format!(
                "{} the stored audit log, then an auditor verifies it{result}",
                match kind {
                    Tamper::Reorder => "swaps the first two records of",
                    Tamper::Truncate => "cuts the last record off",
                    Tamper::Backdate => "changes the date of the first record in",
                }
            ),
        ),
        Action::Crash => ("gateway", "crash", format!("crashes and restarts{result}")),
    };
    let origin_note = after
        .and_then(|s| {
            s.facts.iter().find_map(|f| match f {
                Fact::Honoured {
                    origin: Origin::StoreCopy,
                    ..
                } => Some(" (a copied key works as a token)"),
                _ => None,
            })
        })
        .unwrap_or("");
    TraceStep {
        actor: actor.to_owned(),
        label: label.to_owned(),
        detail: format!("{detail}{origin_note}"),
    }
}

impl Explain for PeopleModel {
    fn describe(&self, actions: &[Action]) -> Vec<TraceStep> {
        let mut state = self.initial();
        actions
            .iter()
            .map(|&action| {
                let after = self.next_state(&state, action);
                let told = step(self, &state, action, after.as_ref());
                if let Some(after) = after {
                    state = after;
                }
                told
            })
            .collect()
    }

    fn bound(&self) -> String {
        let b = self.bounds;
        format!(
            "{} honest request(s), {} clock step(s) of 10 min, {} jump(s) to the next deadline, {}{}{}{}",
            b.honest_requests,
            b.ticks,
            b.jumps,
            if b.attacker {
                format!(
                    "an attacker with every token the person held and {} elevation attempt(s)",
                    b.attacker_elevations
                )
            } else {
                "no attacker".to_owned()
            },
            if b.tamper { ", log tampering" } else { "" },
            if b.assertions {
                ", replayed and edited hub assertions"
            } else {
                ""
            },
            if b.misconfiguration { ", a policy typo" } else { "" }
        )
    }
}
