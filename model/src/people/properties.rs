//! The properties, each a plain sentence, and the `sometimes` witnesses that show the
//! interesting states are reached (a property that holds vacuously proves nothing).
//!
//! Each `always` property judges the last step's facts (or, for the audit log and failed
//! logins, the state itself) against the design's intent, written here independently of the
//! cores: the site limit and the negation are restated from the model's policy, and token
//! lifetimes from the model's own record of each session.

use protocol_people::ops::{Level, Operation};
use stateright::Property;

use super::PeopleModel;
use super::state::{Fact, Issue, Issued, Origin, Party, State, Vouch};

/// Property names, as the threat model cites them.
pub mod names {
    /// See [`sentence`].
    pub const ELEVATION_REQUIRED: &str = "elevation-required";
    /// See [`sentence`].
    pub const AUDIT_BEFORE_EFFECT: &str = "audit-before-effect";
    /// See [`sentence`].
    pub const SITE_LIMIT_RESPECTED: &str = "site-limit-respected";
    /// See [`sentence`].
    pub const NEGATION_RESPECTED: &str = "negation-respected";
    /// See [`sentence`].
    pub const FAIL_CLOSED: &str = "fail-closed";
    /// See [`sentence`].
    pub const TOKEN_CONFINEMENT: &str = "token-confinement";
    /// See [`sentence`].
    pub const STORE_CONFIDENTIALITY: &str = "store-confidentiality";
    /// See [`sentence`].
    pub const LOGIN_UNIFORMITY: &str = "login-uniformity";
    /// See [`sentence`].
    pub const AUDIT_TAMPER_EVIDENCE: &str = "audit-tamper-evidence";
    /// See [`sentence`].
    pub const HUB_ASSERTION_AGREEMENT: &str = "hub-assertion-agreement";

    /// Every property, in the order the checker reports them (a shortest counterexample that
    /// breaks two is reported against the first).
    pub const ALL: [&str; 10] = [
        ELEVATION_REQUIRED,
        AUDIT_BEFORE_EFFECT,
        SITE_LIMIT_RESPECTED,
        NEGATION_RESPECTED,
        FAIL_CLOSED,
        TOKEN_CONFINEMENT,
        STORE_CONFIDENTIALITY,
        LOGIN_UNIFORMITY,
        AUDIT_TAMPER_EVIDENCE,
        HUB_ASSERTION_AGREEMENT,
    ];

    /// The property in a plain sentence.
    #[must_use]
    pub fn sentence(name: &str) -> Option<&'static str> {
        Some(match name {
            ELEVATION_REQUIRED => {
                "no Execute or Write effect happens outside a live elevation obtained by re-authentication"
            }
            AUDIT_BEFORE_EFFECT => "every effect is preceded by its durable audit record",
            SITE_LIMIT_RESPECTED => "no operation is permitted beyond the site limit",
            NEGATION_RESPECTED => "no operation a negation takes away from a person is permitted to them",
            FAIL_CLOSED => "while the policy is malformed, nothing is permitted",
            TOKEN_CONFINEMENT => {
                "a token is honoured only at the audience it was issued for, while it is its session's current token and the session is neither logged out, idle past its timeout nor past its lifetime"
            }
            STORE_CONFIDENTIALITY => "a copy of the session store gives no token that is honoured",
            LOGIN_UNIFORMITY => "a failed login does not tell whether the user name exists",
            AUDIT_TAMPER_EVIDENCE => {
                "every attempt is one line of the audit log, and a stored log that was reordered, truncated or edited fails verification"
            }
            HUB_ASSERTION_AGREEMENT => {
                "a UI server carries out an operation only as the hub vouched for it (the person, the level and the request the hub signed) and only once per request the hub forwarded"
            }
            _ => return None,
        })
    }
}

/// The most the model's site layer lets `jacintar` (an operator) have: Read and Execute
/// operations, and `reload`. Restated from `site.toml`, not asked of the authoriser.
fn within_site_limit(op: Operation) -> bool {
    op.level() <= Level::Execute || op == Operation::Reload
}

/// What the owner layer takes away from `jacintar` by name: `!trigger`.
fn negated(op: Operation) -> bool {
    op == Operation::Trigger
}

