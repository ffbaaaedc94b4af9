//! Kinesis-, Firehose- and SQS-compatible HTTP server over the shardlog engine: HTTP/1.1 and h2c on
//! one port, `application/x-amz-json-1.1`, `application/x-amz-cbor-1.1`, SQS's JSON 1.0 and query protocol,
//! Kinesis-shaped errors, `/health` and `/metrics`.
//!
//! Laid out by service, over one front end and one set of codecs:
//!
//! ```text
//! http.rs, connection.rs    the front end: listener, TLS, HTTP/1.1 and h2c, timeouts and
//!                           limits, CORS, /health and /metrics, X-Amz-Target dispatch
//! auth/                     SigV4: Authorization header, presigned query string,
//!                           canonical request
//! metrics.rs, error.rs      Prometheus metrics; AWS-shaped errors
//! unsupported.rs            content types a service does not speak, answered as AWS does
//! service.rs                the table of services: target prefix, model, wire formats,
//!                           run function, event-stream action
//! protocol/                 one codec per wire protocol (json, cbor) over the `value`
//!                           tree, eventstream framing, validation from the vendored
//!                           botocore models (model, validate)
//! kinesis/                  Kinesis actions, rules, SubscribeToShard
//! firehose/                 Firehose actions
//! sqs/                      SQS actions over shardlog-queue, with their own front
//!                           end (JSON 1.0 and the query protocol, SQS errors)
//! sns/                      SNS actions over shardlog-topic (query protocol, SNS
//!                           errors) and the sinks that deliver notifications
//! ```
//!
//! A request goes: front end (read, authenticate) -> the service its target's
//! prefix names -> validation against that service's model -> the service's
//! action, on a blocking thread -> the request's codec encodes the answer. A new
//! service (SQS, SNS) is a module beside `kinesis/` and a line in the table.
#![forbid(unsafe_code)]

pub mod auth;
mod body_buffers;
mod connection;
pub mod error;
mod firehose;
mod http;
mod identity;
mod kinesis;
pub mod metrics;
pub mod protocol;
mod service;
pub mod sns;
pub mod sqs;
mod unsupported;

pub use firehose::FIREHOSE_TARGET_PREFIX;
pub use http::{serve, tls_config, ServerConfig};
pub use identity::Identity;
pub use kinesis::errors as kinesis_errors;
pub use kinesis::subscribe::EVENT_STREAM_CONTENT_TYPE;
pub use kinesis::KINESIS_TARGET_PREFIX;
pub use sns::signing::{canonical_string, SignatureVersion, Signer};
pub use sns::Sns;
pub use sqs::{Sqs, SQS_TARGET_PREFIX};
// The paths tools and tests outside the crate used before the layout by service.
pub use auth as sigv4;
pub use protocol::eventstream;

/// Runs one Kinesis action (the part after `Kinesis_20131202.`) on `engine` as the
/// server answering as `identity` would for a JSON 1.1 request `body`, without
/// HTTP and without authentication: for tools that work on a data directory
/// offline. Returns the JSON response body.
pub fn call_json(
    engine: &shardlog_engine::Engine,
    identity: &Identity,
    action: &str,
    body: &[u8],
) -> Result<Vec<u8>, error::ApiError> {
    let format = protocol::value::Format::Json;
    let request = protocol::validate::request(protocol::model::kinesis(), action, format, body)?;
    let metrics = metrics::Metrics::default();
    let kinesis = kinesis::actions::Kinesis {
        engine,
        account: identity.account(),
    };
    kinesis::actions::dispatch(kinesis, &metrics, action, format, &request)
        .map_err(|failure| failure.into_api(kinesis.account))
}

#[cfg(test)]
mod tests {
    //! The offline entry point answers as the server does.
    use super::*;

    /// A JSON request runs on the engine; a bad one gets the server's error.
    #[test]
    fn call_json_runs_actions_and_returns_errors() {
        let dir = tempfile::tempdir().unwrap();
        let fs = shardlog_segment::io::RealFs::shared();
        let engine =
            shardlog_engine::Engine::open(fs, shardlog_engine::EngineConfig::new(dir.path()))
                .unwrap();
        let identity = Identity::default();
        let created = call_json(
            &engine,
            &identity,
            "CreateStream",
            br#"{"StreamName":"s","ShardCount":2}"#,
        );
        assert!(created.is_ok(), "{created:?}");
        let listed = call_json(&engine, &identity, "ListStreams", b"{}").unwrap();
        let listed: serde_json::Value = serde_json::from_slice(&listed).unwrap();
        assert_eq!(listed["StreamNames"][0], "s");
        let missing = call_json(
            &engine,
            &identity,
            "DescribeStream",
            br#"{"StreamName":"x"}"#,
        )
        .unwrap_err();
        assert_eq!(missing.code, "ResourceNotFoundException");
        let malformed = call_json(&engine, &identity, "ListStreams", b"{").unwrap_err();
        assert_eq!(malformed.code, "SerializationException");
        engine.shutdown().unwrap();
    }
}
