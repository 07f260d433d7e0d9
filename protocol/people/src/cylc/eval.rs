//! cylc-uiserver's `Authorization`, step by step: `build_owner_site_auth_conf` (the owner's
//! merged view of the site configuration), then for an access user the limits the owner may
//! give, the owner's grants or else the site defaults, `expand_and_process_access_groups`, and
//! the intersection. Each step keeps Python's semantics over the values as written — `str`
//! versus `list` versus `dict`, `[]` raising, the truth of a value, `set.add` and `set.update`
//! on whatever type arrives, and the exceptions those raise — and records where its values
//! came from, for `explain`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{CylcSite, CylcUserConf, CylcVersion, Item};
use crate::ops::cylc_snake_case;
use crate::policy::json::{Json, Member, Value};

/// Where a merged site entry's values came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Position of the owner key in the file (0-based; lines need not be unique).
    pub owner_index: usize,
    /// Position of the access key under it.
    pub entry_index: usize,
    /// Line of the owner key.
    pub owner_line: usize,
    /// Line of the access key under it.
    pub entry_line: usize,
}

/// What happened while building the owner's view of `site_authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MergeEvent {
    /// An owner key applies to this owner (`*`, its name or one of its groups).
    Applies {
        /// The owner key.
        key: String,
        /// Its line.
        line: usize,
    },
    /// An access key already seen was merged: defaults and limits united.
    Merged {
        /// The access key.
        key: String,
        /// The line merged in.
        line: usize,
    },
    /// An owner key brought an access key not seen yet (or one whose entry is empty), so
    /// Cylc's `owner_dict.update()` took that owner key's whole entry set.
    Update {
        /// The owner key.
        owner_key: String,
        /// Its line.
        owner_line: usize,
        /// The access key that triggered it.
        trigger: String,
        /// Its line.
        trigger_line: usize,
    },
    /// That update replaced an entry merged so far: what those lines said is lost.
    Replaced {
        /// The access key.
        key: String,
        /// Lines whose contribution was dropped.
        lost: Vec<Origin>,
        /// The owner key whose entry replaced it.
        by_line: usize,
    },
}

/// A Python exception in Cylc's code, and the line of the value it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyError {
    /// What Python would say.
    pub message: String,
    /// 1-based line (0: a merged value).
    pub line: usize,
}

fn py_err(message: impl Into<String>, line: usize) -> PyError {
    PyError {
        message: message.into(),
        line,
    }
}

