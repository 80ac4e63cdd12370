//! What the environment says about the cluster job this process runs in: Slurm's
//! `SLURM_*` variables (and Kubernetes' `JOB_COMPLETION_INDEX`), read through [`Env`] so
//! tests can give their own.

use std::collections::HashMap;

/// Environment variables: the process's own, or given pairs (tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    given: Option<HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Env {
        Env { given: None }
    }

    /// Only these variables.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env { given: Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()) }
    }

    /// A variable's value; unset and empty are the same.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.given {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    fn number(&self, name: &str) -> Option<u64> {
        self.get(name)?.trim().parse().ok()
    }

    /// Cores this process may use: `SLURM_CPUS_PER_TASK` when set, else the machine's.
    pub fn cores(&self) -> usize {
        self.number("SLURM_CPUS_PER_TASK")
            .filter(|&n| n > 0)
            .map(|n| n as usize)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// The Slurm job this process runs in, if any.
    pub fn slurm_job(&self) -> Option<SlurmJob> {
        let job_id = self.get("SLURM_JOB_ID")?;
        Some(SlurmJob {
            job_id,
            array_job_id: self.get("SLURM_ARRAY_JOB_ID"),
            array_task_id: self.get("SLURM_ARRAY_TASK_ID"),
            restart_count: self.number("SLURM_RESTART_COUNT").unwrap_or(0),
        })
    }
}

/// A Slurm job (or job array task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJob {
    /// `SLURM_JOB_ID`: unique per array task.
    pub job_id: String,
    /// `SLURM_ARRAY_JOB_ID` and `SLURM_ARRAY_TASK_ID` of an array task.
    pub array_job_id: Option<String>,
    pub array_task_id: Option<String>,
    /// `SLURM_RESTART_COUNT`: how often the job was requeued.
    pub restart_count: u64,
}

impl SlurmJob {
    /// The id `scontrol` knows this task by: `<array job>_<task>` for an array task (Slurm's
    /// own form), else the job id.
    pub fn scontrol_id(&self) -> String {
        match (&self.array_job_id, &self.array_task_id) {
            (Some(job), Some(task)) => format!("{job}_{task}"),
            _ => self.job_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_follow_slurm_cpus_per_task() {
        assert_eq!(Env::from_pairs(&[("SLURM_CPUS_PER_TASK", "3")]).cores(), 3);
        let machine = std::thread::available_parallelism().unwrap().get();
        assert_eq!(Env::from_pairs(&[]).cores(), machine);
        assert_eq!(Env::from_pairs(&[("SLURM_CPUS_PER_TASK", "x")]).cores(), machine);
    }

    #[test]
    fn array_tasks_are_named_job_underscore_task() {
        let env = Env::from_pairs(&[
            ("SLURM_JOB_ID", "42"),
            ("SLURM_ARRAY_JOB_ID", "40"),
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_RESTART_COUNT", "1"),
        ]);
        let job = env.slurm_job().unwrap();
        assert_eq!(job.scontrol_id(), "40_2");
        assert_eq!(job.restart_count, 1);
        assert_eq!(Env::from_pairs(&[("SLURM_JOB_ID", "7")]).slurm_job().unwrap().scontrol_id(), "7");
        assert_eq!(Env::from_pairs(&[]).slurm_job(), None);
    }
}
