//! Benchmark helpers shared by the criterion benches and the append-throughput
//! harness: raw-device baselines measured in the same run as what they compare.
#![forbid(unsafe_code)]

pub mod raw;
