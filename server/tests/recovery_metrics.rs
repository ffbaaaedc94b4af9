//! Issue 14, item 7: what recovery cut when the engine opened shows in `/metrics`,
//! counted per stream, so that a cut at open is never silent; and a topic
//! quarantined at open shows there too, and answers with a clear error.

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
    let text = exchange(address, None).await;
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

/// One request (`GET /metrics`, or an unsigned SNS form POST): the whole answer.
async fn exchange(address: std::net::SocketAddr, form: Option<&str>) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = match form {
        None => format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
        Some(form) => format!(
            "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    };
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

/// Serves the engine and topics over `fs` while `requests` run, then shuts
/// all down; the answers, in order.
async fn with_sns(fs: &Arc<dyn FileSystem>, requests: &[Option<&str>]) -> Vec<String> {
    let engine = Engine::open(Arc::clone(fs), EngineConfig::new(DATA)).unwrap();
    let names = ("us-east-1", "000000000000", "http://127.0.0.1");
    let topics = Path::new(DATA).join("topics");
    let sns =
        shardlog_server::Sns::open(engine.storage().clone(), &topics, names, None, None).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        sns: Some(sns.clone()),
        ..ServerConfig::default()
    };
    let served = engine.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(served, listener, config, shutdown).await.unwrap();
    });
    let mut answers = Vec::new();
    for request in requests {
        answers.push(exchange(address, *request).await);
    }
    let _ = stop.send(());
    task.await.unwrap();
    sns.shutdown().unwrap();
    engine.shutdown().unwrap();
    answers
}

/// A topic whose log header is damaged no longer stops the server: it starts,
/// `/metrics` names the quarantined topic, a publish to it fails with a 500
/// that says why, and the other topic still publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_topic_is_quarantined_and_reported() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let arn = |name: &str| format!("arn:aws:sns:us-east-1:000000000000:{name}");
    let publish = |name: &str| format!("Action=Publish&TopicArn={}&Message=m", arn(name));
    let (broken, fine) = (publish("broken"), publish("fine"));
    let setup = [
        "Action=CreateTopic&Name=broken",
        "Action=CreateTopic&Name=fine",
        &broken,
    ];
    let requests: Vec<Option<&str>> = setup.iter().map(|form| Some(*form)).collect();
    for answer in with_sns(&fs, &requests).await {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let topics = Path::new(DATA).join("topics");
    let dir = fs
        .list_dir(&topics)
        .unwrap()
        .into_iter()
        .find(|entry| entry.ends_with("-broken"))
        .expect("the topic has a directory");
    let segment = topics.join(dir).join("log").join(format!("{:020}.log", 0));
    let file = fs.open(&segment, OpenOptions::WRITE).unwrap();
    write_all_at(file.as_ref(), b"XXXX", 0).unwrap();
    file.sync_data().unwrap();
    drop(file);

    let answers = with_sns(&fs, &[None, Some(&broken), Some(&fine)]).await;
    assert!(
        answers[0].contains("shardlog_topic_quarantined{topic=\"broken\"} 1\n"),
        "{}",
        answers[0]
    );
    assert!(answers[1].starts_with("HTTP/1.1 500"), "{}", answers[1]);
    assert!(
        answers[1].contains("<Code>InternalError</Code>")
            && answers[1].contains("topic broken is unavailable"),
        "{}",
        answers[1]
    );
    assert!(answers[2].starts_with("HTTP/1.1 200"), "{}", answers[2]);
}
