//! `--compare A.json B.json`: two runs side by side (two disks, two configurations).

use crate::report_json::Report;
use crate::table::number;
use std::fmt::Write as _;

/// The comparison table: each case of A beside the case of the same name in B
/// (and B's cases A lacks), with B / A for MB/s and p99 latency, and each run's
/// ratio to its own raw device (what compares two disks fairly).
pub fn render(a: &Report, b: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A: {}\n   {}", a.command, a.machine.summary());
    let _ = writeln!(out, "B: {}\n   {}\n", b.command, b.machine.summary());
    let _ = writeln!(
        out,
        "{:<44} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10} {:>10} {:>7}",
        "case", "A MB/s", "B MB/s", "B/A", "A ratio", "B ratio", "A p99 µs", "B p99 µs", "B/A"
    );
    let mut names: Vec<&str> = a.results.iter().map(|r| r.name.as_str()).collect();
    for r in &b.results {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    for name in names {
        let left = a.results.iter().find(|r| r.name == name);
        let right = b.results.iter().find(|r| r.name == name);
        let mb = |r: Option<&crate::workloads::BenchResult>| r.and_then(|r| r.mb_per_s);
        let p99 =
            |r: Option<&crate::workloads::BenchResult>| r.and_then(|r| r.latency_us.map(|l| l.p99));
        let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) if x > 0.0 => Some(y / x),
            _ => None,
        };
        let to_raw = |r: Option<&crate::workloads::BenchResult>| r.and_then(|r| r.ratio_to_raw);
        let _ = writeln!(
            out,
            "{:<44} {:>9} {:>9} {:>7} {:>8} {:>8} {:>10} {:>10} {:>7}",
            name,
            number(mb(left), 0),
            number(mb(right), 0),
            number(ratio(mb(left), mb(right)), 2),
            number(to_raw(left), 2),
            number(to_raw(right), 2),
            number(p99(left), 1),
            number(p99(right), 1),
            number(ratio(p99(left), p99(right)), 2),
        );
    }
    out
}
