//! Policy directories in Cylc's JSON format (`site.json` for `site_authorization`,
//! `users/OWNER.json` for `user_authorization`), mixed with TOML layers where a path says so:
//! see `common/policy.rs` for the input format and the checks.
#![no_main]

#[path = "common/policy.rs"]
mod policy;

libfuzzer_sys::fuzz_target!(|data: &[u8]| policy::run(data, "json"));
