//! SubscribeToShard over real sockets: the event stream over HTTP/1.1 chunked in
//! JSON and over h2c in CBOR, frames decoded and CRC-checked by the server's own
//! decoder; records pushed as they are put; one subscription per consumer and
//! shard; a clean end after the lifetime; ChildShards at the end of a closed shard;
//! a client that goes away frees the slot.

mod common;

use base64::Engine as _;
use bytes::Bytes;
use common::{start_with_engine, Server};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shardlog_engine::{Engine, EngineConfig, PutRecord};
use shardlog_server::eventstream::{Decoder, Message, StringHeader};
use shardlog_server::{Identity, ServerConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Upper bound of any one wait in these tests (nothing should take near this).
const WAIT_BOUND: Duration = Duration::from_secs(20);

struct Setup {
    server: Server,
    engine: Engine,
    consumer_arn: String,
}

async fn setup(lifetime_ms: u64, shards: u32) -> Setup {
    let mut engine_config = EngineConfig::new("/data");
    engine_config.subscription_lifetime_ms = lifetime_ms;
    // Not the default identity: consumer ARNs are the server's, built from it.
    let identity = Identity {
        region: "eu-west-1".into(),
        account_id: "123456789012".into(),
    };
    let account = identity.account();
    let mut prepared = None;
    let config = ServerConfig {
        identity: identity.clone(),
        ..ServerConfig::default()
    };
    let server = start_with_engine(engine_config, config, |engine| {
        engine
            .create_stream("s", Some(shards), Default::default())
            .unwrap();
        let consumer = engine.register_consumer("s", "c").unwrap();
        prepared = Some((engine.clone(), account.consumer_arn(&consumer.id())));
    })
    .await;
    let (engine, consumer_arn) = prepared.unwrap();
    Setup {
        server,
        engine,
        consumer_arn,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    JsonHttp1,
    CborH2,
}

fn body(wire: Wire, consumer_arn: &str, shard: &str, position: serde_json::Value) -> Vec<u8> {
    let json = serde_json::json!({
        "ConsumerARN": consumer_arn,
        "ShardId": shard,
        "StartingPosition": position,
    });
    match wire {
        Wire::JsonHttp1 => serde_json::to_vec(&json).unwrap(),
        Wire::CborH2 => {
            let mut out = Vec::new();
            ciborium::into_writer(&json, &mut out).unwrap();
            out
        }
    }
}

/// A request body for shard 0 of the setup's consumer from a position `kind`.
fn shard_zero(setup: &Setup, wire: Wire, kind: &str) -> Vec<u8> {
    let position = serde_json::json!({ "Type": kind });
    body(wire, &setup.consumer_arn, "shardId-000000000000", position)
}

async fn subscribe(address: SocketAddr, wire: Wire, payload: Vec<u8>) -> hyper::Response<Incoming> {
    let content_type = match wire {
        Wire::JsonHttp1 => "application/x-amz-json-1.1",
        Wire::CborH2 => "application/x-amz-cbor-1.1",
    };
    let request = Request::post("/")
        .header("host", address.to_string())
        .header("content-type", content_type)
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .body(Full::new(Bytes::from(payload)))
        .unwrap();
    let stream = TcpStream::connect(address).await.unwrap();
    match wire {
        Wire::JsonHttp1 => {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
        Wire::CborH2 => {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
    }
}

/// Reads event-stream messages off a response body; the decoder checks both CRCs.
struct Events {
    body: Incoming,
    decoder: Decoder,
}

impl Events {
    fn new(response: hyper::Response<Incoming>) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.amazon.eventstream"
        );
        Events {
            body: response.into_body(),
            decoder: Decoder::new(),
        }
    }

    /// The next message, or `None` at a clean end of the body.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(message) = self.decoder.next_message().expect("valid frame and CRCs") {
                return Some(message);
            }
            let frame = tokio::time::timeout(WAIT_BOUND, self.body.frame())
                .await
                .expect("a frame or the end within the bound");
            match frame {
                None => {
                    assert_eq!(self.decoder.pending_bytes(), 0, "body ended mid-message");
                    return None;
                }
                Some(frame) => {
                    if let Some(data) = frame.expect("body error").data_ref() {
                        self.decoder.push(data);
                    }
                }
            }
        }
    }
}

/// The payload of an event as JSON (CBOR payloads converted), after checking headers.
fn event_json(message: &Message, wire: Wire, event_type: &str) -> serde_json::Value {
    assert_eq!(message.header(":message-type"), Some("event"));
    assert_eq!(message.header(":event-type"), Some(event_type));
    match wire {
        Wire::JsonHttp1 => serde_json::from_slice(message.payload()).unwrap(),
        Wire::CborH2 => {
            let value: ciborium::Value = ciborium::from_reader(&message.payload()[..]).unwrap();
            cbor_to_json(value)
        }
    }
}

