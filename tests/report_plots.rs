//! `expgrid plot` and the report's plots on run folders made here: the files exist, parse
//! (SVG as XML, PNG by its decoder) and hold the expected series.

mod report_fixture;

use std::path::Path;

use expgrid::report::collect::Metric;
use expgrid::report::plot::{self, ImageFormat};
use expgrid::report::table::TableOptions;
use expgrid::report::{ReportFormat, render_report};
use report_fixture::{Fate, Fixture, OPTIMIZERS, SINGLE, sweep};

/// The SVG's texts and its number of data lines (polylines 2 pixels wide; axes, grid and
/// error bars are 1 pixel).
fn svg_summary(path: &Path) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect();
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke-width") == Some("2"))
        .count();
    (texts, lines)
}

#[test]
fn the_markdown_report_draws_learning_curves_beside_it() {
    let fixture = sweep();
    let options = report_fixture::options(ReportFormat::Md, TableOptions::default(), false);
    render_report(&fixture.collect(), &options, &fixture.md_path()).unwrap();
    let svg = fixture.dir.path().join("reports/sweep/learning-curves.svg");
    let (texts, lines) = svg_summary(&svg);
    // Three groups have validations (the all-pending one has none): 3 panels x 3 lines.
    assert_eq!(lines, 9, "{texts:?}");
    for label in
        ["lr=0.001, width=16", "lr=0.001, width=32", "lr=0.0003, width=16", "inputs seen", "train loss"]
    {
        assert!(texts.iter().any(|t| t == label), "{label} in {texts:?}");
    }
    assert!(!texts.iter().any(|t| t == "lr=0.0003, width=32"), "no line for pending runs");
}

#[test]
fn trend_plot_has_a_line_per_series_value_with_error_bars() {
    let qualities: Vec<Fate> = (0..12).map(|i| Fate::Done(0.01 + 0.001 * i as f64)).collect();
    let fixture = Fixture::new("sweep", report_fixture::SWEEP, &qualities);
    let out = fixture.dir.path().join("trend.svg");
    plot::trend(&fixture.collect(), "width", Metric::AccuracyArgmax, Some("lr"), &out, ImageFormat::Svg)
        .unwrap();
    let (texts, lines) = svg_summary(&out);
    assert!(texts.iter().any(|t| t == "lr=0.001") && texts.iter().any(|t| t == "lr=0.0003"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "accuracy (argmax) by width"), "{texts:?}");
    assert_eq!(lines, 2);
    let err = plot::trend(&fixture.collect(), "depth", Metric::AccuracyArgmax, None, &out, ImageFormat::Svg)
        .unwrap_err();
    assert!(err.to_string().contains("`depth` is not a matrix key"), "{err}");
}

#[test]
fn trend_plots_name_text_values_on_the_x_axis_and_skip_unfinished_runs() {
    use Fate::*;
    let fixture = Fixture::new("opt", OPTIMIZERS, &[Done(0.01), Done(0.012), Interrupted(0.02, 2), Pending]);
    let out = fixture.dir.path().join("trend.svg");
    plot::trend(&fixture.collect(), "opt", Metric::ValidationLoss, None, &out, ImageFormat::Svg).unwrap();
    let (texts, lines) = svg_summary(&out);
    assert!(texts.iter().any(|t| t == "AdamW"), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "SGD"), "SGD has no finished run: {texts:?}");
    assert_eq!(lines, 1);
}

#[test]
fn png_plots_decode() {
    use Fate::*;
    let fixture = Fixture::new("single", SINGLE, &[Done(0.01), Failed(0.02, 2), Done(0.005)]);
    let out = fixture.dir.path().join("curves.png");
    assert!(plot::learning_curves(&fixture.collect(), &out, ImageFormat::Png).unwrap());
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    assert_eq!(info.width, 1500);
    assert!(info.height > 430, "a legend below the charts: {}", info.height);
}

#[test]
fn nothing_to_draw_before_any_validation() {
    let fixture = Fixture::new("single", SINGLE, &[Fate::Pending; 3]);
    let out = fixture.dir.path().join("curves.svg");
    assert!(!plot::learning_curves(&fixture.collect(), &out, ImageFormat::Svg).unwrap());
    assert!(!out.exists());
}
