//! The bootstrap channel (SPEC.md §2) from both ends, as bytes arrive on a pipe.
//!
//! * Scheduler side: the launcher reads the job's answer with `read_bootstrap_line` (one line of
//!   at most 1024 bytes, from a stream that arrives in pieces), decodes it with
//!   `decode_key_reply`, and hands the key to the scheduler core, which registers it or fails
//!   the launch.
//! * Job side: the reference job's `bootstrap` reads an offer line, answers with its key, and
//!   reads the registration line.
//! * The three decoders on their own.
//!
//! Checked: the line reader returns exactly the first line when it fits and refuses otherwise
//! (`TooLong`, `Closed`); whatever decodes re-encodes (`encode_line`) to a line that decodes to
//! the same value; the core registers a key exactly when it is a valid X25519 key, and
//! otherwise fails the launch; the job answers only with its own key.
#![no_main]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use protocol_core::bootstrap::{
    BootstrapError, KeyReply, MAX_BOOTSTRAP_LINE, decode_key_reply, decode_offer, decode_registration, encode_line,
};
use protocol_core::keys::validate_public_key;
use protocol_core::scheduler::{JobSpec, JobState, RegistrationError, SchedulerConfig, SchedulerCore};
use protocol_core::{JobId, Millis, WorkflowId};
use protocol_net::job_program::{JobProgramError, bootstrap};
use protocol_net::launcher::{LaunchFailure, read_bootstrap_line};
use tokio::io::{AsyncRead, BufReader, ReadBuf};

/// Runs a future that never waits (every read here is from memory).
fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a read from memory waited"),
    }
}

/// A pipe that delivers its bytes `step` at a time.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = self.step.min(self.data.len()).min(buf.remaining());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        Poll::Ready(Ok(()))
    }
}

fn check_line_reader(stream: &[u8], step: usize) -> Option<Vec<u8>> {
    let mut reader = BufReader::with_capacity(MAX_BOOTSTRAP_LINE, Trickle { data: stream, step });
    let got = now(read_bootstrap_line(&mut reader));
    let newline = stream.iter().position(|&b| b == b'\n');
    let cut = newline.map_or(stream.len(), |i| i + 1);
    match got {
        Ok(line) => {
            assert!(
                cut <= MAX_BOOTSTRAP_LINE && newline.is_some(),
                "accepted a line it should refuse"
            );
            assert_eq!(line, &stream[..cut], "not the first line");
            Some(line)
        }
        Err(LaunchFailure::Bootstrap(BootstrapError::TooLong)) => {
            assert!(cut > MAX_BOOTSTRAP_LINE, "refused a line that fits");
            None
        }
        Err(LaunchFailure::Bootstrap(BootstrapError::Closed)) => {
            assert!(newline.is_none() && stream.len() <= MAX_BOOTSTRAP_LINE);
            None
        }
        Err(e) => panic!("unexpected line reader error: {e}"),
    }
}

fn check_decoders(line: &[u8]) {
    if let Ok(offer) = decode_offer(line) {
        let again = encode_line(&offer);
        assert!(again.ends_with('\n') && again.matches('\n').count() == 1);
        assert_eq!(decode_offer(again.as_bytes()), Ok(offer.clone()));
        offer.scheduler_key().expect("an accepted offer carries a valid key");
        assert_eq!(offer.job.workflow(), &offer.workflow);
    }
    if let Ok(key) = decode_key_reply(line) {
        let reply = KeyReply {
            v: 1,
            job_key: hex_lower(&key),
        };
        assert_eq!(decode_key_reply(encode_line(&reply).as_bytes()), Ok(key));
    }
    if let Ok(reg) = decode_registration(line) {
        assert_eq!(decode_registration(encode_line(&reg).as_bytes()), Ok(reg));
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The launcher's half: the key the job answered with goes to the registry.
fn scheduler_side(stream: &[u8], step: usize) {
    let Some(line) = check_line_reader(stream, step) else {
        return;
    };
    check_decoders(&line);
    let Ok(key) = decode_key_reply(&line) else { return };
    let workflow = WorkflowId::new("alice", "wf").expect("valid");
    let job = JobId::new(workflow.clone(), "1", "a", 1).expect("valid");
    let mut core = SchedulerCore::new(SchedulerConfig::new(workflow));
    core.launch(
        Millis(1_000_000),
        JobSpec {
            id: job.clone(),
            outputs: BTreeSet::new(),
        },
    )
    .expect("first launch");
    let state = |core: &SchedulerCore| core.job(&job).map(|r| r.state());
    match core.handle_bootstrap_reply(Millis(1_000_001), &job, key) {
        Ok(registered) => {
            assert_eq!(validate_public_key(&key), Ok(registered), "registered an invalid key");
            assert_eq!(registered.as_bytes(), &key);
            assert_eq!(state(&core), Some(JobState::Submitted));
        }
        Err(RegistrationError::BadKey { reason, .. }) => {
            assert_eq!(
                validate_public_key(&key).err(),
                Some(reason),
                "refused a valid key, or for another reason"
            );
            assert_eq!(
                state(&core),
                Some(JobState::LaunchFailed),
                "a refused key fails the launch"
            );
        }
        Err(e) => panic!("unexpected registration error: {e}"),
    }
}

/// The job's half: offer in, key out, registration in.
fn job_side(stream: &[u8], step: usize) {
    let mut out: Vec<u8> = Vec::new();
    // Odd steps play a job with a contact file, which takes a channel closed before the
    // registration line as "maybe registered" (SPEC.md §2.3) instead of an error.
    let result = now(bootstrap(Trickle { data: stream, step }, &mut out, step % 2 == 1));
    match result {
        Ok((offer, keypair)) => {
            assert_eq!(decode_offer(encode_line(&offer).as_bytes()), Ok(offer.clone()));
            assert_eq!(out, encode_line(&KeyReply::new(keypair.public())).as_bytes());
            assert_eq!(decode_key_reply(&out), Ok(*keypair.public().as_bytes()));
        }
        Err(JobProgramError::NotRegistered(_) | JobProgramError::Bootstrap(_)) => {
            // Nothing, or only the job's own key line, was written.
            assert!(
                out.is_empty() || decode_key_reply(&out).is_ok(),
                "the job wrote {out:?}"
            );
        }
        Err(e) => panic!("unexpected job bootstrap error: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, step, stream @ ..] = data else { return };
    let step = usize::from(*step % 64) + 1;
    match selector % 3 {
        0 => scheduler_side(stream, step),
        1 => job_side(stream, step),
        _ => check_decoders(stream),
    }
});
