//! Faults other than a kill: a panicking run beside a healthy one, a full disk, a damaged
//! checkpoint, damaged run files, a read-only runs folder. Each must end in a clear message
//! and a state from which `expgrid run` finishes with the numbers of an undisturbed run.

mod run_fixture;
mod shared_data;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use expgrid::rundir::{RunState, Status};
use expgrid::train::checkpoint_inputs;
use run_fixture::{TINY_RUN, Workspace, text, tiny_file};

const FAULT: &str = "EXPGRID_FAULT";

fn report_json(ws: &Workspace) -> serde_json::Value {
    let output = ws.expgrid("report").args(["--format", "json", "--out", "-"]).output().unwrap();
    assert!(output.status.success(), "the report must not fail: {}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The record of `experiment_name` in a JSON report.
fn record<'a>(report: &'a serde_json::Value, experiment_name: &str) -> &'a serde_json::Value {
    report.as_array().unwrap().iter().find(|r| r["experiment_name"] == experiment_name).unwrap()
}

fn undisturbed() -> Workspace {
    let ws = Workspace::new(&tiny_file(""));
    assert!(ws.run(&[]).status.success());
    ws
}

#[test]
fn a_panicking_run_fails_alone_and_the_other_worker_trains_on() {
    let file = tiny_file("")
        .replace("seed: [0]", "seed: [0]\n  budget: [100, 200]")
        .replace("max_inputs: 200", "max_inputs: ${budget}");
    let ws = Workspace::new(&file);
    let output = ws.command(&["-j", "2"]).env(FAULT, "panic-at-input:150").output().unwrap();
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("FAILED   panicked: EXPGRID_FAULT: panicking at input 150 as asked"), "{out}");
    assert!(out.contains("1 of 2 runs failed"), "{out}");
    let (healthy, panicked) = ("tiny/run_seed-0_budget-100", "tiny/run_seed-0_budget-200");
    assert_eq!(ws.run_dir(healthy).state().unwrap(), RunState::Done);
    let info = ws.run_dir(panicked).info().unwrap().unwrap();
    assert_eq!(info.status, Status::Failed);
    assert_eq!(info.error.as_deref(), Some("panicked: EXPGRID_FAULT: panicking at input 150 as asked"));
    let report = report_json(&ws);
    assert_eq!(record(&report, healthy)["status"], "done");
    assert_eq!(record(&report, panicked)["status"], "failed");
    assert!(record(&report, panicked)["error"].as_str().unwrap().starts_with("panicked: "));

    // Without the fault, the failed run is retried from its last checkpoint (125 inputs).
    // (Its numbers are not compared: runs trained side by side with `-j` share burn's
    // random generator, see the README.)
    assert_eq!(checkpoint_inputs(&ws.run_dir(panicked)), Some(125));
    let output = ws.run(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(ws.run_dir(panicked).state().unwrap(), RunState::Done);
    assert_eq!(ws.result(panicked).inputs, 200);
    let inputs: Vec<u64> = ws.metrics(panicked).iter().map(|row| row.inputs).collect();
    assert_eq!(inputs, [50, 100, 150, 200], "every validation once");
}

