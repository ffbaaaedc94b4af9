//! `--report PATH`: one self-contained HTML page (inline CSS and SVG, no script
//! to run, no network) with the machine, the results table and three charts:
//! throughput against shard count, the latency percentile curve, and throughput
//! over time. The run's JSON is embedded too, so the page carries its data.

use crate::report_json::Report;
use crate::stats::QUANTILES;
use crate::table;
use crate::workloads::BenchResult;
use std::fmt::Write as _;

const WIDTH: f64 = 980.0;
const HEIGHT: f64 = 340.0;
const MARGIN_LEFT: f64 = 70.0;
const MARGIN_RIGHT: f64 = 330.0;
/// Longest legend label, characters; longer ones are cut (the full name is the
/// line's tooltip).
const LEGEND_CHARS_MAX: usize = 48;
/// Dash patterns that tell apart lines that share a color.
const DASHES: [&str; 3] = ["", "6 3", "2 2"];
const MARGIN_TOP: f64 = 20.0;
const MARGIN_BOTTOM: f64 = 50.0;
const COLORS: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One line of a chart: a label and its points.
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points, in data units.
    pub points: Vec<(f64, f64)>,
}

/// How the axes of a chart are drawn.
pub struct Axes<'a> {
    /// The chart's id attribute.
    pub id: &'a str,
    /// X axis title.
    pub x_title: &'a str,
    /// Y axis title.
    pub y_title: &'a str,
    /// Labelled x ticks (position, text); numeric ticks when empty.
    pub x_ticks: Vec<(f64, String)>,
    /// Plot y on a log10 scale.
    pub log_y: bool,
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    if high - low < 1e-9 {
        return (low - 0.5, high + 0.5);
    }
    (low, high)
}

/// The data ranges of a chart and how they map onto the plot area.
struct Frame {
    x_low: f64,
    x_high: f64,
    /// In plotted units (log10 when `log_y`).
    y_low: f64,
    y_high: f64,
    log_y: bool,
    plot_w: f64,
    plot_h: f64,
}

impl Frame {
    fn new(axes: &Axes<'_>, series: &[Series]) -> Frame {
        let all = || series.iter().flat_map(|s| s.points.iter());
        let (x_low, x_high) = bounds(all().map(|p| p.0));
        let transform = |y: f64| if axes.log_y { y.max(1e-3).log10() } else { y };
        let (mut y_low, mut y_high) = bounds(all().map(|p| transform(p.1)));
        if axes.log_y {
            // Whole decades, so the ticks read 1, 10, 100, 1k ...
            (y_low, y_high) = (y_low.floor(), y_high.ceil().max(y_low.floor() + 1.0));
        } else {
            y_low = y_low.min(0.0);
        }
        Frame {
            x_low,
            x_high,
            y_low,
            y_high,
            log_y: axes.log_y,
            plot_w: WIDTH - MARGIN_LEFT - MARGIN_RIGHT,
            plot_h: HEIGHT - MARGIN_TOP - MARGIN_BOTTOM,
        }
    }

    fn sx(&self, x: f64) -> f64 {
        MARGIN_LEFT + (x - self.x_low) / (self.x_high - self.x_low) * self.plot_w
    }

    fn sy(&self, y: f64) -> f64 {
        let t = if self.log_y { y.max(1e-3).log10() } else { y };
        MARGIN_TOP + self.plot_h - (t - self.y_low) / (self.y_high - self.y_low) * self.plot_h
    }
}

