//! The Kinesis Data Streams API (`Kinesis_20131202.*`): its actions, the business
//! rules Kinesis applies beyond its model, and SubscribeToShard's event stream.

pub(crate) mod actions;
mod requests;
pub(crate) mod rules;
pub(crate) mod subscribe;
mod subscribe_event;

use crate::error::ApiError;
use crate::http::Shared;
use crate::protocol::value::{Fields, Format, Value};
use crate::service::{ResponseFuture, Service, Streaming};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// The `X-Amz-Target` prefix of the Kinesis API.
pub const KINESIS_TARGET_PREFIX: &str = "Kinesis_20131202.";

/// Kinesis in the front end's table of services.
pub(crate) const SERVICE: Service = Service {
    target_prefix: KINESIS_TARGET_PREFIX,
    model: crate::protocol::model::kinesis,
    formats: &[Format::Json, Format::Cbor],
    run,
    streaming: Some(Streaming {
        action: subscribe::ACTION,
        respond: subscribe_to_shard,
    }),
};

fn run(shared: &Shared, action: &str, fields: Fields<'_>) -> Result<Value, ApiError> {
    let result = actions::dispatch(&shared.engine, &shared.metrics, action, fields);
    if let Err(error) = &result {
        if error.code == "ProvisionedThroughputExceededException" {
            let stream = fields.str("StreamName").ok().flatten().unwrap_or("-");
            shared.metrics.throttled(stream, 1);
        }
    }
    result
}

fn subscribe_to_shard(
    shared: Arc<Shared>,
    format: Format,
    body: Bytes,
    id: String,
    started: Instant,
) -> ResponseFuture {
    Box::pin(async move { subscribe::respond(shared, format, body, &id, started).await })
}
