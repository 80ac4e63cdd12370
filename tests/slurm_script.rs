//! `expgrid slurm --dry-run`: the generated scripts against golden files in
//! `tests/golden/slurm/` (`EXPGRID_BLESS=1` rewrites them), for defaults, every flag, a
//! `slurm:` mapping with per-run values, a split at the array size limit, and done runs left
//! out. Nothing is submitted and nothing is written. No Slurm needed.

mod golden;
mod run_fixture;
mod shared_data;

use golden::check_slurm_golden;
use run_fixture::cluster::{TINY, Workspace};
use run_fixture::text;

/// `expgrid slurm ARGS --dry-run` in `ws`: stdout with the machine-specific parts replaced.
fn dry_run(ws: &Workspace, args: &[&str]) -> (String, String) {
    let output = ws.expgrid(&["slurm"]).args(args).arg("--dry-run").output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let workdir = ws.path().canonicalize().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout)
        .replace(env!("CARGO_BIN_EXE_expgrid"), "/opt/expgrid/bin/expgrid")
        .replace(workdir.to_str().unwrap(), "/home/me/study")
        .replace(ws.path().to_str().unwrap(), "/home/me/study")
        .replace(&format!("expgrid {}", env!("CARGO_PKG_VERSION")), "expgrid VERSION");
    assert!(!ws.path().join("runs/slurm").exists(), "a dry run writes no script");
    (stdout, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn defaults_give_one_array_over_all_runs() {
    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    let (script, _) = dry_run(&ws, &["tiny.yml"]);
    check_slurm_golden("defaults.sbatch", &script);
}

#[test]
fn every_flag_reaches_the_script() {
    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    let args = [
        "tiny.yml",
        "--partition",
        "gpu",
        "--time",
        "4:00:00",
        "--cpus-per-task",
        "4",
        "--gpus-per-task",
        "1",
        "--mem",
        "16G",
        "--max-parallel",
        "2",
        "--grace",
        "300",
        "--sbatch=--qos=high",
        "--sbatch",
        "--mail-type=END",
        "--runs-dir",
        "out dir",
        "--data-dir",
        "/data/sets",
        "--device",
        "flex",
    ];
    let (script, _) = dry_run(&ws, &args);
    check_slurm_golden("flags.sbatch", &script);
}

#[test]
fn the_files_slurm_mapping_gives_defaults_per_run_and_flags_win() {
    let file = format!(
        "{TINY}slurm: {{partition: short, time: '${{1 + seed // 2}}:00:00', cpus_per_task: 2, sbatch: [--qos=low]}}\n"
    );
    let ws = Workspace::new(&[("tiny.yml", &file)]);
    let (script, _) = dry_run(&ws, &["tiny.yml", "--partition", "long", "--sbatch=--nice=10"]);
    check_slurm_golden("mapping.sbatch", &script);
}

#[test]
fn arrays_are_split_at_the_size_limit_and_done_runs_left_out() {
    let five = TINY.replace("seed: [0, 1, 2]", "seed: [0, 1, 2, 3, 4]");
    let ws = Workspace::new(&[("tiny.yml", &five)]);
    let done = ws.run_dir("tiny/seed-1");
    std::fs::create_dir_all(done.path()).unwrap();
    let info = r#"{"status": "done", "expgrid_version": "0", "experiment_file": "tiny.yml", "matrix_id": "2",
        "matrix_slug": "seed-1", "backend": "flex", "device": "cpu", "seed": 1, "params": 1}"#;
    std::fs::write(done.path().join("run.json"), info).unwrap();
    let (script, stderr) = dry_run(&ws, &["tiny.yml", "--max-array-size", "3"]);
    assert_eq!(stderr, "tiny/seed-1: not submitted, done\n");
    check_slurm_golden("split.sbatch", &script);
}

#[test]
fn nothing_to_submit_and_bad_slurm_keys_are_clear() {
    let ws = Workspace::new(&[("tiny.yml", &TINY.replace("seed: [0, 1, 2]", "seed: [1]"))]);
    let done = ws.run_dir("tiny/seed-1");
    std::fs::create_dir_all(done.path()).unwrap();
    let info = r#"{"status": "done", "expgrid_version": "0", "experiment_file": "tiny.yml", "matrix_id": "1",
        "matrix_slug": "seed-1", "backend": "flex", "device": "cpu", "seed": 1, "params": 1}"#;
    std::fs::write(done.path().join("run.json"), info).unwrap();
    let output = ws.expgrid(&["slurm", "tiny.yml", "--dry-run"]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("nothing to submit: every run is done or left out"), "{}", text(&output));

    let ws = Workspace::new(&[("tiny.yml", &format!("{TINY}slurm: {{partiton: gpu}}\n"))]);
    let output = ws.expgrid(&["slurm", "tiny.yml", "--dry-run"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("slurm.partiton") && stderr.contains("partition"), "{stderr}");

    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    let output =
        ws.expgrid(&["slurm", "tiny.yml", "--dry-run", "--time", "1:00\n#SBATCH --x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: slurm time `1:00\\n#SBATCH --x` contains a line break or control character; give it on one line\n"
    );
}

#[test]
fn a_raised_combination_limit_reaches_every_task() {
    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    let (script, _) = dry_run(&ws, &["tiny.yml", "--max-combinations", "200000"]);
    let exec = script.lines().find(|line| line.starts_with("exec ")).unwrap();
    assert!(exec.ends_with(" --max-combinations 200000"), "{exec}");
    let (script, _) = dry_run(&ws, &["tiny.yml"]);
    assert!(!script.contains("--max-combinations"), "the default limit is not written: {script}");
}
