//! Conformance with AWS's documented request validation, one test per root cause:
//! bodies are type-checked whole before anything else (SerializationException),
//! then every modelled constraint is reported together (ValidationException in
//! AWS's words), and only then is anything looked up.

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
    assert!(message.contains("Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"), "{message}");
    server.stop().await;
}
