//! Scheduler-side handshake CPU against its X25519 floor, measured in the same run.
//!
//! The responder of `Noise_IK_25519` does four variable-base scalar multiplications (es, ss,
//! ee, se) and one fixed-base one (its ephemeral key): that is the floor no implementation can
//! beat. `scheduler_handshake` is everything the scheduler does for one handshake without I/O:
//! build the responder, read message 1 (with key validation), ask the core, write message 2.
//! The ratio of the two is the figure the issue sets a target for (≤ 1.3).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use protocol_core::noise::{Initiator, Responder, prologue};
use protocol_core::scheduler::{JobSpec, SchedulerConfig, SchedulerCore};
use protocol_core::{JobId, Millis, StaticKeypair, WorkflowId};
use rand_core::{OsRng, RngCore};

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b
}

fn bench(c: &mut Criterion) {
    let workflow = WorkflowId::new("bench", "wf").expect("valid");
    let job = JobId::new(workflow.clone(), "1", "a", 1).expect("valid");
    let scheduler = StaticKeypair::generate_from_os();
    let job_key = StaticKeypair::generate_from_os();
    let mut core = SchedulerCore::new(SchedulerConfig::new(workflow.clone()));
    core.launch(
        Millis(0),
        JobSpec {
            id: job.clone(),
            outputs: Default::default(),
        },
    )
    .expect("launch");
    core.handle_bootstrap_reply(Millis(0), &job, *job_key.public().as_bytes())
        .expect("register");
    let prologue = prologue(&workflow);
    // IK's first message does not depend on the responder's state, so one can be replayed
    // into fresh responders: each iteration is a complete scheduler-side handshake.
    let first = Initiator::new(&job_key, &scheduler.public(), &prologue)
        .expect("init")
        .write_first()
        .expect("first");

    let mut group = c.benchmark_group("handshake");
    let scalars: Vec<[u8; 32]> = (0..5).map(|_| random32()).collect();
    let points: Vec<[u8; 32]> = (0..4)
        .map(|_| *StaticKeypair::generate_from_os().public().as_bytes())
        .collect();
    group.bench_function("x25519_floor_4_variable_1_fixed", |b| {
        b.iter(|| {
            for (k, u) in scalars.iter().zip(&points) {
                black_box(x25519_dalek::x25519(*k, *u));
            }
            black_box(x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(
                scalars[4],
            )));
        });
    });
    group.bench_function("scheduler_handshake", |b| {
        b.iter(|| {
            let mut responder = Responder::new(&scheduler, &prologue).expect("responder");
            let msg = responder.read_first(black_box(&first)).expect("read");
            core.handle_handshake(Millis(0), &msg.peer, &msg.payload)
                .expect("registered");
            black_box(responder.write_second().expect("write"));
        });
    });
    group.bench_function("job_handshake", |b| {
        b.iter(|| {
            let mut initiator = Initiator::new(&job_key, &scheduler.public(), &prologue).expect("init");
            let mut responder = Responder::new(&scheduler, &prologue).expect("responder");
            responder
                .read_first(&initiator.write_first().expect("first"))
                .expect("read");
            let (second, _) = responder.write_second().expect("write");
            black_box(initiator.read_second(&second).expect("second"));
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
