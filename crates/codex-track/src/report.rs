//! Run reports: `report.md` with a summary table and loss, learning-rate and
//! throughput curves drawn as SVG, and the readers `codex runs` uses.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use codex_core::MetricRecord;

use crate::TrackError;

/// One curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// `(step, value)` points, in step order.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A short label for a tick value.
fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Evenly spaced round ticks covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 20 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// The x axis of every training curve.
pub const STEP_AXIS: &str = "optimizer step";
/// The y axis of loss curves: cross-entropy in natural-log units.
pub const LOSS_AXIS: &str = "loss (nats per token)";

/// Width in pixels a 12 px sans-serif label needs, erring wide (no font
/// metrics are at hand, so every character counts as a wide one).
fn label_width(s: &str) -> f64 {
    7.5 * s.chars().count() as f64
}

/// A line chart as a standalone SVG document. The legend sits below the
/// plot, one full label per line, and the image widens to fit the longest,
/// so no label is clipped and none covers the data.
pub fn svg_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (left, right, top, bottom) = (70.0, 20.0, 40.0, 50.0);
    let legend_line = 18.0;
    let legend = if series.is_empty() {
        0.0
    } else {
        12.0 + legend_line * series.len() as f64
    };
    let widest = series
        .iter()
        .map(|s| label_width(&s.label) + 30.0)
        .fold(0.0, f64::max);
    let w = f64::max(720.0, left + widest + right);
    let h = 400.0 + legend;
    let finite = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in finite {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        w / 2.0,
        escape(title)
    );
    if !x0.is_finite() {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n</svg>",
            w / 2.0,
            h / 2.0
        );
        return svg;
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    if y1 == y0 {
        let pad = if y0 == 0.0 { 1.0 } else { y0.abs() * 0.05 };
        y0 -= pad;
        y1 += pad;
    } else {
        // A little air, so no curve runs along the frame.
        let pad = (y1 - y0) * 0.04;
        y0 -= pad;
        y1 += pad;
    }
    let (pw, ph) = (w - left - right, h - top - bottom - legend);
    let sx = |x: f64| left + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;
    let _ = writeln!(
        svg,
        "<rect x=\"{left}\" y=\"{top}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#888\"/>"
    );
    for t in ticks(x0, x1) {
        let x = sx(t);
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            top,
            top + ph,
            top + ph + 16.0,
            tick_label(t)
        );
    }
    for t in ticks(y0, y1) {
        let y = sy(t);
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + pw,
            left - 6.0,
            y + 4.0,
            tick_label(t)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        left + pw / 2.0,
        top + ph + 36.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        "<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        top + ph / 2.0,
        escape(y_label)
    );
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        // At most ~2000 points per curve keeps the file small.
        let stride = s.points.len().div_ceil(2000).max(1);
        let pts: Vec<String> = s
            .points
            .iter()
            .step_by(stride)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        if pts.len() == 1 {
            let (x, y) = pts[0].split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(
                svg,
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{color}\"/>"
            );
        } else {
            let _ = writeln!(
                svg,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
                pts.join(" ")
            );
            // Sparse series (validation every N steps) show their points.
            if pts.len() <= 30 {
                for p in &pts {
                    let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{x}\" cy=\"{y}\" r=\"2.5\" fill=\"{color}\"/>"
                    );
                }
            }
        }
        let ly = top + ph + bottom + 6.0 + legend_line * k as f64;
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{}\" y=\"{}\">{}</text>",
            left + 20.0,
            left + 26.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A metric's value rounded to what it means: a loss to 4 decimals, a
/// perplexity to 2, an accuracy as a percentage, a count or a rate whole.
pub fn metric_text(key: &str, v: f64) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    if !v.is_finite() {
        return v.to_string();
    }
    match name {
        "loss" => format!("{v:.4}"),
        "perplexity" => format!("{v:.2}"),
        n if n.ends_with("accuracy") => format!("{:.2}%", 100.0 * v),
        "tokens_per_second" | "tokens" | "steps" => codex_core::group_digits(v.round() as u64),
        _ => {
            let s = format!("{v:.4}");
            if v.abs() < 1e-3 && v != 0.0 {
                format!("{v:.3e}")
            } else {
                s
            }
        }
    }
}

