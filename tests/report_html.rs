//! `expgrid report --format html`: one self-contained file with the markdown report's cells,
//! checked as text and in a real headless Chromium (a real small training, and 1,000
//! synthetic runs for the load time).

mod browser;
mod report_fixture;
mod shared_data;

use shared_data::data_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use browser::{Browser, file_url};
use expgrid::report::ReportFormat;
use expgrid::report::table::TableOptions;
use report_fixture::{Fate, Fixture, sweep};
use serde_json::Value;

fn expgrid(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_expgrid"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1767312000")
        .env("EXPGRID_OFFLINE", "1")
        .output()
        .unwrap()
}

fn succeed(dir: &Path, args: &[&str]) -> Output {
    let output = expgrid(dir, args);
    assert!(output.status.success(), "expgrid {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The JSON the page embeds.
fn page_data(html: &str) -> Value {
    let start = html.find("<script id=\"expgrid-data\" type=\"application/json\">").expect("data element");
    let rest = &html[start..];
    let json = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(json).expect("the embedded data is JSON")
}

/// Where test artifacts (screenshots) go: `target/tmp/report_html/`.
fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_html").join(name)
}

#[test]
fn the_page_is_self_contained_and_holds_the_markdown_cells() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    succeed(dir, &["report", "sweep.yml", "--format", "html"]);
    let html = std::fs::read_to_string(dir.join("reports/sweep.html")).unwrap();
    assert!(html.len() < 300_000, "{} bytes", html.len());
    // Nothing to load from elsewhere: no src/href attributes but the empty data: icon, no
    // URL but the SVG namespace.
    assert!(!html.contains(" src="), "an external resource");
    assert_eq!(html.matches("href=").count(), 1, "only the data: icon");
    assert_eq!(html.matches("://").count(), 1, "one URL");
    assert!(html.contains("\"http://www.w3.org/2000/svg\""), "the one URL is the SVG namespace");
    assert!(html.contains("default-src 'none'"), "a CSP that blocks every request");

    // The same cells as the markdown table, bold as the best-value flag.
    let data = page_data(&html);
    let markdown = fixture.report(ReportFormat::Md, TableOptions::default(), false);
    let table_lines: Vec<&str> = markdown.lines().filter(|l| l.starts_with("| ")).skip(2).collect();
    let rows = data["rows"].as_array().unwrap();
    assert_eq!(rows.len(), table_lines.len(), "{markdown}");
    for (row, line) in rows.iter().zip(&table_lines) {
        let markdown_cells: Vec<&str> =
            line.trim_start_matches("| ").trim_end_matches(" |").split(" | ").collect();
        let cells = row["cells"].as_array().unwrap();
        assert_eq!(cells.len(), markdown_cells.len(), "{line}");
        for (cell, markdown) in cells.iter().zip(markdown_cells) {
            assert_eq!(cell["text"], markdown.replace("**", "").replace("\\|", "|"), "{line}");
            assert_eq!(cell["best"], markdown.contains("**"), "{line}");
        }
    }
    let best = rows.iter().flat_map(|r| r["cells"].as_array().unwrap()).filter(|c| c["best"] == true).count();
    assert_eq!(best, 4, "one best value per quality column");
    assert_eq!(data["header"]["runs_done"], 5);
    assert_eq!(data["runs"].as_array().unwrap().len(), 12);
    assert!(
        data["runs"][0]["config"]
            .as_str()
            .unwrap()
            .contains("experiment_name: sweep/lr-0.001_width-16_seed-1")
    );
}

