//! The report writers: pure functions from [`Results`] to bytes, and [`write_reports`], which
//! writes all six files of a run.
//!
//! | file | writer |
//! |---|---|
//! | `stride.md` | [`stride_markdown`]: STRIDE table per entity, priorities, story index, the attack each defence stops |
//! | `stride.html` | [`stride_html`]: the same, self-contained (inline CSS, no scripts, no external resources) |
//! | `architecture.md` | [`architecture_markdown`]: the threat-analysis review process's architecture page, with findings |
//! | `results.json` | [`results_json`]: the run, versioned (`threatcheck-results/1`) |
//! | `results.sarif` | [`sarif`]: SARIF 2.1.0 for code scanning |
//! | `junit.xml` | [`junit`]: one test case per threat × evidence item |
//!
//! Output is byte-identical for the same results. Timings are the only run-dependent fields;
//! [`RenderOptions::timings`] false leaves them out of the Markdown and HTML and zeroes them in
//! JSON and JUnit (SARIF carries none).

mod architecture;
pub mod escape;
mod html;
mod junit;
mod markdown;
pub mod mermaid;
mod sarif;
pub mod svg;
mod view;

use std::fs;
use std::path::{Path, PathBuf};

pub use architecture::architecture_markdown;
pub use html::stride_html;
pub use junit::junit;
pub use markdown::stride_markdown;
pub use sarif::sarif;
pub use view::security_severity;

use crate::results::Results;

/// How to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Include timings (false: omit them from Markdown/HTML, zero them in JSON and JUnit).
    pub timings: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { timings: true }
    }
}

impl RenderOptions {
    /// Without timings: output depends only on the deterministic parts of the results.
    #[must_use]
    pub const fn stable() -> Self {
        Self { timings: false }
    }
}

/// The report file names, in the order they are written.
pub const REPORT_FILES: [&str; 6] = [
    "stride.md",
    "stride.html",
    "architecture.md",
    "results.json",
    "results.sarif",
    "junit.xml",
];

/// Why reports could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or the directory could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// JSON serialisation failed.
    #[error("cannot serialise the results")]
    Json(#[from] serde_json::Error),
}

/// `results.json`'s bytes (timings zeroed unless `opts.timings`).
///
/// # Errors
///
/// Only if serialisation fails.
pub fn results_json(r: &Results, opts: RenderOptions) -> Result<Vec<u8>, serde_json::Error> {
    if opts.timings {
        r.to_json()
    } else {
        r.without_timings().to_json()
    }
}

/// Every report, as `(file name, bytes)` in [`REPORT_FILES`] order.
///
/// # Errors
///
/// Only if JSON serialisation fails.
pub fn render_all(r: &Results, opts: RenderOptions) -> Result<Vec<(&'static str, Vec<u8>)>, ReportError> {
    Ok(vec![
        ("stride.md", stride_markdown(r, opts).into_bytes()),
        ("stride.html", stride_html(r, opts).into_bytes()),
        ("architecture.md", architecture_markdown(r).into_bytes()),
        ("results.json", results_json(r, opts)?),
        ("results.sarif", sarif(r)?),
        ("junit.xml", junit(r, opts).into_bytes()),
    ])
}

/// Writes the six reports into `dir` (created if needed), with timings.
///
/// # Errors
///
/// See [`write_reports_with`].
pub fn write_reports(r: &Results, dir: &Path) -> Result<(), ReportError> {
    write_reports_with(r, dir, RenderOptions::default())
}

/// Writes the six reports into `dir` (created if needed). Every file is written to a temporary
/// name first and renamed into place only when all six are written, so a failure never leaves
/// a partial set presented as complete.
///
/// # Errors
///
/// [`ReportError::Io`] naming the path that could not be written.
pub fn write_reports_with(r: &Results, dir: &Path, opts: RenderOptions) -> Result<(), ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    let files = render_all(r, opts)?;
    fs::create_dir_all(dir).map_err(io(dir))?;
    let mut temps = Vec::new();
    let mut result = Ok(());
    for (name, bytes) in &files {
        let tmp = dir.join(format!(".{name}.tmp"));
        if let Err(e) = fs::write(&tmp, bytes).map_err(io(&tmp)) {
            result = Err(e);
            break;
        }
        temps.push((tmp, dir.join(name)));
    }
    if result.is_ok() {
        for (tmp, path) in &temps {
            fs::rename(tmp, path).map_err(io(path))?;
        }
        return Ok(());
    }
    for (tmp, _) in &temps {
        let _ = fs::remove_file(tmp);
    }
    result
}
