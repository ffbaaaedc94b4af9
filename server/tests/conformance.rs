//! Conformance with AWS's documented request validation, one test per root cause:
//! bodies are type-checked whole before anything else (SerializationException),
//! then every modelled constraint is reported together (ValidationException in
//! AWS's words), and only then is anything looked up; then the business rules the
//! model does not state (shard id forms, ordering sequence numbers, timestamps in
//! the future, the account's shard limit) answer as AWS does.

mod common;

use bytes::Bytes;
use common::start_with;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use shardlog_server::ServerConfig;
use std::net::SocketAddr;
use tokio::net::TcpStream;

async fn call(address: SocketAddr, action: &str, body: &str) -> (u16, serde_json::Value) {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::post("/")
        .header("host", address.to_string())
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("Kinesis_20131202.{action}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// A wrong JSON type is a SerializationException even when other members are also wrong.
#[tokio::test]
async fn wrong_types_are_serialization_errors_first() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let (status, error) = call(server.address, "AddTagsToStream", r#"{"Tags":"23"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "SerializationException");
    assert_eq!(error["message"], "Expected map or null");
    let (_, error) = call(server.address, "ListStreams", "").await;
    assert_eq!(error["__type"], "SerializationException");
    server.stop().await;
}

/// Constraint failures are collected and reported together, before any lookup:
/// an over-long name of a stream that does not exist is a ValidationException.
#[tokio::test]
async fn constraints_are_reported_together_before_lookup() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let name = "a".repeat(129);
    let body = format!(r#"{{"StreamName":"{name}","Limit":0}}"#);
    let (status, error) = call(server.address, "DescribeStream", &body).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "ValidationException");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 validation errors detected: "),
        "{message}"
    );
    assert!(message.contains(&format!("Value '{name}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128")), "{message}");
    assert!(message.contains("Value '0' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000"), "{message}");
    server.stop().await;
}

/// A CORS preflight is answered 200 with an empty body, any origin, a two-day
/// max age and the requested headers and method echoed; every other response
/// carries the CORS headers and x-amz-id-2; GET of an API path is a 403 in XML.
#[tokio::test]
async fn cors_preflight_and_headers() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let preflight = Request::options("/")
        .header("host", server.address.to_string())
        .header("origin", "http://page.example")
        .header("access-control-request-headers", "a, b, c")
        .header("access-control-request-method", "POST")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(preflight).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |response: &hyper::Response<_>, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v: &hyper::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(
        header(&response, "access-control-max-age").as_deref(),
        Some("172800")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers").as_deref(),
        Some("a, b, c")
    );
    assert_eq!(
        header(&response, "access-control-allow-methods").as_deref(),
        Some("POST")
    );
    assert!(header(&response, "x-amzn-requestid").is_some());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(body.is_empty());
    let get = Request::get("/")
        .header("host", server.address.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(get).await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let expose = header(&response, "access-control-expose-headers").unwrap();
    assert!(
        expose.contains("x-amzn-RequestId") && expose.contains("x-amz-id-2"),
        "{expose}"
    );
    let id2 = header(&response, "x-amz-id-2").unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(id2)
        .unwrap();
    assert_eq!(decoded.len(), 72);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("<AccessDeniedException>"));
    server.stop().await;
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A stream `s` of two shards.
fn two_shards(engine: &shardlog_engine::Engine) {
    engine
        .create_stream("s", Some(2), std::collections::BTreeMap::new())
        .unwrap();
}

/// SequenceNumberForOrdering that breaks the model's pattern is a ValidationException;
/// one that matches the pattern but is no sequence number, or one whose record time
/// is in the future, is an InvalidArgumentException in AWS's words; a sequence
/// number the stream gave out is taken.
#[tokio::test]
async fn ordering_sequence_number_must_be_real() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    let put = |ordering: String| {
        format!(
            r#"{{"StreamName":"s","PartitionKey":"k","Data":"AAEC","SequenceNumberForOrdering":"{ordering}"}}"#
        )
    };
    let future = shardlog_engine::seqno::SequenceNumber {
        shard_created_secs: 0,
        shard_index: 0,
        counter: 0,
        arrival_secs: now_secs() + 3600,
    }
    .to_decimal();
    let (status, error) = call(server.address, "PutRecord", &put("05".into())).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "ValidationException");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at 'sequenceNumberForOrdering'"),
        "{error}"
    );
    for bad in ["5".to_string(), future] {
        let (status, error) = call(server.address, "PutRecord", &put(bad.clone())).await;
        assert_eq!(status, 400);
        assert_eq!(error["__type"], "InvalidArgumentException", "{bad}");
        assert_eq!(
            error["message"],
            format!("ExclusiveMinimumSequenceNumber {bad} used in PutRecord on stream s under account 000000000000 is invalid.")
        );
    }
    let (status, first) = call(
        server.address,
        "PutRecord",
        r#"{"StreamName":"s","PartitionKey":"k","Data":"AAEC"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let given = first["SequenceNumber"].as_str().unwrap().to_string();
    let (status, second) = call(server.address, "PutRecord", &put(given.clone())).await;
    assert_eq!(status, 200, "{second}");
    assert!(second["SequenceNumber"].as_str().unwrap() > given.as_str());
    server.stop().await;
}

