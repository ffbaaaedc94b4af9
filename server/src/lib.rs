//! Kinesis-compatible HTTP server over the shardlog engine: HTTP/1.1 and h2c on
//! one port, `application/x-amz-json-1.1` and `application/x-amz-cbor-1.1`,
//! Kinesis-shaped errors, `/health` and `/metrics`.
#![forbid(unsafe_code)]

mod actions;
pub mod error;
mod http;
pub mod metrics;
pub mod sigv4;
pub mod value;

pub use http::{serve, tls_config, ServerConfig, KINESIS_TARGET_PREFIX};

/// Runs one Kinesis action (the part after `Kinesis_20131202.`) on `engine` as the
/// server would for a JSON 1.1 request `body`, without HTTP and without
/// authentication: for tools that work on a data directory offline. Returns the
/// JSON response body.
pub fn call_json(
    engine: &shardlog_engine::Engine,
    action: &str,
    body: &[u8],
) -> Result<Vec<u8>, error::ApiError> {
    let format = value::Format::Json;
    let request = format.decode(body)?;
    let fields = value::Fields::new(&request, format)?;
    let metrics = metrics::Metrics::default();
    let response = actions::dispatch(engine, &metrics, action, fields)?;
    Ok(format.encode(&response))
}
