//! The live replay: a [`GatewayWorld`] on 127.0.0.1 (hub, a UI server spawned on demand, the
//! scheduler of `~atmosphere_stage/clouds`) built with one `PeopleCheck` removed from every
//! part that has it (session manager, authoriser and policy loader, audit writers), the
//! model's policy files and session timings, and its manual clock set to the model's start.
//!
//! Each model action becomes HTTP on the hub (bearer tokens, so a stolen token is just a
//! string), a file written (the mistyped policy, a tampered audit log) or the clock moved;
//! what the hub and UI server answer, what their audit files hold on disk (verified with
//! protocol-people's verifier built the same way) and what the scheduler recorded become the
//! model's facts ([`Judge`]).

mod assertions;
mod files;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use model::people::{Action, Aud, Fact, Held, Issue, Op, Origin, Party, START, TICK};
use protocol_gateway::checks::GatewayDefences;
use protocol_gateway::clock::Clock;
use protocol_gateway::http::client::{HttpResponse, HubClient};
use protocol_people::PeopleDefences;
use protocol_people::ops::Operation;
use protocol_people::session::HashParams;
use serde_json::json;
use zeroize::Zeroizing;

use super::judge::{Judge, static_code};
use super::{GUESSED, OWNER_POLICY, SITE_POLICY, StepError, StepOut, TYPO_POLICY};
use crate::harness::HarnessError;
use crate::hub::{code, get, post};
use crate::live::gateway::{GatewayOptions, GatewayWorld, password};

/// The workflow every request names.
const WORKFLOW_PATH: &str = "/o/atmosphere_stage/workflows/clouds";

/// The model's task `climb.1234`, as the scheduler names it (`CYCLE/TASK`).
const LIVE_TARGET: &str = "1234/climb";

/// `GatewayWorld`'s audit key (every writer of the world uses it).
pub(super) const AUDIT_KEY: [u8; 32] = [7; 32];

/// Pairs of failed logins timed for `GuessLogins` (production argon2 parameters).
pub(super) const GUESS_PAIRS: usize = 6;

/// A live replay in progress.
#[derive(Debug)]
pub(super) struct Live {
    world: GatewayWorld,
    defences: PeopleDefences,
    judge: Judge,
    /// Every token the hub issued, by the model's seed (its ledger index).
    tokens: Vec<Zeroizing<String>>,
    /// The seed of the token the honest person holds.
    honest: Option<usize>,
    /// Whether a relay records what the hub forwards to the UI server.
    relay: bool,
    /// The request the hub forwarded in the last step (with a relay).
    last: Option<assertions::Sent>,
    /// The attacker's copy of a forwarded request.
    copy: Option<assertions::Sent>,
}

fn ip(s: &str) -> Result<IpAddr, HarnessError> {
    s.parse().map_err(HarnessError::setup)
}

fn with_bearer(world: &GatewayWorld, from: &str, token: &str) -> Result<HubClient, HarnessError> {
    let mut c = HubClient::new(world.addr()).from_ip(ip(from)?);
    c.set_bearer(Some(token.to_owned()));
    Ok(c)
}

/// The reason in a record's last parenthesis (`… was denied stop on … (needs-elevation)`).
fn reason_of(line: &str) -> Option<&str> {
    let open = line.rfind('(')?;
    line.get(open + 1..).and_then(|r| r.strip_suffix(')'))
}