/// A StartingSequenceNumber is read once, at the request: one that is no sequence
/// number of the layout is still refused after the stream and shard lookups, in
/// the words used for one past the shard's end; one of another shard says so.
#[tokio::test]
async fn starting_sequence_numbers_are_refused_after_the_lookups() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    let at = |stream: &str, shard: &str, number: &str| {
        format!(
            r#"{{"StreamName":"{stream}","ShardId":"{shard}","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"{number}"}}"#
        )
    };
    let (_, listed) = call(server.address, "ListShards", r#"{"StreamName":"s"}"#).await;
    let starting = |index: usize| {
        let text = listed["Shards"][index]["SequenceNumberRange"]["StartingSequenceNumber"]
            .as_str()
            .unwrap();
        shardlog_engine::seqno::SequenceNumber::parse(text).unwrap()
    };
    let past_end = shardlog_engine::seqno::SequenceNumber {
        counter: 7,
        arrival_secs: now_secs(),
        ..starting(0)
    }
    .to_decimal();
    let other_shard = starting(1).to_decimal();
    let invalid = |number: &str| {
        format!("StartingSequenceNumber {number} used in GetShardIterator on shard shardId-000000000000 in stream s under account 000000000000 is invalid.")
    };
    let cases = [
        (
            at("gone", "shardId-000000000000", "5"),
            "ResourceNotFoundException",
            "Stream gone under account 000000000000 not found.".to_string(),
        ),
        (
            at("s", "shardId-000000000009", "5"),
            "ResourceNotFoundException",
            "Shard shardId-000000000009 in stream s under account 000000000000 does not exist".to_string(),
        ),
        (at("s", "shardId-000000000000", "5"), "InvalidArgumentException", invalid("5")),
        (
            at("s", "shardId-000000000000", &past_end),
            "InvalidArgumentException",
            invalid(&past_end),
        ),
        (
            at("s", "shardId-000000000000", &other_shard),
            "InvalidArgumentException",
            "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000".to_string(),
        ),
    ];
    for (body, code, message) in cases {
        let (status, error) = call(server.address, "GetShardIterator", &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            (error["__type"].as_str(), error["message"].as_str()),
            (Some(code), Some(message.as_str())),
            "{body}"
        );
    }
    // The shard's own StartingSequenceNumber is taken, empty as the shard is.
    let (status, _) = call(
        server.address,
        "GetShardIterator",
        &at("s", "shardId-000000000001", &other_shard),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// An AT_TIMESTAMP position after the server's clock is an InvalidArgumentException
/// (GetShardIterator and SubscribeToShard share the check); one in the past is taken.
#[tokio::test]
async fn future_timestamp_is_refused() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    let body = |secs: u64| {
        format!(
            r#"{{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":{secs}}}"#
        )
    };
    let (status, error) = call(server.address, "GetShardIterator", &body(now_secs() + 3600)).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "InvalidArgumentException");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: "),
        "{message}"
    );
    let (status, reply) = call(server.address, "GetShardIterator", &body(now_secs() - 60)).await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;
}

