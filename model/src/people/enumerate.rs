//! What can happen next: the actions offered in a state, each pruning argued where it is made.

use protocol_core::Millis;
use protocol_people::ops::Level;

use super::PeopleModel;
use super::actions::{Action, Raise};
use super::state::{Aud, Held, Issue, Party, State, Tamper};

impl PeopleModel {
    /// Whether the token from `seed` carries a live elevation to at least `to`, by the design's
    /// clock: the honest person does not raise a session that can already do what they want.
    fn elevated(&self, state: &State, seed: u8, to: Level) -> bool {
        state.ledger.get(usize::from(seed)).is_some_and(|t| match t.by {
            Issue::Elevation { to: have, .. } => have >= to && state.now < t.at.after(self.config().elevation_window),
            Issue::Login => false,
        })
    }

    pub(super) fn enumerate(&self, state: &State, actions: &mut Vec<Action>) {
        if state.over {
            return;
        }
        let b = self.bounds;
        if let Some(copied) = &state.ui.captured {
            // Once the attacker holds a copy, only the clock and its sending of the copy are
            // explored. Nothing else changes what the UI server reads when it judges the
            // copy: the honest person's later requests add only their own nonces to the
            // replay guard (never the copy's, and the guard is far from full) and touch the
            // session store, which a UI server never reads; the policy changes only at the
            // first step; and every other move of the attacker is explored without a copy.
            if state.ticks < b.ticks {
                actions.push(Action::Wait { watching: false });
                if state.jumps < b.jumps && self.next_deadline(state).is_some() {
                    actions.push(Action::Jump);
                }
            }
            actions.push(Action::ReplayAssertion);
            if copied.level < Level::Write {
                actions.push(Action::EditAssertion);
            }
            return;
        }
        if state.fresh && b.misconfiguration {
            actions.push(Action::Misconfigure);
        }
        let offered = self.offered(state.policy);
        if state.honest.requests < b.honest_requests {
            match state.honest.token {
                // Logging in again while holding a token adds only a second session of the same
                // kind; the honest person logs in when they have none (at first, after logging
                // out, or after the hub refused their token).
                None => actions.push(Action::Login),
                Some(seed) => {
                    // Raising only to levels the UI offers operations for, and only when the
                    // session cannot already do them.
                    for raise in [Raise::Execute, Raise::Write] {
                        let useful = offered.iter().any(|op| op.operation().level() == raise.level());
                        if useful && !self.elevated(state, seed, raise.level()) {
                            actions.push(Action::Elevate(raise));
                        }
                    }
                    actions.extend(offered.iter().map(|op| Action::Act(*op)));
                    actions.push(Action::Logout);
                }
            }
        }
        if state.ticks < b.ticks {
            actions.push(Action::Wait { watching: false });
            if state.honest.token.is_some() {
                actions.push(Action::Wait { watching: true });
            }
            // A jump is a move of the clock like a step, and spends one.
            if state.jumps < b.jumps && self.next_deadline(state).is_some() {
                actions.push(Action::Jump);
            }
        }
        if !b.attacker {
            return;
        }
        // Theft needs no step of its own: the attacker may present any token the honest person
        // was ever given, at any later time, which is the most a thief could do (when it stole
        // the token matters only through what happened to the session since, and the honest
        // person's steps explore that).
        let stolen = state
            .ledger
            .iter()
            .enumerate()
            .filter(|(_, t)| t.holder == Party::Honest)
            .filter_map(|(seed, _)| u8::try_from(seed).ok().map(Held::Stolen));
        let held: Vec<Held> = stolen
            .chain(state.attacker.obtained.iter().map(|s| Held::Obtained(*s)))
            .collect();
        if state.attacker.elevations < b.attacker_elevations {
            // Raising a token an elevation already gave the attacker adds nothing a stolen
            // token's elevation does not show.
            for h in held.iter().filter(|h| matches!(h, Held::Stolen(_))) {
                actions.push(Action::ElevateWith(*h));
            }
        }
        // The attacker's other moves change nothing the cores read afterwards (a presented
        // token only marks its session used, which the honest person's own requests explore;
        // the rest touch only the log), so each ends the run and is judged at once.
        for h in &held {
            actions.push(Action::Present { held: *h, at: Aud::Hub });
        }
        // A token refused at the hub is refused elsewhere for the same reason: replaying at
        // another audience matters for the token the honest person uses now.
        if let Some(seed) = state.honest.token {
            actions.push(Action::Present {
                held: Held::Stolen(seed),
                at: Aud::UiServer,
            });
        }
        if !state.sessions.is_empty() {
            actions.push(Action::ReplayStore);
        }
        if b.assertions {
            // The attacker reads the link: it may keep the request just forwarded, then send
            // it again as it was, or edited to vouch for Write (an edit of one already at
            // Write would change only the nonce, which a replay's refusal already covers).
            if state.ui.last.is_some() {
                actions.push(Action::Capture);
            }
        }
        // Failed logins and an injected field do not depend on anything before them (the
        // user database never changes, and the log escapes each record alone): first step only.
        if state.fresh {
            actions.push(Action::GuessLogins);
            actions.push(Action::InjectLine);
        }
        if b.tamper {
            let lines = state.log.text().lines().count();
            for kind in Tamper::ALL {
                let possible = match kind {
                    Tamper::Reorder => lines >= 2,
                    Tamper::Truncate | Tamper::Backdate => lines >= 1,
                };
                if possible {
                    actions.push(Action::Tamper(kind));
                }
            }
        }
        // With every defence nothing is ever lost, so a crash would change nothing: it is
        // offered only when some record is not yet durable.
        if state.log.durable_records() < state.log.records() {
            actions.push(Action::Crash);
        }
    }

    /// The next deadline after `now` that the clock's steps do not meet: an elevation's end,
    /// or the copied assertion's last fresh instant (no other forwarded request is ever seen
    /// again). In a run without jumps every session opens on the steps' grid, so the steps meet
    /// its idle timeout and lifetime exactly; jumping to those as well would only multiply the
    /// times explored.
    #[must_use]
    pub fn next_deadline(&self, state: &State) -> Option<Millis> {
        let window = self.config().elevation_window;
        let elevations = state.ledger.iter().filter_map(|t| match t.by {
            Issue::Elevation { .. } => Some(t.at.after(window)),
            Issue::Login => None,
        });
        let assertions = state.ui.captured.iter().map(|f| f.at.after(super::max_skew()));
        elevations.chain(assertions).filter(|d| *d > state.now).min()
    }
}
