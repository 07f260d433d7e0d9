//! Names of owners, workflows and jobs, validated on the way in.
//!
//! Every name that reaches a file path, a log line or a command must pass through these types,
//! so the character sets are deliberately narrow (Cylc's own rules, minus anything a shell, a
//! path or a log reader would treat specially).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IdError {
    /// The name is empty or longer than its limit.
    #[error("{what} must be 1 to {max} characters long, got {len}")]
    Length {
        /// Which kind of name.
        what: &'static str,
        /// Its limit.
        max: usize,
        /// Its length.
        len: usize,
    },
    /// The name holds a character its kind does not allow.
    #[error("{what} contains a character that is not allowed at byte {at}")]
    Character {
        /// Which kind of name.
        what: &'static str,
        /// Byte offset of the first bad character.
        at: usize,
    },
    /// A job id is not of the form `~owner/workflow//cycle/task/NN`.
    #[error("job id must look like ~owner/workflow//cycle/task/NN")]
    JobIdShape,
    /// The submit number is outside 1..=99.
    #[error("submit number must be 1 to 99")]
    SubmitNumber,
}

fn check(what: &'static str, s: &str, max: usize, ok: impl Fn(usize, u8) -> bool) -> Result<(), IdError> {
    if s.is_empty() || s.len() > max {
        return Err(IdError::Length {
            what,
            max,
            len: s.len(),
        });
    }
    match s.bytes().enumerate().find(|&(i, b)| !ok(i, b)) {
        Some((at, _)) => Err(IdError::Character { what, at }),
        None => Ok(()),
    }
}

/// A Unix account name: `[a-z_][a-z0-9_-]{0,31}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(String);

impl Owner {
    /// Validates an account name.
    ///
    /// # Errors
    /// [`IdError`] naming the first problem.
    pub fn new(s: &str) -> Result<Self, IdError> {
        check("owner", s, 32, |i, b| {
            b.is_ascii_lowercase() || b == b'_' || (i > 0 && (b.is_ascii_digit() || b == b'-'))
        })?;
        Ok(Self(s.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A workflow: its owner and its name (`/`-separated segments of `[A-Za-z0-9_.-]`, no `.` or
/// `..` segment, at most 128 bytes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowId {
    owner: Owner,
    name: String,
}

impl WorkflowId {
    /// Validates a workflow id from its parts.
    ///
    /// # Errors
    /// [`IdError`] naming the first problem.
    pub fn new(owner: &str, name: &str) -> Result<Self, IdError> {
        let owner = Owner::new(owner)?;
        check("workflow name", name, 128, |_, b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')
        })?;
        let mut at = 0;
        for segment in name.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." || segment.starts_with('.') {
                return Err(IdError::Character {
                    what: "workflow name",
                    at,
                });
            }
            at += segment.len() + 1;
        }
        Ok(Self {
            owner,
            name: name.to_owned(),
        })
    }

    /// The owner.
    #[must_use]
    pub const fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The name within the owner's workflows.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "~{}/{}", self.owner.0, self.name)
    }
}

impl fmt::Debug for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WorkflowId {
    type Err = IdError;

    /// Parses `~owner/name` or `owner/name`.
    fn from_str(s: &str) -> Result<Self, IdError> {
        let s = s.strip_prefix('~').unwrap_or(s);
        let (owner, name) = s.split_once('/').ok_or(IdError::JobIdShape)?;
        Self::new(owner, name)
    }
}

/// Longest job id in its text form.
pub const MAX_JOB_ID: usize = 255;

/// One submission of one task instance: `~owner/workflow//cycle/task/NN`, Cylc 8's job id.
///
/// Shared behind an `Arc`: job ids are cloned into every event, verdict and map key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(std::sync::Arc<JobIdParts>);

#[derive(PartialEq, Eq, Hash, PartialOrd, Ord)]
struct JobIdParts {
    workflow: WorkflowId,
    cycle: String,
    task: String,
    submit: u8,
    /// The text form, made once: it is written into every message and event.
    text: String,
}