/// The summary table of a run for people: totals, why it stopped, and what
/// the last invocation did (a resumed run's time and speed are its own).
/// `summary` is `summary.json` (`null` for a run that has not finished).
pub fn summary_rows(summary: &serde_json::Value) -> Vec<(&'static str, String)> {
    let get = |k: &str| summary.get(k).filter(|v| !v.is_null());
    let count = |k: &str| {
        get(k)
            .and_then(serde_json::Value::as_u64)
            .map(codex_core::group_digits)
    };
    let mut rows = Vec::new();
    if let Some(status) = get("status").and_then(|v| v.as_str()) {
        rows.push(("status", status.to_owned()));
    }
    if let Some(stop) = get("stopped_because")
        .or_else(|| get("stop"))
        .and_then(|v| v.as_str())
    {
        rows.push(("stopped", stop.to_owned()));
    }
    if let Some(v) = count("steps") {
        rows.push(("steps", v));
    }
    if let Some(v) = count("tokens") {
        rows.push(("tokens", v));
    }
    if let Some(v) = get("train_loss").and_then(serde_json::Value::as_f64) {
        rows.push(("final train loss", format!("{v:.4}")));
    }
    let resumed = count("started_at_step").filter(|s| s != "0");
    let since = if resumed.is_some() {
        " since resuming"
    } else {
        ""
    };
    if let Some(v) = resumed {
        rows.push(("resumed at step", v));
        if let Some(n) = count("invocation_steps") {
            rows.push(("steps since resuming", n));
        }
    }
    if let Some(v) = get("train_seconds").and_then(serde_json::Value::as_f64) {
        let label = if since.is_empty() {
            "training time"
        } else {
            "training time since resuming"
        };
        rows.push((label, format!("{v:.1} s")));
    }
    if let Some(v) = get("tokens_per_second").and_then(serde_json::Value::as_f64) {
        let label = if since.is_empty() {
            "tokens per second"
        } else {
            "tokens per second since resuming"
        };
        rows.push((label, metric_text("tokens_per_second", v)));
    }
    rows
}

/// Reads `metrics.ndjson`; a malformed line names the file and line.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricRecord>, TrackError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrackError::Io {
        path: path.to_owned(),
        source: e,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: MetricRecord = serde_json::from_str(line).map_err(|e| TrackError::Malformed {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(r);
    }
    Ok(out)
}

/// The `(step, value)` series of each `split/name` in `records`.
pub fn series_by_key(records: &[MetricRecord]) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut out: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in records {
        out.entry(format!("{}/{}", r.split, r.name))
            .or_default()
            .push((r.step as f64, r.value));
    }
    out
}

/// The last value of every `split/name`.
pub fn last_values(records: &[MetricRecord]) -> BTreeMap<String, f64> {
    records
        .iter()
        .map(|r| (format!("{}/{}", r.split, r.name), r.value))
        .collect()
}

