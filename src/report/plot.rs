//! Plots (plotters): learning curves against inputs seen, and a metric against a matrix key.
//!
//! SVG text is drawn by the viewer (`font-family: sans-serif`); for layout and for PNG the
//! embedded DejaVu Sans is used, so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow, bail};
use indexmap::IndexMap;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::collect::{Collected, Group, Metric};
use super::compare::{self, Baselines};
use super::stats::Stat;
use crate::rundir::MetricsRow;

/// DejaVu Sans (Bitstream Vera license), registered as `sans-serif`.
const FONT: &[u8] = include_bytes!("DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// The file type of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Svg => "svg",
            ImageFormat::Png => "png",
        }
    }
}

/// A point of a line; `spread` (a std, or half a confidence interval) draws a band (curves)
/// or an error bar (trends).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub spread: Option<f64>,
}

/// One chart: a line per legend entry (a line may be empty).
struct Panel {
    title: String,
    x_label: String,
    y_label: String,
    /// Names of the x positions 0, 1, ... when x is not numeric.
    x_categories: Option<Vec<String>>,
    /// Error bars and markers (trend) instead of bands (curves).
    markers: bool,
    lines: Vec<Vec<Point>>,
}

/// Reads one number of a validation row.
pub type Field = fn(&MetricsRow) -> f64;

/// The learning-curve panels: validation loss, accuracy (argmax) and train loss.
pub const CURVES: [(&str, Field); 3] = [
    ("validation loss", |r| r.validation_loss),
    ("accuracy (argmax)", |r| r.accuracy_argmax),
    ("train loss", |r| r.train_loss),
];

/// Learning curves of every group with validations: one line per run, or per group of
/// repeats the mean with a ±std band. Returns `false` (and writes nothing) if no run has
/// metrics yet.
pub fn learning_curves(collected: &Collected, path: &Path, format: ImageFormat) -> Result<bool> {
    let groups: Vec<&Group> = collected
        .groups
        .iter()
        .filter(|g| collected.reported(g).iter().any(|r| !r.metrics.is_empty()))
        .collect();
    if groups.is_empty() {
        return Ok(false);
    }
    let labels: Vec<String> = groups.iter().map(|g| collected.label(g)).collect();
    let panels = CURVES
        .iter()
        .map(|(name, value)| Panel {
            title: name.to_string(),
            x_label: "inputs seen".into(),
            y_label: name.to_string(),
            x_categories: None,
            markers: false,
            lines: groups.iter().map(|g| curve(collected, g, *value)).collect(),
        })
        .collect::<Vec<_>>();
    draw(path, format, 1500, 430, &panels, &labels)?;
    Ok(true)
}

/// A group's curve: the mean over its reported runs at the inputs every one validated at.
pub fn curve(collected: &Collected, group: &Group, value: Field) -> Vec<Point> {
    let reported = collected.reported(group);
    let runs: Vec<&[MetricsRow]> =
        reported.iter().map(|r| r.metrics.as_slice()).filter(|m| !m.is_empty()).collect();
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .iter()
        .filter_map(|row| {
            let samples: Option<Vec<f64>> =
                runs.iter().map(|m| m.iter().find(|r| r.inputs == row.inputs).map(value)).collect();
            let stat = Stat::of(&samples?)?;
            Some(Point { x: row.inputs as f64, y: stat.mean, spread: stat.std })
        })
        .collect()
}

