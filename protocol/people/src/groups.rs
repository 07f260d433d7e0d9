//! Group membership: resolved at the edge, carried into the sans-IO authoriser as data.
//!
//! The authoriser never looks groups up itself (that would be I/O inside a pure core).
//! A [`GroupProvider`] turns a user name into a [`Person`] (and a workflow id into a
//! [`WorkflowRef`] carrying its owner's groups, for site rules keyed by owner group).
//! [`FileGroups`] reads a TOML file; [`SystemGroups`] asks the system (getgrouplist(3)).
//!
//! A failed lookup is an error, never an empty set: a negation given to a group must not be
//! escaped by making the lookup fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use protocol_core::ids::{Owner, WorkflowId};

use crate::names::{GroupName, UserName};

/// A person acting on a workflow: their account name and the groups they belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Person {
    /// The account name.
    pub name: UserName,
    /// Their groups, as resolved when the person was built.
    pub groups: BTreeSet<GroupName>,
}

impl Person {
    /// A person with these groups.
    #[must_use]
    pub fn new(name: impl Into<UserName>, groups: BTreeSet<GroupName>) -> Self {
        Self {
            name: name.into(),
            groups,
        }
    }
}

/// A workflow as the authoriser sees it: its id and its owner's groups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowRef {
    /// The workflow.
    pub id: WorkflowId,
    /// The groups of its owner (site rules may be keyed by `group:NAME` of owners).
    pub owner_groups: BTreeSet<GroupName>,
}

impl WorkflowRef {
    /// A workflow whose owner has these groups.
    #[must_use]
    pub const fn new(id: WorkflowId, owner_groups: BTreeSet<GroupName>) -> Self {
        Self { id, owner_groups }
    }

    /// The owner.
    #[must_use]
    pub const fn owner(&self) -> &Owner {
        self.id.owner()
    }
}

/// Why groups could not be found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GroupError {
    /// The groups file could not be read.
    #[error("{file}: cannot read the groups file: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// The I/O error.
        reason: String,
    },
    /// The groups file is not valid.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The system has no such user.
    #[error("the system has no user {0}")]
    UnknownUser(String),
    /// The system lookup failed.
    #[error("group lookup for {user} failed: {reason}")]
    Lookup {
        /// Whose groups.
        user: String,
        /// The error.
        reason: String,
    },
}

/// Resolves the groups of a user.
pub trait GroupProvider {
    /// The groups `user` belongs to.
    ///
    /// # Errors
    /// [`GroupError`] when membership cannot be established; callers must then deny.
    fn groups_of(&self, user: &UserName) -> Result<BTreeSet<GroupName>, GroupError>;

    /// The person `user`, with their groups.
    ///
    /// # Errors
    /// As [`GroupProvider::groups_of`].
    fn person(&self, user: &UserName) -> Result<Person, GroupError> {
        Ok(Person::new(user.clone(), self.groups_of(user)?))
    }

    /// The workflow `id`, with its owner's groups.
    ///
    /// # Errors
    /// As [`GroupProvider::groups_of`].
    fn workflow(&self, id: &WorkflowId) -> Result<WorkflowRef, GroupError> {
        Ok(WorkflowRef::new(id.clone(), self.groups_of(&id.owner().into())?))
    }
}

/// Group membership from a file: the file is the whole truth (a user it does not list has no
/// groups).
///
/// ```toml
/// [groups]
/// operators = ["jacintar", "oceans_stage"]
/// ocean_team = ["oceans_stage"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FileGroups {
    members: BTreeMap<UserName, BTreeSet<GroupName>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    groups: BTreeMap<toml::Spanned<String>, Vec<toml::Spanned<String>>>,
}

