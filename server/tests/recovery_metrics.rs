//! Issue 14, item 7: what recovery cut when the engine opened shows in `/metrics`,
//! counted per stream, so that a cut at open is never silent; and a topic or a
//! queue quarantined at open shows there too, and answers with a clear error.

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

    let text = with_server(&fs, &[Call::Metrics]).await.remove(0);

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

/// One request of a test.
#[derive(Clone, Copy)]
enum Call<'a> {
    /// `GET /metrics`.
    Metrics,
    /// An unsigned SNS form POST.
    Sns(&'a str),
    /// An unsigned SQS JSON 1.0 request: action and body.
    Sqs(&'a str, &'a str),
}

/// Sends `call` on a new connection: the whole answer.
async fn exchange(address: std::net::SocketAddr, call: Call<'_>) -> String {
    let (headers, body) = match call {
        Call::Metrics => (None, ""),
        Call::Sns(form) => (
            Some("Content-Type: application/x-www-form-urlencoded".to_string()),
            form,
        ),
        Call::Sqs(action, body) => (
            Some(format!(
                "Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AmazonSQS.{action}"
            )),
            body,
        ),
    };
    let request = match headers {
        None => format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
        Some(headers) => format!(
            "POST / HTTP/1.1\r\nHost: {address}\r\n{headers}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    };
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8(response).unwrap()
}

/// Serves the engine, topics and queues over `fs` while `calls` run, then
/// shuts all down; the answers, in order.
async fn with_server(fs: &Arc<dyn FileSystem>, calls: &[Call<'_>]) -> Vec<String> {
    let engine = Engine::open(Arc::clone(fs), EngineConfig::new(DATA)).unwrap();
    let storage = engine.storage().clone();
    let names = ("us-east-1", "000000000000", "http://127.0.0.1");
    let topics = Path::new(DATA).join("topics");
    let sns = shardlog_server::Sns::open(storage.clone(), &topics, names, None, None).unwrap();
    let queues = Path::new(DATA).join("queues");
    let sqs = shardlog_server::Sqs::open(storage, &queues, names.0, names.1).unwrap();
    let config = ServerConfig {
        sns: Some(sns.clone()),
        sqs: Some(sqs.clone()),
        ..ServerConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        serve(served, listener, config, shutdown).await.unwrap();
    });
    let mut answers = Vec::new();
    for call in calls {
        answers.push(exchange(address, *call).await);
    }
    let _ = stop.send(());
    task.await.unwrap();
    sqs.shutdown().unwrap();
    sns.shutdown().unwrap();
    engine.shutdown().unwrap();
    answers
}

/// Overwrites the magic of `segment`: recovery will not cut a segment it
/// cannot identify, so the log cannot be opened.
fn damage_header(fs: &Arc<dyn FileSystem>, segment: &Path) {
    let file = fs.open(segment, OpenOptions::WRITE).unwrap();
    write_all_at(file.as_ref(), b"XXXX", 0).unwrap();
    file.sync_data().unwrap();
}

/// The directory under `parent` whose name ends in `-<name>` (a topic's or a queue's).
fn named_dir(fs: &Arc<dyn FileSystem>, parent: &Path, name: &str) -> PathBuf {
    let entry = fs
        .list_dir(parent)
        .unwrap()
        .into_iter()
        .find(|entry| entry.ends_with(&format!("-{name}")))
        .unwrap_or_else(|| panic!("{name} has no directory"));
    parent.join(entry)
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
    let requests: Vec<Call> = setup.iter().map(|form| Call::Sns(form)).collect();
    for answer in with_server(&fs, &requests).await {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let dir = named_dir(&fs, &Path::new(DATA).join("topics"), "broken");
    damage_header(&fs, &dir.join("log").join(format!("{:020}.log", 0)));

    let calls = [Call::Metrics, Call::Sns(&broken), Call::Sns(&fine)];
    let answers = with_server(&fs, &calls).await;
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

/// A queue whose message log header is damaged no longer stops the server: it
/// starts, `/metrics` names the quarantined queue, GetQueueUrl finds it, a send
/// to it fails with a 500 that says why, the other queue still sends, and
/// DeleteQueue removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_queue_is_quarantined_and_reported() {
    let mem = MemFs::new();
    let fs: Arc<dyn FileSystem> = mem.clone();
    let url = |name: &str| format!("http://127.0.0.1/000000000000/{name}");
    let send = |name: &str| format!(r#"{{"QueueUrl":"{}","MessageBody":"m"}}"#, url(name));
    let (broken, fine) = (send("broken"), send("fine"));
    let setup = [
        Call::Sqs("CreateQueue", r#"{"QueueName":"broken"}"#),
        Call::Sqs("CreateQueue", r#"{"QueueName":"fine"}"#),
        Call::Sqs("SendMessage", &broken),
    ];
    for answer in with_server(&fs, &setup).await {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let dir = named_dir(&fs, &Path::new(DATA).join("queues"), "broken");
    damage_header(&fs, &dir.join("messages").join(format!("{:020}.log", 0)));

    let delete = format!(r#"{{"QueueUrl":"{}"}}"#, url("broken"));
    let find_broken = Call::Sqs("GetQueueUrl", r#"{"QueueName":"broken"}"#);
    let calls = [
        Call::Metrics,
        find_broken,
        Call::Sqs("SendMessage", &broken),
        Call::Sqs("SendMessage", &fine),
        Call::Sqs("DeleteQueue", &delete),
        find_broken,
    ];
    let answers = with_server(&fs, &calls).await;
    // (status line, a part of the answer), one per call.
    let expected = [
        (
            "HTTP/1.1 200",
            "shardlog_queue_quarantined{queue=\"broken\"} 1\n",
        ),
        ("HTTP/1.1 200", "/000000000000/broken"),
        ("HTTP/1.1 500", "queue broken is unavailable"),
        ("HTTP/1.1 200", "MessageId"),
        ("HTTP/1.1 200", ""),
        ("HTTP/1.1 400", "QueueDoesNotExist"),
    ];
    assert_eq!(answers.len(), expected.len());
    for (answer, (status, part)) in answers.iter().zip(expected) {
        assert!(
            answer.starts_with(status) && answer.contains(part),
            "{answer}"
        );
    }
    assert!(answers[2].contains("InternalError"), "{}", answers[2]);
}
