//! The report fixture: a small hostile model (tests/fixtures/model) with evidence of every
//! kind of outcome (tests/fixtures/evidence.json), joined as of a fixed date.

use std::path::{Path, PathBuf};

use threats::results::INFORMATION_URI;
use threats::{Date, Evidence, KnownEvidence, Results, ThreatModel, Tool};

/// `threats/tests/fixtures`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The fixture model, with its repository-relative source directory.
pub fn model() -> ThreatModel {
    let mut m = ThreatModel::load(&dir().join("model")).expect("the fixture model loads");
    m.source_dir = "threats/tests/fixtures/model".into();
    m
}

/// The fixture evidence.
pub fn evidence() -> Evidence {
    let bytes = std::fs::read(dir().join("evidence.json")).expect("evidence.json");
    serde_json::from_slice(&bytes).expect("evidence.json parses")
}

/// What exists: the fixture evidence, and one property that is known but absent from it.
pub fn known() -> KnownEvidence {
    let mut k = KnownEvidence::from_evidence(&evidence());
    k.properties.insert("missing-prop".into());
    k
}

/// The date the fixture is judged on.
pub fn as_of() -> Date {
    "2026-11-23".parse().expect("a date")
}

/// The fixture results: lint and join of the above.
pub fn results() -> Results {
    let model = model();
    let lint = threats::lint::lint(&model, &known(), as_of());
    let tool = Tool {
        name: "threatcheck".into(),
        version: "0.0.0-fixture".into(),
        information_uri: INFORMATION_URI.into(),
    };
    Results::new(tool, as_of(), model, evidence(), lint)
}