/// The difference of every compared group to its baseline over training, one panel per
/// metric: the mean difference at the inputs both validated at, with its 95 % interval as a
/// band (none with a single run on a side), and the baseline as the line at 0. Returns
/// `false` (and writes nothing) if no compared group and its baseline have validated.
pub fn baseline_curves(
    collected: &Collected,
    baselines: &Baselines,
    metrics: &[Metric],
    path: &Path,
    format: ImageFormat,
) -> Result<bool> {
    let pairs: Vec<(&Group, &Group)> = baselines
        .of
        .iter()
        .enumerate()
        .filter_map(|(g, of)| Some((&collected.groups[g], &collected.groups[(*of)?])))
        .collect();
    let mut labels = vec![format!("{} (baseline)", baselines.label)];
    labels.extend(pairs.iter().map(|(group, _)| collected.label(group)));
    let panels: Vec<Panel> = metrics
        .iter()
        .map(|&metric| {
            let mut lines: Vec<Vec<Point>> = pairs
                .iter()
                .map(|(group, baseline)| difference_curve(collected, group, baseline, metric))
                .collect();
            let xs = lines.iter().flatten().map(|p| p.x);
            let (min, max) =
                xs.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
            let zero = if min <= max {
                vec![Point { x: min, y: 0.0, spread: None }, Point { x: max, y: 0.0, spread: None }]
            } else {
                Vec::new()
            };
            lines.insert(0, zero);
            Panel {
                title: format!("{} − baseline", metric.label()),
                x_label: "inputs seen".into(),
                y_label: format!("difference in {}", metric.label()),
                x_categories: None,
                markers: false,
                lines,
            }
        })
        .collect();
    if panels.iter().all(|p| p.lines[0].is_empty()) {
        return Ok(false);
    }
    draw(path, format, 750 * metrics.len() as u32, 430, &panels, &labels)?;
    Ok(true)
}

/// `group` minus `baseline` at every inputs value both validated at.
fn difference_curve(collected: &Collected, group: &Group, baseline: &Group, metric: Metric) -> Vec<Point> {
    let Some(first) = collected.reported(group).into_iter().find(|r| !r.metrics.is_empty()) else {
        return Vec::new();
    };
    first
        .metrics
        .iter()
        .filter_map(|row| {
            let samples = |g: &Group| compare::curve_samples(collected, g, row.inputs, metric);
            let diff = compare::compare(&samples(group), &samples(baseline))?;
            let spread = diff.test.map(|t| (t.high - t.low) / 2.0);
            Some(Point { x: row.inputs as f64, y: diff.diff, spread })
        })
        .collect()
}

/// `metric` against the matrix key `x`: one point per group of finished runs (mean, error
/// bar ±std over its repeats), one line per value of the other varying keys (`series` first
/// in the legend).
pub fn trend(
    collected: &Collected,
    x: &str,
    metric: Metric,
    series: Option<&str>,
    path: &Path,
    format: ImageFormat,
) -> Result<()> {
    let keys = &collected.experiment.matrix_keys;
    for key in std::iter::once(x).chain(series) {
        if !keys.iter().any(|k| k == key) {
            bail!(
                "`{key}` is not a matrix key of {} (keys: {})",
                collected.experiment.file.display(),
                keys.join(", ")
            );
        }
    }
    let mut line_keys: Vec<&str> = series.into_iter().collect();
    line_keys
        .extend(collected.shown_keys.iter().map(String::as_str).filter(|k| *k != x && Some(*k) != series));

    let mut x_texts: Vec<String> = Vec::new();
    let mut lines: IndexMap<String, Vec<(String, Stat)>> = IndexMap::new();
    for group in &collected.groups {
        let Some(value) = collected.value(group, metric).filter(|v| v.stopped_at.is_none()) else { continue };
        let first = &collected.records[group.members[0]];
        let x_text = first.value_text(x);
        if !x_texts.contains(&x_text) {
            x_texts.push(x_text.clone());
        }
        let label =
            line_keys.iter().map(|k| format!("{k}={}", first.value_text(k))).collect::<Vec<_>>().join(", ");
        lines.entry(label).or_default().push((x_text, value.stat));
    }
    if lines.is_empty() {
        bail!("no finished run of {} has `{}` yet", collected.experiment.file.display(), metric.id());
    }
    let numeric: Option<Vec<f64>> = x_texts.iter().map(|t| t.parse().ok()).collect();
    let position = |text: &str| match &numeric {
        Some(values) => values[x_texts.iter().position(|t| t == text).unwrap_or_default()],
        None => x_texts.iter().position(|t| t == text).unwrap_or_default() as f64,
    };
    let mut labels = Vec::new();
    let mut points = Vec::new();
    for (label, values) in lines {
        let mut line: Vec<Point> =
            values.iter().map(|(t, s)| Point { x: position(t), y: s.mean, spread: s.std }).collect();
        line.sort_by(|a, b| a.x.total_cmp(&b.x));
        labels.push(if label.is_empty() { metric.label().to_string() } else { label });
        points.push(line);
    }
    let panel = Panel {
        title: format!("{} by {x}", metric.label()),
        x_label: x.to_string(),
        y_label: metric.label().to_string(),
        x_categories: numeric.is_none().then_some(x_texts),
        markers: true,
        lines: points,
    };
    draw(path, format, 900, 560, &[panel], &labels)
}

