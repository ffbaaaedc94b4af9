//! Helpers of the crash torture test (`crash_torture.rs`): the model of what is
//! known, the load, the readers, the checks, and the Firehose objects.

pub mod firehose;
pub mod kinesis;
pub mod load;
pub mod model;
pub mod subscribe;
