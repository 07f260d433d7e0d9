//! UI servers started inside the test's process.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use protocol_core::{Owner, PublicKey};
use protocol_gateway::assertion::HubKey;
use protocol_gateway::spawner::{LaunchFuture, SpawnError, UiInstance, UiLauncher};
use protocol_gateway::{UiServer, UiServerParts};

/// Builds the parts of `owner`'s UI server around the hub key it is given.
pub type PartsFactory = dyn Fn(Owner, HubKey) -> Result<UiServerParts, String> + Send + Sync;

/// Starts UI servers inside this process (tests and harnesses: they share the test's clock).
#[derive(Clone)]
pub struct InProcessLauncher {
    factory: Arc<PartsFactory>,
}

impl fmt::Debug for InProcessLauncher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessLauncher").finish_non_exhaustive()
    }
}

impl InProcessLauncher {
    /// A launcher building each instance with `factory`.
    pub fn new(factory: impl Fn(Owner, HubKey) -> Result<UiServerParts, String> + Send + Sync + 'static) -> Self {
        Self {
            factory: Arc::new(factory),
        }
    }
}

struct InProcessUi(UiServer);

impl fmt::Debug for InProcessUi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InProcessUi").field(&self.0.address()).finish()
    }
}

impl UiInstance for InProcessUi {
    fn address(&self) -> SocketAddr {
        self.0.address()
    }

    fn client_key(&self) -> PublicKey {
        self.0.client_key()
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn has_exited(&mut self) -> bool {
        self.0.has_stopped()
    }

    fn stop(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(self.0.shutdown())
    }
}

impl UiLauncher for InProcessLauncher {
    fn launch(&self, owner: Owner, hub_key: HubKey) -> LaunchFuture {
        let parts = (self.factory)(owner, hub_key);
        Box::pin(async move {
            let parts = parts.map_err(SpawnError::Start)?;
            let server = UiServer::start(parts)
                .await
                .map_err(|e| SpawnError::Start(e.to_string()))?;
            Ok(Box::new(InProcessUi(server)) as Box<dyn UiInstance>)
        })
    }
}