/// Shard ids in every form AWS resolves (bare number, zero-padded, any prefix up
/// to a hyphen) name the shard; one that names no number is not found, worded for
/// the id as sent.
#[tokio::test]
async fn shard_id_forms_are_resolved() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    for form in ["shard-1", "000000000001", "1"] {
        let body = format!(
            r#"{{"StreamName":"s","ShardId":"{form}","ShardIteratorType":"TRIM_HORIZON"}}"#
        );
        let (status, reply) = call(server.address, "GetShardIterator", &body).await;
        assert_eq!(status, 200, "{form}: {reply}");
    }
    let body = r#"{"StreamName":"s","ShardId":"ABKLFD8","ShardIteratorType":"LATEST"}"#;
    let (status, error) = call(server.address, "GetShardIterator", body).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "ResourceNotFoundException");
    assert_eq!(
        error["message"],
        "Could not find shard ABKLFD8 in stream s under account 000000000000."
    );
    let body = r#"{"StreamName":"s","ShardId":"7","ShardIteratorType":"LATEST"}"#;
    let (_, error) = call(server.address, "GetShardIterator", body).await;
    assert_eq!(
        error["message"],
        "Shard shardId-000000000007 in stream s under account 000000000000 does not exist"
    );
    let body = r#"{"StreamName":"s","ShardToMerge":"0","AdjacentShardToMerge":"shard-1"}"#;
    let (status, reply) = call(server.address, "MergeShards", body).await;
    assert_eq!(status, 200, "{reply}");
    server.stop().await;
}

/// A ShardCount over the account's shard limit is a LimitExceededException in AWS's
/// words, after the check that the stream does not exist yet.
#[tokio::test]
async fn shard_count_over_the_account_limit() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    let (status, error) = call(
        server.address,
        "CreateStream",
        r#"{"StreamName":"big","ShardCount":1000}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "LimitExceededException");
    assert_eq!(
        error["message"],
        "This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: 2. Limit: 500. Number of additional shards that would have resulted from this request: 1000. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits."
    );
    let (_, error) = call(
        server.address,
        "CreateStream",
        r#"{"StreamName":"s","ShardCount":1000}"#,
    )
    .await;
    assert_eq!(error["__type"], "ResourceInUseException");
    server.stop().await;
}

/// Status, Content-Type and raw body of a POST with these headers.
async fn raw(
    address: SocketAddr,
    content_type: Option<&str>,
    target: &str,
    body: &str,
) -> (u16, Option<String>, Vec<u8>) {
    let mut headers = vec![("x-amz-target", target)];
    headers.extend(content_type.map(|content_type| ("content-type", content_type)));
    post(address, "/", &headers, body).await
}

/// Status, Content-Type and raw body of a POST to `path` with these headers.
async fn post(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, Vec<u8>) {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::post(path).header("host", address.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body.to_vec())
}

/// Content types Kinesis does not speak are not read as JSON 1.1: a body with no
/// type or `x-amz-json-1.0` is a 404 `<UnknownOperationException/>` (a 403 XML
/// AccessDeniedException when the target names no operation), `application/json`
/// gets the old Coral envelope, and an empty body with no type a CBOR error.
#[tokio::test]
async fn unsupported_content_types_are_answered_as_aws_does() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let address = server.address;
    let list = "Kinesis_20131202.ListStreams";
    for content_type in [None, Some("application/x-amz-json-1.0")] {
        let (status, kind, body) = raw(address, content_type, list, "{}").await;
        assert_eq!((status, kind), (404, None), "{content_type:?}");
        assert_eq!(body, b"<UnknownOperationException/>\n");
    }
    let (status, kind, body) = raw(address, None, "ListStreams", "{}").await;
    assert_eq!((status, kind), (403, None));
    assert!(String::from_utf8_lossy(&body).starts_with("<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>"));
    let coral = |code: &str, message: &str| {
        serde_json::json!({
            "Output": {"__type": format!("com.amazon.coral.service#{code}"), message: null},
            "Version": "1.0",
        })
    };
    for (body, expected) in [
        ("{}", coral("UnknownOperationException", "message")),
        ("hello", coral("SerializationException", "Message")),
    ] {
        let (status, kind, reply) = raw(address, Some("application/json"), list, body).await;
        assert_eq!((status, kind.as_deref()), (200, Some("application/json")));
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&reply).unwrap(),
            expected
        );
    }
    for (target, code) in [
        (list, "SerializationException"),
        ("Kinesis_20131202.Nope", "UnknownOperationException"),
    ] {
        let (status, kind, reply) = raw(address, None, target, "").await;
        assert_eq!(
            (status, kind.as_deref()),
            (400, Some("application/x-amz-cbor-1.1"))
        );
        let error: ciborium::Value = ciborium::from_reader(&reply[..]).unwrap();
        let expected = ciborium::Value::Map(vec![("__type".into(), code.into())]);
        assert_eq!(error, expected);
    }
    server.stop().await;
}