fn effects(state: &State) -> impl Iterator<Item = (Party, Operation, Option<Issued>, bool, bool)> + '_ {
    state.facts.iter().filter_map(|f| match f {
        Fact::Effect {
            by,
            op,
            token,
            policy_broken,
            durable,
            ..
        } => Some((*by, *op, *token, *policy_broken, *durable)),
        _ => None,
    })
}

/// No Execute or Write effect happens outside a live elevation obtained by re-authentication:
/// the request carried the token an elevation with the password issued, to at least the
/// operation's level, within its window.
fn elevation_required(model: &PeopleModel, state: &State) -> bool {
    let window = model.config().elevation_window;
    effects(state).all(|(_, op, token, _, _)| {
        op.level() == Level::Read
            || token.is_some_and(|t| match t.by {
                Issue::Elevation { to, reauth } => reauth && to >= op.level() && state.now < t.at.after(window),
                Issue::Login => false,
            })
    })
}

/// Every effect is preceded by its durable audit record.
fn audit_before_effect(_: &PeopleModel, state: &State) -> bool {
    effects(state).all(|(.., durable)| durable)
}

/// No operation is permitted beyond the site limit.
fn site_limit_respected(_: &PeopleModel, state: &State) -> bool {
    effects(state).all(|(_, op, ..)| within_site_limit(op))
}

/// No operation a negation takes away from a person is permitted to them.
fn negation_respected(_: &PeopleModel, state: &State) -> bool {
    effects(state).all(|(_, op, ..)| !negated(op))
}

/// While the policy is malformed, nothing is permitted.
fn fail_closed(_: &PeopleModel, state: &State) -> bool {
    effects(state).all(|(.., broken, _)| !broken)
}

/// A token is honoured only at the audience it was issued for, while it is its session's
/// current token and the session is neither logged out, idle past its timeout nor past its
/// lifetime.
fn token_confinement(model: &PeopleModel, state: &State) -> bool {
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (idle, lifetime) = (ms(model.config().idle_timeout), ms(model.config().absolute_lifetime));
    state.facts.iter().all(|f| match f {
        Fact::Honoured { standing, .. } => {
            standing.is_some_and(|s| s.audience_ok && !s.ended && s.latest && s.idle < idle && s.age < lifetime)
        }
        _ => true,
    })
}

/// A copy of the session store gives no token that is honoured.
fn store_confidentiality(_: &PeopleModel, state: &State) -> bool {
    !state.facts.iter().any(|f| {
        matches!(
            f,
            Fact::Honoured {
                origin: Origin::StoreCopy,
                ..
            }
        )
    })
}

/// A failed login does not tell whether the user name exists: an unknown name and a known name
/// with a wrong password get the same answer.
fn login_uniformity(_: &PeopleModel, state: &State) -> bool {
    let g = &state.attacker.guesses;
    match (g.get(&super::Guess::UnknownUser), g.get(&super::Guess::KnownUser)) {
        (Some(unknown), Some(known)) => unknown == known,
        _ => true,
    }
}

/// Every attempt is one line of the audit log, and a stored log that was reordered, truncated
/// or edited fails verification.
fn audit_tamper_evidence(_: &PeopleModel, state: &State) -> bool {
    let one_line_each = state.log.text().lines().count() as u64 == state.log.durable_records();
    one_line_each
        && state
            .facts
            .iter()
            .all(|f| !matches!(f, Fact::Tampered { detected: false, .. }))
}

/// A UI server carries out an operation only as the hub vouched for it, and only once per
/// request the hub forwarded.
fn hub_assertion_agreement(_: &PeopleModel, state: &State) -> bool {
    state.facts.iter().all(|f| match f {
        Fact::Effect { vouched, .. } => *vouched == Vouch::Once,
        _ => true,
    })
}

/// Whether the last step's UI server refused an assertion in a way `test` picks out.
fn assertion_refused(state: &State, test: impl Fn(&str, bool) -> bool) -> bool {
    state.facts.iter().any(|f| match f {
        Fact::AssertionRefused { code, at_edge, .. } => test(code, *at_edge),
        _ => false,
    })
}