/// Python's name of a JSON value's type.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.as_bytes().iter().any(|b| matches!(b, b'.' | b'e' | b'E')) => "float",
        Value::Number(_) => "int",
        Value::Str(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Python's truth of a value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.parse::<f64>().is_ok_and(|f| f != 0.0),
        Value::Str(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// An element of a Python set of permissions: a string, or a hashable non-string (`None`,
/// a number, a boolean) that makes `expand_and_process_access_groups` raise later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Elem {
    Str(Item),
    Other { ty: &'static str, line: usize },
}

/// `""`, the fallback of Cylc's `.get()` calls.
static EMPTY_STR: Json = Json {
    value: Value::Str(String::new()),
    line: 0,
};

/// A value as `.get()` returns it: a value as written, or a list a merge built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PyVal<'a> {
    Json(&'a Json),
    List(&'a [Elem]),
}

impl PyVal<'_> {
    const fn empty_str() -> Self {
        Self::Json(&EMPTY_STR)
    }

    /// `value == []`.
    fn is_empty_list(&self) -> bool {
        match self {
            Self::Json(j) => matches!(&j.value, Value::Array(a) if a.is_empty()),
            Self::List(v) => v.is_empty(),
        }
    }

    fn line(&self) -> usize {
        match self {
            Self::Json(j) => j.line,
            Self::List(_) => 0,
        }
    }
}

/// One element of a list, for `set.update(list)`: lists and dicts are unhashable.
fn element(j: &Json) -> Result<Elem, PyError> {
    match &j.value {
        Value::Str(s) => Ok(Elem::Str(Item {
            value: s.clone(),
            line: j.line,
        })),
        Value::Array(_) | Value::Object(_) => Err(py_err(format!("unhashable type: '{}'", py_type(&j.value)), j.line)),
        other => Ok(Elem::Other {
            ty: py_type(other),
            line: j.line,
        }),
    }
}

/// The lookups' step: `set.add(p)` if `p` is a `str`, else `set.update(p)`.
fn add_or_update(set: &mut Vec<Elem>, p: PyVal<'_>) -> Result<(), PyError> {
    match p {
        PyVal::List(v) => set.extend(v.iter().cloned()),
        PyVal::Json(j) => match &j.value {
            Value::Str(s) => set.push(Elem::Str(Item {
                value: s.clone(),
                line: j.line,
            })),
            Value::Array(items) => {
                for i in items {
                    set.push(element(i)?);
                }
            }
            // Iterating a dict gives its keys.
            Value::Object(members) => set.extend(members.iter().map(|m| {
                Elem::Str(Item {
                    value: m.key.clone(),
                    line: m.line,
                })
            })),
            other => return Err(py_err(format!("'{}' object is not iterable", py_type(other)), j.line)),
        },
    }
    Ok(())
}

/// The merge's step: `set.update(conf)` if `conf` is a `list`, else `set.add(conf)`.
fn update_or_add(set: &mut Vec<Elem>, conf: PyVal<'_>) -> Result<(), PyError> {
    match conf {
        PyVal::List(v) => set.extend(v.iter().cloned()),
        PyVal::Json(j) => match &j.value {
            Value::Array(items) => {
                for i in items {
                    set.push(element(i)?);
                }
            }
            Value::Object(_) => return Err(py_err("unhashable type: 'dict'", j.line)),
            _ => set.push(element(j)?),
        },
    }
    Ok(())
}

/// Deduplicates as a Python set of these elements would (strings by value; the others are
/// fatal later whatever their number, so one of each type and line is kept).
fn dedup(v: Vec<Elem>) -> Vec<Elem> {
    let mut seen = BTreeSet::new();
    v.into_iter()
        .filter(|e| match e {
            Elem::Str(i) => seen.insert((i.value.clone(), 0)),
            Elem::Other { ty, line } => seen.insert(((*ty).to_owned(), *line + 1)),
        })
        .collect()
}

/// An entry of the owner's view: as written (after `update()`), or as a merge rebuilt it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Entry {
    value: EntryValue,
    from: Vec<Origin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum EntryValue {
    Raw(Json),
    Merged { default: Vec<Elem>, limit: Vec<Elem> },
}

impl Entry {
    fn truthy(&self) -> bool {
        match &self.value {
            EntryValue::Raw(j) => truthy(&j.value),
            EntryValue::Merged { .. } => true,
        }
    }

    /// `entry.get(key, fallback)`: only a dict has `.get`.
    fn get<'a>(&'a self, key: &str, fallback: PyVal<'a>) -> Result<PyVal<'a>, PyError> {
        match &self.value {
            EntryValue::Merged { default, limit } => Ok(PyVal::List(if key == "default" { default } else { limit })),
            EntryValue::Raw(j) => match &j.value {
                Value::Object(members) => Ok(members
                    .iter()
                    .find(|m| m.key == key)
                    .map_or(fallback, |m| PyVal::Json(&m.value))),
                other => Err(py_err(
                    format!("'{}' object has no attribute 'get'", py_type(other)),
                    j.line,
                )),
            },
        }
    }

    fn default_or_empty(&self) -> Result<PyVal<'_>, PyError> {
        self.get("default", PyVal::empty_str())
    }

    fn limit_or_default(&self) -> Result<PyVal<'_>, PyError> {
        let d = self.default_or_empty()?;
        self.get("limit", d)
    }
}