#[test]
fn a_damaged_run_file_shows_that_run_as_damaged_and_the_others_as_they_are() {
    let fixture = sweep();
    let dir = fixture.dir.path();
    let metrics = fixture.runs_dir().join("sweep/lr-0.001_width-16_seed-2/metrics.csv");
    let text = std::fs::read_to_string(&metrics).unwrap();
    std::fs::write(&metrics, &text[..text.len() - 30]).unwrap();
    let output = expgrid(dir, &["report", "sweep.yml", "--format", "html"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let data = page_data(&std::fs::read_to_string(dir.join("reports/sweep.html")).unwrap());
    let runs = data["runs"].as_array().unwrap();
    let damaged: Vec<&Value> = runs.iter().filter(|r| r["state"] == "damaged").collect();
    assert_eq!(damaged.len(), 1, "{runs:?}");
    assert_eq!(damaged[0]["experiment_name"], "sweep/lr-0.001_width-16_seed-2");
    let error = damaged[0]["error"].as_str().unwrap();
    assert!(error.contains("lr-0.001_width-16_seed-2/metrics.csv is damaged"), "{error}");
    assert_eq!(runs.iter().filter(|r| r["state"] == "done").count(), 4, "the other done runs: {runs:?}");
}

/// Two widths x two seeds of a tiny conv net on FMNIST subsets: seconds of training.
const TINY: &str = "
matrix:
  width: [4, 16]
  seed: [1, 2]
experiment_name: tiny/${matrix_slug}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28], limit: 600}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28], limit: 300}
batch_size: 50
learnrate: 0.003
optimizer: AdamW
loss_function: ce
max_inputs: 1200
validate_every: 400
probe: {samples: 200}
model: {encoder: conv, channels: ['${width}'], stride: 2, code_size: 16, classes: 10}
report:
  trends: [{x: width, y: accuracy_argmax}]
  baseline: {width: 4}
";

#[test]
fn the_report_of_a_real_run_works_in_chromium() {
    let Some(mut browser) = Browser::launch("the_report_of_a_real_run_works_in_chromium") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.yml"), TINY).unwrap();
    let data = data_dir();
    succeed(dir.path(), &["run", "tiny.yml", "--data-dir", data.to_str().unwrap()]);
    succeed(dir.path(), &["report", "tiny.yml", "--format", "html"]);
    let page = dir.path().join("reports/tiny.html");
    let url = file_url(&page);
    browser.open(&url);

    assert_eq!(browser.errors(), Vec::<String>::new(), "console errors");
    assert_eq!(browser.requests(), [url.as_str()], "the page loads nothing else");

    // Two rows (width 4 and 16), each the mean of two seeds: curves with ±std bands.
    assert_eq!(browser.eval("document.querySelectorAll('#runs-table tbody tr').length"), 2);
    assert_eq!(browser.eval("document.querySelectorAll('#curves svg').length"), 3);
    assert_eq!(browser.eval("document.querySelectorAll('#curves polyline.curve').length"), 6);
    assert_eq!(browser.eval("document.querySelectorAll('#curves polygon.band').length"), 6);
    let points = browser
        .eval("document.querySelector('#curves polyline.curve').getAttribute('points').split(' ').length");
    assert_eq!(points, 3, "validations at 400, 800 and 1,200 inputs");
    assert_eq!(browser.eval("document.querySelectorAll('#trend-0 .errorbar').length"), 2, "the file's trend");
    assert_eq!(browser.eval("document.querySelectorAll('#parallel polyline.pc-line').length"), 2);
    // width=16 against the baseline width=4: one line per quality metric, as in markdown.
    assert_eq!(browser.eval("document.querySelectorAll('#comparison tbody tr').length"), 4);
    let first = browser.eval("document.querySelector('#comparison tbody td').textContent");
    assert!(first.as_str().unwrap().starts_with("width=16"), "{first}");

    // Hovering a curve shows the numbers.
    browser.eval(
        "(() => { const s = document.querySelector('#curve-1'); const b = s.getBoundingClientRect();
          s.dispatchEvent(new MouseEvent('mousemove', {clientX: b.right - 20, clientY: b.top + 50, bubbles: true})); })()",
    );
    let tip = browser.eval("document.querySelector('#curves .tooltip:not([hidden])').textContent");
    assert!(tip.as_str().unwrap().starts_with("inputs 1,200"), "{tip}");

    // Clicking a header sorts by it, a second click reverses.
    let order = "[...document.querySelectorAll('#runs-table tbody tr')].map(r => r.dataset.label)";
    let accuracy = |b: &mut Browser| -> Vec<f64> {
        let v = b.eval(
            "[...document.querySelectorAll('#runs-table tbody tr')].map(r => r.children[3].textContent)",
        );
        v.as_array().unwrap().iter().map(|t| t.as_str().unwrap()[..6].parse().unwrap()).collect()
    };
    browser.eval("document.querySelector('th[data-col=accuracy_argmax]').click()");
    let ascending = accuracy(&mut browser);
    assert!(ascending[0] <= ascending[1], "{ascending:?}");
    let first = browser.eval(order);
    browser.eval("document.querySelector('th[data-col=accuracy_argmax]').click()");
    let descending = accuracy(&mut browser);
    assert!(descending[0] >= descending[1], "{descending:?}");
    let mut reversed = first.as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(browser.eval(order), Value::Array(reversed));
    assert_eq!(
        browser.eval("document.querySelector('th[data-col=accuracy_argmax] .arrow').textContent"),
        "▼"
    );

    // A filter hides rows; a run's resolved config opens on a click.
    browser.eval("document.querySelector('input[data-key=width][data-value=\"4\"]').click()");
    assert_eq!(browser.eval(order), serde_json::json!(["width=16"]));
    browser.eval("document.querySelector('tr.run[data-run=\"tiny/width-16_seed-2\"]').click()");
    let config = browser.eval("document.querySelector('.run-details pre').textContent");
    assert!(config.as_str().unwrap().contains("experiment_name: tiny/width-16_seed-2"), "{config}");
    assert_eq!(
        browser.eval("document.querySelectorAll('.run-details table.validations tbody tr').length"),
        3
    );

    browser.eval("document.querySelector('input[data-key=width][data-value=\"4\"]').click()");
    let shot = artifact("tiny.png");
    browser.screenshot(&shot);
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    eprintln!("screenshot: {}", shot.display());
    assert_eq!(browser.errors(), Vec::<String>::new(), "console errors after the clicks");
}

