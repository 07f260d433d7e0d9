//! C02 — how do we detect bad actions?
//!
//! Only if every attempt, allowed or denied, is in the audit log before it has any effect, and
//! nobody can quietly change the log afterwards. [`DETECT_BAD_ACTIONS`] acts through the hub on
//! a real UI server — reads, refused commands (not granted, not elevated) and allowed ones that
//! change a real scheduler — and after each answer reads the UI server's audit log from disk:
//! the record must be there as soon as the effect (the scheduler's held set, paused flag) or
//! the refusal is visible. Then, as the attacker covering their tracks, it edits, deletes,
//! reorders, duplicates, inserts and truncates records in copies of the log and runs the
//! audit verifier on each.

use std::path::Path;

use protocol::Defence;
use protocol_people::audit::{AuditVerifyError, BadReason};
use protocol_people::{PeopleCheck, PeopleDefences};
use serde_json::json;

use super::{file_text, options};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};

/// Every attempt recorded before its effect; tampering detected.
pub const DETECT_BAD_ACTIONS: Harness = Harness {
    info: HarnessInfo {
        id: "c02-detect-bad-actions",
        story: "C02",
        target: "UI server audit log",
        title: "checks that every read, refused and allowed command is in the UI server's audit log on disk when its effect or refusal shows, then edits, deletes, reorders, duplicates, inserts and truncates records and verifies",
        defences: &[
            Defence::People(PeopleCheck::AuditBeforeEffect),
            Defence::People(PeopleCheck::AuditChain),
        ],
        control: Control::WithoutEach,
        note: "without audit-before-effect the UI server's audit log writes behind; without audit-chain its writer and verifier both lack it",
    },
    run: |w| Box::pin(detect_bad_actions(w)),
};

/// One attempt: who, what, and the audit line it must leave.
struct Attempt {
    user: &'static str,
    workflow: &'static str,
    op: &'static str,
    target: &'static str,
    /// The text the record must hold.
    record: &'static str,
    /// Whether it is let through (its effect then shows at the scheduler).
    allowed: bool,
}

const ATTEMPTS: [Attempt; 6] = [
    Attempt {
        user: "mallory",
        workflow: "clouds",
        op: "hold",
        target: "1234/climb",
        record: "User mallory was denied hold on atmosphere_stage.clouds.1234/climb (not-granted)",
        allowed: false,
    },
    Attempt {
        user: "mallory",
        workflow: "clouds",
        op: "stop",
        target: "1234",
        record: "User mallory was denied stop on atmosphere_stage.clouds.1234 (needs-elevation)",
        allowed: false,
    },
    Attempt {
        user: "jacintar",
        workflow: "clouds",
        op: "hold",
        target: "1234/climb",
        record: "User jacintar held atmosphere_stage.clouds.1234/climb",
        allowed: true,
    },
    Attempt {
        user: "jacintar",
        workflow: "winds",
        op: "pause",
        target: "1234",
        record: "User jacintar paused atmosphere_stage.winds.1234",
        allowed: true,
    },
    Attempt {
        user: "jacintar",
        workflow: "clouds",
        op: "edit-trigger",
        target: "1234",
        record: "User jacintar was denied edit-trigger on atmosphere_stage.clouds.1234 (above-site-limit)",
        allowed: false,
    },
    Attempt {
        user: "jacintar",
        workflow: "clouds",
        op: "release",
        target: "1234/climb",
        record: "User jacintar released atmosphere_stage.clouds.1234/climb",
        allowed: true,
    },
];

const OWNER: &str = "atmosphere_stage";

/// Whether the effect of an allowed attempt shows at the scheduler now.
async fn effect_shows(w: &GatewayWorld, a: &Attempt) -> Result<bool, HarnessError> {
    let control = w.workflow(a.workflow)?.control().await?;
    Ok(match a.op {
        "hold" => control.held.contains(a.target),
        "release" => !control.held.contains(a.target) && control.commands > 0,
        "pause" => control.paused,
        _ => control.commands > 0,
    })
}

/// Copies of the log, each tampered with one way, as an attacker covering their tracks would.
fn tampered(lines: &[&str]) -> Vec<(&'static str, Vec<String>)> {
    let own: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let mut out = Vec::new();
    let find = |needle: &str| lines.iter().position(|l| l.contains(needle));
    if let Some(i) = find("User jacintar held") {
        let mut edited = own.clone();
        if let Some(l) = edited.get_mut(i) {
            *l = l.replacen("User jacintar", "User oceans_stage", 1);
        }
        out.push(("an edited record (the actor changed)", edited));
    }
    if let Some(i) = find("User mallory was denied hold") {
        let mut deleted = own.clone();
        deleted.remove(i);
        out.push(("a deleted record (mallory's refused hold)", deleted));
    }
    if let (Some(i), Some(j)) = (find("User mallory was denied hold"), find("User jacintar held")) {
        let mut reordered = own.clone();
        reordered.swap(i, j);
        out.push((
            "two records swapped (the refused hold after the allowed one)",
            reordered,
        ));
    }
    if let (Some(i), Some(j)) = (find("User mallory was denied stop"), find("User jacintar held")) {
        let mut replayed = own.clone();
        if let (Some(copy), Some(l)) = (own.get(j), replayed.get_mut(i)) {
            l.clone_from(copy);
        }
        out.push((
            "a record replaced by a copy of another (mallory's refused stop hidden)",
            replayed,
        ));
    }
    let mut inserted = own.clone();
    let at = inserted.len().min(2);
    inserted.insert(
        at,
        format!(
            "2026-11-22T10:00:00Z User jacintar raised privileges to write [#{} {}]",
            at + 1,
            "ab".repeat(32)
        ),
    );
    out.push(("an inserted record", inserted));
    let mut truncated = own;
    truncated.pop();
    out.push(("the last record cut off", truncated));
    out
}

