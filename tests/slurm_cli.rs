//! `expgrid slurm` against a real Slurm cluster (`.ci/slurm-up.sh` starts a one-node one):
//! a 3-run matrix ends with 3 done runs and a 3-row report; a task preempted with
//! `scancel --batch --signal=USR1` saves a checkpoint, requeues itself, resumes, and ends
//! with the metrics of a run never interrupted. Assertions are on the run folders, not on
//! Slurm's exit codes. Without Slurm the tests say they are skipped; with `CI=true` a missing
//! Slurm is a failure.

mod run_fixture;
mod shared_data;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use expgrid::rundir::{RunState, Status};
use run_fixture::cluster::{TINY, Workspace, tiny_vit};
use run_fixture::{data_dir, numbers, text};

/// Does a Slurm cluster answer here? Panics under CI, where it must.
fn slurm_here(test: &str) -> bool {
    let answers = Command::new("sinfo").args(["-h", "-o", "%t"]).output().is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Slurm cluster answers `sinfo`: .ci/run starts one with .ci/slurm-up.sh"
        );
        eprintln!("{test}: SKIPPED, no Slurm cluster answers `sinfo` here (as root: `bash .ci/slurm-up.sh`)");
    }
    answers
}

fn slurm_command(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?}: {}", text(&output));
    output
}

/// `expgrid slurm FILE --data-dir <shared data>`: the job id.
fn submit(ws: &Workspace, file: &str) -> String {
    let output = ws.expgrid(&["slurm", file, "--data-dir"]).arg(data_dir()).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let job = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(job.parse::<u64>().is_ok(), "a job id: {}", text(&output));
    job
}

