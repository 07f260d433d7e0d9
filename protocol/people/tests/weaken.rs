//! Each defence is necessary: a scenario the full build refuses goes through without it.
//! (Built only with the `weaken` feature.)

use protocol_core::time::Millis;
use protocol_people::audit::{
    Actor, AuditEvent, AuditKey, AuditRecord, AuditWriter, Outcome, default_head_path, verify_with,
};
use protocol_people::authz::{Authorizer, Decision};
use protocol_people::checks::{PeopleCheck, PeopleDefences};
use protocol_people::names::Subject;
use protocol_people::ops::{Level, Operation, Right};
use protocol_people::policy::Policy;
use protocol_people::session::{SessionError, SessionManager, Token};

use crate::common::*;

fn authz(d: &PeopleDefences) -> Authorizer {
    Authorizer::with_defences(Policy::load_with(&example_policy(), d), d.clone())
}

fn sessions(d: &PeopleDefences) -> SessionManager {
    SessionManager::with_defences(example_users(), fast_config(), d.clone()).expect("manager")
}

fn login(m: &mut SessionManager, rng: &mut TestRng) -> Token {
    m.login(T0, "jacintar", &password("jacintar"), &audience("gateway"), rng)
        .expect("login")
        .0
}

fn writer(d: &PeopleDefences, dir: &std::path::Path) -> AuditWriter {
    let path = dir.join("audit.log");
    AuditWriter::open_with(
        &path,
        &default_head_path(&path),
        AuditKey::from_bytes([7; 32]),
        d.clone(),
    )
    .expect("opens")
}

fn record(n: u64, target: &str) -> AuditRecord {
    AuditRecord {
        at: Millis(T0.0 + n * 1000),
        actor: Actor::User(owner("jacintar")),
        source: None,
        event: AuditEvent::Operation {
            op: Operation::Stop,
            workflow: wid("atmosphere_stage/clouds"),
            target: Some(target.into()),
            outcome: Outcome::Allowed,
        },
    }
}

/// A three-record log written with `d`, then `tamper`ed with, then verified with `d`.
/// What a scenario saw: `Ok` when the attack got through, otherwise the checks its typed
/// refusal names (empty for a refusal that names none).
type Seen = Result<(), Vec<PeopleCheck>>;

fn decision(d: Decision) -> Seen {
    match d {
        Decision::Allow(_) => Ok(()),
        Decision::Deny(r) => Err(r.check().into_iter().collect()),
    }
}

fn session<T>(r: Result<T, SessionError>) -> Result<T, Vec<PeopleCheck>> {
    r.map_err(|e| e.checks().to_vec())
}

/// `Ok` if `got_through`, else a refusal by `by` (an effect only that check produces).
fn unless(got_through: bool, by: &[PeopleCheck]) -> Seen {
    if got_through { Ok(()) } else { Err(by.to_vec()) }
}

fn tampered_log_verifies(d: &PeopleDefences, tamper: impl Fn(&mut Vec<String>)) -> Seen {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = writer(d, dir.path());
    for i in 1..=3 {
        let _ = w.append(&record(i, &format!("climb.{i}"))).expect("appends");
    }
    drop(w);
    let path = dir.path().join("audit.log");
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .expect("read")
        .lines()
        .map(|l| format!("{l}\n"))
        .collect();
    tamper(&mut lines);
    std::fs::write(&path, lines.concat()).expect("write");
    verify_with(&path, &default_head_path(&path), &AuditKey::from_bytes([7; 32]), d)
        .map(drop)
        .map_err(|e| e.check().into_iter().collect())
}

