//! `expgrid run --shard`: every run is in exactly one shard for several shard counts (also
//! more shards than runs), real processes train disjoint shards that together cover the
//! matrix, and `--shard auto` reads Slurm's and Kubernetes' variables or says what is missing.

mod run_fixture;
mod shared_data;

use std::collections::BTreeSet;

use expgrid::cluster::Shard;
use expgrid::config::Experiment;
use expgrid::run::select;
use expgrid::rundir::RunState;
use run_fixture::cluster::{TINY, Workspace};
use run_fixture::text;

const SEVEN: &str = "
matrix:
  seed: [0, 1, 2, 3, 4, 5, 6]
experiment_name: seven/seed-${seed}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28]}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: l2
max_inputs: 200
model: {encoder: conv, channels: [4], code_size: 8, classes: 10}
";

fn names(experiments: &[Experiment], only: &[String], shard: Option<Shard>) -> Vec<String> {
    select(experiments, only, shard)
        .unwrap()
        .iter()
        .map(|(_, run)| run.config.experiment_name.clone())
        .collect()
}

#[test]
fn every_run_is_in_exactly_one_shard() {
    let ws = Workspace::new(&[("seven.yml", SEVEN), ("tiny.yml", TINY)]);
    let experiments: Vec<Experiment> =
        ["seven.yml", "tiny.yml"].iter().map(|f| Experiment::load(&ws.path().join(f)).unwrap()).collect();
    let all = names(&experiments, &[], None);
    assert_eq!(all.len(), 10);
    for count in [1, 2, 3, 4, 10, 11, 25] {
        let mut seen = Vec::new();
        for index in 0..count {
            let shard = names(&experiments, &[], Some(Shard { index, count }));
            assert!(shard.len() <= all.len().div_ceil(count), "shards are balanced: {count} {shard:?}");
            seen.extend(shard);
        }
        seen.sort();
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(seen, expected, "{count} shards: every run once");
    }
    // Runs are dealt by position among the selected runs (seven 0-3, tiny 0-2): 1 and 4.
    assert_eq!(
        names(&experiments, &["*seed-[0-3]".to_string()], Some(Shard { index: 1, count: 3 })),
        ["seven/seed-1", "tiny/seed-0"]
    );
}

#[test]
fn two_shard_processes_train_each_run_once() {
    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    let mut trained = Vec::new();
    for shard in ["0/2", "1/2"] {
        let output = ws.run("tiny.yml", &["--shard", shard]).output().unwrap();
        assert!(output.status.success(), "{}", text(&output));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let names: BTreeSet<String> = stdout
            .lines()
            .filter(|l| l.contains(" done "))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect();
        trained.push(names);
    }
    assert_eq!(trained[0], BTreeSet::from(["tiny/seed-0".to_string(), "tiny/seed-2".to_string()]));
    assert_eq!(trained[1], BTreeSet::from(["tiny/seed-1".to_string()]));
    for seed in 0..3 {
        assert_eq!(ws.run_dir(&format!("tiny/seed-{seed}")).state().unwrap(), RunState::Done);
    }
    // Shard 3 of 4 holds no run: nothing to do, success.
    let output = ws.run("tiny.yml", &["--shard", "3/4"]).output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "\n");
}

#[test]
fn shard_auto_reads_the_environment_or_says_what_is_missing() {
    let ws = Workspace::new(&[("tiny.yml", TINY)]);
    // A Slurm array task 5 of 3..=5 is shard 2 of 3: `tiny/seed-2`, which is done after this.
    let output = ws
        .run("tiny.yml", &["--shard", "auto"])
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let states: Vec<RunState> =
        (0..3).map(|s| ws.run_dir(&format!("tiny/seed-{s}")).state().unwrap()).collect();
    assert_eq!(states, [RunState::Pending, RunState::Pending, RunState::Done]);

    let output = ws.run("tiny.yml", &["--shard", "auto"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: --shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX \
         (a Kubernetes Indexed Job) is set; outside those give the shard as I/N, e.g. --shard 0/4\n"
    );
    let output =
        ws.run("tiny.yml", &["--shard", "auto/2"]).env("JOB_COMPLETION_INDEX", "2").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("task index 2 is not below the shard count 2"));

    let output = ws.run("tiny.yml", &["--shard", "2/2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("`2/2` is not a shard: give I/N with 0 <= I < N"),
        "{}",
        text(&output)
    );
}
