//! `expgrid run` end to end on the real FMNIST files in `../shared/data`: a short training
//! that must learn, reproducibility, kill-and-resume, skip-done, `--reset`, NaN failure and
//! two processes on one file.

mod run_fixture;
mod shared_data;

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use expgrid::rundir::RunState;
use run_fixture::{Workspace, numbers, small_file, text};

const RUN: &str = "small/run_seed-0";

#[test]
fn a_small_vit_learns_fmnist_and_is_probed() {
    let file = "
experiment_name: vit_small
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28], limit: 5000}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28], limit: 1000}
batch_size: 64
learnrate: 0.001
optimizer: AdamW
scheduler: CosineAnnealingLR
loss_function: l2
max_inputs: 15000
probe: {samples: 1000}
model:
  encoder: vit
  image_size: 28
  patch_size: 7
  num_layers: 2
  num_heads: 4
  hidden_dim: 64
  mlp_dim: 128
  code_size: 32
  classes: 10
";
    let ws = Workspace::new(file);
    let start = Instant::now();
    let output = ws.run(&[]);
    assert!(output.status.success(), "{}", text(&output));
    let result = ws.result("vit_small");
    eprintln!("vit_small: {result:?} in {:.1} s", start.elapsed().as_secs_f64());
    assert!(result.accuracy_argmax > 0.6, "accuracy {} (chance is 0.1)", result.accuracy_argmax);
    assert!(result.accuracy_svc.unwrap() > 0.6, "{result:?}");
    assert!(result.accuracy_svc_heldout.unwrap() > 0.6, "{result:?}");
    assert_eq!(result.probe_samples, Some(1000));
    // 5,000 images are 78 batches of 64 and one of 8 per epoch: 3 epochs end exactly at 15,000.
    assert_eq!(result.inputs, 15_000, "stops after the batch that reaches max_inputs");
    assert_eq!(result.steps, 3 * 79);
    let rows = ws.metrics("vit_small");
    assert_eq!(rows.len(), 3, "one validation per 5,000-image epoch, and at the end: {rows:?}");
    assert_eq!(ws.run_dir("vit_small").state().unwrap(), RunState::Done);
}

#[test]
fn the_same_seed_gives_the_same_metrics() {
    let a = Workspace::new(&small_file(""));
    let b = Workspace::new(&small_file(""));
    for ws in [&a, &b] {
        let output = ws.run(&[]);
        assert!(output.status.success(), "{}", text(&output));
    }
    assert_eq!(numbers(&a.metrics(RUN)), numbers(&b.metrics(RUN)));
    let other = Workspace::new(&small_file("").replace("seed: [0]", "seed: [1]"));
    assert!(other.run(&[]).status.success());
    assert_ne!(numbers(&a.metrics(RUN)), numbers(&other.metrics("small/run_seed-1")));
}

