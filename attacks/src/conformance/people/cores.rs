//! The replay on protocol-people's real sans-IO cores with real files, for the steps one live
//! hub cannot show: a token presented to a second audience (one hub holds one session store
//! for one audience), a copy of the session store (it lives in the hub's memory), and a stored
//! log that holds every record of the trace (the live hub and UI server split them between two
//! files, so the model's reordering would always move the live log's last, anchored record).
//!
//! The cores are built as the gateway builds them: the session manager with the users file of
//! protocol-people's examples, the authoriser from the model's policy written to disk and
//! loaded by the real loader, the example groups, and the real `AuditWriter` on a file with
//! its head, which the real verifier then reads back from disk.

use std::path::PathBuf;
use std::time::Duration;

use model::people::{Action, Aud, Fact, Held, Issue, Op, Origin, Party, START, TICK, Tamper};
use protocol_core::{Millis, Owner, WorkflowId};
use protocol_people::PeopleDefences;
use protocol_people::audit::{Actor, AuditEvent, AuditKey, AuditRecord, AuditWriter, default_head_path, verify_with};
use protocol_people::authz::Authorizer;
use protocol_people::gate::{Gate, GateError, Request};
use protocol_people::groups::FileGroups;
use protocol_people::ops::Level;
use protocol_people::policy::Policy;
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, Token, UserDb};

use super::judge::{Judge, static_code};
use super::{GUESSED, OWNER_POLICY, SITE_POLICY, StepError, StepOut, TARGET, tampered_text};
use crate::harness::HarnessError;
use crate::live::gateway::{examples, password};

/// The key of the replay's audit log.
const AUDIT_KEY: [u8; 32] = [7; 32];

/// A replay on the cores in progress.
#[derive(Debug)]
pub(super) struct Cores {
    dir: tempfile::TempDir,
    defences: PeopleDefences,
    judge: Judge,
    sessions: SessionManager,
    authorizer: Authorizer,
    groups: FileGroups,
    audit: AuditWriter,
    now: Millis,
    hub: Audience,
    ui: Audience,
    workflow: WorkflowId,
    tokens: Vec<Token>,
    honest: Option<usize>,
}

fn setup<E: std::fmt::Display>(e: E) -> StepError {
    StepError::Harness(HarnessError::setup(e))
}

