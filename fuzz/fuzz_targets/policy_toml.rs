//! Policy directories in the TOML format (`site.toml`, `users/OWNER.toml`,
//! `workflows/OWNER/NAME.toml`): see `common/policy.rs` for the input format and the checks.
#![no_main]

#[path = "common/policy.rs"]
mod policy;

libfuzzer_sys::fuzz_target!(|data: &[u8]| policy::run(data, "toml"));