/// Draw `panels` side by side with a legend of `labels` below, to `path`.
fn draw(
    path: &Path,
    format: ImageFormat,
    width: u32,
    height: u32,
    panels: &[Panel],
    labels: &[String],
) -> Result<()> {
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        let registered = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
        assert!(registered.is_ok(), "the embedded font is valid");
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let legend_height = legend_rows(labels, width) * LEGEND_ROW + 2 * LEGEND_PAD;
    let size = (width, height + legend_height);
    let failed = |e: &dyn std::fmt::Display| anyhow!("cannot draw {}: {e}", path.display());
    match format {
        ImageFormat::Svg => draw_on(SVGBackend::new(path, size).into_drawing_area(), height, panels, labels)
            .map_err(|e| failed(&e)),
        ImageFormat::Png => {
            draw_on(BitMapBackend::new(path, size).into_drawing_area(), height, panels, labels)
                .map_err(|e| failed(&e))
        }
    }
}

const LEGEND_ROW: u32 = 24;
const LEGEND_PAD: u32 = 10;
const LEGEND_FONT: u32 = 15;
/// Swatch and gap before a legend label, and room after it.
const LEGEND_SWATCH: u32 = 34;
const LEGEND_GAP: u32 = 24;

/// Legend entries per row: as many as fit the widest label.
fn legend_columns(labels: &[String], width: u32) -> u32 {
    let widest = labels.iter().map(|l| text_width(l)).max().unwrap_or(0);
    ((width - 2 * LEGEND_PAD) / (widest + LEGEND_SWATCH + LEGEND_GAP)).max(1)
}

fn legend_rows(labels: &[String], width: u32) -> u32 {
    (labels.len() as u32).div_ceil(legend_columns(labels, width))
}

/// Text width in pixels by the embedded font.
fn text_width(text: &str) -> u32 {
    let font: FontDesc = (FAMILY, LEGEND_FONT).into_font();
    font.box_size(text).map(|(w, _)| w).unwrap_or(text.len() as u32 * LEGEND_FONT / 2)
}

fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    chart_height: u32,
    panels: &[Panel],
    labels: &[String],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (charts, legend) = root.split_vertically(chart_height);
    for (area, panel) in charts.split_evenly((1, panels.len())).iter().zip(panels) {
        draw_panel(area, panel)?;
    }
    let columns = legend_columns(labels, root.dim_in_pixel().0);
    let column_width = (root.dim_in_pixel().0 - 2 * LEGEND_PAD) / columns;
    for (i, label) in labels.iter().enumerate() {
        let (row, column) = (i as u32 / columns, i as u32 % columns);
        let x = (LEGEND_PAD + column * column_width) as i32;
        let y = (LEGEND_PAD + row * LEGEND_ROW) as i32;
        let color = color(i);
        legend.draw(&Rectangle::new([(x, y + 6), (x + 24, y + 10)], color.filled()))?;
        legend.draw(&Text::new(label.as_str(), (x + LEGEND_SWATCH as i32 - 4, y), (FAMILY, LEGEND_FONT)))?;
    }
    root.present()
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x_range, y_range) = ranges(panel);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range, y_range)?;
    let categories = panel.x_categories.clone();
    let x_format = move |x: &f64| match &categories {
        Some(names) => {
            let i = x.round();
            let name = (i >= 0.0 && (x - i).abs() < 1e-6).then(|| names.get(i as usize)).flatten();
            name.cloned().unwrap_or_default()
        }
        None => short_number(*x),
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .x_label_formatter(&x_format)
        .label_style((FAMILY, 14))
        .light_line_style(TRANSPARENT);
    if let Some(names) = &panel.x_categories {
        mesh.x_labels(names.len() * 2 + 1);
    }
    mesh.draw()?;
    for (i, line) in panel.lines.iter().enumerate() {
        let color = color(i);
        let spread: Vec<(f64, f64, f64)> =
            line.iter().filter_map(|p| p.spread.map(|s| (p.x, p.y - s, p.y + s))).collect();
        if panel.markers || line.len() == 1 {
            chart.draw_series(
                spread
                    .iter()
                    .map(|&(x, lo, hi)| ErrorBar::new_vertical(x, lo, (lo + hi) / 2.0, hi, color, 8)),
            )?;
            chart.draw_series(line.iter().map(|p| Circle::new((p.x, p.y), 4, color.filled())))?;
        } else if !spread.is_empty() {
            let band = spread
                .iter()
                .map(|&(x, _, hi)| (x, hi))
                .chain(spread.iter().rev().map(|&(x, lo, _)| (x, lo)));
            chart.draw_series(std::iter::once(Polygon::new(
                band.collect::<Vec<_>>(),
                color.mix(0.2).filled(),
            )))?;
        }
        chart.draw_series(LineSeries::new(line.iter().map(|p| (p.x, p.y)), color.stroke_width(2)))?;
    }
    Ok(())
}

/// The x and y ranges of a panel's points and spreads, with a margin.
fn ranges(panel: &Panel) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let points = panel.lines.iter().flatten();
    let xs: Vec<f64> = points.clone().map(|p| p.x).collect();
    let ys: Vec<f64> =
        points.flat_map(|p| [p.y - p.spread.unwrap_or(0.0), p.y + p.spread.unwrap_or(0.0)]).collect();
    let x = padded(&xs, if panel.x_categories.is_some() { 0.5 } else { 0.0 });
    (x, padded(&ys, 0.0))
}

/// min..max of `values`, widened by 5% (and by `extra`), never empty.
fn padded(values: &[f64], extra: f64) -> std::ops::Range<f64> {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !min.is_finite() || !max.is_finite() {
        return 0.0..1.0;
    }
    let span = if max > min { max - min } else { min.abs().max(1.0) * 0.1 };
    (min - span * 0.05 - extra)..(max + span * 0.05 + extra)
}

/// `2000000` → `2M`, `250000` → `250k`, `0.0003` → `3e-4`, others with up to 2 decimals;
/// a tick that float arithmetic put at `-1e-17` is `0`.
fn short_number(x: f64) -> String {
    let trim = |v: String| v.trim_end_matches('0').trim_end_matches('.').to_string();
    match x.abs() {
        a if a < 1e-12 => "0".to_string(),
        a if a >= 1e6 => format!("{}M", trim(format!("{:.2}", x / 1e6))),
        a if a >= 1e3 => format!("{}k", trim(format!("{:.2}", x / 1e3))),
        a if a < 0.01 => {
            let text = format!("{x:.2e}");
            let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
            format!("{}e{exponent}", trim(mantissa.to_string()))
        }
        _ => trim(format!("{x:.2}")),
    }
}

/// Tableau's 10 colours, then plotters' palette.
fn color(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    match TAB10.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::short_number;

    #[test]
    fn tick_labels() {
        let labels: Vec<String> =
            [2e6, 250_000.0, 1500.0, 0.5, -0.25, -1e-17, 0.0, 3e-4, 2.5e-5].map(short_number).to_vec();
        assert_eq!(labels, ["2M", "250k", "1.5k", "0.5", "-0.25", "0", "0", "3e-4", "2.5e-5"]);
    }
}
