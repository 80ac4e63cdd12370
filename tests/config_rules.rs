//! The experiment-file rules: matrix expansion, filter, placeholders, slugs, ids,
//! `$extends`, YAML-1.1 numbers, seeds.

mod shared_data;

use std::path::{Path, PathBuf};

use expgrid::config::schema::{EncoderSpec, OptimizerSpec, SchedulerSpec, TransformSpec};
use expgrid::config::{Experiment, Limits, Value};

/// The smallest valid body; tests add a matrix and override keys.
const BASE: &str = "
experiment_name: t_${matrix_slug}
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 100
model: {encoder: conv, classes: 10}
";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn load(text: &str) -> Experiment {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "exp.yml", text);
    Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "exp.yml", text);
    Experiment::load(&path).expect_err("should fail").to_string()
}

fn ids(exp: &Experiment) -> Vec<&str> {
    exp.runs.iter().map(|r| r.matrix_id.as_str()).collect()
}

#[test]
fn fmnist_vit_plans_exactly_as_documented() {
    let exp = Experiment::load(Path::new("experiments/fmnist-vit.yml")).unwrap();
    assert_eq!(exp.product_size, 6);
    assert_eq!(ids(&exp), ["1", "2", "3", "5", "6"]);
    let first = &exp.runs[0];
    assert_eq!(first.matrix_slug, "patch-7_layer-4_head-4_hidden-256_mlp-512_drop-0.0_cs-128");
    assert_eq!(
        first.config.experiment_name,
        "aug/fmnist_vit_trivaug_patch-7_layer-4_head-4_hidden-256_mlp-512_drop-0.0_cs-128"
    );
    assert_eq!(first.config.max_inputs, 2_000_000);
    assert_eq!(first.config.train_set.shape, [3, 28, 28]);
    assert_eq!(first.config.model.code_size, Some(128));
    assert!(matches!(first.config.optimizer, OptimizerSpec::AdamW { .. }));
    assert_eq!(first.config.scheduler, SchedulerSpec::CosineAnnealingLR);
    assert!(matches!(first.config.train_input_transforms[..], [TransformSpec::TrivialAugmentWide { .. }]));
    match &exp.runs[3].config.model.encoder {
        EncoderSpec::Vit(vit) => {
            assert_eq!((vit.num_layers, vit.num_heads, vit.patch_size, vit.dropout), (8, 8, 7, 0.0));
        }
        other => panic!("expected vit, got {other:?}"),
    }
    assert_eq!(exp.varying_keys(), ["layer", "head"]);
}

#[test]
fn product_is_in_key_order_with_the_first_key_slowest() {
    let exp = load(&format!("matrix:\n  a: [1, 2]\n  b: [x, y, z]\n{BASE}"));
    let pairs: Vec<String> = exp
        .runs
        .iter()
        .map(|r| format!("{}{}", r.values["a"].value_text(), r.values["b"].value_text()))
        .collect();
    assert_eq!(pairs, ["1x", "1y", "1z", "2x", "2y", "2z"]);
}

#[test]
fn matrix_ids_are_padded_to_the_width_of_the_product() {
    let exp = load(&format!("matrix:\n  a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n{BASE}"));
    assert_eq!(ids(&exp)[0], "01");
    assert_eq!(ids(&exp)[9], "10");
    let exp = load(&format!(
        "matrix:\n  a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n{BASE}"
    ));
    assert_eq!(ids(&exp)[0], "001");
    assert_eq!(ids(&exp)[99], "100");
    let exp = load(&format!("matrix:\n  a: [1, 2, 3]\n  $filter: ${{a}} > 1\n{BASE}"));
    assert_eq!(ids(&exp), ["2", "3"], "ids count the unfiltered product");
}

