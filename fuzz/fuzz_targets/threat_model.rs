//! The threat-model loader (`threats::model::ThreatModel::from_sources`, the parsing core of
//! `ThreatModel::load`, which `threatcheck` runs on `threats/model/`), then the model lint.
//!
//! Input: model files separated by NUL bytes (named `f00.toml`, `f01.toml`, … in that order),
//! seeded with the repository's own model, whole and file by file.
//!
//! Checked: loading never panics whatever the files hold (schema errors name a file and field
//! and render); a loaded model is within the documented limits and lints without panicking;
//! it survives the JSON encoding `results.json` carries it in unchanged.
//!
//! Built only with `--features threat-model` (see fuzz/Cargo.toml).
#![no_main]

use libfuzzer_sys::fuzz_target;
use threats::Date;
use threats::lint::{KnownEvidence, lint};
use threats::model::{MAX_FILES, MAX_ITEMS, ThreatModel};

fuzz_target!(|data: &[u8]| {
    let texts: Vec<String> = data
        .split(|&b| b == 0)
        .take(MAX_FILES + 2)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    let names: Vec<String> = (0..texts.len()).map(|i| format!("f{i:02}.toml")).collect();
    let files = names.iter().map(String::as_str).zip(texts.iter().map(String::as_str));
    match ThreatModel::from_sources("threats/model", files) {
        Ok(model) => {
            assert!(model.files.len() <= MAX_FILES);
            let items = model.entities.len() + model.threats.len() + model.flows.len() + model.boundaries.len();
            assert!(items <= MAX_ITEMS);
            let today: Date = "2026-11-23".parse().expect("a date");
            for finding in lint(&model, &KnownEvidence::default(), today) {
                let _ = format!("{finding:?}");
            }
            let json = serde_json::to_string(&model).expect("a model serialises");
            let back: ThreatModel = serde_json::from_str(&json).expect("a serialised model reads back");
            assert_eq!(back, model, "the model changed through results.json's encoding");
        }
        Err(e) => {
            let _ = (e.to_string(), e.line(), e.is_content_error());
        }
    }
});
