//! The hub's table of UI servers: one slot per configured owner (so it never grows), spawning
//! on demand, noticing instances that stopped (idle), and replacing them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol_core::{Owner, PublicKey};
use tokio::sync::Mutex;

use crate::assertion::HubKey;
use crate::logging::Log;
use crate::spawner::{SpawnError, UiInstance, UiLauncher};

struct Running {
    instance: Box<dyn UiInstance>,
    key: Arc<HubKey>,
    generation: u64,
}

/// Where to send a request, and with which key to sign it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub address: SocketAddr,
    pub key: Arc<HubKey>,
    pub generation: u64,
}

/// One owner's UI server, for operators.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UiStatus {
    /// The owner.
    pub owner: Owner,
    /// Whether an instance is running.
    pub running: bool,
    /// Its process id.
    pub pid: Option<u32>,
    /// Its client key.
    pub client_key: Option<String>,
    /// How many instances have been started for this owner.
    pub spawned: u64,
}

#[derive(Default)]
struct Slot {
    running: Option<Running>,
    spawned: u64,
}

pub(crate) struct UiRegistry {
    launcher: Arc<dyn UiLauncher>,
    slots: BTreeMap<Owner, Mutex<Slot>>,
    generation: AtomicU64,
    log: Log,
    /// Weakened builds without `configured-owner` only: slots made on demand for owners that
    /// are not configured.
    #[cfg(feature = "weaken")]
    unconfigured: Option<std::sync::Mutex<BTreeMap<Owner, Arc<Mutex<Slot>>>>>,
}

impl UiRegistry {
    pub fn new(launcher: Arc<dyn UiLauncher>, owners: impl IntoIterator<Item = Owner>, log: Log) -> Self {
        Self {
            launcher,
            slots: owners.into_iter().map(|o| (o, Mutex::new(Slot::default()))).collect(),
            generation: AtomicU64::new(1),
            log,
            #[cfg(feature = "weaken")]
            unconfigured: None,
        }
    }

    /// The running instance for `owner`, spawning one if there is none (or it stopped).
    pub async fn ensure(&self, owner: &Owner) -> Result<Target, SpawnError> {
        #[cfg(feature = "weaken")]
        let extra = self.unconfigured_slot(owner);
        #[cfg(not(feature = "weaken"))]
        let extra: Option<Arc<Mutex<Slot>>> = None;
        let slot = match (self.slots.get(owner), extra.as_deref()) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => return Err(SpawnError::UnknownOwner),
        };
        let mut slot = slot.lock().await;
        if let Some(r) = slot.running.as_mut() {
            if !r.instance.has_exited() {
                return Ok(Target {
                    address: r.instance.address(),
                    key: Arc::clone(&r.key),
                    generation: r.generation,
                });
            }
            if let Some(old) = slot.running.take() {
                self.log.line(&format!("{owner}'s UI server has stopped"));
                old.instance.stop().await;
            }
        }
        let key = HubKey::generate(&mut rand_core::OsRng);
        let instance = self.launcher.launch(owner.clone(), key.clone()).await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        slot.spawned += 1;
        self.log.line(&format!(
            "spawned {owner}'s UI server (instance {}) at {}",
            slot.spawned,
            instance.address()
        ));
        let target = Target {
            address: instance.address(),
            key: Arc::new(key),
            generation,
        };
        slot.running = Some(Running {
            instance,
            key: Arc::clone(&target.key),
            generation,
        });
        Ok(target)
    }

    /// Stops `owner`'s instance if it is still the one of `generation` (it did not answer).
    pub async fn reset(&self, owner: &Owner, generation: u64) {
        let Some(slot) = self.slots.get(owner) else { return };
        let mut slot = slot.lock().await;
        if slot.running.as_ref().is_some_and(|r| r.generation == generation)
            && let Some(old) = slot.running.take()
        {
            old.instance.stop().await;
        }
    }

    /// Stops `owner`'s instance now; returns its client key if one was running.
    pub async fn stop_owner(&self, owner: &Owner) -> Option<PublicKey> {
        let slot = self.slots.get(owner)?;
        let old = slot.lock().await.running.take()?;
        let key = old.instance.client_key();
        old.instance.stop().await;
        Some(key)
    }

    /// Every owner's instance.
    pub async fn status(&self) -> Vec<UiStatus> {
        let mut out = Vec::with_capacity(self.slots.len());
        for (owner, slot) in &self.slots {
            let mut slot = slot.lock().await;
            let spawned = slot.spawned;
            let alive = slot.running.as_mut().is_some_and(|r| !r.instance.has_exited());
            let running = slot.running.as_ref().filter(|_| alive);
            out.push(UiStatus {
                owner: owner.clone(),
                running: running.is_some(),
                pid: running.as_ref().and_then(|r| r.instance.pid()),
                client_key: running.as_ref().map(|r| r.instance.client_key().to_hex()),
                spawned,
            });
        }
        out
    }

    /// Stops every instance.
    pub async fn stop_all(&self) {
        for slot in self.slots.values() {
            if let Some(old) = slot.lock().await.running.take() {
                old.instance.stop().await;
            }
        }
        #[cfg(feature = "weaken")]
        self.stop_unconfigured().await;
    }
}

/// Verification builds only: without `configured-owner`, slots made on demand for owners that
/// are not configured.
#[cfg(feature = "weaken")]
mod weakened {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use protocol_core::Owner;
    use tokio::sync::Mutex;

    use super::{Slot, UiRegistry};

    impl UiRegistry {
        /// Also spawns for owners that are not configured.
        #[must_use]
        pub fn open_to_any_owner(mut self) -> Self {
            self.unconfigured = Some(std::sync::Mutex::new(BTreeMap::new()));
            self
        }

        /// The slot of an owner that is not configured, when the registry is open to any.
        pub(super) fn unconfigured_slot(&self, owner: &Owner) -> Option<Arc<Mutex<Slot>>> {
            match (self.slots.contains_key(owner), &self.unconfigured) {
                (false, Some(u)) => u
                    .lock()
                    .ok()
                    .map(|mut m| Arc::clone(m.entry(owner.clone()).or_default())),
                _ => None,
            }
        }

        /// Stops the instances of owners that are not configured.
        pub(super) async fn stop_unconfigured(&self) {
            let Some(u) = &self.unconfigured else { return };
            let extras: Vec<Arc<Mutex<Slot>>> = u.lock().map(|m| m.values().cloned().collect()).unwrap_or_default();
            for slot in extras {
                if let Some(old) = slot.lock().await.running.take() {
                    old.instance.stop().await;
                }
            }
        }
    }
}
