//! Audit records and their human form.
//!
//! ```text
//! 2026-11-22T10:00:00Z User jacintar stopped atmosphere_stage.clouds.climb.1234
//! 2026-11-22T10:00:00Z User jacintar raised privileges to execute
//! 2026-11-22T10:00:00Z User mallory was denied trigger on atmosphere_stage.clouds (negated)
//! 2026-11-22T10:00:00Z User jacintar had hold on atmosphere_stage.clouds.nope.1 (record 7) rejected by the scheduler (no-such-task)
//! ```
//!
//! An allowed operation is recorded before it is sent; what the scheduler made of it is a
//! second record, after its answer ([`AuditEvent::Verdict`]), naming the first by number.
//!
//! Every variable field goes through [`escape`] (check `audit-escaping`): only
//! `[A-Za-z0-9._-/:~@+%=,]` pass as they are; a backslash becomes `\\`, other ASCII `\xHH`
//! (`\n`, `\r`, `\t` by name), anything else `\u{HHHH}`. So no field can end a line, fake a
//! field boundary with a space, or hide text behind Unicode line separators (U+2028/9),
//! NEL (U+0085) or bidirectional controls, and the escaping is reversible. In an operation's
//! `owner.workflow.target` the workflow name's own dots are written `\x2e`, so the first two
//! literal dots always split the three fields.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use protocol_core::ids::{Owner, WorkflowId};
use protocol_core::time::Millis;

use super::time::rfc3339;
use crate::authz::Decision;
use crate::ops::{Level, Operation};
use crate::session::{Audience, SessionId};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// An authenticated user.
    User(Owner),
    /// A name someone typed (a failed login): untrusted text.
    Claimed(String),
    /// A request whose token did not authenticate.
    Unauthenticated,
    /// The gateway's own monitoring (story S14): alerts it raises by itself.
    Defender,
}

/// Whether the attempt was let through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Allowed: the effect follows this record.
    Allowed,
    /// Denied, with a short reason code (`not-granted`, `bad-credentials`…).
    Denied {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// The outcome of an authorisation decision.
    #[must_use]
    pub fn of(decision: &Decision) -> Self {
        match decision {
            Decision::Allow(_) => Self::Allowed,
            Decision::Deny(r) => Self::Denied {
                reason: r.code().to_owned(),
            },
        }
    }
}

/// What was attempted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditEvent {
    /// An operation on a workflow (or on part of it: `target` is e.g. `climb.1234`).
    Operation {
        /// The operation.
        op: Operation,
        /// The workflow.
        workflow: WorkflowId,
        /// Task, cycle point, job… within the workflow, as the request named it (untrusted).
        target: Option<String>,
        /// Allowed or denied.
        outcome: Outcome,
    },
    /// What became of an operation this log allowed, once the scheduler answered (or did not).
    Verdict {
        /// The operation.
        op: Operation,
        /// The workflow.
        workflow: WorkflowId,
        /// As the allowing record named it (untrusted).
        target: Option<String>,
        /// The number of the record that allowed it.
        allowed: u64,
        /// What the scheduler did.
        verdict: CommandVerdict,
    },
    /// A request refused before anything it asked for was decided (a block, a rate, a
    /// malformed body, a bad CSRF token, an unknown route…), which no other record covers.
    Refused {
        /// The request's method (untrusted).
        method: String,
        /// The route it matched, as a template (`/o/:owner/workflows/:name`), or
        /// `(unmatched)`: never the raw path.
        route: String,
        /// The refusal's code (`rate-limited`, `csrf`…).
        reason: String,
    },
    /// Refusals not recorded one by one, since the last that was: unauthenticated ones over
    /// the rate at which they are recorded, and any that found the record queue full (so
    /// none goes unaccounted).
    Uncounted {
        /// How many.
        refusals: u64,
    },
    /// Raising a session's privileges.
    Elevation {
        /// The level asked for.
        to: Level,
        /// Allowed or denied.
        outcome: Outcome,
    },
    /// Logging in.
    Login {
        /// Where.
        audience: Audience,
        /// Allowed or denied.
        outcome: Outcome,
    },
    /// Logging out.
    Logout {
        /// Which session.
        session: SessionId,
    },
    /// A defender revoked a session.
    Revocation {
        /// Which session.
        session: SessionId,
    },
    /// A counter crossed its threshold (story S14): `count` `signal`s from `source` within
    /// the window.
    Alert {
        /// Where they came from (an address, a workflow): untrusted text.
        source: String,
        /// What was counted (`auth-failure`, `denial`, …).
        signal: String,
        /// How many, within the window.
        count: u64,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// An operator's defensive action (story S14), or an attempt at one.
    Defence {
        /// What was done.
        action: DefenceAction,
        /// To what (a source address, a job id, a key): untrusted text.
        target: String,
        /// Allowed or denied.
        outcome: Outcome,
    },
}