#[test]
fn filter_supports_python_like_operators() {
    let cases = [
        ("${a} / 2 == 1.5", vec!["3"]),
        ("${a} // 2 == 1", vec!["2", "3"]),
        ("${a} % 2 == 0", vec!["2", "4"]),
        ("${a} >= 2 and ${a} < 4", vec!["2", "3"]),
        ("not (${a} == 1 or ${a} == 4)", vec!["2", "3"]),
        ("${a} in [1, 4]", vec!["1", "4"]),
        ("len(${l}) == ${a}", vec!["3"]),
        ("${l}[0] == ${a}", vec!["1"]),
        ("${a} != 2\n    and ${a} != 3", vec!["1", "4"]),
        ("1 < ${a} <= 3", vec!["2", "3"]),
        ("${a} == 1 < 2 or ${a} > 3", vec!["1", "4"]),
    ];
    for (filter, expected) in cases {
        let text = format!("matrix:\n  a: [1, 2, 3, 4]\n  l: [[1, 2, 3]]\n  $filter: {filter}\n{BASE}");
        let exp = load(&text);
        let kept: Vec<String> = exp.runs.iter().map(|r| r.values["a"].value_text()).collect();
        assert_eq!(kept, expected, "filter {filter:?}");
    }
}

/// Python orders a number and a text only where the comparison is reached: `or` and `and`
/// decide first, so a mixed list can still be filtered.
#[test]
fn ordering_a_number_and_a_text_is_an_error_only_where_it_is_evaluated() {
    let text = format!("matrix:\n  s: [1, auto, 3]\n  $filter: ${{s}} == 'auto' or ${{s}} < 2\n{BASE}");
    let kept: Vec<String> = load(&text).runs.iter().map(|r| r.values["s"].value_text()).collect();
    assert_eq!(kept, ["1", "auto"]);
    let err = load_err(&format!("matrix:\n  s: [1, auto]\n  $filter: ${{s}} < 2\n{BASE}"));
    assert!(
        err.contains(
            "matrix.$filter: cannot evaluate `(s) < 2`: invalid operation (`<` between string 'auto' \
             and number 2: Python refuses to order values of different types)"
        ),
        "{err}"
    );
}

#[test]
fn a_lone_placeholder_keeps_its_type_and_text_placeholders_render() {
    let exp = load(&format!(
        "matrix:\n  cs: [64]\n  drop: [0.]\nglobals:\n  SHAPE: [1, 28, 28]\n  DOUBLE: ${{cs * 2}}\n{}",
        BASE.replace("shape: [1, 28, 28]}\nvalidation", "shape: '${SHAPE}'}\nvalidation")
            .replace("experiment_name: t_${matrix_slug}", "experiment_name: t_${cs // 2}_${drop}_${DOUBLE}")
            .replace("{encoder: conv, classes: 10}", "{encoder: conv, code_size: '${DOUBLE}', classes: 10}")
    ));
    let run = &exp.runs[0];
    assert_eq!(run.config.train_set.shape, [1, 28, 28]);
    assert_eq!(run.config.model.code_size, Some(128));
    assert_eq!(run.config.experiment_name, "t_32_0.0_128");
}

#[test]
fn globals_see_matrix_keys_and_earlier_globals() {
    let exp = load(&format!(
        "matrix:\n  h: [256]\nglobals:\n  A: ${{h // 4}}\n  B: ${{A + 1}}\n{}",
        BASE.replace("max_inputs: 100", "max_inputs: ${B}")
    ));
    assert_eq!(exp.runs[0].config.max_inputs, 65);
}

#[test]
fn yaml_1_1_numbers_are_numbers_but_quoted_text_stays_text() {
    let exp = load(
        &BASE
            .replace("max_inputs: 100", "max_inputs: 2_000_000")
            .replace("learnrate: 0.001", "learnrate: 1e-3"),
    );
    assert_eq!(exp.runs[0].config.max_inputs, 2_000_000);
    assert_eq!(exp.runs[0].config.learnrate, 0.001);
    let exp = load(&format!("matrix:\n  n: ['2_000', 2_000]\n{BASE}"));
    assert_eq!(exp.runs[0].values["n"].value, Value::Str("2_000".into()));
    assert_eq!(exp.runs[1].values["n"].value, Value::Int(2000));
}

#[test]
fn a_file_without_runs_is_an_error() {
    let err = load_err(&format!("matrix:\n  a: []\n  b: [1]\n{BASE}"));
    assert!(err.contains("matrix.a: an empty list gives the file no runs"), "{err}");
    let err = load_err(&format!("matrix:\n  a: [1, 2]\n  $filter: ${{a}} > 2\n{BASE}"));
    assert!(err.contains("the filter keeps none of the 2 combinations"), "{err}");
}