fn cbor_to_json(value: ciborium::Value) -> serde_json::Value {
    use base64::engine::general_purpose::STANDARD;
    match value {
        ciborium::Value::Bytes(bytes) => serde_json::Value::String(STANDARD.encode(bytes)),
        ciborium::Value::Integer(i) => serde_json::Value::from(i128::from(i) as i64),
        ciborium::Value::Text(text) => serde_json::Value::String(text),
        ciborium::Value::Array(items) => items.into_iter().map(cbor_to_json).collect(),
        ciborium::Value::Map(entries) => serde_json::Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.into_text().unwrap(), cbor_to_json(v)))
                .collect(),
        ),
        other => panic!("unexpected CBOR value {other:?}"),
    }
}

async fn put(engine: &Engine, key: &str, data: &[u8]) {
    let engine = engine.clone();
    let (key, data) = (key.to_string(), data.to_vec());
    tokio::task::spawn_blocking(move || {
        engine
            .put_record(
                "s",
                PutRecord {
                    partition_key: &key,
                    data: &data,
                    explicit_hash_key: None,
                },
            )
            .unwrap()
    })
    .await
    .unwrap();
}

/// Reads events until `count` records arrived; returns their data, in order.
async fn records(events: &mut Events, wire: Wire, count: usize) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let message = events.next().await.expect("stream open");
        let event = event_json(&message, wire, "SubscribeToShardEvent");
        assert!(event["ContinuationSequenceNumber"].is_string());
        assert!(event["MillisBehindLatest"].is_number());
        for record in event["Records"].as_array().unwrap() {
            let data = base64::engine::general_purpose::STANDARD
                .decode(record["Data"].as_str().unwrap())
                .unwrap();
            seen.push(data);
        }
    }
    seen
}

async fn pushes_records_as_put(wire: Wire) {
    let setup = setup(300_000, 1).await;
    put(&setup.engine, "k", b"before").await;
    let payload = body(
        wire,
        &setup.consumer_arn,
        "shardId-000000000000",
        serde_json::json!({"Type": "TRIM_HORIZON"}),
    );
    let response = subscribe(setup.server.address, wire, payload.clone()).await;
    if wire == Wire::JsonHttp1 {
        assert_eq!(response.headers()["transfer-encoding"], "chunked");
    }
    let mut events = Events::new(response);
    let initial = events.next().await.unwrap();
    let initial = event_json(&initial, wire, "initial-response");
    assert_eq!(initial, serde_json::json!({}));
    assert_eq!(
        records(&mut events, wire, 1).await,
        vec![b"before".to_vec()]
    );
    let mut expected = Vec::new();
    for i in 0..20 {
        let data = format!("record-{i}").into_bytes();
        put(&setup.engine, &format!("key-{i}"), &data).await;
        expected.push(data);
    }
    assert_eq!(records(&mut events, wire, 20).await, expected);
    // A second subscription of the same consumer and shard right away is refused.
    let second = subscribe(setup.server.address, wire, payload).await;
    assert_eq!(second.status(), 400);
    let text = second.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("ResourceInUseException"), "{text}");
    drop(events);
    setup.server.stop().await;
}

/// JSON over HTTP/1.1 chunked: the initial response, then records as they are put,
/// in order; a second subscription is ResourceInUseException.
#[tokio::test]
async fn json_over_http1_pushes_records() {
    pushes_records_as_put(Wire::JsonHttp1).await;
}

/// CBOR over h2c: the same stream, with CBOR payloads.
#[tokio::test]
async fn cbor_over_h2c_pushes_records() {
    pushes_records_as_put(Wire::CborH2).await;
}

/// A subscription ends cleanly after its lifetime, and the slot is free again.
#[tokio::test]
async fn subscription_ends_after_lifetime() {
    let setup = setup(300, 1).await;
    let payload = shard_zero(&setup, Wire::JsonHttp1, "LATEST");
    let mut events =
        Events::new(subscribe(setup.server.address, Wire::JsonHttp1, payload.clone()).await);
    let mut messages = 0;
    while let Some(message) = events.next().await {
        assert_eq!(message.header(":message-type"), Some("event"));
        messages += 1;
    }
    assert!(messages >= 1, "the initial response came first");
    let again = subscribe(setup.server.address, Wire::JsonHttp1, payload).await;
    assert_eq!(again.status(), 200, "the ended subscription freed its slot");
    setup.server.stop().await;
}

