//! What a scheduler started on an existing event log does with the tasks it is asked to run
//! (SPEC.md §9): a task whose job is still registered and unfinished is waited for (the job
//! reconnects through the contact file), a task whose launch failed (a launch the restart
//! interrupted among them) is launched again as its next submission, and a finished task is
//! left alone.

use std::collections::BTreeMap;

use protocol_core::ids::IdError;
use protocol_core::scheduler::JobState;
use protocol_core::{JobId, WorkflowId};

/// The largest submission number a job id can carry.
const MAX_SUBMIT: u8 = 99;

/// The launches of one run, after whatever the event log restored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Launches {
    /// Jobs to launch now.
    pub launch: Vec<JobId>,
    /// Restored jobs still registered and unfinished: waited for, not relaunched.
    pub waiting: Vec<JobId>,
    /// Tasks already finished in the restored log (their latest submission is terminal).
    pub finished: usize,
    /// Of `launch`, those relaunched after a failed launch (as their next submission).
    pub relaunched: usize,
}

/// Why a task cannot be launched.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The task's name or the cycle is not a valid id part.
    #[error(transparent)]
    Id(#[from] IdError),
    /// The task's latest submission number is already the largest there is.
    #[error("task {task} has used every submission number (latest {latest})")]
    Submissions {
        /// The task.
        task: String,
        /// Its latest submission.
        latest: JobId,
    },
}

/// Plans the launches of `tasks` at `cycle` given the jobs `restored` from the event log.
///
/// # Errors
/// [`PlanError`].
pub fn plan(
    restored: &[(JobId, JobState)],
    workflow: &WorkflowId,
    cycle: &str,
    tasks: &[String],
) -> Result<Launches, PlanError> {
    let latest: BTreeMap<String, (JobId, JobState)> = latest_submissions(restored.to_vec())
        .into_iter()
        .filter(|(id, _)| id.cycle() == cycle)
        .map(|(id, state)| (id.task().to_owned(), (id, state)))
        .collect();
    let mut out = Launches::default();
    for task in tasks {
        match latest.get(task.as_str()) {
            None => out.launch.push(JobId::new(workflow.clone(), cycle, task, 1)?),
            Some((id, JobState::LaunchFailed)) => {
                let next = id.submit() + 1;
                if next > MAX_SUBMIT {
                    return Err(PlanError::Submissions {
                        task: task.clone(),
                        latest: id.clone(),
                    });
                }
                out.launch.push(JobId::new(workflow.clone(), cycle, task, next)?);
                out.relaunched += 1;
            }
            Some((_, state)) if state.is_terminal() => out.finished += 1,
            Some((id, _)) => out.waiting.push(id.clone()),
        }
    }
    Ok(out)
}

/// The latest submission of each task in `states`: the job that says how the task ended.
#[must_use]
pub fn latest_submissions(states: Vec<(JobId, JobState)>) -> Vec<(JobId, JobState)> {
    let mut latest: BTreeMap<(String, String), (JobId, JobState)> = BTreeMap::new();
    for (id, state) in states {
        let key = (id.cycle().to_owned(), id.task().to_owned());
        match latest.get(&key) {
            Some((kept, _)) if kept.submit() >= id.submit() => {}
            _ => {
                latest.insert(key, (id, state));
            }
        }
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use protocol_core::wire::FailReason;

    use super::*;

    fn wf() -> WorkflowId {
        "o/w".parse().expect("workflow")
    }

    fn job(task: &str, submit: u8) -> JobId {
        JobId::new(wf(), "1", task, submit).expect("job id")
    }

    #[test]
    fn a_fresh_log_launches_every_task_as_its_first_submission() {
        let tasks = vec!["a".to_owned(), "b".to_owned()];
        let got = plan(&[], &wf(), "1", &tasks).expect("plan");
        assert_eq!(got.launch, vec![job("a", 1), job("b", 1)]);
        assert_eq!((got.waiting.len(), got.finished, got.relaunched), (0, 0, 0));
    }

    #[test]
    fn a_restart_waits_for_running_jobs_relaunches_failed_launches_and_leaves_finished_tasks() {
        let restored = vec![
            (job("run", 1), JobState::Running),
            (job("sub", 1), JobState::Submitted),
            (job("cut", 1), JobState::LaunchFailed),
            (job("cut", 2), JobState::LaunchFailed),
            (job("done", 1), JobState::Succeeded),
            (job("bad", 1), JobState::Failed(FailReason::Exit(3))),
            (JobId::new(wf(), "2", "new", 1).expect("id"), JobState::Running),
        ];
        let tasks: Vec<String> = ["run", "sub", "cut", "done", "bad", "new"].map(String::from).into();
        let got = plan(&restored, &wf(), "1", &tasks).expect("plan");
        // `new` ran at another cycle point only: at this one it is launched afresh.
        assert_eq!(got.launch, vec![job("cut", 3), job("new", 1)]);
        assert_eq!(got.waiting, vec![job("run", 1), job("sub", 1)]);
        assert_eq!((got.finished, got.relaunched), (2, 1));
    }

    #[test]
    fn a_task_out_of_submission_numbers_is_refused_by_name() {
        let restored = vec![(job("t", MAX_SUBMIT), JobState::LaunchFailed)];
        let err = plan(&restored, &wf(), "1", &["t".to_owned()]).expect_err("no submission left");
        assert!(
            matches!(err, PlanError::Submissions { ref task, .. } if task == "t"),
            "{err}"
        );
    }

    #[test]
    fn the_latest_submission_of_each_task_says_how_it_ended() {
        let got = latest_submissions(vec![
            (job("t", 2), JobState::Succeeded),
            (job("t", 1), JobState::LaunchFailed),
            (job("u", 1), JobState::Running),
        ]);
        assert_eq!(
            got,
            vec![(job("t", 2), JobState::Succeeded), (job("u", 1), JobState::Running)]
        );
    }
}
