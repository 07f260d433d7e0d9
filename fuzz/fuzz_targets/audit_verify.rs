//! Audit-log verification (`threatcheck audit verify`) with a fixed key.
//!
//! * Raw: the input is a log and its head (split at the first NUL; no NUL: no head), checked
//!   with `protocol_people::audit::check` and (selector 2) also written to files and checked
//!   with `audit::verify`; the two must agree, and a log that verifies has one record per line, all anchored but at most one.
//! * Structured: records built from the input (untrusted names, targets, sources, reasons…)
//!   are written with `MemoryLog`, the writer's chain in memory. The log must verify, each
//!   line must be its record's escaped rendering on one line, a log one record ahead of its
//!   head (a crash between the two) must verify with that record unanchored, and any change
//!   to the log or the head (one byte altered, the log cut short, the head older than the
//!   log by two records) must be refused. Hex digits of a MAC are decoded without regard to
//!   case, so changing only their case is not counted as a change.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use protocol_core::{Millis, Owner, WorkflowId};
use protocol_people::audit::{
    self, Actor, AuditEvent, AuditKey, AuditRecord, AuditVerifyError, DefenceAction, MemoryLog, Outcome,
    default_head_path,
};
use protocol_people::ops::{Level, Operation};
use protocol_people::session::{Audience, SessionId};
use protocol_people::{PeopleCheck, PeopleDefences};

const KEY: [u8; 32] = [0x42; 32];

fn key() -> AuditKey {
    AuditKey::from_bytes(KEY)
}

fn log_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("threatcheck-fuzz-audit-{}.log", std::process::id()))
    })
}

fn raw(data: &[u8], through_files: bool) {
    let (log, head) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(String::from_utf8_lossy(&data[i + 1..]).into_owned())),
        None => (data, None),
    };
    let checked = audit::check(&key(), &PeopleDefences::all(), log, head.as_deref(), "fuzz.head");
    if let Ok(report) = &checked {
        let lines = log.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(report.records, lines, "a verified log has one record per line");
        assert!(log.is_empty() || log.ends_with(b"\n"));
        assert!(report.unanchored <= 1);
    }
    if let Err(e) = &checked {
        let _ = (e.to_string(), e.check());
    }
    if !through_files {
        return;
    }
    // The file-reading edge must say the same.
    let path = log_path();
    let head_path = default_head_path(path);
    std::fs::write(path, log).expect("write the log");
    match &head {
        Some(h) => std::fs::write(&head_path, h).expect("write the head"),
        None => {
            let _ = std::fs::remove_file(&head_path);
        }
    }
    let verified = audit::verify(path, &key());
    match (&checked, &verified) {
        (Ok(r), Ok(n)) => assert_eq!(r.records, *n as u64),
        (Err(AuditVerifyError::BadRecord { .. }), Err(AuditVerifyError::BadRecord { .. })) => {}
        (Err(AuditVerifyError::Head { problem: a, .. }), Err(AuditVerifyError::Head { problem: b, .. })) => {
            assert_eq!(a, b);
        }
        other => panic!("check and verify disagree: {other:?}"),
    }
}

#[derive(Arbitrary, Debug)]
enum ActorSel {
    User(u8),
    Claimed(String),
    Unauthenticated,
    Defender,
}

#[derive(Arbitrary, Debug)]
enum EventSel {
    Operation {
        op: u8,
        target: Option<String>,
        denied: Option<String>,
    },
    Elevation {
        level: u8,
        denied: Option<String>,
    },
    Login {
        audience: String,
        denied: Option<String>,
    },
    Logout(u64),
    Revocation(u64),
    Alert {
        source: String,
        signal: String,
        count: u64,
        window: u64,
    },
    Defence {
        action: u8,
        target: String,
        denied: Option<String>,
    },
}

#[derive(Arbitrary, Debug)]
struct RecordSel {
    at: u64,
    actor: ActorSel,
    event: EventSel,
}

#[derive(Arbitrary, Debug)]
enum Change {
    /// XOR a non-zero mask into one byte of the log.
    Log { at: u32, mask: u8 },
    /// XOR a non-zero mask into one byte of the head.
    Head { at: u16, mask: u8 },
    /// Cut this many bytes (at least one) off the end of the log.
    Cut(u16),
}

#[derive(Arbitrary, Debug)]
struct Structured {
    records: Vec<RecordSel>,
    change: Change,
}

fn outcome(denied: &Option<String>) -> Outcome {
    match denied {
        None => Outcome::Allowed,
        Some(reason) => Outcome::Denied { reason: reason.clone() },
    }
}

