//! The table `shardlog bench` prints on stdout.

use crate::workloads::BenchResult;
use std::fmt::Write as _;

/// A figure with `decimals` decimals, or `-` when absent.
pub fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// The results as a fixed-width table, one line per result, with a legend.
pub fn render(results: &[BenchResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<42} {:<20} {:>8} {:>15} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "case",
        "cache",
        "MB/s",
        "min..max",
        "MB/s/sh",
        "rec/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        "ratio"
    );
    for r in results {
        let spread = r.mb_per_s_spread.map_or_else(
            || "-".to_string(),
            |s| format!("{:.0}..{:.0}", s.min, s.max),
        );
        let latency = |pick: fn(&crate::stats::Percentiles) -> f64| {
            number(r.latency_us.as_ref().map(pick), 1)
        };
        let _ = writeln!(
            out,
            "{:<42} {:<20} {:>8} {:>15} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>6}",
            r.name,
            r.cache.as_deref().unwrap_or("-"),
            number(r.mb_per_s, 0),
            spread,
            number(r.mb_per_s_per_shard, 0),
            number(r.records_per_s, 0),
            latency(|p| p.p50),
            latency(|p| p.p99),
            latency(|p| p.p99_9),
            latency(|p| p.max),
            number(r.ratio_to_raw, 2),
        );
    }
    out.push_str(
        "\nMB/s: median over repetitions of payload 10^6 bytes/s (min..max beside it); rec/s: records or operations/s;\n\
         latency: per operation named in the JSON's latency_of, all repetitions; ratio: MB/s over the raw baseline of this run\n\
         (appends: raw O_DIRECT write; replays: raw sequential read, cold or warm alike)\n",
    );
    out
}
