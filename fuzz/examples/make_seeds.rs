//! Writes the seed corpora in fuzz/seeds/<target>/ from the crates' own examples and fixtures
//! (SPEC.md's worked vectors, protocol/people/examples, threats/model) and from lifecycles run
//! through the real cores. Deterministic: rerunning rewrites the same files.
//!
//!   cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//!
//! The structure-aware targets (scheduler_ops, noise_responder's session mode) decode their
//! input with `arbitrary`; `Enc` below writes the bytes `arbitrary` 1.x reads back as the
//! chosen values (integers little-endian, enum variants as a u32 bucket, `Vec` elements each
//! after a continue byte, a final `Vec` field likewise), so those seeds are real lifecycles.
//! Seeds named `finding-*` or `crash-*` reproduce findings (see fuzz/README.md).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use protocol_core::bootstrap::{KeyReply, Offer, Registration, encode_line};
use protocol_core::keys::StaticKeypair;
use protocol_core::scheduler::{JobSpec, SchedulerConfig, SchedulerCore};
use protocol_core::wire::{ClientCommand, CommandOp, JobBody, JobMessage, Message, OutputName, encode_frame};
use protocol_core::{JobId, Millis, Owner, WorkflowId};
use protocol_gateway::assertion::{Assertion, HubKey, sign};
use protocol_gateway::http::credentials::{CookieSettings, CsrfKey};
use protocol_net::eventlog::EventLog;
use protocol_people::PeopleDefences;
use protocol_people::audit::{Actor, AuditEvent, AuditKey, AuditRecord, MemoryLog, Outcome};
use protocol_people::ops::{Level, Operation};
use protocol_people::session::{Audience, HashParams, SessionConfig, SessionManager, UserDb, hash_password};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn seed(target: &str, name: &str, bytes: impl AsRef<[u8]>) {
    let dir = root().join("seeds").join(target);
    fs::create_dir_all(&dir).expect("seed dir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join("..").join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn hexd(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    (0..clean.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).expect("hex"))
        .collect()
}

fn bytes(start: u8) -> [u8; 32] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn wf() -> WorkflowId {
    WorkflowId::new("alice", "wf").expect("valid")
}

fn job(task: &str) -> JobId {
    JobId::new(wf(), "1", task, 1).expect("valid")
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(body, &mut out).expect("frame");
    out
}

/// The bytes `arbitrary` decodes back into the values written.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    fn u16(&mut self, v: u16) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }
    /// Variant `k` of an enum of `n` variants: arbitrary picks `(u32 * n) >> 32`.
    fn variant(&mut self, k: u32, n: u32) -> &mut Self {
        let v = ((u64::from(k) << 32) + u64::from(n) - 1) / u64::from(n);
        self.u32(u32::try_from(v).expect("fits"))
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    /// A `Vec<u8>` that is not the last field: each byte after a continue byte.
    fn vec(&mut self, b: &[u8]) -> &mut Self {
        for &x in b {
            self.u8(1).u8(x);
        }
        self.u8(0)
    }
}

// ---- scheduler_ops: `Op` and its parts, in declaration order ----

const OPS: u32 = 14;
enum Key {
    Pool(u8),
    LowOrder(u8),
    Raw([u8; 32]),
}
enum Seq {
    Next,
    Same,
    Back(u8),
    Ahead(u8),
}

impl Enc {
    fn job_sel(&mut self, task: u8) -> &mut Self {
        self.variant(0, 2).u8(task).u8(0).u8(0)
    }
    fn foreign(&mut self) -> &mut Self {
        self.variant(1, 2)
    }
    fn key(&mut self, k: Key) -> &mut Self {
        match k {
            Key::Pool(i) => self.variant(0, 3).u8(i),
            Key::LowOrder(i) => self.variant(1, 3).u8(i),
            Key::Raw(b) => self.variant(2, 3).raw(&b),
        }
    }
    fn seq(&mut self, s: Seq) -> &mut Self {
        match s {
            Seq::Next => self.variant(0, 5),
            Seq::Same => self.variant(1, 5),
            Seq::Back(n) => self.variant(2, 5).u8(n),
            Seq::Ahead(n) => self.variant(3, 5).u8(n),
        }
    }
    /// BodySel without the `Message` variant (its text is read from the end of the input).
    fn body(&mut self, k: u32, arg: Option<u8>) -> &mut Self {
        self.variant(k, 7);
        if let Some(a) = arg {
            self.u8(a);
        }
        self
    }
    fn op(&mut self, k: u32) -> &mut Self {
        self.u8(1).variant(k, OPS)
    }
    fn launch(&mut self, task: u8, outputs: u8) -> &mut Self {
        self.op(0).job_sel(task).u8(outputs)
    }
    fn reply(&mut self, task: u8, key: Key) -> &mut Self {
        self.op(1).job_sel(task).key(key)
    }
    fn send(&mut self, key: Key, claim: u8, seq: Seq, body: u32, arg: Option<u8>) -> &mut Self {
        self.op(8).key(key).job_sel(claim).seq(seq).body(body, arg)
    }
    fn command(&mut self, key: Key, seq: Seq, op: u8, target: (u32, u8, u8)) -> &mut Self {
        self.op(12).key(key).u8(0).seq(seq).u8(op).variant(target.0, 4);
        match target.0 {
            1 => self.u8(target.1),
            2 => self.u8(target.1).u8(target.2),
            _ => self,
        }
    }
}

const STARTED: u32 = 0;
const SUCCEEDED: u32 = 1;
const EXIT: u32 = 2;
const OUTPUT: u32 = 5;
const HEARTBEAT: u32 = 6;

fn scheduler_ops() {
    let t = "scheduler_ops";
    let header = |e: &mut Enc, window: u8, cap: Option<u8>| {
        e.u8(window);
        match cap {
            Some(c) => e.bool(true).u8(c),
            None => e.bool(false),
        };
    };
    // A job's whole life: launch, key, started, output, a retransmission, heartbeat,
    // succeeded, then a message after the end; restart from the log.
    let mut e = Enc::default();
    header(&mut e, 3, None);
    e.launch(0, 0b1)
        .reply(0, Key::Pool(0))
        .send(Key::Pool(0), 0, Seq::Next, STARTED, None)
        .send(Key::Pool(0), 0, Seq::Next, OUTPUT, Some(0))
        .send(Key::Pool(0), 0, Seq::Same, OUTPUT, Some(0))
        .send(Key::Pool(0), 0, Seq::Next, HEARTBEAT, None)
        .send(Key::Pool(0), 0, Seq::Next, SUCCEEDED, None)
        .send(Key::Pool(0), 0, Seq::Next, HEARTBEAT, None)
        .send(Key::Pool(0), 0, Seq::Back(1), SUCCEEDED, None)
        .op(13);
    seed(t, "lifecycle", &e.0);
    // Two jobs: a claim of the other's identity, gaps and replays, an operator revocation, a
    // launch that times out, a late key.
    let mut e = Enc::default();
    header(&mut e, 2, Some(3));
    e.launch(0, 0b11)
        .launch(1, 0)
        .reply(0, Key::Pool(0))
        .send(Key::Pool(0), 1, Seq::Next, STARTED, None)
        .send(Key::Pool(0), 0, Seq::Ahead(3), STARTED, None)
        .send(Key::Pool(0), 0, Seq::Next, STARTED, None)
        .send(Key::Pool(0), 0, Seq::Next, EXIT, Some(2))
        .op(6)
        .job_sel(0)
        .send(Key::Pool(0), 0, Seq::Next, HEARTBEAT, None)
        .op(3)
        .u32(31_000)
        .op(5)
        .reply(1, Key::Pool(1))
        .op(13);
    seed(t, "two-jobs-revoke-timeout", &e.0);
    // Keys that must be refused: low-order, non-canonical, another job's; a foreign launch
    // and a reserved output; the cap on live jobs.
    let mut e = Enc::default();
    header(&mut e, 1, Some(0));
    e.launch(0, 0)
        .launch(1, 0)
        .reply(0, Key::LowOrder(2))
        .reply(1, Key::Raw([0xff; 32]))
        .launch(2, 0b1000)
        .op(0)
        .foreign()
        .u8(0)
        .launch(3, 0)
        .reply(3, Key::Pool(4))
        .launch(4, 0)
        .reply(4, Key::Pool(4))
        .op(13);
    seed(t, "bad-keys-and-launches", &e.0);
    // A UI server: registered, commands in order, a retransmission, a gap, an unknown target,
    // revoked, then refused.
    let mut e = Enc::default();
    header(&mut e, 4, None);
    e.launch(0, 0)
        .reply(0, Key::Pool(0))
        .op(10)
        .key(Key::Pool(1))
        .u8(0)
        .command(Key::Pool(1), Seq::Next, 0, (2, 0, 0))
        .command(Key::Pool(1), Seq::Same, 0, (2, 0, 0))
        .command(Key::Pool(1), Seq::Ahead(2), 2, (0, 0, 0))
        .command(Key::Pool(1), Seq::Next, 2, (1, 2, 0))
        .command(Key::Pool(1), Seq::Next, 2, (0, 0, 0))
        .command(Key::Pool(0), Seq::Next, 4, (0, 0, 0))
        .send(Key::Pool(1), 0, Seq::Next, STARTED, None)
        .op(11)
        .key(Key::Pool(1))
        .command(Key::Pool(1), Seq::Next, 1, (0, 0, 0))
        .op(13);
    seed(t, "ui-server-commands", &e.0);
    // A job registering a UI server's key as its own: accepted today (keys are unique across
    // jobs and clients only when the client registers second). See fuzz/README.md.
    let mut e = Enc::default();
    header(&mut e, 4, None);
    e.op(10)
        .key(Key::Pool(2))
        .u8(0)
        .launch(0, 0)
        .reply(0, Key::Pool(2))
        .op(6)
        .job_sel(0)
        .command(Key::Pool(2), Seq::Next, 2, (0, 0, 0))
        .op(13);
    seed(t, "finding-client-key-registered-as-job-key", &e.0);
}

// ---- noise_responder ----

fn noise_responder() {
    let t = "noise_responder";
    let spec = read("protocol/SPEC.md");
    let block = |label: &str| -> Vec<u8> {
        let at = spec.find(label).unwrap_or_else(|| panic!("SPEC.md shows {label}"));
        let rest = &spec[at..];
        let open = rest.find("```\n").expect("code block") + 4;
        let close = rest[open..].find("```").expect("end of block");
        hexd(&rest[open..open + close])
    };
    let m1 = block("message 1 (96 bytes");
    let m2 = block("message 2 (48 bytes");
    let t1 = block("the job's first transport frame");
    assert_eq!((m1.len(), m2.len(), t1.len()), (96, 48, 44));
    let mut raw = vec![0u8];
    raw.extend(frame(&m1));
    seed(t, "raw-spec-message-1", &raw);
    raw.extend(frame(&t1));
    seed(t, "raw-spec-message-1-and-frame", &raw);
    let mut oversize = vec![0u8, 0x04, 0x01];
    oversize.extend(vec![0u8; 1025]);
    seed(t, "raw-oversize-handshake-frame", &oversize);
    let mut low = vec![0u8];
    low.extend(frame(&[0u8; 96]));
    seed(t, "raw-low-order-ephemeral", &low);
    let mut second = vec![2u8];
    second.extend(&m2);
    seed(t, "job-reads-spec-message-2", &second);

    // Sessions: peer, ephemeral, payload, wrong prologue, wrong scheduler, tamper, frames.
    let session = |peer: u8, payload: &[u8], tamper: Option<(u16, u8)>, frames: &[(u8, u8, u32)]| {
        let mut e = Enc::default();
        e.u8(1).u8(peer).raw(&bytes(0x21)).vec(payload).bool(false).bool(false);
        match tamper {
            Some((at, mask)) => e.bool(true).u16(at).u8(mask),
            None => e.bool(false),
        };
        for &(seq, body, delivery) in frames {
            e.u8(1).variant(1, 2).u8(seq).u8(body).variant(delivery, 5);
            if delivery == 1 {
                e.u16(20).u8(0x40);
            } else if delivery == 2 {
                e.u8(3);
            }
        }
        e.u8(0);
        e.0
    };
    seed(
        t,
        "session-job-lifecycle",
        session(0, &[], None, &[(1, 0, 0), (2, 1, 0), (3, 3, 0), (4, 2, 0)]),
    );
    seed(t, "session-ui-server", session(1, &[], None, &[(1, 1, 0)]));
    seed(t, "session-stranger", session(2, &[], None, &[]));
    seed(t, "session-first-payload", session(0, b"act on me", None, &[]));
    seed(t, "session-tampered-message-1", session(0, &[], Some((40, 1)), &[]));
    seed(
        t,
        "session-tampered-dropped-replayed",
        session(0, &[], None, &[(1, 0, 0), (2, 1, 4), (2, 1, 3), (3, 1, 0), (3, 1, 1)]),
    );
}

// ---- bootstrap_lines and wire_decode ----

fn bootstrap_and_wire() {
    let t = "bootstrap_lines";
    let sched = StaticKeypair::from_secret(Zeroizing::new(bytes(0x41)));
    let job_key = StaticKeypair::from_secret(Zeroizing::new(bytes(0x01))).public();
    let offer = encode_line(&Offer::new(job("a"), sched.public(), "127.0.0.1:4000".into()));
    let reply = encode_line(&KeyReply::new(job_key));
    let accepted = encode_line(&Registration::accepted());
    let refused = encode_line(&Registration::refused("key already registered".into()));
    let with = |sel: u8, step: u8, body: &str| {
        let mut v = vec![sel, step];
        v.extend(body.as_bytes());
        v
    };
    seed(t, "scheduler-reads-key-reply", with(0, 63, &reply));
    seed(t, "scheduler-reads-key-reply-in-pieces", with(0, 2, &reply));
    let zero = format!("{{\"v\":1,\"job_key\":\"{}\"}}\n", "00".repeat(32));
    seed(t, "scheduler-reads-low-order-key", with(0, 63, &zero));
    let upper = reply
        .to_uppercase()
        .replace("\"V\"", "\"v\"")
        .replace("JOB_KEY", "job_key");
    seed(t, "scheduler-reads-upper-case-key", with(0, 63, &upper));
    seed(t, "scheduler-reads-too-long-line", with(0, 63, &"x".repeat(1100)));
    seed(t, "scheduler-reads-unterminated-line", with(0, 5, reply.trim_end()));
    seed(
        t,
        "job-reads-offer-and-registration",
        with(1, 63, &format!("{offer}{accepted}")),
    );
    seed(
        t,
        "job-reads-offer-and-refusal",
        with(1, 7, &format!("{offer}{refused}")),
    );
    seed(t, "decode-offer", with(2, 0, &offer));
    seed(t, "decode-registration", with(2, 0, &refused));
    let extra = format!("{{\"v\":1,\"job_key\":\"{}\",\"job\":\"x\"}}\n", "11".repeat(32));
    seed(t, "decode-unknown-field", with(2, 0, &extra));

    let t = "wire_decode";
    let started = Message::Job(JobMessage {
        seq: 1,
        claim: job("a"),
        body: JobBody::Started,
    })
    .to_bytes();
    let command = Message::Command(ClientCommand {
        seq: 1,
        actor: Owner::new("jacintar").expect("valid"),
        op: CommandOp::Hold,
        target: "1/a".into(),
    })
    .to_bytes();
    let mut stream = vec![2u8, 0, 6];
    stream.extend(frame(&started));
    stream.extend(frame(&command));
    seed(t, "frames", &stream);
    seed(t, "frames-empty", [2u8, 1, 0, 0, 0]);
    seed(t, "frames-oversize", [2u8, 20, 3, 0, 200, 1, 2, 3]);
    let mut c = vec![0u8];
    c.extend(&command);
    seed(t, "command", &c);
}

// ---- eventlog_restore ----

fn eventlog_restore() {
    let t = "eventlog_restore";
    let t0 = Millis(1_000_000);
    let mut core = SchedulerCore::new(SchedulerConfig::new(wf()));
    let ka = StaticKeypair::from_secret(Zeroizing::new(bytes(0x01))).public();
    let kb = StaticKeypair::from_secret(Zeroizing::new(bytes(0x81))).public();
    let ui = StaticKeypair::from_secret(Zeroizing::new(bytes(0xa1))).public();
    let spec = |id: &JobId| JobSpec {
        id: id.clone(),
        outputs: BTreeSet::from([OutputName::new("file-ready").expect("valid")]),
    };
    let (a, b, c) = (job("a"), job("b"), job("c"));
    let send = |core: &mut SchedulerCore, key, id: &JobId, seq, body| {
        let m = Message::Job(JobMessage {
            seq,
            claim: id.clone(),
            body,
        });
        core.handle_message(t0, key, m).expect("accepted");
    };
    core.launch(t0, spec(&a)).expect("launch");
    core.launch(t0, spec(&b)).expect("launch");
    core.launch(t0, spec(&c)).expect("launch");
    core.handle_bootstrap_reply(t0, &a, *ka.as_bytes()).expect("register");
    core.handle_bootstrap_reply(t0, &b, *kb.as_bytes()).expect("register");
    core.handle_launch_failed(&c, "the process exited");
    send(&mut core, &ka, &a, 1, JobBody::Started);
    send(
        &mut core,
        &ka,
        &a,
        2,
        JobBody::Output(OutputName::new("file-ready").expect("valid")),
    );
    send(
        &mut core,
        &ka,
        &a,
        3,
        JobBody::Message {
            severity: protocol_core::wire::Severity::Warning,
            text: "disk 91% full".into(),
        },
    );
    send(&mut core, &ka, &a, 4, JobBody::Succeeded);
    send(
        &mut core,
        &kb,
        &b,
        1,
        JobBody::Failed(protocol_core::wire::FailReason::Signal(15)),
    );
    core.register_client(*ui.as_bytes(), Owner::new("alice").expect("valid"))
        .expect("client");
    let hold = Message::Command(ClientCommand {
        seq: 1,
        actor: Owner::new("jacintar").expect("valid"),
        op: CommandOp::Hold,
        target: "1/a".into(),
    });
    core.handle_message(t0, &ui, hold).expect("command");
    core.revoke(&b);
    core.revoke_client(&ui);
    let mut log = Vec::new();
    EventLog::encode(std::iter::from_fn(|| core.poll_event()), &mut log);
    seed(t, "lifecycle", &log);
    let mut torn = log.clone();
    torn.extend_from_slice(b"{\"event\":\"revo");
    seed(t, "torn-final-line", &torn);
    let first_line = log.iter().position(|&b| b == b'\n').expect("a line") + 1;
    let mut corrupt = log[..first_line].to_vec();
    corrupt.extend_from_slice(b"not json\n");
    corrupt.extend_from_slice(&log[first_line..]);
    seed(t, "corrupt-second-line", &corrupt);
    // Events a damaged log may hold in an order the scheduler never writes.
    let odd = concat!(
        "{\"event\":\"accepted\",\"job\":\"~alice/wf//1/z/01\",\"seq\":7,\"body\":\"started\"}\n",
        "{\"event\":\"registered\",\"job\":\"~alice/wf//1/z/01\",\"key\":\"",
        "0000000000000000000000000000000000000000000000000000000000000000\"}\n",
        "{\"event\":\"launched\",\"spec\":{\"id\":\"~alice/wf//1/z/01\",\"outputs\":[\"succeeded\"]},\"deadline\":5}\n",
        "{\"event\":\"revoked\",\"job\":\"~alice/wf//1/z/01\",\"reason\":\"operator\"}\n",
    );
    seed(t, "out-of-order", odd);
    seed(t, "empty", b"");
}

// ---- policies ----

fn policies() {
    let join = |files: &[(&str, String)]| -> Vec<u8> {
        let parts: Vec<String> = files.iter().map(|(p, t)| format!("{p}\n{t}")).collect();
        parts.join("\0").into_bytes()
    };
    let ex = "protocol/people/examples/policy";
    let site = read(&format!("{ex}/site.toml"));
    let atmos = read(&format!("{ex}/users/atmosphere_stage.toml"));
    let oceans = read(&format!("{ex}/users/oceans_stage.toml"));
    let currents = read(&format!("{ex}/workflows/oceans_stage/currents.toml"));
    let t = "policy_toml";
    seed(
        t,
        "example-policy",
        join(&[
            ("site", site.clone()),
            ("users/atmosphere_stage", atmos.clone()),
            ("users/oceans_stage", oceans.clone()),
            ("workflows/oceans_stage/currents", currents.clone()),
        ]),
    );
    seed(t, "site", join(&[("site", site.clone())]));
    seed(t, "owner", join(&[("users/oceans_stage", oceans)]));
    seed(t, "workflow", join(&[("workflows/oceans_stage/currents", currents)]));
    seed(
        t,
        "empty-grants",
        join(&[("users/bob", "[grants]\n\"*\" = []\n".into())]),
    );
    seed(
        t,
        "unknown-right",
        join(&[("site", "[site.\"*\".\"*\"]\ndefault = [\"READ\", \"trigerr\"]\n".into())]),
    );
    seed(
        t,
        "stray-file",
        join(&[("site", site), ("users/notes.txt", String::new())]),
    );
    seed(
        t,
        "nested-workflow",
        join(&[(
            "workflows/bob/a/b",
            "[grants]\n\"group:ops\" = [\"READ\", \"!stop\", \"CONTROL\"]\n".into(),
        )]),
    );
    let t = "policy_cylc";
    let cy = "protocol/people/examples/cylc";
    let csite = read(&format!("{cy}/site.json"));
    let cuser = read(&format!("{cy}/users/server_owner_1.json"));
    seed(
        t,
        "example-cylc",
        join(&[("site", csite.clone()), ("users/server_owner_1", cuser.clone())]),
    );
    seed(t, "site", join(&[("site", csite)]));
    seed(t, "user", join(&[("users/server_owner_1", cuser)]));
    seed(t, "empty-list", join(&[("users/bob", "{\"*\": []}".into())]));
    seed(t, "not-an-object", join(&[("site", "[1, 2]".into())]));
    seed(
        t,
        "mixed-with-toml",
        join(&[
            ("site", "{\"*\": {\"*\": {\"default\": \"READ\"}}}".into()),
            ("users/bob.toml", "[grants]\n\"alice\" = [\"ALL\"]\n".into()),
            ("users/bob.json", "{\"alice\": \"ALL\"}".into()),
        ]),
    );
}

// ---- audit_verify ----

fn audit_verify() {
    let t = "audit_verify";
    let key = AuditKey::from_bytes([0x42; 32]);
    let mut log = MemoryLog::new(key, PeopleDefences::all());
    let at = Millis(1_795_341_600_000);
    let clouds = WorkflowId::new("atmosphere_stage", "clouds").expect("valid");
    let jacintar = Owner::new("jacintar").expect("valid");
    let records = [
        AuditRecord {
            at,
            actor: Actor::User(jacintar.clone()),
            source: None,
            event: AuditEvent::Login {
                audience: Audience::new("hub").expect("valid"),
                outcome: Outcome::Allowed,
            },
        },
        AuditRecord {
            at,
            actor: Actor::User(jacintar.clone()),
            source: None,
            event: AuditEvent::Elevation {
                to: Level::Execute,
                outcome: Outcome::Allowed,
            },
        },
        AuditRecord {
            at,
            actor: Actor::User(jacintar),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Stop,
                workflow: clouds.clone(),
                target: Some("climb.1234".into()),
                outcome: Outcome::Allowed,
            },
        },
        AuditRecord {
            at,
            actor: Actor::Claimed("mallory\n2026-11-22T10:00:00Z User root stopped x [#9 00]".into()),
            source: None,
            event: AuditEvent::Operation {
                op: Operation::Trigger,
                workflow: clouds,
                target: Some("\u{2028}\u{202e}".into()),
                outcome: Outcome::Denied {
                    reason: "not-granted".into(),
                },
            },
        },
    ];
    let mut heads = vec![log.head()];
    for r in &records {
        let _ = log.push(r);
        heads.push(log.head());
    }
    let text = log.text().as_bytes().to_vec();
    let with_head = |text: &[u8], head: &str| {
        let mut v = vec![0u8];
        v.extend(text);
        v.push(0);
        v.extend(head.as_bytes());
        v
    };
    seed(t, "log-and-head", with_head(&text, &heads[4]));
    seed(t, "one-record-unanchored", with_head(&text, &heads[3]));
    seed(t, "truncated-log", with_head(&text[..text.len() - 10], &heads[4]));
    let mut no_head = vec![0u8];
    no_head.extend(&text);
    seed(t, "no-head", &no_head);
    let mut edited = text.clone();
    edited[30] ^= 1;
    seed(t, "edited-record", with_head(&edited, &heads[4]));
    seed(
        t,
        "structured-random",
        [1u8, 1, 7, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 64, 2, 9, 1],
    );
}