/// The witnesses' names, as reports show them.
pub mod witnesses {
    /// The honest person raises their session with their password.
    pub const ELEVATION: &str = "the honest person raises their session by re-authenticating";
    /// An elevated operation takes effect.
    pub const ELEVATED_EFFECT: &str = "an Execute or Write operation takes effect in a live elevation";
    /// An elevation lapses.
    pub const LAPSE: &str = "an elevation lapses and the session can only read again";
    /// A stolen token is refused.
    pub const STOLEN_REFUSED: &str = "the hub refuses a token the attacker stole";
    /// A token replayed at another audience is refused.
    pub const WRONG_AUDIENCE: &str = "a token replayed at another audience is refused";
    /// An idle session's token is refused.
    pub const IDLE: &str = "an idle session's token is refused";
    /// A kept-alive session ends at its lifetime.
    pub const LIFETIME: &str = "a kept-alive session's token is refused at the end of its lifetime";
    /// A logged-out token is refused.
    pub const LOGGED_OUT: &str = "a logged-out session's token is refused";
    /// A stolen token cannot elevate without the password.
    pub const NO_PASSWORD: &str = "a stolen token cannot raise its session without the password";
    /// A key from the session store is refused.
    pub const STORE_REFUSED: &str = "a token rebuilt from a copy of the session store is refused";
    /// A failed login for an unknown name and one for a known name look alike.
    pub const LOGINS_ALIKE: &str = "failed logins for an unknown and a known user name get the same answer";
    /// A denied attempt is in the audit log.
    pub const DENIAL_AUDITED: &str = "a denied attempt is in the audit log";
    /// A line break in a field stays on one line.
    pub const INJECTION_ESCAPED: &str = "a request with a line break in a field is logged as one line";
    /// Tampering is detected.
    pub const TAMPER_DETECTED: &str = "a tampered audit log fails verification";
    /// A broken policy denies.
    pub const BROKEN_POLICY_DENIES: &str = "a malformed policy denies a request it would otherwise allow";
    /// An elevation lapses exactly at its end.
    pub const EXACT_LAPSE: &str = "an elevated request is denied at the very instant its elevation ends";
    /// A replayed assertion is refused by the replay guard.
    pub const ASSERTION_REPLAYED: &str = "a hub assertion read on the link and replayed to the UI server is refused";
    /// The replay guard still remembers at the last fresh instant.
    pub const ASSERTION_EDGE: &str =
        "a hub assertion replayed at the last instant of its freshness window is refused as a replay";
    /// A late replay is refused as stale.
    pub const ASSERTION_STALE: &str = "a hub assertion replayed after its freshness window is refused as stale";
    /// An edited assertion is refused.
    pub const ASSERTION_EDITED: &str = "a hub assertion edited to vouch for Write is refused for its MAC";
}

/// Whether the last step refused a token in a way `test` picks out.
fn refused(state: &State, test: impl Fn(Party, Origin, &str) -> bool) -> bool {
    state.facts.iter().any(|f| match f {
        Fact::Refused { by, origin, code } => test(*by, *origin, code),
        _ => false,
    })
}