/// Whether the attack the check exists to stop succeeds against a core built with `d`, and if
/// not, which checks the refusal names.
fn breached(check: PeopleCheck, d: &PeopleDefences) -> Seen {
    let mut rng = TestRng::new(7);
    let gw = audience("gateway");
    match check {
        PeopleCheck::SiteLimit => decision(authz(d).decide(
            &example_person("jacintar"),
            &example_wf("atmosphere_stage/clouds"),
            Operation::EditTrigger,
            Level::Write,
        )),
        PeopleCheck::NegationWins => {
            let r = |s: &str| -> Right { s.parse().expect("right") };
            let p = Policy::new()
                .with_site_rule(Subject::Anyone, Subject::Anyone, None, Some(vec![r("ALL")]))
                .with_owner_rule(
                    owner("olivia"),
                    "group:ops".parse().expect("subject"),
                    vec![r("EXECUTE")],
                )
                .with_owner_rule(
                    owner("olivia"),
                    "mallory".parse().expect("subject"),
                    vec![r("!trigger")],
                );
            decision(Authorizer::with_defences(Ok(p), d.clone()).decide(
                &person("mallory", &["ops"]),
                &wf("olivia/w"),
                Operation::Trigger,
                Level::Write,
            ))
        }
        PeopleCheck::FailClosed => {
            let dir = tempfile::tempdir().expect("tempdir");
            copy_tree(&example_policy(), dir.path());
            std::fs::write(
                dir.path().join("workflows/oceans_stage/currents.toml"),
                "[grants]\n\"*\" = [\"!ALLL\"]\n",
            )
            .expect("write");
            decision(
                Authorizer::with_defences(Policy::load_with(dir.path(), d), d.clone()).decide(
                    &example_person("jacintar"),
                    &example_wf("oceans_stage/currents"),
                    Operation::Read,
                    Level::Read,
                ),
            )
        }
        PeopleCheck::ElevationRequired => decision(authz(d).decide(
            &example_person("mallory"),
            &example_wf("atmosphere_stage/clouds"),
            Operation::Stop,
            Level::Read,
        )),
        PeopleCheck::ElevationReauth => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            session(m.elevate(mins(1), &t, &gw, "a stolen token, no password", Level::Write, &mut rng)).map(drop)
        }
        PeopleCheck::ElevationNewToken => {
            let mut m = sessions(d);
            let old = login(&mut m, &mut rng);
            let _ = m
                .elevate(mins(1), &old, &gw, &password("jacintar"), Level::Execute, &mut rng)
                .expect("elevates");
            let s = session(m.authenticate(mins(2), &old, &gw))?;
            unless(s.level == Level::Execute, &[])
        }
        PeopleCheck::ElevationExpiry => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            let (t, _) = m
                .elevate(mins(1), &t, &gw, &password("jacintar"), Level::Execute, &mut rng)
                .expect("elevates");
            let _ = m.authenticate(mins(9), &t, &gw).expect("kept alive");
            // The session lives on at its base level: only the elevation lapsed.
            let s = session(m.authenticate(mins(17), &t, &gw))?;
            unless(s.level == Level::Execute, &[PeopleCheck::ElevationExpiry])
        }
        PeopleCheck::TokenAudience => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            session(m.authenticate(mins(1), &t, &audience("uiserver:oceans_stage"))).map(drop)
        }
        PeopleCheck::TokenIdleExpiry => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            session(m.authenticate(mins(11), &t, &gw)).map(drop)
        }
        PeopleCheck::TokenAbsoluteExpiry => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            for i in 1..=12 {
                session(m.authenticate(mins(i * 9), &t, &gw))?;
            }
            Ok(())
        }
        PeopleCheck::TokenRevocation => {
            let mut m = sessions(d);
            let t = login(&mut m, &mut rng);
            let _ = m.logout(&t).expect("logs out");
            session(m.authenticate(mins(1), &t, &gw)).map(drop)
        }
        PeopleCheck::TokenHashing => {
            let mut m = sessions(d);
            let _ = login(&mut m, &mut rng);
            let stolen = m.stored_keys()[0];
            let replay = Token::from_wire(&hex::encode(stolen.bytes())).expect("well formed");
            session(m.authenticate(mins(1), &replay, &gw)).map(drop)
        }
        PeopleCheck::UniformLoginFailure => {
            let mut m = sessions(d);
            let unknown = m.login(T0, "no_such_user", "guess", &gw, &mut rng).map(|_| ());
            let wrong = m.login(T0, "jacintar", "guess", &gw, &mut rng).map(|_| ());
            if unknown != wrong && matches!(unknown, Err(SessionError::UnknownUser { .. })) {
                return Ok(());
            }
            session(unknown).and(Err(Vec::new()))
        }
        PeopleCheck::AuditChain => tampered_log_verifies(d, |l| l.swap(0, 1)),
        PeopleCheck::AuditAnchor => tampered_log_verifies(d, |l| {
            l.pop();
        }),
        PeopleCheck::AuditEscaping => {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut w = writer(d, dir.path());
            let forged = "climb.1\n2026-11-22T10:00:00Z User root stopped everything";
            let _ = w.append(&record(1, forged)).expect("appends");
            drop(w);
            let text = std::fs::read_to_string(dir.path().join("audit.log")).expect("read");
            let injected = text
                .lines()
                .any(|l| l.starts_with("2026-11-22T10:00:00Z User root stopped everything"));
            // The escaped newline is what only audit-escaping writes.
            let escaped = text.contains("climb.1\\n2026-11-22T10:00:00Z");
            unless(injected, if escaped { &[PeopleCheck::AuditEscaping] } else { &[] })
        }
        PeopleCheck::AuditBeforeEffect => {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut w = writer(d, dir.path());
            let _receipt = w.append(&record(1, "climb.1")).expect("appends");
            // The caller acts now; a crash here must not lose the record.
            let on_disk = std::fs::read_to_string(dir.path().join("audit.log")).expect("read");
            unless(
                !on_disk.contains("stopped atmosphere_stage.clouds.climb.1"),
                &[PeopleCheck::AuditBeforeEffect],
            )
        }
    }
}

