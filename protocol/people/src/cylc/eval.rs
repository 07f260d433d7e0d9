//! cylc-uiserver's `Authorization`, step by step: `build_owner_site_auth_conf` (the owner's
//! merged view of the site configuration), then for an access user the limits the owner may
//! give, the owner's grants or else the site defaults, `expand_and_process_access_groups`, and
//! the intersection. Each step keeps Python's semantics (sets of strings, `str` vs `list`,
//! `[]` raising, the truth of a dict) and records where its values came from, for `explain`.

use std::collections::{BTreeMap, BTreeSet};

use super::{CylcSite, CylcUserConf, CylcVersion, Item, Perm, SiteEntry};
use crate::ops::cylc_snake_case;

/// Where a merged site entry's values came from: the owner key's line and the entry's line.
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
    /// An owner key brought an access key not seen yet, so Cylc's `owner_dict.update()` took
    /// that owner key's whole entry set.
    Update {
        /// The owner key.
        owner_key: String,
        /// Its line.
        owner_line: usize,
        /// The new access key that triggered it.
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

/// A rights value in the owner's merged view (after a merge, always a list).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Merged {
    default: Option<Perm>,
    limit: Option<Perm>,
    truthy: bool,
    from: Vec<Origin>,
}

impl Merged {
    fn of(owner_index: usize, entry_index: usize, owner_line: usize, e: &SiteEntry) -> Self {
        Self {
            default: e.default.clone(),
            limit: e.limit.clone(),
            truthy: e.is_truthy(),
            from: vec![Origin {
                owner_index,
                entry_index,
                owner_line,
                entry_line: e.line,
            }],
        }
    }

    /// `entry.get("default", "")`.
    fn default_or_empty(&self) -> Perm {
        self.default.clone().unwrap_or_else(empty_str)
    }

    /// `entry.get("limit", entry.get("default", ""))`.
    fn limit_or_default(&self) -> Perm {
        self.limit.clone().unwrap_or_else(|| self.default_or_empty())
    }
}

fn empty_str() -> Perm {
    Perm::Str(Item {
        value: String::new(),
        line: 0,
    })
}

/// The union of two values as Cylc's merge builds it (`set.add` for a string, `set.update`
/// for a list), as a list; duplicates by value are dropped (it is a set).
fn union(a: &Perm, b: &Perm) -> Perm {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for i in a.items().iter().chain(b.items()) {
        if seen.insert(i.value.clone()) {
            out.push(i.clone());
        }
    }
    Perm::List(out)
}

/// A request reached `[]`: Cylc raises, and its middleware denies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Raised {
    /// `site` or `user`, as Cylc's message says.
    pub config: &'static str,
    /// The file.
    pub file: String,
    /// The line of the `[]` (0 when it came from a merge).
    pub line: usize,
    /// The key whose value it is.
    pub key: String,
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
    /// The owner may do anything to their own workflows.
    Owner,
    /// In the permitted set.
    Permitted,
    /// Not in the permitted set.
    NotPermitted,
    /// The lookup raised on `[]`.
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
    owner_dict: BTreeMap<String, Merged>,
    events: Vec<MergeEvent>,
    user: CylcUserConf,
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

