//! The threat model as data and the evidence it is joined with.
//!
//! This library knows the reference system only through its own evidence types; the
//! `threatcheck` binary (src/main.rs and src/cmd/) is where the protocol crates are used.
