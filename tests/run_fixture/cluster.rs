//! What the cluster tests (`shard_cli`, `stop_cli`, `slurm_script`, `slurm_cli`, `fetch_cli`)
//! share besides the run helpers: a tiny matrix, an `expgrid` command without any Slurm variables
//! of the calling shell, and run-folder helpers.
use std::path::Path;
use std::process::Command;

use super::data_dir;

/// Three tiny runs (seeds 0, 1, 2): a one-layer conv encoder on 200 FMNIST images.
pub const TINY: &str = "
matrix:
  seed: [0, 1, 2]
experiment_name: tiny/seed-${seed}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28], limit: 200}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28], limit: 100}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: l2
max_inputs: 200
probe: {samples: 100}
model: {encoder: conv, channels: [4], code_size: 8, classes: 10}
";

/// One run long enough to be stopped or preempted mid-way: a tiny ViT with dropout (so the
/// random state matters), validated and checkpointed every 1,000 inputs.
pub fn tiny_vit(experiment_name: &str, max_inputs: u64) -> String {
    format!(
        "
experiment_name: {experiment_name}
train_set: {{dataset: fmnist, split: train, shape: [1, 28, 28], limit: 1000}}
validation_set: {{dataset: fmnist, split: test, shape: [1, 28, 28], limit: 200}}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: l2
max_inputs: {max_inputs}
validate_every: 1000
train_input_transforms: [trivial_augment_wide]
probe: {{samples: 200}}
model: {{encoder: vit, image_size: 28, patch_size: 7, num_layers: 1, num_heads: 2, hidden_dim: 16,
        mlp_dim: 32, dropout: 0.1, code_size: 8, classes: 10}}
"
    )
}

/// A temporary folder holding experiment files; commands run in it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(files: &[(&str, &str)]) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `expgrid ARGS` in the workspace, offline, without the caller's Slurm variables.
    pub fn expgrid(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_expgrid"));
        cmd.current_dir(self.path()).args(args).env("EXPGRID_OFFLINE", "1");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SLURM_") {
                cmd.env_remove(name);
            }
        }
        cmd.env_remove("JOB_COMPLETION_INDEX");
        cmd
    }

    /// `expgrid run FILE --data-dir <shared data> ARGS`.
    pub fn run(&self, file: &str, args: &[&str]) -> Command {
        let mut cmd = self.expgrid(&["run", file, "--data-dir"]);
        cmd.arg(data_dir()).args(args);
        cmd
    }

    pub fn run_dir(&self, name: &str) -> expgrid::rundir::RunDir {
        expgrid::rundir::RunDir::new(&self.path().join("runs"), name).unwrap()
    }
}
