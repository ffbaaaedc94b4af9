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
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(engine.clone(), listener, config, shutdown)
            .await
            .unwrap();
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
