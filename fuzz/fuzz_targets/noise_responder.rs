//! The scheduler's side of the Noise IK handshake (`protocol_core::noise::Responder`) and what
//! the server does with it, sans IO: the first frame (capped at 1024 bytes, as the server caps
//! handshake frames) goes to `Responder::read_first`, the peer's key and first payload to the
//! core's `handle_handshake`, and, if the core lets the peer in, `write_second` answers and the
//! following frames are decrypted, decoded and handed to the core, whose replies go back
//! encrypted.
//!
//! Three ways in:
//! * raw bytes, as a connecting peer sends them (seeded with SPEC.md §4.4's worked handshake,
//!   which our responder accepts): a replayed or forged message 1 may get message 2, but no
//!   frame after it may ever decrypt;
//! * a structured session from a real initiator (snow, with the ephemeral key chosen by the
//!   input), with the first message, transport frames or their order tampered with: any
//!   change to message 1, a wrong prologue or a wrong scheduler key must be refused; a faithful
//!   one must give the initiator's key and payload; a non-empty first payload is always
//!   refused by the core; any tampered, dropped, replayed or reordered transport frame must
//!   fail to decrypt, every faithful one must decrypt to what was sent;
//! * the job's side reading message 2 (`Initiator::read_second`) from arbitrary bytes.
#![no_main]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use protocol_core::keys::StaticKeypair;
use protocol_core::noise::{Initiator, NOISE_PARAMS, NoiseError, Responder, SECOND_MESSAGE_LEN, TAG_LEN, prologue};
use protocol_core::scheduler::{JobSpec, Rejected, SchedulerConfig, SchedulerCore};
use protocol_core::wire::{JobBody, JobMessage, MAX_FRAME, Message, OutputName, Reply, Severity};
use protocol_core::{JobId, Millis, Owner, PublicKey, WorkflowId};
use protocol_net::framing::FrameReader;
use zeroize::Zeroizing;

/// The server's cap on handshake frames (`protocol_net::server::conn::MAX_HANDSHAKE_FRAME`,
/// crate-private).
const MAX_HANDSHAKE_FRAME: usize = 1024;
const T0: Millis = Millis(1_000_000);

/// SPEC.md §4.4's keys: `bytes(start)[i] = start + i`.
fn bytes(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

/// Who initiates: a registered job, a registered UI server, or a stranger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Job,
    Client,
    Stranger,
}

struct Fixture {
    scheduler: StaticKeypair,
    prologue: Vec<u8>,
    other_prologue: Vec<u8>,
    impostor: PublicKey,
    /// Secret and public key of each peer, in `Peer` order.
    peers: [([u8; 32], PublicKey); 3],
    job: JobId,
    core: SchedulerCore,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let workflow = WorkflowId::new("alice", "wf").expect("valid");
        let job = JobId::new(workflow.clone(), "1", "a", 1).expect("valid");
        let keypair = |secret: [u8; 32]| StaticKeypair::from_secret(Zeroizing::new(secret));
        let peers = [bytes(0x01), bytes(0x81), bytes(0xa1)].map(|s| (s, keypair(s).public()));
        let mut core = SchedulerCore::new(SchedulerConfig::new(workflow.clone()));
        core.launch(
            T0,
            JobSpec {
                id: job.clone(),
                outputs: BTreeSet::from([OutputName::new("file-ready").expect("valid")]),
            },
        )
        .expect("launch");
        core.handle_bootstrap_reply(T0, &job, *peers[0].1.as_bytes())
            .expect("register the job");
        core.register_client(*peers[1].1.as_bytes(), Owner::new("alice").expect("valid"))
            .expect("register the UI server");
        while core.poll_event().is_some() {}
        Fixture {
            scheduler: keypair(bytes(0x41)),
            prologue: prologue(&workflow),
            other_prologue: prologue(&WorkflowId::new("alice", "other").expect("valid")),
            impostor: keypair(bytes(0xc1)).public(),
            peers,
            job,
            core,
        }
    })
}

fn now<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a read from memory waited"),
    }
}

/// What the core answers to a decrypted message, as the server's core task would.
fn answer(core: &mut SchedulerCore, peer: &PublicKey, message: Message) -> Reply {
    let seq = message.seq();
    match core.handle_message(T0, peer, message) {
        Ok(accepted) => Reply::Ack { seq: accepted.seq() },
        Err(rejected) => Reply::Rejected {
            seq,
            code: rejected.code(),
        },
    }
}

