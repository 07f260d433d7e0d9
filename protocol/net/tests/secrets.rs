//! The scheduler's private key is never written: not to the event log nor any other file.

use std::path::Path;
use std::sync::Arc;

use protocol_core::StaticKeypair;
use protocol_core::wire::JobBody;
use protocol_net::{ClientConfig, Scheduler, run_job};

use crate::support::{KeyLauncher, config, job, spec, wait_for};

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_private_key_appears_in_no_file_it_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keypair = StaticKeypair::generate_from_os();
    let secret = keypair.secret_bytes();
    let public = keypair.public();
    let launcher = KeyLauncher::default();
    let scheduler = Scheduler::start(config(dir.path()), keypair, Arc::new(launcher.clone()))
        .await
        .expect("start");
    let handle = scheduler.handle();
    let job_key = StaticKeypair::generate_from_os();
    let job_secret = job_key.secret_bytes();
    launcher.preset(&job("a"), *job_key.public().as_bytes());
    handle.launch(spec(&job("a"))).await.expect("launch");
    wait_for(|| handle.stats().launched == 1).await;
    let client = ClientConfig::new(scheduler.local_addr(), public, job("a"));
    run_job(&client, &job_key, vec![JobBody::Started, JobBody::Succeeded])
        .await
        .expect("job");
    scheduler.shutdown().await.expect("shutdown");

    let files = files_under(dir.path());
    assert!(!files.is_empty(), "the scheduler wrote its event log");
    let mut saw_public = false;
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        for secret in [&secret, &job_secret] {
            assert!(
                !contains(&bytes, secret.as_slice()),
                "{} holds a private key",
                file.display()
            );
            assert!(
                !contains(&bytes, hex::encode(secret.as_slice()).as_bytes()),
                "{} holds a private key in hex",
                file.display()
            );
            assert!(!contains(&bytes, hex::encode_upper(secret.as_slice()).as_bytes()));
        }
        saw_public |= contains(&bytes, job_key.public().to_hex().as_bytes());
    }
    // The search can find keys when they are there: the job's public key is logged.
    assert!(
        saw_public,
        "the job's public key is in the event log, so the scan works"
    );
}
