//! Integration tests of protocol-gateway (one test binary; one module per area). Everything
//! runs in this process on loopback with a manual clock: real sockets, real Noise channels,
//! real fsynced audit logs, no sleeping for timeouts.

mod common;

mod audit;
mod defender;
mod http_security;
mod limits;
mod load;
mod path;
mod scan;
mod uiserver;
#[cfg(feature = "weaken")]
mod weaken;
