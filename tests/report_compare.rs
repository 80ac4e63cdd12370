//! `report: {baseline: ...}`: the t-tests against scipy's (`tests/fixtures/stats/`), the
//! comparison section of the markdown report, its CSV/JSON fields, baseline matching within
//! the other keys, clear errors, and `expgrid plot --x inputs --baseline`.

mod report_fixture;

use std::path::Path;
use std::process::{Command, Output};

use expgrid::report::ReportFormat;
use expgrid::report::compare::{self, Baselines};
use expgrid::report::stats::{self, Difference, Test};
use expgrid::report::table::TableOptions;
use report_fixture::{Fate, Fixture, golden, sweep};
use serde_json::Value;

/// The scipy results written by `tests/fixtures/stats/make_stats_fixtures.py`.
fn scipy_cases() -> Vec<Value> {
    let text = std::fs::read_to_string("tests/fixtures/stats/ttests.json").unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["cases"].as_array().unwrap().clone()
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

fn close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1e-3);
    assert!((actual - expected).abs() <= tolerance, "{what}: {actual} vs scipy {expected}");
}

fn assert_matches_scipy(ours: &Difference, scipy: &Value, name: &str) {
    for (field, actual) in
        [("t", ours.t), ("df", ours.df), ("p", ours.p), ("low", ours.low), ("high", ours.high)]
    {
        close(actual, scipy[field].as_f64().unwrap(), &format!("{name}: {field}"));
    }
}

#[test]
fn welch_and_paired_tests_match_scipy() {
    let cases = scipy_cases();
    assert!(cases.len() >= 6);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let (a, b) = (numbers(&case["a"]), numbers(&case["b"]));
        let welch = stats::welch(&a, &b).unwrap();
        assert_eq!(welch.test, Test::Welch);
        assert_matches_scipy(&welch, &case["welch"], name);
        assert_eq!(
            stats::repeats_needed(&welch),
            case["welch_repeats_needed"].as_u64().map(|n| n as usize),
            "{name}"
        );
        assert_eq!(welch.significant(), case["welch"]["p"].as_f64().unwrap() < 0.05, "{name}");
        if let Some(scipy) = case.get("paired") {
            let paired = stats::paired(&a, &b).unwrap();
            assert_matches_scipy(&paired, scipy, &format!("{name} (paired)"));
            assert_eq!(
                stats::repeats_needed(&paired),
                case["paired_repeats_needed"].as_u64().map(|n| n as usize),
                "{name}"
            );
        }
    }
}

#[test]
fn a_single_run_or_no_variance_gives_no_test() {
    assert!(stats::welch(&[1.0], &[1.0, 2.0]).is_none());
    assert!(stats::welch(&[1.0, 1.0], &[2.0, 2.0]).is_none());
    assert!(stats::paired(&[1.0, 2.0], &[0.5, 1.5]).is_none(), "constant differences");
    let single = compare::compare(&vec![(1, 0.5)], &vec![(1, 0.4), (2, 0.6)]).unwrap();
    assert!((single.diff - 0.0).abs() < 1e-12 && single.test.is_none() && !single.significant());
    // Paired only when both sides ran the same seeds.
    let same = compare::compare(&vec![(2, 0.5), (1, 0.7)], &vec![(1, 0.6), (2, 0.45)]).unwrap();
    assert_eq!(same.test.unwrap().test, Test::Paired);
    let other = compare::compare(&vec![(1, 0.5), (3, 0.7)], &vec![(1, 0.6), (2, 0.45)]).unwrap();
    assert_eq!(other.test.unwrap().test, Test::Welch);
}

/// Three α values over three seeds, compared with α = 0: the validation losses are the
/// fixture case "clear loss difference" / 16 (the report fixture's loss is quality / 4).
const ALPHA: &str = "
matrix:
  alpha: [0.0, 0.5, 1.0]
  seed: [1, 2, 3]
experiment_name: alpha/${matrix_slug}
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 4000
model: {encoder: conv, classes: 10}
report: {baseline: {alpha: 0.0}}
";

fn alpha() -> Fixture {
    use Fate::*;
    let case = &scipy_cases()[1];
    assert_eq!(case["name"], "clear loss difference");
    let (a, b) = (numbers(&case["a"]), numbers(&case["b"]));
    let mut fates: Vec<Fate> = b.iter().chain(&a).map(|loss| Done(loss / 4.0)).collect();
    fates.extend([Done(1.03 / 4.0), Pending, Pending]);
    Fixture::new("alpha", ALPHA, &fates)
}