/// 10 x 10 x 10 runs = 100 rows of 10 repeats, written without training.
const THOUSAND: &str = "
matrix:
  a: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
  b: [x0, x1, x2, x3, x4, x5, x6, x7, x8, x9]
  seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
experiment_name: many/${matrix_slug}
train_set: {dataset: fmnist, split: train, shape: [1, 28, 28]}
validation_set: {dataset: fmnist, split: test, shape: [1, 28, 28]}
batch_size: 8
learnrate: 0.001
optimizer: AdamW
loss_function: l2
max_inputs: 4000
model: {encoder: conv, classes: 10}
";

#[test]
fn a_thousand_runs_load_in_seconds() {
    let Some(mut browser) = Browser::launch("a_thousand_runs_load_in_seconds") else { return };
    let fates: Vec<Fate> = (0..1000)
        .map(|i| match i % 50 {
            0 => Fate::Pending,
            1 => Fate::Interrupted(0.03, 2),
            _ => Fate::Done(0.01 + (i % 97) as f64 * 1e-4),
        })
        .collect();
    let fixture = Fixture::new("many", THOUSAND, &fates);
    let start = Instant::now();
    succeed(fixture.dir.path(), &["report", "many.yml", "--format", "html"]);
    let report_time = start.elapsed();
    let page = fixture.dir.path().join("reports/many.html");
    let size = std::fs::metadata(&page).unwrap().len();

    let start = Instant::now();
    browser.open(&file_url(&page));
    let load = start.elapsed();
    let rendered_ms = browser.eval("window.expgridFirstRenderMs").as_f64().unwrap();
    assert_eq!(browser.eval("document.querySelectorAll('#runs-table tbody tr').length"), 100);
    assert_eq!(browser.eval("document.querySelectorAll('#runs tr.run').length"), 1000);
    let sort_ms = browser.eval(
        "(() => { const t = performance.now(); document.querySelector('th[data-col=accuracy_argmax]').click();
          return performance.now() - t; })()",
    );
    assert_eq!(browser.errors(), Vec::<String>::new());
    browser.screenshot(&artifact("thousand.png"));
    eprintln!(
        "1,000 runs: report {:.2} s, {:.0} KB; page loaded and drawn in {:.2} s (first render {:.0} ms \
         after navigation start), a sort click redraws in {:.0} ms",
        report_time.as_secs_f64(),
        size as f64 / 1024.0,
        load.as_secs_f64(),
        rendered_ms,
        sort_ms.as_f64().unwrap()
    );
    assert!(load < Duration::from_secs(10), "{load:?}");
    assert!(sort_ms.as_f64().unwrap() < 2000.0, "{sort_ms}");
}
