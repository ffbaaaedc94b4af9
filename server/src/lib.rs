//! Kinesis- and Firehose-compatible HTTP server over the shardlog engine: HTTP/1.1 and h2c on
//! one port, `application/x-amz-json-1.1` and `application/x-amz-cbor-1.1`,
//! Kinesis-shaped errors, `/health` and `/metrics`.
#![forbid(unsafe_code)]

mod actions;
pub mod error;
mod firehose;
mod http;
pub mod metrics;
pub mod sigv4;
pub mod value;

pub use firehose::FIREHOSE_TARGET_PREFIX;
pub use http::{serve, tls_config, ServerConfig, KINESIS_TARGET_PREFIX};