#[test]
fn a_killed_run_resumes_to_the_same_numbers() {
    let file = small_file("").replace("max_inputs: 3000", "max_inputs: 6000");
    let reference = Workspace::new(&file);
    assert!(reference.run(&[]).status.success());

    let ws = Workspace::new(&file);
    let mut child = ws.command(&[]).spawn().unwrap();
    let dir = ws.run_dir(RUN);
    let deadline = Instant::now() + Duration::from_secs(120);
    // Kill it once a checkpoint exists, before the end.
    loop {
        let inputs = expgrid::train::checkpoint_inputs(&dir).unwrap_or(0);
        if inputs > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint within 2 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dir.state().unwrap(), RunState::Interrupted, "killed mid-way");
    let output = ws.run(&[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(dir.state().unwrap(), RunState::Done);
    assert_eq!(
        numbers(&ws.metrics(RUN)),
        numbers(&reference.metrics(RUN)),
        "no duplicate rows, same numbers"
    );
}

#[test]
fn done_runs_are_skipped_and_reset_trains_again() {
    let ws = Workspace::new(&small_file(""));
    assert!(ws.run(&[]).status.success());
    let result_path = ws.run_dir(RUN).path().join("result.json");
    let first = std::fs::metadata(&result_path).unwrap().modified().unwrap();

    let output = ws.run(&[]);
    assert!(output.status.success());
    assert!(text(&output).contains("skipped  done"), "{}", text(&output));
    assert_eq!(std::fs::metadata(&result_path).unwrap().modified().unwrap(), first, "not trained again");

    // Report settings do not change what was trained.
    std::fs::write(ws.dir.path().join("exp.yml"), small_file("report: {trends: [{x: seed}]}")).unwrap();
    let output = ws.run(&[]);
    assert!(text(&output).contains("skipped  done"), "{}", text(&output));

    // An edited file does not silently mix with the old result: the run is stale in `run`
    // (exit status 1), `plan` and every report format.
    std::fs::write(
        ws.dir.path().join("exp.yml"),
        small_file("").replace("learnrate: 0.003", "learnrate: 0.002"),
    )
    .unwrap();
    let output = ws.run(&[]);
    assert!(!output.status.success(), "stale results are not a success");
    let out = text(&output);
    assert!(out.contains("STALE    done with an older config: the experiment file changed since"), "{out}");
    assert!(out.contains("1 of 1 runs are stale"), "{out}");
    assert_eq!(std::fs::metadata(&result_path).unwrap().modified().unwrap(), first);
    let plan = ws.expgrid("plan").output().unwrap();
    assert!(String::from_utf8_lossy(&plan.stdout).contains("  stale  "), "{}", text(&plan));
    let report = |format: &str| {
        let output = ws.expgrid("report").args(["--format", format, "--out", "-"]).output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    assert_eq!(json[0]["status"], "stale");
    assert!(json[0]["error"].as_str().unwrap().contains("`expgrid run --reset` trains it again"), "{json}");
    assert!(report("csv").contains(",stale,done with an older config"), "{}", report("csv"));
    assert!(report("md").contains("| stale: done with an older config"), "{}", report("md"));

    let output = ws.run(&["--reset"]);
    assert!(output.status.success(), "{}", text(&output));
    assert_ne!(std::fs::metadata(&result_path).unwrap().modified().unwrap(), first, "trained again");
    assert_eq!(ws.metrics(RUN).len(), 3);
}

#[test]
fn a_nan_loss_fails_that_run_and_the_others_go_on() {
    let file = small_file("")
        .replace("seed: [0]", "seed: [0]\n  lr: [1.0e30, 0.003]")
        .replace("learnrate: 0.003", "learnrate: ${lr}");
    let ws = Workspace::new(&file);
    let output = ws.run(&[]);
    assert!(!output.status.success(), "a failed run makes the exit status non-zero");
    let out = text(&output);
    assert!(out.contains("1 of 2 runs failed"), "{out}");
    let failed = ws.run_dir("small/run_seed-0_lr-1e+30");
    assert_eq!(failed.state().unwrap(), RunState::Failed);
    let error = failed.info().unwrap().unwrap().error.unwrap();
    assert!(error.contains("training loss became"), "{error}");
    assert_eq!(ws.run_dir("small/run_seed-0_lr-0.003").state().unwrap(), RunState::Done);
}

#[test]
fn two_processes_share_the_runs_of_one_file() {
    let ws = Workspace::new(&small_file("").replace("seed: [0]", "seed: [0, 1, 2, 3]"));
    let spawn = || ws.command(&[]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (first, second) = (spawn(), spawn());
    let (a, b) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", text(&a), text(&b));
    let trained = |o: &Output| String::from_utf8_lossy(&o.stdout).matches("  done ").count();
    assert_eq!(trained(&a) + trained(&b), 4, "each run trained exactly once:\n{}\n{}", text(&a), text(&b));
    for seed in 0..4 {
        assert_eq!(ws.run_dir(&format!("small/run_seed-{seed}")).state().unwrap(), RunState::Done);
    }
}

/// `--only 0,1` (a list in one argument) matches nothing: an error, not a silent no-op.
#[test]
fn a_selection_that_matches_no_run_is_an_error() {
    let ws = Workspace::new(&small_file(""));
    let output = ws.run(&["--only", "0,1"]);
    assert!(!output.status.success());
    assert!(text(&output).contains("--only 0,1 matches no run"), "{}", text(&output));
    assert!(text(&output).contains("`--only 1 --only 4`"), "{}", text(&output));
    assert!(!ws.dir.path().join("runs").exists(), "nothing trained");
}

#[test]
fn a_device_typo_stops_before_any_run_folder_is_touched() {
    let ws = Workspace::new(&small_file(""));
    let output = ws.run(&["--device", "gpu"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: invalid value 'gpu' for '--device <DEVICE>': unknown device `gpu`; this build knows: cpu, flex\n\n\
         For more information, try '--help'.\n"
    );
    assert!(!ws.path().join("runs").exists(), "no run folder is created");
}
