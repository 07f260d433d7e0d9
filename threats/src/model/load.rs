//! Reading a model directory: file discovery, input limits, the strict TOML schema, and
//! errors that point at the file, line and field.
//!
//! The raw types here mirror the file format (`threats/model/README.md`) and refuse unknown
//! fields; they are converted into the public types of [`super::types`], which carry each
//! item's [`Location`].

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;

use super::raw::RawFile;
use super::{Location, ThreatModel};

/// Largest model file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most model files in a directory.
pub const MAX_FILES: usize = 64;
/// Most items (entities, threats, flows, …) in a whole model.
pub const MAX_ITEMS: usize = 10_000;
/// Most directory entries looked at, so that a huge directory cannot stall the loader.
const MAX_DIR_ENTRIES: usize = 1024;

/// A line and column, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

/// Prints `:LINE:COLUMN`, or nothing when the position is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaybePos(pub Option<Pos>);

impl fmt::Display for MaybePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, ":{}:{}", p.line, p.column),
            None => Ok(()),
        }
    }
}

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The directory could not be listed.
    #[error("{dir}: cannot read the model directory")]
    ReadDir {
        /// The directory.
        dir: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("{file}: cannot read")]
    ReadFile {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("{file}: larger than the limit of {limit} bytes")]
    FileTooLarge {
        /// The file.
        file: String,
        /// The limit.
        limit: u64,
    },
    /// The directory holds more than [`MAX_FILES`] model files (or too many entries).
    #[error("{dir}: more than {limit} entries or model files")]
    TooManyFiles {
        /// The directory.
        dir: String,
        /// The limit.
        limit: usize,
    },
    /// A file that is neither a model file (`*.toml`) nor documentation (`*.md`).
    #[error("{file}: not a model file (model files end in .toml; *.md and hidden files are ignored)")]
    StrayFile {
        /// The file.
        file: String,
    },
    /// The directory holds no model file.
    #[error("{dir}: no model files (*.toml)")]
    NoModelFiles {
        /// The directory.
        dir: String,
    },
    /// A file is not UTF-8.
    #[error("{file}: not UTF-8")]
    NotUtf8 {
        /// The file.
        file: String,
    },
    /// A file does not follow the schema (or is not TOML).
    #[error("{file}{pos}: {field}: {message}")]
    Schema {
        /// The file.
        file: String,
        /// Where in it.
        pos: MaybePos,
        /// The field, as a path (`threat[2].likelihood`), or `(document)`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// `[system]` is declared in two files.
    #[error("{file}{pos}: system: declared again (first at {first})")]
    DuplicateSystem {
        /// The second file.
        file: String,
        /// Where in it.
        pos: MaybePos,
        /// The first declaration.
        first: Location,
    },
    /// The model has more than [`MAX_ITEMS`] items.
    #[error("{file}: the model has more than {limit} items")]
    TooManyItems {
        /// The file that went over.
        file: String,
        /// The limit.
        limit: usize,
    },
}

impl ModelError {
    /// Whether the error is about the model's content (a finding) rather than about reading it.
    #[must_use]
    pub const fn is_content_error(&self) -> bool {
        !matches!(self, Self::ReadDir { .. } | Self::ReadFile { .. })
    }

    /// The line the error points at, if any.
    #[must_use]
    pub fn line(&self) -> Option<u32> {
        match self {
            Self::Schema { pos, .. } | Self::DuplicateSystem { pos, .. } => pos.0.map(|p| p.line),
            _ => None,
        }
    }
}

