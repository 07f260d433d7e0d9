//! People-side conformance: every people variant's minimal counterexample, found by the people
//! model (`PeopleVariant::find_attack`), replayed step by step against the running code.
//!
//! For each of the 17 variants (one per `protocol_people::PeopleCheck`):
//!
//! 1. the model finds the shortest attack within `Bounds::QUICK`;
//! 2. the replay performs its actions on a build without that one check, and after every step
//!    the model's own `always` properties judge what the real system showed, re-told as the
//!    model's facts (module `judge`): the run must reach the model's violation at its last step;
//! 3. the same replay with every defence on must be refused by that step, and the evidence
//!    names the core's reason code (or, for the audit checks, the verifier's finding). Where
//!    the real system refuses without saying why (the hub's uniform `401`, a lapsed elevation
//!    seen as `needs-elevation`), the refusal is credited to the check only if the weakened
//!    build honoured the same request at the same step, and the reason given is the model's.
//!
//! Most variants replay **live** (module `live`): a `GatewayWorld` on 127.0.0.1 (hub, UI server,
//! scheduler) with the model's policy, timings and start time; HTTP answers, the audit files on
//! disk (verified with protocol-people's verifier) and the scheduler's event log are observed.
//! Three replay on protocol-people's **real cores with real files** (module `cores`) because one live
//! hub cannot show their step: `token-audience` (a second audience), `token-hashing` (a copy of
//! the session store, which lives in the hub's memory) and `audit-chain` (the model's single
//! log; the live hub and UI server split the trace's records between two files, so swapping
//! the hub log's first two records always moves its anchored last one). Each result's `note`
//! says which.

mod cores;
mod judge;
mod live;
mod mapping;

use std::time::{Duration, Instant};

use model::people::{Action, Bounds, Tamper};
use model::variants::PeopleVariant;
use protocol_gateway::checks::GatewayDefences;
use protocol_people::PeopleDefences;
use protocol_people::audit::{AuditVerifyError, BadReason};
use protocol_people::session::HashParams;

use super::{ConformanceResult, UnknownVariant, Verdict};
use crate::harness::{HarnessError, Weakening};
use crate::run::on_fresh_runtime;
use cores::Cores;
use judge::Judge;
use live::Live;
use mapping::{Mode, mode, note, refusal_codes};

/// The model's site layer (restated from `model::people`, which keeps it private).
const SITE_POLICY: &str = r#"[site."*"."*"]
default = ["READ", "stop", "play"]
limit = ["READ", "EXECUTE"]

[site."*"."group:operators"]
limit = ["READ", "EXECUTE", "reload"]
"#;

/// The model's owner layer for `atmosphere_stage`.
const OWNER_POLICY: &str = r#"[grants]
"group:operators" = ["READ", "EXECUTE"]
"jacintar" = ["READ", "stop", "reload", "edit-trigger", "!trigger"]
"#;

/// The model's mistyped workflow file for `clouds`.
const TYPO_POLICY: &str = r#"[grants]
"*" = ["REED"]
"#;

/// The task the honest person names (and, live, the attacker: the UI server requires one).
const TARGET: &str = "climb.1234";

/// The password the attacker tries.
const GUESSED: &str = "password123";

/// A user name that does not exist.
const UNKNOWN_USER: &str = "nobody";

/// The model's injected field: a task name, a line break, and a forged record.
const INJECTED: &str = "climb.1\n2026-11-22T10:00:00Z User jacintar stopped atmosphere_stage.clouds";

/// The longest one replay may take.
const REPLAY_LIMIT: Duration = Duration::from_secs(20);

/// What one step showed.
#[derive(Debug, Clone, Default)]
struct StepOut {
    /// What the real system showed, in words without secrets or timings.
    seen: String,
    /// A reason code the real system showed for refusing (or, for the audit checks, what the
    /// verifier or the disk showed the check doing).
    refusal: Option<String>,
    /// A property the real system's artefacts show violated beyond the facts the model judges
    /// (the audit files' one-line-per-record rule, the uniformity of failed logins).
    violates: Option<&'static str>,
    /// The real system refused without saying why (the hub's uniform `401`): `refusal` is the
    /// design's reason, credited only where the build without the check honoured the request.
    opaque: bool,
}

impl StepOut {
    fn seen(what: impl Into<String>) -> Self {
        Self {
            seen: what.into(),
            ..Self::default()
        }
    }

    fn refused(mut self, code: String) -> Self {
        self.refusal = Some(code);
        self
    }

    const fn opaque(mut self) -> Self {
        self.opaque = true;
        self
    }

    const fn violates(mut self, property: &'static str) -> Self {
        self.violates = Some(property);
        self
    }

