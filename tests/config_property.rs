//! A seeded property test over random matrices (values of mixed types, random filters and
//! experiment names): loading never panics; a file that loads gives every run its own run
//! folder (also ignoring letter case, and none inside another); `plan` lists exactly the runs
//! `run` selects; and a file that fails says where and why.
//! A seeded loop rather than proptest: no extra dependency, and a failure prints the file.

use std::collections::HashSet;

use expgrid::config::Experiment;
use expgrid::config::folders::folder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BASE: &str = "
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 100
model: {encoder: conv, classes: 10}
";

/// Matrix values of every kind, including ones whose text or slug coincide.
const VALUES: &[&str] = &[
    "0", "1", "2", "10", "01", "-1", "0.5", "1.0", "3e-4", "0.0003", "'1'", "'a'", "'A'", "a", "b", "'a/b'",
    "'a:b'", "'x y.'", "true", "false", "null", "'true'", "[1, 2]", "[2, 1]", "{k: 1}", "{k: '1'}", "''",
];

/// Filters over keys `k0..`; `{0}` and `{1}` are replaced by key names.
const FILTERS: &[&str] = &[
    "${0} == ${1}",
    "${0} != ${1}",
    "${0} in [1, 'a', true]",
    "${0} is not none",
    "not (${0} == 1 and ${1} == 'a')",
    "${0} == 1 or ${1} != 'b'",
    "true",
    "${0} ~ '' != 'zz'",
];

const NAMES: &[&str] = &[
    "p_${matrix_slug}",
    "p/${matrix_slug}",
    "p_${k0}",
    "fixed",
    "P_${matrix_id}",
    "p_${k0}/${matrix_slug}",
    "q${k0}",
];

fn random_file(rng: &mut ChaCha8Rng) -> (String, usize) {
    let keys = rng.random_range(1..=3);
    let mut text = String::from("matrix:\n");
    for k in 0..keys {
        let count = rng.random_range(1..=4);
        let mut chosen: Vec<&str> = Vec::new();
        while chosen.len() < count {
            chosen.push(VALUES[rng.random_range(0..VALUES.len())]);
        }
        text.push_str(&format!("  k{k}: [{}]\n", chosen.join(", ")));
    }
    if rng.random_bool(0.5) {
        let filter = FILTERS[rng.random_range(0..FILTERS.len())]
            .replace("{0}", &format!("k{}", rng.random_range(0..keys)))
            .replace("{1}", &format!("k{}", rng.random_range(0..keys)));
        text.push_str(&format!("  $filter: \"{filter}\"\n"));
    }
    let name = NAMES[rng.random_range(0..NAMES.len())];
    text.push_str(&format!("experiment_name: '{name}'\n{BASE}"));
    (text, keys)
}

#[test]
fn random_matrices_give_every_run_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("random.yml");
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..400 {
        let (text, _) = random_file(&mut rng);
        std::fs::write(&path, &text).unwrap();
        let outcome = std::panic::catch_unwind(|| Experiment::load(&path));
        let Ok(outcome) = outcome else {
            panic!("case {case}: loading panicked on\n{text}");
        };
        match outcome {
            Ok(exp) => {
                loaded += 1;
                let folders: Vec<String> =
                    exp.runs.iter().map(|r| folder(&r.config.experiment_name)).collect();
                let distinct: HashSet<String> = folders.iter().map(|f| f.to_lowercase()).collect();
                assert_eq!(
                    distinct.len(),
                    folders.len(),
                    "case {case}: shared folders {folders:?} in\n{text}"
                );
                for f in &folders {
                    let mut parent = std::path::Path::new(f).parent();
                    while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                        assert!(
                            !folders.iter().any(|g| g == p.to_str().unwrap()),
                            "case {case}: {f} nested in\n{text}"
                        );
                        parent = p.parent();
                    }
                }
                let slugs: HashSet<&str> = exp.runs.iter().map(|r| r.matrix_slug.as_str()).collect();
                assert_eq!(slugs.len(), exp.runs.len(), "case {case}: repeated slugs in\n{text}");
                let experiments = [exp];
                let planned: Vec<(&str, &str)> = expgrid::plan::rows(&experiments, dir.path())
                    .iter()
                    .map(|row| (row.matrix_id, row.experiment_name))
                    .collect();
                let selected: Vec<(&str, &str)> = expgrid::run::select(&experiments, &[], None)
                    .unwrap()
                    .iter()
                    .map(|(_, run)| (run.matrix_id.as_str(), run.config.experiment_name.as_str()))
                    .collect();
                assert_eq!(planned, selected, "case {case}: plan and run disagree on\n{text}");
                assert!(!planned.is_empty(), "case {case}: a file that loads has runs");
            }
            Err(errors) => {
                refused += 1;
                for err in &errors.0 {
                    assert!(err.pos.line > 0, "case {case}: error without a line: {err}\n{text}");
                    assert!(err.key.is_some(), "case {case}: error without a key: {err}\n{text}");
                }
                if text.contains("${matrix_slug}") && !text.contains("$filter") {
                    let shown = errors.to_string();
                    assert!(
                        shown.contains("listed twice") || !shown.contains("run folder"),
                        "case {case}: names with the slug collided:\n{shown}\n{text}"
                    );
                }
            }
        }
    }
    assert!(
        loaded > 100 && refused > 20,
        "loaded {loaded}, refused {refused}: the generator lost its balance"
    );
}