impl ThreatModel {
    /// Reads every `*.toml` file of `dir` (sorted by name; `*.md` and hidden files ignored) into
    /// one model. `source_dir` is set to `dir` as given, with `/` separators.
    ///
    /// # Errors
    ///
    /// [`ModelError`] for an unreadable directory or file, a file over the limits, a stray
    /// file, or a schema error (with file, line and field).
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let dir_name = display(dir);
        let mut files = Vec::new();
        for name in model_files(dir, &dir_name)? {
            let path = dir.join(&name);
            let text = read_limited(&path, &display(&path))?;
            files.push((name, text));
        }
        Self::from_sources(&dir_name, files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// Builds a model from `(file name, TOML text)` pairs, in the order given, as if they were
    /// the files of `source_dir`. Applies the same limits and schema as [`ThreatModel::load`].
    ///
    /// # Errors
    ///
    /// [`ModelError`] for a file or model over the limits or a schema error.
    pub fn from_sources<'a>(
        source_dir: &str,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ModelError> {
        let mut model = Self::empty(source_dir.replace('\\', "/").trim_end_matches('/'));
        let mut items = 0usize;
        for (n, (name, text)) in files.into_iter().enumerate() {
            let shown = model.repo_path(name);
            if n >= MAX_FILES {
                return Err(ModelError::TooManyFiles {
                    dir: model.source_dir.clone(),
                    limit: MAX_FILES,
                });
            }
            if text.len() as u64 > MAX_FILE_BYTES {
                return Err(ModelError::FileTooLarge {
                    file: shown,
                    limit: MAX_FILE_BYTES,
                });
            }
            let raw = parse(text, &shown)?;
            items = items.saturating_add(raw.count());
            if items > MAX_ITEMS {
                return Err(ModelError::TooManyItems {
                    file: shown,
                    limit: MAX_ITEMS,
                });
            }
            raw.merge_into(&mut model, name, text, &shown)?;
            model.files.push(name.to_owned());
        }
        Ok(model)
    }
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The model file names of `dir`, sorted.
fn model_files(dir: &Path, dir_name: &str) -> Result<Vec<String>, ModelError> {
    let read_dir = |source| ModelError::ReadDir {
        dir: dir_name.to_owned(),
        source,
    };
    let mut names = Vec::new();
    for (n, entry) in fs::read_dir(dir).map_err(read_dir)?.enumerate() {
        if n >= MAX_DIR_ENTRIES {
            return Err(ModelError::TooManyFiles {
                dir: dir_name.to_owned(),
                limit: MAX_DIR_ENTRIES,
            });
        }
        let entry = entry.map_err(read_dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type().map_err(read_dir)?;
        if name.starts_with('.') || (file_type.is_file() && name.ends_with(".md")) {
            continue;
        }
        if !file_type.is_file() || !name.ends_with(".toml") {
            return Err(ModelError::StrayFile {
                file: display(&entry.path()),
            });
        }
        names.push(name);
        if names.len() > MAX_FILES {
            return Err(ModelError::TooManyFiles {
                dir: dir_name.to_owned(),
                limit: MAX_FILES,
            });
        }
    }
    if names.is_empty() {
        return Err(ModelError::NoModelFiles {
            dir: dir_name.to_owned(),
        });
    }
    names.sort();
    Ok(names)
}

/// Reads at most [`MAX_FILE_BYTES`] (one more, to tell that the file is larger).
fn read_limited(path: &Path, shown: &str) -> Result<String, ModelError> {
    let read = |source| ModelError::ReadFile {
        file: shown.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(read)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ModelError::FileTooLarge {
            file: shown.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| ModelError::NotUtf8 { file: shown.to_owned() })
}

/// The 1-based line and column of byte `offset` in `text`.
pub(crate) fn position(text: &str, offset: usize) -> Pos {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

fn parse(text: &str, shown: &str) -> Result<RawFile, ModelError> {
    let schema = |span: Option<std::ops::Range<usize>>, field: String, message: &str| ModelError::Schema {
        file: shown.to_owned(),
        pos: MaybePos(span.map(|s| position(text, s.start))),
        field,
        message: message.to_owned(),
    };
    let de = toml::Deserializer::parse(text).map_err(|e| schema(e.span(), "(document)".to_owned(), e.message()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_path(&e.path().to_string(), e.inner().message());
        schema(e.inner().span(), field, e.inner().message())
    })
}

/// A readable field path: without serde_spanned's internal segment, and with the missing
/// field's name appended for "missing field" errors.
fn field_path(path: &str, message: &str) -> String {
    let mut path = path
        .replace(".$__serde_spanned_private_value", "")
        .replace("$__serde_spanned_private_value", "");
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.strip_suffix('`')
    {
        if path.is_empty() || path == "." {
            path = name.to_owned();
        } else {
            path = format!("{path}.{name}");
        }
    }
    if path.is_empty() || path == "." {
        "(document)".to_owned()
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(position(text, 0), Pos { line: 1, column: 1 });
        assert_eq!(position(text, 6), Pos { line: 2, column: 1 });
        assert_eq!(position(text, 9), Pos { line: 2, column: 3 });
        assert_eq!(position(text, 1000), Pos { line: 3, column: 1 });
    }

    #[test]
    fn field_paths_drop_the_span_wrapper_and_name_missing_fields() {
        assert_eq!(
            field_path("threat[1].$__serde_spanned_private_value.likelihood", "unknown variant"),
            "threat[1].likelihood"
        );
        assert_eq!(
            field_path("threat[1].$__serde_spanned_private_value", "missing field `impact`"),
            "threat[1].impact"
        );
        assert_eq!(field_path(".", "missing field `x`"), "x");
        assert_eq!(field_path("", "bad"), "(document)");
    }
}