impl Live {
    /// Starts the world for `defences` and the UI server's `gateway` defences (`hash_params`
    /// for `GuessLogins`, whose only live sign is the argon2 work), with a relay recording the
    /// hub's link to the UI server if `relay`, installs the model's policy, and sets the clock
    /// to the model's start.
    pub(super) async fn start(
        defences: PeopleDefences,
        gateway: GatewayDefences,
        relay: bool,
        judge: Judge,
        hash_params: HashParams,
    ) -> Result<Self, HarnessError> {
        let world = GatewayWorld::start(GatewayOptions {
            ui_defences: gateway,
            relay_ui: relay,
            workflows: vec![("atmosphere_stage", "clouds", "climb")],
            owners: vec!["atmosphere_stage"],
            session_defences: defences.clone(),
            authz_defences: defences.clone(),
            audit_defences: defences.clone(),
            idle_timeout: Duration::from_secs(20 * 60),
            absolute_lifetime: Duration::from_secs(30 * 60),
            elevation_window: Duration::from_secs(15 * 60),
            hash_params,
            ..GatewayOptions::default()
        })
        .await?;
        // The model's policy: its site layer and atmosphere_stage's grants, nothing else (the
        // UI server loads it when the hub first spawns it, after this).
        let policy = world.dir().join("policy");
        for stale in ["users/oceans_stage.toml", "workflows"] {
            let p = policy.join(stale);
            if p.is_dir() {
                std::fs::remove_dir_all(&p)?;
            } else if p.exists() {
                std::fs::remove_file(&p)?;
            }
        }
        std::fs::write(policy.join("site.toml"), SITE_POLICY)?;
        std::fs::write(policy.join("users/atmosphere_stage.toml"), OWNER_POLICY)?;
        world.clock().set(START);
        Ok(Self {
            world,
            defences,
            judge,
            tokens: Vec::new(),
            honest: None,
            relay,
            last: None,
            copy: None,
        })
    }

    /// Stops the world.
    pub(super) async fn finish(self) {
        self.world.stop().await;
    }

    pub(super) fn judge(&self) -> &Judge {
        &self.judge
    }

    fn audit_path(&self, log: &str) -> PathBuf {
        let file = if log == "hub" {
            "hub.log".to_owned()
        } else {
            format!("uiserver-{log}.log")
        };
        self.world.audit_dir().join(file)
    }