/// A peer's byte stream, exactly as the server's connection task reads it.
fn raw_stream(stream: &[u8]) {
    let f = fixture();
    let mut reader = FrameReader::new(MAX_HANDSHAKE_FRAME);
    let mut rest = stream;
    while !rest.is_empty() {
        now(reader.fill(&mut rest)).expect("reading from memory");
    }
    let Ok(Some(first)) = reader.next_frame() else { return };
    let mut responder = Responder::new(&f.scheduler, &f.prologue).expect("responder");
    let Ok(first) = responder.read_first(first) else { return };
    // Only a recorded message 1 gets here: the peer is one of ours.
    let mut core = f.core.clone();
    if core.handle_handshake(T0, &first.peer, &first.payload).is_err() {
        return;
    }
    let (second, mut transport) = responder.write_second().expect("message 2");
    assert_eq!(second.len(), SECOND_MESSAGE_LEN);
    reader.set_max(MAX_FRAME);
    let mut plain = Vec::new();
    while let Ok(Some(frame)) = reader.next_frame() {
        // Message 2 carries a fresh ephemeral key: nobody who only replays message 1 can
        // follow it with an authenticated frame (the server's handshake deadline relies on it).
        let decrypted = transport.decrypt(frame, &mut plain);
        assert!(
            matches!(decrypted, Err(NoiseError::Decrypt)),
            "a frame after a replayed message 1 was not refused as undecryptable: {decrypted:?}"
        );
    }
}

/// An alteration: XOR `mask` (made non-zero) into byte `at` (modulo the length).
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Tamper {
    at: u16,
    mask: u8,
}

impl Tamper {
    fn apply(self, bytes: &mut [u8]) {
        if bytes.is_empty() {
            return;
        }
        let i = usize::from(self.at) % bytes.len();
        bytes[i] ^= self.mask.max(1);
    }
}

#[derive(Arbitrary, Debug)]
enum Plaintext {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A well-formed job message claiming the registered job.
    Job { seq: u8, body: u8 },
}

#[derive(Arbitrary, Debug)]
enum Delivery {
    Faithful,
    Tampered(Tamper),
    /// Cut short by this many bytes (at least one).
    Truncated(u8),
    /// Never delivered: every later frame must then fail.
    Dropped,
    /// The last frame the responder accepted, again, instead of this one.
    Replayed,
}

#[derive(Arbitrary, Debug)]
struct Frame {
    plaintext: Plaintext,
    delivery: Delivery,
}

#[derive(Arbitrary, Debug)]
struct Session {
    peer: u8,
    ephemeral: [u8; 32],
    payload: Vec<u8>,
    wrong_prologue: bool,
    wrong_scheduler: bool,
    tamper: Option<Tamper>,
    frames: Vec<Frame>,
}

fn plaintext(p: &Plaintext, job: &JobId) -> Vec<u8> {
    match p {
        Plaintext::Raw(b) => b.iter().copied().take(4096).collect(),
        Plaintext::Job { seq, body } => {
            let body = match body % 6 {
                0 => JobBody::Started,
                1 => JobBody::Heartbeat,
                2 => JobBody::Succeeded,
                3 => JobBody::Output(OutputName::new("file-ready").expect("valid")),
                4 => JobBody::Message {
                    severity: Severity::Info,
                    text: "hello".into(),
                },
                _ => JobBody::Failed(protocol_core::wire::FailReason::Exit(1)),
            };
            Message::Job(JobMessage {
                seq: u64::from(*seq).max(1),
                claim: job.clone(),
                body,
            })
            .to_bytes()
        }
    }
}

