//! Byte searches over captures and files: what a passive observer or a reader of the disk
//! would find.

use std::path::{Path, PathBuf};

/// Whether `needle` occurs in `haystack` (an empty needle never does).
#[must_use]
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The names of the `needles` found in `haystack`, in order.
#[must_use]
pub fn found<'a>(haystack: &[u8], needles: &'a [(String, Vec<u8>)]) -> Vec<&'a str> {
    needles
        .iter()
        .filter(|(_, bytes)| contains(haystack, bytes))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// A secret's forms worth searching for: raw, lowercase hex and uppercase hex.
#[must_use]
pub fn secret_forms(name: &str, secret: &[u8]) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{name} (raw)"), secret.to_vec()),
        (format!("{name} (hex)"), hex::encode(secret).into_bytes()),
        (format!("{name} (HEX)"), hex::encode_upper(secret).into_bytes()),
    ]
}

/// Every file under `dir`, recursively (at most 10,000: a run directory is small).
#[must_use]
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if out.len() < 10_000 {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
