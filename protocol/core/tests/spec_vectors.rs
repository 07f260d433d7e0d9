//! SPEC.md's worked examples, recomputed: if the wire format or the Noise parameters change,
//! this fails until SPEC.md is updated to match.

use protocol_core::noise::{NOISE_PARAMS, Responder, prologue};
use protocol_core::wire::{
    ClientCommand, CommandOp, DecodeError, FailReason, JobBody, JobMessage, Message, OutputName, Reply, Severity,
};
use protocol_core::{JobId, Owner, StaticKeypair, WorkflowId};

fn spec() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../SPEC.md")).expect("protocol/SPEC.md exists")
}

fn bytes(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn job() -> JobId {
    JobId::new(WorkflowId::new("alice", "wf").expect("valid"), "1", "a", 1).expect("valid")
}

/// Hex as SPEC.md prints it: lowercase, in lines of 32 bytes.
fn spec_hex(data: &[u8]) -> String {
    data.chunks(32).map(hex::encode).collect::<Vec<_>>().join("\n")
}

fn assert_in_spec(label: &str, data: &[u8]) {
    let hex = spec_hex(data);
    assert!(spec().contains(&hex), "SPEC.md must show {label}:\n{hex}");
}

#[test]
fn spec_shows_the_prologue_bytes() {
    let wf = WorkflowId::new("alice", "wf").expect("valid");
    assert_in_spec("the prologue", &prologue(&wf));
}

#[test]
fn spec_shows_the_message_encodings() {
    let examples = [
        (
            "started",
            Message::Job(JobMessage {
                seq: 1,
                claim: job(),
                body: JobBody::Started,
            }),
        ),
        (
            "message",
            Message::Job(JobMessage {
                seq: 2,
                claim: job(),
                body: JobBody::Message {
                    severity: Severity::Warning,
                    text: "disk 91% full".into(),
                },
            }),
        ),
        (
            "output",
            Message::Job(JobMessage {
                seq: 3,
                claim: job(),
                body: JobBody::Output(OutputName::new("file-ready").expect("valid")),
            }),
        ),
        (
            "failed",
            Message::Job(JobMessage {
                seq: 4,
                claim: job(),
                body: JobBody::Failed(FailReason::Signal(15)),
            }),
        ),
    ];
    for (label, message) in examples {
        assert_in_spec(label, &message.to_bytes());
    }
    let mut ack = Vec::new();
    Reply::Ack { seq: 1 }.encode(&mut ack);
    assert_in_spec("ack", &ack);
    let mut rejected = Vec::new();
    Reply::Rejected {
        seq: 2,
        code: protocol_core::wire::RejectCode::TypeNotAllowed,
    }
    .encode(&mut rejected);
    assert_in_spec("rejected", &rejected);
}

#[test]
fn spec_handshake_vector_is_reproducible_and_accepted_by_the_responder() {
    let wf = WorkflowId::new("alice", "wf").expect("valid");
    let p = prologue(&wf);
    let job_static = bytes(0x01);
    let job_ephemeral = bytes(0x21);
    let sched_static = bytes(0x41);
    let sched_ephemeral = bytes(0x61);
    let sched_public = x25519_dalek::x25519(sched_static, x25519_dalek::X25519_BASEPOINT_BYTES);
    let params = || NOISE_PARAMS.parse().expect("params");
    let mut init = snow::Builder::new(params())
        .local_private_key(&job_static)
        .and_then(|b| b.prologue(&p))
        .and_then(|b| b.remote_public_key(&sched_public))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(&job_ephemeral))
        .and_then(snow::Builder::build_initiator)
        .expect("initiator");
    let mut resp = snow::Builder::new(params())
        .local_private_key(&sched_static)
        .and_then(|b| b.prologue(&p))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(&sched_ephemeral))
        .and_then(snow::Builder::build_responder)
        .expect("responder");
    let mut m1 = [0u8; 96];
    let mut m2 = [0u8; 48];
    let mut scratch = [0u8; 128];
    assert_eq!(init.write_message(&[], &mut m1).expect("m1"), 96);
    resp.read_message(&m1, &mut scratch).expect("read m1");
    assert_eq!(resp.write_message(&[], &mut m2).expect("m2"), 48);
    init.read_message(&m2, &mut scratch).expect("read m2");
    let mut init = init.into_transport_mode().expect("transport");
    let started = Message::Job(JobMessage {
        seq: 1,
        claim: job(),
        body: JobBody::Started,
    })
    .to_bytes();
    let mut frame = vec![0u8; started.len() + 16];
    init.write_message(&started, &mut frame).expect("encrypt");

    let job_public = x25519_dalek::x25519(job_static, x25519_dalek::X25519_BASEPOINT_BYTES);
    assert_in_spec("job static public key", &job_public);
    assert_in_spec("scheduler static public key", &sched_public);
    assert_in_spec("handshake message 1", &m1);
    assert_in_spec("handshake message 2", &m2);
    assert_in_spec("first transport frame", &frame);

    // Our own responder accepts the vector's first message from the job's key.
    let sched = StaticKeypair::from_secret(zeroize::Zeroizing::new(sched_static));
    let mut ours = Responder::new(&sched, &p).expect("responder");
    let first = ours.read_first(&m1).expect("our responder accepts message 1");
    assert_eq!(first.peer.as_bytes(), &job_public);
    assert!(first.payload.is_empty());
}

