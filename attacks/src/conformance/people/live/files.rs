//! The live replay's steps on the login form and the audit files: failed logins compared,
//! a line break injected into the hub's audit log, and the stored log tampered with on disk
//! and verified with protocol-people's verifier built the same way.

use std::time::Instant;

use model::people::{Fact, Tamper};
use protocol_gateway::http::client::{HttpResponse, HubClient};
use protocol_people::audit::{AuditKey, default_head_path, verify_with};
use serde_json::json;

use super::super::{GUESSED, INJECTED, StepError, StepOut, UNKNOWN_USER, tamper_check, tamper_words, tampered_text};
use super::{AUDIT_KEY, GUESS_PAIRS, Live, ip, reason_of};
use crate::harness::HarnessError;
use crate::hub::{code, post};
use crate::live::timing::{self, LoginTiming};

impl Live {
    /// An unknown name and the honest person's name, each with a wrong password, from fresh
    /// addresses; answers compared (status, body, headers but `Date`) and the argon2 work
    /// (fastest answers: load only ever adds time).
    pub(super) async fn guess_logins(&mut self) -> Result<StepOut, StepError> {
        let body = |user: &str| json!({ "user": user, "password": GUESSED });
        let mut warm = HubClient::new(self.world.addr()).from_ip(ip("127.0.0.40")?);
        let _ = post(&mut warm, "/login", &body("jacintar")).await?;
        let _ = post(&mut warm, "/login", &body(UNKNOWN_USER)).await?;
        let (mut unknown, mut known) = (Vec::new(), Vec::new());
        let (mut unknown_shapes, mut known_shapes) = (Vec::new(), Vec::new());
        for i in 0..GUESS_PAIRS + timing::EXTRA_PAIRS {
            if i >= GUESS_PAIRS && timing::judge(&unknown, &known) != LoginTiming::Unclear {
                break;
            }
            // Extra pairs, which a busy machine may need, come from another range.
            let from = if i < GUESS_PAIRS {
                format!("127.0.0.{}", 41 + i)
            } else {
                format!("127.0.3.{}", 1 + i)
            };
            let mut c = HubClient::new(self.world.addr()).from_ip(ip(&from)?);
            let start = Instant::now();
            let r = post(&mut c, "/login", &body(UNKNOWN_USER)).await?;
            unknown.push(start.elapsed());
            unknown_shapes.push(shape(&r));
            let start = Instant::now();
            let r = post(&mut c, "/login", &body("jacintar")).await?;
            known.push(start.elapsed());
            known_shapes.push(shape(&r));
        }
        unknown_shapes.dedup();
        known_shapes.dedup();
        let same_answer = unknown_shapes.len() == 1 && unknown_shapes == known_shapes;
        let gap = timing::judge(&unknown, &known) == LoginTiming::Apart;
        let reasons: std::collections::BTreeSet<String> = self
            .world
            .audit_lines("hub")
            .iter()
            .filter_map(|l| reason_of(l).map(str::to_owned))
            .collect();
        let reasons: Vec<String> = reasons.into_iter().collect();
        let recorded = format!("the hub's audit log records each failure as ({})", reasons.join(", "));
        let answers = if same_answer {
            format!(
                "{GUESS_PAIRS} or more failed logins as `{UNKNOWN_USER}` (no such user) and as many as jacintar, \
                 each pair from its own address, all answered alike ({}); {recorded}",
                unknown_shapes
                    .first()
                    .map_or("", |s| s.split(" [").next().unwrap_or(""))
            )
        } else {
            format!(
                "failed logins as `{UNKNOWN_USER}` answered {} but as jacintar {}; {recorded}",
                unknown_shapes.join(" | "),
                known_shapes.join(" | ")
            )
        };
        if !same_answer || gap {
            let how = if gap {
                "; an unknown name's fastest answer is under a third of a known name's (no argon2 work for it), so \
                 timing tells which accounts exist"
            } else {
                ""
            };
            return Ok(StepOut::seen(format!("{answers}{how}")).violates(model::people::names::LOGIN_UNIFORMITY));
        }
        Ok(StepOut::seen(format!(
            "{answers}, and with the same argon2 work (fastest answers never a factor of three apart)"
        ))
        .refused("uniform-login-failure".into()))
    }

    /// The model's injected field, in the field the hub writes to its audit log before anyone
    /// is authenticated: a login's user name.
    pub(super) async fn inject_line(&mut self) -> Result<StepOut, StepError> {
        let mut c = HubClient::new(self.world.addr()).from_ip(ip("127.0.0.2")?);
        let r = post(&mut c, "/login", &json!({ "user": INJECTED, "password": GUESSED })).await?;
        self.judge.push(Fact::Injected);
        let lines = self.on_disk("hub");
        let records = lines.iter().filter(|l| l.ends_with(']') && l.contains(" [#")).count();
        let path = self.audit_path("hub");
        let verified = verify_with(
            &path,
            &default_head_path(&path),
            &AuditKey::from_bytes(AUDIT_KEY),
            &self.defences,
        );
        let shown: Vec<String> = self
            .world
            .audit_lines("hub")
            .iter()
            .map(|l| format!("`{}`", shown_line(l)))
            .collect();
        let told = format!(
            "POST /login with the injected user name answered {}; the hub's audit log on disk holds {} line(s) for \
             {records} record(s): {}; protocol-people's verifier (built the same way): {}",
            code(&r),
            lines.len(),
            shown.join(", "),
            verified.as_ref().map_or_else(
                |e| format!("fails: {e}"),
                |r| format!("verifies {} record(s)", r.records)
            )
        );
        if lines.len() != records || verified.is_err() {
            return Ok(StepOut::seen(told).violates(model::people::names::AUDIT_TAMPER_EVIDENCE));
        }
        let escaped = lines.iter().any(|l| l.contains("\\n"));
        let out = StepOut::seen(told);
        Ok(if escaped { out.refused("escaped".into()) } else { out })
    }

    /// Tampers with the hub's audit log on disk as the model does, then verifies it with
    /// protocol-people's verifier built with the same defences.
    pub(super) fn tamper(&mut self, kind: Tamper) -> Result<StepOut, StepError> {
        let path = self.audit_path("hub");
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
            "the hub's audit log ({} record(s)) {} on disk, then verified with protocol-people's verifier built the \
             same way: {}",
            text.lines().count(),
            tamper_words(kind),
            verified.as_ref().map_or_else(
                |e| format!("fails: {e}"),
                |r| format!("verifies ({} record(s))", r.records)
            )
        );
        Ok(match verified {
            Err(e) => StepOut::seen(told).refused(tamper_check(&e).into()),
            Ok(_) => StepOut::seen(told),
        })
    }
}

/// A log line as evidence: control characters shown escaped, everything else as it is.
fn shown_line(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What an attacker can compare between two answers: status, body, every header but `date`.
fn shape(r: &HttpResponse) -> String {
    let mut headers: Vec<String> = r
        .headers
        .iter()
        .filter(|(k, _)| k.as_str() != "date")
        .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    headers.sort();
    format!("{} {} [{}]", r.status, r.text(), headers.join("; "))
}
