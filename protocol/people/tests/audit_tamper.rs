//! The audit log detects every kind of tampering, and keeps forged lines out.

use std::path::{Path, PathBuf};

use protocol_core::time::Millis;
use protocol_people::audit::{
    Actor, AuditError, AuditEvent, AuditKey, AuditKeyError, AuditRecord, AuditVerifyError, AuditWriter, BadReason,
    HeadProblem, Outcome, default_head_path, verify,
};
use protocol_people::ops::{Level, Operation};

use crate::common::*;

pub fn key() -> AuditKey {
    AuditKey::from_bytes([7; 32])
}

pub fn stop(n: u64, target: &str) -> AuditRecord {
    AuditRecord {
        at: Millis(T0.0 + n * 1000),
        actor: Actor::User(owner("jacintar")),
        source: None,
        event: AuditEvent::Operation {
            op: Operation::Stop,
            workflow: wid("atmosphere_stage/clouds"),
            target: Some(target.to_owned()),
            outcome: Outcome::Allowed,
        },
    }
}

/// A log of `n` records in a fresh directory.
pub fn log_of(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.log");
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    for i in 1..=n {
        let _ = w.append(&stop(i, &format!("climb.{i}"))).expect("appends");
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|l| format!("{l}\n"))
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.concat()).expect("write");
}

fn bad(record: u64, reason: BadReason) -> Result<usize, AuditVerifyError> {
    Err(AuditVerifyError::BadRecord { record, reason })
}

#[test]
fn the_log_and_its_head_are_private_to_the_gateways_user_even_if_the_log_was_made_readable() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let (_d, path) = log_of(2);
    let head = default_head_path(&path);
    assert_eq!(mode(&path), 0o600, "a new log");
    assert_eq!(mode(&head), 0o600, "its head");
    // A log someone made world-readable is made private again when it is next opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut w = AuditWriter::open(&path, key()).expect("reopens");
    let _ = w.append(&stop(3, "climb.3")).expect("appends");
    assert_eq!(mode(&path), 0o600, "a reopened log");
    assert_eq!(mode(&head), 0o600, "its rewritten head");
}

#[test]
fn an_untouched_log_verifies_and_reads_as_seed_001_says() {
    let (_d, path) = log_of(3);
    assert_eq!(verify(&path, &key()), Ok(3));
    let l = lines(&path);
    assert!(
        l[0].starts_with("2026-11-22T10:00:01Z User jacintar stopped atmosphere_stage.clouds.climb.1 [#1 "),
        "{}",
        l[0]
    );
}

#[test]
fn an_edited_record_is_detected() {
    let (_d, path) = log_of(3);
    let mut l = lines(&path);
    l[1] = l[1].replacen("jacintar", "jacintaz", 1);
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(2, BadReason::MacMismatch));
}

#[test]
fn a_deleted_record_is_detected() {
    let (_d, path) = log_of(4);
    let mut l = lines(&path);
    l.remove(1);
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(2, BadReason::OutOfSequence { found: 3 }));
}

#[test]
fn a_deleted_record_with_the_rest_renumbered_is_detected() {
    let (_d, path) = log_of(3);
    let l = lines(&path);
    let renumbered = l[2].replace(" [#3 ", " [#2 ");
    write_lines(&path, &[l[0].clone(), renumbered]);
    assert_eq!(verify(&path, &key()), bad(2, BadReason::MacMismatch));
}

#[test]
fn reordered_records_are_detected() {
    let (_d, path) = log_of(3);
    let mut l = lines(&path);
    l.swap(0, 1);
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(1, BadReason::OutOfSequence { found: 2 }));
}

#[test]
fn an_inserted_copy_of_a_genuine_record_is_detected() {
    let (_d, path) = log_of(3);
    let mut l = lines(&path);
    l.insert(2, l[0].clone());
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(3, BadReason::OutOfSequence { found: 1 }));
}

#[test]
fn an_inserted_hand_written_line_is_detected() {
    let (_d, path) = log_of(3);
    let mut l = lines(&path);
    l.insert(1, "2026-11-22T10:00:01Z User root stopped everything\n".into());
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(2, BadReason::NotARecord));
}

#[test]
fn a_truncated_tail_is_detected_through_the_head() {
    let (_d, path) = log_of(4);
    let l = lines(&path);
    write_lines(&path, &l[..2]);
    assert_eq!(verify(&path, &key()), bad(3, BadReason::Missing { anchored: 4 }));
    write_lines(&path, &[]);
    assert_eq!(verify(&path, &key()), bad(1, BadReason::Missing { anchored: 4 }));
}