fn text_message(text: &str) -> Vec<u8> {
    Message::Job(JobMessage {
        seq: 1,
        claim: job(),
        body: JobBody::Message {
            severity: Severity::Info,
            text: text.into(),
        },
    })
    .to_bytes()
}

#[test]
fn spec_12_control_characters_close_the_connection_and_other_marks_are_stored_as_sent() {
    assert!(spec().contains("every Unicode control character (C0, DEL, C1) except\ntab and newline"));
    for bad in ["a\u{0}b", "a\u{1b}[31m", "a\u{7f}", "a\u{85}b", "a\u{9b}b", "a\rb"] {
        let err = Message::decode(&text_message(bad)).expect_err(bad);
        assert_eq!(err, DecodeError::ControlCharacter("message text"), "{bad:?}");
    }
    for kept in [
        "tab\there\nnewline",
        "rtl \u{200f}mark",
        "line\u{2028}sep",
        "zero\u{200b}width",
        "\u{feff}bom",
        "\u{202e}override",
    ] {
        let Message::Job(JobMessage {
            body: JobBody::Message { text, .. },
            ..
        }) = Message::decode(&text_message(kept)).expect(kept)
        else {
            panic!("not a message");
        };
        assert_eq!(text, kept, "stored as sent");
    }
}

#[test]
fn spec_12_an_invalid_claim_is_a_decoding_error_not_a_rejection() {
    assert!(spec().contains("An invalid claim (not a job id by §5.3) is a decoding error"));
    let mut bytes = Message::Job(JobMessage {
        seq: 1,
        claim: job(),
        body: JobBody::Started,
    })
    .to_bytes();
    // The claim's first byte after its length: `~` becomes `!`, which no job id starts with.
    let at = 10 + 1;
    assert_eq!(bytes[at], b'~');
    bytes[at] = b'!';
    assert!(matches!(Message::decode(&bytes), Err(DecodeError::BadJobId(_))));
}

#[test]
fn spec_12_kind_0x20_is_encoded_as_the_spec_says() {
    assert!(spec().contains("**Kind `0x20`** (a UI server's command): body *actor*"));
    let numbers = [
        (CommandOp::Hold, 1, "`1` hold"),
        (CommandOp::Release, 2, "`2` release"),
        (CommandOp::Pause, 3, "`3` pause"),
        (CommandOp::Resume, 4, "`4` resume"),
        (CommandOp::Stop, 5, "`5` stop"),
        (CommandOp::Kill, 6, "`6` kill"),
        (CommandOp::Trigger, 7, "`7` trigger"),
        (CommandOp::Poll, 8, "`8`\npoll"),
        (CommandOp::Broadcast, 9, "`9` broadcast"),
        (CommandOp::Reload, 10, "`10` reload"),
        (CommandOp::EditTrigger, 11, "`11` edit-trigger"),
    ];
    assert_eq!(numbers.len(), CommandOp::ALL.len());
    for (op, code, text) in numbers {
        assert!(spec().contains(text), "{text}");
        let bytes = Message::Command(ClientCommand {
            seq: 7,
            actor: Owner::new("alice").expect("valid"),
            op,
            target: "1/a".into(),
        })
        .to_bytes();
        let mut want = vec![0x01, 0x20];
        want.extend_from_slice(&7u64.to_be_bytes());
        want.push(5);
        want.extend_from_slice(b"alice");
        want.push(code);
        want.push(3);
        want.extend_from_slice(b"1/a");
        assert_eq!(bytes, want, "{op:?}");
    }
}

#[test]
fn spec_states_what_a_failing_event_log_does_and_that_jobs_must_not_write_after_registration() {
    let s = spec();
    assert!(s.contains("**A failing event log** (a full disk, a file-size limit, an I/O error) stops acknowledgements,\nnot the scheduler."));
    assert!(s.contains("and **must not**\nwrite to standard output after it"));
    assert!(!s.contains("acknowledges nothing more and stops"));
}