/// What the scheduler made of an allowed operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandVerdict {
    /// Accepted and applied.
    Applied,
    /// Refused, with the scheduler's code (`no-such-task`, `sequence-gap`…).
    Rejected {
        /// The code.
        code: String,
    },
    /// Never sent (`not-running`, `busy`, `bad-target`…): nothing was done.
    NotSent {
        /// Why.
        reason: String,
    },
    /// Sent, but no answer came in time: it may or may not have been applied.
    Unconfirmed,
}

/// A defender's action on the running system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DefenceAction {
    /// Refuse every request from a source.
    BlockSource,
    /// Lift a block.
    UnblockSource,
    /// Revoke a job's key at its scheduler.
    RevokeJobKey,
    /// Revoke a UI server's client key at its schedulers.
    RevokeClientKey,
    /// Revoke every session of a user.
    RevokeUserSessions,
    /// Revoke one session, by id.
    RevokeSession,
}

impl DefenceAction {
    /// The stable name (`block-source`, …).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::BlockSource => "block-source",
            Self::UnblockSource => "unblock-source",
            Self::RevokeJobKey => "revoke-job-key",
            Self::RevokeClientKey => "revoke-client-key",
            Self::RevokeUserSessions => "revoke-user-sessions",
            Self::RevokeSession => "revoke-session",
        }
    }

    /// The verb phrase for audit lines (`blocked source`).
    #[must_use]
    pub const fn past_tense(self) -> &'static str {
        match self {
            Self::BlockSource => "blocked source",
            Self::UnblockSource => "unblocked source",
            Self::RevokeJobKey => "revoked the job key of",
            Self::RevokeClientKey => "revoked client key",
            Self::RevokeUserSessions => "revoked every session of",
            Self::RevokeSession => "revoked session",
        }
    }
}

impl std::fmt::Display for DefenceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One audit record: when, who, what.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditRecord {
    /// When (from the caller's clock).
    pub at: Millis,
    /// Who.
    pub actor: Actor,
    /// The address the attempt came from, where a server saw one (`None` for what the model
    /// and the defender record without a peer).
    pub source: Option<IpAddr>,
    /// What.
    pub event: AuditEvent,
}

/// The most characters of one untrusted field an audit line keeps; the rest is cut and the
/// cut marked `…(+N bytes)`, so a request never costs more log than a bounded line (a 16 KB
/// target is one line of well under 2 KB, not 65 KB of escapes).
pub const MAX_FIELD_CHARS: usize = 256;

/// The field cut to [`MAX_FIELD_CHARS`] characters, and how many bytes were cut.
fn bounded(s: &str) -> (&str, usize) {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => (&s[..end], s.len() - end),
        None => (s, 0),
    }
}

