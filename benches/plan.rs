//! Expanding a large matrix: 100,000 combinations with a filter (target: well under a
//! second for the expansion), and planning every run of it (resolve + type-check).
//!
//! Run with `cargo bench --bench plan`.

use std::time::Instant;

use expgrid::config::{Experiment, Matrix, Node, expr};

const FILE: &str = "
matrix:
  a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  c: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  d: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  e: [16, 32, 64, 128, 256]
  f: [0.0, 0.1]
  $filter: ${e} / ${a} == ${e} // ${a} and (${b} != 4 or ${c} == 4)
experiment_name: bench_${matrix_slug}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28]}
batch_size: 64
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 1000
model:
  encoder: conv
  code_size: ${e}
  classes: 10
";

fn main() {
    let dir = std::env::temp_dir().join(format!("expgrid-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.yml");
    std::fs::write(&path, FILE).unwrap();
    let doc = Node::read(&path).unwrap();
    let matrix = Matrix::parse(doc.as_map().unwrap().get("matrix")).unwrap();
    let env = expr::environment();
    let size = matrix.product_size().expect("the bench matrix fits in usize");

    let mut best = f64::INFINITY;
    let mut kept = 0;
    for _ in 0..3 {
        let start = Instant::now();
        kept = matrix.expand(&env, size).unwrap().len();
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "expand: {} combinations, {kept} after the filter: {:.3} s ({:.2} us per combination)",
        size,
        best,
        best * 1e6 / size as f64
    );

    let start = Instant::now();
    let exp = Experiment::load(&path).unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "plan (expand + resolve + type-check every run): {} runs: {:.3} s ({:.1} us per run)",
        exp.runs.len(),
        elapsed,
        elapsed * 1e6 / exp.runs.len() as f64
    );
    std::fs::remove_dir_all(&dir).ok();
}
