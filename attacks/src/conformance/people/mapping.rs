//! How each people variant maps to the real system: where its counterexample is replayed,
//! by which reason codes the full build shows the check refusing, and the result's note.

use model::variants::PeopleVariant;
use protocol_gateway::checks::GatewayCheck;
use protocol_people::PeopleCheck;

use super::live;

/// Where a variant's counterexample is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Live,
    Cores,
}

pub(super) const fn mode(variant: PeopleVariant) -> Mode {
    match variant {
        PeopleVariant::People(PeopleCheck::TokenAudience | PeopleCheck::TokenHashing | PeopleCheck::AuditChain) => {
            Mode::Cores
        }
        _ => Mode::Live,
    }
}

/// The reason codes (or verifier findings) by which the full build shows `variant`'s check
/// refusing.
pub(super) const fn refusal_codes(variant: PeopleVariant) -> &'static [&'static str] {
    let check = match variant {
        PeopleVariant::People(c) => c,
        PeopleVariant::Gateway(GatewayCheck::AssertionMac) => return &["bad-mac"],
        PeopleVariant::Gateway(GatewayCheck::AssertionFreshness) => return &["stale"],
        PeopleVariant::Gateway(GatewayCheck::AssertionReplay) => return &["replayed"],
        PeopleVariant::Gateway(_) => return &[],
    };
    match check {
        PeopleCheck::SiteLimit => &["above-site-limit"],
        PeopleCheck::NegationWins => &["negated"],
        PeopleCheck::FailClosed => &["policy-broken"],
        PeopleCheck::ElevationRequired | PeopleCheck::ElevationExpiry => &["needs-elevation"],
        PeopleCheck::ElevationReauth => &["reauth-failed"],
        PeopleCheck::ElevationNewToken | PeopleCheck::TokenHashing => &["unknown-token"],
        PeopleCheck::TokenAudience => &["wrong-audience"],
        PeopleCheck::TokenIdleExpiry => &["idle-expired"],
        PeopleCheck::TokenAbsoluteExpiry => &["expired"],
        PeopleCheck::TokenRevocation => &["revoked"],
        PeopleCheck::UniformLoginFailure => &["uniform-login-failure"],
        PeopleCheck::AuditChain => &["audit-chain"],
        PeopleCheck::AuditAnchor => &["audit-anchor"],
        PeopleCheck::AuditEscaping => &["escaped"],
        PeopleCheck::AuditBeforeEffect => &["recorded-first"],
    }
}

/// How a variant's actions map to the real system.
pub(super) fn note(variant: PeopleVariant) -> String {
    let live = "replayed live: a GatewayWorld on 127.0.0.1 (hub, UI server, scheduler of ~atmosphere_stage/clouds) \
                built without the check in every part that has it, with the model's policy, session timings and start \
                time on its manual clock; Login/Elevate/Logout are the honest person's POST /login, /elevate, /logout \
                (bearer tokens), Act and a watching Wait's read are GET/POST on /o/atmosphere_stage/workflows/clouds, \
                Wait moves the manual clock 10 minutes, ElevateWith and Present are the attacker's requests (from \
                another address) with the stolen or obtained token, asking to stop; the model's task climb.1234 is named 1234/climb, as the scheduler names it";
    let cores = "replayed on protocol-people's real cores with real files, not live";
    let check = match variant {
        PeopleVariant::People(c) => c,
        PeopleVariant::Gateway(_) => {
            return format!(
                "{live}; a relay between the hub and the UI server records every request the hub forwards: Capture                  keeps the one the hub forwarded in the last step (its recorded bytes), ReplayAssertion sends it                  straight to the UI server's loopback port as it was, EditAssertion with `level=write` and a nonce                  of its own; Jump sets the manual clock to the model's next deadline exactly; the UI server answers                  every refused assertion 401 and logs why, which is the reason read"
            );
        }
    };
    match check {
        PeopleCheck::TokenAudience => format!(
            "{cores}: one hub holds one session store for one audience and UI servers take no tokens (only signed \
             assertions), so no second audience exists live; the real session manager is asked for the hub's token \
             at audience `uiserver:atmosphere_stage` through the real gate and audit writer (live, s10-cross-audience-token \
             shows the hub's token means nothing to a UI server)"
        ),
        PeopleCheck::TokenHashing => format!(
            "{cores}: the hub's session store lives only in its memory, so no copy can be read live; the real session \
             manager's stored keys are presented as tokens through the real gate"
        ),
        PeopleCheck::AuditChain => format!(
            "{cores}: the model keeps one log for every record, the live system two (the hub's for logins and \
             elevations, the UI server's for operations), so the swapped pair would include the hub log's last, \
             anchored record and the anchor would catch what the chain is meant to; the real gate writes every record \
             of the trace to one real AuditWriter file with its head, tampered on disk and read back by the real \
             verifier"
        ),
        PeopleCheck::UniformLoginFailure => format!(
            "{live}; GuessLogins is {GUESS} failed logins each as an unknown name and as jacintar with production \
             argon2 parameters: the hub answers every failure alike in both builds, so the core's difference shows \
             as the skipped argon2 work (judged by fastest answers, as s03-account-enumeration does)",
            GUESS = live::GUESS_PAIRS
        ),
        PeopleCheck::AuditEscaping => format!(
            "{live}; InjectLine's field (a line break and a forged record) is sent in the one field the hub writes to \
             its audit log for an unauthenticated request: a login's user name (the hub records an unauthenticated \
             operation without its target, and UI servers refuse targets with control characters); the hub's audit \
             file is read from disk and verified"
        ),
        PeopleCheck::AuditAnchor => {
            format!(
                "{live}; Tamper cuts the last record off the hub's audit file on disk, which the real verifier reads back"
            )
        }
        PeopleCheck::AuditBeforeEffect => format!(
            "{live}; the effect is the UI server's 200 for the read, and durability is whether the UI server's audit \
             file on disk holds the read's record when the answer arrives"
        ),
        PeopleCheck::FailClosed => {
            format!(
                "{live}; Misconfigure writes the model's mistyped workflow file before the UI server loads the policy"
            )
        }
        PeopleCheck::TokenIdleExpiry
        | PeopleCheck::TokenAbsoluteExpiry
        | PeopleCheck::TokenRevocation
        | PeopleCheck::ElevationNewToken => format!(
            "{live}; the hub answers every refused token `401 unauthenticated` and records no reason, so the full \
             build's refusal is credited to the check by difference (the weakened build honoured the same request at \
             the same step) and its reason is the model's record of the token's session"
        ),
        _ => live.to_owned(),
    }
}