/// Escapes an untrusted field so it is one visible token on one line.
#[must_use]
pub fn escape(s: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-/:~@+%=,".contains(c);
    if s.chars().all(plain) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if plain(c) => out.push(c),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// An operation's `owner.workflow[.target]`, each field through `f`. Dots separate the
/// three; account names have none, and (escaped) the workflow's own are written `\x2e`, so
/// the first two literal dots always split them (a workflow `a.b` with target `c` and `a`
/// with `b.c` read differently).
fn operation_target(workflow: &WorkflowId, target: Option<&str>, escaped: bool, f: &impl Fn(&str) -> String) -> String {
    let name = if escaped {
        f(workflow.name()).replace('.', "\\x2e")
    } else {
        f(workflow.name())
    };
    let mut t = format!("{}.{name}", f(workflow.owner().as_str()));
    if let Some(target) = target {
        t.push('.');
        t.push_str(&f(target));
    }
    t
}

impl AuditRecord {
    /// The human line, without a newline. `escaped: false` is the weakened form, used only
    /// when `audit-escaping` is removed.
    #[must_use]
    pub fn render(&self, escaped: bool) -> String {
        let f = |s: &str| -> String {
            let (kept, cut) = bounded(s);
            let mut out = if escaped {
                escape(kept).into_owned()
            } else {
                kept.to_owned()
            };
            if cut > 0 {
                // `…` never appears in an escaped field (non-ASCII is written `\u{…}`), so the
                // mark cannot be forged from inside one.
                let _ = write!(out, "\u{2026}(+{cut} bytes)");
            }
            out
        };
        let mut who = match &self.actor {
            Actor::User(u) => format!("User {}", f(u.as_str())),
            Actor::Claimed(name) => format!("User {}", f(name)),
            Actor::Unauthenticated => "An unauthenticated client".to_owned(),
            Actor::Defender => "Defender".to_owned(),
        };
        if let Some(ip) = self.source {
            // An address is its canonical form (an IPv4-mapped one as IPv4): one source, one
            // spelling. It has no space, so the line's fields stay where they are.
            let _ = write!(who, " from {}", ip.to_canonical());
        }
        let denied = |o: &Outcome| match o {
            Outcome::Allowed => None,
            Outcome::Denied { reason } => Some(f(reason)),
        };
        let what = match &self.event {
            AuditEvent::Operation {
                op,
                workflow,
                target,
                outcome,
            } => {
                let t = operation_target(workflow, target.as_deref(), escaped, &f);
                match denied(outcome) {
                    None => format!("{} {t}", op.past_tense()),
                    Some(r) => format!("was denied {op} on {t} ({r})"),
                }
            }
            AuditEvent::Verdict {
                op,
                workflow,
                target,
                allowed,
                verdict,
            } => {
                let t = operation_target(workflow, target.as_deref(), escaped, &f);
                let what = format!("had {op} on {t} (record {allowed})");
                match verdict {
                    CommandVerdict::Applied => format!("{what} applied by the scheduler"),
                    CommandVerdict::Rejected { code } => format!("{what} rejected by the scheduler ({})", f(code)),
                    CommandVerdict::NotSent { reason } => format!("{what} not sent ({})", f(reason)),
                    CommandVerdict::Unconfirmed => format!("{what} unconfirmed by the scheduler"),
                }
            }
            AuditEvent::Refused { method, route, reason } => {
                format!("was refused {} {} ({})", f(method), f(route), f(reason))
            }
            AuditEvent::Uncounted { refusals } => format!(
                "counted {refusals} refusals not recorded one by one (over the unauthenticated audit rate, or the refusal queue full)"
            ),
            AuditEvent::Elevation { to, outcome } => match denied(outcome) {
                None => format!("raised privileges to {to}"),
                Some(r) => format!("was refused privileges to {to} ({r})"),
            },
            AuditEvent::Login { audience, outcome } => match denied(outcome) {
                None => format!("logged in to {}", f(audience.as_str())),
                Some(r) => format!("failed to log in to {} ({r})", f(audience.as_str())),
            },
            AuditEvent::Logout { session } => format!("logged out of session {session}"),
            AuditEvent::Revocation { session } => format!("revoked session {session}"),
            AuditEvent::Alert {
                source,
                signal,
                count,
                window_secs,
            } => format!(
                "raised an alert: {count} {} from {} within {window_secs}s",
                f(signal),
                f(source)
            ),
            AuditEvent::Defence {
                action,
                target,
                outcome,
            } => match denied(outcome) {
                None => format!("{} {}", action.past_tense(), f(target)),
                Some(r) => format!("was denied {action} on {} ({r})", f(target)),
            },
        };
        format!("{} {who} {what}", rfc3339(self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jacintar() -> Actor {
        Actor::User(Owner::new("jacintar").expect("valid"))
    }

    fn clouds() -> WorkflowId {
        WorkflowId::new("atmosphere_stage", "clouds").expect("valid")
    }

    const AT: Millis = Millis(1_795_341_600_000);

    fn stop_on(workflow: &str, target: &str) -> String {
        AuditRecord {
            at: AT,
            actor: jacintar(),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: WorkflowId::new("atmosphere_stage", workflow).expect("valid"),
                target: Some(target.to_owned()),
                outcome: Outcome::Allowed,
            },
        }
        .render(true)
    }

    #[test]
    fn dots_in_a_workflow_name_cannot_be_read_as_the_boundary_with_its_target() {
        let a = stop_on("winds.", "../../etc/passwd");
        let b = stop_on("winds", "../../../etc/passwd");
        assert_ne!(a, b);
        assert!(
            a.ends_with("stopped atmosphere_stage.winds\\x2e.../../etc/passwd"),
            "{a}"
        );
        assert!(b.ends_with("stopped atmosphere_stage.winds.../../../etc/passwd"), "{b}");
        assert_ne!(stop_on("a.b", "c"), stop_on("a", "b.c"));
        assert!(
            stop_on("clouds", "climb.1234").ends_with("stopped atmosphere_stage.clouds.climb.1234"),
            "a name without dots reads as before"
        );
    }

    #[test]
    fn a_huge_untrusted_field_is_cut_to_a_bounded_marked_length_however_it_escapes() {
        let r = AuditRecord {
            at: AT,
            actor: jacintar(),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: clouds(),
                target: Some("\u{7}".repeat(16 * 1024)),
                outcome: Outcome::Denied {
                    reason: "not-granted".into(),
                },
            },
        };
        let line = r.render(true);
        assert!(line.len() < 2048, "{} bytes", line.len());
        assert!(line.contains("\u{2026}(+16128 bytes)"), "{line}");
        assert!(!line.contains('\n'));
        let short = AuditRecord {
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: clouds(),
                target: Some("climb".into()),
                outcome: Outcome::Allowed,
            },
            ..r
        };
        assert!(!short.render(true).contains('\u{2026}'));
    }

    #[test]
    fn an_allowed_stop_reads_as_in_seed_001() {
        let r = AuditRecord {
            at: AT,
            actor: jacintar(),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: clouds(),
                target: Some("climb.1234".into()),
                outcome: Outcome::Allowed,
            },
        };
        assert_eq!(
            r.render(true),
            "2026-11-22T10:00:00Z User jacintar stopped atmosphere_stage.clouds.climb.1234"
        );
    }

    #[test]
    fn elevation_and_denial_lines_read_plainly() {
        let up = AuditRecord {
            at: AT,
            actor: jacintar(),
            source: None,
            event: AuditEvent::Elevation {
                to: Level::Execute,
                outcome: Outcome::Allowed,
            },
        };
        assert_eq!(
            up.render(true),
            "2026-11-22T10:00:00Z User jacintar raised privileges to execute"
        );
        let no = AuditRecord {
            at: AT,
            actor: Actor::User(Owner::new("mallory").expect("valid")),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Trigger,
                workflow: clouds(),
                target: None,
                outcome: Outcome::Denied {
                    reason: "not-granted".into(),
                },
            },
        };
        assert_eq!(
            no.render(true),
            "2026-11-22T10:00:00Z User mallory was denied trigger on atmosphere_stage.clouds (not-granted)"
        );
    }

    #[test]
    fn alerts_and_defences_read_plainly_and_escape_their_fields() {
        let alert = AuditRecord {
            at: AT,
            actor: Actor::Defender,
            source: None,
            event: AuditEvent::Alert {
                source: "127.0.0.2".into(),
                signal: "auth-failure".into(),
                count: 5,
                window_secs: 60,
            },
        };
        assert_eq!(
            alert.render(true),
            "2026-11-22T10:00:00Z Defender raised an alert: 5 auth-failure from 127.0.0.2 within 60s"
        );
        let block = AuditRecord {
            at: AT,
            actor: jacintar(),
            source: None,
            event: AuditEvent::Defence {
                action: DefenceAction::BlockSource,
                target: "127.0.0.2\n2026 User x".into(),
                outcome: Outcome::Allowed,
            },
        };
        assert_eq!(
            block.render(true),
            "2026-11-22T10:00:00Z User jacintar blocked source 127.0.0.2\\n2026\\x20User\\x20x"
        );
        let refused = AuditRecord {
            at: AT,
            actor: Actor::User(Owner::new("mallory").expect("valid")),
            source: None,
            event: AuditEvent::Defence {
                action: DefenceAction::RevokeJobKey,
                target: "~a/b//1/c/01".into(),
                outcome: Outcome::Denied {
                    reason: "not-an-operator".into(),
                },
            },
        };
        assert_eq!(
            refused.render(true),
            "2026-11-22T10:00:00Z User mallory was denied revoke-job-key on ~a/b//1/c/01 (not-an-operator)"
        );
    }

    #[test]
    fn escaping_leaves_no_line_breaks_spaces_or_invisible_controls() {
        let nasty = "a\nb\rc d\u{2028}e\u{2029}f\u{85}g\u{202e}h\\i\u{1b}[31m\0";
        let e = escape(nasty);
        assert_eq!(
            e,
            "a\\nb\\rc\\x20d\\u{2028}e\\u{2029}f\\u{0085}g\\u{202e}h\\\\i\\x1b\\x5b31m\\x00"
        );
        assert!(e.chars().all(|c| c.is_ascii_graphic()));
        assert_eq!(escape("climb.1234"), Cow::Borrowed("climb.1234"));
    }

    #[test]
    fn a_verdict_names_the_record_that_allowed_the_operation_and_what_the_scheduler_did() {
        let line = |verdict| {
            AuditRecord {
                at: AT,
                actor: jacintar(),
                source: None,
                event: AuditEvent::Verdict {
                    op: Operation::Hold,
                    workflow: clouds(),
                    target: Some("nope.1".to_owned()),
                    allowed: 7,
                    verdict,
                },
            }
            .render(true)
        };
        let head = "User jacintar had hold on atmosphere_stage.clouds.nope.1 (record 7)";
        assert!(line(CommandVerdict::Applied).ends_with(&format!("{head} applied by the scheduler")));
        assert!(
            line(CommandVerdict::Rejected {
                code: "no-such-task".to_owned()
            })
            .ends_with(&format!("{head} rejected by the scheduler (no-such-task)"))
        );
        assert!(
            line(CommandVerdict::NotSent {
                reason: "not running\n".to_owned()
            })
            .ends_with(&format!("{head} not sent (not\\x20running\\n)"))
        );
        assert!(line(CommandVerdict::Unconfirmed).ends_with(&format!("{head} unconfirmed by the scheduler")));
    }

    #[test]
    fn a_refusal_names_the_source_the_route_template_and_the_code_and_a_count_says_how_many() {
        let refused = AuditRecord {
            at: AT,
            actor: Actor::Unauthenticated,
            source: Some("::ffff:127.0.0.9".parse().expect("ip")),
            event: AuditEvent::Refused {
                method: "POST".to_owned(),
                route: "/o/:owner/workflows/:name".to_owned(),
                reason: "csrf".to_owned(),
            },
        };
        assert!(
            refused.render(true).ends_with(
                "An unauthenticated client from 127.0.0.9 was refused POST /o/:owner/workflows/:name (csrf)"
            )
        );
        let odd = AuditRecord {
            event: AuditEvent::Refused {
                method: "GET X".to_owned(),
                route: "(unmatched)".to_owned(),
                reason: "not-found".to_owned(),
            },
            ..refused
        };
        assert!(
            odd.render(true)
                .ends_with("was refused GET\\x20X \\x28unmatched\\x29 (not-found)")
        );
        let counted = AuditRecord {
            at: AT,
            actor: Actor::Defender,
            source: None,
            event: AuditEvent::Uncounted { refusals: 1234 },
        };
        assert!(counted.render(true).ends_with(
            "Defender counted 1234 refusals not recorded one by one (over the unauthenticated audit rate, or the refusal queue full)"
        ));
    }
}
