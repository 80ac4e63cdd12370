//! Stop requests on a real `expgrid run`: SIGTERM mid-training saves a checkpoint at the next
//! step (between validations), records the run as interrupted and exits with status 75; the
//! next `expgrid run` resumes it to the same metrics as a run never interrupted, dropout
//! included.

mod run_fixture;
mod shared_data;

use std::process::Command;
use std::time::{Duration, Instant};

use expgrid::rundir::{RunState, Status};
use run_fixture::cluster::{Workspace, tiny_vit};
use run_fixture::{numbers, text};

const RUN: &str = "stop/vit";

#[test]
fn sigterm_saves_a_checkpoint_and_the_resumed_run_ends_with_the_same_numbers() {
    let reference = Workspace::new(&[("vit.yml", &tiny_vit(RUN, 4000))]);
    let mut reference_child = reference.run("vit.yml", &[]).spawn().unwrap();

    let ws = Workspace::new(&[("vit.yml", &tiny_vit(RUN, 4000))]);
    let child = ws.run("vit.yml", &[]).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let dir = ws.run_dir(RUN);
    let deadline = Instant::now() + Duration::from_secs(180);
    while expgrid::train::checkpoint_inputs(&dir).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no checkpoint within 3 minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM: interrupted runs resume"), "{stderr}");
    let stopped_at = expgrid::train::checkpoint_inputs(&dir).unwrap();
    eprintln!("stopped at {stopped_at} inputs");
    assert!(
        stopped_at > 1000 && stopped_at < 4000,
        "a checkpoint at the step after the signal: {stopped_at}"
    );
    assert_eq!(dir.info().unwrap().unwrap().status, Status::Interrupted);
    assert_eq!(dir.state().unwrap(), RunState::Interrupted);

    let output = ws.run("vit.yml", &[]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains(&format!("start at {stopped_at} of 4000 inputs")), "{}", text(&output));
    assert!(reference_child.wait().unwrap().success());
    let (resumed, uninterrupted) =
        (dir.result().unwrap().unwrap(), reference.run_dir(RUN).result().unwrap().unwrap());
    assert_eq!(
        (
            resumed.inputs,
            resumed.steps,
            resumed.validation_loss,
            resumed.accuracy_argmax,
            resumed.accuracy_svc
        ),
        (
            uninterrupted.inputs,
            uninterrupted.steps,
            uninterrupted.validation_loss,
            uninterrupted.accuracy_argmax,
            uninterrupted.accuracy_svc
        )
    );
    assert_eq!(numbers(&dir.metrics().unwrap()), numbers(&reference.run_dir(RUN).metrics().unwrap()));
    let info = dir.info().unwrap().unwrap();
    assert_eq!(info.host, Some(gethostname::gethostname().into_string().unwrap()));
    assert_eq!(info.slurm_job_id, None, "not under Slurm");
}
