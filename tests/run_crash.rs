//! Crash consistency: a run that checkpoints after every batch is killed with SIGKILL at
//! random moments, and exactly at each of its renames (strace's fault injection), resumed
//! each time, and must end with the metrics and result of a run that was never interrupted.

mod run_fixture;
mod shared_data;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use expgrid::rundir::RunState;
use expgrid::train::checkpoint_inputs;
use rand08::{Rng, SeedableRng, rngs::StdRng};
use run_fixture::{TINY_RUN, Workspace, text, tiny_file};

/// Train (or resume) the tiny run to the end; it must leave no temporaries behind.
fn finish(ws: &Workspace) {
    let output = ws.run(&[]);
    assert!(output.status.success(), "the resume failed:\n{}", text(&output));
    assert_eq!(ws.run_dir(TINY_RUN).state().unwrap(), RunState::Done);
    assert_eq!(ws.temporaries(TINY_RUN), Vec::<std::path::PathBuf>::new(), "leftover temporaries");
}

fn reference() -> Workspace {
    let ws = Workspace::new(&tiny_file(""));
    finish(&ws);
    ws
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_the_same_numbers() {
    let reference = reference();
    let expected = reference.final_numbers(TINY_RUN);
    let mut rng = StdRng::seed_from_u64(13);
    let (mut kills, mut mid_training, mut identical) = (0, 0, 0);
    let chains = 4;
    for _ in 0..chains {
        let ws = Workspace::new(&tiny_file(""));
        let dir = ws.run_dir(TINY_RUN);
        for _ in 0..8 {
            let before = checkpoint_inputs(&dir);
            let mut child = ws.command(&[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            // Wait for training to move (a new checkpoint), then kill a few milliseconds
            // later: the kills land among the steps, validations and checkpoint writes.
            let deadline = Instant::now() + Duration::from_secs(60);
            while checkpoint_inputs(&dir) == before && child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "no progress within a minute");
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_micros(rng.gen_range(0..20_000)));
            let finished = child.try_wait().unwrap().is_some();
            child.kill().unwrap();
            child.wait().unwrap();
            if finished {
                break;
            }
            kills += 1;
            if dir.state().unwrap() != RunState::Done {
                mid_training += 1;
            }
        }
        finish(&ws);
        assert_eq!(
            ws.final_numbers(TINY_RUN),
            expected,
            "a resumed chain differs from the uninterrupted run"
        );
        identical += 1;
    }
    eprintln!(
        "random SIGKILL: {kills} kills ({mid_training} before the run was done), \
         {identical} of {chains} resumed runs identical to the uninterrupted one"
    );
    assert!(kills >= 20, "only {kills} kills landed");
}

/// `strace` with fault injection, or why it cannot be used here.
fn strace_usable() -> Result<(), String> {
    match Command::new("strace").args(["-f", "-qq", "-o", "/dev/null", "true"]).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!("strace cannot trace here: {}", String::from_utf8_lossy(&output.stderr))),
        Err(err) => Err(format!("strace is not installed ({err}); .ci/run installs it")),
    }
}

const RENAMES: &str = "rename,renameat,renameat2";

/// `strace -f ... expgrid run ...` in the workspace.
fn traced(ws: &Workspace, strace_args: &[&str]) -> Command {
    let run = ws.command(&[]);
    let mut cmd = Command::new("strace");
    cmd.current_dir(ws.path())
        .args(["-f", "-qq"])
        .args(strace_args)
        .arg(run.get_program())
        .args(run.get_args());
    cmd.env("EXPGRID_OFFLINE", "1").stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

#[test]
fn sigkill_exactly_at_each_rename_then_resume_gives_the_same_numbers() {
    if let Err(reason) = strace_usable() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let reference = reference();
    let expected = reference.final_numbers(TINY_RUN);

    // How many renames an uninterrupted run makes.
    let counting = Workspace::new(&tiny_file(""));
    let log = counting.path().join("renames.log");
    let trace = format!("trace={RENAMES}");
    let output = traced(&counting, &["-e", &trace, "-o", log.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // strace counts the calls of each syscall apart (std renames files with `renameat`,
    // folders with `rename`): kill at the n-th call of each.
    let trace_log = std::fs::read_to_string(&log).unwrap();
    let calls: Vec<&str> = trace_log
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1)?.split_once('(').map(|(syscall, _)| syscall))
        .filter(|syscall| syscall.starts_with("rename"))
        .collect();
    let renames = calls.len();
    assert!(renames >= 20, "{renames} renames: checkpoints after every batch expected");

    let mut identical = 0;
    let mut syscalls = calls.clone();
    syscalls.sort();
    syscalls.dedup();
    for syscall in syscalls {
        let count = calls.iter().filter(|&&c| c == syscall).count();
        for n in 1..=count {
            let ws = Workspace::new(&tiny_file(""));
            let inject = format!("inject={syscall}:signal=KILL:when={n}");
            let output = traced(&ws, &["-e", &inject, "-o", "/dev/null"]).output().unwrap();
            // strace ends itself with the signal that ended the traced process.
            assert_eq!(
                output.status.signal(),
                Some(9),
                "killed at {syscall} {n} of {count}: {}",
                text(&output)
            );
            finish(&ws);
            assert_eq!(
                ws.final_numbers(TINY_RUN),
                expected,
                "killed at {syscall} {n} of {count}, then resumed"
            );
            identical += 1;
        }
    }
    eprintln!(
        "SIGKILL at each rename: {renames} kills, {identical} resumed runs identical to the uninterrupted one"
    );
}
