//! The server over real sockets: a JSON round trip over HTTP/1.1, the CBOR calls
//! the Java SDK makes, an h2c (HTTP/2 prior knowledge) round trip, Kinesis-shaped
//! errors, and a request with a bad signature rejected when credentials are set.

mod common;

use bytes::Bytes;
use common::{signed_post, start_with, Server};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shardlog_server::ServerConfig;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpStream;

async fn start(credentials: HashMap<String, String>) -> Server {
    let config = ServerConfig {
        credentials,
        ..ServerConfig::default()
    };
    start_with(config, |_| {}).await
}

struct Reply {
    status: u16,
    content_type: String,
    request_id: Option<String>,
    body: Vec<u8>,
}

fn request(
    address: SocketAddr,
    action: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    Request::post("/")
        .header("host", address.to_string())
        .header("content-type", content_type)
        .header("x-amz-target", format!("Kinesis_20131202.{action}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn send_http1(address: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    reply(sender.send_request(request).await.unwrap()).await
}

async fn send_h2c(address: SocketAddr, request: Request<Full<Bytes>>) -> Reply {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    reply(sender.send_request(request).await.unwrap()).await
}

async fn reply(response: hyper::Response<hyper::body::Incoming>) -> Reply {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let request_id = header("x-amzn-requestid");
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        content_type,
        request_id,
        body,
    }
}

async fn json(
    address: SocketAddr,
    action: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let reply = send_http1(
        address,
        request(
            address,
            action,
            "application/x-amz-json-1.1",
            body.to_string().into_bytes(),
        ),
    )
    .await;
    assert_eq!(reply.content_type, "application/x-amz-json-1.1");
    assert_eq!(
        reply.request_id.as_deref().map(str::len),
        Some(36),
        "a UUID request id"
    );
    // Actions without output answer an empty body, which clients read as `{}`.
    if reply.body.is_empty() {
        return (reply.status, serde_json::json!({}));
    }
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

/// JSON 1.1 over HTTP/1.1: create, put, read back, and the error shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_round_trip_and_errors() {
    let server = start(HashMap::new()).await;
    let address = server.address;
    let (status, _) = json(
        address,
        "CreateStream",
        serde_json::json!({"StreamName": "s", "ShardCount": 1}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, put) = json(
        address,
        "PutRecord",
        serde_json::json!({"StreamName": "s", "PartitionKey": "k", "Data": "aGVsbG8="}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(put["ShardId"], "shardId-000000000000");
    assert_eq!(put["SequenceNumber"].as_str().unwrap().len(), 56);
    let (_, iterator) = json(address, "GetShardIterator", serde_json::json!({"StreamName": "s", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})).await;
    let (status, records) = json(
        address,
        "GetRecords",
        serde_json::json!({"ShardIterator": iterator["ShardIterator"]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(records["Records"][0]["Data"], "aGVsbG8=");
    assert_eq!(
        records["Records"][0]["SequenceNumber"],
        put["SequenceNumber"]
    );
    assert!(records["Records"][0]["ApproximateArrivalTimestamp"].is_f64());
    let (status, missing) = json(
        address,
        "DescribeStream",
        serde_json::json!({"StreamName": "nope"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(missing["__type"], "ResourceNotFoundException");
    assert_eq!(
        missing["message"],
        "Stream nope under account 000000000000 not found."
    );
    let (status, invalid) = json(
        address,
        "PutRecord",
        serde_json::json!({"StreamName": "s", "Data": "aGk="}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(invalid["__type"], "ValidationException");
    let (_, unknown) = json(address, "Frobnicate", serde_json::json!({})).await;
    assert_eq!(unknown["__type"], "UnknownOperationException");
    let reply = send_http1(
        address,
        request(
            address,
            "ListStreams",
            "application/x-amz-json-1.1",
            b"{not json".to_vec(),
        ),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(String::from_utf8_lossy(&reply.body).contains("SerializationException"));
    server.stop().await;
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn text(s: &str) -> ciborium::Value {
    ciborium::Value::Text(s.into())
}

fn field<'a>(map: &'a ciborium::Value, name: &str) -> &'a ciborium::Value {
    let ciborium::Value::Map(entries) = map else {
        panic!("not a map: {map:?}")
    };
    &entries
        .iter()
        .find(|(k, _)| *k == text(name))
        .unwrap_or_else(|| panic!("no {name} in {map:?}"))
        .1
}

/// CBOR, as the Java SDK and KCL send it, over h2c: blobs as byte strings and
/// timestamps as integer milliseconds, answered in CBOR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cbor_over_h2c() {
    let server = start(HashMap::new()).await;
    let address = server.address;
    let call = |action: &'static str, body: ciborium::Value| async move {
        let reply = send_h2c(
            address,
            request(address, action, "application/x-amz-cbor-1.1", cbor(&body)),
        )
        .await;
        assert_eq!(reply.content_type, "application/x-amz-cbor-1.1");
        let value: ciborium::Value = if reply.body.is_empty() {
            ciborium::Value::Map(Vec::new())
        } else {
            ciborium::from_reader(&reply.body[..]).unwrap()
        };
        (reply.status, value)
    };
    let create = ciborium::Value::Map(vec![
        (text("StreamName"), text("c")),
        (text("ShardCount"), ciborium::Value::Integer(2.into())),
    ]);
    assert_eq!(call("CreateStream", create).await.0, 200);
    let payload = vec![0u8, 1, 2, 255];
    let put = ciborium::Value::Map(vec![
        (text("StreamName"), text("c")),
        (text("PartitionKey"), text("key")),
        (text("Data"), ciborium::Value::Bytes(payload.clone())),
    ]);
    let (status, put) = call("PutRecord", put).await;
    assert_eq!(status, 200);
    let shard = field(&put, "ShardId").clone();
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - 60_000;
    let iterator = ciborium::Value::Map(vec![
        (text("StreamName"), text("c")),
        (text("ShardId"), shard),
        (text("ShardIteratorType"), text("AT_TIMESTAMP")),
        (text("Timestamp"), ciborium::Value::Integer(before.into())),
    ]);
    let (status, iterator) = call("GetShardIterator", iterator).await;
    assert_eq!(status, 200, "{iterator:?}");
    let get = ciborium::Value::Map(vec![(
        text("ShardIterator"),
        field(&iterator, "ShardIterator").clone(),
    )]);
    let (status, records) = call("GetRecords", get).await;
    assert_eq!(status, 200);
    let ciborium::Value::Array(list) = field(&records, "Records") else {
        panic!("records")
    };
    assert_eq!(field(&list[0], "Data"), &ciborium::Value::Bytes(payload));
    assert!(
        matches!(field(&list[0], "ApproximateArrivalTimestamp"), ciborium::Value::Integer(ms) if i128::from(*ms) > i128::from(before))
    );
    let (status, error) = call(
        "DescribeStreamSummary",
        ciborium::Value::Map(vec![(text("StreamName"), text("missing"))]),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(field(&error, "__type"), &text("ResourceNotFoundException"));
    server.stop().await;
}

/// With credentials configured, a correctly signed request passes and a request
/// signed with the wrong secret is rejected as AWS rejects it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigv4_rejects_a_bad_signature() {
    let credentials = HashMap::from([("AKIDEXAMPLE".to_string(), "right-secret".to_string())]);
    let server = start(credentials).await;
    let address = server.address;
    let body = br#"{"Limit": 5}"#.to_vec();
    let signed = |secret: &str| {
        let target = "Kinesis_20131202.ListStreams";
        signed_post(address, target, body.clone(), "AKIDEXAMPLE", secret)
    };
    let good = send_http1(address, signed("right-secret")).await;
    assert_eq!(good.status, 200, "{}", String::from_utf8_lossy(&good.body));
    let bad = send_http1(address, signed("wrong-secret")).await;
    assert_eq!(bad.status, 400);
    let error: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!(error["__type"], "InvalidSignatureException");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("does not match"));
    let unsigned = send_http1(
        address,
        request(
            address,
            "ListStreams",
            "application/x-amz-json-1.1",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(unsigned.status, 400);
    assert!(String::from_utf8_lossy(&unsigned.body).contains("MissingAuthenticationToken"));
    server.stop().await;
}

/// /health answers 200 and /metrics counts the requests served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let server = start(HashMap::new()).await;
    let address = server.address;
    json(address, "ListStreams", serde_json::json!({})).await;
    json(
        address,
        "CreateStream",
        serde_json::json!({"StreamName": "x", "ShardCount": 1}),
    )
    .await;
    json(
        address,
        "PutRecord",
        serde_json::json!({"StreamName": "x", "PartitionKey": "k", "Data": "AAEC"}),
    )
    .await;
    let (_, iterator) = json(address, "GetShardIterator", serde_json::json!({"StreamName": "x", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"})).await;
    json(
        address,
        "GetRecords",
        serde_json::json!({"ShardIterator": iterator["ShardIterator"]}),
    )
    .await;
    let get = |path: &str| {
        Request::get(path)
            .header("host", address.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let health = send_http1(address, get("/health")).await;
    assert_eq!(health.status, 200);
    let metrics = send_http1(address, get("/metrics")).await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("shardlog_requests_total{action=\"ListStreams\",outcome=\"OK\"} 1"),
        "{text}"
    );
    let shard = "stream=\"x\",shard=\"shardId-000000000000\"";
    assert!(
        text.contains(&format!("shardlog_incoming_records_total{{{shard}}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("shardlog_incoming_bytes_total{{{shard}}} 3")),
        "{text}"
    );
    assert!(
        text.contains(&format!("shardlog_get_records_records_total{{{shard}}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("shardlog_iterator_age_milliseconds{{{shard}}} 0")),
        "{text}"
    );
    server.stop().await;
}

/// ARN-based tags, stream mode, enhanced monitoring and account settings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_tags_mode_and_monitoring() {
    let server = start(HashMap::new()).await;
    let address = server.address;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/m";
    json(
        address,
        "CreateStream",
        serde_json::json!({"StreamName": "m", "ShardCount": 1}),
    )
    .await;
    let (status, _) = json(
        address,
        "TagResource",
        serde_json::json!({"ResourceARN": arn, "Tags": {"team": "ingest"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, tags) = json(
        address,
        "ListTagsForResource",
        serde_json::json!({"ResourceARN": arn}),
    )
    .await;
    assert_eq!(tags["Tags"][0]["Key"], "team");
    json(
        address,
        "UntagResource",
        serde_json::json!({"ResourceARN": arn, "TagKeys": ["team"]}),
    )
    .await;
    let (_, tags) = json(
        address,
        "ListTagsForStream",
        serde_json::json!({"StreamName": "m"}),
    )
    .await;
    assert_eq!(tags["Tags"], serde_json::json!([]));
    let mode =
        serde_json::json!({"StreamARN": arn, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}});
    assert_eq!(json(address, "UpdateStreamMode", mode).await.0, 200);
    let (_, summary) = json(
        address,
        "DescribeStreamSummary",
        serde_json::json!({"StreamARN": arn}),
    )
    .await;
    assert_eq!(
        summary["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"],
        "ON_DEMAND"
    );
    let (_, enabled) = json(
        address,
        "EnableEnhancedMonitoring",
        serde_json::json!({"StreamName": "m", "ShardLevelMetrics": ["IncomingBytes"]}),
    )
    .await;
    assert_eq!(
        enabled["DesiredShardLevelMetrics"],
        serde_json::json!(["IncomingBytes"])
    );
    let (_, described) = json(
        address,
        "DescribeStream",
        serde_json::json!({"StreamName": "m"}),
    )
    .await;
    assert_eq!(
        described["StreamDescription"]["EnhancedMonitoring"][0]["ShardLevelMetrics"],
        serde_json::json!(["IncomingBytes"])
    );
    let (status, bad) = json(
        address,
        "EnableEnhancedMonitoring",
        serde_json::json!({"StreamName": "m", "ShardLevelMetrics": ["Nope"]}),
    )
    .await;
    assert_eq!(
        (status, bad["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    let (_, settings) = json(address, "DescribeAccountSettings", serde_json::json!({})).await;
    assert_eq!(
        settings["MinimumThroughputBillingCommitment"]["Status"],
        "DISABLED"
    );
    server.stop().await;
}

/// With a certificate and key, the server speaks HTTPS: a client that trusts the
/// certificate gets through; HTTP/2 is negotiated by ALPN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_round_trip() {
    use rustls_pki_types::ServerName;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.key_pair.serialize_pem();
    let tls = shardlog_server::tls_config(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
    let config = ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let address = server.address;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client_config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(address).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let body = serde_json::json!({"StreamName": "tls", "ShardCount": 1}).to_string();
    let request = request(
        address,
        "CreateStream",
        "application/x-amz-json-1.1",
        body.into_bytes(),
    );
    let reply = reply(sender.send_request(request).await.unwrap()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    server.stop().await;
}

/// Beyond the connection limit a connection gets a clean 503, not a hang; a
/// request body over the size limit gets a 413.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_body_limits() {
    let config = ServerConfig {
        connections_max: 1,
        body_bytes_max: 1024,
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let address = server.address;
    // The first connection takes the only slot and keeps it.
    let first = TcpStream::connect(address).await.unwrap();
    let (mut held, connection) = hyper::client::conn::http1::handshake(TokioIo::new(first))
        .await
        .unwrap();
    tokio::spawn(connection);
    let ok = reply(
        held.send_request(request(
            address,
            "ListStreams",
            "application/x-amz-json-1.1",
            b"{}".to_vec(),
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(ok.status, 200);
    let refused = send_http1(
        address,
        request(
            address,
            "ListStreams",
            "application/x-amz-json-1.1",
            b"{}".to_vec(),
        ),
    )
    .await;
    assert_eq!(refused.status, 503);
    assert!(String::from_utf8_lossy(&refused.body).contains("ServiceUnavailableException"));
    let big = vec![b' '; 4096];
    let too_big = reply(
        held.send_request(request(
            address,
            "ListStreams",
            "application/x-amz-json-1.1",
            big,
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(too_big.status, 413);
    drop(held);
    server.stop().await;
}
