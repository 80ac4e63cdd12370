//! After SIGUSR1 (Slurm's warning before a time limit or a preemption) the run has saved its
//! checkpoint; the job's own task is put back into the queue with `scontrol requeue`, so it
//! resumes when it starts again. A cap on `SLURM_RESTART_COUNT` keeps a run that never
//! finishes within its time limit from cycling forever.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::env::SlurmJob;

/// Requeues that `expgrid run` allows by default (`--max-requeues`).
pub const DEFAULT_MAX_REQUEUES: u64 = 20;

/// Requeue `job` unless it was requeued `max_requeues` times already; says what it did.
pub fn requeue(job: &SlurmJob, max_requeues: u64) -> Result<String> {
    let id = job.scontrol_id();
    if job.restart_count >= max_requeues {
        return Ok(format!(
            "Slurm job {id} not requeued: it was requeued {} times already (--max-requeues {max_requeues}); \
             submit it again with `expgrid slurm` to go on",
            job.restart_count
        ));
    }
    let output = Command::new("scontrol")
        .args(["requeue", &id])
        .output()
        .context("cannot run `scontrol requeue` (is Slurm's scontrol on the PATH?)")?;
    if !output.status.success() {
        bail!(
            "`scontrol requeue {id}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(format!("Slurm job {id} requeued (requeue {} of at most {max_requeues})", job.restart_count + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stops_requeueing_without_calling_slurm() {
        let job = SlurmJob {
            job_id: "9".into(),
            array_job_id: Some("8".into()),
            array_task_id: Some("1".into()),
            restart_count: 3,
        };
        assert_eq!(
            requeue(&job, 3).unwrap(),
            "Slurm job 8_1 not requeued: it was requeued 3 times already (--max-requeues 3); submit it \
             again with `expgrid slurm` to go on"
        );
    }
}
