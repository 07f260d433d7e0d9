//! What a replay saw, re-told in the people model's terms and judged by the model's own
//! `always` properties: a [`State`] whose facts are the real system's answers (a token
//! honoured, an effect and whether its audit record was on disk, a denial, a refusal) and whose
//! ledger and session specification are kept by the replay exactly as the model keeps them
//! (which token each request carried, when each session was opened, last used, logged out).

use model::people::{
    Aud, Fact, Forwarded, Issue, Issued, Op, Origin, Party, PeopleModel, PolicyVersion, SessionSpec, Standing, State,
    Vouch,
};
use protocol_core::Millis;
use protocol_people::ops::{Level, Operation};
use stateright::{Expectation, Model};

use crate::harness::HarnessError;

/// The model's specification of the replay so far, and the last step's facts.
#[derive(Debug)]
pub(super) struct Judge {
    model: PeopleModel,
    state: State,
}

impl Judge {
    /// A judge for `model`, at the model's initial state.
    pub(super) fn new(model: PeopleModel) -> Result<Self, HarnessError> {
        let state = model
            .init_states()
            .into_iter()
            .next()
            .ok_or_else(|| HarnessError::setup("the people model has no initial state"))?;
        Ok(Self { model, state })
    }

    /// Starts a step at `now` (the real system's clock): forgets the last step's facts.
    pub(super) fn begin(&mut self, now: Millis) {
        self.state.facts.clear();
        self.state.fresh = false;
        self.state.now = now;
    }

    /// The administrator installed the policy with a typo.
    pub(super) const fn misconfigured(&mut self) {
        self.state.policy = PolicyVersion::WithTypo;
    }

    /// A token the real system issued to `holder` for `session`: its seed (ledger index).
    pub(super) fn issue(&mut self, holder: Party, session: u64, by: Issue) -> usize {
        let at = self.state.now;
        self.state.ledger.push(Issued {
            holder,
            session,
            by,
            at,
        });
        let seed = self.state.ledger.len() - 1;
        match by {
            Issue::Login => {
                self.state.spec.insert(
                    session,
                    SessionSpec {
                        audience: Aud::Hub,
                        created: at,
                        last_used: at,
                        ended: false,
                        latest: seed_u8(seed),
                    },
                );
            }
            Issue::Elevation { .. } => {
                if let Some(spec) = self.state.spec.get_mut(&session) {
                    spec.latest = seed_u8(seed);
                }
            }
        }
        seed
    }

    /// The token from `seed`, as issued.
    pub(super) fn issued(&self, seed: usize) -> Option<Issued> {
        self.state.ledger.get(seed).copied()
    }

    /// The honest person logged out of `session` (the design ends it, whatever the core did).
    pub(super) fn ended(&mut self, session: u64) {
        if let Some(spec) = self.state.spec.get_mut(&session) {
            spec.ended = true;
        }
    }

    /// The real system honoured the token from `seed` (presented at `at`): records how it
    /// stood against the design, and marks its session used — as the model does.
    pub(super) fn honoured(&mut self, by: Party, origin: Origin, seed: Option<usize>, at: Aud) {
        let now = self.state.now;
        let session = seed.and_then(|s| self.state.ledger.get(s).map(|t| (s, t.session)));
        let standing = session.and_then(|(s, id)| {
            self.state.spec.get(&id).map(|spec| Standing {
                audience_ok: spec.audience == at,
                ended: spec.ended,
                latest: usize::from(spec.latest) == s,
                idle: now.0.saturating_sub(spec.last_used.0),
                age: now.0.saturating_sub(spec.created.0),
            })
        });
        if let Some(spec) = session.and_then(|(_, id)| self.state.spec.get_mut(&id)) {
            spec.last_used = spec.last_used.max(now);
        }
        self.state.facts.push(Fact::Honoured { by, origin, standing });
    }

    /// The real system carried out `op` for `by` on the token from `seed` (the request the hub
    /// forwarded, once); `durable` when its audit record was on disk when the effect showed.
    pub(super) fn effect(&mut self, by: Party, op: Operation, seed: Option<usize>, durable: bool) {
        self.effect_as(by, op, seed, durable, Vouch::Once);
    }