/// An action without output answers 200 with an empty body, as AWS does.
#[tokio::test]
async fn actions_without_output_answer_an_empty_body() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let json = Some("application/x-amz-json-1.1");
    let create = r#"{"StreamName":"s","ShardCount":1}"#;
    let (status, kind, body) = raw(
        server.address,
        json,
        "Kinesis_20131202.CreateStream",
        create,
    )
    .await;
    assert_eq!((status, kind.as_deref()), (200, json));
    assert!(body.is_empty(), "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = raw(server.address, json, "Kinesis_20131202.ListStreams", "{}").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["StreamNames"][0],
        "s"
    );
    server.stop().await;
}

/// Query-string signing errors carry AWS's texts: an Authorization header with
/// `X-Amz-Algorithm` in the query is an InvalidSignatureException, and missing
/// query parameters an IncompleteSignatureException naming each.
#[tokio::test]
async fn query_string_signing_errors() {
    let config = ServerConfig {
        credentials: std::collections::HashMap::from([("AKID".to_string(), "secret".to_string())]),
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let json = ("content-type", "application/x-amz-json-1.1");
    let target = ("x-amz-target", "Kinesis_20131202.ListStreams");
    let header = ("authorization", "X");
    let (status, _, body) = post(
        server.address,
        "/?X-Amz-Algorithm",
        &[json, target, header],
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["__type"], "InvalidSignatureException");
    assert_eq!(
        error["message"],
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    );
    let path = "/?X-Amz-Algorithm=a&X-Amz-Credential=b&X-Amz-Signature=c&X-Amz-Date=d";
    let (status, _, body) = post(server.address, path, &[json, target], "{}").await;
    assert_eq!(status, 400);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["__type"], "IncompleteSignatureException");
    assert_eq!(
        error["message"],
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
    );
    server.stop().await;
}

/// An empty JSON 1.1 body is a SerializationException without a message for
/// every modelled action, even one whose input has no required member, as AWS
/// answers it; `{}` is the empty input.
#[tokio::test]
async fn empty_json_body_is_a_serialization_error() {
    let server = start_with(ServerConfig::default(), |_| {}).await;
    for action in ["DescribeLimits", "ListStreams", "DescribeAccountSettings"] {
        let (status, error) = call(server.address, action, "").await;
        assert_eq!(status, 400, "{action}");
        assert_eq!(
            error,
            serde_json::json!({"__type": "SerializationException"}),
            "{action}"
        );
        let (status, reply) = call(server.address, action, "{}").await;
        assert_eq!(status, 200, "{action}: {reply}");
    }
    server.stop().await;
}

/// Tag keys and values with a character Kinesis does not take (a semicolon, tab,
/// newline, comma) are an InvalidArgumentException in AWS's words, after the stream
/// lookup; a colon and letters of any script are taken.
#[tokio::test]
async fn tag_characters_are_checked_after_the_lookup() {
    let server = start_with(ServerConfig::default(), two_shards).await;
    const INVALID: &str = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.";
    let (_, error) = call(
        server.address,
        "AddTagsToStream",
        r#"{"StreamName":"missing","Tags":{"a;b":"1"}}"#,
    )
    .await;
    assert_eq!(error["__type"], "ResourceNotFoundException", "{error}");
    for (action, body) in [
        (
            "AddTagsToStream",
            r#"{"StreamName":"s","Tags":{"a;b":"1"}}"#,
        ),
        (
            "AddTagsToStream",
            r#"{"StreamName":"s","Tags":{"ab":"x\ty"}}"#,
        ),
        (
            "AddTagsToStream",
            r#"{"StreamName":"s","Tags":{"a,b":"1"}}"#,
        ),
        (
            "RemoveTagsFromStream",
            r#"{"StreamName":"s","TagKeys":["a\nb"]}"#,
        ),
        (
            "CreateStream",
            r#"{"StreamName":"t","ShardCount":1,"Tags":{"a;b":"1"}}"#,
        ),
    ] {
        let (status, error) = call(server.address, action, body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["__type"], "InvalidArgumentException", "{body}");
        assert_eq!(error["message"], INVALID, "{body}");
    }
    let (status, _) = call(
        server.address,
        "AddTagsToStream",
        r#"{"StreamName":"s","Tags":{"team:name":"Ünïcödé 1.2/3=4+5-6%7@8"}}"#,
    )
    .await;
    assert_eq!(status, 200);
    let (_, tags) = call(server.address, "ListTagsForStream", r#"{"StreamName":"s"}"#).await;
    assert_eq!(tags["Tags"].as_array().map(Vec::len), Some(1), "{tags}");
    server.stop().await;
}
