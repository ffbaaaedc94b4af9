//! The outputs of a run from known results: the JSON keys users script against,
//! the HTML page's three charts and embedded data, and the comparison table.

use shardlog_bench::machine::Machine;
use shardlog_bench::report_json::{Report, Settings, FORMAT_VERSION};
use shardlog_bench::stats::{Percentiles, Spread};
use shardlog_bench::workloads::{apply_ratios, BenchResult, Params};
use shardlog_bench::{compare, report_html};

fn result(workload: &str, name: &str, shards: Option<u32>, mb: Option<f64>) -> BenchResult {
    BenchResult {
        workload: workload.into(),
        name: name.into(),
        params: Params {
            shards,
            backend: shards.map(|_| "buffered".into()),
            durability: shards.map(|_| "sync".into()),
            ..Params::default()
        },
        cache: None,
        repetitions: 3,
        mb_per_s: mb,
        mb_per_s_spread: mb.map(|m| Spread {
            min: m * 0.9,
            median: m,
            max: m * 1.1,
        }),
        mb_per_s_per_shard: mb.zip(shards).map(|(m, s)| m / f64::from(s)),
        records_per_s: Some(1000.0),
        records_per_s_spread: None,
        latency_us: Some(Percentiles {
            count: 10,
            p50: 10.0,
            p90: 20.0,
            p99: 40.0,
            p99_9: 80.0,
            p99_99: 160.0,
            max: 200.0,
        }),
        latency_of: "call".into(),
        ratio_to_raw: None,
        raw_baseline: None,
        raw_baselines: shards.map_or_else(Vec::new, |_| {
            vec!["raw-direct-write".into(), "raw-buffered-write".into()]
        }),
        raw_baseline_mb_per_s: None,
        core_s_per_gb: shards.map(|_| 0.4),
        user_s_per_gb: shards.map(|_| 0.1),
        idle_shard: None,
        series: mb.map_or_else(Vec::new, |m| vec![[0.2, m], [0.4, m * 1.2], [0.6, m]]),
    }
}

fn report(scale: f64) -> Report {
    let mut results = vec![
        result(
            "raw-direct-write",
            "raw O_DIRECT write",
            None,
            Some(500.0 * scale),
        ),
        result("append", "append 1 shard", Some(1), Some(250.0 * scale)),
        result("append", "append 2 shards", Some(2), Some(400.0)),
        result("append", "append 4 shards", Some(4), Some(450.0)),
        result("seek-sequence", "seek <AT_SEQUENCE_NUMBER>", Some(1), None),
    ];
    apply_ratios(&mut results);
    Report {
        tool: "shardlog bench".into(),
        format_version: FORMAT_VERSION,
        version: "0.1.0".into(),
        command: "shardlog bench --quick".into(),
        started_unix_s: 1,
        wall_s: 2.0,
        machine: Machine::probe(&std::env::temp_dir()),
        settings: Settings {
            profile: "quick".into(),
            repetitions: 3,
            ..Settings::default()
        },
        results,
        queue_memory: None,
    }
}

/// Ratios divide by the baseline of the same run, and the JSON carries the
/// documented keys and reads back equal.
#[test]
fn json_has_the_documented_shape() {
    let report = report(1.0);
    assert_eq!(report.results[1].ratio_to_raw, Some(0.5));
    assert_eq!(report.results[4].ratio_to_raw, None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    report.write(&path).unwrap();
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(value["machine"].is_object());
    for key in [
        "cpu",
        "cores",
        "kernel",
        "memory_bytes",
        "filesystem",
        "device",
    ] {
        assert!(value["machine"].get(key).is_some(), "machine.{key}");
    }
    for entry in value["results"].as_array().unwrap() {
        for key in [
            "workload",
            "mb_per_s",
            "records_per_s",
            "latency_us",
            "ratio_to_raw",
        ] {
            assert!(entry.get(key).is_some(), "{key} in {entry}");
        }
        for key in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
            assert!(entry["latency_us"][key].is_number(), "{key}");
        }
    }
    assert_eq!(Report::read(&path).unwrap(), report);
}

