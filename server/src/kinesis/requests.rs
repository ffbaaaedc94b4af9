//! Typed requests of the Kinesis actions converted from field lookups: each is
//! read from the request after validation against the model (which has already
//! checked types, required members, patterns and enums), so a handler sees its
//! input as one struct. Members are named as the model names them.

use serde::Deserialize;
use std::collections::BTreeMap;

/// CreateStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateStreamInput {
    /// The new stream's name.
    pub(crate) stream_name: String,
    /// Shards of a provisioned stream; default 1.
    pub(crate) shard_count: Option<i128>,
    /// Provisioned (the default) or on demand.
    pub(crate) stream_mode_details: Option<StreamModeDetails>,
    /// Tags to set on the new stream.
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

/// `StreamModeDetails`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamModeDetails {
    /// The capacity mode.
    pub(crate) stream_mode: StreamMode,
}

/// A stream's capacity mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum StreamMode {
    /// Shards provisioned by count.
    Provisioned,
    /// Capacity follows the load.
    OnDemand,
}

/// DeleteStream's input: the stream by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteStreamInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
    /// Delete the stream's consumers too; default false (a stream with
    /// consumers is then refused).
    pub(crate) enforce_consumer_deletion: Option<bool>,
}

/// ListStreams' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListStreamsInput {
    /// Most names returned; default 100.
    pub(crate) limit: Option<i128>,
    /// List the names after this one.
    pub(crate) exclusive_start_stream_name: Option<String>,
    /// The previous page's token (the last name it returned).
    pub(crate) next_token: Option<String>,
}

/// DescribeStreamSummary's input: the stream by name or ARN.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeStreamSummaryInput {
    /// The stream.
    #[serde(flatten)]
    pub(crate) stream: StreamRef,
}

/// A stream as Kinesis requests name it: by StreamName, by StreamARN, or by both
/// when they agree.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StreamRef {
    /// The stream's name.
    pub(crate) stream_name: Option<String>,
    /// The stream's ARN.
    #[serde(rename = "StreamARN")]
    pub(crate) stream_arn: Option<String>,
}
