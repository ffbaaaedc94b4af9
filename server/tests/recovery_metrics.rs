//! Issue 14, item 7: what recovery cut when the engine opened shows in `/metrics`,
//! counted per stream, so that a cut at open is never silent.

use shardlog_engine::{Engine, EngineConfig, PutRecord};
use shardlog_segment::io::{read_file, write_all_at, FileSystem, MemFs, OpenOptions};
use shardlog_server::{serve, ServerConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DATA: &str = "/data";

/// A stream `s` of one shard holding one record; returns its active segment file.
fn stream_with_a_record(fs: &Arc<dyn FileSystem>) -> PathBuf {
    let engine = Engine::open(Arc::clone(fs), EngineConfig::new(DATA)).unwrap();
    engine.create_stream("s", Some(1), BTreeMap::new()).unwrap();
    let record = PutRecord {
        partition_key: "k",
        data: b"kept",
        explicit_hash_key: None,
    };
    engine.put_records("s", &[record]).unwrap();
    let created_ms = engine.describe_stream("s", 10, None).unwrap().created_ms;
    engine.shutdown().unwrap();
    Path::new(DATA)
        .join("streams/s")
        .join(created_ms.to_string())
        .join("shardId-000000000000")
        .join(format!("{:020}.log", 0))
}

async fn get_metrics(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

/// A torn tail cut at open is counted in `/metrics` by stream: one truncation, and
/// exactly the bytes cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_recovery_cut() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let segment = stream_with_a_record(&fs);
    let len = read_file(fs.as_ref(), &segment).unwrap().len() as u64;
    let torn = b"SLBT torn";
    let file = fs.open(&segment, OpenOptions::WRITE).unwrap();
    write_all_at(file.as_ref(), torn, len).unwrap();
    file.sync_data().unwrap();
    drop(file);

    let engine = Engine::open(Arc::clone(&fs), EngineConfig::new(DATA)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(served, listener, ServerConfig::default(), shutdown)
            .await
            .unwrap();
    });
    let text = get_metrics(address).await;
    let _ = stop.send(());
    task.await.unwrap();
    engine.shutdown().unwrap();

    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("shardlog_recovery_truncations_total{stream=\"s\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "shardlog_recovery_truncated_bytes_total{{stream=\"s\"}} {}\n",
            torn.len()
        )),
        "{text}"
    );
}
