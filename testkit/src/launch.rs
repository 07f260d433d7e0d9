//! A launcher for jobs that run in-process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol_core::JobId;
use protocol_core::bootstrap::Offer;
use protocol_core::keys::KEY_LEN;
use protocol_net::launcher::{LaunchFailure, LaunchFuture, Launched, Launcher};

/// Answers each offer with a key registered in advance, without starting anything: for jobs
/// that run in-process (benchmarks, attack harnesses, tests). A job with no preset key fails
/// its launch as a silent job would.
#[derive(Debug, Clone, Default)]
pub struct PresetKeyLauncher {
    keys: Arc<Mutex<BTreeMap<JobId, [u8; KEY_LEN]>>>,
}

impl PresetKeyLauncher {
    /// The key `job` will answer with.
    pub fn preset(&self, job: &JobId, key: [u8; KEY_LEN]) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(job.clone(), key);
        }
    }
}

impl Launcher for PresetKeyLauncher {
    fn launch(&self, offer: Offer, deadline: Duration) -> LaunchFuture {
        let key = self.keys.lock().ok().and_then(|keys| keys.get(&offer.job).copied());
        Box::pin(async move {
            let key = key.ok_or(LaunchFailure::Timeout(deadline))?;
            Ok(Launched {
                key,
                channel: None,
                process: None,
            })
        })
    }
}
