//! The Kinesis Data Streams API (`Kinesis_20131202.*`): its actions, the business
//! rules Kinesis applies beyond its model, and SubscribeToShard's event stream.
//!
//! Actions take their request as validated by the front end, read into the
//! action's struct in `requests` (`typed::read` in `dispatch`): no action
//! looks a field up by name.

pub(crate) mod actions;
pub(crate) mod arn;
pub mod errors;
pub(crate) mod put_body;
pub(crate) mod requests;
pub(crate) mod responses;
pub(crate) mod rules;
pub(crate) mod subscribe;

use crate::error::ApiError;
use crate::http::Shared;
use crate::protocol::value::{Format, Value};
use crate::service::{BodyFuture, ResponseFuture, Service, Streaming};
use bytes::Bytes;
use errors::Failure;
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
    run_body: Some(run_body),
    streaming: Some(Streaming {
        action: subscribe::ACTION,
        respond: subscribe_to_shard,
    }),
};

fn run(
    shared: &Shared,
    action: &str,
    format: Format,
    request: &Value,
) -> Result<Vec<u8>, ApiError> {
    answer(shared, |kinesis| {
        actions::dispatch(kinesis, &shared.metrics, action, format, request)
    })
}

/// PutRecords read in one pass from a body the model accepts
/// ([`put_body::PutRecordsBody`]) and run on the request's task; every other
/// request goes through validation on a blocking thread.
fn run_body<'a>(
    shared: &'a Shared,
    action: &str,
    format: Format,
    body: &'a [u8],
) -> Option<BodyFuture<'a>> {
    if action != "PutRecords" {
        return None;
    }
    let model = crate::protocol::model::kinesis();
    let request = put_body::PutRecordsBody::read(model, format, body)?;
    Some(Box::pin(async move {
        let kinesis = kinesis_of(shared);
        let result = actions::put_records_body(kinesis, &shared.metrics, &request, format).await;
        word(shared, kinesis, result)
    }))
}

/// Runs an action against the engine and words its failure as Kinesis does.
fn answer(
    shared: &Shared,
    action: impl FnOnce(actions::Kinesis<'_>) -> Result<Vec<u8>, Failure>,
) -> Result<Vec<u8>, ApiError> {
    let kinesis = kinesis_of(shared);
    word(shared, kinesis, action(kinesis))
}

/// What the actions run against.
fn kinesis_of(shared: &Shared) -> actions::Kinesis<'_> {
    actions::Kinesis {
        engine: &shared.engine,
        account: shared.config.identity.account(),
    }
}