/// Reading a split parent to its end gives its ChildShards, then the end.
#[tokio::test]
async fn closed_shard_reports_children() {
    let setup = setup(300_000, 1).await;
    put(&setup.engine, "a", b"one").await;
    put(&setup.engine, "b", b"two").await;
    let middle = shardlog_engine::HashKey(u128::MAX / 2);
    setup
        .engine
        .split_shard("s", shardlog_engine::ShardId(0), middle)
        .unwrap();
    let payload = shard_zero(&setup, Wire::JsonHttp1, "TRIM_HORIZON");
    let mut events = Events::new(subscribe(setup.server.address, Wire::JsonHttp1, payload).await);
    event_json(
        &events.next().await.unwrap(),
        Wire::JsonHttp1,
        "initial-response",
    );
    let mut data = Vec::new();
    let children = loop {
        let message = events.next().await.expect("children before the end");
        let event = event_json(&message, Wire::JsonHttp1, "SubscribeToShardEvent");
        for record in event["Records"].as_array().unwrap() {
            data.push(record["Data"].as_str().unwrap().to_string());
        }
        if let Some(children) = event.get("ChildShards") {
            break children.as_array().unwrap().clone();
        }
    };
    assert_eq!(data, vec!["b25l", "dHdv"]);
    let ids: Vec<&str> = children
        .iter()
        .map(|c| c["ShardId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["shardId-000000000001", "shardId-000000000002"]);
    assert_eq!(
        children[0]["ParentShards"],
        serde_json::json!(["shardId-000000000000"])
    );
    assert!(events.next().await.is_none(), "the stream ends after them");
    setup.server.stop().await;
}

/// Errors before the stream starts are ordinary Kinesis errors. A sequence number
/// that is none of the layout is refused after the consumer and shard are found.
#[tokio::test]
async fn bad_requests_are_refused() {
    let setup = setup(300_000, 1).await;
    let latest_of = |arn: &str| {
        let position = serde_json::json!({"Type": "LATEST"});
        body(Wire::JsonHttp1, arn, "shardId-000000000000", position)
    };
    let malformed_at = |arn: &str, shard: &str| {
        let position = serde_json::json!({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": "5"});
        body(Wire::JsonHttp1, arn, shard, position)
    };
    let cases = [
        (
            malformed_at(&setup.consumer_arn, "shardId-000000000000"),
            "StartingSequenceNumber 5 used in GetShardIterator on shard shardId-000000000000 in stream",
        ),
        (
            malformed_at(&setup.consumer_arn, "shardId-000000000009"),
            "ResourceNotFoundException",
        ),
        (
            malformed_at(
                &setup.consumer_arn.replace("/c:", "/c:0"),
                "shardId-000000000000",
            ),
            "does not exist.",
        ),
        (
            latest_of(&format!("{}x", setup.consumer_arn)),
            // The model's ConsumerARN pattern ends in `:[0-9]+`: refused before any lookup.
            "ValidationException",
        ),
        (
            latest_of(&setup.consumer_arn.replace("eu-west-1", "us-east-1")),
            // Another region's consumer: not one of this server's ARNs.
            "is not valid.",
        ),
        (
            latest_of(&setup.consumer_arn.replace("/c:", "/c:0")),
            // Well formed, but no registration second is written with a leading zero.
            "does not exist.",
        ),
        (
            body(
                Wire::JsonHttp1,
                &setup.consumer_arn,
                "shardId-000000000009",
                serde_json::json!({"Type": "LATEST"}),
            ),
            "ResourceNotFoundException",
        ),
        (
            shard_zero(&setup, Wire::JsonHttp1, "AT_SEQUENCE_NUMBER"),
            "InvalidArgumentException",
        ),
        (
            shard_zero(&setup, Wire::JsonHttp1, "SOMEWHERE"),
            "ValidationException",
        ),
    ];
    // Each case's error code, or a piece of its message where the code is shared.
    for (payload, expected) in cases {
        let response = subscribe(setup.server.address, Wire::JsonHttp1, payload).await;
        assert_eq!(response.status(), 400);
        let text = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&text);
        assert!(text.contains(expected), "{expected}: {text}");
    }
    setup.server.stop().await;
}

/// A client that goes away ends its subscription and frees the slot.
#[tokio::test]
async fn disconnect_frees_the_slot() {
    let setup = setup(300_000, 1).await;
    let payload = shard_zero(&setup, Wire::JsonHttp1, "LATEST");
    let mut events = Events::new(subscribe(setup.server.address, Wire::JsonHttp1, payload).await);
    events.next().await.unwrap();
    assert_eq!(setup.engine.active_subscriptions(), 1);
    drop(events);
    let deadline = Instant::now() + WAIT_BOUND;
    while setup.engine.active_subscriptions() != 0 {
        assert!(Instant::now() < deadline, "slot still held after the bound");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    setup.server.stop().await;
}

/// A client that stays connected but stops reading does not hold its subscription
/// past the lifetime and a grace period: the reader gives up and frees the slot.
#[tokio::test]
async fn stuck_client_frees_the_slot() {
    let setup = setup(300, 1).await;
    let payload = shard_zero(&setup, Wire::CborH2, "LATEST");
    let request = Request::post("/")
        .header("host", setup.server.address.to_string())
        .header("content-type", "application/x-amz-cbor-1.1")
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .body(Full::new(Bytes::from(payload)))
        .unwrap();
    let stream = TcpStream::connect(setup.server.address).await.unwrap();
    // A small window: the server can send little before the client must read.
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(16 * 1024)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    for i in 0..64 {
        put(&setup.engine, &format!("k{i}"), &vec![7u8; 8 * 1024]).await;
    }
    let deadline = Instant::now() + WAIT_BOUND;
    while setup.engine.active_subscriptions() != 0 {
        assert!(
            Instant::now() < deadline,
            "a stuck client still holds the slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(response);
    setup.server.stop().await;
}
