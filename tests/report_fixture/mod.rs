//! Experiment files and run folders made by the report tests (no training).

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};

use expgrid::config::{Experiment, PlannedRun};
use expgrid::report::collect::Collected;
use expgrid::report::plot::ImageFormat;
use expgrid::report::table::TableOptions;
use expgrid::report::{ReportFormat, ReportOptions, Stamp};
use expgrid::rundir::{MetricsRow, RunDir, RunInfo, RunResult, Status};

/// 2 learnrates x 2 widths x 3 seeds = 12 runs.
pub const SWEEP: &str = "
matrix:
  lr: [0.001, 0.0003]
  width: [16, 32]
  seed: [1, 2, 3]
experiment_name: sweep/${matrix_slug}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: ${lr}
optimizer: AdamW
loss_function: l2
max_inputs: 4000
model: {encoder: conv, code_size: '${width}', classes: 10}
";

/// 3 widths, one run each.
pub const SINGLE: &str = "
matrix:
  width: [16, 32, 64]
experiment_name: single/${matrix_slug}
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 1_000_000
model: {encoder: conv, code_size: '${width}', classes: 10}
";

/// 2 optimizers (text values) x 2 seeds.
pub const OPTIMIZERS: &str = "
matrix:
  opt: [AdamW, SGD]
  seed: [1, 2]
experiment_name: opt/${matrix_slug}
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: ${opt}
loss_function: l2
max_inputs: 4000
model: {encoder: conv, classes: 10}
";

/// What happened to a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate {
    Pending,
    /// Finished with this quality (lower is better loss, higher accuracy).
    Done(f64),
    /// Validated this many times, then the process died.
    Interrupted(f64, usize),
    Failed(f64, usize),
}

/// A temporary folder with an experiment file and its run folders.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

impl Fixture {
    /// Write `text` as `<name>.yml` and give each run its fate.
    pub fn new(name: &str, text: &str, fates: &[Fate]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{name}.yml"));
        std::fs::write(&file, text).unwrap();
        let exp = Experiment::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exp.runs.len(), fates.len(), "one fate per run");
        let fixture = Fixture { dir, file };
        for (run, fate) in exp.runs.iter().zip(fates) {
            make_run(&fixture.runs_dir(), &exp, run, *fate);
        }
        fixture
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    pub fn collect(&self) -> Collected {
        Collected::load(&self.file, &self.runs_dir()).unwrap()
    }

    /// The report text in `format`, written for `<dir>/reports/<name>.md`; the temporary
    /// folder reads `TMP`.
    pub fn report(&self, format: ReportFormat, table: TableOptions, curves: bool) -> String {
        let options = options(format, table, curves);
        let text = expgrid::report::render_report(&self.collect(), &options, &self.md_path()).unwrap();
        text.replace(self.dir.path().to_str().unwrap(), "TMP")
    }

    /// Where the markdown report goes.
    pub fn md_path(&self) -> PathBuf {
        self.dir.path().join("reports").join(self.file.file_stem().unwrap()).with_extension("md")
    }
}

pub fn options(format: ReportFormat, table: TableOptions, curves: bool) -> ReportOptions {
    ReportOptions {
        format,
        table,
        template: expgrid::report::markdown::DEFAULT_TEMPLATE.to_string(),
        curves,
        image: ImageFormat::Svg,
        stamp: Stamp { version: "9.9.9".into(), date: "2026-01-02".into() },
    }
}

/// Deterministic metrics: quality `q` scales the loss, the curve falls with the inputs.
fn rows(max_inputs: u64, q: f64, count: usize) -> Vec<MetricsRow> {
    let every = max_inputs / 4;
    (1..=count as u64)
        .map(|i| MetricsRow {
            inputs: i * every,
            epoch: i,
            train_loss: q * 1.2 / i as f64,
            validation_loss: q / i as f64,
            accuracy_argmax: 1.0 - q * 2.0 / i as f64,
            accuracy_svc: Some(1.0 - q * 1.5 / i as f64),
            accuracy_svc_heldout: Some(1.0 - q * 1.7 / i as f64),
            learnrate: 1e-3,
            elapsed_s: 50.0 * i as f64 * (1.0 + q),
            throughput: 1000.0 / (1.0 + q),
        })
        .collect()
}

fn make_run(root: &Path, exp: &Experiment, run: &PlannedRun, fate: Fate) {
    let dir = RunDir::new(root, &run.config.experiment_name).unwrap();
    let (status, error, q, count) = match fate {
        Fate::Pending => return,
        Fate::Done(q) => (Status::Done, None, q, 4),
        Fate::Interrupted(q, n) => (Status::Running, None, q, n),
        Fate::Failed(q, n) => {
            (Status::Failed, Some("out of memory | CUDA\nbacktrace: ...".to_string()), q, n)
        }
    };
    let params = 1000 * run.config.model.code_size.unwrap_or(1) + 1234;
    dir.create().unwrap();
    dir.write_info(&RunInfo {
        status,
        error,
        expgrid_version: "0.1.0".into(),
        experiment_file: exp.file.display().to_string(),
        git_commit: None,
        matrix_id: run.matrix_id.clone(),
        matrix_slug: run.matrix_slug.clone(),
        backend: "ndarray".into(),
        device: "cpu".into(),
        seed: run.config.seed,
        params,
        started_at: Some("2026-01-01T00:00:00Z".into()),
        finished_at: None,
        session_inputs: None,
        deaths: 0,
        host: None,
        slurm_job_id: None,
        slurm_array_job_id: None,
        slurm_array_task_id: None,
    })
    .unwrap();
    let metrics = rows(run.config.max_inputs, q, count);
    dir.write_metrics(&metrics).unwrap();
    if status == Status::Done {
        let last = metrics.last().unwrap();
        dir.write_result(&RunResult {
            inputs: last.inputs,
            steps: last.inputs / run.config.batch_size as u64,
            validation_loss: last.validation_loss,
            accuracy_argmax: last.accuracy_argmax,
            accuracy_svc: last.accuracy_svc,
            accuracy_svc_heldout: last.accuracy_svc_heldout,
            probe_samples: Some(1000),
            probe_seconds: Some(1.5),
            params,
            train_time_s: last.elapsed_s,
            throughput: last.throughput,
        })
        .unwrap();
    }
}

/// The sweep with every kind of run: lr=0.001 width=16 done x3; width=32 done x2 and one
/// failed; lr=0.0003 width=16 one interrupted, two pending; width=32 all pending.
pub fn sweep() -> Fixture {
    use Fate::*;
    Fixture::new(
        "sweep",
        SWEEP,
        &[
            Done(0.02),
            Done(0.022),
            Done(0.021),
            Done(0.018),
            Done(0.0185),
            Failed(0.03, 1),
            Interrupted(0.015, 3),
            Pending,
            Pending,
            Pending,
            Pending,
            Pending,
        ],
    )
}

/// Compare `actual` with `tests/golden/report/<name>`; `EXPGRID_BLESS=1` rewrites it.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new("tests/golden/report").join(name);
    if std::env::var_os("EXPGRID_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with EXPGRID_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "{} differs (EXPGRID_BLESS=1 rewrites it; review with git diff):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
