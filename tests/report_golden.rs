//! `expgrid report` on run folders made here (no training): table text, bold best values,
//! sorting, repeats as mean ± std, early-stopped, failed and pending runs, CSV and JSON.
//! Golden files are in `tests/golden/report/`; `EXPGRID_BLESS=1` rewrites them.

mod report_fixture;

use expgrid::report::ReportFormat;
use expgrid::report::table::TableOptions;
use report_fixture::{Fate, Fixture, SINGLE, golden, sweep};

#[test]
fn sweep_markdown_groups_seeds_and_marks_unfinished_runs() {
    let text = sweep().report(ReportFormat::Md, TableOptions::default(), false);
    golden("sweep.md", &text);
    assert!(text.contains("| 0.001 | 16 | 0.0052500 ± 0.0002500 |"), "mean ± std over 3 seeds:\n{text}");
    assert!(text.contains("(3,000 inputs) 0.0050000"), "the interrupted run shows its inputs:\n{text}");
    assert!(
        text.contains("2 done, 1 failed: out of memory \\| CUDA |"),
        "first error line, escaped:\n{text}"
    );
    assert!(text.contains("![learning curves](sweep/learning-curves.svg)"));
}

#[test]
fn sort_descending_and_chosen_columns() {
    let columns = ["width", "lr", "accuracy_argmax", "n"].map(String::from).to_vec();
    let options = TableOptions { columns: Some(columns), sort: Some("accuracy_argmax-".into()) };
    golden("sweep-columns.md", &sweep().report(ReportFormat::Md, options, false));
}

#[test]
fn sort_by_a_matrix_key_and_unknown_columns() {
    let fixture = sweep();
    let options = TableOptions { columns: None, sort: Some("width-".into()) };
    let text = fixture.report(ReportFormat::Md, options, false);
    let widths: Vec<&str> =
        text.lines().filter(|l| l.starts_with("| 0.")).map(|l| l.split('|').nth(2).unwrap().trim()).collect();
    assert_eq!(widths, ["32", "32", "16", "16"]);
    let bad = TableOptions { columns: Some(vec!["accuracy".into()]), sort: None };
    let options = report_fixture::options(ReportFormat::Md, bad, false);
    let err =
        expgrid::report::render_report(&fixture.collect(), &options, std::path::Path::new("-")).unwrap_err();
    assert!(err.to_string().contains("unknown column `accuracy`"), "{err}");
}

#[test]
fn single_runs_have_no_std_and_no_n_column() {
    use Fate::*;
    let fixture = Fixture::new("single", SINGLE, &[Done(0.01), Failed(0.02, 2), Done(0.005)]);
    golden("single.md", &fixture.report(ReportFormat::Md, TableOptions::default(), false));
}

#[test]
fn csv_has_every_run_and_every_metric() {
    let text = sweep().report(ReportFormat::Csv, TableOptions::default(), false);
    golden("sweep.csv", &text);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for column in
        ["matrix_id", "lr", "width", "seed", "status", "validation_loss", "accuracy_svc_heldout", "params"]
    {
        assert!(header.contains(&column.to_string()), "{column} in {header:?}");
    }
    assert_eq!(reader.records().count(), 12);
}

#[test]
fn csv_curves_have_one_row_per_validation() {
    let text = sweep().report(ReportFormat::Csv, TableOptions::default(), true);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..7], ["file", "matrix_id", "matrix_slug", "experiment_name", "lr", "width", "seed"]);
    assert!(header.contains(&"train_loss".to_string()) && header.contains(&"epoch".to_string()));
    // 5 done runs x 4 validations, the failed run 1, the interrupted one 3.
    assert_eq!(reader.records().count(), 5 * 4 + 1 + 3);
}

#[test]
fn json_is_an_array_of_runs_with_curves() {
    let text = sweep().report(ReportFormat::Json, TableOptions::default(), true);
    let runs: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(runs.len(), 12);
    assert_eq!(runs[0]["status"], "done");
    assert_eq!(runs[0]["lr"], 0.001);
    assert_eq!(runs[0]["curve"].as_array().unwrap().len(), 4);
    assert_eq!(runs[5]["error"], "out of memory | CUDA\nbacktrace: ...");
    assert_eq!(runs[11]["status"], "pending");
    assert!(runs[11]["validation_loss"].is_null());
}

#[test]
fn nothing_run_yet_lists_every_run_as_pending_without_plots() {
    let fixture = Fixture::new("single", SINGLE, &[Fate::Pending; 3]);
    golden("pending.md", &fixture.report(ReportFormat::Md, TableOptions::default(), false));
}
