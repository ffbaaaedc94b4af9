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