/// A request reached a value Cylc's code raises on (`[]`, or a value of the wrong type):
/// Cylc's middleware then denies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Raised {
    /// `site` or `user`: which setting the value is in.
    pub config: &'static str,
    /// The file.
    pub file: String,
    /// The line of the value (0 when it came from a merge).
    pub line: usize,
    /// The key whose value it is.
    pub key: String,
    /// What Python raises.
    pub message: String,
}

/// Cylc's UI server for this owner fails to start: its constructor raises.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{file}:{line}: Cylc's Authorization for {owner} raises {message:?}, so that UI server does not start")]
pub struct ConstructError {
    /// The owner.
    pub owner: String,
    /// The site file.
    pub file: String,
    /// The line of the value.
    pub line: usize,
    /// What Python raises.
    pub message: String,
}

/// Why Cylc decided as it did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CylcReason {
    /// The name is not an operation of this version after `to_snake_case` (HTTP 400).
    NotAnOperation {
        /// As given.
        given: String,
        /// After `to_snake_case`.
        snake: String,
    },
    /// The owner may do anything on their own UI server.
    Owner,
    /// In the permitted set.
    Permitted,
    /// Not in the permitted set.
    NotPermitted,
    /// The lookup raised.
    Raised(Raised),
}

/// Cylc's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CylcDecision {
    /// The operation, as Cylc names it.
    pub op: String,
    /// Whether it is allowed.
    pub allowed: bool,
    /// Why.
    pub reason: CylcReason,
}

/// One UI server's `Authorization`: an owner, their groups, the site configuration and their
/// `user_authorization`, with the owner's merged view of the site built once, as Cylc does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CylcAuthorization {
    version: CylcVersion,
    owner: String,
    site_file: String,
    owner_dict: BTreeMap<String, Entry>,
    events: Vec<MergeEvent>,
    user: CylcUserConf,
    /// `user.entries` by key, for `owner_auth_conf.get(item)` (keys are unique after parsing).
    user_index: BTreeMap<String, usize>,
}

/// The strings of a lookup, and which keys gave them (for `explain`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Lookup {
    /// The strings, as a Python set (`""` discarded).
    pub strings: BTreeSet<String>,
    /// Each matching key and the strings it gave.
    pub by_key: Vec<(String, Vec<Item>)>,
}

/// Everything `_get_permitted_operations` computed for an access user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Permitted {
    /// The limits the owner may give, unexpanded.
    pub limits: Lookup,
    /// The owner's grants for the user, unexpanded.
    pub grants: Lookup,
    /// Whether the grants were empty and the site defaults were used instead.
    pub fell_back: bool,
    /// The site defaults, when used.
    pub defaults: Lookup,
    /// The expanded limits.
    pub limit_ops: BTreeSet<String>,
    /// The expanded grants (or defaults).
    pub grant_ops: BTreeSet<String>,
    /// Their intersection: what the user may do.
    pub ops: BTreeSet<String>,
}

/// A lookup's set while it is built: its elements, and per key what each gave.
#[derive(Default)]
struct Gathered {
    elems: Vec<Elem>,
    by_key: Vec<(String, Vec<Item>)>,
}

impl Gathered {
    fn add(&mut self, key: &str, p: PyVal<'_>) -> Result<(), PyError> {
        let before = self.elems.len();
        add_or_update(&mut self.elems, p)?;
        let items = self.elems[before..]
            .iter()
            .filter_map(|e| match e {
                Elem::Str(i) => Some(i.clone()),
                Elem::Other { .. } => None,
            })
            .collect();
        self.by_key.push((key.to_owned(), items));
        Ok(())
    }

