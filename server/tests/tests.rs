//! The integration tests of the deployed servers: one binary, one module per area.

mod build;
mod cli;
mod gateway;

/// The server binary under test.
pub const EXE: &str = env!("CARGO_BIN_EXE_threatcheck-server");

/// The variable that lets a verification build of the binary run (see `src/guard.rs`).
pub const ALLOW: &str = "THREATCHECK_ALLOW_VERIFICATION_BUILD";

/// Whether this test run (and so the binary, built in the same cargo invocation) was compiled
/// against the verification build of the protocol crates.
#[must_use]
pub fn verification_build() -> bool {
    protocol_core::WEAKEN_COMPILED
        || protocol_net::WEAKEN_COMPILED
        || protocol_people::WEAKEN_COMPILED
        || protocol_gateway::WEAKEN_COMPILED
}
