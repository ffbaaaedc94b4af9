//! `shardlog queue send|receive|redrive`: messages in and out of a queue, in
//! batches of 10 (the most one SQS call takes).

use super::output::{CliError, CliResult};
use super::queue::Sqs;
use crate::client::ClientError;
use serde_json::{json, Map, Value};
use std::io::BufRead;

/// Most entries of one batch call.
const BATCH_ENTRIES_MAX: usize = 10;
/// Most bytes of bodies and attributes in one batch (SQS: 1 MiB).
const BATCH_BYTES_MAX: usize = 1 << 20;
/// How long messages a redrive received stay invisible while it moves them, s.
const REDRIVE_VISIBILITY_S: u32 = 60;

/// What `queue receive` does.
pub struct ReceiveOptions {
    /// Most messages in all.
    pub max: u64,
    /// Long poll of each call, s.
    pub wait_s: u32,
    /// Delete each message after printing it.
    pub delete: bool,
    /// Visibility timeout of the received messages, s (None: the queue's).
    pub visibility_timeout_s: Option<u32>,
    /// One JSON object a message instead of the body.
    pub as_json: bool,
}

/// One message to send and where it came from.
struct Outgoing {
    line_number: usize,
    entry: Map<String, Value>,
    bytes: usize,
}

/// Sends every line of standard input to `name`.
pub fn send(sqs: &Sqs, name: &str, group: Option<&str>, as_json: bool) -> CliResult {
    let url = sqs.queue_url(name)?;
    let stdin = std::io::stdin();
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH_ENTRIES_MAX);
    let mut sent = 0u64;
    for (index, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|error| CliError::failed(format!("reading stdin: {error}")))?;
        let outgoing = outgoing(index + 1, &line, group, as_json)?;
        let batch_bytes: usize = batch.iter().map(|o| o.bytes).sum();
        if batch.len() == BATCH_ENTRIES_MAX || batch_bytes + outgoing.bytes > BATCH_BYTES_MAX {
            sent += send_batch(sqs, name, &url, std::mem::take(&mut batch), sent)?;
        }
        batch.push(outgoing);
    }
    if !batch.is_empty() {
        sent += send_batch(sqs, name, &url, batch, sent)?;
    }
    crate::outln!("sent {sent} messages to {name}")
}

/// The SendMessageBatch entry of one input line.
fn outgoing(
    line_number: usize,
    line: &str,
    group: Option<&str>,
    as_json: bool,
) -> CliResult<Outgoing> {
    let bad = |what: String| CliError::failed(format!("line {line_number}: {what}"));
    let mut entry = Map::new();
    let mut bytes = line.len();
    if as_json {
        let object: Map<String, Value> = serde_json::from_str(line)
            .map_err(|error| bad(format!("not a JSON object: {error}")))?;
        for key in object.keys() {
            if !["body", "attributes", "group", "dedup_id", "delay"].contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown field '{key}' (known: body, attributes, group, dedup_id, delay)"
                )));
            }
        }
        let body = object.get("body").and_then(Value::as_str);
        entry.insert(
            "MessageBody".into(),
            json!(body.ok_or_else(|| bad("no string field 'body'".into()))?),
        );
        if let Some(attributes) = object.get("attributes") {
            let attributes = message_attributes(attributes).map_err(bad)?;
            bytes = body.map_or(0, str::len) + Value::Object(attributes.clone()).to_string().len();
            entry.insert("MessageAttributes".into(), Value::Object(attributes));
        }
        for (field, name) in [
            ("group", "MessageGroupId"),
            ("dedup_id", "MessageDeduplicationId"),
        ] {
            if let Some(value) = object.get(field) {
                let text = value
                    .as_str()
                    .ok_or_else(|| bad(format!("'{field}' is not a string")))?;
                entry.insert(name.into(), json!(text));
            }
        }
        if let Some(delay) = object.get("delay") {
            let seconds = delay
                .as_u64()
                .ok_or_else(|| bad("'delay' is not a number of seconds".into()))?;
            entry.insert("DelaySeconds".into(), json!(seconds));
        }
    } else {
        entry.insert("MessageBody".into(), json!(line));
    }
    if let Some(group) = group {
        entry
            .entry("MessageGroupId")
            .or_insert_with(|| json!(group));
    }
    Ok(Outgoing {
        line_number,
        entry,
        bytes,
    })
}