fn record(r: &RecordSel) -> AuditRecord {
    const USERS: [&str; 3] = ["jacintar", "mallory", "oceans_stage"];
    let actor = match &r.actor {
        ActorSel::User(i) => Actor::User(Owner::new(USERS[usize::from(*i) % 3]).expect("valid")),
        ActorSel::Claimed(s) => Actor::Claimed(s.clone()),
        ActorSel::Unauthenticated => Actor::Unauthenticated,
        ActorSel::Defender => Actor::Defender,
    };
    let event = match &r.event {
        EventSel::Operation { op, target, denied } => AuditEvent::Operation {
            op: Operation::ALL[usize::from(*op) % Operation::ALL.len()],
            workflow: WorkflowId::new("atmosphere_stage", "clouds").expect("valid"),
            target: target.clone(),
            outcome: outcome(denied),
        },
        EventSel::Elevation { level, denied } => AuditEvent::Elevation {
            to: Level::ALL[usize::from(*level) % 3],
            outcome: outcome(denied),
        },
        EventSel::Login { audience, denied } => AuditEvent::Login {
            audience: Audience::new(audience).unwrap_or_else(|_| Audience::new("hub").expect("valid")),
            outcome: outcome(denied),
        },
        EventSel::Logout(s) => AuditEvent::Logout { session: SessionId(*s) },
        EventSel::Revocation(s) => AuditEvent::Revocation { session: SessionId(*s) },
        EventSel::Alert {
            source,
            signal,
            count,
            window,
        } => AuditEvent::Alert {
            source: source.clone(),
            signal: signal.clone(),
            count: *count,
            window_secs: *window,
        },
        EventSel::Defence { action, target, denied } => AuditEvent::Defence {
            action: [
                DefenceAction::BlockSource,
                DefenceAction::UnblockSource,
                DefenceAction::RevokeJobKey,
                DefenceAction::RevokeClientKey,
                DefenceAction::RevokeUserSessions,
            ][usize::from(*action) % 5],
            target: target.clone(),
            outcome: outcome(denied),
        },
    };
    AuditRecord {
        at: Millis(r.at % 253_402_300_800_000),
        actor,
        source: None,
        event,
    }
}

/// Whether changing `from` into `to` is only a change of case of a hex digit.
fn same_hex_digit(from: u8, to: u8) -> bool {
    from.is_ascii_hexdigit() && to.is_ascii_hexdigit() && from.eq_ignore_ascii_case(&to)
}

fn structured(s: &Structured) {
    let defences = PeopleDefences::all();
    let records: Vec<AuditRecord> = s.records.iter().take(32).map(record).collect();
    let mut log = MemoryLog::new(key(), defences.clone());
    let mut heads = vec![log.head()];
    for r in &records {
        let _ = log.push(r);
        heads.push(log.head());
    }
    let n = records.len();
    let text = log.text().as_bytes().to_vec();
    let head = log.head();
    let check = |text: &[u8], head: &str| audit::check(&key(), &defences, text, Some(head), "fuzz.head");
    let report = check(&text, &head).expect("a log the writer made verifies");
    assert_eq!((report.records, report.unanchored), (n as u64, 0));
    let lines = log.lines();
    assert_eq!(lines.len(), n, "a record took more than one line");
    for (line, r) in lines.iter().zip(&records) {
        assert_eq!(*line, r.render(true), "the log holds something else than the record");
        assert!(
            !line.chars().any(char::is_control),
            "an escaped line holds a control character"
        );
    }
    if n >= 1 {
        let behind = check(&text, &heads[n - 1]).expect("one record ahead of the head verifies");
        assert_eq!((behind.records, behind.unanchored), (n as u64, 1));
    }
    if n >= 2 {
        let behind = check(&text, &heads[n - 2]);
        assert_eq!(
            behind.as_ref().err().and_then(AuditVerifyError::check),
            Some(PeopleCheck::AuditAnchor),
            "a head two records behind was not refused by audit-anchor: {behind:?}"
        );
    }
    match s.change {
        Change::Log { at, mask } if !text.is_empty() => {
            let i = at as usize % text.len();
            let mut changed = text.clone();
            changed[i] ^= mask.max(1);
            if !same_hex_digit(text[i], changed[i]) {
                let altered = check(&changed, &head);
                assert!(
                    matches!(altered, Err(AuditVerifyError::BadRecord { .. })),
                    "an altered log was not refused at a record (byte {i}): {altered:?}"
                );
            }
        }
        Change::Head { at, mask } => {
            let mut changed = head.clone().into_bytes();
            let i = usize::from(at) % changed.len();
            changed[i] ^= mask.max(1);
            if !same_hex_digit(head.as_bytes()[i], changed[i]) {
                let changed = String::from_utf8_lossy(&changed);
                let altered = check(&text, &changed);
                assert_eq!(
                    altered.as_ref().err().and_then(AuditVerifyError::check),
                    Some(PeopleCheck::AuditAnchor),
                    "an altered head was not refused by audit-anchor (byte {i}): {altered:?}"
                );
            }
        }
        Change::Cut(k) if !text.is_empty() => {
            let keep = text.len().saturating_sub(usize::from(k).max(1));
            let cut = check(&text[..keep], &head);
            assert!(
                matches!(
                    cut.as_ref().err().and_then(AuditVerifyError::check),
                    Some(PeopleCheck::AuditAnchor | PeopleCheck::AuditChain)
                ),
                "a log cut short was not refused by audit-anchor or audit-chain: {cut:?}"
            );
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        raw(rest, selector % 4 == 2);
    } else if let Ok(s) = Structured::arbitrary_take_rest(Unstructured::new(rest)) {
        structured(&s);
    }
});