/// The plot area, grid lines, tick labels and axis titles.
fn draw_axes(svg: &mut String, frame: &Frame, axes: &Axes<'_>) {
    let (plot_w, plot_h) = (frame.plot_w, frame.plot_h);
    let _ = write!(
        svg,
        r##"<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#999"/>"##
    );
    let y_steps = if frame.log_y {
        (frame.y_high - frame.y_low) as u32
    } else {
        4
    };
    for step in 0..=y_steps {
        let fraction = f64::from(step) / f64::from(y_steps);
        let t = frame.y_low + (frame.y_high - frame.y_low) * fraction;
        let value = if frame.log_y { 10f64.powf(t) } else { t };
        let y = MARGIN_TOP + plot_h - plot_h * fraction;
        let _ = write!(
            svg,
            r##"<line x1="{MARGIN_LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
            MARGIN_LEFT + plot_w,
            MARGIN_LEFT - 6.0,
            y + 4.0,
            short(value)
        );
    }
    let ticks: Vec<(f64, String)> = if axes.x_ticks.is_empty() {
        (0..=4)
            .map(|i| {
                let x = frame.x_low + (frame.x_high - frame.x_low) * f64::from(i) / 4.0;
                (x, short(x))
            })
            .collect()
    } else {
        axes.x_ticks.clone()
    };
    for (x, text) in ticks {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            frame.sx(x),
            MARGIN_TOP + plot_h + 16.0,
            escape(&text)
        );
    }
    let middle_y = MARGIN_TOP + plot_h / 2.0;
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text><text x="14" y="{middle_y:.1}" text-anchor="middle" font-size="12" transform="rotate(-90 14 {middle_y:.1})">{}</text>"#,
        MARGIN_LEFT + plot_w / 2.0,
        HEIGHT - 10.0,
        escape(axes.x_title),
        escape(axes.y_title)
    );
}

/// Each non-empty series as a line with dots, and its legend entry.
fn draw_series(svg: &mut String, frame: &Frame, series: &[Series]) {
    for (index, line) in series.iter().filter(|s| !s.points.is_empty()).enumerate() {
        let color = COLORS[index % COLORS.len()];
        let dash = DASHES[(index / COLORS.len()) % DASHES.len()];
        let points: Vec<String> = line
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", frame.sx(x), frame.sy(y)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(&line.label)
        );
        for &(x, y) in &line.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}"/>"#,
                frame.sx(x),
                frame.sy(y)
            );
        }
        let legend_y = MARGIN_TOP + 12.0 + 16.0 * index as f64;
        let legend_x = MARGIN_LEFT + frame.plot_w + 10.0;
        let _ = write!(
            svg,
            r#"<line x1="{legend_x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="3" stroke-dasharray="{dash}"/><text x="{:.1}" y="{legend_y:.1}" font-size="11">{}</text>"#,
            legend_x + 18.0,
            legend_y - 4.0,
            legend_y - 4.0,
            legend_x + 22.0,
            escape(&legend_text(&line.label))
        );
    }
}

/// An SVG line chart with a legend; empty series are skipped.
pub fn line_chart(axes: &Axes<'_>, series: &[Series]) -> String {
    let frame = Frame::new(axes, series);
    let mut svg = format!(
        r#"<svg id="{}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">"#,
        axes.id
    );
    draw_axes(&mut svg, &frame, axes);
    draw_series(&mut svg, &frame, series);
    svg.push_str("</svg>");
    svg
}

/// A legend label cut to [`LEGEND_CHARS_MAX`] characters.
fn legend_text(label: &str) -> String {
    if label.chars().count() <= LEGEND_CHARS_MAX {
        return label.to_string();
    }
    let cut: String = label.chars().take(LEGEND_CHARS_MAX - 1).collect();
    cut + "…"
}

/// A compact number for an axis label.
fn short(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{:.0}M", value / 1e6)
    } else if magnitude >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if magnitude >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if magnitude >= 10.0 || magnitude == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Append MB/s against shard count, one line per backend and durability, plus
