//! Counting and printing the figures: the shared tallies of a phase's outcomes, the
//! legitimate user's percentiles against the quiet phase (the ratios and the PASS/MISS of
//! p95 <= 3x quiet), the per-phase lines, the breakdown of what became of a phase's held
//! connections, and the summary table printed at the end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::legit::Legit;

pub const TARGET_P95_RATIO: f64 = 3.0;
pub const TARGET_PEAK_MIB: f64 = 256.0;

/// Counts by name (statuses, error kinds), shared by the tasks of a phase.
#[derive(Debug, Clone, Default)]
pub struct Tally(Arc<Mutex<BTreeMap<String, u64>>>);

impl Tally {
    pub fn add(&self, key: impl Into<String>) {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key.into())
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Attempts that got an HTTP answer (tallied as `status-NNN`), as opposed to errors.
    pub fn answered(&self) -> u64 {
        self.snapshot()
            .iter()
            .filter(|(k, _)| k.starts_with("status-"))
            .map(|(_, v)| v)
            .sum()
    }
}

pub fn show_counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn fmt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "n/a".into(), |d| format!("{:.2} ms", ms(d)))
}

#[allow(clippy::cast_precision_loss)]
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A count read from `/proc`, or `?`.
pub fn fmt_count(n: Option<usize>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

pub fn legit_line(l: &Legit) -> String {
    format!(
        "{} attempts, {} completed (200), p50 {}, p95 {}, max {}; problems: {}",
        l.latencies.len(),
        l.completed,
        fmt_ms(l.percentile(0.50)),
        fmt_ms(l.percentile(0.95)),
        fmt_ms(l.max()),
        show_counts(&l.problems)
    )
}

/// The login flood's answers by what they mean (the outcomes are tallied by status already).
pub fn login_answers_line(answers: &BTreeMap<String, u64>) -> String {
    let n = |k: &str| answers.get(k).copied().unwrap_or(0);
    let other: u64 = answers
        .iter()
        .filter(|(k, _)| k.starts_with("status-") && !matches!(k.as_str(), "status-401" | "status-429" | "status-503"))
        .map(|(_, v)| v)
        .sum();
    format!(
        "401 wrong password (checked) {}, 429 rate-limited or backing off {}, 503 password pool busy {}, other \
         statuses {other}",
        n("status-401"),
        n("status-429"),
        n("status-503")
    )
}

/// What became of a phase's held connections by its end, from the clients' side: how many
/// connected, stayed open, were closed by the hub, and whose connect failed.
pub fn held_lines(
    count: u64,
    connected: u64,
    still_open: u64,
    ended: &BTreeMap<String, u64>,
    secs: f64,
) -> [String; 2] {
    let (connect, closed): (BTreeMap<String, u64>, BTreeMap<String, u64>) = ended
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .partition(|(k, _)| k.starts_with("connect-"));
    let refused_or_reset: u64 = connect
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "connect-refused" | "connect-reset"))
        .map(|(_, v)| v)
        .sum();
    let closed_n: u64 = closed.values().sum();
    [
        format!(
            "of the {count}: {connected} connected, {still_open} stayed open to the phase's end ({secs:.1} s after \
             the first connect), {closed_n} were closed by the hub or ended early ({})",
            show_counts(&closed)
        ),
        format!(
            "connect attempts refused or reset: {refused_or_reset}; all failed connects: {}",
            show_counts(&connect)
        ),
    ]
}

#[derive(Debug)]
pub struct Verdict {
    pub p50_ratio: Option<f64>,
    pub p95_ratio: Option<f64>,
    pub pass: bool,
}

fn verdict(quiet: &Legit, flood: &Legit) -> Verdict {
    let ratio = |p| match (flood.percentile(p), quiet.percentile(p)) {
        (Some(f), Some(q)) if q > Duration::ZERO => Some(f.as_secs_f64() / q.as_secs_f64()),
        _ => None,
    };
    let p95_ratio = ratio(0.95);
    Verdict {
        p50_ratio: ratio(0.50),
        p95_ratio,
        pass: flood.completed > 0 && p95_ratio.is_some_and(|r| r <= TARGET_P95_RATIO),
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".into(), |r| format!("{r:.1}x"))
}

pub fn print_verdict(quiet: &Legit, l: &Legit) -> Verdict {
    let v = verdict(quiet, l);
    let limit = quiet.percentile(0.95).map(|q| q.mul_f64(TARGET_P95_RATIO));
    println!("    legitimate user: {}", legit_line(l));
    println!(
        "    vs quiet: p50 {}, p95 {}; target p95 <= {TARGET_P95_RATIO}x quiet (<= {}): {}",
        fmt_ratio(v.p50_ratio),
        fmt_ratio(v.p95_ratio),
        fmt_ms(limit),
        if v.pass { "PASS" } else { "MISS" }
    );
    v
}

/// A phase's line of the summary table.
#[derive(Debug)]
pub struct Row {
    pub name: &'static str,
    pub legit: Legit,
    pub verdict: Option<Verdict>,
}

pub fn print_summary(rows: &[Row]) {
    println!("\nsummary (legitimate user, GET /me; target p95 <= {TARGET_P95_RATIO}x quiet)");
    println!(
        "  {:<26} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9}  {:<6} problems",
        "phase", "attempts", "completed", "p50 ms", "p95 ms", "max ms", "p50 x", "p95 x", "target"
    );
    for r in rows {
        let f = |d: Option<Duration>| d.map_or_else(|| "n/a".into(), |d| format!("{:.2}", ms(d)));
        let (p50x, p95x, target) = r.verdict.as_ref().map_or_else(
            || ("1.0x".to_string(), "1.0x".to_string(), "-"),
            |v| {
                (
                    fmt_ratio(v.p50_ratio),
                    fmt_ratio(v.p95_ratio),
                    if v.pass { "PASS" } else { "MISS" },
                )
            },
        );
        println!(
            "  {:<26} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9}  {:<6} {}",
            r.name,
            r.legit.latencies.len(),
            r.legit.completed,
            f(r.legit.percentile(0.50)),
            f(r.legit.percentile(0.95)),
            f(r.legit.max()),
            p50x,
            p95x,
            target,
            show_counts(&r.legit.problems)
        );
    }
}