pub(super) fn all(model: &PeopleModel) -> Vec<Property<PeopleModel>> {
    use names::*;
    use witnesses::*;
    let b = model.bounds;
    let mut props = vec![
        Property::always(ELEVATION_REQUIRED, elevation_required),
        Property::always(AUDIT_BEFORE_EFFECT, audit_before_effect),
        Property::always(SITE_LIMIT_RESPECTED, site_limit_respected),
        Property::always(NEGATION_RESPECTED, negation_respected),
        Property::always(FAIL_CLOSED, fail_closed),
        Property::always(TOKEN_CONFINEMENT, token_confinement),
        Property::always(STORE_CONFIDENTIALITY, store_confidentiality),
        Property::always(LOGIN_UNIFORMITY, login_uniformity),
        Property::always(AUDIT_TAMPER_EVIDENCE, audit_tamper_evidence),
        Property::always(HUB_ASSERTION_AGREEMENT, hub_assertion_agreement),
        Property::sometimes(ELEVATION, |_, s: &State| {
            s.facts.iter().any(|f| {
                matches!(
                    f,
                    Fact::Elevated {
                        by: Party::Honest,
                        reauth: true,
                        ..
                    }
                )
            })
        }),
        Property::sometimes(ELEVATED_EFFECT, |_, s: &State| {
            effects(s).any(|(_, op, ..)| op.level() > Level::Read)
        }),
        Property::sometimes(LAPSE, |_, s: &State| {
            s.facts.iter().any(|f| match f {
                Fact::Denied {
                    op,
                    token:
                        Some(Issued {
                            by: Issue::Elevation { to, .. },
                            ..
                        }),
                    reason,
                    ..
                } => *reason == "needs-elevation" && *to >= op.level(),
                _ => false,
            })
        }),
        Property::sometimes(DENIAL_AUDITED, |_, s: &State| {
            s.facts.iter().any(|f| matches!(f, Fact::Denied { .. }))
                && s.log.lines().last().is_some_and(|l| l.contains(" was denied "))
        }),
    ];
    if b.ticks >= 2 {
        props.push(Property::sometimes(IDLE, |_, s: &State| {
            refused(s, |_, _, code| code == "idle-expired")
        }));
    }
    if b.ticks >= 3 {
        props.push(Property::sometimes(LIFETIME, |_, s: &State| {
            refused(s, |_, _, code| code == "expired")
        }));
    }
    if b.attacker {
        props.extend([
            Property::sometimes(STOLEN_REFUSED, |_, s: &State| {
                refused(s, |by, origin, _| (by, origin) == (Party::Attacker, Origin::Stolen))
            }),
            Property::sometimes(WRONG_AUDIENCE, |_, s: &State| {
                refused(s, |_, _, code| code == "wrong-audience")
            }),
            Property::sometimes(LOGGED_OUT, |_, s: &State| refused(s, |_, _, code| code == "revoked")),
            Property::sometimes(STORE_REFUSED, |_, s: &State| {
                refused(s, |_, origin, _| origin == Origin::StoreCopy)
            }),
            Property::sometimes(LOGINS_ALIKE, |m, s: &State| {
                s.attacker.guesses.len() == 2 && login_uniformity(m, s)
            }),
            Property::sometimes(INJECTION_ESCAPED, |_, s: &State| {
                s.facts.contains(&Fact::Injected)
                    && s.log.text().lines().count() as u64 == s.log.durable_records()
                    && s.log.text().contains("\\n")
            }),
        ]);
    }
    if b.attacker && b.attacker_elevations > 0 {
        props.push(Property::sometimes(NO_PASSWORD, |_, s: &State| {
            s.facts.iter().any(|f| {
                matches!(
                    f,
                    Fact::ElevationRefused {
                        by: Party::Attacker,
                        ..
                    }
                )
            })
        }));
    }
    if b.attacker && b.tamper {
        props.push(Property::sometimes(TAMPER_DETECTED, |_, s: &State| {
            s.facts
                .iter()
                .any(|f| matches!(f, Fact::Tampered { detected: true, .. }))
        }));
    }
    if b.jumps > 0 {
        props.push(Property::sometimes(EXACT_LAPSE, |m: &PeopleModel, s: &State| {
            let window = m.config().elevation_window;
            s.facts.iter().any(|f| match f {
                Fact::Denied {
                    token:
                        Some(Issued {
                            by: Issue::Elevation { .. },
                            at,
                            ..
                        }),
                    reason,
                    ..
                } => *reason == "needs-elevation" && s.now == at.after(window),
                _ => false,
            })
        }));
    }
    if b.attacker && b.assertions {
        props.extend([
            Property::sometimes(ASSERTION_REPLAYED, |_, s: &State| {
                assertion_refused(s, |code, _| code == "replayed")
            }),
            Property::sometimes(ASSERTION_EDITED, |_, s: &State| {
                assertion_refused(s, |code, _| code == "bad-mac")
            }),
        ]);
        if b.ticks > 0 {
            props.push(Property::sometimes(ASSERTION_STALE, |_, s: &State| {
                assertion_refused(s, |code, _| code == "stale")
            }));
        }
        if b.jumps > 0 {
            props.push(Property::sometimes(ASSERTION_EDGE, |_, s: &State| {
                assertion_refused(s, |code, edge| code == "replayed" && edge)
            }));
        }
    }
    if b.misconfiguration {
        props.push(Property::sometimes(BROKEN_POLICY_DENIES, |_, s: &State| {
            s.facts
                .iter()
                .any(|f| matches!(f, Fact::Denied { reason, .. } if *reason == "policy-broken"))
        }));
    }
    props
}