#[test]
fn a_head_rewritten_without_the_key_or_removed_is_detected() {
    let (_d, path) = log_of(2);
    let head = default_head_path(&path);
    let text = std::fs::read_to_string(&head).expect("head");
    std::fs::write(&head, text.replacen(" 2 ", " 1 ", 1)).expect("write");
    assert_eq!(
        verify(&path, &key()),
        Err(AuditVerifyError::Head {
            path: head.display().to_string(),
            problem: HeadProblem::TagMismatch
        })
    );
    std::fs::remove_file(&head).expect("rm");
    assert_eq!(
        verify(&path, &key()),
        Err(AuditVerifyError::Head {
            path: head.display().to_string(),
            problem: HeadProblem::Missing
        })
    );
}

#[test]
fn a_log_replaced_by_another_under_its_head_is_detected() {
    let (_d, path) = log_of(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.log");
    let mut w = AuditWriter::open(&other, key()).expect("opens");
    for i in 1..=2 {
        let _ = w.append(&stop(i, "elsewhere")).expect("appends");
    }
    drop(w);
    std::fs::copy(&other, &path).expect("replace the log, keep its head");
    assert_eq!(verify(&path, &key()), bad(2, BadReason::AnchorMismatch));
}

#[test]
fn records_beyond_the_head_by_more_than_a_crash_are_detected() {
    let (_d, path) = log_of(2);
    let head = default_head_path(&path);
    let old_head = std::fs::read(&head).expect("head");
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    for i in 3..=4 {
        let _ = w.append(&stop(i, "x")).expect("appends");
    }
    drop(w);
    std::fs::write(&head, old_head).expect("roll the head back");
    assert_eq!(verify(&path, &key()), bad(4, BadReason::BeyondAnchor { anchored: 2 }));
}

#[test]
fn a_line_split_in_two_by_hand_is_detected() {
    let (_d, path) = log_of(2);
    let mut l = lines(&path);
    l[0] = l[0].replacen(" stopped ", "\nstopped ", 1);
    write_lines(&path, &l);
    assert_eq!(verify(&path, &key()), bad(1, BadReason::NotARecord));
}

#[test]
fn a_newline_in_a_field_cannot_forge_a_line() {
    let (_d, path) = log_of(1);
    let forged = "climb.1\n2026-11-22T10:00:00Z User root stopped atmosphere_stage.clouds [#2 00]\r\u{2028}x";
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    let _ = w.append(&stop(2, forged)).expect("appends");
    drop(w);
    let l = lines(&path);
    assert_eq!(l.len(), 2);
    assert!(
        l.iter()
            .all(|line| line.starts_with("2026-11-22T10:00:0") && line.contains(" User jacintar "))
    );
    assert!(
        l[1].contains("climb.1\\n2026-11-22T10:00:00Z\\x20User\\x20root"),
        "{}",
        l[1]
    );
    assert!(!l[1].contains('\r') && !l[1].contains('\u{2028}'));
    assert_eq!(verify(&path, &key()), Ok(2));
}

#[test]
fn the_wrong_key_verifies_nothing() {
    let (_d, path) = log_of(1);
    assert_eq!(
        verify(&path, &AuditKey::from_bytes([8; 32])),
        bad(1, BadReason::MacMismatch)
    );
}

#[test]
fn the_writer_refuses_to_extend_a_tampered_log() {
    let (_d, path) = log_of(3);
    let mut l = lines(&path);
    l.swap(1, 2);
    write_lines(&path, &l);
    assert!(matches!(
        AuditWriter::open(&path, key()),
        Err(AuditError::Corrupt(AuditVerifyError::BadRecord { record: 2, .. }))
    ));
    std::fs::remove_file(&path).expect("rm");
    assert!(matches!(
        AuditWriter::open(&path, key()),
        Err(AuditError::Corrupt(AuditVerifyError::BadRecord {
            reason: BadReason::Missing { anchored: 3 },
            ..
        }))
    ));
}

#[test]
fn a_record_fsynced_before_a_crash_but_not_anchored_verifies_and_is_anchored_on_open() {
    let (_d, path) = log_of(2);
    let head = default_head_path(&path);
    let old_head = std::fs::read(&head).expect("head");
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    let _ = w.append(&stop(3, "x")).expect("appends");
    drop(w);
    std::fs::write(&head, old_head).expect("crash before the head was replaced");
    let report =
        protocol_people::audit::verify_with(&path, &head, &key(), &protocol_people::checks::PeopleDefences::all());
    assert_eq!(report.map(|r| (r.records, r.unanchored)), Ok((3, 1)));
    let w = AuditWriter::open(&path, key()).expect("re-anchors");
    assert_eq!(w.count(), 3);
    drop(w);
    let report =
        protocol_people::audit::verify_with(&path, &head, &key(), &protocol_people::checks::PeopleDefences::all());
    assert_eq!(report.map(|r| r.unanchored), Ok(0));
}

#[test]
fn a_crash_while_creating_a_log_does_not_wedge_the_writer() {
    let (_d, path) = log_of(0);
    let head = default_head_path(&path);
    std::fs::remove_file(&path).expect("crash before the log was created");
    let mut w = AuditWriter::open(&path, key()).expect("an empty head lets a new log start");
    let _ = w.append(&stop(1, "x")).expect("appends");
    drop(w);
    std::fs::write(&path, "").expect("empty log");
    std::fs::remove_file(&head).expect("crash before the first head");
    let w = AuditWriter::open(&path, key()).expect("an empty log without a head starts afresh");
    assert_eq!(w.count(), 0);
    drop(w);
    assert_eq!(verify(&path, &key()), Ok(0));
}

#[test]
fn a_torn_last_line_is_reported_and_dropped_by_the_writer_on_open() {
    let (_d, path) = log_of(2);
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str("2026-11-22T10:00:03Z User jacintar sto");
    std::fs::write(&path, &text).expect("write");
    assert_eq!(verify(&path, &key()), bad(3, BadReason::Incomplete));
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    let _ = w.append(&stop(3, "x")).expect("appends");
    drop(w);
    assert_eq!(verify(&path, &key()), Ok(3));
}

#[test]
fn every_attempt_including_denials_and_elevations_is_one_record() {
    let (_d, path) = log_of(0);
    let mut w = AuditWriter::open(&path, key()).expect("opens");
    let mallory = Actor::User(owner("mallory"));
    let records = [
        AuditRecord {
            at: T0,
            actor: Actor::User(owner("jacintar")),
            source: None,
            event: AuditEvent::Elevation {
                to: Level::Execute,
                outcome: Outcome::Allowed,
            },
        },
        AuditRecord {
            at: T0,
            actor: mallory,
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Trigger,
                workflow: wid("atmosphere_stage/clouds"),
                target: Some("climb.1234".into()),
                outcome: Outcome::Denied {
                    reason: "not-granted".into(),
                },
            },
        },
    ];
    for r in &records {
        let _ = w.append(r).expect("appends");
    }
    let l = lines(&path);
    assert!(l[0].starts_with("2026-11-22T10:00:00Z User jacintar raised privileges to execute [#1 "));
    assert!(l[1].starts_with(
        "2026-11-22T10:00:00Z User mallory was denied trigger on atmosphere_stage.clouds.climb.1234 (not-granted) [#2 "
    ));
    assert_eq!(verify(&path, &key()), Ok(2));
}

#[test]
fn the_key_file_must_be_private_and_hex_and_its_debug_is_redacted() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit.key");
    let k = AuditKey::create_file(&path, &mut TestRng::new(1)).expect("creates");
    assert_eq!(AuditKey::from_file(&path), Ok(k.clone()));
    assert_eq!(format!("{k:?}"), "AuditKey(<redacted>)");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(matches!(
        AuditKey::create_file(&path, &mut TestRng::new(2)),
        Err(AuditKeyError::Io { .. })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(matches!(
        AuditKey::from_file(&path),
        Err(AuditKeyError::TooOpen { mode: 0o644, .. })
    ));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::write(&path, &text[..10]).expect("write");
    assert!(matches!(AuditKey::from_file(&path), Err(AuditKeyError::Format { .. })));
    let (_d, log) = log_of(2);
    let all = format!(
        "{}{}",
        std::fs::read_to_string(&log).expect("log"),
        std::fs::read_to_string(default_head_path(&log)).expect("head")
    );
    assert!(
        !all.contains(&hex::encode([7u8; 32])),
        "the key never reaches the log or head"
    );
}
