//! S07 — as an attacker I want to execute my own code on the HPC (here: through the
//! scheduler, from a job I control).
//!
//! A job's messages are data: the six kinds a job may send carry no code, commands are a
//! UI server's alone, and text is stored, never interpreted.

use std::time::Duration;

use protocol_core::wire::{ClientCommand, CommandOp, JobBody, Message, RejectCode, Reply, Severity};
use protocol_core::{Check, Owner};

use protocol::Defence;

use crate::harness::{Control, Fired, Harness, HarnessError, HarnessInfo, Outcome, Weakening};
use crate::live::peer::{Heard, Session, Talker};
use crate::live::target::{Target, TargetConfig, refusals, workflow};

/// A compromised job sends commands and shell text.
pub const JOB_RUNS_CODE: Harness = Harness {
    info: HarnessInfo {
        id: "s07-job-runs-code",
        story: "S07",
        target: "scheduler",
        title: "a compromised job sends UI-server commands (trigger, broadcast, reload, edit-trigger, pause, stop, hold) and message texts full of shell metacharacters",
        defences: &[Defence::Channel(Check::AllowedType)],
        control: Control::WithoutEach,
        note: "the core without it obeys a job's command as if its owner's UI server had sent it",
    },
    run: |w| Box::pin(job_runs_code(w)),
};

const COMMANDS: [(CommandOp, &str); 7] = [
    (CommandOp::Trigger, "1/h0"),
    (CommandOp::Broadcast, "*"),
    (CommandOp::Reload, "*"),
    (CommandOp::EditTrigger, "1/h0"),
    (CommandOp::Pause, "*"),
    (CommandOp::Stop, "*"),
    (CommandOp::Hold, "1/h0"),
];

async fn job_runs_code(w: Weakening) -> Result<Outcome, HarnessError> {
    let config = TargetConfig::for_run(&w);
    let (target, jobs) = Target::with_jobs(&config, &["h0", "c"]).await?;
    let c = &jobs[1];
    let session = Session::open(target.addr(), &target.key(), &workflow(), &c.keypair)
        .await
        .map_err(|e| HarnessError::setup(format!("the compromised job could not connect: {e}")))?;
    let mut talker = Talker::new(session, c.id.clone());
    if talker.say(JobBody::Started).await != Heard::Ack {
        return Err(HarnessError::setup(
            "the compromised job's started was not acknowledged",
        ));
    }
    let marker = target.dir().join("pwned");
    let texts: Vec<String> = [
        "$(touch {m})",
        "`touch {m}`",
        "ok; touch {m}",
        "ok | touch {m}",
        "ok && touch {m} &",
        "${IFS}touch${IFS}{m}",
    ]
    .iter()
    .map(|t| t.replace("{m}", &marker.display().to_string()))
    .collect();
    let actor = Owner::new("root").map_err(HarnessError::setup)?;
    let mut obeyed = Vec::new();
    let mut refused = 0;
    // Commands are numbered as a UI server numbers its own, apart from the job's reports.
    for ((op, target_name), seq) in COMMANDS.into_iter().zip(1..) {
        let command = Message::Command(ClientCommand {
            seq,
            actor: actor.clone(),
            op,
            target: target_name.to_owned(),
        });
        match talker.session.exchange(&command).await {
            Ok(Reply::Ack { .. }) => obeyed.push(format!("{} {target_name}", op.name())),
            Ok(Reply::Rejected {
                code: RejectCode::TypeNotAllowed,
                ..
            }) => refused += 1,
            other => {
                return Err(HarnessError::setup(format!(
                    "unexpected answer to {}: {other:?}",
                    op.name()
                )));
            }
        }
    }
    let mut stored_as_text = 0;
    for text in &texts {
        let body = JobBody::Message {
            severity: Severity::Critical,
            text: text.clone(),
        };
        if talker.say(body).await == Heard::Ack {
            stored_as_text += 1;
        }
    }
    // Give anything that might run the text a moment to do so.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let control = target.handle.control().await?;
    let events = target.events().await?;
    let stats = target.stats();
    target.shutdown().await;
    let verbatim = texts.iter().all(|t| {
        events.iter().any(|e| {
            matches!(e, protocol_core::scheduler::Event::Accepted { body: JobBody::Message { text, .. }, .. } if text == t)
        })
    });
    let mut breaches = Vec::new();
    if !obeyed.is_empty() {
        breaches.push(format!(
            "the scheduler obeyed a job's key as a UI server: {} (now paused: {}, stopping: {}, held: {}, {} commands applied)",
            obeyed.join(", "),
            control.paused,
            control.stopping,
            control.held.iter().cloned().collect::<Vec<_>>().join(" "),
            control.commands
        ));
    }
    if marker.exists() {
        breaches.push("a message text ran as a shell command (the marker file exists)".to_owned());
    }
    if !verbatim || stored_as_text != texts.len() {
        breaches.push("message texts were not stored verbatim as data".to_owned());
    }
    Ok(Outcome::judge(
        breaches,
        &Fired::count(Check::AllowedType, refusals(&stats, Check::AllowedType)),
        format!(
            "allowed-type refused all {refused} commands from the job's key (rejected: type not allowed; \
             allowed-type refusals counted: {}) and the workflow's control state is untouched; {} texts with shell \
             metacharacters were stored verbatim as message text and nothing ran (no marker file)",
            refusals(&stats, Check::AllowedType),
            texts.len()
        ),
    ))
}
