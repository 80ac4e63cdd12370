//! `$sample: {n, seed}` in `matrix:`: a seeded subset of the filtered product, without
//! replacement, that keeps the full product's ids and slugs and grows without redrawing.

use std::collections::BTreeSet;
use std::process::Command;

use expgrid::config::Experiment;

/// 4 × 3 × 2 = 24 combinations; the filter keeps 20.
fn file(sample: &str) -> String {
    format!(
        "
matrix:
  width: [8, 16, 32, 64]
  lr: [0.01, 0.001, 0.0001]
  seed: [0, 1]
  $filter: ${{width}} != 8 or ${{lr}} == 0.0001
  {sample}
experiment_name: s/${{matrix_slug}}
train_set: {{dataset: fmnist, split: train, shape: [1, 28, 28]}}
validation_set: {{dataset: fmnist, split: test, shape: [1, 28, 28]}}
batch_size: 8
learnrate: ${{lr}}
optimizer: AdamW
loss_function: l2
max_inputs: 1000
model: {{encoder: conv, code_size: '${{width}}', classes: 10}}
"
    )
}

fn load(text: &str) -> Experiment {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exp.yml");
    std::fs::write(&path, text).unwrap();
    Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// (id, slug) of every planned run.
fn drawn(sample: &str) -> BTreeSet<(String, String)> {
    load(&file(sample)).runs.iter().map(|r| (r.matrix_id.clone(), r.matrix_slug.clone())).collect()
}

#[test]
fn growing_n_keeps_the_runs_already_drawn() {
    let all = drawn("");
    assert_eq!(all.len(), 20);
    let five = drawn("$sample: {n: 5, seed: 0}");
    let ten = drawn("$sample: {n: 10, seed: 0}");
    assert_eq!((five.len(), ten.len()), (5, 10));
    assert!(five.is_subset(&ten), "n = 5 ⊂ n = 10: {five:?} {ten:?}");
    assert!(ten.is_subset(&all), "ids and slugs are those of the full product");
    let other_seed = drawn("$sample: {n: 5, seed: 1}");
    assert_ne!(five, other_seed, "another seed draws another subset");
    assert_eq!(drawn("$sample: {n: 5}"), five, "seed defaults to 0");
    // Without replacement: n at least the filtered count plans every combination.
    let exp = load(&file("$sample: {n: 50, seed: 3}"));
    assert_eq!((exp.runs.len(), exp.sampled_from), (20, Some(20)));
}

#[test]
fn plan_shows_what_was_drawn() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("exp.yml"), file("$sample: {n: 5, seed: 0}")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(["plan", "exp.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "exp.yml: 5 runs (24 combinations before the filter, 20 after it; $sample drew 5 of them, keeping their ids)"
    );
    let ids: Vec<&str> = text.lines().skip(2).map(|l| l.split_whitespace().next().unwrap()).collect();
    let expected: Vec<String> = drawn("$sample: {n: 5, seed: 0}").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, expected, "{text}");
}
