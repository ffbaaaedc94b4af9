//! The SubscribeToShard readers: one subscription per shard not yet read to its
//! end, over HTTP/1.1 chunked in JSON, frames decoded and CRC-checked by the
//! server crate's own event-stream decoder, from where the readers stood before
//! the kill.

use super::kinesis::{list_shards, page_records, Shard};
use super::load::{observe, Load, Reader};
use super::model::Model;
use serde_json::{json, Value};
use shardlog_server::eventstream::{Decoder, Message, StringHeader};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Most events one subscription reads in one cycle.
const EVENTS_MAX: usize = 100_000;
/// Longest wait for bytes: the server sends an event every 5 s on an idle shard,
/// and the kill ends the connection at once.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Subscribes to every shard the readers have not finished, until the kill.
pub fn subscribe_all(load: Load<'_>, consumer_arn: &str) {
    let Some(shards) = list_shards(load.address) else {
        return;
    };
    let finished = load.model.lock().unwrap().subscribed.finished.clone();
    std::thread::scope(|scope| {
        for shard in shards.iter().filter(|s| !finished.contains(&s.id)) {
            scope.spawn(move || subscribe(load, consumer_arn, shard));
        }
    });
}

/// One subscription, read until the server goes away or the shard ends.
fn subscribe(load: Load<'_>, consumer_arn: &str, shard: &Shard) {
    let last = load
        .model
        .lock()
        .unwrap()
        .subscribed
        .last
        .get(&shard.id)
        .cloned();
    let position = match last {
        Some(sequence) => json!({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": sequence}),
        None => json!({"Type": "TRIM_HORIZON"}),
    };
    let body =
        json!({"ConsumerARN": consumer_arn, "ShardId": shard.id, "StartingPosition": position});
    let Some(mut events) = open(load, &body) else {
        return;
    };
    let mut decoder = Decoder::new();
    for _ in 0..EVENTS_MAX {
        let message = loop {
            match decoder.next_message() {
                Ok(Some(message)) => break message,
                Ok(None) => {}
                Err(error) => {
                    let failure = format!("{}: a bad event-stream frame: {error}", shard.id);
                    load.model.lock().unwrap().fail(failure);
                    return;
                }
            }
            match read_chunk(&mut events) {
                Some(chunk) if !chunk.is_empty() => decoder.push(&chunk),
                // The end of the body (the shard ended), or the kill.
                _ => return,
            }
        };
        let mut model = load.model.lock().unwrap();
        if !take_event(&mut model, &shard.id, &message) {
            return;
        }
    }
}

/// Sends the request and reads the response head; `None` when the server is
/// gone, or (a failure) when it refused.
fn open(load: Load<'_>, body: &Value) -> Option<BufReader<TcpStream>> {
    let address = load.address;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).ok()?;
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: Kinesis_20131202.SubscribeToShard\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_ascii_lowercase());
    }
    let chunked = head.iter().any(|h| h == "transfer-encoding: chunked");
    if head
        .first()
        .is_some_and(|status| status.starts_with("http/1.1 200"))
        && chunked
    {
        return Some(reader);
    }
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    let failure = format!("SubscribeToShard {body}: {head:?} {rest}");
    load.model.lock().unwrap().fail(failure);
    None
}

/// The next chunk of a chunked body: empty at its end, `None` when cut.
fn read_chunk(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let size = line.trim_end().split(';').next()?;
    let size = usize::from_str_radix(size, 16).ok()?;
    let mut chunk = vec![0; size + 2];
    reader.read_exact(&mut chunk).ok()?;
    (chunk[size..] == *b"\r\n").then(|| {
        chunk.truncate(size);
        chunk
    })
}

/// Learns one event's records; false when the subscription is over (ChildShards
/// at the end of a closed shard, or an exception event, a failure).
fn take_event(model: &mut Model, shard: &str, message: &Message) -> bool {
    match (
        message.header(":message-type"),
        message.header(":event-type"),
    ) {
        (Some("event"), Some("initial-response")) => true,
        (Some("event"), Some("SubscribeToShardEvent")) => {
            let Ok(event) = serde_json::from_slice::<Value>(message.payload()) else {
                model.fail(format!("{shard}: an event that is not JSON"));
                return false;
            };
            let records = page_records(&event);
            observe(model, Reader::Subscribed, shard, records);
            if event["ChildShards"].is_array() {
                model.subscribed.finished.insert(shard.to_string());
                return false;
            }
            true
        }
        other => {
            let payload = String::from_utf8_lossy(message.payload());
            model.fail(format!("{shard}: unexpected event {other:?}: {payload}"));
            false
        }
    }
}
