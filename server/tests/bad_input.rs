//! Bad input over the API: every action with missing, wrong-typed, oversize and
//! malformed fields, unknown actions, wrong content types and garbage bodies gets
//! a Kinesis client error (4xx with a `__type`), never an InternalFailure or a
//! dropped connection, and the server keeps serving.

mod common;

use bytes::Bytes;
use common::start_with;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use shardlog_server::ServerConfig;
use std::net::SocketAddr;
use tokio::net::TcpStream;

const ACTIONS: [&str; 31] = [
    "CreateStream",
    "DeleteStream",
    "DescribeStream",
    "DescribeStreamSummary",
    "ListStreams",
    "ListShards",
    "PutRecord",
    "PutRecords",
    "GetShardIterator",
    "GetRecords",
    "SplitShard",
    "MergeShards",
    "UpdateShardCount",
    "IncreaseStreamRetentionPeriod",
    "DecreaseStreamRetentionPeriod",
    "AddTagsToStream",
    "RemoveTagsFromStream",
    "ListTagsForStream",
    "RegisterStreamConsumer",
    "DescribeStreamConsumer",
    "ListStreamConsumers",
    "DeregisterStreamConsumer",
    "DescribeLimits",
    "UpdateMaxRecordSize",
    "DescribeAccountSettings",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "UpdateStreamMode",
    "EnableEnhancedMonitoring",
    "DisableEnhancedMonitoring",
];

const KNOWN_CLIENT_ERRORS: [&str; 9] = [
    "ValidationException",
    "SerializationException",
    "InvalidArgumentException",
    "ResourceNotFoundException",
    "ResourceInUseException",
    "LimitExceededException",
    "ExpiredIteratorException",
    "UnknownOperationException",
    "ProvisionedThroughputExceededException",
];

async fn send(
    address: SocketAddr,
    target: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::post("/")
        .header("host", address.to_string())
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
}

fn bodies() -> Vec<String> {
    let long = "x".repeat(300);
    let mut bodies: Vec<String> = [
        "{}",
        "[]",
        "\"text\"",
        "17",
        "null",
        "{\"StreamName\":",
        "{\"StreamName\": 5}",
        "{\"StreamName\": null}",
        "{\"StreamName\": [\"s\"]}",
        "{\"StreamName\": {\"a\": 1}}",
        "{\"StreamName\": \"s\", \"ShardCount\": -1}",
        "{\"StreamName\": \"s\", \"ShardCount\": 1e300}",
        "{\"StreamName\": \"s\", \"Limit\": \"ten\"}",
        "{\"StreamName\": \"s\", \"Data\": 7}",
        "{\"StreamName\": \"s\", \"Data\": \"%%%\", \"PartitionKey\": \"k\"}",
        "{\"StreamName\": \"s\", \"Records\": \"no\"}",
        "{\"StreamName\": \"s\", \"Records\": [1, 2]}",
        "{\"StreamName\": \"s\", \"Tags\": [\"a\"]}",
        "{\"ShardIterator\": \"\"}",
        "{\"ShardIterator\": 1}",
        "{\"ResourceARN\": \"arn:aws:kinesis:nowhere\"}",
        "{\"StreamARN\": \"arn:aws:kinesis:us-east-1:000000000000:stream/a/b\"}",
        "{\"StreamName\": \"s\", \"ShardFilter\": {\"Type\": \"SIDEWAYS\"}}",
        "{\"StreamName\": \"s\", \"StreamModeDetails\": {\"StreamMode\": 3}}",
        "\u{0}\u{1}\u{2}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    bodies.push(format!("{{\"StreamName\": \"{long}\"}}"));
    bodies.push(format!(
        "{{\"StreamName\": \"s\", \"PartitionKey\": \"{long}\", \"Data\": \"AA==\"}}"
    ));
    bodies
}

/// Every action × every bad body: a 4xx Kinesis error, and the server stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_with_bad_bodies() {
    let server = start_with(ServerConfig::default(), |engine| {
        engine
            .create_stream("s", Some(2), Default::default())
            .unwrap()
    })
    .await;
    let address = server.address;
    for action in ACTIONS {
        for body in bodies() {
            let target = format!("Kinesis_20131202.{action}");
            let (status, reply) = send(
                address,
                &target,
                "application/x-amz-json-1.1",
                body.clone().into_bytes(),
            )
            .await;
            let text = String::from_utf8_lossy(&reply).to_string();
            if status == 200 {
                continue; // some bodies are valid for some actions (ListStreams with {})
            }
            assert!(
                (400..500).contains(&status),
                "{action} {body}: status {status} {text}"
            );
            let error: serde_json::Value = serde_json::from_slice(&reply)
                .unwrap_or_else(|_| panic!("{action} {body}: {text}"));
            let code = error["__type"].as_str().unwrap_or_default();
            assert!(
                KNOWN_CLIENT_ERRORS.contains(&code),
                "{action} {body}: {text}"
            );
            assert!(!error["message"].as_str().unwrap_or_default().is_empty());
        }
    }
    // Unknown actions, unknown target prefixes and content types.
    let (status, reply) = send(
        address,
        "Kinesis_20131202.Nope",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&reply).contains("UnknownOperationException"));
    let (status, _) = send(
        address,
        "Other_2020.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    let (status, reply) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "text/plain",
        b"{}".to_vec(),
    )
    .await;
    // As AWS answers a type it does not speak for a target it can name.
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&reply).contains("UnknownOperationException"));
    let (status, _) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-cbor-1.1",
        vec![0xff, 0xff, 0x00],
    )
    .await;
    assert_eq!(status, 400);
    // Still serving.
    let (status, _) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// Huge headers are refused without harming the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = start_with(ServerConfig::default(), |_| {}).await;
    let address = server.address;
    let mut stream = TcpStream::connect(address).await.unwrap();
    let huge = format!(
        "POST / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(2 << 20)
    );
    // The server may close the connection before reading it all.
    let _ = stream.write_all(huge.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );
    let (status, _) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// A client that trickles its headers is cut off after the header timeout, and a
/// body shorter than its Content-Length gets an error, not a hang; the server
/// keeps serving others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_truncated_clients() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let address = server.address;
    // Slow: half a request line, then nothing.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    let (status, _) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200, "others are served meanwhile");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the slow connection was closed by the server");
    assert!(began.elapsed() < Duration::from_secs(10));
    // Truncated: a body shorter than announced, then the client stops writing.
    let mut truncated = TcpStream::connect(address).await.unwrap();
    let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: Kinesis_20131202.ListStreams\r\ncontent-length: 100\r\n\r\n{\"Lim";
    truncated.write_all(head.as_bytes()).await.unwrap();
    truncated.shutdown().await.unwrap();
    let mut answer = Vec::new();
    let done =
        tokio::time::timeout(Duration::from_secs(10), truncated.read_to_end(&mut answer)).await;
    assert!(done.is_ok(), "the truncated request ends");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
    let (status, _) = send(
        address,
        "Kinesis_20131202.ListStreams",
        "application/x-amz-json-1.1",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 200);
    server.stop().await;
}
