//! Benchmarks of shardlog: the criterion micro-benchmarks' helpers, and
//! `shardlog bench`, the storage benchmark harness (raw device baselines, engine
//! append / replay / seek / end-to-end latency / mixed, the same over HTTP) with
//! its table, JSON, HTML report and comparison.
#![forbid(unsafe_code)]

pub mod cli;
pub mod compare;
pub mod machine;
pub mod process;
pub mod raw;
pub mod report_html;
pub mod report_json;
pub mod runner;
pub mod stats;
pub mod table;
pub mod workloads;

pub use runner::run;