#[test]
fn leading_zero_numbers_are_decimal_integers() {
    let exp = load(&format!("matrix:\n  n: [00, 01, 010, '010']\n{BASE}"));
    let values: Vec<&Value> = exp.runs.iter().map(|r| &r.values["n"].value).collect();
    assert_eq!(values, [&Value::Int(0), &Value::Int(1), &Value::Int(10), &Value::Str("010".into())]);
    assert_eq!(exp.runs[2].matrix_slug, "n-10");
    assert_eq!(load(&format!("seed: 010\n{BASE}")).runs[0].config.seed, 10);
}

#[test]
fn values_that_render_alike_still_get_distinct_folders() {
    let exp = load(&format!("matrix:\n  v: ['1', 1, 'a/b', 'a:b']\n{BASE}"));
    let names: std::collections::HashSet<&str> =
        exp.runs.iter().map(|r| r.config.experiment_name.as_str()).collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn the_combination_limit_is_checked_before_expanding() {
    let dir = tempfile::tempdir().unwrap();
    let keys: String = (0..6).map(|i| format!("  k{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n")).collect();
    let path = write(dir.path(), "big.yml", &format!("matrix:\n{keys}{BASE}"));
    let started = std::time::Instant::now();
    let err = Experiment::load(&path).unwrap_err().to_string();
    assert!(err.contains("the matrix has 1000000 combinations (10 k0 x 10 k1 x 10 k2 x 10 k3 x 10 k4 x 10 k5), more than the limit of 100000"), "{err}");
    assert!(err.contains("--max-combinations N"), "{err}");
    assert!(started.elapsed().as_secs() < 5, "refused without expanding");
    let small = write(dir.path(), "small.yml", &format!("matrix:\n  a: [1, 2, 3]\n{BASE}"));
    let err = Experiment::load_with(&small, Limits { max_combinations: 2 }).unwrap_err().to_string();
    assert!(err.contains("the matrix has 3 combinations (3 a), more than the limit of 2"), "{err}");
    assert_eq!(Experiment::load_with(&small, Limits { max_combinations: 3 }).unwrap().runs.len(), 3);
}

#[test]
fn extends_reads_only_small_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let huge = write(dir.path(), "huge.yml", &format!("# {}\n{BASE}", "x".repeat(2 << 20)));
    let child = write(dir.path(), "child.yml", "$extends: huge.yml\nbatch_size: 4\n");
    let err = Experiment::load(&child).unwrap_err().to_string();
    assert!(err.contains("huge.yml: cannot read the experiment file: it is larger than 1 MiB"), "{err}");
    assert!(err.contains("in the file `$extends` names at"), "{err}");
    assert!(err.contains("child.yml:1:11"), "{err}");
    let _ = huge;

    let fifo = dir.path().join("fifo.yml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        let child = write(dir.path(), "fifo-child.yml", "$extends: fifo.yml\n");
        let err = Experiment::load(&child).unwrap_err().to_string();
        assert!(err.contains("it is not a regular file"), "{err}");
    } else {
        eprintln!("skipped the FIFO case: mkfifo is not available");
    }
}

#[test]
fn check_reports_every_error_of_a_run() {
    let text = BASE
        .replace("batch_size: 8", "batch_size: 0")
        .replace("learnrate: 0.001", "learnrate: -1")
        .replace("classes: 10", "classes: 3");
    let err = load_err(&text);
    for expected in
        ["batch_size must be at least 1", "learnrate must be a positive number", "model.classes is 3"]
    {
        assert!(err.contains(expected), "{expected} missing from: {err}");
    }
}

#[test]
fn matrix_errors_are_all_reported() {
    let err = load_err(&format!("matrix:\n  a: 1\n  b: [2, 2]\n  matrix_id: [1]\n{BASE}"));
    assert_eq!(err.matches("error:").count(), 3, "{err}");
}

#[test]
fn filters_must_give_a_boolean() {
    let err = load_err(&format!("matrix:\n  a: [1, 2]\n  $filter: ${{a}} - 1\n{BASE}"));
    assert!(err.contains("the filter must give true or false, it gave 0 (a number) for a=1"), "{err}");
}