impl FileGroups {
    /// Parses a groups file's text; `file` names it in errors.
    ///
    /// # Errors
    /// [`GroupError::Invalid`] with the line of the first problem.
    pub fn parse(file: &str, text: &str) -> Result<Self, GroupError> {
        let invalid = |span: Option<std::ops::Range<usize>>, message: String| GroupError::Invalid {
            file: file.to_owned(),
            line: span.map_or(1, |s| crate::policy::line_of(text, s.start)),
            message,
        };
        let parsed: GroupsFile = toml::from_str(text).map_err(|e| invalid(e.span(), e.message().to_owned()))?;
        let mut members: BTreeMap<UserName, BTreeSet<GroupName>> = BTreeMap::new();
        for (group, users) in parsed.groups {
            let name = GroupName::new(group.get_ref())
                .map_err(|e| invalid(Some(group.span()), format!("groups.{}: {e}", group.get_ref())))?;
            for user in users {
                let owner = UserName::new(user.get_ref())
                    .map_err(|e| invalid(Some(user.span()), format!("groups.{}: {e}", group.get_ref())))?;
                members.entry(owner).or_default().insert(name.clone());
            }
        }
        Ok(Self { members })
    }

    /// Reads and parses a groups file.
    ///
    /// # Errors
    /// [`GroupError::Unreadable`] or [`GroupError::Invalid`].
    pub fn load(path: &Path) -> Result<Self, GroupError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| GroupError::Unreadable {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&file, &text)
    }

    /// Membership given directly (for tests and models).
    #[must_use]
    pub fn from_members<U: Into<UserName>>(members: impl IntoIterator<Item = (U, BTreeSet<GroupName>)>) -> Self {
        Self {
            members: members.into_iter().map(|(u, g)| (u.into(), g)).collect(),
        }
    }
}

impl GroupProvider for FileGroups {
    fn groups_of(&self, user: &UserName) -> Result<BTreeSet<GroupName>, GroupError> {
        Ok(self.members.get(user).cloned().unwrap_or_default())
    }
}

/// Group membership from the system's user and group databases (NSS: files, LDAP, SSSD…),
/// as Cylc's `get_groups` does. Groups whose names fall outside [`GroupName`]'s set are
/// dropped: no policy can name them, so they can neither grant nor negate anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SystemGroups;

impl GroupProvider for SystemGroups {
    fn groups_of(&self, user: &UserName) -> Result<BTreeSet<GroupName>, GroupError> {
        use nix::unistd::{Group, User, getgrouplist};
        let lookup = |reason: nix::Error| GroupError::Lookup {
            user: user.to_string(),
            reason: reason.to_string(),
        };
        let account = User::from_name(user.as_str())
            .map_err(lookup)?
            .ok_or_else(|| GroupError::UnknownUser(user.to_string()))?;
        let cname = std::ffi::CString::new(user.as_str()).map_err(|_| GroupError::UnknownUser(user.to_string()))?;
        let mut groups = BTreeSet::new();
        for gid in getgrouplist(&cname, account.gid).map_err(lookup)? {
            if let Some(group) = Group::from_gid(gid).map_err(lookup)?
                && let Ok(name) = GroupName::new(&group.name)
            {
                groups.insert(name);
            }
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(s: &str) -> UserName {
        UserName::new(s).expect("valid")
    }

    #[test]
    fn a_groups_file_lists_members_per_group_and_unlisted_users_have_none() {
        let g = FileGroups::parse(
            "g.toml",
            "[groups]\nops = [\"jacintar\"]\nsea = [\"jacintar\", \"bob\"]\n",
        )
        .expect("parses");
        let j = g.groups_of(&owner("jacintar")).expect("found");
        assert_eq!(j.len(), 2);
        assert_eq!(g.groups_of(&owner("carol")), Ok(BTreeSet::new()));
    }

    #[test]
    fn a_bad_member_name_in_a_groups_file_is_reported_with_its_line() {
        let err =
            FileGroups::parse("g.toml", "[groups]\nops = [\"ok\"]\nsea = [\"Bad\\u0007Name\"]\n").expect_err("refused");
        assert!(matches!(err, GroupError::Invalid { line: 3, .. }), "{err:?}");
    }

    #[test]
    fn the_system_knows_root_and_its_groups_and_refuses_unknown_users() {
        let root = SystemGroups.groups_of(&owner("root")).expect("root exists");
        assert!(root.contains(&GroupName::new("root").expect("valid")));
        assert_eq!(
            SystemGroups.groups_of(&owner("no_such_user_x9")),
            Err(GroupError::UnknownUser("no_such_user_x9".into()))
        );
    }
}
