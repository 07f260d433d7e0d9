//! Verification builds only: the scheduler driver with one of its own defences removed, for
//! the attack controls of `noise-transport` and `connection-isolation`. Nothing here exists
//! in a production build; the production code calls it through one `cfg`-gated line each.

use super::ServerConfig;
use super::conn::Shared;
use super::core_task::CoreInput;
use protocol_core::noise::Transport;

/// Defences of the server driver (not of the core) that an attack control can remove. Exists
/// only with the `weaken` feature, which the server commands never build with a flaw set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverFlaws {
    /// After the handshake, transport frames carry messages in the clear, without encryption
    /// or integrity (the peer must do the same: `Transport::into_plaintext`).
    pub plaintext_transport: bool,
    /// A connection that ends on a bad frame (one that does not decrypt or decode) takes every
    /// established connection down with it, as a driver that handled peers' errors in shared
    /// state would: the isolation of SPEC.md §11 ("no error affects any other connection") is
    /// gone.
    pub shared_fate: bool,
    /// One key may hold any number of authenticated connections (`key-connection-cap` gone).
    pub uncapped_keys: bool,
    /// A job may send without limit (`job-quota` gone).
    pub unlimited_quota: bool,
    /// A full handshake table refuses newcomers instead of giving them the slot held longest
    /// (`handshake-eviction` gone): a plain in-flight semaphore.
    pub refuse_when_full: bool,
}

/// Without `noise-transport`: the channel switched to plaintext.
pub(super) fn transport(shared: &Shared, transport: Transport) -> Transport {
    if shared.flaws.plaintext_transport {
        transport.into_plaintext()
    } else {
        transport
    }
}

/// Without `connection-isolation`: a bad frame takes every established connection down.
/// Returns whether it did (isolation did not hold).
pub(super) async fn shared_fate(shared: &Shared) -> bool {
    if shared.flaws.shared_fate {
        let _ = shared.core.send(CoreInput::DropConnections).await;
    }
    shared.flaws.shared_fate
}

/// Without `key-connection-cap`: no cap on one key's connections.
pub(super) fn per_key_cap(config: &ServerConfig) -> Option<usize> {
    config.driver_flaws.uncapped_keys.then_some(usize::MAX)
}
