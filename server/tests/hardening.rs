//! The front end against hostile and slow clients: what a client names cannot grow
//! the metric label sets or break their text, large signed bodies verify, and
//! connections that stay idle or trickle their body are closed.

mod common;

use bytes::Bytes;
use common::{signed_post, start_with, Server};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use shardlog_server::ServerConfig;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest any test waits for the server to close a connection.
const CLOSE_WAIT_MAX: Duration = Duration::from_secs(10);

const KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "right-secret";

async fn send(address: SocketAddr, request: Request<Full<Bytes>>) -> (u16, Vec<u8>) {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

async fn metrics_text(address: SocketAddr) -> String {
    let get = Request::get("/metrics")
        .header("host", address.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, body) = send(address, get).await;
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

/// A server that requires requests signed with `KEY_ID` and `SECRET`.
async fn start_authenticated() -> Server {
    let config = ServerConfig {
        credentials: HashMap::from([(KEY_ID.to_string(), SECRET.to_string())]),
        ..ServerConfig::default()
    };
    start_with(config, |_| {}).await
}

/// Whether the server closes `stream` (end of file or a reset) within the bound.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    tokio::time::timeout(CLOSE_WAIT_MAX, stream.read_to_end(&mut rest))
        .await
        .is_ok()
}

/// Garbage targets with bad signatures, and calls naming streams that do not
/// exist, add no label: unknown actions share `action="unknown"`, and every
/// sample stays one well-formed line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_names_do_not_become_labels() {
    let server = start_authenticated().await;
    let address = server.address;
    for target in [
        "Kinesis_20131202.Garbage\"} 99",
        "Firehose_20150804.Garbage{le=1}",
        "NoSuchService.Garbage",
    ] {
        let request = signed_post(address, target, b"{}".to_vec(), KEY_ID, "wrong");
        let (status, body) = send(address, request).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    }
    let body = br#"{"StreamName":"ghost","PartitionKey":"k","Data":"AAEC"}"#.to_vec();
    let request = signed_post(address, "Kinesis_20131202.PutRecord", body, KEY_ID, SECRET);
    let (status, body) = send(address, request).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let text = metrics_text(address).await;
    assert!(!text.contains("Garbage"), "{text}");
    assert!(!text.contains("ghost"), "{text}");
    assert!(
        text.contains(
            "shardlog_requests_total{action=\"unknown\",outcome=\"InvalidSignatureException\"} 2"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "shardlog_requests_total{action=\"unknown\",outcome=\"UnknownOperationException\"} 1"
        ),
        "{text}"
    );
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        assert!(series.ends_with('}'), "{line}");
    }
    server.stop().await;
}

/// A signed body of several MiB, which arrives in many pieces and is hashed as
/// it arrives, verifies; the same body with one byte changed does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_signed_body_verifies() {
    let server = start_authenticated().await;
    let address = server.address;
    let padding = "p".repeat(6 << 20);
    let body = format!(r#"{{"StreamName":"big","ShardCount":1,"Padding":"{padding}"}}"#);
    let target = "Kinesis_20131202.CreateStream";
    let request = signed_post(address, target, body.clone().into_bytes(), KEY_ID, SECRET);
    let (status, reply) = send(address, request).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    let request = signed_post(address, target, body.into_bytes(), KEY_ID, SECRET);
    let (parts, signed) = request.into_parts();
    let mut changed = signed.collect().await.unwrap().to_bytes().to_vec();
    changed[100] = b'q';
    let request = Request::from_parts(parts, Full::new(Bytes::from(changed)));
    let (status, reply) = send(address, request).await;
    assert_eq!(status, 400);
    let error: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(error["__type"], "InvalidSignatureException");
    server.stop().await;
}

/// A connection that sends nothing, or stops inside the HTTP/2 preface (where
/// the protocol is not known yet and hyper has no timer), is closed once idle; an
/// HTTP/2 connection is closed when it has had no stream for the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let address = server.address;
    let mut silent = TcpStream::connect(address).await.unwrap();
    let mut half_preface = TcpStream::connect(address).await.unwrap();
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(closed_by_server(&mut silent).await, "silent connection");
    assert!(closed_by_server(&mut half_preface).await, "half preface");
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let connection = tokio::spawn(connection);
    let request = Request::post("/")
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Kinesis_20131202.ListStreams")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    let ended = tokio::time::timeout(CLOSE_WAIT_MAX, connection).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was closed");
    server.stop().await;
}

/// A request whose body is still arriving is in flight, not idle: it is served
/// even when it takes longer than the idle timeout. A body that stops arriving
/// gets a 408 after the body read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_are_served_or_timed_out() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(200),
        body_read_timeout: Duration::from_millis(1500),
        ..ServerConfig::default()
    };
    let server = start_with(config, |_| {}).await;
    let address = server.address;
    let head = "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: Kinesis_20131202.ListStreams\r\ncontent-length: 12\r\n\r\n";
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(format!("{head}{{\"Lim").as_bytes())
        .await
        .unwrap();
    // The client is slow on purpose: three idle timeouts pass mid-body.
    tokio::time::sleep(Duration::from_millis(600)).await;
    slow.write_all(b"it\": 5}").await.unwrap();
    let mut answer = [0u8; 12];
    slow.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let mut stalled = TcpStream::connect(address).await.unwrap();
    stalled
        .write_all(format!("{head}{{\"Lim").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CLOSE_WAIT_MAX, stalled.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the stalled request ends");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("RequestTimeoutException"), "{text}");
    server.stop().await;
}