    /// `set.discard("")`, then the strings; a non-string makes the expansion raise.
    fn finish(self) -> (Result<BTreeSet<String>, PyError>, Lookup) {
        let mut strings = BTreeSet::new();
        let mut bad = None;
        for e in &self.elems {
            match e {
                Elem::Str(i) if i.value.is_empty() => {}
                Elem::Str(i) => {
                    strings.insert(i.value.clone());
                }
                Elem::Other { ty, line } => {
                    bad.get_or_insert_with(|| py_err(format!("'{ty}' object has no attribute 'startswith'"), *line));
                }
            }
        }
        let lookup = Lookup {
            strings: strings.clone(),
            by_key: self.by_key,
        };
        (bad.map_or(Ok(strings), Err), lookup)
    }

    /// Whether anything but `""` is in it (`len(set) == 0` after the discard).
    fn is_empty(&self) -> bool {
        self.elems
            .iter()
            .all(|e| matches!(e, Elem::Str(i) if i.value.is_empty()))
    }
}

impl CylcAuthorization {
    /// Builds the owner's view of the site configuration, as Cylc's constructor does.
    ///
    /// # Errors
    /// [`ConstructError`] where Cylc's constructor raises (an owner key that applies whose
    /// value is not an object, a merge meeting an entry that is not one, an unhashable value).
    pub fn new(
        version: CylcVersion,
        owner: &str,
        owner_groups: &[String],
        site: &CylcSite,
        user: &CylcUserConf,
    ) -> Result<Self, ConstructError> {
        let fail = |e: PyError| ConstructError {
            owner: owner.to_owned(),
            file: site.file.clone(),
            line: e.line,
            message: e.message,
        };
        let mut items: Vec<&str> = vec!["*", owner];
        items.extend(owner_groups.iter().map(String::as_str));
        let mut owner_dict: BTreeMap<String, Entry> = BTreeMap::new();
        let mut events = Vec::new();
        for (oi, o) in site.owners.iter().enumerate() {
            if !items.contains(&o.key.as_str()) {
                continue;
            }
            events.push(MergeEvent::Applies {
                key: o.key.clone(),
                line: o.line,
            });
            let Value::Object(people) = &o.value.value else {
                return Err(fail(py_err(
                    format!("'{}' object has no attribute 'items'", py_type(&o.value.value)),
                    o.value.line,
                )));
            };
            for (ei, e) in people.iter().enumerate() {
                let origin = |index: usize, m: &Member| Origin {
                    owner_index: oi,
                    entry_index: index,
                    owner_line: o.line,
                    entry_line: m.line,
                };
                if let Some(existing) = owner_dict.get_mut(&e.key)
                    && existing.truthy()
                {
                    let new = Entry {
                        value: EntryValue::Raw(e.value.clone()),
                        from: vec![origin(ei, e)],
                    };
                    let (ex_def, ex_lim) = (
                        existing.default_or_empty().map_err(fail)?,
                        existing.limit_or_default().map_err(fail)?,
                    );
                    let (new_def, new_lim) = (
                        new.default_or_empty().map_err(fail)?,
                        new.limit_or_default().map_err(fail)?,
                    );
                    let (mut defaults, mut limits) = (Vec::new(), Vec::new());
                    for conf in [ex_def, new_def] {
                        update_or_add(&mut defaults, conf).map_err(fail)?;
                    }
                    for conf in [ex_lim, new_lim] {
                        update_or_add(&mut limits, conf).map_err(fail)?;
                    }
                    existing.value = EntryValue::Merged {
                        default: dedup(defaults),
                        limit: dedup(limits),
                    };
                    if !existing.from.contains(&new.from[0]) {
                        existing.from.push(new.from[0]);
                        events.push(MergeEvent::Merged {
                            key: e.key.clone(),
                            line: e.line,
                        });
                    }
                    continue;
                }
                // `owner_dict.update(access_user_dict)`: every entry of this owner key
                // replaces what is there, including entries merged a moment ago.
                events.push(MergeEvent::Update {
                    owner_key: o.key.clone(),
                    owner_line: o.line,
                    trigger: e.key.clone(),
                    trigger_line: e.line,
                });
                for (xi, other) in people.iter().enumerate() {
                    let fresh = Entry {
                        value: EntryValue::Raw(other.value.clone()),
                        from: vec![origin(xi, other)],
                    };
                    if let Some(old) = owner_dict.insert(other.key.clone(), fresh) {
                        let lost: Vec<Origin> = old
                            .from
                            .into_iter()
                            .filter(|f| (f.owner_index, f.entry_index) != (oi, xi))
                            .collect();
                        if !lost.is_empty() {
                            events.push(MergeEvent::Replaced {
                                key: other.key.clone(),
                                lost,
                                by_line: o.line,
                            });
                        }
                    }
                }
            }
        }
        Ok(Self {
            version,
            owner: owner.to_owned(),
            site_file: site.file.clone(),
            owner_dict,
            events,
            user: user.clone(),
            user_index: user
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.key.clone(), i))
                .collect(),
        })
    }

    /// The version reproduced.
    #[must_use]
    pub const fn version(&self) -> CylcVersion {
        self.version
    }

    /// The owner.
    #[must_use]
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The site configuration's file.
    #[must_use]
    pub fn site_file(&self) -> &str {
        &self.site_file
    }

    /// The owner's `user_authorization` file (empty: none).
    #[must_use]
    pub fn user_file(&self) -> &str {
        &self.user.file
    }

    /// What happened while building the owner's view, in order.
    #[must_use]
    pub fn events(&self) -> &[MergeEvent] {
        &self.events
    }

    fn raised(&self, config: &'static str, key: &str, e: PyError) -> Raised {
        Raised {
            config,
            file: if config == "site" {
                self.site_file.clone()
            } else {
                self.user.file.clone()
            },
            line: e.line,
            key: key.to_owned(),
            message: e.message,
        }
    }

    /// A lookup over `*`, the user and their groups in `owner_dict` (`get_owner_site_limits_…`
    /// with `limit`, `return_site_auth_defaults_…` without).
    fn site_lookup(&self, items: &[&str], limit: bool) -> Result<Gathered, Raised> {
        let mut out = Gathered::default();
        if self.owner_dict.is_empty() {
            return Ok(out);
        }
        let config_error = "\"[]\" is not supported. Use \"!ALL\" to remove all permissions.";
        for item in items {
            let Some(e) = self.owner_dict.get(*item) else { continue };
            let p = if limit {
                e.limit_or_default()
            } else {
                e.default_or_empty()
            }
            .map_err(|x| self.raised("site", item, x))?;
            if p.is_empty_list() {
                let line = if p.line() == 0 {
                    e.from.last().map_or(0, |o| o.entry_line)
                } else {
                    p.line()
                };
                return Err(self.raised(
                    "site",
                    item,
                    py_err(format!("Error in site config: {config_error}"), line),
                ));
            }
            out.add(item, p).map_err(|x| self.raised("site", item, x))?;
        }
        Ok(out)
    }

    fn user_lookup(&self, items: &[&str]) -> Result<Gathered, Raised> {
        let mut out = Gathered::default();
        for item in items {
            // `owner_auth_conf.get(item, "")`: a duplicate key kept only its last value.
            let Some(e) = self.user_index.get(*item).map(|&i| &self.user.entries[i]) else {
                continue;
            };
            let p = PyVal::Json(&e.value);
            if p.is_empty_list() {
                return Err(self.raised(
                    "user",
                    item,
                    py_err("Error in user config: \"[]\" is not supported.", e.value.line),
                ));
            }
            out.add(item, p).map_err(|x| self.raised("user", item, x))?;
        }
        Ok(out)
    }

    /// `_get_permitted_operations(access_user)` with the user's groups (`group:NAME` strings, as
    /// Cylc's `get_groups` returns them) for someone who is not the owner.
    ///
    /// # Errors
    /// [`Raised`] when the lookup reaches a value Cylc's code raises on.
    pub fn permitted(&self, user: &str, groups: &[String]) -> Result<Permitted, Raised> {
        let mut items: Vec<&str> = vec!["*", user];
        items.extend(groups.iter().map(String::as_str));
        let limits = self.site_lookup(&items, true)?;
        let grants = self.user_lookup(&items)?;
        let fell_back = grants.is_empty();
        let defaults = if fell_back {
            self.site_lookup(&items, false)?
        } else {
            Gathered::default()
        };
        let (limit_strings, limits) = limits.finish();
        let (grant_strings, grants) = grants.finish();
        let (default_strings, defaults) = defaults.finish();
        // Cylc expands the grants (or defaults) first, then the limits; either raises alike.
        let granted = if fell_back { default_strings } else { grant_strings };
        let granted = granted.map_err(|e| self.raised(if fell_back { "site" } else { "user" }, user, e))?;
        let limit_strings = limit_strings.map_err(|e| self.raised("site", user, e))?;
        let grant_ops = self.expand(granted);
        let limit_ops = self.expand(limit_strings);
        Ok(Permitted {
            ops: limit_ops.intersection(&grant_ops).cloned().collect(),
            limits,
            grants,
            fell_back,
            defaults,
            limit_ops,
            grant_ops,
        })
    }

    /// `expand_and_process_access_groups` on a set of strings.
    fn expand(&self, mut set: BTreeSet<String>) -> BTreeSet<String> {
        let all: Vec<&str> = self.version.operations().to_vec();
        let control: Vec<&str> = self.version.control().collect();
        let groups: [(&str, Vec<&str>); 3] = [("READ", vec!["read"]), ("CONTROL", control), ("ALL", all)];
        for (name, ops) in &groups {
            if set.remove(*name) {
                set.extend(ops.iter().map(|s| (*s).to_owned()));
            }
        }
        for (name, ops) in &groups {
            if set.remove(&format!("!{name}")) {
                set.extend(ops.iter().map(|s| format!("!{s}")));
            }
        }
        let mut remove = BTreeSet::new();
        for perm in &set {
            if perm.starts_with('!') {
                remove.insert(perm.trim_start_matches('!').to_owned());
                remove.insert(perm.clone());
            }
        }
        set.retain(|p| !remove.contains(p));
        set.remove("");
        set
    }

    /// What a request for `op` (a GraphQL field or operation name) by `user` gets: the
    /// middleware's schema check, then `is_permitted`, failing secure if it raises.
    #[must_use]
    pub fn decide(&self, user: &str, groups: &[String], op: &str) -> CylcDecision {
        let snake = cylc_snake_case(op);
        let (allowed, reason) = if !self.version.is_operation(&snake) {
            (
                false,
                CylcReason::NotAnOperation {
                    given: op.to_owned(),
                    snake: snake.clone(),
                },
            )
        } else if user == self.owner {
            (true, CylcReason::Owner)
        } else {
            match self.permitted(user, groups) {
                Ok(p) if p.ops.contains(&snake) => (true, CylcReason::Permitted),
                Ok(_) => (false, CylcReason::NotPermitted),
                Err(r) => (false, CylcReason::Raised(r)),
            }
        };
        CylcDecision {
            op: snake,
            allowed,
            reason,
        }
    }
}

impl fmt::Display for CylcReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnOperation { given, snake } => write!(
                f,
                "{given:?} is {snake:?} after Graphene's to_snake_case, not an operation of this version (HTTP 400)"
            ),
            Self::Owner => f.write_str("the owner may do anything on their own UI server"),
            Self::Permitted => f.write_str("in the permitted set (limits ∩ grants)"),
            Self::NotPermitted => f.write_str("not in the permitted set (limits ∩ grants)"),
            Self::Raised(r) => write!(
                f,
                "{}:{} ({} config, key {:?}): Cylc's code raises {:?}, and its middleware denies",
                r.file, r.line, r.config, r.key, r.message
            ),
        }
    }
}

impl fmt::Display for CylcDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "allow" } else { "deny" };
        write!(f, "{verdict} {}: {}", self.op, self.reason)
    }
}
