//! Benchmarks of shardlog: the criterion micro-benchmarks' helpers, and
//! `shardlog bench`, the storage benchmark harness (raw device baselines, engine
//! append / replay / seek / end-to-end latency / mixed, the same over HTTP) with
//! its table, JSON, HTML report and comparison.
#![forbid(unsafe_code)]

pub mod cli;
pub mod compare;
pub mod machine;
pub mod raw;
pub mod report_html;
pub mod report_json;
pub mod runner;
pub mod stats;
pub mod table;
pub mod workloads;

pub use runner::run;

/// The options of a stand-alone bench binary (`bin` names it), parsed by `parse`;
/// on an error (an empty one asks for help) prints it and `usage` to stderr and
/// gives the exit code 2 to return.
pub fn options_or_usage<T>(
    bin: &str,
    usage: &str,
    parse: impl FnOnce(&[String]) -> Result<T, String>,
) -> Result<T, std::process::ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    parse(&args).map_err(|error| {
        if !error.is_empty() {
            eprintln!("{bin}: {error}");
        }
        eprintln!("usage: {bin} {usage}");
        std::process::ExitCode::from(2)
    })
}