#[test]
fn the_report_compares_every_row_with_the_baseline() {
    let text = alpha().report(ReportFormat::Md, TableOptions::default(), false);
    golden("compare.md", &text);
    assert!(text.contains("## Differences to the baseline alpha=0.0"), "{text}");
    assert!(
        text.contains("| alpha=0.5 | validation loss | **+0.0028854** | **[+0.0017977, +0.0039732]** | 0.008 | paired, 3 seeds | 3 |"),
        "{text}"
    );
    assert!(
        text.contains("| alpha=1.0 | validation loss | +0.00097917 | — | — | n = 1 vs 3: no interval | — |"),
        "{text}"
    );
    assert!(
        text.contains(
            "4 of 4 differences have a 95 % interval that excludes 0: 0 better than the baseline, 4 worse.\n\
             No row is significantly better than the baseline at this budget.\n"
        ),
        "{text}"
    );
    assert!(text.contains("4 of 8 differences come from a single run on a side (n = 1)"), "{text}");
    assert!(
        text.contains("![difference to the baseline alpha=0.0](alpha/difference-to-baseline.svg)"),
        "{text}"
    );
}

#[test]
fn csv_and_json_carry_the_differences_and_scipy_agrees() {
    let fixture = alpha();
    let scipy = &scipy_cases()[1]["paired"];
    let text = fixture.report(ReportFormat::Csv, TableOptions::default(), false);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let field =
        |row: &csv::StringRecord, name: &str| row[header.iter().position(|h| h == name).unwrap()].to_string();
    let number = |row: &csv::StringRecord, name: &str| field(row, name).parse::<f64>().unwrap();
    // The runs of α = 0.5 (rows 3..6) all carry their row's comparison.
    for row in &rows[3..6] {
        assert_eq!(field(row, "baseline_row"), "alpha=0.0");
        assert_eq!(field(row, "validation_loss_diff_test"), "paired");
        assert_eq!(field(row, "validation_loss_diff_significant"), "true");
        close(16.0 * number(row, "validation_loss_diff_low"), scipy["low"].as_f64().unwrap(), "low");
        close(16.0 * number(row, "validation_loss_diff_high"), scipy["high"].as_f64().unwrap(), "high");
        close(number(row, "validation_loss_diff_p"), scipy["p"].as_f64().unwrap(), "p");
        assert_eq!(field(row, "validation_loss_diff_repeats_needed"), "3");
    }
    // The baseline's runs have no differences; α = 1.0 has one without an interval.
    assert_eq!(field(&rows[0], "baseline_row"), "");
    assert_eq!(field(&rows[0], "validation_loss_diff"), "");
    assert_eq!(field(&rows[6], "validation_loss_diff_low"), "");
    assert!((16.0 * number(&rows[6], "validation_loss_diff") - (1.03 - 1.0143333333333333)).abs() < 1e-12);

    let json: Vec<Value> =
        serde_json::from_str(&fixture.report(ReportFormat::Json, TableOptions::default(), false)).unwrap();
    assert_eq!(json[4]["accuracy_argmax_diff_test"], "paired");
    assert_eq!(json[4]["accuracy_argmax_diff_significant"], true);
    assert!(json[4]["accuracy_argmax_diff"].as_f64().unwrap() < 0.0, "a higher loss, a lower accuracy");
    assert_eq!(json[0]["accuracy_argmax_diff"], Value::Null);
}

/// Two widths: each α = 0.5 row is compared with the α = 0 row of its own width.
const WIDTHS: &str = "
matrix:
  width: [16, 32]
  alpha: [0.0, 0.5]
  seed: [1, 2, 3]