impl CylcAuthorization {
    /// Builds the owner's view of the site configuration, as Cylc's constructor does.
    #[must_use]
    pub fn new(version: CylcVersion, owner: &str, owner_groups: &[String], site: &CylcSite, user: &CylcUserConf) -> Self {
        let mut items: Vec<&str> = vec!["*", owner];
        items.extend(owner_groups.iter().map(String::as_str));
        let mut owner_dict: BTreeMap<String, Merged> = BTreeMap::new();
        let mut events = Vec::new();
        for (oi, o) in site.owners.iter().enumerate() {
            if !items.contains(&o.key.as_str()) {
                continue;
            }
            events.push(MergeEvent::Applies {
                key: o.key.clone(),
                line: o.line,
            });
            for (ei, e) in o.entries.iter().enumerate() {
                if let Some(existing) = owner_dict.get_mut(&e.key)
                    && existing.truthy
                {
                    let new = Merged::of(oi, ei, o.line, e);
                    let limit = union(&existing.limit_or_default(), &new.limit_or_default());
                    let default = union(&existing.default_or_empty(), &new.default_or_empty());
                    existing.limit = Some(limit);
                    existing.default = Some(default);
                    let origin = new.from[0];
                    if !existing.from.contains(&origin) {
                        existing.from.push(origin);
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
                for (xi, other) in o.entries.iter().enumerate() {
                    let fresh = Merged::of(oi, xi, o.line, other);
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
        Self {
            version,
            owner: owner.to_owned(),
            site_file: site.file.clone(),
            owner_dict,
            events,
            user: user.clone(),
        }
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

    /// The owner's merged view: each access key's (default, limit-or-default) strings and the
    /// lines they came from.
    #[must_use]
    pub fn owner_view(&self) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>, Vec<Origin>)> {
        let strings = |p: &Perm| p.items().iter().map(|i| i.value.clone()).collect::<BTreeSet<_>>();
        self.owner_dict
            .iter()
            .map(|(k, m)| {
                (
                    k.clone(),
                    (strings(&m.default_or_empty()), strings(&m.limit_or_default()), m.from.clone()),
                )
            })
            .collect()
    }

    fn raised(&self, config: &'static str, key: &str, line: usize) -> Raised {
        Raised {
            config,
            file: if config == "site" {
                self.site_file.clone()
            } else {
                self.user.file.clone()
            },
            line,
            key: key.to_owned(),
        }
    }

    /// A lookup over `*`, the user and their groups in `owner_dict` (`get_owner_site_limits_…`
    /// with `limit`, `return_site_auth_defaults_…` without).
    fn site_lookup(&self, items: &[&str], limit: bool) -> Result<Lookup, Raised> {
        let mut out = Lookup::default();
        if self.owner_dict.is_empty() {
            return Ok(out);
        }
        for item in items {
            let Some(m) = self.owner_dict.get(*item) else { continue };
            let p = if limit { m.limit_or_default() } else { m.default_or_empty() };
            if p.is_empty_list() {
                let line = m.from.last().map_or(0, |o| o.entry_line);
                return Err(self.raised("site", item, line));
            }
            out.add(item, p.items());
        }
        Ok(out)
    }

    fn user_lookup(&self, items: &[&str]) -> Result<Lookup, Raised> {
        let mut out = Lookup::default();
        for item in items {
            // `owner_auth_conf.get(item, "")`: a duplicate key kept only its last value.
            let Some(e) = self.user.entries.iter().find(|e| e.key == *item) else { continue };
            if e.perm.is_empty_list() {
                return Err(self.raised("user", item, e.line));
            }
            out.add(item, e.perm.items());
        }
        Ok(out)
    }

    /// `_get_permitted_operations(access_user)` with the user's groups (`group:NAME` strings, as
    /// Cylc's `get_groups` returns them) for someone who is not the owner.
    ///
    /// # Errors
    /// [`Raised`] when the lookup reaches `[]`.
    pub fn permitted(&self, user: &str, groups: &[String]) -> Result<Permitted, Raised> {
        let mut items: Vec<&str> = vec!["*", user];
        items.extend(groups.iter().map(String::as_str));
        let limits = self.site_lookup(&items, true)?;
        let grants = self.user_lookup(&items)?;
        let mut p = Permitted {
            fell_back: grants.strings.is_empty(),
            ..Permitted::default()
        };
        let granted = if p.fell_back {
            p.defaults = self.site_lookup(&items, false)?;
            p.defaults.strings.clone()
        } else {
            grants.strings.clone()
        };
        p.grant_ops = self.expand(granted);
        p.limit_ops = self.expand(limits.strings.clone());
        p.ops = p.limit_ops.intersection(&p.grant_ops).cloned().collect();
        p.limits = limits;
        p.grants = grants;
        Ok(p)
    }

    /// `expand_and_process_access_groups`.
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

impl Lookup {
    fn add(&mut self, key: &str, items: &[Item]) {
        let kept: Vec<Item> = items.iter().filter(|i| !i.value.is_empty()).cloned().collect();
        self.strings.extend(kept.iter().map(|i| i.value.clone()));
        self.by_key.push((key.to_owned(), items.to_vec()));
    }
}
