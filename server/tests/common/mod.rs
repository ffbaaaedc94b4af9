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