fn assert_necessary(check: PeopleCheck) {
    match breached(check, &PeopleDefences::all()) {
        Err(named) => assert!(
            named.contains(&check),
            "{check}: the full build refused, but its refusal names {named:?}, not {check}"
        ),
        Ok(()) => panic!("{check}: the full build must refuse the scenario"),
    }
    assert_eq!(
        breached(check, &PeopleDefences::all().without(check)),
        Ok(()),
        "{check}: without it the scenario must go through"
    );
}

#[test]
fn every_check_is_necessary_and_none_is_covered_by_another() {
    for check in PeopleCheck::ALL {
        assert_necessary(check);
    }
}

#[test]
fn without_site_limit_an_owner_can_give_edit_trigger() {
    assert_necessary(PeopleCheck::SiteLimit);
}

#[test]
fn without_negation_wins_a_group_grant_overrides_a_personal_negation() {
    assert_necessary(PeopleCheck::NegationWins);
}

#[test]
fn without_fail_closed_a_typo_in_a_sensitive_workflow_opens_it() {
    assert_necessary(PeopleCheck::FailClosed);
}

#[test]
fn without_elevation_required_a_read_only_session_stops_workflows() {
    assert_necessary(PeopleCheck::ElevationRequired);
}

#[test]
fn without_elevation_reauth_a_stolen_token_elevates_without_the_password() {
    assert_necessary(PeopleCheck::ElevationReauth);
}

#[test]
fn without_elevation_new_token_the_pre_elevation_token_is_elevated_too() {
    assert_necessary(PeopleCheck::ElevationNewToken);
}

#[test]
fn without_elevation_expiry_elevation_never_lapses() {
    assert_necessary(PeopleCheck::ElevationExpiry);
}

#[test]
fn without_token_audience_a_token_works_at_any_audience() {
    assert_necessary(PeopleCheck::TokenAudience);
}

#[test]
fn without_token_idle_expiry_an_abandoned_token_stays_valid() {
    assert_necessary(PeopleCheck::TokenIdleExpiry);
}

#[test]
fn without_token_absolute_expiry_a_kept_alive_token_lives_for_ever() {
    assert_necessary(PeopleCheck::TokenAbsoluteExpiry);
}

#[test]
fn without_token_revocation_a_logged_out_token_still_works() {
    assert_necessary(PeopleCheck::TokenRevocation);
}

#[test]
fn without_token_hashing_a_copy_of_the_session_store_is_a_set_of_tokens() {
    assert_necessary(PeopleCheck::TokenHashing);
}

#[test]
fn without_uniform_login_failure_logins_reveal_which_users_exist() {
    assert_necessary(PeopleCheck::UniformLoginFailure);
}

#[test]
fn without_audit_chain_reordered_records_verify() {
    assert_necessary(PeopleCheck::AuditChain);
}

#[test]
fn without_audit_anchor_a_truncated_log_verifies() {
    assert_necessary(PeopleCheck::AuditAnchor);
}

#[test]
fn without_audit_escaping_a_field_forges_a_line() {
    assert_necessary(PeopleCheck::AuditEscaping);
}

#[test]
fn without_audit_before_effect_the_effect_outruns_its_record() {
    assert_necessary(PeopleCheck::AuditBeforeEffect);
}

#[test]
fn removing_one_check_leaves_the_others_on() {
    let d = PeopleDefences::all().without(PeopleCheck::SiteLimit);
    assert!(!d.is_complete());
    assert_eq!(PeopleCheck::ALL.iter().filter(|c| !d.is_on(**c)).count(), 1);
}