/// An append is divided by the faster raw write of the run, which the result
/// names with its MB/s; the table shows both beside the core-seconds per GB.
#[test]
fn ratio_uses_the_faster_raw_write() {
    let mut results = vec![
        result("raw-direct-write", "raw O_DIRECT write", None, Some(500.0)),
        result("raw-buffered-write", "raw buffered", None, Some(800.0)),
        result("append", "append 1 shard", Some(1), Some(400.0)),
    ];
    apply_ratios(&mut results);
    let append = &results[2];
    assert_eq!(append.ratio_to_raw, Some(0.5));
    assert_eq!(append.raw_baseline.as_deref(), Some("raw-buffered-write"));
    assert_eq!(append.raw_baseline_mb_per_s, Some(800.0));
    let table = shardlog_bench::table::render(&results);
    let line = table.lines().find(|l| l.starts_with("append 1")).unwrap();
    assert!(line.ends_with(" 0.50      800      0.40"), "{line}");
    results.remove(1);
    apply_ratios(&mut results);
    assert_eq!(results[1].ratio_to_raw, Some(0.8));
    assert_eq!(results[1].raw_baseline.as_deref(), Some("raw-direct-write"));
}

/// The text between the first `open` and the next `close`.
fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).unwrap_or_else(|| panic!("no {open}")) + open.len();
    let end = text[start..]
        .find(close)
        .unwrap_or_else(|| panic!("no {close} after {open}"))
        + start;
    &text[start..end]
}

/// The page holds the three charts with a line per series, escapes names, and
/// embeds the run's data, and fetches nothing.
#[test]
fn html_report_has_charts_and_data() {
    let report = report(1.0);
    let page = report_html::render(&report);
    let shards = between(&page, "<svg id=\"chart-shards\"", "</svg>");
    let polylines: Vec<&str> = shards.split("<polyline").skip(1).collect();
    assert_eq!(polylines.len(), 2, "append line and raw line");
    let points = between(polylines[0], "points=\"", "\"");
    assert_eq!(points.split(' ').count(), 3, "one point per shard count");
    for tick in [">1<", ">2<", ">4<"] {
        assert!(shards.contains(tick), "tick {tick}");
    }
    let latency = between(&page, "<svg id=\"chart-latency\"", "</svg>");
    assert_eq!(latency.matches("<polyline").count(), 5);
    assert!(latency.contains(">p99.9<"));
    let time = between(&page, "<svg id=\"chart-time\"", "</svg>");
    assert_eq!(time.matches("<polyline").count(), 4);
    assert!(page.contains("seek &lt;AT_SEQUENCE_NUMBER&gt;"));
    assert!(!page.contains("seek <AT"));
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    let data = between(
        &page,
        "<script type=\"application/json\" id=\"bench-data\">",
        "</script>",
    );
    let embedded: Report = serde_json::from_str(data).unwrap();
    assert_eq!(embedded, report);
}

/// The comparison sets each case of A beside B with B / A and each run's ratio.
#[test]
fn compare_sets_runs_side_by_side() {
    let text = compare::render(&report(1.0), &report(2.0));
    let line = text
        .lines()
        .find(|l| l.starts_with("append 1 shard "))
        .unwrap();
    assert!(
        line.contains("250") && line.contains("500") && line.contains("2.00"),
        "{line}"
    );
    // Each run's own ratio to its raw write: 250 / 500 in A, 500 / 1000 in B.
    assert_eq!(line.matches("0.50").count(), 2, "{line}");
    let same = text
        .lines()
        .find(|l| l.starts_with("append 4 shards"))
        .unwrap();
    assert!(same.contains("1.00"), "{same}");
}

/// A report written before the raw-baseline, CPU and idle-shard fields existed
/// still reads, with those figures absent.
#[test]
fn older_reports_without_the_new_fields_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    let mut value = serde_json::to_value(report(1.0)).unwrap();
    for entry in value["results"].as_array_mut().unwrap() {
        let entry = entry.as_object_mut().unwrap();
        for key in [
            "raw_baselines",
            "raw_baseline_mb_per_s",
            "core_s_per_gb",
            "user_s_per_gb",
            "idle_shard",
        ] {
            assert!(entry.remove(key).is_some(), "{key}");
        }
        entry["params"]
            .as_object_mut()
            .unwrap()
            .remove("preallocate_bytes_max");
    }
    std::fs::write(&path, value.to_string()).unwrap();
    let old = Report::read(&path).unwrap();
    assert_eq!(old.results[1].ratio_to_raw, Some(0.5));
    assert!(old.results.iter().all(|r| r.core_s_per_gb.is_none()));
    assert!(old.results.iter().all(|r| r.raw_baselines.is_empty()));
}