/// Wait until `done` holds, at most `limit`; on timeout show the Slurm queue and the logs.
fn wait_for(what: &str, limit: Duration, runs: &Path, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            let queue = Command::new("squeue").arg("-a").output().map(|o| text(&o)).unwrap_or_default();
            let logs: Vec<String> = std::fs::read_dir(runs.join("slurm/logs"))
                .map(|d| {
                    d.flatten()
                        .map(|e| {
                            format!(
                                "{}:\n{}",
                                e.path().display(),
                                std::fs::read_to_string(e.path()).unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            panic!("{what}: not within {limit:?}\nsqueue:\n{queue}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_three_run_matrix_finishes_under_slurm() {
    if !slurm_here("a_three_run_matrix_finishes_under_slurm") {
        return;
    }
    let file = format!("{TINY}report: {{group_over: []}}\n");
    let ws = Workspace::new(&[("tiny.yml", &file)]);
    let job = submit(&ws, "tiny.yml");
    let runs = ws.path().join("runs");
    let dirs: Vec<_> = (0..3).map(|seed| ws.run_dir(&format!("tiny/seed-{seed}"))).collect();
    wait_for("3 done runs", Duration::from_secs(300), &runs, || {
        dirs.iter().all(|d| d.state().is_ok_and(|s| s == RunState::Done))
    });
    for (task, dir) in dirs.iter().enumerate() {
        let info = dir.info().unwrap().unwrap();
        assert_eq!(info.slurm_array_job_id.as_deref(), Some(job.as_str()));
        assert_eq!(info.slurm_array_task_id, Some(task.to_string()));
        let log = std::fs::read_to_string(runs.join(format!("slurm/logs/{job}_{task}.log"))).unwrap();
        assert!(log.contains(&format!("[tiny/seed-{task}] done: validation loss")), "{log}");
    }
    let output = ws.expgrid(&["report", "tiny.yml", "--format", "csv", "--out", "-"]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let csv = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(csv.lines().count(), 1 + 3, "a header and 3 rows:\n{csv}");
    let output = ws.expgrid(&["slurm", "tiny.yml", "--dry-run"]).output().unwrap();
    assert!(text(&output).contains("nothing to submit"), "{}", text(&output));
}

#[test]
fn a_preempted_task_requeues_resumes_and_ends_with_the_same_numbers() {
    if !slurm_here("a_preempted_task_requeues_resumes_and_ends_with_the_same_numbers") {
        return;
    }
    let start = Instant::now();
    let reference = Workspace::new(&[("long.yml", &tiny_vit("preempt/vit", 6000))]);
    let mut reference_child = reference.run("long.yml", &[]).spawn().unwrap();

    let ws = Workspace::new(&[("long.yml", &tiny_vit("preempt/vit", 6000))]);
    let runs = ws.path().join("runs");
    let dir = ws.run_dir("preempt/vit");
    let job = submit(&ws, "long.yml");
    let task = format!("{job}_0");
    wait_for("a first checkpoint", Duration::from_secs(300), &runs, || {
        expgrid::train::checkpoint_inputs(&dir).unwrap_or(0) > 0
    });
    slurm_command("scancel", &["--batch", "--signal=USR1", &task]);
    wait_for("the run interrupted", Duration::from_secs(120), &runs, || {
        dir.info().ok().flatten().is_some_and(|i| i.status == Status::Interrupted)
    });
    let stopped_at = expgrid::train::checkpoint_inputs(&dir).unwrap();
    let preempted_after = start.elapsed();
    // A requeued task waits about 2 minutes before it may start again; start it sooner, but
    // not within the same seconds as the requeue: slurmd still refuses the task's old
    // credential then ("Job credential revoked") and the task fails.
    let mut pending_since = None;
    wait_for("the task requeued and started again", Duration::from_secs(120), &runs, || {
        let state = Command::new("squeue").args(["-h", "-j", &task, "-o", "%T"]).output().map(|o| text(&o));
        if state.is_ok_and(|s| s.trim() == "PENDING") {
            let since = *pending_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(3) {
                let _ = Command::new("scontrol")
                    .args(["update", &format!("JobId={task}"), "StartTime=now"])
                    .output();
            }
        }
        dir.info().ok().flatten().is_some_and(|i| i.status != Status::Interrupted)
    });
    wait_for("the resumed run done", Duration::from_secs(300), &runs, || {
        dir.state().is_ok_and(|s| s == RunState::Done)
    });
    assert!(reference_child.wait().unwrap().success());

    let log = std::fs::read_to_string(runs.join(format!("slurm/logs/{task}.log"))).unwrap();
    assert!(log.contains("stopped by SIGUSR1"), "{log}");
    assert!(log.contains(&format!("Slurm job {task} requeued (requeue 1 of at most 20)")), "{log}");
    assert!(log.contains(&format!("[preempt/vit] start at {stopped_at} of 6000 inputs")), "{log}");
    assert!(stopped_at > 0 && stopped_at < 6000, "{stopped_at}");
    let (resumed, uninterrupted) =
        (dir.result().unwrap().unwrap(), reference.run_dir("preempt/vit").result().unwrap().unwrap());
    assert_eq!(
        numbers(&dir.metrics().unwrap()),
        numbers(&reference.run_dir("preempt/vit").metrics().unwrap())
    );
    assert_eq!(
        (resumed.steps, resumed.validation_loss, resumed.accuracy_argmax, resumed.accuracy_svc),
        (
            uninterrupted.steps,
            uninterrupted.validation_loss,
            uninterrupted.accuracy_argmax,
            uninterrupted.accuracy_svc
        )
    );
    eprintln!(
        "preemption: signal after {:.1} s, checkpoint at {stopped_at} of 6000 inputs, resumed and done after {:.1} s; \
         validation loss {:.6} = {:.6}, accuracy {:.4} = {:.4}, svc {:?} = {:?}",
        preempted_after.as_secs_f64(),
        start.elapsed().as_secs_f64(),
        resumed.validation_loss,
        uninterrupted.validation_loss,
        resumed.accuracy_argmax,
        uninterrupted.accuracy_argmax,
        resumed.accuracy_svc,
        uninterrupted.accuracy_svc
    );
}