/// `{"name": "text"}` or `{"name": {"DataType": ..., ...}}` as SQS message attributes.
fn message_attributes(value: &Value) -> Result<Map<String, Value>, String> {
    let object = value
        .as_object()
        .ok_or("'attributes' is not an object of name: value")?;
    object
        .iter()
        .map(|(name, value)| {
            let attribute = match value {
                Value::String(text) => json!({"DataType": "String", "StringValue": text}),
                Value::Number(number) => {
                    json!({"DataType": "Number", "StringValue": number.to_string()})
                }
                Value::Object(_) if value.get("DataType").is_some() => value.clone(),
                _ => {
                    return Err(format!(
                        "attribute '{name}' is not text, a number or an object with DataType"
                    ))
                }
            };
            Ok((name.clone(), attribute))
        })
        .collect()
}

/// Sends one batch; fails naming the first entry the server refused. `sent_before`
/// goes into the error so that a person knows how far the input got.
fn send_batch(
    sqs: &Sqs,
    name: &str,
    url: &str,
    batch: Vec<Outgoing>,
    sent_before: u64,
) -> CliResult<u64> {
    let entries: Vec<Value> = batch
        .iter()
        .enumerate()
        .map(|(index, outgoing)| {
            let mut entry = outgoing.entry.clone();
            entry.insert("Id".into(), json!(index.to_string()));
            Value::Object(entry)
        })
        .collect();
    let body = json!({ "QueueUrl": url, "Entries": entries });
    let response = sqs.call(name, "SendMessageBatch", &body)?;
    let failed = response["Failed"].as_array().cloned().unwrap_or_default();
    let sent = response["Successful"].as_array().map_or(0, Vec::len) as u64;
    if let Some(first) = failed.first() {
        let index: usize = first["Id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        let line = batch.get(index).map_or(0, |o| o.line_number);
        return Err(CliError::failed(format!(
            "line {line} was not sent: {}: {} ({} messages sent before it; {} of its batch failed)",
            first["Code"].as_str().unwrap_or("?"),
            first["Message"].as_str().unwrap_or(""),
            sent_before + sent,
            failed.len(),
        )));
    }
    Ok(sent)
}

/// Receives up to `options.max` messages, printing each, and deletes them with `--delete`.
pub fn receive(sqs: &Sqs, name: &str, options: &ReceiveOptions) -> CliResult {
    let url = sqs.queue_url(name)?;
    let mut received = 0u64;
    while received < options.max {
        let count = (options.max - received).min(BATCH_ENTRIES_MAX as u64);
        let messages = receive_batch(
            sqs,
            name,
            &url,
            count,
            options.wait_s,
            options.visibility_timeout_s,
        )?;
        if messages.is_empty() {
            break;
        }
        for message in &messages {
            if options.as_json {
                crate::outln!("{message}")?;
            } else {
                crate::outln!("{}", message["Body"].as_str().unwrap_or_default())?;
            }
        }
        if options.delete {
            delete_batch(sqs, name, &url, &messages)?;
        }
        received += messages.len() as u64;
    }
    Ok(())
}

/// One ReceiveMessage call with every attribute.
fn receive_batch(
    sqs: &Sqs,
    name: &str,
    url: &str,
    count: u64,
    wait_s: u32,
    visibility_timeout_s: Option<u32>,
) -> CliResult<Vec<Value>> {
    let mut body = json!({
        "QueueUrl": url,
        "MaxNumberOfMessages": count,
        "WaitTimeSeconds": wait_s,
        "AttributeNames": ["All"],
        "MessageAttributeNames": ["All"],
    });
    if let Some(seconds) = visibility_timeout_s {
        body["VisibilityTimeout"] = json!(seconds);
    }
    let response = sqs.call(name, "ReceiveMessage", &body)?;
    Ok(response["Messages"].as_array().cloned().unwrap_or_default())
}

/// Deletes `messages` by their receipt handles; any failure is an error.
fn delete_batch(sqs: &Sqs, name: &str, url: &str, messages: &[Value]) -> CliResult {
    let entries: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            json!({"Id": index.to_string(), "ReceiptHandle": message["ReceiptHandle"]})
        })
        .collect();
    let body = json!({ "QueueUrl": url, "Entries": entries });
    let response = sqs.call(name, "DeleteMessageBatch", &body)?;
    match response["Failed"]
        .as_array()
        .and_then(|failed| failed.first())
    {
        Some(first) => Err(CliError::failed(format!(
            "deleting a received message failed: {}: {}",
            first["Code"].as_str().unwrap_or("?"),
            first["Message"].as_str().unwrap_or("")
        ))),
        None => Ok(()),
    }
}

