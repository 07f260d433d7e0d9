//! A scheduler restarting on a damaged event log: the input is written to a file, opened with
//! `protocol_net::eventlog::EventLog::open` and every event read is restored into a fresh
//! `SchedulerCore`, as `Scheduler::start` does; the restored core is then driven a little.
//!
//! Checked: recovery tolerates exactly a torn final line, which it cuts off the file, and
//! anything else unreadable is reported as corruption with the file left as it was; every
//! complete line is one event; events the log holds re-encode and read back unchanged after
//! an append; restoring any events the file may hold (the log is trusted, but a damaged or
//! hand-edited one must still not crash the scheduler) and then using the core never panics.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use protocol_core::scheduler::{SchedulerConfig, SchedulerCore};
use protocol_core::wire::{JobBody, JobMessage, Message};
use protocol_core::{Millis, WorkflowId};
use protocol_net::eventlog::{EventLog, EventLogError};

fn path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // tmpfs when there is one: the log fsyncs after truncating and appending.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("threatcheck-fuzz-eventlog-{}.jsonl", std::process::id()))
    })
}

fn drive(core: &mut SchedulerCore) {
    let now = Millis(1_000_000);
    let _ = core.poll_timeout();
    core.handle_timeout(now);
    let jobs: Vec<_> = core
        .jobs()
        .filter_map(|(id, r)| Some((id.clone(), r.key()?, r.last_seq())))
        .collect();
    for (id, key, last) in jobs {
        let _ = core.handle_handshake(now, &key, &[]);
        for body in [JobBody::Started, JobBody::Heartbeat, JobBody::Succeeded] {
            let message = Message::Job(JobMessage {
                seq: last.saturating_add(1),
                claim: id.clone(),
                body,
            });
            let _ = core.handle_message(now, &key, message);
        }
        let _ = core.revoke(&id);
    }
    while core.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let path = path();
    std::fs::write(path, data).expect("write the log");
    let complete = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let lines = data[..complete].iter().filter(|&&b| b == b'\n').count();
    match EventLog::open(path) {
        Ok((mut log, events)) => {
            let kept = std::fs::read(path).expect("read the log back");
            assert_eq!(kept, &data[..complete], "recovery must cut exactly the torn final line");
            assert_eq!(events.len(), lines, "every complete line is one event");

            let mut core = SchedulerCore::new(SchedulerConfig::new(WorkflowId::new("alice", "wf").expect("valid")));
            for event in &events {
                core.restore(event);
            }
            assert!(core.poll_event().is_none(), "restoring logs nothing new");
            drive(&mut core);

            let mut batch = Vec::new();
            EventLog::encode(events.iter().cloned(), &mut batch);
            log.append_durable(&batch).expect("append");
            drop(log);
            let (_, again) = EventLog::open(path).expect("a log we wrote reopens");
            assert_eq!(again.len(), 2 * events.len());
            assert_eq!(&again[..events.len()], events.as_slice());
            assert_eq!(
                &again[events.len()..],
                events.as_slice(),
                "events changed through the encoding"
            );
        }
        Err(EventLogError::Corrupt { line, .. }) => {
            assert!(
                (1..=lines).contains(&line),
                "corruption reported at line {line} of {lines}"
            );
            let kept = std::fs::read(path).expect("read the log back");
            assert_eq!(kept, data, "a corrupt log must be left as it is");
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
});