fn session(s: &Session) {
    let f = fixture();
    let who = [Peer::Job, Peer::Client, Peer::Stranger][usize::from(s.peer % 3)];
    let (secret, public) = &f.peers[who as usize];
    let payload: Vec<u8> = s.payload.iter().copied().take(MAX_HANDSHAKE_FRAME - 96).collect();
    let params = || NOISE_PARAMS.parse().expect("params");
    let p = if s.wrong_prologue {
        &f.other_prologue
    } else {
        &f.prologue
    };
    let target = if s.wrong_scheduler {
        f.impostor
    } else {
        f.scheduler.public()
    };
    let mut initiator = snow::Builder::new(params())
        .local_private_key(secret)
        .and_then(|b| b.prologue(p))
        .and_then(|b| b.remote_public_key(target.as_bytes()))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(&s.ephemeral))
        .and_then(snow::Builder::build_initiator)
        .expect("initiator");
    let mut first = vec![0u8; 96 + payload.len()];
    let n = initiator.write_message(&payload, &mut first).expect("message 1");
    first.truncate(n);
    if let Some(t) = s.tamper {
        t.apply(&mut first);
    }
    let mut responder = Responder::new(&f.scheduler, &f.prologue).expect("responder");
    let read = responder.read_first(&first);
    if s.tamper.is_some() || s.wrong_prologue || s.wrong_scheduler {
        assert!(
            matches!(
                read,
                Err(NoiseError::Handshake | NoiseError::HandshakeLength { .. } | NoiseError::BadEphemeral(_))
            ),
            "an altered or misdirected message 1 was not refused by the handshake: {s:?} {:?}",
            read.err()
        );
        return;
    }
    let read = read.expect("a faithful message 1 is accepted");
    assert_eq!(&read.peer, public, "the responder learnt another key");
    assert_eq!(read.payload.as_slice(), payload.as_slice());

    let mut core = f.core.clone();
    let before = core.clone();
    let verdict = core.handle_handshake(T0, &read.peer, &read.payload);
    if !payload.is_empty() {
        assert_eq!(verdict, Err(Rejected::NonEmptyFirstPayload { len: payload.len() }));
        assert_eq!(core, before, "a refused handshake changed the core");
        return;
    }
    match (who, verdict) {
        (Peer::Job, Ok(session)) => assert_eq!(session.job.as_ref(), Some(&f.job)),
        (Peer::Client, Ok(session)) => assert!(session.job.is_none() && session.client.is_some()),
        (Peer::Stranger, Err(Rejected::UnknownKey(k))) => {
            assert_eq!(&k, public);
            assert_eq!(core, before);
            return;
        }
        (who, verdict) => panic!("{who:?} got {verdict:?}"),
    }
    let (second, mut resp) = responder.write_second().expect("message 2");
    let mut scratch = vec![0u8; 64];
    let n = initiator
        .read_message(&second, &mut scratch)
        .expect("the initiator accepts message 2");
    assert_eq!(n, 0, "message 2 carries no payload");
    let mut init = initiator.into_transport_mode().expect("transport");

    // Every frame the initiator sealed, by nonce; the responder accepts exactly the next one.
    let (mut sent, mut received): (Vec<Vec<u8>>, usize) = (Vec::new(), 0);
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    for frame in s.frames.iter().take(16) {
        let pt = plaintext(&frame.plaintext, &f.job);
        let mut ct = vec![0u8; pt.len() + TAG_LEN];
        let n = init.write_message(&pt, &mut ct).expect("encrypt");
        ct.truncate(n);
        sent.push(ct.clone());
        let this = sent.len() - 1;
        let (delivered, faithful_copy_of) = match &frame.delivery {
            Delivery::Faithful => (ct, Some(this)),
            Delivery::Tampered(t) => {
                t.apply(&mut ct);
                (ct, None)
            }
            Delivery::Truncated(k) => {
                let keep = ct.len().saturating_sub(usize::from(*k).max(1));
                ct.truncate(keep);
                (ct, None)
            }
            Delivery::Dropped => continue,
            // The last frame the responder accepted, again.
            Delivery::Replayed => match received.checked_sub(1) {
                Some(last) => (sent[last].clone(), Some(last)),
                None => continue,
            },
        };
        let must_decrypt = faithful_copy_of == Some(received);
        match resp.decrypt(&delivered, &mut plain) {
            Ok(()) => {
                assert!(
                    must_decrypt,
                    "an altered, replayed or out-of-order frame decrypted: {frame:?}"
                );
                received += 1;
            }
            Err(_) => {
                assert!(!must_decrypt, "the next faithful frame failed to decrypt");
                // The server closes the connection on the first bad frame.
                return;
            }
        }
        if faithful_copy_of != Some(this) {
            return;
        }
        assert_eq!(plain, pt, "decrypted to something else");
        // As the server: an undecodable message closes the connection.
        let Ok(message) = Message::decode(&plain) else { return };
        let reply = answer(&mut core, &read.peer, message);
        let mut encoded = Vec::new();
        reply.encode(&mut encoded);
        resp.encrypt(&encoded, &mut sealed).expect("encrypt the reply");
        let mut back = vec![0u8; sealed.len()];
        let n = init
            .read_message(&sealed, &mut back)
            .expect("the job decrypts the reply");
        assert_eq!(Reply::decode(&back[..n]), Ok(reply));
    }
}

/// The job's side: arbitrary bytes as the scheduler's message 2.
fn job_reads_second(bytes: &[u8]) {
    let f = fixture();
    let job = StaticKeypair::from_secret(Zeroizing::new(f.peers[0].0));
    let mut initiator = Initiator::new(&job, &f.scheduler.public(), &f.prologue).expect("initiator");
    let _ = initiator.write_first().expect("message 1");
    // Message 1 used a fresh ephemeral key: nothing recorded or made up can answer it.
    let read = initiator.read_second(bytes);
    assert!(
        matches!(
            read,
            Err(NoiseError::Handshake | NoiseError::HandshakeLength { .. } | NoiseError::BadEphemeral(_))
        ),
        "an unrelated message 2 was not refused by the handshake: {:?}",
        read.err()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => raw_stream(rest),
        1 => {
            if let Ok(s) = Session::arbitrary_take_rest(Unstructured::new(rest)) {
                session(&s);
            }
        }
        _ => job_reads_second(rest),
    }
});
