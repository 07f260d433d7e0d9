//! The gate: every attempt is recorded before anything happens, and a permit only follows a
//! durable record.

use protocol_people::audit::{AuditError, AuditKey, AuditRecord, AuditSink, MemoryLog, Receipt};
use protocol_people::authz::{Authorizer, DenyReason};
use protocol_people::checks::PeopleDefences;
use protocol_people::gate::{Gate, GateError, Request, deny_reason};
use protocol_people::groups::FileGroups;
use protocol_people::ops::{Level, Operation};
use protocol_people::policy::Policy;
use protocol_people::session::{SessionError, SessionManager};

use crate::common::*;

struct Fixture {
    sessions: SessionManager,
    authz: Authorizer,
    groups: FileGroups,
    log: MemoryLog,
}

fn fixture() -> Fixture {
    Fixture {
        sessions: SessionManager::new(example_users(), fast_config()).expect("manager"),
        authz: Authorizer::from_load(Policy::load(&example_policy())),
        groups: example_groups(),
        log: MemoryLog::new(AuditKey::from_bytes([1; 32]), PeopleDefences::all()),
    }
}

impl Fixture {
    fn gate(&mut self) -> Gate<'_, FileGroups, MemoryLog> {
        Gate {
            sessions: &mut self.sessions,
            authorizer: &self.authz,
            groups: &self.groups,
            audit: &mut self.log,
            source: None,
        }
    }
}

#[test]
fn the_seed_001_story_is_recorded_line_by_line() {
    let mut f = fixture();
    let mut rng = TestRng::new(1);
    let gw = audience("gateway");
    let clouds = wid("atmosphere_stage/clouds");
    let (t, _) = f
        .gate()
        .login(T0, "jacintar", &password("jacintar"), &gw, &mut rng)
        .expect("login");
    let stop = Request {
        token: &t,
        audience: &gw,
        workflow: &clouds,
        op: Operation::Stop,
        target: Some("climb.1234"),
    };
    let refused = f.gate().authorize(mins(1), &stop).expect_err("read-only session");
    assert_eq!(
        deny_reason(&refused),
        Some(&DenyReason::LevelTooLow {
            needed: Level::Execute,
            have: Level::Read
        })
    );
    let (t, _) = f
        .gate()
        .elevate(mins(2), &t, &gw, &password("jacintar"), Level::Execute, &mut rng)
        .expect("elevates");
    let stop = Request { token: &t, ..stop };
    let permit = f.gate().authorize(mins(3), &stop).expect("permitted");
    assert_eq!((permit.op(), permit.user().as_str()), (Operation::Stop, "jacintar"));
    assert_eq!(permit.receipt().record, 4);
    let edit = Request {
        op: Operation::EditTrigger,
        ..stop
    };
    assert!(matches!(
        deny_reason(&f.gate().authorize(mins(4), &edit).expect_err("denied")),
        Some(DenyReason::AboveSiteLimit { .. })
    ));
    assert_eq!(
        f.log.lines(),
        [
            "2026-11-22T10:00:00Z User jacintar logged in to gateway",
            "2026-11-22T10:01:00Z User jacintar was denied stop on atmosphere_stage.clouds.climb.1234 (needs-elevation)",
            "2026-11-22T10:02:00Z User jacintar raised privileges to execute",
            "2026-11-22T10:03:00Z User jacintar stopped atmosphere_stage.clouds.climb.1234",
            "2026-11-22T10:04:00Z User jacintar was denied edit-trigger on atmosphere_stage.clouds.climb.1234 (above-site-limit)",
        ]
    );
}

#[test]
fn failed_logins_bad_tokens_and_bad_passwords_are_recorded_too() {
    let mut f = fixture();
    let mut rng = TestRng::new(2);
    let gw = audience("gateway");
    let e = f
        .gate()
        .login(T0, "root\nforged line", "x", &gw, &mut rng)
        .expect_err("refused");
    assert_eq!(e, GateError::Session(SessionError::BadCredentials));
    let (t, _) = f
        .gate()
        .login(T0, "mallory", &password("mallory"), &gw, &mut rng)
        .expect("login");
    let e = f
        .gate()
        .elevate(mins(1), &t, &gw, "guess", Level::Write, &mut rng)
        .expect_err("refused");
    assert_eq!(e, GateError::Session(SessionError::ReauthFailed));
    let clouds = wid("atmosphere_stage/clouds");
    let req = Request {
        token: &t,
        audience: &audience("other"),
        workflow: &clouds,
        op: Operation::Read,
        target: None,
    };
    assert!(matches!(
        f.gate().authorize(mins(2), &req),
        Err(GateError::Session(SessionError::AudienceMismatch { .. }))
    ));
    assert_eq!(
        f.log.lines(),
        [
            "2026-11-22T10:00:00Z User root\\nforged\\x20line failed to log in to gateway (bad-credentials)",
            "2026-11-22T10:00:00Z User mallory logged in to gateway",
            "2026-11-22T10:01:00Z User mallory was refused privileges to write (reauth-failed)",
            "2026-11-22T10:02:00Z An unauthenticated client was denied read on atmosphere_stage.clouds (wrong-audience)",
        ]
    );
}

