//! Login, tokens, audience, expiry, revocation, and elevation with re-authentication.

use protocol_people::ops::Level;
use protocol_people::session::{AuthSession, SessionError, SessionManager, Token};

use crate::common::*;

fn manager() -> SessionManager {
    SessionManager::new(example_users(), fast_config()).expect("manager")
}

fn login(m: &mut SessionManager, user: &str, rng: &mut TestRng) -> (Token, AuthSession) {
    m.login(T0, user, &password(user), &audience("gateway"), rng)
        .expect("login")
}

#[test]
fn a_new_session_is_read_only() {
    let mut rng = TestRng::new(1);
    let mut m = manager();
    let (t, s) = login(&mut m, "jacintar", &mut rng);
    assert_eq!(s.level, Level::Read);
    assert_eq!(
        m.authenticate(mins(1), &t, &audience("gateway")).map(|s| s.level),
        Ok(Level::Read)
    );
    assert_eq!(m.effective_level(mins(1), s.id), Some(Level::Read));
}

#[test]
fn a_wrong_password_and_an_unknown_user_fail_alike() {
    let mut rng = TestRng::new(2);
    let mut m = manager();
    let gw = audience("gateway");
    assert_eq!(
        m.login(T0, "jacintar", "guess", &gw, &mut rng).map(|_| ()),
        Err(SessionError::BadCredentials)
    );
    assert_eq!(
        m.login(T0, "nobody", "guess", &gw, &mut rng).map(|_| ()),
        Err(SessionError::BadCredentials)
    );
    assert_eq!(
        m.login(T0, "Not A Name\n", "guess", &gw, &mut rng).map(|_| ()),
        Err(SessionError::BadCredentials)
    );
    assert!(m.is_empty());
}

#[test]
fn elevation_needs_the_password_again() {
    let mut rng = TestRng::new(3);
    let mut m = manager();
    let gw = audience("gateway");
    let (t, _) = login(&mut m, "jacintar", &mut rng);
    let r = m.elevate(mins(1), &t, &gw, "wrong", Level::Execute, &mut rng);
    assert_eq!(r.map(|_| ()), Err(SessionError::ReauthFailed));
    assert_eq!(m.authenticate(mins(1), &t, &gw).map(|s| s.level), Ok(Level::Read));
}

#[test]
fn elevation_retires_the_old_token_and_issues_a_new_one() {
    let mut rng = TestRng::new(4);
    let mut m = manager();
    let gw = audience("gateway");
    let (old, s) = login(&mut m, "jacintar", &mut rng);
    let (new, up) = m
        .elevate(mins(1), &old, &gw, &password("jacintar"), Level::Execute, &mut rng)
        .expect("elevates");
    assert_eq!(up.id, s.id);
    assert_eq!(up.level, Level::Execute);
    assert_eq!(
        m.authenticate(mins(2), &old, &gw).map(|_| ()),
        Err(SessionError::UnknownToken)
    );
    assert_eq!(m.authenticate(mins(2), &new, &gw).map(|s| s.level), Ok(Level::Execute));
    assert_ne!(*old.to_wire(), *new.to_wire());
}

#[test]
fn elevation_lapses_exactly_at_the_end_of_its_window_without_any_request() {
    let mut rng = TestRng::new(5);
    let mut m = manager();
    let gw = audience("gateway");
    let (t, s) = login(&mut m, "jacintar", &mut rng);
    let (t, up) = m
        .elevate(mins(2), &t, &gw, &password("jacintar"), Level::Write, &mut rng)
        .expect("elevates");
    assert_eq!(up.elevated_until, Some(mins(17)));
    assert_eq!(m.authenticate(mins(10), &t, &gw).map(|s| s.level), Ok(Level::Write));
    let just_before = protocol_core::time::Millis(mins(17).0 - 1);
    assert_eq!(m.effective_level(just_before, s.id), Some(Level::Write));
    assert_eq!(m.effective_level(mins(17), s.id), Some(Level::Read));
    // Still a live session, only read-only again.
    assert_eq!(
        m.authenticate(mins(18), &t, &gw).map(|s| (s.level, s.elevated_until)),
        Ok((Level::Read, None))
    );
}

#[test]
fn elevating_to_read_is_refused() {
    let mut rng = TestRng::new(6);
    let mut m = manager();
    let (t, _) = login(&mut m, "jacintar", &mut rng);
    let r = m.elevate(
        mins(1),
        &t,
        &audience("gateway"),
        &password("jacintar"),
        Level::Read,
        &mut rng,
    );
    assert_eq!(r.map(|_| ()), Err(SessionError::NotAnElevation { to: Level::Read }));
}