impl Cores {
    /// The cores built with `defences`, the model's policy and timings.
    pub(super) fn start(defences: PeopleDefences, judge: Judge) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new().prefix("threatcheck-people-cores").tempdir()?;
        let policy = dir.path().join("policy");
        std::fs::create_dir_all(policy.join("users"))?;
        std::fs::write(policy.join("site.toml"), SITE_POLICY)?;
        std::fs::write(policy.join("users/atmosphere_stage.toml"), OWNER_POLICY)?;
        let users = UserDb::load(&examples().join("users.toml")).map_err(HarnessError::setup)?;
        let sessions = SessionManager::with_defences(
            users,
            SessionConfig {
                idle_timeout: Duration::from_secs(20 * 60),
                absolute_lifetime: Duration::from_secs(30 * 60),
                elevation_window: Duration::from_secs(15 * 60),
                hash_params: HashParams::FAST_INSECURE,
            },
            defences.clone(),
        )
        .map_err(HarnessError::setup)?;
        let log = dir.path().join("audit.log");
        let audit = AuditWriter::open_with(
            &log,
            &default_head_path(&log),
            AuditKey::from_bytes(AUDIT_KEY),
            defences.clone(),
        )
        .map_err(HarnessError::setup)?;
        Ok(Self {
            authorizer: Authorizer::with_defences(Policy::load_with(&policy, &defences), defences.clone()),
            groups: FileGroups::load(&examples().join("groups.toml")).map_err(HarnessError::setup)?,
            defences,
            judge,
            sessions,
            audit,
            now: START,
            hub: Audience::new(crate::live::gateway::AUDIENCE).map_err(HarnessError::setup)?,
            ui: Audience::new("uiserver:atmosphere_stage").map_err(HarnessError::setup)?,
            workflow: WorkflowId::new("atmosphere_stage", "clouds").map_err(HarnessError::setup)?,
            tokens: Vec::new(),
            honest: None,
            dir,
        })
    }

    pub(super) fn judge(&self) -> &Judge {
        &self.judge
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    fn lines_on_disk(&self) -> u64 {
        std::fs::read_to_string(self.log_path())
            .map(|t| t.lines().count() as u64)
            .unwrap_or(0)
    }

    fn last_record(&self) -> String {
        std::fs::read_to_string(self.log_path())
            .ok()
            .and_then(|t| t.lines().last().map(|l| l.split(" [#").next().unwrap_or(l).to_owned()))
            .unwrap_or_default()
    }

    fn gate(&mut self) -> Gate<'_, FileGroups, AuditWriter> {
        Gate {
            sessions: &mut self.sessions,
            authorizer: &self.authorizer,
            groups: &self.groups,
            audit: &mut self.audit,
            source: None,
        }
    }

    fn aud(&self, at: Aud) -> Audience {
        match at {
            Aud::Hub => self.hub.clone(),
            Aud::UiServer => self.ui.clone(),
        }
    }

    /// Performs one model action on the cores.
    pub(super) fn step(&mut self, action: Action) -> Result<StepOut, StepError> {
        self.judge.begin(self.now);
        match action {
            Action::Login => {
                let (now, hub) = (self.now, self.hub.clone());
                let (token, session) = self
                    .gate()
                    .login(now, "jacintar", &password("jacintar"), &hub, &mut rand_core::OsRng)
                    .map_err(setup)?;
                let seed = self.judge.issue(Party::Honest, session.id.0, Issue::Login);
                self.tokens.push(token);
                self.honest = Some(seed);
                self.judge.push(Fact::LoggedIn);
                Ok(StepOut::seen(format!(
                    "the gate logged jacintar in: session {}; the audit log on disk: `{}`",
                    session.id.0,
                    self.last_record()
                )))
            }
            Action::Elevate(raise) => {
                let seed = self.honest.ok_or_else(|| StepError::NotPossible("no token".into()))?;
                self.elevate(Party::Honest, seed, raise.level(), &password("jacintar"))
            }
            Action::ElevateWith(held) => {
                self.elevate(Party::Attacker, usize::from(held.seed()), Level::Execute, GUESSED)
            }
            Action::Act(op) => {
                let seed = self.honest.ok_or_else(|| StepError::NotPossible("no token".into()))?;
                self.request(Party::Honest, Origin::Issued, seed, Aud::Hub, op)
            }
            Action::Jump => {
                self.now = self
                    .judge
                    .next_deadline()
                    .ok_or_else(|| StepError::NotPossible("no deadline lies ahead".into()))?;
                self.judge.begin(self.now);
                Ok(StepOut::seen("the cores' clock set to the model's next deadline"))
            }
            Action::Capture | Action::ReplayAssertion | Action::EditAssertion => Err(StepError::NoCounterpart(
                "the cores have no link between a hub and a UI server; the live replay has one".into(),
            )),
            Action::Wait { watching } => {
                self.now = self.now.after(TICK);
                self.judge.begin(self.now);
                let out = StepOut::seen("the cores' clock moved 10 minutes");
                if watching {
                    let seed = self.honest.ok_or_else(|| StepError::NotPossible("no token".into()))?;
                    return Ok(out.then(self.request(Party::Honest, Origin::Issued, seed, Aud::Hub, Op::Read)?));
                }
                Ok(out)
            }
            Action::Logout => {
                let seed = self
                    .honest
                    .take()
                    .ok_or_else(|| StepError::NotPossible("no token".into()))?;
                let token = self.tokens.get(seed).cloned().ok_or_else(|| setup("no such token"))?;
                let session = self.judge.issued(seed).map_or(0, |t| t.session);
                let person = Owner::new("jacintar").map_err(setup)?;
                let _receipt = self
                    .audit
                    .append(&AuditRecord {
                        at: self.now,
                        actor: Actor::User(person),
                        source: None,
                        event: AuditEvent::Logout {
                            session: protocol_people::session::SessionId(session),
                        },
                    })
                    .map_err(setup)?;
                let _ = self.sessions.logout(&token);
                self.judge.ended(session);
                self.judge.push(Fact::LoggedOut);
                Ok(StepOut::seen(
                    "recorded, then the session manager logged the session out",
                ))
            }
            Action::Present { held, at } => {
                let origin = match held {
                    Held::Stolen(_) => Origin::Stolen,
                    Held::Obtained(_) => Origin::Issued,
                };
                self.request(Party::Attacker, origin, usize::from(held.seed()), at, Op::Stop)
            }
            Action::ReplayStore => self.replay_store(),
            Action::Tamper(kind) => self.tamper(kind),
            Action::Misconfigure | Action::GuessLogins | Action::InjectLine | Action::Crash => {
                Err(StepError::NoCounterpart("replayed live, not on the cores".into()))
            }
        }
    }

    fn elevate(&mut self, by: Party, seed: usize, to: Level, pw: &str) -> Result<StepOut, StepError> {
        let token = self
            .tokens
            .get(seed)
            .cloned()
            .ok_or_else(|| StepError::NotPossible(format!("no token #{seed} was issued")))?;
        let (now, hub) = (self.now, self.hub.clone());
        let origin = if by == Party::Honest {
            Origin::Issued
        } else {
            Origin::Stolen
        };
        let reauth = by == Party::Honest;
        let outcome = self.gate().elevate(now, &token, &hub, pw, to, &mut rand_core::OsRng);
        let record = self.last_record();
        match outcome {
            Ok((new, session)) => {
                self.judge.honoured(by, origin, Some(seed), Aud::Hub);
                let new_seed = self.judge.issue(by, session.id.0, Issue::Elevation { to, reauth });
                self.tokens.push(new);
                if by == Party::Honest {
                    self.honest = Some(new_seed);
                }
                self.judge.push(Fact::Elevated { by, to, reauth });
                Ok(StepOut::seen(format!(
                    "the gate raised the session to {to}; the audit log: `{record}`"
                )))
            }
            Err(GateError::Session(e)) => {
                let code = e.code();
                if matches!(code, "reauth-failed" | "not-an-elevation") {
                    self.judge.push(Fact::ElevationRefused { by, code });
                } else {
                    self.judge.push(Fact::Refused { by, origin, code });
                    if by == Party::Honest {
                        self.honest = None;
                    }
                }
                Ok(StepOut::seen(format!(
                    "the gate refused the elevation ({code}); the audit log: `{record}`"
                ))
                .refused(code.to_owned()))
            }
            Err(e) => Err(setup(e)),
        }
    }

    fn request(&mut self, by: Party, origin: Origin, seed: usize, at: Aud, op: Op) -> Result<StepOut, StepError> {
        let token = self
            .tokens
            .get(seed)
            .cloned()
            .ok_or_else(|| StepError::NotPossible(format!("no token #{seed} was issued")))?;
        self.present(by, origin, Some(seed), &token, at, op)
    }

    fn present(
        &mut self,
        by: Party,
        origin: Origin,
        seed: Option<usize>,
        token: &Token,
        at: Aud,
        op: Op,
    ) -> Result<StepOut, StepError> {
        let (now, audience, workflow) = (self.now, self.aud(at), self.workflow.clone());
        let target = (by == Party::Honest).then_some(TARGET);
        let outcome = self.gate().authorize(
            now,
            &Request {
                token,
                audience: &audience,
                workflow: &workflow,
                op: op.operation(),
                target,
            },
        );
        let record = self.last_record();
        let asked = format!("{} presented at {audience} for {}", token_name(seed), op.operation());
        match outcome {
            Ok(permit) => {
                let durable = permit.receipt().record <= self.lines_on_disk();
                self.judge.honoured(by, origin, seed, at);
                self.judge.effect(by, permit.op(), seed, durable);
                Ok(StepOut::seen(format!("{asked}: permitted; the audit log: `{record}`")))
            }
            Err(e @ (GateError::Denied(_) | GateError::Groups(_))) => {
                self.judge.honoured(by, origin, seed, at);
                let code = protocol_people::gate::deny_reason(&e).map_or("group-lookup-failed", |r| r.code());
                self.judge.push(Fact::Denied {
                    by,
                    op: op.operation(),
                    token: seed.and_then(|s| self.judge.issued(s)),
                    reason: static_code(code),
                });
                Ok(StepOut::seen(format!(
                    "{asked}: the token was accepted, the request denied ({code}); the audit log: `{record}`"
                )))
            }
            Err(GateError::Session(e)) => {
                let code = e.code();
                self.judge.push(Fact::Refused { by, origin, code });
                if by == Party::Honest {
                    self.honest = None;
                }
                Ok(
                    StepOut::seen(format!("{asked}: refused ({code}); the audit log: `{record}`"))
                        .refused(code.to_owned()),
                )
            }
            Err(e) => Err(setup(e)),
        }
    }

    /// Every key in the session store, presented as a token.
    fn replay_store(&mut self) -> Result<StepOut, StepError> {
        let keys = self.sessions.stored_keys();
        let mut out = StepOut::seen(format!("the session store holds {} key(s)", keys.len()));
        for key in keys {
            let Ok(token) = Token::from_wire(&hex::encode(key.bytes())) else {
                continue;
            };
            let seed = self
                .tokens
                .iter()
                .position(|t| t.to_wire().as_str() == token.to_wire().as_str());
            out = out.then(self.present(Party::Attacker, Origin::StoreCopy, seed, &token, Aud::Hub, Op::Stop)?);
        }
        Ok(out)
    }

    fn tamper(&mut self, kind: Tamper) -> Result<StepOut, StepError> {
        let path = self.log_path();
        let text = std::fs::read_to_string(&path).map_err(HarnessError::from)?;
        std::fs::write(&path, tampered_text(&text, kind)).map_err(HarnessError::from)?;
        let verified = verify_with(
            &path,
            &default_head_path(&path),
            &AuditKey::from_bytes(AUDIT_KEY),
            &self.defences,
        );
        self.judge.push(Fact::Tampered {
            kind,
            detected: verified.is_err(),
        });
        let told = format!(
            "the audit log ({} record(s)) {} on disk, then verified with protocol-people's verifier built the same \
             way: {}",
            text.lines().count(),
            super::tamper_words(kind),
            verified.as_ref().map_or_else(
                |e| format!("fails: {e}"),
                |r| format!("verifies ({} record(s))", r.records)
            )
        );
        Ok(match verified {
            Err(e) => StepOut::seen(told).refused(super::tamper_check(&e).into()),
            Ok(_) => StepOut::seen(told),
        })
    }
}

fn token_name(seed: Option<usize>) -> String {
    seed.map_or_else(
        || "a key from the store, which is no issued token,".to_owned(),
        |s| format!("token #{s}"),
    )
}