#[test]
fn a_run_that_keeps_killing_its_process_is_failed_after_three_deaths() {
    let ws = Workspace::new(&tiny_file(""));
    let dir = ws.run_dir(TINY_RUN);
    let abort = || ws.command(&[]).env(FAULT, "abort-at-input:10").output().unwrap();
    for deaths_before in 0..3 {
        let output = abort();
        assert_eq!(output.status.signal(), Some(6), "aborted (SIGABRT): {}", text(&output));
        assert_eq!(dir.info().unwrap().unwrap().deaths, deaths_before);
    }
    // The fourth `expgrid run`, and any later one, gives up on it instead of dying (and
    // taking the other runs of the process with it) once more.
    for output in [abort(), ws.run(&[])] {
        let out = text(&output);
        assert_eq!(output.status.code(), Some(1), "{out}");
        assert!(
            out.contains(
                "FAILED   the process training it died 3 times in a row before its next checkpoint (at 0 inputs)"
            ),
            "{out}"
        );
        assert!(out.contains("`expgrid run --only 1` retries it"), "{out}");
        assert_eq!(dir.state().unwrap(), RunState::Failed);
    }
    // Named with `--only`, it is retried (and, the fault gone, trains to the end).
    let output = ws.run(&["--only", "1"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(dir.state().unwrap(), RunState::Done);
}

/// A small tmpfs mounted on a folder while it lives.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a tmpfs (root needed): {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(Tmpfs { path: path.to_path_buf() })
    }

    /// Free bytes.
    fn available(&self) -> u64 {
        let output = Command::new("df").args(["--output=avail", "-B1"]).arg(&self.path).output().unwrap();
        String::from_utf8_lossy(&output.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn folder_size(path: &Path) -> u64 {
    std::fs::read_dir(path).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

#[test]
fn a_full_disk_fails_the_run_clearly_and_it_resumes_once_space_is_back() {
    let ws = Workspace::new(&tiny_file(""));
    let disk = match Tmpfs::mount(&ws.path().join("runs"), "8m") {
        Ok(disk) => disk,
        Err(reason) => {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
    // A first session leaves one checkpoint (25 inputs; the fault stops it at 50).
    let output = ws.command(&[]).env(FAULT, "panic-at-input:50").output().unwrap();
    assert!(text(&output).contains("panicking at input 50"), "{}", text(&output));
    let dir = ws.run_dir(TINY_RUN);
    assert_eq!(checkpoint_inputs(&dir), Some(25));
    let checkpoint = folder_size(&dir.checkpoint_dir());
    // Leave room for the small files, not for a second checkpoint.
    let room = 64 * 1024;
    assert!(checkpoint > 2 * room, "the checkpoint ({checkpoint} bytes) must not fit into {room}");
    let filler = ws.path().join("runs/filler");
    std::fs::write(&filler, vec![1u8; (disk.available() - room) as usize]).unwrap();

    let output = ws.run(&[]);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    assert!(
        out.contains(
            "the disk is full: free space, then `expgrid run` resumes from the last complete checkpoint"
        ),
        "{out}"
    );
    assert_eq!(checkpoint_inputs(&dir), Some(25), "the complete checkpoint is kept");
    assert_eq!(ws.temporaries(TINY_RUN), Vec::<PathBuf>::new(), "no half-written temporaries");

    std::fs::remove_file(&filler).unwrap();
    let output = ws.run(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(ws.final_numbers(TINY_RUN), undisturbed().final_numbers(TINY_RUN));
}

#[test]
fn a_damaged_checkpoint_falls_back_to_the_previous_one_and_leftovers_are_removed() {
    let ws = Workspace::new(&tiny_file(""));
    let output = ws.command(&[]).env(FAULT, "panic-at-input:100").output().unwrap();
    assert!(!output.status.success());
    let dir = ws.run_dir(TINY_RUN);
    assert_eq!(checkpoint_inputs(&dir), Some(75));
    // One flipped byte in the newest model; what a killed writer leaves behind.
    let model = dir.checkpoint_dir().join("model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&model, bytes).unwrap();
    std::fs::create_dir(dir.path().join(".tmp-abc123")).unwrap();
    std::fs::write(dir.path().join(".tmp-abc123/model.bpk"), b"half").unwrap();
    std::fs::write(dir.path().join(".tmp-def456"), b"half").unwrap();

    let output = ws.run(&[]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("checkpoint/model.bpk is damaged (its checksum differs from the one in state.json)"),
        "{out}"
    );
    assert!(out.contains("checkpoint.prev at 50 inputs"), "{out}");
    assert_eq!(ws.temporaries(TINY_RUN), Vec::<PathBuf>::new());
    assert_eq!(ws.final_numbers(TINY_RUN), undisturbed().final_numbers(TINY_RUN));
}

#[test]
fn damaged_run_files_are_reported_as_damaged_and_run_rebuilds_them() {
    let ws = Workspace::new(&tiny_file("").replace("seed: [0]", "seed: [0, 1, 2]"));
    assert!(ws.run(&[]).status.success());
    let names = ["tiny/run_seed-0", "tiny/run_seed-1", "tiny/run_seed-2"];
    let before: Vec<_> = names.iter().map(|name| ws.final_numbers(name)).collect();
    // Garbage; for metrics.csv, a row cut short after its header.
    for (name, file) in names.iter().zip(["result.json", "metrics.csv", "run.json"]) {
        let path = ws.run_dir(name).path().join(file);
        let header = std::fs::read_to_string(&path).unwrap().lines().next().unwrap().to_string();
        let damaged = if file == "metrics.csv" { format!("{header}\n50,0,0.1") } else { "garbage".into() };
        std::fs::write(path, damaged).unwrap();
    }

    let report = report_json(&ws);
    for (name, file) in names.iter().zip(["result.json", "metrics.csv", "run.json"]) {
        let run = record(&report, name);
        assert_eq!(run["status"], "damaged", "{run}");
        let error = run["error"].as_str().unwrap();
        assert!(
            error
                .contains(&format!("{file} is damaged: `expgrid run` rebuilds it from the run's checkpoint")),
            "{error}"
        );
    }
    let plan = ws.expgrid("plan").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&plan.stdout).matches("  damaged  ").count(), 3, "{}", text(&plan));

    let output = ws.run(&[]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert_eq!(out.matches("repairing: ").count(), 3, "{out}");
    for (name, numbers) in names.iter().zip(&before) {
        assert_eq!(ws.run_dir(name).state().unwrap(), RunState::Done);
        assert_eq!(&ws.final_numbers(name), numbers, "{name} rebuilt with its numbers");
    }
    let report = report_json(&ws);
    assert!(report.as_array().unwrap().iter().all(|r| r["status"] == "done"), "{report}");
}

#[test]
fn a_done_run_in_a_read_only_runs_folder_is_done() {
    let ws = undisturbed();
    let read_only = ws.path().join("runs-ro");
    std::fs::create_dir(&read_only).unwrap();
    let bind = Command::new("mount").arg("--bind").arg(ws.path().join("runs")).arg(&read_only).status();
    if !bind.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot bind-mount a folder (root needed)");
        return;
    }
    let remount = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&read_only).status().unwrap();
    let output = ws.run(&["--runs-dir", "runs-ro"]);
    let _ = Command::new("umount").arg(&read_only).status();
    assert!(remount.success(), "cannot make the bind mount read-only");
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("skipped  done"), "{}", text(&output));
}

#[test]
fn zero_jobs_is_an_error() {
    let ws = Workspace::new(&tiny_file(""));
    let output = ws.run(&["-j", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("invalid value '0' for '--jobs <JOBS>': 0 is not in 1..=65535"),
        "{}",
        text(&output)
    );
}

#[test]
fn a_checkpoint_of_an_earlier_expgrid_resumes_to_the_same_numbers() {
    let ws = Workspace::new(&tiny_file(""));
    let output = ws.command(&[]).env(FAULT, "abort-at-input:110").output().unwrap();
    assert_eq!(output.status.signal(), Some(6), "aborted (SIGABRT): {}", text(&output));
    // Rewrite the checkpoint as expgrid wrote it before checksums: `state.json` is the bare
    // state (no rows, no probe, no checksums), and there is no fallback folder.
    let dir = ws.run_dir(TINY_RUN);
    let state_path = dir.checkpoint_dir().join("state.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    let mut state = file["state"].clone();
    for key in ["rows", "probe_samples", "probe_seconds"] {
        state.as_object_mut().unwrap().remove(key);
    }
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(dir.previous_checkpoint_dir());
    assert_eq!(checkpoint_inputs(&dir), Some(100));

    let output = ws.run(&[]);
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("written by an earlier expgrid (no checksums): loading it unverified"), "{out}");
    assert_eq!(ws.final_numbers(TINY_RUN), undisturbed().final_numbers(TINY_RUN));
}
