//! The job channel's shared fixtures: the workflow every test scheduler runs, its jobs and
//! their specs (as in the model), and a bounded wait.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use protocol_core::ids::IdError;
use protocol_core::scheduler::{Event, JobSpec};
use protocol_core::wire::OutputName;
use protocol_core::{JobId, WorkflowId};

use crate::WorldError;

/// The output every task declares (as in the model).
pub const DECLARED_OUTPUT: &str = "file-ready";

/// The workflow every test scheduler runs, `~alice/wf` (as in the model).
///
/// # Panics
/// Never: the id is a valid constant.
#[must_use]
pub fn workflow() -> WorkflowId {
    WorkflowId::new("alice", "wf").expect("a valid constant")
}

/// The job of `task` in cycle 1, submit 1: `~alice/wf//1/TASK/01`.
///
/// # Errors
/// [`IdError`] for a task name that is not a valid id.
pub fn job(task: &str) -> Result<JobId, IdError> {
    JobId::new(workflow(), "1", task, 1)
}

/// What a job is launched with: it declares [`DECLARED_OUTPUT`].
///
/// # Panics
/// Never: the output name is a valid constant.
#[must_use]
pub fn spec(id: &JobId) -> JobSpec {
    JobSpec {
        id: id.clone(),
        outputs: BTreeSet::from([OutputName::new(DECLARED_OUTPUT).expect("a valid constant")]),
    }
}

/// Polls `cond` every 5 ms until it holds or `limit` passes; returns whether it held.
pub async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every event in a scheduler's event log (JSON lines), in order.
///
/// # Errors
/// [`WorldError::Io`] or [`WorldError::EventLog`].
pub fn read_events(path: &Path) -> Result<Vec<Event>, WorldError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| WorldError::EventLog {
                line: i + 1,
                detail: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_job_belongs_to_the_fixture_workflow_and_declares_the_output() {
        let id = job("a").expect("valid");
        assert_eq!(id.workflow(), &workflow());
        assert_eq!(spec(&id).outputs.len(), 1);
        assert!(
            matches!(job("not a task"), Err(IdError::Character { .. })),
            "a space is not a task name"
        );
    }
}