    /// The lines of an audit file as they are on disk now (records with their trailers).
    fn on_disk(&self, log: &str) -> Vec<String> {
        std::fs::read_to_string(self.audit_path(log))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The last record of an audit log, without its trailer, if it is newer than `before`.
    fn new_record(&self, log: &str, before: usize) -> Option<String> {
        let lines = self.world.audit_lines(log);
        (lines.len() > before).then(|| lines.last().cloned()).flatten()
    }

    fn token(&self, seed: usize) -> Option<&str> {
        self.tokens.get(seed).map(|t| t.as_str())
    }

    /// Performs one model action on the live system.
    pub(super) async fn step(&mut self, action: Action) -> Result<StepOut, StepError> {
        let now = self.world.clock().now();
        self.judge.begin(now);
        let last = self.last.take();
        match action {
            Action::Misconfigure => {
                let dir = self.world.dir().join("policy/workflows/atmosphere_stage");
                std::fs::create_dir_all(&dir).map_err(HarnessError::from)?;
                std::fs::write(dir.join("clouds.toml"), TYPO_POLICY).map_err(HarnessError::from)?;
                self.judge.misconfigured();
                Ok(StepOut::seen(
                    "policy/workflows/atmosphere_stage/clouds.toml written with `\"*\" = [\"REED\"]`",
                ))
            }
            Action::Login => self.login().await,
            Action::Elevate(raise) => {
                let seed = self
                    .honest
                    .ok_or_else(|| StepError::NotPossible("jacintar holds no token to elevate".into()))?;
                let level = raise.level();
                self.elevate(Party::Honest, seed, level, &password("jacintar")).await
            }
            Action::Act(op) => {
                let seed = self
                    .honest
                    .ok_or_else(|| StepError::NotPossible("jacintar holds no token".into()))?;
                self.operate(Party::Honest, Origin::Issued, seed, op).await
            }
            Action::Logout => self.logout().await,
            Action::Wait { watching } => {
                self.world.advance(TICK);
                self.judge.begin(self.world.clock().now());
                let mut out = StepOut::seen("the hub's clock moved 10 minutes");
                if watching {
                    if let Some(seed) = self.honest {
                        let read = self.operate(Party::Honest, Origin::Issued, seed, Op::Read).await?;
                        out = out.then(read);
                    } else {
                        return Err(StepError::NotPossible("jacintar holds no token to read with".into()));
                    }
                }
                Ok(out)
            }
            Action::ElevateWith(held) => {
                self.elevate(Party::Attacker, usize::from(held.seed()), operation_level(), GUESSED)
                    .await
            }
            Action::Jump => {
                let to = self
                    .judge
                    .next_deadline()
                    .ok_or_else(|| StepError::NotPossible("no deadline lies ahead".into()))?;
                self.world.clock().set(to);
                self.judge.begin(to);
                Ok(StepOut::seen(format!(
                    "the hub's and UI server's clock set to the next deadline, +{} ms from the start",
                    to.0.saturating_sub(START.0)
                )))
            }
            Action::Capture => self.capture(last),
            Action::ReplayAssertion => self.resend(false).await,
            Action::EditAssertion => self.resend(true).await,
            Action::Present { held, at: Aud::Hub } => {
                let origin = match held {
                    Held::Stolen(_) => Origin::Stolen,
                    Held::Obtained(_) => Origin::Issued,
                };
                self.operate(Party::Attacker, origin, usize::from(held.seed()), Op::Stop)
                    .await
            }
            Action::Present { at: Aud::UiServer, .. } => Err(StepError::NoCounterpart(
                "one hub holds one session store for one audience; its UI servers take no tokens at all".into(),
            )),
            Action::ReplayStore => Err(StepError::NoCounterpart(
                "the hub's session store lives only in its memory; nothing the attacker can reach holds a copy".into(),
            )),
            Action::Crash => Err(StepError::NoCounterpart(
                "a crash between an audit write and its effect cannot be placed in a live process".into(),
            )),
            Action::GuessLogins => self.guess_logins().await,
            Action::InjectLine => self.inject_line().await,
            Action::Tamper(kind) => self.tamper(kind),
        }
    }

    async fn login(&mut self) -> Result<StepOut, StepError> {
        let mut c = HubClient::new(self.world.addr());
        let body = json!({ "user": "jacintar", "password": password("jacintar"), "bearer": true });
        let r = post(&mut c, "/login", &body).await?;
        let token = r.json()["token"].as_str().map(str::to_owned);
        let session = r.json()["session"].as_u64();
        match (r.status, token, session) {
            (200, Some(token), Some(session)) => {
                let seed = self.judge.issue(Party::Honest, session, Issue::Login);
                self.store(seed, token)?;
                self.honest = Some(seed);
                self.judge.push(Fact::LoggedIn);
                Ok(StepOut::seen(format!(
                    "POST /login answered 200: session {session}, level {}",
                    r.json()["level"].as_str().unwrap_or("?")
                )))
            }
            _ => Err(StepError::Harness(HarnessError::setup(format!(
                "jacintar's login was answered {}",
                code(&r)
            )))),
        }
    }

    fn store(&mut self, seed: usize, token: String) -> Result<(), HarnessError> {
        if seed != self.tokens.len() {
            return Err(HarnessError::setup(
                "the replay's token ledger is out of step with the model's",
            ));
        }
        self.tokens.push(Zeroizing::new(token));
        Ok(())
    }

    async fn elevate(
        &mut self,
        by: Party,
        seed: usize,
        level: protocol_people::ops::Level,
        pw: &str,
    ) -> Result<StepOut, StepError> {
        let token = self
            .token(seed)
            .ok_or_else(|| StepError::NotPossible(format!("no token #{seed} was issued")))?
            .to_owned();
        let from = if by == Party::Honest { "127.0.0.1" } else { "127.0.0.2" };
        let mut c = with_bearer(&self.world, from, &token)?;
        let before = self.world.audit_lines("hub").len();
        let r = post(&mut c, "/elevate", &json!({ "password": pw, "level": level.name() })).await?;
        let record = self.new_record("hub", before).unwrap_or_default();
        let origin = if by == Party::Honest {
            Origin::Issued
        } else {
            Origin::Stolen
        };
        let reauth = by == Party::Honest;
        match r.status {
            200 => {
                let (Some(new), Some(session)) = (
                    r.json()["token"].as_str().map(str::to_owned),
                    r.json()["session"].as_u64(),
                ) else {
                    return Err(StepError::Harness(HarnessError::setup(
                        "an elevation answered 200 without a token",
                    )));
                };
                self.judge.honoured(by, origin, Some(seed), Aud::Hub);
                let new_seed = self.judge.issue(by, session, Issue::Elevation { to: level, reauth });
                self.store(new_seed, new)?;
                if by == Party::Honest {
                    self.honest = Some(new_seed);
                }
                self.judge.push(Fact::Elevated { by, to: level, reauth });
                Ok(StepOut::seen(format!(
                    "POST /elevate answered 200: session {session} at level {}, a new token #{new_seed}; the hub's audit log: `{record}`",
                    r.json()["level"].as_str().unwrap_or("?")
                )))
            }
            401 if r.json()["error"] == "login-failed" => {
                self.judge.honoured(by, origin, Some(seed), Aud::Hub);
                let why = reason_of(&record).unwrap_or("unrecorded").to_owned();
                self.judge.push(Fact::ElevationRefused {
                    by,
                    code: static_code(&why),
                });
                Ok(StepOut::seen(format!(
                    "POST /elevate answered {}; the hub's audit log: `{record}`",
                    code(&r)
                ))
                .refused(why))
            }
            401 => {
                if by == Party::Honest {
                    self.honest = None;
                }
                Ok(self.token_refused(by, origin, seed, &r))
            }
            _ => Err(StepError::Harness(HarnessError::setup(format!(
                "POST /elevate was answered {}",
                code(&r)
            )))),
        }
    }

    /// A token the hub refused. The hub answers every refused token alike and records no
    /// reason, so the reason given is the design's (the model's record of the token's session);
    /// the refusal is credited to a check only where the build without it honoured the same
    /// request (see `judge_steps`).
    fn token_refused(&mut self, by: Party, origin: Origin, seed: usize, r: &HttpResponse) -> StepOut {
        let standing = self.judge.standing(seed);
        let why = standing.as_ref().map_or("unauthenticated", |(code, _)| code);
        self.judge.push(Fact::Refused {
            by,
            origin,
            code: static_code(why),
        });
        let told = match &standing {
            Some((_, how)) => format!("the hub answered {} (by the model's record, {how})", code(r)),
            None => format!("the hub answered {}", code(r)),
        };
        StepOut::seen(told).refused(why.to_owned()).opaque()
    }

    /// A request on the workflow with the token from `seed`.
    async fn operate(&mut self, by: Party, origin: Origin, seed: usize, op: Op) -> Result<StepOut, StepError> {
        let Some(token) = self.token(seed).map(str::to_owned) else {
            return Err(StepError::NotPossible(format!("the attacker holds no token #{seed}")));
        };
        let from = if by == Party::Honest { "127.0.0.1" } else { "127.0.0.2" };
        let mut c = with_bearer(&self.world, from, &token)?;
        let operation = op.operation();
        let ui_before = self.on_disk("atmosphere_stage").len();
        let hub_before = self.world.audit_lines("hub").len();
        let r = if operation == Operation::Read {
            get(&mut c, WORKFLOW_PATH).await?
        } else {
            post(
                &mut c,
                WORKFLOW_PATH,
                &json!({ "op": operation.name(), "target": LIVE_TARGET }),
            )
            .await?
        };
        // Read at once: the record is either on disk when the answer is, or it is not.
        let ui_after = self.on_disk("atmosphere_stage");
        let durable = ui_after.len() > ui_before;
        let request = if operation == Operation::Read {
            format!("GET {WORKFLOW_PATH}")
        } else {
            format!("POST {WORKFLOW_PATH} {{op: {}}}", operation.name())
        };
        let record = self.new_record("atmosphere_stage", ui_before);
        match r.status {
            // 409: permitted and recorded by the UI server, then refused by the scheduler.
            200 | 409 => {
                self.judge.honoured(by, origin, Some(seed), Aud::Hub);
                self.judge.effect(by, operation, Some(seed), durable);
                if self.relay {
                    self.last = Some(self.forwarded(op, seed, true).await?);
                }
                let scheduler = if operation == Operation::Read {
                    String::new()
                } else {
                    self.commanded().await?
                };
                let out = StepOut::seen(format!(
                    "{request} answered {}{scheduler}; the UI server's audit log on disk when the answer came: {}",
                    if r.status == 200 {
                        "200".to_owned()
                    } else {
                        format!("{} {}", code(&r), r.json()["code"].as_str().unwrap_or(""))
                    },
                    record.map_or_else(|| "no record of it yet".to_owned(), |l| format!("`{l}`"))
                ));
                // The record was on disk before the effect showed: what audit-before-effect does.
                Ok(if durable {
                    out.refused("recorded-first".into())
                } else {
                    out
                })
            }
            403 | 404 => {
                self.judge.honoured(by, origin, Some(seed), Aud::Hub);
                if self.relay {
                    self.last = Some(self.forwarded(op, seed, false).await?);
                }
                let line = record.unwrap_or_default();
                let why = reason_of(&line).unwrap_or("unrecorded").to_owned();
                self.judge.push(Fact::Denied {
                    by,
                    op: operation,
                    token: self.judge.issued(seed),
                    reason: static_code(&why),
                });
                let out = StepOut::seen(format!(
                    "{request} answered {}; the UI server's audit log: `{line}`",
                    code(&r)
                ))
                .refused(why.clone());
                // `needs-elevation` is the authoriser's word for a session below the operation's
                // level; for a token whose elevation lapsed, that level is the session manager's
                // doing, which the answer does not say: credited by difference, like a 401.
                Ok(match self.judge.lapsed(seed) {
                    Some(how) if why == "needs-elevation" => StepOut {
                        seen: format!("{} (by the model's record, {how})", out.seen),
                        ..out
                    }
                    .opaque(),
                    _ => out,
                })
            }
            401 => {
                if by == Party::Honest {
                    self.honest = None;
                }
                let hub = self.new_record("hub", hub_before);
                let mut out = self.token_refused(by, origin, seed, &r);
                if let Some(l) = hub {
                    out.seen = format!("{request}: {}; the hub's audit log: `{l}`", out.seen);
                } else {
                    out.seen = format!("{request}: {}", out.seen);
                }
                Ok(out)
            }
            _ => Err(StepError::Harness(HarnessError::setup(format!(
                "{request} was answered {}",
                code(&r)
            )))),
        }
    }

    /// What the scheduler recorded last: the command the UI server sent it, if any.
    async fn commanded(&self) -> Result<String, HarnessError> {
        let w = self.world.workflow("clouds")?;
        w.handle().sync().await?;
        let events = crate::live::target::read_events(&w.run.event_log())?;
        Ok(events
            .iter()
            .rev()
            .find_map(|e| match e {
                protocol_core::scheduler::Event::Commanded { actor, op, .. } => {
                    Some(format!("; the scheduler's event log: {op:?} commanded by {actor}"))
                }
                _ => None,
            })
            .unwrap_or_else(|| "; the scheduler's event log holds no command".to_owned()))
    }

    async fn logout(&mut self) -> Result<StepOut, StepError> {
        let seed = self
            .honest
            .take()
            .ok_or_else(|| StepError::NotPossible("jacintar holds no token".into()))?;
        let token = self.token(seed).map(str::to_owned).unwrap_or_default();
        let mut c = with_bearer(&self.world, "127.0.0.1", &token)?;
        let before = self.world.audit_lines("hub").len();
        let r = post(&mut c, "/logout", &json!({})).await?;
        if let Some(t) = self.judge.issued(seed) {
            self.judge.ended(t.session);
        }
        self.judge.push(Fact::LoggedOut);
        Ok(StepOut::seen(format!(
            "POST /logout answered {}; the hub's audit log: `{}`",
            if r.status == 200 { "200".to_owned() } else { code(&r) },
            self.new_record("hub", before).unwrap_or_default()
        )))
    }
}

/// The attacker's elevations ask for Execute, as the model's do.
const fn operation_level() -> protocol_people::ops::Level {
    protocol_people::ops::Level::Execute
}