/// Moves every message of dead-letter queue `dlq` to `to`, or to the one queue
/// whose redrive policy names `dlq`. Uses StartMessageMoveTask where the server
/// has it; otherwise receives, sends and deletes here (at least once: a failure
/// between a send and its delete leaves the message in both queues).
pub fn redrive(sqs: &Sqs, dlq: &str, to: Option<&str>, as_json: bool) -> CliResult {
    let dlq_url = sqs.queue_url(dlq)?;
    let arn_of = |name: &str, url: &str| -> CliResult<String> {
        let body = json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]});
        let response = sqs.call(name, "GetQueueAttributes", &body)?;
        super::json_str(&response["Attributes"], "QueueArn").map(str::to_string)
    };
    let destination = match to {
        Some(name) => Some((name.to_string(), sqs.queue_url(name)?)),
        None => None,
    };
    let mut task = json!({ "SourceArn": arn_of(dlq, &dlq_url)? });
    if let Some((name, url)) = &destination {
        task["DestinationArn"] = json!(arn_of(name, url)?);
    }
    match sqs.try_call("StartMessageMoveTask", &task) {
        Ok(response) => {
            let handle = response["TaskHandle"].as_str().unwrap_or("?");
            return crate::outln!("started moving the messages of {dlq} (task {handle})");
        }
        Err(ClientError::Service { code, .. })
            if code == "UnsupportedOperation" || code == "InvalidAction" => {}
        Err(error) => return Err(error.into()),
    }
    let (name, url) = match destination {
        Some(found) => found,
        None => redrive_source(sqs, dlq, &dlq_url)?,
    };
    if url == dlq_url {
        return Err(CliError::usage(format!(
            "{dlq} cannot be redriven into itself"
        )));
    }
    let moved = move_messages(sqs, (dlq, &dlq_url), (&name, &url), as_json)?;
    crate::outln!("moved {moved} messages from {dlq} to {name}")
}

/// The one queue whose redrive policy sends to `dlq`.
fn redrive_source(sqs: &Sqs, dlq: &str, dlq_url: &str) -> CliResult<(String, String)> {
    let body = json!({"QueueUrl": dlq_url, "MaxResults": 1000});
    let response = sqs.call(dlq, "ListDeadLetterSourceQueues", &body)?;
    let urls: Vec<&str> = response["queueUrls"]
        .as_array()
        .map(|urls| urls.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match urls.as_slice() {
        [url] => Ok((super::queue::name_of_url(url).to_string(), url.to_string())),
        [] => Err(CliError::failed(format!(
            "no queue's redrive policy names {dlq}: say where its messages go with --to"
        ))),
        many => Err(CliError::failed(format!(
            "{} queues send their dead letters to {dlq}: say which with --to",
            many.len()
        ))),
    }
}

/// Receives from `from`, sends to `to`, deletes what was sent, until `from` has
/// nothing visible. Each message keeps its body, attributes and (FIFO) group.
fn move_messages(
    sqs: &Sqs,
    (from, from_url): (&str, &str),
    (to, to_url): (&str, &str),
    as_json: bool,
) -> CliResult<u64> {
    let fifo = to.ends_with(".fifo");
    let mut moved = 0u64;
    loop {
        let messages = receive_batch(sqs, from, from_url, 10, 0, Some(REDRIVE_VISIBILITY_S))?;
        if messages.is_empty() {
            return Ok(moved);
        }
        let entries: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(index, message)| {
                let mut entry = json!({"Id": index.to_string(), "MessageBody": message["Body"]});
                if let Some(attributes) = message.get("MessageAttributes") {
                    entry["MessageAttributes"] = attributes.clone();
                }
                if fifo {
                    let group = message["Attributes"]["MessageGroupId"].as_str();
                    entry["MessageGroupId"] = json!(group.unwrap_or("redrive"));
                    entry["MessageDeduplicationId"] = message["MessageId"].clone();
                }
                entry
            })
            .collect();
        let body = json!({ "QueueUrl": to_url, "Entries": entries });
        let response = sqs.call(to, "SendMessageBatch", &body)?;
        let sent: Vec<Value> = response["Successful"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| entry["Id"].as_str()?.parse::<usize>().ok())
                    .filter_map(|index| messages.get(index).cloned())
                    .collect()
            })
            .unwrap_or_default();
        if !sent.is_empty() {
            delete_batch(sqs, from, from_url, &sent)?;
        }
        for message in sent.iter().filter(|_| as_json) {
            crate::outln!("{message}")?;
        }
        moved += sent.len() as u64;
        if let Some(first) = response["Failed"].as_array().and_then(|f| f.first()) {
            return Err(CliError::failed(format!(
                "{moved} messages moved; sending to {to} failed: {}: {}",
                first["Code"].as_str().unwrap_or("?"),
                first["Message"].as_str().unwrap_or("")
            )));
        }
    }
}
