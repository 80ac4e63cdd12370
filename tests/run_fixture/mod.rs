//! Real `expgrid run` processes on the FMNIST files in `../shared/data`, shared by the run
//! and cluster tests: a workspace folder with an experiment file, the binary, and its run
//! folders; `cluster` adds what the cluster tests share.

#![allow(dead_code)] // each test file uses part of it

pub mod cluster;

// The test binary declares `mod shared_data;` beside `mod run_fixture;`.
pub use crate::shared_data::data_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use expgrid::rundir::{MetricsRow, RunDir, RunResult};

/// A small run: the conv encoder on class-balanced FMNIST subsets.
pub fn small_file(extra: &str) -> String {
    format!(
        "
matrix:
  seed: [0]
experiment_name: small/run_${{matrix_slug}}
train_set: {{dataset: fmnist, split: train, shape: [1, 28, 28], limit: 1000}}
validation_set: {{dataset: fmnist, split: test, shape: [1, 28, 28], limit: 500}}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
scheduler: CosineAnnealingLR
loss_function: l2
max_inputs: 3000
validate_every: 1000
train_input_transforms: [trivial_augment_wide]
probe: {{samples: 500}}
model:
  encoder: conv
  channels: [8, 8]
  code_size: 32
  classes: 10
{extra}"
    )
}

/// A tiny run that checkpoints after every batch: 8 batches of 25 inputs, a validation
/// every 2 batches (the crash tests kill and resume it many times). It trains on the small
/// test split too, which loads six times faster than the training split.
pub fn tiny_file(extra: &str) -> String {
    format!(
        "
matrix:
  seed: [0]
experiment_name: tiny/run_${{matrix_slug}}
train_set: {{dataset: fmnist, split: test, shape: [1, 28, 28], limit: 200}}
validation_set: {{dataset: fmnist, split: test, shape: [1, 28, 28], limit: 100}}
batch_size: 25
learnrate: 0.003
optimizer: AdamW
scheduler: CosineAnnealingLR
loss_function: l2
max_inputs: 200
validate_every: 50
checkpoint_every: 25
train_input_transforms: [trivial_augment_wide]
probe: {{samples: 100}}
model:
  encoder: conv
  channels: [8, 16]
  code_size: 32
  classes: 10
{extra}"
    )
}

/// The run of [`tiny_file`] (seed 0).
pub const TINY_RUN: &str = "tiny/run_seed-0";

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(file_text: &str) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("exp.yml"), file_text).unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `expgrid <subcommand> exp.yml` in the workspace.
    pub fn expgrid(&self, subcommand: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_expgrid"));
        cmd.current_dir(self.dir.path()).arg(subcommand).arg("exp.yml").env("EXPGRID_OFFLINE", "1");
        cmd
    }

    /// `expgrid run exp.yml --data-dir <shared data> ARGS`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.expgrid("run");
        cmd.arg("--data-dir").arg(data_dir()).args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn run_dir(&self, name: &str) -> RunDir {
        RunDir::new(&self.dir.path().join("runs"), name).unwrap()
    }

    pub fn result(&self, name: &str) -> RunResult {
        self.run_dir(name).result().unwrap().expect("result.json")
    }

    pub fn metrics(&self, name: &str) -> Vec<MetricsRow> {
        self.run_dir(name).metrics().unwrap()
    }

    /// The numbers of a finished run: its metrics and result without the timings.
    pub fn final_numbers(&self, name: &str) -> (Vec<Numbers>, RunResult) {
        let result =
            RunResult { train_time_s: 0.0, throughput: 0.0, probe_seconds: None, ..self.result(name) };
        (numbers(&self.metrics(name)), result)
    }

    /// Files and folders named `.tmp-*` anywhere below the run folder.
    pub fn temporaries(&self, name: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![self.run_dir(name).path().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                    found.push(entry.path());
                } else if entry.path().is_dir() {
                    pending.push(entry.path());
                }
            }
        }
        found
    }
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A metrics row without the timing columns, which differ between runs.
pub type Numbers = (u64, u64, f64, f64, f64, Option<f64>, Option<f64>, f64);

pub fn numbers(rows: &[MetricsRow]) -> Vec<Numbers> {
    rows.iter()
        .map(|r| {
            (
                r.inputs,
                r.epoch,
                r.train_loss,
                r.validation_loss,
                r.accuracy_argmax,
                r.accuracy_svc,
                r.accuracy_svc_heldout,
                r.learnrate,
            )
        })
        .collect()
}