#[test]
fn a_token_is_refused_by_another_audience() {
    let mut rng = TestRng::new(7);
    let mut m = manager();
    let (t, _) = login(&mut m, "jacintar", &mut rng);
    assert_eq!(
        m.authenticate(mins(1), &t, &audience("uiserver:oceans_stage"))
            .map(|_| ()),
        Err(SessionError::AudienceMismatch {
            issued_for: audience("gateway"),
            presented_to: audience("uiserver:oceans_stage")
        })
    );
}

#[test]
fn an_idle_token_expires_and_use_keeps_it_alive_until_the_absolute_lifetime() {
    let mut rng = TestRng::new(8);
    let mut m = manager();
    let gw = audience("gateway");
    let (t, s) = login(&mut m, "jacintar", &mut rng);
    for minute in (9..60).step_by(9) {
        assert!(m.authenticate(mins(minute), &t, &gw).is_ok(), "kept alive at {minute}");
    }
    assert_eq!(
        m.authenticate(mins(60), &t, &gw).map(|_| ()),
        Err(SessionError::Expired { session: s.id })
    );
    let (idle, s2) = login(&mut m, "mallory", &mut rng);
    assert_eq!(
        m.authenticate(mins(10), &idle, &gw).map(|_| ()),
        Err(SessionError::IdleExpired { session: s2.id })
    );
}

#[test]
fn logout_and_revocation_take_effect_at_once() {
    let mut rng = TestRng::new(9);
    let mut m = manager();
    let gw = audience("gateway");
    let (a, sa) = login(&mut m, "jacintar", &mut rng);
    let (b, sb) = login(&mut m, "jacintar", &mut rng);
    let (c, sc) = login(&mut m, "mallory", &mut rng);
    assert_eq!(m.logout(&a), Ok(sa.id));
    assert_eq!(
        m.authenticate(mins(1), &a, &gw).map(|_| ()),
        Err(SessionError::Revoked { session: sa.id })
    );
    assert_eq!(m.revoke_user(&owner("jacintar")), 1);
    assert_eq!(
        m.authenticate(mins(1), &b, &gw).map(|_| ()),
        Err(SessionError::Revoked { session: sb.id })
    );
    m.revoke(sc.id).expect("revokes");
    assert_eq!(
        m.authenticate(mins(1), &c, &gw).map(|_| ()),
        Err(SessionError::Revoked { session: sc.id })
    );
    let r = m.elevate(mins(1), &c, &gw, &password("mallory"), Level::Execute, &mut rng);
    assert_eq!(r.map(|_| ()), Err(SessionError::Revoked { session: sc.id }));
    m.purge(mins(1));
    assert!(m.is_empty());
}

#[test]
fn an_elevation_checked_before_a_logout_cannot_be_applied_after_it() {
    let mut rng = TestRng::new(10);
    let mut m = manager();
    let gw = audience("gateway");
    let (t, s) = login(&mut m, "jacintar", &mut rng);
    let pending = m
        .check_elevation(mins(1), &t, &gw, &password("jacintar"), Level::Execute)
        .expect("checks");
    m.logout(&t).expect("logs out");
    assert_eq!(
        m.apply_elevation(mins(1), &pending, &mut rng).map(|_| ()),
        Err(SessionError::ElevationStale { session: s.id })
    );
}

#[test]
fn tokens_never_appear_in_debug_output_or_errors() {
    let mut rng = TestRng::new(11);
    let mut m = manager();
    let (t, _) = login(&mut m, "jacintar", &mut rng);
    let wire = t.to_wire();
    let errors = [
        m.authenticate(mins(1), &t, &audience("elsewhere"))
            .map(|_| ())
            .expect_err("refused")
            .to_string(),
        Token::from_wire(&wire[..63])
            .map(|_| ())
            .expect_err("refused")
            .to_string(),
    ];
    let shown = format!("{t:?} {m:?} {errors:?}");
    assert!(!shown.contains(&wire[..]), "{shown}");
    assert!(!shown.contains(&wire[..12]), "{shown}");
    assert!(!shown.contains("example-password"));
}

#[test]
fn the_session_store_holds_digests_that_are_not_tokens() {
    let mut rng = TestRng::new(12);
    let mut m = manager();
    let (t, _) = login(&mut m, "jacintar", &mut rng);
    let stolen = m.stored_keys()[0];
    let replay = Token::from_wire(&hex::encode(stolen.bytes())).expect("well formed");
    assert_eq!(
        m.authenticate(mins(1), &replay, &audience("gateway")).map(|_| ()),
        Err(SessionError::UnknownToken)
    );
    assert!(m.authenticate(mins(1), &t, &audience("gateway")).is_ok());
}