#[test]
fn mappings_and_lists_are_matrix_values() {
    let exp = load(&format!(
        "matrix:\n  opt: [{{lr: 0.1, wd: 0}}, {{lr: 0.01, wd: 0.1}}]\n  ch: [[16, 16], [32]]\n{}",
        BASE.replace("learnrate: 0.001", "learnrate: ${opt.lr}")
            .replace("{encoder: conv, classes: 10}", "{encoder: conv, channels: '${ch}', classes: 10}")
    ));
    assert_eq!(exp.runs.len(), 4);
    assert_eq!(exp.runs[0].matrix_slug, "opt-lr=0.1,wd=0_ch-16,16");
    assert_eq!(exp.runs[2].config.learnrate, 0.01);
    match &exp.runs[1].config.model.encoder {
        EncoderSpec::Conv(conv) => assert_eq!(conv.channels, [32]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn slugs_are_file_name_safe_and_unique() {
    let exp = load(&format!("matrix:\n  name: ['a/b', 'a:b', 'ab', 'x y.']\n{BASE}"));
    let slugs: Vec<&str> = exp.runs.iter().map(|r| r.matrix_slug.as_str()).collect();
    assert_eq!(slugs[2], "name-ab", "a clean slug has no hash");
    for slug in &slugs {
        assert!(slug.chars().all(|c| c.is_ascii_alphanumeric() || ".,=+-_".contains(c)), "{slug}");
        assert!(!slug.ends_with('.'));
    }
    assert!(slugs[0].starts_with("name-ab_h") && slugs[0].len() == "name-ab_h".len() + 8, "{}", slugs[0]);
    let unique: std::collections::HashSet<_> = slugs.iter().collect();
    assert_eq!(unique.len(), slugs.len(), "{slugs:?}");
    let long = "v".repeat(300);
    let exp = load(&format!("matrix:\n  name: ['{long}', '{long}w']\n{BASE}"));
    assert!(exp.runs[0].matrix_slug.len() <= 130);
    assert_ne!(exp.runs[0].matrix_slug, exp.runs[1].matrix_slug);
}

#[test]
fn seed_comes_from_the_matrix_or_defaults_to_zero() {
    let exp = load(&format!("matrix:\n  seed: [0, 1, 2]\n{BASE}"));
    let seeds: Vec<u64> = exp.runs.iter().map(|r| r.config.seed).collect();
    assert_eq!(seeds, [0, 1, 2]);
    assert_eq!(load(BASE).runs[0].config.seed, 0);
    assert_eq!(load(&format!("seed: 7\n{BASE}")).runs[0].config.seed, 7);
}

#[test]
fn extends_merges_nested_mappings_and_the_child_wins() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.yml", &format!("matrix:\n  a: [1, 2]\n  b: [3]\n{BASE}"));
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let child = write(
        dir.path(),
        "sub/child.yml",
        "$extends: ../base.yml\nmatrix:\n  a: [5]\n  c: [6, 7]\nbatch_size: 16\nmodel:\n  code_size: 32\n",
    );
    let exp = Experiment::load(&child).unwrap();
    assert_eq!(exp.matrix_keys, ["a", "b", "c"], "a parent key keeps its place");
    assert_eq!(exp.runs.len(), 2);
    let run = &exp.runs[0];
    assert_eq!(run.config.batch_size, 16);
    assert_eq!(run.config.model.code_size, Some(32));
    assert_eq!(run.config.model.classes, 10, "nested keys of the parent stay");
    assert!(matches!(run.config.model.encoder, EncoderSpec::Conv(_)));
}

#[test]
fn errors_of_several_runs_are_all_reported_once_each() {
    let text = format!("matrix:\n  b: [0, -1, -2]\n{}", BASE.replace("batch_size: 8", "batch_size: ${b}"));
    let err = load_err(&text);
    assert_eq!(err.matches("error:").count(), 3, "{err}");
    assert!(err.contains("batch_size: batch_size must be at least 1"), "{err}");
    assert!(err.contains("found the integer -1"), "{err}");
}

#[test]
fn every_shipped_experiment_file_passes_check() {
    let mut count = 0;
    for entry in std::fs::read_dir("experiments").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            Experiment::load(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= 2);
}

#[test]
fn two_files_may_not_give_one_folder_two_configurations() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.yml", BASE);
    let b = write(dir.path(), "b.yml", &BASE.replace("batch_size: 8", "batch_size: 16"));
    let same = write(dir.path(), "same.yml", BASE);
    let load = |paths: &[&PathBuf]| -> Vec<Experiment> {
        paths.iter().map(|p| Experiment::load(p).unwrap()).collect()
    };
    let errors = expgrid::config::folders::shared_across_files(&load(&[&a, &b]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let text = errors[0].to_string();
    assert!(
        text.contains("b.yml:2:18: experiment_name: run 1 names the run folder `t_`, which run 1 of"),
        "{text}"
    );
    assert!(
        expgrid::config::folders::shared_across_files(&load(&[&a, &same])).is_empty(),
        "the same run twice"
    );
}

#[test]
fn the_command_line_refuses_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let three = write(dir.path(), "three.yml", &format!("matrix:\n  a: [1, 2, 3]\n{BASE}"));
    let expgrid = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_expgrid")).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let three = three.to_str().unwrap();
    let (code, err, _) = expgrid(&["check", three, "--max-combinations", "2"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("the matrix has 3 combinations (3 a), more than the limit of 2"), "{err}");
    let (code, _, out) = expgrid(&["check", three, "--max-combinations", "3"]);
    assert_eq!((code, out.trim()), (Some(0), format!("{three}: ok, 3 runs").as_str()));

    let nothing =
        write(dir.path(), "nothing.yml", &format!("matrix:\n  a: [1, 2]\n  $filter: ${{a}} > 2\n{BASE}"));
    let runs = dir.path().join("runs");
    let (code, err, out) = expgrid(&["run", nothing.to_str().unwrap(), "--runs-dir", runs.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(err.contains("the filter keeps none of the 2 combinations"), "{err}");
    assert!(!runs.exists(), "nothing was started");
}

/// `check` judges `limit` by each class's size without reading the data: those sizes must be
/// the real files' (MNIST's classes differ in size). CIFAR-10 is not in the shared folder.
#[test]
fn the_class_sizes_check_uses_are_the_data_files() {
    use expgrid::config::schema::{DatasetName, DatasetSpec, Split};
    use expgrid::data::dataset::class_sizes;
    use expgrid::data::{DataSource, Dataset};
    let data = shared_data::data_dir();
    for dataset in [DatasetName::Mnist, DatasetName::Fmnist] {
        for split in [Split::Train, Split::Test] {
            let spec = DatasetSpec { dataset, split, shape: [1, 28, 28], limit: None };
            let loaded = Dataset::load(&spec, 0, &DataSource::offline(vec![data.clone()])).unwrap();
            assert_eq!(loaded.class_counts(), class_sizes(dataset, split), "{dataset:?} {split:?}");
        }
    }
}

#[test]
fn errors_are_capped_per_file() {
    let keys: String = (0..3).map(|i| format!("  k{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n")).collect();
    let text = format!("matrix:\n{keys}{}", BASE.replace("t_${matrix_slug}", "/abs/${matrix_slug}"));
    let err = load_err(&text);
    assert_eq!(err.matches("error:").count(), 101, "{}", &err[..300]);
    assert!(
        err.ends_with(
            "exp.yml: 900 more errors in other runs are not shown\n  hint: fix the errors above first"
        ),
        "{}",
        &err[err.len() - 200..]
    );
}

#[test]
fn a_whole_float_is_accepted_as_an_integer_and_a_fractional_one_is_not() {
    let exp = load(&BASE.replace("max_inputs: 100", "max_inputs: 2e6"));
    assert_eq!(exp.runs[0].config.max_inputs, 2_000_000);
    let exp =
        load(&format!("matrix:\n  size: [1.6e1]\n{}", BASE.replace("batch_size: 8", "batch_size: ${size}")));
    assert_eq!(exp.runs[0].config.batch_size, 16);
    let err = load_err(&BASE.replace("max_inputs: 100", "max_inputs: 2.5e-1"));
    let (_, at) = err.split_once("/exp.yml:").unwrap_or_else(|| panic!("{err}"));
    assert_eq!(
        at,
        "9:13: max_inputs: expected a whole number >= 0, found the number 0.25\n  \
         hint: write the number without quotes, e.g. `64`, `2_000_000` or `3e-4`"
    );
}
