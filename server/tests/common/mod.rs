//! A server on a loopback port over an in-memory engine, for the server's tests.
#![allow(dead_code)]

use shardlog_engine::{Engine, EngineConfig};
use shardlog_segment::io::{FileSystem, MemFs};
use shardlog_server::{serve, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server.
pub struct Server {
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts a server with `config` over a fresh engine that `prepare` sets up.
pub async fn start_with(config: ServerConfig, prepare: impl FnOnce(&Engine)) -> Server {
    start_with_engine(EngineConfig::new("/data"), config, prepare).await
}

/// Starts a server with `config` over a fresh in-memory engine with
/// `engine_config` that `prepare` sets up.
pub async fn start_with_engine(
    engine_config: EngineConfig,
    config: ServerConfig,
    prepare: impl FnOnce(&Engine),
) -> Server {
    let fs = MemFs::new();
    let engine = Engine::open(fs as Arc<dyn FileSystem>, engine_config).unwrap();
    prepare(&engine);
    launch(engine, config).await
}

/// Serves `engine` with `config` on a loopback port; at stop, closes the queues
/// (if SQS is on) and then the engine.
async fn launch(engine: Engine, config: ServerConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let sqs = config.sqs.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(engine.clone(), listener, config, shutdown)
            .await
            .unwrap();
        if let Some(sqs) = sqs {
            sqs.shutdown().unwrap();
        }
        engine.shutdown().unwrap();
    });
    Server {
        address,
        stop: Some(stop),
        task,
    }
}

impl Server {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

/// A POST of `body` with `X-Amz-Target: target`, signed with SigV4 now as
/// `access_key_id` with `secret`, as botocore signs it.
pub fn signed_post(
    address: SocketAddr,
    target: &str,
    body: Vec<u8>,
    access_key_id: &str,
    secret: &str,
) -> hyper::Request<http_body_util::Full<bytes::Bytes>> {
    use shardlog_server::sigv4::{
        format_amz_date, sign, PayloadHash, SignedRequest, SigningParams,
    };
    let amz_date = format_amz_date(std::time::SystemTime::now());
    let headers: Vec<(String, String)> = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", &address.to_string()),
        ("x-amz-date", &amz_date),
        ("x-amz-target", target),
    ]
    .iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    let authorization = sign(
        &SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            payload: PayloadHash::of(&body),
        },
        &SigningParams {
            access_key_id,
            secret_access_key: secret,
            region: "us-east-1",
            service: "kinesis",
            amz_date: &amz_date,
        },
    );
    let mut request = hyper::Request::post("/");
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    request
        .header("authorization", authorization)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap()
}

/// Starts a server over a fresh in-memory engine with the SQS API on queues in
/// `/data/queues` (on the engine's storage, as `shardlog serve` opens them).
pub async fn start_with_sqs() -> Server {
    let fs = MemFs::new();
    let engine = Engine::open(fs as Arc<dyn FileSystem>, EngineConfig::new("/data")).unwrap();
    let sqs = shardlog_server::Sqs::open(
        engine.storage().clone(),
        std::path::Path::new("/data/queues"),
        "us-east-1",
        "000000000000",
    )
    .unwrap();
    let config = ServerConfig {
        sqs: Some(sqs),
        ..ServerConfig::default()
    };
    launch(engine, config).await
}

/// Starts a server like [`start_with_sqs`] with the SNS API too, on topics in
/// `/data/topics` that deliver into those queues.
pub async fn start_with_sqs_and_sns() -> Server {
    let fs = MemFs::new();
    let engine = Engine::open(fs as Arc<dyn FileSystem>, EngineConfig::new("/data")).unwrap();
    let storage = engine.storage().clone();
    let sqs = shardlog_server::Sqs::open(
        storage.clone(),
        std::path::Path::new("/data/queues"),
        "us-east-1",
        "000000000000",
    )
    .unwrap();
    let sns = shardlog_server::Sns::open(
        storage,
        std::path::Path::new("/data/topics"),
        ("us-east-1", "000000000000", "http://127.0.0.1"),
        Some(sqs.clone()),
        None,
    )
    .unwrap();
    let config = ServerConfig {
        sqs: Some(sqs),
        sns: Some(sns),
        ..ServerConfig::default()
    };
    launch(engine, config).await
}

/// Status, headers and body of a POST of `body` to `path` with `headers`.
pub async fn post_raw(
    address: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    send_raw(address, hyper::Method::POST, path, headers, body).await
}

/// Status, headers and body of a `method` request to `path` over a new HTTP/1.1 connection.
pub async fn send_raw(
    address: SocketAddr,
    method: hyper::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, Vec<u8>) {
    use http_body_util::BodyExt;
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", address.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}
