//! Request bodies of the hub and the UI server, through `protocol_gateway::http::parse_json`
//! (the strict, bounded JSON parser every handler uses) and then the public parsers each
//! handler applies to the fields.
//!
//! The body types themselves are private to the handlers (`hub::auth`, `hub::operator`,
//! `hub::proxy`, `uiserver::routes`); the structs here copy their fields and serde
//! attributes (`deny_unknown_fields` where they have it), so `parse_json` runs exactly as it
//! does for them. The first byte picks the body; the rest is the body.
//!
//! Checked: a strict body never gets through with a field it does not declare; any JSON value
//! that parses re-serialises and parses back equal; a login name, whatever it holds, is one
//! escaped token on one audit line; level, operation, job id, IP address and key fields parse
//! only to values that read back the same from how they print; a command target reaches the
//! wire only when the wire format can carry it.
#![no_main]

use std::collections::BTreeSet;
use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use protocol_core::wire::message::MAX_TARGET;
use protocol_core::wire::{ClientCommand, CommandOp, Message};
use protocol_core::{JobId, Millis, Owner, PublicKey};
use protocol_gateway::http::{ApiError, parse_json};
use protocol_people::audit::{Actor, AuditEvent, AuditRecord, Outcome};
use protocol_people::ops::{Level, Operation};
use protocol_people::session::Audience;
use serde::Deserialize;
use serde_json::Value;

// Copies of the private body types, field for field.

/// `hub::auth::LoginBody` (`POST /login`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    user: String,
    password: String,
    #[serde(default)]
    bearer: bool,
}

/// `hub::auth::ElevateBody` (`POST /elevate`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ElevateBody {
    #[allow(dead_code)]
    password: String,
    level: String,
}

/// `hub::operator::SourceBody` (`POST /operator/block`, `/operator/unblock`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBody {
    source: String,
}

/// `hub::operator::RevokeSessionBody`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeSessionBody {
    session: Option<u64>,
    user: Option<String>,
}

/// `hub::operator::RevokeJobBody`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeJobBody {
    job: String,
}

/// `hub::operator::RevokeClientBody`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeClientBody {
    owner: String,
    key: Option<String>,
}

/// `hub::proxy::LooseCommand` (read from an unauthenticated command, to audit it).
#[derive(Deserialize)]
struct LooseCommand {
    op: String,
}

/// `uiserver::routes::CommandBody` (`POST /workflows/NAME` on a UI server).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandBody {
    op: String,
    target: String,
}

/// A strict body that parsed: as a JSON value it names only `fields` (or, as serde also
/// accepts, lists at most that many values).
fn only_declared(body: &[u8], fields: &[&str]) {
    let value: Value = serde_json::from_slice(body).expect("a body that parses as a struct parses as JSON");
    match value {
        Value::Object(map) => {
            let allowed: BTreeSet<&str> = fields.iter().copied().collect();
            for k in map.keys() {
                assert!(allowed.contains(k.as_str()), "undeclared field {k:?} got through");
            }
        }
        Value::Array(items) => assert!(items.len() <= fields.len()),
        other => panic!("a struct parsed from {other:?}"),
    }
}

fn one_audit_line(actor: Actor, event: AuditEvent) {
    let line = AuditRecord {
        at: Millis(1_795_341_600_000),
        actor,
        source: None,
        event,
    }
    .render(true);
    assert!(
        !line.chars().any(char::is_control),
        "an audit line holds a control character: {line:?}"
    );
    assert!(!line.contains(" [#"), "an audit line holds a forged trailer: {line:?}");
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], fields: &[&str]) -> Option<T> {
    let parsed = parse_json::<T>(body);
    match &parsed {
        Ok(_) => only_declared(body, fields),
        Err(e) => assert_eq!(*e, ApiError::BadRequest, "a parse failure must be a plain bad-request"),
    }
    parsed.ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match selector % 9 {
        0 => {
            let Some(b) = parse::<LoginBody>(body, &["user", "password", "bearer"]) else {
                return;
            };
            let _ = (b.password.len(), b.bearer);
            // A failed login is audited with the name as typed.
            one_audit_line(
                Actor::Claimed(b.user.clone()),
                AuditEvent::Login {
                    audience: Audience::new("hub").expect("valid"),
                    outcome: Outcome::Denied {
                        reason: "bad-credentials".into(),
                    },
                },
            );
            if let Ok(owner) = Owner::new(&b.user) {
                assert_eq!(owner.as_str(), b.user);
            }
        }
        1 => {
            let Some(b) = parse::<ElevateBody>(body, &["password", "level"]) else {
                return;
            };
            if let Ok(level) = b.level.parse::<Level>() {
                assert!(level.name().eq_ignore_ascii_case(&b.level));
            }
        }
        2 => {
            let Some(b) = parse::<SourceBody>(body, &["source"]) else {
                return;
            };
            if let Ok(ip) = b.source.parse::<IpAddr>() {
                assert_eq!(ip.to_string().parse::<IpAddr>(), Ok(ip));
            }
        }
        3 => {
            let Some(b) = parse::<RevokeSessionBody>(body, &["session", "user"]) else {
                return;
            };
            if let (None, Some(user)) = (b.session, &b.user)
                && let Ok(owner) = Owner::new(user)
            {
                assert_eq!(owner.as_str(), user);
            }
        }
        4 => {
            let Some(b) = parse::<RevokeJobBody>(body, &["job"]) else {
                return;
            };
            if let Ok(job) = b.job.parse::<JobId>() {
                assert_eq!(job.to_string().parse::<JobId>(), Ok(job));
            }
        }
        5 => {
            let Some(b) = parse::<RevokeClientBody>(body, &["owner", "key"]) else {
                return;
            };
            let _ = Owner::new(&b.owner);
            if let Some(k) = &b.key
                && let Ok(key) = PublicKey::from_hex(k)
            {
                assert!(key.to_hex().eq_ignore_ascii_case(k));
            }
        }
        6 => {
            // Not strict: extra fields are ignored.
            let Ok(b) = parse_json::<LooseCommand>(body) else {
                return;
            };
            if let Ok(op) = b.op.parse::<Operation>() {
                assert_eq!(op.name().parse::<Operation>(), Ok(op));
            }
        }
        7 => {
            let Some(b) = parse::<CommandBody>(body, &["op", "target"]) else {
                return;
            };
            let Ok(op) = b.op.parse::<Operation>() else { return };
            assert_eq!(op.name().parse::<Operation>(), Ok(op));
            let command = Message::Command(ClientCommand {
                seq: 1,
                actor: Owner::new("jacintar").expect("valid"),
                op: CommandOp::Stop,
                target: b.target.clone(),
            });
            let carried = Message::decode(&command.to_bytes()).is_ok();
            let fits = b.target.len() <= MAX_TARGET && !b.target.chars().any(char::is_control);
            assert_eq!(carried, fits, "target {:?}", b.target);
            one_audit_line(
                Actor::User(Owner::new("jacintar").expect("valid")),
                AuditEvent::Operation {
                    op,
                    workflow: protocol_core::WorkflowId::new("atmosphere_stage", "clouds").expect("valid"),
                    target: Some(b.target),
                    outcome: Outcome::Allowed,
                },
            );
        }
        _ => {
            let Ok(value) = parse_json::<Value>(body) else { return };
            let text = serde_json::to_string(&value).expect("a value serialises");
            assert_eq!(
                parse_json::<Value>(text.as_bytes()),
                Ok(value),
                "JSON did not round-trip"
            );
        }
    }
});