impl JobId {
    /// Validates a job id from its parts. Cycle points are `[0-9A-Za-z:+-]` (integer or ISO 8601),
    /// task names `[A-Za-z0-9_]` then `[A-Za-z0-9_+%@-]`, submit numbers 1 to 99.
    ///
    /// # Errors
    /// [`IdError`] naming the first problem.
    pub fn new(workflow: WorkflowId, cycle: &str, task: &str, submit: u8) -> Result<Self, IdError> {
        check("cycle point", cycle, 32, |_, b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'+' | b'-')
        })?;
        check("task name", task, 64, |i, b| {
            b.is_ascii_alphanumeric() || b == b'_' || (i > 0 && matches!(b, b'+' | b'%' | b'@' | b'-'))
        })?;
        if !(1..=99).contains(&submit) {
            return Err(IdError::SubmitNumber);
        }
        // The wire carries a job id as a short string (SPEC.md §5.2).
        let len = workflow.to_string().len() + cycle.len() + task.len() + 6;
        if len > MAX_JOB_ID {
            return Err(IdError::Length {
                what: "job id",
                max: MAX_JOB_ID,
                len,
            });
        }
        let text = format!("{workflow}//{cycle}/{task}/{submit:02}");
        Ok(Self(std::sync::Arc::new(JobIdParts {
            workflow,
            cycle: cycle.to_owned(),
            task: task.to_owned(),
            submit,
            text,
        })))
    }

    /// The workflow the job belongs to.
    #[must_use]
    pub fn workflow(&self) -> &WorkflowId {
        &self.0.workflow
    }

    /// The cycle point.
    #[must_use]
    pub fn cycle(&self) -> &str {
        &self.0.cycle
    }

    /// The task name.
    #[must_use]
    pub fn task(&self) -> &str {
        &self.0.task
    }

    /// The submit number.
    #[must_use]
    pub fn submit(&self) -> u8 {
        self.0.submit
    }
}

impl JobId {
    /// The Cylc form, `~owner/workflow//cycle/task/NN`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0.text
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for JobId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        let (workflow, rest) = s.split_once("//").ok_or(IdError::JobIdShape)?;
        let mut parts = rest.split('/');
        let (Some(cycle), Some(task), Some(submit), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdError::JobIdShape);
        };
        if submit.len() != 2 || !submit.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::SubmitNumber);
        }
        let submit: u8 = submit.parse().map_err(|_| IdError::SubmitNumber)?;
        if !workflow.starts_with('~') {
            return Err(IdError::JobIdShape);
        }
        Self::new(workflow.parse()?, cycle, task, submit)
    }
}

macro_rules! serde_via_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

impl FromStr for Owner {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl Serialize for JobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
serde_via_string!(Owner);
serde_via_string!(WorkflowId);

#[cfg(test)]
mod tests {
    use super::*;

    fn wf() -> WorkflowId {
        WorkflowId::new("atmosphere_stage", "clouds").expect("valid")
    }

    #[test]
    fn job_id_round_trips_through_its_cylc_form() {
        let id = JobId::new(wf(), "1234", "climb", 1).expect("valid");
        assert_eq!(id.to_string(), "~atmosphere_stage/clouds//1234/climb/01");
        assert_eq!(id.to_string().parse::<JobId>(), Ok(id));
    }

    #[test]
    fn names_with_shell_path_or_log_metacharacters_are_refused() {
        for bad in ["a b", "a;b", "a\nb", "../x", "x/../y", ".hidden", "a$b", "a`b", ""] {
            assert!(WorkflowId::new("alice", bad).is_err(), "{bad:?}");
        }
        for bad in ["Root", "1abc", "a b", "a/b", "", "averyveryveryveryverylongusername_x"] {
            assert!(Owner::new(bad).is_err(), "{bad:?}");
        }
        assert!(JobId::new(wf(), "1234", "-climb", 1).is_err());
        assert!(JobId::new(wf(), "12 34", "climb", 1).is_err());
        assert_eq!(JobId::new(wf(), "1", "climb", 0), Err(IdError::SubmitNumber));
        let long = WorkflowId::new(&"a".repeat(32), &"w".repeat(128)).expect("valid");
        assert!(matches!(
            JobId::new(long, &"1".repeat(32), &"t".repeat(64), 1),
            Err(IdError::Length { what: "job id", .. })
        ));
    }

    #[test]
    fn malformed_job_id_strings_are_refused_with_a_shape_error() {
        for bad in [
            "",
            "~alice/wf",
            "~alice/wf//1/task",
            "~alice/wf//1/task/1",
            "~alice/wf//1/task/01/x",
            "alice/wf//1/task/01",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad:?}");
        }
    }
}
