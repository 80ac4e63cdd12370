//! The `expgrid report` and `expgrid plot` command lines, end to end on run folders made here.

mod report_fixture;

use std::process::{Command, Output};

use report_fixture::sweep;

fn expgrid(dir: &std::path::Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1767312000")
        .output()
        .unwrap();
    assert!(output.status.success(), "expgrid {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn report_writes_markdown_and_plots_below_reports() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    expgrid(dir, &["report", "sweep.yml"]);
    let text = std::fs::read_to_string(dir.join("reports/sweep.md")).unwrap();
    assert!(text.contains("Experiment `sweep.yml`: 5 of 12 runs done."), "{text}");
    assert!(
        text.contains(&format!("Report by expgrid {}, 2026-01-02.", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(dir.join("reports/sweep/learning-curves.svg").exists());

    expgrid(dir, &["report", "sweep.yml", "--png", "--sort", "lr", "--columns", "lr,width,validation_loss"]);
    let text = std::fs::read_to_string(dir.join("reports/sweep.md")).unwrap();
    assert!(text.contains("| lr | width | validation loss (4,000 inputs) |"), "{text}");
    assert!(text.contains("(sweep/learning-curves.png)"), "{text}");
    assert!(dir.join("reports/sweep/learning-curves.png").exists());
}

#[test]
fn report_prints_csv_to_stdout_and_uses_a_custom_template() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    let output = expgrid(dir, &["report", "sweep.yml", "--format", "csv", "--out", "-"]);
    let csv = String::from_utf8(output.stdout).unwrap();
    assert_eq!(csv::Reader::from_reader(csv.as_bytes()).records().count(), 12, "{csv}");

    std::fs::write(
        dir.join("mine.j2"),
        "{{ header.runs_done }}/{{ header.runs_total }} {{ rows[0].label }}\n",
    )
    .unwrap();
    expgrid(dir, &["report", "sweep.yml", "--template", "mine.j2", "--out", "out/mine.md"]);
    assert_eq!(std::fs::read_to_string(dir.join("out/mine.md")).unwrap(), "5/12 lr=0.001, width=32\n");
}

#[test]
fn plot_draws_curves_and_trends() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    expgrid(dir, &["plot", "sweep.yml"]);
    assert!(dir.join("reports/sweep/learning-curves.svg").exists());
    expgrid(dir, &["plot", "sweep.yml", "--x", "width", "--y", "validation_loss", "--series", "lr", "--png"]);
    assert!(dir.join("reports/sweep/validation_loss-by-width.png").exists());

    let output = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(["plot", "sweep.yml", "--x", "width", "--y", "accuracy"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown metric `accuracy`"));
}

/// `report.trends` in the experiment file: `expgrid report` draws and links them too; a key
/// that is not in the matrix is an error naming the entry.
#[test]
fn report_draws_the_trends_the_file_asks_for() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    let file = dir.join("sweep.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    let trends = "report:\n  trends:\n    - {x: lr}\n    - {x: width, y: validation_loss, series: lr}\n";
    std::fs::write(&file, format!("{text}\n{trends}")).unwrap();
    expgrid(dir, &["report", "sweep.yml"]);
    let report = std::fs::read_to_string(dir.join("reports/sweep.md")).unwrap();
    assert!(report.contains("![accuracy_argmax by lr](sweep/accuracy_argmax-by-lr.svg)"), "{report}");
    assert!(report.contains("![validation_loss by width](sweep/validation_loss-by-width.svg)"), "{report}");
    assert!(dir.join("reports/sweep/accuracy_argmax-by-lr.svg").exists());
    assert!(dir.join("reports/sweep/validation_loss-by-width.svg").exists());

    std::fs::write(&file, format!("{text}\nreport:\n  trends: [{{x: depth}}]\n")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(["report", "sweep.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("report.trends[0]") && stderr.contains("`depth` is not a matrix key"),
        "{stderr}"
    );
}

#[test]
fn a_template_is_bounded_in_steps_and_size() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    let report_with = |template: &str| {
        let args = ["report", "sweep.yml", "--template", template, "--out", "-"];
        let output =
            Command::new(env!("CARGO_BIN_EXE_expgrid")).args(args).current_dir(dir).output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let endless = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
    std::fs::write(dir.join("endless.j2"), endless).unwrap();
    assert_eq!(
        report_with("endless.j2"),
        "error: the report template took more than 50000000 steps: does a loop never end?\n"
    );
    assert_eq!(
        report_with("/dev/zero"),
        "error: /dev/zero: a template must be a regular file (not a folder, device or pipe)\n"
    );
}
