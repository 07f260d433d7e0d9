//! Who a rule is about: a user, a group (`group:NAME`) or anyone (`*`).
//!
//! Names are as wide as the systems they come from allow (Cylc accepts any string): user and
//! group names from the OS, LDAP or Active Directory hold dots, capitals, spaces and `@`
//! (`john.smith`, `Alice`, `group:Domain Users`, `group:ops@example.org`) and may be long.
//! Refused are only names no such system can hold and that would forge or garble what we
//! print: empty, over 256 bytes, control characters (C0, DEL, C1) and bidirectional-text
//! controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069). Both reach audit lines
//! and error messages, which quote them.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use protocol_core::ids::{IdError, Owner};

/// The longest user or group name accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum NameError {
    /// A group name is empty, too long or holds a control character.
    #[error("group name must be 1 to 256 bytes with no control or bidirectional-text characters")]
    Group,
    /// A user name is empty, too long or holds a control character.
    #[error("user name must be 1 to 256 bytes with no control or bidirectional-text characters")]
    User,
    /// A user name is not a valid account name (where an [`Owner`] is needed).
    #[error("{0}")]
    Account(#[from] IdError),
}

/// Whether `c` may appear in a user or group name.
fn allowed(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn valid(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_NAME_BYTES && s.chars().all(allowed)
}

/// A Unix, LDAP or directory group name (without the `group:` prefix).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupName(String);

impl GroupName {
    /// Validates a group name.
    ///
    /// # Errors
    /// [`NameError::Group`].
    pub fn new(s: &str) -> Result<Self, NameError> {
        if valid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Group)
        }
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

/// A person's account name as the hub, the OS or a directory knows it: wider than an
/// [`Owner`] (which a workflow id and the job channel need), e.g. `john.smith` or `Alice`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

impl UserName {
    /// Validates a user name.
    ///
    /// # Errors
    /// [`NameError::User`].
    pub fn new(s: &str) -> Result<Self, NameError> {
        if valid(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::User)
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same name as an [`Owner`], where it is one.
    ///
    /// # Errors
    /// [`NameError::Account`] when it is not a valid account name for a workflow owner.
    pub fn to_owner(&self) -> Result<Owner, NameError> {
        Ok(Owner::new(&self.0)?)
    }
}

impl From<&Owner> for UserName {
    fn from(o: &Owner) -> Self {
        Self(o.as_str().to_owned())
    }
}

impl From<Owner> for UserName {
    fn from(o: Owner) -> Self {
        Self::from(&o)
    }
}

impl Borrow<str> for UserName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<Owner> for UserName {
    fn eq(&self, other: &Owner) -> bool {
        self.0 == other.as_str()
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl FromStr for UserName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::new(s)
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
    User(UserName),
}

impl Subject {
    /// Whether a person with this name and these groups is one of the subject.
    #[must_use]
    pub fn matches<'a>(&self, name: &str, mut groups: impl Iterator<Item = &'a GroupName>) -> bool {
        match self {
            Self::Anyone => true,
            Self::User(u) => u.as_str() == name,
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
            Ok(Self::User(UserName::new(s)?))
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
        assert_eq!("group:a\tb".parse::<Subject>(), Err(NameError::Group));
        assert_eq!("Root\n".parse::<Subject>(), Err(NameError::User));
        assert_eq!("".parse::<Subject>(), Err(NameError::User));
    }

    #[test]
    fn names_directories_allow_are_accepted_with_dots_capitals_spaces_and_at_signs() {
        for user in [
            "john.smith",
            "Alice",
            "jane.doe",
            "a-name-that-is-well-over-thirty-two-bytes-long",
            "DOMAIN\\bob",
        ] {
            assert!(matches!(user.parse::<Subject>(), Ok(Subject::User(_))), "{user}");
        }
        for group in [
            "group:Domain Users",
            "group:ops@example.org",
            "group:.hidden",
            "group:-x",
        ] {
            assert!(matches!(group.parse::<Subject>(), Ok(Subject::Group(_))), "{group}");
        }
        assert_eq!(
            UserName::new(&"x".repeat(MAX_NAME_BYTES)).map(|u| u.as_str().len()),
            Ok(MAX_NAME_BYTES)
        );
        assert_eq!(UserName::new(&"x".repeat(MAX_NAME_BYTES + 1)), Err(NameError::User));
    }

    #[test]
    fn names_that_would_forge_or_reorder_printed_text_are_refused() {
        for bad in ["a\u{7f}b", "a\u{85}b", "evil\u{202e}gpj.exe", "x\u{2066}y", "\r"] {
            assert_eq!(UserName::new(bad), Err(NameError::User), "{bad:?}");
            assert_eq!(GroupName::new(bad), Err(NameError::Group), "{bad:?}");
        }
    }

    #[test]
    fn names_show_as_written_and_compare_with_account_names_by_text() {
        let g = GroupName::new("Domain Users").expect("valid");
        assert_eq!(
            (g.as_str(), format!("{g}"), format!("{g:?}")),
            ("Domain Users", "Domain Users".into(), "group:Domain Users".into())
        );
        let u = UserName::new("john.smith").expect("valid");
        assert_eq!(format!("{u:?}"), "\"john.smith\"");
        let s: Subject = "group:ops".parse().expect("valid");
        assert_eq!(format!("{s:?}"), "group:ops");
        let jacintar = Owner::new("jacintar").expect("valid");
        assert!(UserName::new("jacintar").expect("valid") == jacintar);
        assert!(UserName::new("jacintar2").expect("valid") != jacintar);
    }

    #[test]
    fn a_user_name_is_an_owner_only_when_it_is_a_valid_account_name() {
        assert_eq!(
            UserName::new("jacintar")
                .expect("valid")
                .to_owner()
                .map(|o| o.as_str().to_owned()),
            Ok("jacintar".to_owned())
        );
        assert!(matches!(
            UserName::new("john.smith").expect("valid").to_owner(),
            Err(NameError::Account(_))
        ));
    }
}