/// Whether the verifier's complaint is the chain's: a record out of sequence or with the wrong
/// MAC (not the head's anchoring, not a mangled line).
fn chain_broken(e: &AuditVerifyError) -> bool {
    matches!(
        e,
        AuditVerifyError::BadRecord {
            reason: BadReason::OutOfSequence { .. } | BadReason::MacMismatch,
            ..
        }
    )
}

/// What verifying the tampered copies showed.
struct Verified {
    /// Copies that verify, described.
    passed: Vec<String>,
    /// Copies refused, with the verifier's reason.
    caught: Vec<String>,
    /// Of those, how many audit-chain refused (out of sequence, MAC mismatch).
    chain: u64,
}

/// Verifies each tampered copy (with the original head) and lists those that pass.
fn undetected(w: &GatewayWorld, log: &Path, dir: &Path) -> Result<Verified, HarnessError> {
    let text = file_text(log);
    let head = std::fs::read(protocol_people::audit::default_head_path(log))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut passed = Vec::new();
    let mut caught = Vec::new();
    let mut chain = 0;
    for (i, (what, copy)) in tampered(&lines).into_iter().enumerate() {
        let path = dir.join(format!("tampered-{i}.log"));
        let mut body = copy.join("\n");
        body.push('\n');
        std::fs::write(&path, body)?;
        let head_path = protocol_people::audit::default_head_path(&path);
        std::fs::write(&head_path, &head)?;
        match w.verify(&path, &head_path) {
            Ok(report) => passed.push(format!("{what} verifies ({} records)", report.records)),
            Err(e) => {
                chain += u64::from(chain_broken(&e));
                caught.push(format!("{what}: {}", reason(&e)));
            }
        }
    }
    Ok(Verified { passed, caught, chain })
}

/// The verifier's complaint without file paths (which change every run).
fn reason(e: &AuditVerifyError) -> String {
    use AuditVerifyError as E;
    match e {
        E::BadRecord { record, reason } => format!("record {record}: {reason}"),
        E::Head { problem, .. } => format!("head: {problem}"),
        E::Io { reason, .. } => format!("unreadable: {reason}"),
    }
}

async fn run_world(audit: PeopleDefences) -> Result<Outcome, HarnessError> {
    let mut w = GatewayWorld::start(GatewayOptions {
        audit_defences: audit,
        hub_audit_defences: Some(PeopleDefences::all()),
        ..options()
    })
    .await?;
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    let log = w.audit_path(OWNER);
    let mut breaches = Vec::new();
    // Attempts whose record was on disk as soon as the answer came: audit-before-effect's work.
    let mut recorded_first = 0;
    let mut mallory = w.login("mallory").await?;
    // A read first: it is an attempt like any other.
    let read = mallory
        .get("/o/atmosphere_stage/workflows/clouds")
        .await
        .map_err(http)?;
    if read.status != 200 {
        return Err(HarnessError::setup(format!("mallory's read answered {}", read.status)));
    }
    if file_text(&log).contains("User mallory read atmosphere_stage.clouds") {
        recorded_first += 1;
    } else {
        breaches.push("mallory's read was served before its record was on disk".to_owned());
    }
    let mut jacintar = w.elevated("jacintar", "execute").await?;
    for a in &ATTEMPTS {
        let client = if a.user == "mallory" {
            &mut mallory
        } else {
            &mut jacintar
        };
        let r = client
            .post(
                &format!("/o/{OWNER}/workflows/{}", a.workflow),
                &json!({ "op": a.op, "target": a.target }),
            )
            .await
            .map_err(http)?;
        if (r.status == 200) != a.allowed {
            return Err(HarnessError::setup(format!(
                "{} {} on {} answered {}",
                a.user, a.op, a.workflow, r.status
            )));
        }
        let on_disk = file_text(&log).contains(a.record);
        recorded_first += u64::from(on_disk);
        if a.allowed && effect_shows(&w, a).await? && !on_disk {
            breaches.push(format!(
                "{} {} on {} took effect at the scheduler while its record was not on disk",
                a.user, a.op, a.workflow
            ));
        } else if !a.allowed && !on_disk {
            breaches.push(format!(
                "{}'s refused {} on {} was answered {} while no record of it was on disk",
                a.user, a.op, a.workflow, r.status
            ));
        }
    }
    w.stop_in_place().await;
    let head = protocol_people::audit::default_head_path(&log);
    let records = match w.verify(&log, &head) {
        Ok(r) => r.records,
        Err(e) => {
            return Err(HarnessError::setup(format!(
                "the untouched log does not verify: {}",
                reason(&e)
            )));
        }
    };
    let dir = tempfile::tempdir()?;
    let Verified { passed, caught, chain } = undetected(&w, &log, dir.path())?;
    breaches.extend(passed.into_iter().map(|p| format!("tampering went unseen: {p}")));
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::AuditBeforeEffect, recorded_first).and(PeopleCheck::AuditChain, chain),
        format!(
            "audit-before-effect: each of 7 attempts (a read, 3 refused commands answered 403, 3 allowed ones that \
             held, paused and released at the schedulers) was in the UI server's log on disk when its effect or \
             refusal showed; the log verifies ({records} records); audit-chain and the head anchor caught every \
             tampering: {}",
            caught.join("; ")
        ),
    ))
}

async fn detect_bad_actions(w: Weakening) -> Result<Outcome, HarnessError> {
    run_world(w.people()).await
}