    /// This step's observation followed by another's.
    fn then(self, next: Self) -> Self {
        Self {
            seen: format!("{}; then {}", self.seen, next.seen),
            opaque: if next.refusal.is_some() {
                next.opaque
            } else {
                self.opaque
            },
            refusal: next.refusal.or(self.refusal),
            violates: next.violates.or(self.violates),
        }
    }
}

/// Why a step could not be performed.
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// Nothing to do here (the attacker holds no such token, after an earlier refusal).
    #[error("not possible: {0}")]
    NotPossible(String),
    /// The replay has no counterpart for this action.
    #[error("no counterpart: {0}")]
    NoCounterpart(String),
    /// The replay itself failed.
    #[error(transparent)]
    Harness(#[from] HarnessError),
}

/// The model's tampering, on a stored log's text.
fn tampered_text(text: &str, kind: Tamper) -> String {
    let mut lines: Vec<String> = text.lines().map(|l| format!("{l}\n")).collect();
    match kind {
        Tamper::Reorder => {
            if lines.len() >= 2 {
                lines.swap(0, 1);
            }
        }
        Tamper::Truncate => {
            lines.pop();
        }
        Tamper::Backdate => {
            if let Some(first) = lines.first_mut()
                && let Some(day) = first.get(8..10)
            {
                let earlier = if day == "01" { "02" } else { "01" };
                first.replace_range(8..10, earlier);
            }
        }
    }
    lines.concat()
}

const fn tamper_words(kind: Tamper) -> &'static str {
    match kind {
        Tamper::Reorder => "had its first two records swapped",
        Tamper::Truncate => "had its last record cut off",
        Tamper::Backdate => "had its first record's date moved back",
    }
}

/// The check a verification failure is the work of.
const fn tamper_check(e: &AuditVerifyError) -> &'static str {
    match e {
        AuditVerifyError::BadRecord {
            reason: BadReason::Missing { .. } | BadReason::BeyondAnchor { .. } | BadReason::AnchorMismatch,
            ..
        }
        | AuditVerifyError::Head { .. } => "audit-anchor",
        AuditVerifyError::BadRecord { .. } => "audit-chain",
        _ => "audit-verify",
    }
}

/// The check whose refusal the full build must show, by people variant name.
#[must_use]
pub fn expected_check(variant: &str) -> Option<&'static str> {
    PeopleVariant::from_name(variant).map(PeopleVariant::name)
}

/// Every people variant's conformance (or only those named), in the checks' order; `progress`
/// is told each variant's name before it runs.
///
/// # Errors
/// [`UnknownVariant`] before anything runs.
pub fn run<S: AsRef<str>>(
    names: &[S],
    base: &Weakening,
    progress: impl FnMut(&str),
) -> Result<Vec<ConformanceResult>, UnknownVariant> {
    super::run_selected(
        names,
        PeopleVariant::all,
        PeopleVariant::from_name,
        PeopleVariant::name,
        |v| run_variant_weakened(v, base),
        progress,
    )
}

/// One people variant's conformance: model search, then the two replays.
#[must_use]
pub fn run_variant(variant: PeopleVariant) -> ConformanceResult {
    run_variant_weakened(variant, &Weakening::none())
}

/// The same with `base`'s people-core defences removed from both builds (`verify --weaken`).
/// The replays drive the people cores (live behind a hub, or with real files) only, so a
/// `base` of another layer changes nothing here.
#[must_use]
pub fn run_variant_weakened(variant: PeopleVariant, base: &Weakening) -> ConformanceResult {
    let start = Instant::now();
    let (report, actions) = variant.find_attack(Bounds::QUICK);
    let trace: Vec<String> = report
        .trace
        .iter()
        .map(|s| format!("{}: {}", s.actor, s.detail))
        .collect();
    let none = || Verdict::Error {
        error: "the model found no attack to replay".into(),
    };
    let mut result = ConformanceResult {
        variant: variant.name(),
        description: variant.description(),
        property: report.property.clone(),
        trace,
        replayed: true,
        weakened: none(),
        normal: none(),
        note: note(variant),
        seconds: 0.0,
    };
    if report.found {
        result.weakened = replay(variant, &actions, &result.trace, base, Side::Weakened);
        let honoured_at = match &result.weakened {
            Verdict::Violated { step, .. } => Some(*step),
            _ => None,
        };
        result.normal = replay(variant, &actions, &result.trace, base, Side::Full(honoured_at));
    }
    result.seconds = start.elapsed().as_secs_f64();
    result
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Weakened,
    /// The full build; the step at which the weakened build reached the violation, if it did.
    Full(Option<usize>),
}

fn replay(variant: PeopleVariant, actions: &[Action], trace: &[String], base: &Weakening, side: Side) -> Verdict {
    on_fresh_runtime(REPLAY_LIMIT, replay_on(variant, actions, trace, base.people(), side))
        .unwrap_or_else(|e| Verdict::Error { error: e.to_string() })
}