/// A sink whose disk is full.
#[derive(Debug)]
struct FullDisk;

impl AuditSink for FullDisk {
    fn append(&mut self, _: &AuditRecord) -> Result<Receipt, AuditError> {
        Err(AuditError::Io {
            path: "audit.log".into(),
            reason: "no space left on device".into(),
        })
    }
}

#[test]
fn nothing_happens_when_the_record_cannot_be_written() {
    let mut f = fixture();
    let mut rng = TestRng::new(3);
    let gw = audience("gateway");
    let mut full = FullDisk;
    let mut gate = Gate {
        sessions: &mut f.sessions,
        authorizer: &f.authz,
        groups: &f.groups,
        audit: &mut full,
        source: None,
    };
    let e = gate
        .login(T0, "jacintar", &password("jacintar"), &gw, &mut rng)
        .expect_err("no record, no token");
    assert!(matches!(e, GateError::Audit(AuditError::Io { .. })));
    let (t, _) = f
        .sessions
        .login(T0, "jacintar", &password("jacintar"), &gw, &mut rng)
        .expect("login");
    let mut gate = Gate {
        sessions: &mut f.sessions,
        authorizer: &f.authz,
        groups: &f.groups,
        audit: &mut full,
        source: None,
    };
    let e = gate
        .elevate(mins(1), &t, &gw, &password("jacintar"), Level::Execute, &mut rng)
        .expect_err("not applied");
    assert!(matches!(e, GateError::Audit(_)));
    assert_eq!(
        f.sessions.authenticate(mins(1), &t, &gw).map(|s| s.level),
        Ok(Level::Read),
        "old token still the one, still read-only"
    );
    let clouds = wid("atmosphere_stage/clouds");
    let req = Request {
        token: &t,
        audience: &gw,
        workflow: &clouds,
        op: Operation::Read,
        target: None,
    };
    let mut gate = Gate {
        sessions: &mut f.sessions,
        authorizer: &f.authz,
        groups: &f.groups,
        audit: &mut full,
        source: None,
    };
    assert!(matches!(gate.authorize(mins(2), &req), Err(GateError::Audit(_))));
}

#[test]
fn a_vouched_request_is_decided_and_recorded_like_an_authenticated_one() {
    use protocol_people::gate::{Vouched, authorize_vouched};
    let mut f = fixture();
    let clouds = wid("atmosphere_stage/clouds");
    let jacintar = owner("jacintar");
    let stop = Vouched {
        user: &jacintar,
        level: Level::Read,
        workflow: &clouds,
        op: Operation::Stop,
        target: Some("1234/climb"),
    };
    let refused = authorize_vouched(&f.authz, &f.groups, &mut f.log, T0, &stop).expect_err("read-only");
    assert!(matches!(deny_reason(&refused), Some(DenyReason::LevelTooLow { .. })));
    let elevated = Vouched {
        level: Level::Execute,
        ..stop
    };
    let permit = authorize_vouched(&f.authz, &f.groups, &mut f.log, mins(1), &elevated).expect("allowed");
    assert_eq!((permit.op(), permit.receipt().record), (Operation::Stop, 2));
    assert_eq!(
        authorize_vouched(&f.authz, &f.groups, &mut FullDisk, mins(2), &elevated).map(|p| p.op()),
        Err(GateError::Audit(AuditError::Io {
            path: "audit.log".into(),
            reason: "no space left on device".into(),
        })),
        "no permit without a durable record"
    );
    assert_eq!(
        f.log.lines(),
        [
            "2026-11-22T10:00:00Z User jacintar was denied stop on atmosphere_stage.clouds.1234/climb (needs-elevation)",
            "2026-11-22T10:01:00Z User jacintar stopped atmosphere_stage.clouds.1234/climb",
        ]
    );
}

#[test]
fn every_record_the_gate_makes_names_the_source_it_was_given_and_its_debug_shows_no_secret() {
    let mut f = fixture();
    let mut rng = TestRng::new(7);
    let gw = audience("gateway");
    let from: std::net::IpAddr = "127.0.4.2".parse().expect("ip");
    let mut gate = Gate {
        source: Some(from),
        ..f.gate()
    };
    assert_eq!(format!("{gate:?}"), "Gate { sessions: 0, .. }");
    let refused = gate
        .login(T0, "jacintar", "not her password", &gw, &mut rng)
        .expect_err("a wrong password");
    assert!(
        matches!(refused, GateError::Session(SessionError::BadCredentials)),
        "{refused:?}"
    );
    let (token, _) = gate
        .login(T0, "jacintar", &password("jacintar"), &gw, &mut rng)
        .expect("login");
    assert!(!format!("{gate:?}").contains(&token.to_wire().to_string()));
    let lines = f.log.lines();
    assert_eq!(lines.len(), 2);
    assert!(
        lines.iter().all(|l| l.contains("User jacintar from 127.0.4.2 ")),
        "{lines:?}"
    );
}