/// the faster raw write baseline (what the ratios divide by) as a flat line.
fn shard_chart(results: &[BenchResult]) -> String {
    let appends: Vec<&BenchResult> = results.iter().filter(|r| r.workload == "append").collect();
    let mut series: Vec<Series> = Vec::new();
    let mut shard_counts: Vec<u32> = Vec::new();
    for r in &appends {
        let (Some(shards), Some(mb)) = (r.params.shards, r.mb_per_s) else {
            continue;
        };
        shard_counts.push(shards);
        let label = format!(
            "append {} {}",
            r.params.backend.as_deref().unwrap_or("?"),
            r.params.durability.as_deref().unwrap_or("?")
        );
        let x = f64::from(shards).log2();
        match series.iter_mut().find(|s| s.label == label) {
            Some(line) => line.points.push((x, mb)),
            None => series.push(Series {
                label,
                points: vec![(x, mb)],
            }),
        }
    }
    shard_counts.sort_unstable();
    shard_counts.dedup();
    let raw = results
        .iter()
        .filter(|r| {
            crate::workloads::BEST_WRITE
                .iter()
                .any(|k| k.name() == r.workload)
        })
        .filter_map(|r| Some((r, r.mb_per_s?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some((raw, raw_mb)), Some(first), Some(last)) =
        (raw, shard_counts.first(), shard_counts.last())
    {
        series.push(Series {
            label: raw.name.clone(),
            points: vec![
                (f64::from(*first).log2(), raw_mb),
                (f64::from(*last).log2(), raw_mb),
            ],
        });
    }
    let axes = Axes {
        id: "chart-shards",
        x_title: "shards",
        y_title: "MB/s",
        x_ticks: shard_counts
            .iter()
            .map(|&s| (f64::from(s).log2(), s.to_string()))
            .collect(),
        log_y: false,
    };
    line_chart(&axes, &series)
}

/// Latency at each percentile (log µs), one line per case that measured latency.
fn latency_chart(results: &[BenchResult]) -> String {
    let series: Vec<Series> = results
        .iter()
        .filter_map(|r| {
            let latency = r.latency_us?;
            let points = latency
                .values()
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, *v))
                .collect();
            Some(Series {
                label: r.name.clone(),
                points,
            })
        })
        .collect();
    let mut ticks: Vec<(f64, String)> = QUANTILES
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (i as f64, name.to_string()))
        .collect();
    ticks.push((QUANTILES.len() as f64, "max".into()));
    let axes = Axes {
        id: "chart-latency",
        x_title: "percentile",
        y_title: "latency µs (log)",
        x_ticks: ticks,
        log_y: true,
    };
    line_chart(&axes, &series)
}

/// MB/s over the last repetition of each throughput case.
fn time_chart(results: &[BenchResult]) -> String {
    let series: Vec<Series> = results
        .iter()
        .filter(|r| !r.series.is_empty())
        .map(|r| Series {
            label: r.name.clone(),
            points: r.series.iter().map(|p| (p[0], p[1])).collect(),
        })
        .collect();
    let axes = Axes {
        id: "chart-time",
        x_title: "seconds into the run",
        y_title: "MB/s",
        x_ticks: Vec::new(),
        log_y: false,
    };
    line_chart(&axes, &series)
}

fn results_table(results: &[BenchResult]) -> String {
    let row = |tag: &str, cells: &[String]| {
        let inner: String = cells
            .iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect();
        format!("<tr>{inner}</tr>")
    };
    let headers: Vec<String> = table::HEADERS.iter().map(|h| h.to_string()).collect();
    let mut html = format!("<table>{}", row("th", &headers));
    for r in results {
        html.push_str(&row("td", &table::cells(r)));
    }
    html.push_str("</table>");
    html
}

/// The page.
pub fn render(report: &Report) -> String {
    let data = serde_json::to_string(report)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let machine = serde_json::to_string_pretty(&report.machine).unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>shardlog bench — {profile}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}pre{{background:#f4f4f4;padding:1em}}section{{margin-bottom:2em}}</style>
</head><body>
<h1>shardlog bench</h1>
<p>{machine_line}</p>
<p>Command: <code>{command}</code>; profile {profile}; {repetitions} repetitions of up to {duration:.1} s or {volume} MiB per case; took {wall:.0} s.</p>
<section><h2>Throughput against shard count</h2>{shards}</section>
<section><h2>Latency percentiles</h2>{latency}</section>
<section><h2>Throughput over time (last repetition)</h2>{time}</section>
<section><h2>Results</h2>{table}<p>MB/s: payload, 10<sup>6</sup> bytes per second, median of the repetitions. Ratio: MB/s over the raw baseline measured in the same run (for appends the faster raw write). Core s/GB: the process's CPU time per GB of payload.</p></section>
<section><h2>Machine</h2><pre>{machine}</pre></section>
<script type="application/json" id="bench-data">{data}</script>
</body></html>
"#,
        profile = escape(&report.settings.profile),
        machine_line = escape(&report.machine.summary()),
        command = escape(&report.command),
        repetitions = report.settings.repetitions,
        duration = report.settings.duration_s,
        volume = report.settings.volume_bytes >> 20,
        wall = report.wall_s,
        shards = shard_chart(&report.results),
        latency = latency_chart(&report.results),
        time = time_chart(&report.results),
        table = results_table(&report.results),
        machine = escape(&machine),
    )
}
