//! Who a rule is about: a user, a group (`group:NAME`) or anyone (`*`).
//!
//! User names are [`Owner`]s (Unix account names, validated by `protocol-core`); group names are
//! validated here to a similarly narrow set, because both reach audit lines and error messages.

use std::fmt;
use std::str::FromStr;

use protocol_core::ids::{IdError, Owner};

/// A Unix or directory group name: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NameError {
    /// A group name is empty, too long or holds a character outside its set.
    #[error("group name must be 1 to 64 of [A-Za-z0-9_.-], not starting with '.' or '-'")]
    Group,
    /// A user name is not a valid account name.
    #[error("{0}")]
    User(#[from] IdError),
}

impl GroupName {
    /// Validates a group name.
    ///
    /// # Errors
    /// [`NameError::Group`].
    pub fn new(s: &str) -> Result<Self, NameError> {
        let ok_first = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
        let ok_rest = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if s.len() > 64 || !ok_first || !ok_rest {
            return Err(NameError::Group);
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group:{}", self.0)
    }
}

/// Who a rule applies to (or, in a site rule's first key, whose workflows it is about).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// `*`: every authenticated person.
    Anyone,
    /// `group:NAME`: members of a group.
    Group(GroupName),
    /// A user name.
    User(Owner),
}

impl Subject {
    /// Whether a person with this name and these groups is one of the subject.
    #[must_use]
    pub fn matches<'a>(&self, name: &Owner, mut groups: impl Iterator<Item = &'a GroupName>) -> bool {
        match self {
            Self::Anyone => true,
            Self::User(u) => u == name,
            Self::Group(g) => groups.any(|m| m == g),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anyone => f.write_str("*"),
            Self::Group(g) => write!(f, "group:{g}"),
            Self::User(u) => write!(f, "{u}"),
        }
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl FromStr for Subject {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        if s == "*" {
            Ok(Self::Anyone)
        } else if let Some(g) = s.strip_prefix("group:") {
            Ok(Self::Group(GroupName::new(g)?))
        } else {
            Ok(Self::User(Owner::new(s)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_anyone_groups_and_users_and_refuse_the_rest() {
        assert_eq!("*".parse::<Subject>(), Ok(Subject::Anyone));
        let g = GroupName::new("ocean_team").expect("valid");
        assert_eq!("group:ocean_team".parse::<Subject>(), Ok(Subject::Group(g)));
        assert!(matches!("jacintar".parse::<Subject>(), Ok(Subject::User(_))));
        assert_eq!("group:".parse::<Subject>(), Err(NameError::Group));
        assert_eq!("group:a b".parse::<Subject>(), Err(NameError::Group));
        assert!(matches!("a*".parse::<Subject>(), Err(NameError::User(_))));
        assert!(matches!("Root\n".parse::<Subject>(), Err(NameError::User(_))));
    }
}
