//! The results table: the text `shardlog bench` prints on stdout, and the cells
//! the HTML report's table shares with it.

use crate::stats::Percentiles;
use crate::workloads::BenchResult;
use std::fmt::Write as _;

/// A figure with `decimals` decimals, or `-` when absent.
pub fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

/// Column titles, in the order of [`cells`].
pub const HEADERS: [&str; 14] = [
    "case",
    "cache",
    "MB/s",
    "min..max",
    "MB/s/sh",
    "rec/s",
    "p50 µs",
    "p99 µs",
    "p99.9 µs",
    "p99.99 µs",
    "max µs",
    "ratio",
    "raw MB/s",
    "core s/GB",
];

/// Text widths of the columns; negative means left-aligned.
const WIDTHS: [i32; 14] = [-44, -20, 8, 13, 8, 10, 9, 9, 9, 9, 9, 6, 8, 9];

/// One result's cells, in the order of [`HEADERS`].
pub fn cells(r: &BenchResult) -> [String; 14] {
    let latency = |pick: fn(&Percentiles) -> f64| number(r.latency_us.as_ref().map(pick), 1);
    [
        r.name.clone(),
        r.cache.clone().unwrap_or_else(|| "-".into()),
        number(r.mb_per_s, 0),
        r.mb_per_s_spread
            .map_or_else(|| "-".into(), |s| format!("{:.0}..{:.0}", s.min, s.max)),
        number(r.mb_per_s_per_shard, 0),
        number(r.records_per_s, 0),
        latency(|p| p.p50),
        latency(|p| p.p99),
        latency(|p| p.p99_9),
        latency(|p| p.p99_99),
        latency(|p| p.max),
        number(r.ratio_to_raw, 2),
        number(r.raw_baseline_mb_per_s, 0),
        number(r.core_s_per_gb, 2),
    ]
}

fn line<S: AsRef<str>>(out: &mut String, row: &[S]) {
    for (index, (cell, width)) in row.iter().zip(WIDTHS).enumerate() {
        let separator = if index == 0 { "" } else { " " };
        let width = width.unsigned_abs() as usize;
        let cell = cell.as_ref();
        let _ = if index < 2 {
            write!(out, "{separator}{cell:<width$}")
        } else {
            write!(out, "{separator}{cell:>width$}")
        };
    }
    out.push('\n');
}

/// The results as a fixed-width table, one line per result, with a legend.
pub fn render(results: &[BenchResult]) -> String {
    let mut out = String::new();
    line(&mut out, &HEADERS);
    for r in results {
        line(&mut out, &cells(r));
    }
    out.push_str(
        "\nMB/s: median over repetitions of payload 10^6 bytes/s (min..max beside it); rec/s: records or operations/s;\n\
         latency: per operation named in the JSON's latency_of, all repetitions; ratio: MB/s over the raw baseline of this run\n\
         (appends: the faster of raw O_DIRECT write and raw buffered write + fdatasync, its MB/s under raw MB/s;\n\
         replays: raw sequential read of the same temperature); core s/GB: CPU time of the process (user + system,\n\
         all threads) per 10^9 bytes of payload during the measured part\n",
    );
    for note in scale_notes(results) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// One line per scale result: what an idle shard costs, and its rate against the
/// largest-shard-count append of the same backend in the run.
pub fn scale_notes(results: &[BenchResult]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| {
            let idle = r.idle_shard?;
            let mut note = format!(
                "{}: {:.1} KiB of anonymous memory and {:.2} open files per idle shard",
                r.name,
                idle.memory_bytes / 1024.0,
                idle.open_files
            );
            let peer = results
                .iter()
                .filter(|a| a.workload == "append" && a.params.backend == r.params.backend)
                .filter(|a| a.params.durability == r.params.durability)
                .max_by_key(|a| a.params.shards);
            if let Some((peer, peer_mb)) = peer.and_then(|a| Some((a, a.mb_per_s?))) {
                if let Some(mb) = r.mb_per_s.filter(|_| peer_mb > 0.0) {
                    let _ = write!(note, "; {:.2} x the rate of {}", mb / peer_mb, peer.name);
                }
            }
            Some(note)
        })
        .collect()
}