    /// The same, for a request sent to the UI server as `vouched` says it stood against what
    /// the hub forwarded.
    pub(super) fn effect_as(&mut self, by: Party, op: Operation, seed: Option<usize>, durable: bool, vouched: Vouch) {
        let token = seed.and_then(|s| self.issued(s));
        let policy_broken = self.state.policy == PolicyVersion::WithTypo;
        self.state.facts.push(Fact::Effect {
            by,
            vouched,
            op,
            token,
            policy_broken,
            durable,
        });
    }

    /// The attacker copied a request the hub forwarded at `at` (as the model keeps it: what
    /// was asked, at what level, and whether it was carried out).
    pub(super) fn copied(&mut self, op: Op, level: Level, at: Millis, seed: Option<usize>, carried: bool) {
        let token = seed.and_then(|s| self.issued(s));
        self.state.ui.captured = Some(Forwarded {
            header: String::new(),
            op,
            target: None,
            level,
            at,
            token,
            carried,
        });
    }

    /// The model's next deadline from the replay's state (for a jump of the clock).
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.model.next_deadline(&self.state)
    }

    /// Why the design says the token from `seed` must be refused now, if it must: the core's
    /// code for it and the reason in words (from the model's record of its session).
    pub(super) fn standing(&self, seed: usize) -> Option<(&'static str, String)> {
        let t = self.state.ledger.get(seed)?;
        let spec = self.state.spec.get(&t.session)?;
        let now = self.state.now;
        let minutes = |ms: u64| ms / 60_000;
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (idle_timeout, lifetime) = (
            ms(self.model.config().idle_timeout),
            ms(self.model.config().absolute_lifetime),
        );
        let (idle, age) = (
            now.0.saturating_sub(spec.last_used.0),
            now.0.saturating_sub(spec.created.0),
        );
        if spec.ended {
            Some(("revoked", "its session had been logged out".to_owned()))
        } else if usize::from(spec.latest) != seed {
            Some((
                "unknown-token",
                "an elevation had replaced it with a new token".to_owned(),
            ))
        } else if age >= lifetime {
            Some((
                "expired",
                format!(
                    "its session was opened {} min before, its lifetime {} min",
                    minutes(age),
                    minutes(lifetime)
                ),
            ))
        } else if idle >= idle_timeout {
            Some((
                "idle-expired",
                format!(
                    "its session had been idle {} min, the idle timeout {} min",
                    minutes(idle),
                    minutes(idle_timeout)
                ),
            ))
        } else {
            None
        }
    }

    /// Whether the token from `seed` was issued by an elevation whose window has passed, in
    /// words (from the model's record).
    pub(super) fn lapsed(&self, seed: usize) -> Option<String> {
        let t = self.state.ledger.get(seed)?;
        let Issue::Elevation { to, .. } = t.by else {
            return None;
        };
        let window = u64::try_from(self.model.config().elevation_window.as_millis()).unwrap_or(u64::MAX);
        let granted = t.at.0.saturating_sub(model::people::START.0) / 60_000;
        (self.state.now.0.saturating_sub(t.at.0) >= window).then(|| {
            format!(
                "its elevation to {to}, granted at +{granted} min for {} min, had lapsed",
                window / 60_000
            )
        })
    }

    /// Any other fact the real system showed.
    pub(super) fn push(&mut self, fact: Fact) {
        self.state.facts.push(fact);
    }

    /// The model's `always` properties the real system's behaviour so far violates.
    pub(super) fn violated(&self) -> Vec<&'static str> {
        self.model
            .properties()
            .into_iter()
            .filter(|p| matches!(p.expectation, Expectation::Always) && !(p.condition)(&self.model, &self.state))
            .map(|p| p.name)
            .collect()
    }
}

fn seed_u8(seed: usize) -> u8 {
    u8::try_from(seed).unwrap_or(u8::MAX)
}

/// A core's reason code as the `'static` string the model's facts hold (`other` if unknown).
pub(super) fn static_code(code: &str) -> &'static str {
    const CODES: [&str; 17] = [
        "bad-credentials",
        "reauth-failed",
        "unknown-token",
        "revoked",
        "idle-expired",
        "expired",
        "wrong-audience",
        "not-an-elevation",
        "stale",
        "policy-broken",
        "negated",
        "not-granted",
        "above-site-limit",
        "needs-elevation",
        "unauthenticated",
        "group-lookup-failed",
        "internal",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or("other")
}
