//! `threatcheck lint [MODEL_DIR]`: the readiness check of a threat model (the threat-analysis review process).
//!
//! Prints every finding as `FILE:LINE: SEVERITY[RULE]: MESSAGE` and exits 1 if any is an error
//! (a model file that does not follow the schema counts as one), 0 otherwise; 2 when the model
//! directory cannot be read.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use threats::lint::{Severity, has_errors, lint};
use threats::model::EvidenceKind;
use threats::{Date, EvidenceRef, KnownEvidence, ThreatModel};

use super::Outcome;

/// The model directory used when none is given, relative to the current directory.
const DEFAULT_MODEL_DIR: &str = "threats/model";

/// Arguments of `threatcheck lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The model directory (default: threats/model, else the one shipped with this crate).
    #[arg(value_name = "MODEL_DIR")]
    model: Option<PathBuf>,
    /// Judge risk acceptances as of this date, YYYY-MM-DD (default: today, UTC).
    #[arg(long, value_name = "DATE")]
    today: Option<Date>,
}

/// Runs the command.
pub fn run(args: LintArgs) -> anyhow::Result<Outcome> {
    let dir = resolve_model_dir(args.model);
    let today = match args.today {
        Some(d) => d,
        None => today_utc()?,
    };
    let model = match load_model(&dir) {
        Ok(m) => m,
        Err(e) if e.is_content_error() => {
            println!("{e}");
            println!("lint: the model does not load; fix the error above first");
            return Ok(Outcome::Finding);
        }
        Err(e) => return Err(e).context("cannot lint the threat model"),
    };
    let findings = lint(&model, &known_evidence(), today);
    for f in &findings {
        let at = f.location.as_ref().map_or_else(
            || model.source_dir.clone(),
            |l| format!("{}:{}", model.repo_path(&l.file), l.line),
        );
        println!("{at}: {}[{}]: {}", f.severity, f.rule, f.message);
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    println!(
        "lint: {} error(s), {} warning(s) in {} ({} entities, {} threats, {} stories; acceptances judged as of {today})",
        count(Severity::Error),
        count(Severity::Warning),
        model.source_dir,
        model.entities.len(),
        model.threats.len(),
        model.stories.len(),
    );
    Ok(if has_errors(&findings) {
        Outcome::Finding
    } else {
        Outcome::Green
    })
}

/// The model directory: `arg`, else `threats/model` if it exists here, else the model shipped
/// beside this crate's manifest.
pub fn resolve_model_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(|| {
        let here = PathBuf::from(DEFAULT_MODEL_DIR);
        if here.is_dir() {
            here
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("model")
        }
    })
}

/// Loads the model and makes its `source_dir` relative to the repository root when it can, so
/// that SARIF locations are repository paths.
pub fn load_model(dir: &Path) -> Result<ThreatModel, threats::model::ModelError> {
    let mut model = ThreatModel::load(dir)?;
    model.source_dir = repo_relative(dir);
    Ok(model)
}

fn repo_relative(dir: &Path) -> String {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf);
    let absolute = if dir.is_absolute() {
        Some(dir.to_path_buf())
    } else {
        std::env::current_dir().ok().map(|c| c.join(dir))
    };
    let relative = match (absolute, repo_root) {
        (Some(abs), Some(root)) => {
            let abs = abs.canonicalize().unwrap_or(abs);
            let root = root.canonicalize().unwrap_or(root);
            abs.strip_prefix(&root).ok().map(Path::to_path_buf)
        }
        _ => None,
    };
    let shown = relative.unwrap_or_else(|| dir.to_path_buf());
    let s = shown.to_string_lossy().replace('\\', "/");
    let s = s.strip_prefix("./").unwrap_or(&s).trim_end_matches('/').to_owned();
    if s.is_empty() { ".".to_owned() } else { s }
}

/// Today's date in UTC, from the system clock.
pub fn today_utc() -> anyhow::Result<Date> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let days = i64::try_from(secs / 86_400).context("the system clock is out of range")?;
    Date::from_unix_days(days).context("the system clock is out of range")
}

/// The evidence names that exist, from the crates that produce them: the model's properties
/// and variants (both models), and the attack harnesses.
pub fn known_evidence() -> KnownEvidence {
    let properties: Vec<&str> = model::Property::ALL.iter().map(|p| p.name()).collect();
    let catalogue = model::catalogue();
    let variants: Vec<&str> = catalogue.variants.iter().map(|v| v.name).collect();
    let all = attacks::run::all();
    let harnesses: Vec<&str> = all.iter().map(|h| h.info.id).collect();
    let mut known = KnownEvidence::new(&properties, &variants, &harnesses);
    for defence in protocol::Defence::ALL {
        let name = defence.name();
        let variant = variants
            .contains(&name)
            .then(|| EvidenceRef::new(EvidenceKind::Variant, name));
        let tested_by = all
            .iter()
            .filter(|h| h.info.tests(defence))
            .map(|h| EvidenceRef::new(EvidenceKind::Harness, h.info.id));
        known = known.with_defence(name, variant.into_iter().chain(tested_by));
    }
    for v in &catalogue.variants {
        known = known.with_break(v.name, v.breaks);
    }
    known
}
