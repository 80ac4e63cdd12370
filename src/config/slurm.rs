//! `slurm:` — cluster settings a study carries for `expgrid slurm` (the same names as its
//! flags, which win). Not part of what a run trains: a change here never counts as a
//! changed run config.

use serde::{Deserialize, Serialize};

/// `slurm:`: every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// `--partition`.
    #[serde(default)]
    pub partition: Option<String>,
    /// `--time`, in any form sbatch takes (`90`, `4:00:00`, `1-12`).
    #[serde(default)]
    pub time: Option<String>,
    /// `--gpus-per-task`.
    #[serde(default)]
    pub gpus_per_task: Option<u32>,
    /// `--cpus-per-task` (expgrid then trains with that many threads).
    #[serde(default)]
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `16G`.
    #[serde(default)]
    pub mem: Option<String>,
    /// At most this many array tasks at once (`--array=…%P`).
    #[serde(default)]
    pub max_parallel: Option<u32>,
    /// Seconds before the time limit at which Slurm sends SIGUSR1 (`--signal=B:USR1@grace`).
    #[serde(default)]
    pub grace: Option<u32>,
    /// Further `#SBATCH` arguments, e.g. `--qos=high`.
    #[serde(default)]
    pub sbatch: Vec<String>,
}

impl SlurmSpec {
    /// `self`'s values where set, `defaults`' otherwise (`sbatch`: both, `defaults` first).
    pub fn or(&self, defaults: &SlurmSpec) -> SlurmSpec {
        SlurmSpec {
            partition: self.partition.clone().or_else(|| defaults.partition.clone()),
            time: self.time.clone().or_else(|| defaults.time.clone()),
            gpus_per_task: self.gpus_per_task.or(defaults.gpus_per_task),
            cpus_per_task: self.cpus_per_task.or(defaults.cpus_per_task),
            mem: self.mem.clone().or_else(|| defaults.mem.clone()),
            max_parallel: self.max_parallel.or(defaults.max_parallel),
            grace: self.grace.or(defaults.grace),
            sbatch: defaults.sbatch.iter().chain(&self.sbatch).cloned().collect(),
        }
    }
}