/// The replayer of one side: live, or on the cores.
#[derive(Debug)]
enum Replayer {
    Live(Box<Live>),
    Cores(Box<Cores>),
}

impl Replayer {
    async fn step(&mut self, action: Action) -> Result<StepOut, StepError> {
        match self {
            Self::Live(l) => l.step(action).await,
            Self::Cores(c) => c.step(action),
        }
    }

    fn judge(&self) -> &Judge {
        match self {
            Self::Live(l) => l.judge(),
            Self::Cores(c) => c.judge(),
        }
    }

    async fn finish(self) {
        if let Self::Live(l) = self {
            l.finish().await;
        }
    }
}

async fn replay_on(
    variant: PeopleVariant,
    actions: &[Action],
    trace: &[String],
    base: PeopleDefences,
    side: Side,
) -> Result<Verdict, HarnessError> {
    let (defences, gateway) = match (side, variant) {
        (Side::Weakened, PeopleVariant::People(check)) => (base.without(check), GatewayDefences::all()),
        (Side::Weakened, PeopleVariant::Gateway(check)) => (base, GatewayDefences::all().without(check)),
        (Side::Full(_), _) => (base, GatewayDefences::all()),
    };
    let judge = Judge::new(variant.model(Bounds::QUICK))?;
    let mut replayer = match mode(variant) {
        Mode::Live => {
            let hash = if actions.contains(&Action::GuessLogins) {
                HashParams::PRODUCTION
            } else {
                HashParams::FAST_INSECURE
            };
            let relay = matches!(variant, PeopleVariant::Gateway(_));
            Replayer::Live(Box::new(Live::start(defences, gateway, relay, judge, hash).await?))
        }
        Mode::Cores => Replayer::Cores(Box::new(Cores::start(defences, judge)?)),
    };
    let verdict = judge_steps(&mut replayer, variant, actions, trace, side).await;
    replayer.finish().await;
    Ok(verdict)
}

async fn judge_steps(
    replayer: &mut Replayer,
    check: PeopleVariant,
    actions: &[Action],
    trace: &[String],
    side: Side,
) -> Verdict {
    let steps = actions.len();
    let mut refused: Option<(usize, String)> = None;
    for (i, action) in actions.iter().enumerate() {
        let step = i + 1;
        let told = trace.get(i).map_or("?", String::as_str);
        let out = match replayer.step(*action).await {
            Ok(out) => out,
            Err(StepError::NotPossible(why)) => StepOut::seen(format!("nothing to do ({why})")),
            Err(StepError::NoCounterpart(why)) => {
                return Verdict::Error {
                    error: format!("step {step} ({told}) has no counterpart in this replay: {why}"),
                };
            }
            Err(StepError::Harness(e)) => {
                return Verdict::Diverged {
                    evidence: format!("step {step} ({told}) could not be performed: {e}"),
                };
            }
        };
        let mut violated = replayer.judge().violated();
        if let Some(p) = out.violates
            && !violated.contains(&p)
        {
            violated.push(p);
        }
        if !violated.is_empty() {
            let props = violated.join(", ");
            return Verdict::Violated {
                step,
                property: props.clone(),
                evidence: format!(
                    "at step {step} ({told}) {}; the model's {props} fails on what the real system did",
                    out.seen
                ),
            };
        }
        if let Side::Full(honoured_at) = side
            && refused.is_none()
            && let Some(code) = &out.refusal
            && refusal_codes(check).contains(&code.as_str())
        {
            // A refusal that does not say why is the check's only where the build without it
            // honoured the same request: the two builds differ in nothing else.
            if !out.opaque {
                refused = Some((
                    step,
                    format!(
                        "at step {step} ({told}) {} refused it ({code}): {}",
                        check.name(),
                        out.seen
                    ),
                ));
            } else if honoured_at == Some(step) {
                refused = Some((
                    step,
                    format!(
                        "at step {step} ({told}) {} refused it ({code}): {}; the build without {} honoured the same \
                         request at this step, and the two builds differ in nothing else",
                        check.name(),
                        out.seen,
                        check.name()
                    ),
                ));
            }
        }
        if step == steps && matches!(side, Side::Full(_)) {
            return match refused {
                Some((at, evidence)) => Verdict::Refused {
                    step: at,
                    check: check.name().to_owned(),
                    evidence: if at == step {
                        evidence
                    } else {
                        format!("{evidence}; the violating step {step} then found {}", out.seen)
                    },
                },
                None => Verdict::Diverged {
                    evidence: format!(
                        "step {step} ({told}) did no harm, but no refusal by {} was observed ({})",
                        check.name(),
                        out.seen
                    ),
                },
            };
        }
    }
    Verdict::Diverged {
        evidence: format!("all {steps} steps ran and the model's violation never happened on the real system"),
    }
}
