//! `report.baseline` on real runs: a tiny softmaxᵀ(V) α-grid (α = 0 and 1, two seeds) trained
//! on real FMNIST from `../shared/data`, then `expgrid report` and `expgrid plot --baseline`.

mod shared_data;

use shared_data::data_dir;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

const GRID: &str = "
matrix:
  alpha: [0.0, 1.0]
  seed: [0, 1]
experiment_name: grid/${matrix_slug}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28], limit: 1000}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28], limit: 300}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: ce
max_inputs: 2000
validate_every: 1000
probe: {samples: 300}
model:
  encoder: vit
  image_size: 28
  patch_size: 7
  num_layers: 1
  num_heads: 2
  hidden_dim: 16
  mlp_dim: 32
  value_transform: {kind: softmax_t, alpha: '${alpha}', mode: mix, scale: tokens}
  classes: 10
report:
  baseline: {alpha: 0.0}
";

fn expgrid(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(args)
        .current_dir(dir)
        .env("EXPGRID_OFFLINE", "1")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "expgrid {args:?}: {text}");
    output
}

#[test]
fn a_real_alpha_grid_is_compared_with_alpha_0() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("grid.yml"), GRID).unwrap();
    let start = Instant::now();
    expgrid(dir, &["run", "grid.yml", "--data-dir", data_dir().to_str().unwrap()]);
    eprintln!("4 runs trained in {:.1} s", start.elapsed().as_secs_f64());

    expgrid(dir, &["report", "grid.yml"]);
    let text = std::fs::read_to_string(dir.join("reports/grid.md")).unwrap();
    eprintln!("{text}");
    assert!(text.contains("## Differences to the baseline alpha=0.0"), "{text}");
    for metric in ["validation loss", "accuracy (argmax)", "accuracy (svc)", "accuracy (svc, held-out)"] {
        assert!(text.contains(&format!("| alpha=1.0 | {metric} |")), "{metric}:\n{text}");
    }
    assert_eq!(text.matches("| paired, 2 seeds |").count(), 4, "both α ran seeds 0 and 1:\n{text}");
    let verdict = text.contains("No difference is significant at this budget")
        || text.contains("differences have a 95 % interval that excludes 0: ");
    assert!(verdict, "the section answers the question:\n{text}");
    assert!(dir.join("reports/grid/difference-to-baseline.svg").exists());

    // The CSV numbers are the paired test of the runs' own result.json values.
    let output = expgrid(dir, &["report", "grid.yml", "--format", "json", "--out", "-"]);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let accuracy = |i: usize| runs[i]["accuracy_argmax"].as_f64().unwrap();
    let paired = expgrid::report::stats::paired(&[accuracy(2), accuracy(3)], &[accuracy(0), accuracy(1)]);
    match paired {
        Some(test) => {
            assert_eq!(runs[2]["accuracy_argmax_diff_low"].as_f64().unwrap(), test.low);
            assert_eq!(runs[2]["accuracy_argmax_diff_p"].as_f64().unwrap(), test.p);
        }
        None => assert!(runs[2]["accuracy_argmax_diff_p"].is_null(), "equal differences: no variance"),
    }

    expgrid(dir, &["plot", "grid.yml", "--x", "inputs", "--baseline"]);
    assert!(dir.join("reports/grid/accuracy_argmax-difference-to-baseline.svg").exists());
}