/// An action's result with its failure worded as Kinesis does (and a
/// throttled stream counted).
fn word(
    shared: &Shared,
    kinesis: actions::Kinesis<'_>,
    result: Result<Vec<u8>, Failure>,
) -> Result<Vec<u8>, ApiError> {
    if let Some(stream) = result.as_ref().err().and_then(Failure::throttled_stream) {
        shared.metrics.throttled(stream, 1);
    }
    result.map_err(|failure| failure.into_api(kinesis.account))
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

#[cfg(test)]
mod tests {
    //! The actions read from typed requests answer as before, by name and by ARN.
    use crate::{call_json, Identity};
    use serde_json::{json, Value};

    /// Not the default, so ARNs show they come from the server's identity.
    fn identity() -> Identity {
        Identity {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        }
    }

    fn call(engine: &shardlog_engine::Engine, action: &str, body: Value) -> Value {
        let answer = call_json(engine, &identity(), action, body.to_string().as_bytes())
            .unwrap_or_else(|error| panic!("{action}: {error:?}"));
        serde_json::from_slice(&answer).unwrap()
    }

    fn open_engine(dir: &tempfile::TempDir) -> shardlog_engine::Engine {
        let fs = shardlog_segment::io::RealFs::shared();
        let config = shardlog_engine::EngineConfig::new(dir.path());
        shardlog_engine::Engine::open(fs, config).unwrap()
    }

    /// CreateStream (modes, tags), ListStreams (paging), DescribeStreamSummary (by
    /// ARN) and DeleteStream (consumers refused unless deletion is enforced).
    #[test]
    fn typed_actions_answer_as_kinesis() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open_engine(&dir);
        let demand = json!({"StreamName": "a", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}});
        call(&engine, "CreateStream", demand);
        let tagged = json!({"StreamName": "b", "ShardCount": 3, "Tags": {"team": "x"}});
        call(&engine, "CreateStream", tagged);
        let page = call(&engine, "ListStreams", json!({"Limit": 1}));
        assert_eq!(page["StreamNames"], json!(["a"]));
        assert_eq!(page["HasMoreStreams"], json!(true));
        let next = json!({"ExclusiveStartStreamName": page["NextToken"]});
        assert_eq!(
            call(&engine, "ListStreams", next)["StreamNames"],
            json!(["b"])
        );
        let by_name = call(&engine, "DescribeStreamSummary", json!({"StreamName": "b"}));
        let arn = by_name["StreamDescriptionSummary"]["StreamARN"].clone();
        assert_eq!(
            arn,
            json!("arn:aws:kinesis:eu-west-1:123456789012:stream/b")
        );
        let by_arn = call(&engine, "DescribeStreamSummary", json!({"StreamARN": arn}));
        let summary = &by_arn["StreamDescriptionSummary"];
        assert_eq!(summary["OpenShardCount"], json!(3));
        assert_eq!(
            summary["StreamModeDetails"]["StreamMode"],
            json!("PROVISIONED")
        );
        let tags = call(&engine, "ListTagsForStream", json!({"StreamName": "b"}));
        assert_eq!(tags["Tags"], json!([{"Key": "team", "Value": "x"}]));
        call(
            &engine,
            "RegisterStreamConsumer",
            json!({"StreamARN": arn, "ConsumerName": "c"}),
        );
        let refused = call_json(
            &engine,
            &identity(),
            "DeleteStream",
            br#"{"StreamName":"b"}"#,
        )
        .unwrap_err();
        assert_eq!(refused.code, "ResourceInUseException");
        let enforced = json!({"StreamARN": arn, "EnforceConsumerDeletion": true});
        call(&engine, "DeleteStream", enforced);
        let gone = call_json(
            &engine,
            &identity(),
            "DescribeStreamSummary",
            br#"{"StreamName":"b"}"#,
        );
        assert_eq!(gone.unwrap_err().code, "ResourceNotFoundException");
        engine.shutdown().unwrap();
    }

    /// A typed engine error of each family (stream administration, consumers,
    /// resharding) reaches the client as Kinesis's code and message.
    #[test]
    fn typed_engine_errors_keep_kinesis_words() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open_engine(&dir);
        let refused = |action: &str, body: Value| {
            let error = call_json(&engine, &identity(), action, body.to_string().as_bytes())
                .expect_err(action);
            (error.code, error.message)
        };
        call(
            &engine,
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": 3}),
        );
        assert_eq!(
            refused("IncreaseStreamRetentionPeriod", json!({"StreamName": "s", "RetentionPeriodHours": 9000})),
            (
                "InvalidArgumentException",
                "Requested retention period (9000 hours) for stream s can not be longer than the maximum retention period (8760 hours).".to_string()
            )
        );
        assert_eq!(
            refused(
                "DescribeStreamConsumer",
                json!({"StreamName": "s", "ConsumerName": "c"})
            ),
            (
                "ResourceNotFoundException",
                "Consumer c under stream s under account 123456789012 not found.".to_string()
            )
        );
        let merge = json!({"StreamName": "s", "ShardToMerge": "shardId-000000000000", "AdjacentShardToMerge": "shardId-000000000002"});
        assert_eq!(
            refused("MergeShards", merge),
            (
                "InvalidArgumentException",
                "Shards shardId-000000000000 and shardId-000000000002 in stream s under account 123456789012 are not an adjacent pair of shards eligible for merging".to_string()
            )
        );
        engine.shutdown().unwrap();
    }
}