/// Writes one chart of `series` over steps to `<charts>/<file>.svg`.
fn write_chart(
    charts: &Path,
    file: &str,
    title: &str,
    y: &str,
    series: &[Series],
) -> Result<(), TrackError> {
    let svg = svg_chart(title, STEP_AXIS, y, series);
    let path = charts.join(format!("{file}.svg"));
    codex_core::write_bytes_atomic(&path, svg.as_bytes()).map_err(|e| TrackError::Io {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Writes `report.md` and its charts (`report/*.svg`) for the run in `dir`;
/// returns the report's path.
pub fn write_report(dir: &Path) -> Result<PathBuf, TrackError> {
    let records = read_metrics(&dir.join("metrics.ndjson"))?;
    let summary: serde_json::Value = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let by_key = series_by_key(&records);
    let charts = dir.join("report");
    std::fs::create_dir_all(&charts).map_err(|e| TrackError::Io {
        path: charts.clone(),
        source: e,
    })?;
    let pick = |keys: &[&str]| -> Vec<Series> {
        keys.iter()
            .filter_map(|k| {
                by_key.get(*k).map(|p| Series {
                    label: (*k).to_owned(),
                    points: p.clone(),
                })
            })
            .collect()
    };
    let figures = [
        (
            "loss",
            "Loss",
            LOSS_AXIS,
            pick(&["train/loss", "validation/loss"]),
        ),
        ("lr", "Learning rate", "learning rate", pick(&["train/lr"])),
        (
            "throughput",
            "Throughput",
            "tokens per second",
            pick(&["system/tokens_per_second"]),
        ),
    ];
    let name = dir
        .file_name()
        .map_or_else(|| "run".to_owned(), |n| n.to_string_lossy().into_owned());
    let mut md = format!("# Run `{name}`\n\n| | |\n|---|---|\n");
    for (label, value) in summary_rows(&summary) {
        let _ = writeln!(md, "| {label} | {value} |");
    }
    let last = last_values(&records);
    for (key, label) in [
        ("validation/loss", "last validation loss"),
        ("validation/perplexity", "last validation perplexity"),
        (
            "validation/token_accuracy",
            "last validation token accuracy",
        ),
    ] {
        if let Some(&v) = last.get(key) {
            let _ = writeln!(md, "| {label} | {} |", metric_text(key, v));
        }
    }
    if let Some(best) = by_key.get("validation/loss").and_then(|p| {
        p.iter()
            .map(|&(_, v)| v)
            .filter(|v| v.is_finite())
            .reduce(f64::min)
    }) {
        let _ = writeln!(md, "| best validation loss | {best:.4} |");
    }
    md.push('\n');
    for (file, title, y, series) in figures {
        if series.is_empty() {
            continue;
        }
        write_chart(&charts, file, title, y, &series)?;
        let _ = writeln!(md, "## {title}\n\n![{title}](report/{file}.svg)\n");
    }
    // Benchmark tasks scored during training (`train.eval_tasks`): every
    // metric at every evaluation, as a table and a chart.
    let tasks: Vec<(&String, &Vec<(f64, f64)>)> = by_key
        .iter()
        .filter(|(k, _)| k.starts_with("tasks/"))
        .collect();
    if !tasks.is_empty() {
        let mut steps: Vec<f64> = tasks
            .iter()
            .flat_map(|(_, p)| p.iter().map(|&(x, _)| x))
            .collect();
        steps.sort_by(f64::total_cmp);
        steps.dedup();
        md.push_str("## Benchmark tasks\n\n| task / metric |");
        for s in &steps {
            let _ = write!(md, " step {s} |");
        }
        md.push_str("\n|---|");
        md.push_str(&"---:|".repeat(steps.len()));
        md.push('\n');
        for (key, points) in &tasks {
            let _ = write!(md, "| {} |", &key["tasks/".len()..]);
            for s in &steps {
                match points.iter().find(|(x, _)| x == s) {
                    Some((_, v)) => {
                        let _ = write!(md, " {v:.4} |");
                    }
                    None => md.push_str(" |"),
                }
            }
            md.push('\n');
        }
        // Scores in [0, 1] on one chart, perplexities and the like on another.
        let (scores, others): (Vec<_>, Vec<_>) = tasks
            .iter()
            .partition(|(_, p)| p.iter().all(|&(_, v)| (0.0..=1.0).contains(&v)));
        md.push('\n');
        for (file, title, y, group) in [
            ("tasks", "Benchmark task scores", "score", scores),
            (
                "tasks-other",
                "Benchmark task perplexities",
                "value",
                others,
            ),
        ] {
            if group.is_empty() {
                continue;
            }
            let series: Vec<Series> = group
                .iter()
                .map(|(k, p)| Series {
                    label: (*k).clone(),
                    points: (*p).clone(),
                })
                .collect();
            write_chart(&charts, file, title, y, &series)?;
            let _ = writeln!(md, "![{title}](report/{file}.svg)\n");
        }
    }
    if let Some(health) = summary
        .get("sinks")
        .and_then(|v| v.as_array())
        .filter(|a| !a.is_empty())
    {
        md.push_str("## Metric sinks\n\n| sink | failures | last error |\n|---|---|---|\n");
        for h in health {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                h["sink"].as_str().unwrap_or("?"),
                h["failures"],
                h["last_error"].as_str().unwrap_or("")
            );
        }
        md.push('\n');
    }
    let path = dir.join("report.md");
    codex_core::write_bytes_atomic(&path, md.as_bytes()).map_err(|e| TrackError::Io {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 100.0), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(1.3, 2.9), vec![1.5, 2.0, 2.5]);
    }

    #[test]
    fn charts_are_well_formed_svg_with_one_line_per_series() {
        let s = vec![
            Series {
                label: "train/loss".into(),
                points: (0..50)
                    .map(|i| (f64::from(i), 5.0 - f64::from(i) * 0.05))
                    .collect(),
            },
            Series {
                label: "validation/loss".into(),
                points: vec![(10.0, 4.6), (20.0, 4.1), (f64::NAN, 1.0)],
            },
        ];
        let svg = svg_chart("Loss <1>", "step", "loss", &s);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("Loss &lt;1&gt;"));
        assert!(svg_chart("empty", "x", "y", &[]).contains("no data"));
    }

    #[test]
    fn legends_sit_below_the_plot_and_long_labels_widen_the_image() {
        let label = "20261206-085756-a-sweep-point-with-a-long-name-lr-0.003".to_owned();
        let s = vec![Series {
            label: label.clone(),
            points: vec![(0.0, 1.0), (1.0, 2.0)],
        }];
        let svg = svg_chart("Loss", STEP_AXIS, LOSS_AXIS, &s);
        let attr = |name: &str, after: &str| -> f64 {
            let tail = &svg[svg.find(after).unwrap()..];
            let start = tail.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
            let end = start + tail[start..].find('"').unwrap();
            tail[start..end].parse().unwrap()
        };
        let width = attr("width", "<svg");
        let frame_bottom = attr("y", "<rect x=") + attr("height", "<rect x=");
        let text_at = svg.find(&format!(">{label}</text>")).unwrap();
        let text_tag = &svg[svg[..text_at].rfind("<text").unwrap()..text_at];
        let y: f64 = text_tag
            .split("y=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        let x: f64 = text_tag
            .split("x=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            y > frame_bottom + 30.0,
            "legend at {y}, plot ends at {frame_bottom}"
        );
        assert!(x + label_width(&label) <= width, "{x} + label > {width}");
        assert!(svg.contains(LOSS_AXIS) && svg.contains(STEP_AXIS));
    }
}