// ---- hub_credentials (the same fixture as the target) ----

struct Fixed(u64);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let n = chunk.len();
            chunk.copy_from_slice(&self.next_u64().to_le_bytes()[..n]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

fn hub_credentials() {
    let t = "hub_credentials";
    let mut rng = Fixed(7);
    let params = HashParams::FAST_INSECURE;
    let mut users = UserDb::new();
    let phc = hash_password("correct horse", params, &mut rng).expect("hash");
    users
        .insert(Owner::new("jacintar").expect("valid"), &phc)
        .expect("user");
    let config = SessionConfig {
        hash_params: params,
        ..SessionConfig::default()
    };
    let mut sessions = SessionManager::new(users, config).expect("sessions");
    let (token, auth) = sessions
        .login(
            Millis(1_795_341_600_000),
            "jacintar",
            "correct horse",
            &Audience::new("hub").expect("valid"),
            &mut rng,
        )
        .expect("login");
    let token = token.to_wire().to_string();
    let csrf = CsrfKey::from_bytes([3; 32]).token_for(auth.id);
    let cookies = CookieSettings::default();
    let head = |flags: u8, text: String| {
        let mut v = vec![flags];
        v.extend(text.into_bytes());
        v
    };
    seed(
        t,
        "cookie-post-with-csrf",
        head(
            0,
            format!(
                "POST /o/atmosphere_stage/workflows/clouds\ncookie: other=1; {}={token}\nx-csrf-token: {csrf}\norigin: http://127.0.0.1:8000\nsec-fetch-site: same-origin",
                cookies.session_name()
            ),
        ),
    );
    seed(
        t,
        "cookie-tls-names",
        head(
            1,
            format!("GET /workflows\ncookie: __Host-tc_session={token}; __Host-tc_csrf={csrf}"),
        ),
    );
    seed(
        t,
        "bearer",
        head(0, format!("GET /scan?verbose=1\nauthorization: Bearer {token}")),
    );
    seed(
        t,
        "cookie-and-bearer",
        head(
            0,
            format!("GET /\ncookie: tc_session={token}\nauthorization: bearer {token}"),
        ),
    );
    seed(
        t,
        "two-cookies",
        head(
            0,
            format!("GET /\ncookie: tc_session={token}\ncookie: tc_session={token}"),
        ),
    );
    seed(t, "token-in-url", head(0, format!("GET /scan?x=1;%74oken={token}")));
    seed(
        t,
        "login",
        head(
            0,
            "POST /login\nx-requested-with: threatcheck\ncontent-type: application/json".into(),
        ),
    );
    seed(
        t,
        "cross-site",
        head(
            0,
            "POST /elevate\norigin: http://evil.example\nsec-fetch-site: cross-site".into(),
        ),
    );
}

// ---- hub_request_body ----

fn hub_request_body() {
    let t = "hub_request_body";
    let body = |sel: u8, json: &str| {
        let mut v = vec![sel];
        v.extend(json.as_bytes());
        v
    };
    seed(
        t,
        "login",
        body(0, r#"{"user":"jacintar","password":"correct horse","bearer":true}"#),
    );
    seed(
        t,
        "login-forged-name",
        body(
            0,
            "{\"user\":\"x\\n2026-11-22T10:00:00Z User root stopped y [#1 00]\",\"password\":\"\"}",
        ),
    );
    seed(
        t,
        "login-extra-field",
        body(0, r#"{"user":"a","password":"b","admin":true}"#),
    );
    seed(t, "login-as-array", body(0, r#"["a","b",false]"#));
    seed(
        t,
        "elevate",
        body(1, r#"{"password":"correct horse","level":"EXECUTE"}"#),
    );
    seed(t, "block", body(2, r#"{"source":"::ffff:127.0.0.1"}"#));
    seed(t, "revoke-session", body(3, r#"{"session":3}"#));
    seed(t, "revoke-user", body(3, r#"{"user":"mallory"}"#));
    seed(t, "revoke-job", body(4, r#"{"job":"~alice/wf//1/a/01"}"#));
    let key = StaticKeypair::from_secret(Zeroizing::new(bytes(0x01)))
        .public()
        .to_hex();
    seed(
        t,
        "revoke-client",
        body(5, &format!(r#"{{"owner":"alice","key":"{}"}}"#, key.to_uppercase())),
    );
    seed(
        t,
        "loose-command",
        body(6, r#"{"op":"setHoldPoint","target":"1/a","extra":[1,2.5e3,null]}"#),
    );
    seed(t, "command", body(7, r#"{"op":"stop","target":"1234/climb"}"#));
    seed(
        t,
        "command-control-target",
        body(7, r#"{"op":"hold","target":"1/a\u0007"}"#),
    );
    seed(
        t,
        "value",
        body(8, r#"{"a":[1,-0.0,1e308,"\ud83d\ude00",{"b":null}],"c":true}"#),
    );
}

// ---- assertion_header ----

fn assertion_header() {
    let t = "assertion_header";
    let key = HubKey::from_bytes([1; 32]);
    let a = Assertion {
        user: Owner::new("jacintar").expect("valid"),
        level: Level::Execute,
        session: 3,
        operator: false,
        at: Millis(1_795_341_600_000),
        nonce: [7; 16],
    };
    let raw = |header: &str, method: &str, path: &str, body: &[u8]| {
        let mut v = vec![0u8];
        for (i, part) in [header.as_bytes(), method.as_bytes(), path.as_bytes(), body]
            .iter()
            .enumerate()
        {
            if i > 0 {
                v.push(0);
            }
            v.extend(*part);
        }
        v
    };
    let body = br#"{"op":"stop","target":"1234/climb"}"#;
    let h = sign(&key, &a, "POST", "/workflows/clouds", body);
    seed(t, "signed-post", raw(&h, "POST", "/workflows/clouds", body));
    let g = sign(&key, &a, "GET", "/workflows", b"");
    seed(t, "signed-get", raw(&g, "GET", "/workflows", b""));
    seed(
        t,
        "level-in-upper-case",
        raw(&g.replace("level=execute", "level=EXECUTE"), "GET", "/workflows", b""),
    );
    seed(t, "tabs", raw(&g.replace(' ', "\t"), "GET", "/workflows", b""));
    seed(
        t,
        "altered-level",
        raw(&g.replace("level=execute", "level=write"), "GET", "/workflows", b""),
    );
    let stale = Assertion {
        at: Millis(1_795_341_500_000),
        ..a.clone()
    };
    seed(
        t,
        "stale",
        raw(&sign(&key, &stale, "GET", "/workflows", b""), "GET", "/workflows", b""),
    );
    let op = Assertion {
        operator: true,
        level: Level::Write,
        ..a
    };
    seed(
        t,
        "operator",
        raw(
            &sign(&key, &op, "POST", "/operator/block", b"{}"),
            "POST",
            "/operator/block",
            b"{}",
        ),
    );
    seed(
        t,
        "structured-random",
        [1u8, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1, 16, 39, 0, 0, 7, 7, 7, 7],
    );
}

// ---- threat_model ----

fn threat_model() {
    let t = "threat_model";
    let dir = root().join("../threats/model");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("threats/model")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let texts: Vec<String> = names
        .iter()
        .map(|n| fs::read_to_string(dir.join(n)).expect("model file"))
        .collect();
    seed(t, "whole-model", texts.join("\0"));
    for (n, text) in names.iter().zip(&texts) {
        seed(t, n.trim_end_matches(".toml"), text);
    }
    seed(
        t,
        "duplicate-system",
        format!(
            "{0}\0{0}",
            texts[names.iter().position(|n| n == "system.toml").expect("system")]
        ),
    );
    seed(t, "empty", "");
}

fn main() {
    scheduler_ops();
    noise_responder();
    bootstrap_and_wire();
    eventlog_restore();
    policies();
    audit_verify();
    hub_credentials();
    hub_request_body();
    assertion_header();
    threat_model();
    println!("seeds written under {}", root().join("seeds").display());
}