experiment_name: widths/${matrix_slug}
train_set: {dataset: mnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: mnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 4000
model: {encoder: conv, code_size: '${width}', classes: 10}
report: {baseline: {alpha: 0}}
";

#[test]
fn the_baseline_is_matched_within_the_other_keys() {
    use Fate::*;
    let fates = [
        Done(0.10),
        Done(0.12),
        Done(0.11),
        // width 16, α 0.5: seed 3 has not run, so the seeds differ: Welch's test.
        Done(0.20),
        Done(0.23),
        Pending,
        Done(0.30),
        Done(0.31),
        Done(0.33),
        Done(0.40),
        Done(0.40),
        Done(0.44),
    ];
    let fixture = Fixture::new("widths", WIDTHS, &fates);
    let json: Vec<Value> =
        serde_json::from_str(&fixture.report(ReportFormat::Json, TableOptions::default(), false)).unwrap();
    assert_eq!(json[3]["baseline_row"], "width=16, alpha=0.0", "`alpha: 0` matches the value 0.0");
    assert_eq!(json[3]["validation_loss_diff_test"], "welch");
    let welch = stats::welch(&[0.05, 0.0575], &[0.025, 0.03, 0.0275]).unwrap();
    close(json[3]["validation_loss_diff_low"].as_f64().unwrap(), welch.low, "welch low");
    assert_eq!(json[9]["baseline_row"], "width=32, alpha=0.0");
    assert_eq!(json[9]["validation_loss_diff_test"], "paired");
    let paired = stats::paired(&[0.1, 0.1, 0.11], &[0.075, 0.0775, 0.0825]).unwrap();
    close(json[9]["validation_loss_diff_p"].as_f64().unwrap(), paired.p, "paired p");

    let text = fixture.report(ReportFormat::Md, TableOptions::default(), false);
    assert!(text.contains("its baseline, the row where alpha=0 with the same width:"), "{text}");
    assert!(text.contains("| width=16, alpha=0.5 | validation loss |"), "{text}");
    assert!(text.contains("Welch, 2 vs 3 runs"), "{text}");
}

#[test]
fn a_wrong_baseline_is_a_clear_error() {
    let fixture = sweep();
    let collected = fixture.collect();
    let error = |spec: &str| {
        let err =
            compare::parse_spec(spec).and_then(|spec| Baselines::resolve(&collected, &spec)).unwrap_err();
        err.to_string().replace(fixture.dir.path().to_str().unwrap(), "TMP")
    };
    assert_eq!(
        error("depth=4"),
        "TMP/sweep.yml: report.baseline: `depth` is not a matrix key (keys: lr, width, seed)"
    );
    assert_eq!(
        error("seed=1"),
        "TMP/sweep.yml: report.baseline: `seed` is in report.group_over, so its runs are repeats of one row, not a baseline: name a key that tells rows apart"
    );
    assert_eq!(
        error("lr=0.1"),
        "TMP/sweep.yml: report.baseline: no planned run has lr=0.1 (the planned runs have lr = 0.001, 0.0003)"
    );
    assert_eq!(
        error("lr"),
        "--baseline takes KEY=VALUE pairs separated by commas (e.g. `alpha=0.0`), found `lr`"
    );
    let both = compare::parse_spec("lr=0.001, width=32").unwrap();
    assert_eq!(Baselines::resolve(&collected, &both).unwrap().label, "lr=0.001, width=32");
}

fn expgrid(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_expgrid")).args(args).current_dir(dir).output().unwrap()
}

#[test]
fn plot_draws_the_difference_over_training_with_its_band() {
    let fixture = alpha();
    let dir = fixture.dir.path();
    let output =
        expgrid(dir, &["plot", "alpha.yml", "--x", "inputs", "--baseline", "--y", "validation_loss"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let svg = std::fs::read_to_string(dir.join("reports/alpha/validation_loss-difference-to-baseline.svg"))
        .unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).map(str::trim).collect();
    for label in ["alpha=0.0 (baseline)", "alpha=0.5", "alpha=1.0", "validation loss − baseline"] {
        assert!(texts.contains(&label), "{label} in {texts:?}");
    }
    assert_eq!(
        doc.descendants().filter(|n| n.has_tag_name("polygon")).count(),
        1,
        "one band: α = 1.0 has n = 1"
    );

    let output =
        expgrid(dir, &["plot", "alpha.yml", "--x", "inputs", "--baseline", "alpha=1.0", "--out", "one.svg"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(dir.join("one.svg").exists());

    let output = expgrid(dir, &["plot", "alpha.yml", "--x", "alpha", "--baseline"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: --baseline draws differences over training: use it with `--x inputs`\n"
    );
    let output = expgrid(dir, &["plot", "alpha.yml", "--x", "inputs", "--baseline", "--y", "params"]);
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: `params` is not compared with a baseline: use --y with one of `validation_loss`, `accuracy_argmax`, `accuracy_svc`, `accuracy_svc_heldout`\n"
    );
}
