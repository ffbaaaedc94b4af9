//! Kinesis Data Streams semantics over shardlog's storage core.
#![forbid(unsafe_code)]
