//! Message actions: send, receive, delete and visibility changes, one at a time
//! and in batches.

use super::fast::Decoded;
use super::requests::{
    ChangeMessageVisibilityRequest, DeleteMessageRequest, HandleBatchRequest, HandleEntry,
    QueueRequest, ReceiveMessageRequest, SendEntry, SendMessageBatchRequest,
};
use super::responses::{
    BatchResponse, BatchResultEntry, BatchResultErrorEntry, Message, MessageAttributeValue,
    NoOutput, ReceiveMessageResponse, SentMessage,
};
use super::{md5, queue_name_of, Answer, Context, SqsError};
use crate::protocol::typed::read;
use crate::protocol::value::Value;
use crate::protocol::wire::Blob;
use shardlog_queue::{
    AttributeValue, BodyDigest, MessageAttribute, MessageAttributes, PendingChanges, ReceiptHandle,
    ReceiveRequest, ReceivedMessage, SendOutcome, SendRequest, BATCH_ENTRIES_MAX,
};
use std::collections::BTreeMap;

type Response = Result<Answer, SqsError>;

/// Runs a message action on the calling task: its durability wait and a long
/// poll are awaited, no thread blocks. `None` if `action` is not one, or for a
/// ReceiveMessage that must block (a FIFO attempt id, a dead-letter queue to
/// move to): [`dispatch_blocking`] runs those.
pub async fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    let action = match action {
        "SendMessage" => MessageAction::Send,
        "SendMessageBatch" => MessageAction::SendBatch,
        "ReceiveMessage" => MessageAction::Receive,
        "DeleteMessage" => MessageAction::Delete,
        "DeleteMessageBatch" => MessageAction::DeleteBatch,
        "ChangeMessageVisibility" => MessageAction::ChangeVisibility,
        "ChangeMessageVisibilityBatch" => MessageAction::ChangeVisibilityBatch,
        _ => return None,
    };
    Some(match action {
        MessageAction::Send => send(context, request).await,
        MessageAction::SendBatch => match read(request) {
            Ok(request) => send_batch(context, request).await,
            Err(error) => Err(error.into()),
        },
        MessageAction::Receive => {
            let receive = match read(request).map_err(SqsError::from).and_then(Receive::of) {
                Ok(receive) => receive,
                Err(error) => return Some(Err(error)),
            };
            return receive_unblocked(context, &receive).await;
        }
        MessageAction::Delete => delete(context, request).await,
        MessageAction::DeleteBatch => match read(request) {
            Ok(request) => delete_batch(context, request).await,
            Err(error) => Err(error.into()),
        },
        MessageAction::ChangeVisibility => change_visibility(context, request).await,
        MessageAction::ChangeVisibilityBatch => change_visibility_batch(context, request).await,
    })
}

/// The actions [`dispatch`] runs on the calling task.
enum MessageAction {
    Send,
    SendBatch,
    Receive,
    Delete,
    DeleteBatch,
    ChangeVisibility,
    ChangeVisibilityBatch,
}

/// Runs a message action that may block a thread (the ReceiveMessage that
/// [`dispatch`] hands back); `None` if `action` is not one.
pub fn dispatch_blocking(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    (action == "ReceiveMessage").then(|| {
        let receive = Receive::of(read(request)?)?;
        receive_blocking(context, &receive)
    })
}

/// Runs a request read by the fast decoder on the calling task; a ReceiveMessage
/// that must block comes back, for [`receive_blocking`] on the blocking pool.
pub async fn dispatch_decoded(
    context: &Context<'_>,
    request: Decoded,
) -> Result<Response, Receive> {
    Ok(match request {
        Decoded::SendBatch(request) => send_batch(context, request).await,
        Decoded::DeleteBatch(request) => delete_batch(context, request).await,
        Decoded::Receive(request) => {
            let receive = match Receive::of(request) {
                Ok(receive) => receive,
                Err(error) => return Ok(Err(error)),
            };
            match receive_unblocked(context, &receive).await {
                Some(response) => response,
                None => return Err(receive),
            }
        }
    })
}

async fn delete(context: &Context<'_>, request: &Value) -> Response {
    let request: DeleteMessageRequest = read(request)?;
    let queue = context.queue_at(&request.queue_url)?;
    let handles = [handle(&request.receipt_handle)?];
    let pending = queue.submit_delete_batch(&handles)?;
    one_change(context, pending).await
}

/// The answer to a one-handle change, once it is durable.
async fn one_change(context: &Context<'_>, pending: PendingChanges<'_>) -> Response {
    let mut outcomes = pending.acknowledged().await?;
    outcomes.pop().expect("one outcome per handle")?;
    context.respond(&NoOutput {})
}

async fn change_visibility(context: &Context<'_>, request: &Value) -> Response {
    let request: ChangeMessageVisibilityRequest = read(request)?;
    let queue = context.queue_at(&request.queue_url)?;
    let handle = handle(&request.receipt_handle)?;
    let changes = [(handle, visibility_timeout(request.visibility_timeout)?)];
    let pending = queue.submit_change_visibility_batch(&changes)?;
    one_change(context, pending).await
}

fn handle(text: &str) -> Result<ReceiptHandle, SqsError> {
    ReceiptHandle::parse(text).map_err(|_| {
        SqsError::new(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{text}\" is not a valid receipt handle."),
        )
    })
}

/// An integer parameter `name` within `min..=max`, if given.
fn bounded(value: Option<i128>, name: &str, min: u32, max: u32) -> Result<Option<u32>, SqsError> {
    match value {
        None => Ok(None),
        Some(n) if (i128::from(min)..=i128::from(max)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(SqsError::invalid_value(
            name,
            n,
            &format!("Must be between {min} and {max}, if provided."),
        )),
    }
}

fn visibility_timeout(value: Option<i128>) -> Result<u32, SqsError> {
    bounded(value, "VisibilityTimeout", 0, 43_200)?
        .ok_or_else(|| SqsError::missing("VisibilityTimeout"))
}

/// SQS accepts only characters XML can carry: tab, newline, carriage return and
/// U+0020 and up, except U+FFFE and U+FFFF.
fn check_body(body: &str) -> Result<(), SqsError> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if body.is_empty() {
        return Err(SqsError::missing("MessageBody"));
    }
    // A refused character is a control byte or starts with 0xEF (U+FFFE and
    // U+FFFF in UTF-8): a byte scan without early exit, which the compiler
    // vectorizes, clears most bodies before any character is decoded.
    let suspect = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF;
    if !body.bytes().fold(false, |found, b| found | suspect(b)) {
        return Ok(());
    }
    match body.chars().find(|c| !allowed(*c)) {
        None => Ok(()),
        Some(c) => Err(SqsError::new(
            "InvalidMessageContents",
            format!(
                "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF; found #x{:X}.",
                c as u32
            ),
        )),
    }
}

/// `MessageAttributes` of a send entry.
fn message_attributes(
    given: BTreeMap<String, super::requests::MessageAttributeValue>,
) -> Result<MessageAttributes, SqsError> {
    let mut attributes = MessageAttributes::new();
    for (name, attribute) in given {
        let data_type = attribute.data_type;
        let value = match data_type.split('.').next().unwrap_or("") {
            "String" | "Number" => match attribute.string_value {
                Some(text) if !text.is_empty() => AttributeValue::String(text),
                _ => return Err(empty_attribute(&name, &data_type)),
            },
            "Binary" => match attribute.binary_value {
                Some(Blob(bytes)) if !bytes.is_empty() => AttributeValue::Binary(bytes),
                _ => return Err(empty_attribute(&name, &data_type)),
            },
            _ => {
                return Err(SqsError::new(
                    "InvalidParameterValueException",
                    format!("The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."),
                ))
            }
        };
        attributes.insert(name, MessageAttribute { data_type, value });
    }
    Ok(attributes)
}

fn empty_attribute(name: &str, data_type: &str) -> SqsError {
    SqsError::new(
        "InvalidParameterValueException",
        format!("The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."),
    )
}

/// A send entry (SendMessage's message or a SendMessageBatch entry) as the
/// queue's request; the body moves, it is not copied.
fn send_request(entry: SendEntry) -> Result<SendRequest, SqsError> {
    check_body(&entry.message_body)?;
    let attributes = message_attributes(entry.message_attributes)?;
    let delay_s = bounded(entry.delay_seconds, "DelaySeconds", 0, 900)?;
    let body = entry.message_body.into_bytes();
    Ok(SendRequest {
        // Taken once here, for the answer and for every receive's.
        body_digest: Some(BodyDigest::of(&body)),
        body,
        attributes,
        delay_s,
        group_id: entry.message_group_id,
        deduplication_id: entry.message_deduplication_id,
        trace_header: trace_header(entry.message_system_attributes)?,
    })
}

/// `MessageSystemAttributes`: SQS knows one, AWSTraceHeader, a non-empty String.
fn trace_header(
    given: BTreeMap<String, super::requests::MessageAttributeValue>,
) -> Result<Option<String>, SqsError> {
    let mut trace = None;
    for (name, attribute) in given {
        let text = attribute.string_value.filter(|t| !t.is_empty());
        match (name.as_str(), attribute.data_type.as_str(), text) {
            ("AWSTraceHeader", "String", Some(text)) => trace = Some(text),
            ("AWSTraceHeader", _, _) => {
                return Err(SqsError::new(
                    "InvalidParameterValueException",
                    "The message system attribute 'AWSTraceHeader' must be a non-empty String.",
                ))
            }
            _ => {
                return Err(SqsError::new(
                    "InvalidParameterValueException",
                    format!("Message system attribute name '{name}' is invalid."),
                ))
            }
        }
    }
    Ok(trace)
}

/// The system attributes as SQS digests them (MD5OfMessageSystemAttributes).
fn system_attributes(trace_header: Option<&str>) -> MessageAttributes {
    trace_header
        .map(|trace| {
            let attribute = MessageAttribute {
                data_type: "String".into(),
                value: AttributeValue::String(trace.to_string()),
            };
            ("AWSTraceHeader".to_string(), attribute)
        })
        .into_iter()
        .collect()
}

/// The digests of a message about to be sent, as its answer carries them; taken
/// before the send so that the request moves into the queue uncopied.
struct Digests {
    body: String,
    attributes: Option<String>,
    system_attributes: Option<String>,
}

impl Digests {
    fn of(request: &SendRequest) -> Digests {
        Digests {
            body: md5::of_body(&request.body, request.body_digest),
            attributes: md5::of_attributes(&request.attributes),
            system_attributes: md5::of_attributes(&system_attributes(
                request.trace_header.as_deref(),
            )),
        }
    }

    /// The answer for the sent message (`id`: its batch entry's).
    fn sent(self, id: Option<String>, outcome: &SendOutcome) -> SentMessage {
        SentMessage {
            id,
            message_id: outcome.message_id.to_string(),
            md5_of_message_body: self.body,
            md5_of_message_attributes: self.attributes,
            md5_of_message_system_attributes: self.system_attributes,
            sequence_number: outcome.sequence_number.map(|n| format!("{:020}", n.0)),
        }
    }
}

async fn send(context: &Context<'_>, request: &Value) -> Response {
    // SendMessage is its queue and one message; both read from the one request.
    let queue: QueueRequest = read(request)?;
    let entry: SendEntry = read(request)?;
    let queue = context.queue_at(&queue.queue_url)?;
    let request = send_request(entry)?;
    let digests = Digests::of(&request);
    let mut outcomes = queue.submit_batch(vec![request])?.acknowledged().await?;
    let outcome = outcomes.pop().expect("one outcome per message")?;
    context.respond(&digests.sent(None, &outcome))
}

/// A batch's entries, checked as SQS checks them: 1 to 10 entries, in order each
/// a structure with an id of 1 to 80 letters, digits, `-` and `_`, all distinct.
fn check_batch<T>(entries: Vec<Option<T>>, id: impl Fn(&T) -> &str) -> Result<Vec<T>, SqsError> {
    let ids = entries.iter().map(|entry| entry.as_ref().map(&id));
    if ids.len() == 0 {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if ids.len() > BATCH_ENTRIES_MAX {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {BATCH_ENTRIES_MAX}. You have sent {}.",
                ids.len()
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::with_capacity(ids.len());
    for id in ids {
        let id =
            id.ok_or_else(|| SqsError::new("SerializationException", "Expected a structure"))?;
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if id.is_empty() || id.len() > 80 || !id.chars().all(valid) {
            return Err(SqsError::new(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if seen.contains(&id) {
            return Err(SqsError::new(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
        seen.push(id);
    }
    Ok(entries.into_iter().flatten().collect())
}

fn failed_entry(id: String, error: &SqsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id,
        sender_fault: error.sender_fault,
        code: error.query_code,
        message: error.message.clone(),
    }
}

async fn send_batch(context: &Context<'_>, request: SendMessageBatchRequest) -> Response {
    let queue = context.queue_at(&request.queue_url)?;
    let entries = check_batch(request.entries, |entry| entry.id.as_deref().unwrap_or(""))?;
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    let mut requests = Vec::new();
    for mut entry in entries {
        let id = entry.id.take().unwrap_or_default();
        match send_request(entry) {
            Ok(request) => {
                accepted.push((id, Digests::of(&request)));
                requests.push(request);
            }
            Err(error) => failed.push(failed_entry(id, &error)),
        }
    }
    let mut successful = Vec::new();
    if !requests.is_empty() {
        let outcomes = queue.submit_batch(requests)?.acknowledged().await?;
        for ((id, digests), outcome) in accepted.into_iter().zip(outcomes) {
            match outcome {
                Ok(outcome) => successful.push(digests.sent(Some(id), &outcome)),
                Err(error) => failed.push(failed_entry(id, &SqsError::from(error))),
            }
        }
    }
    // An entry's id, message id and digest with their member names.
    let json_bytes = 160 * (successful.len() + failed.len());
    context.respond_sized(&BatchResponse { successful, failed }, json_bytes)
}

/// A batch of handle operations: entries whose handle (and parameters) `parse`
/// accepts go to the queue in one call (`submit`); the others fail alone.
async fn handle_batch<'q, T: Copy>(
    context: &Context<'_>,
    entries: Vec<Option<HandleEntry>>,
    parse: impl Fn(&HandleEntry) -> Result<T, SqsError>,
    submit: impl FnOnce(&[T]) -> shardlog_queue::Result<PendingChanges<'q>>,
) -> Response {
    let entries = check_batch(entries, |entry| entry.id.as_str())?;
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    let mut parsed = Vec::new();
    for entry in entries {
        match parse(&entry) {
            Ok(ok) => {
                accepted.push(entry.id);
                parsed.push(ok);
            }
            Err(error) => failed.push(failed_entry(entry.id, &error)),
        }
    }
    let outcomes = if parsed.is_empty() {
        Vec::new()
    } else {
        submit(&parsed)?.acknowledged().await?
    };
    let mut successful = Vec::new();
    for (id, outcome) in accepted.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => successful.push(BatchResultEntry { id }),
            Err(error) => failed.push(failed_entry(id, &SqsError::from(error))),
        }
    }
    context.respond(&BatchResponse { successful, failed })
}

async fn delete_batch(context: &Context<'_>, request: HandleBatchRequest) -> Response {
    let queue = context.queue_at(&request.queue_url)?;
    let parse = |entry: &HandleEntry| handle(&entry.receipt_handle);
    handle_batch(context, request.entries, parse, |handles| {
        queue.submit_delete_batch(handles)
    })
    .await
}

async fn change_visibility_batch(context: &Context<'_>, request: &Value) -> Response {
    let request: HandleBatchRequest = read(request)?;
    let queue = context.queue_at(&request.queue_url)?;
    let parse = |entry: &HandleEntry| {
        let handle = handle(&entry.receipt_handle)?;
        Ok((handle, visibility_timeout(entry.visibility_timeout)?))
    };
    handle_batch(context, request.entries, parse, |changes| {
        queue.submit_change_visibility_batch(changes)
    })
    .await
}

/// About what a received message's JSON holds besides its body (ids, handle,
/// digest, member names; no attributes): enough that an answer's buffer is
/// made once.
const MESSAGE_JSON_BYTES: usize = 256;

/// A ReceiveMessage request, checked.
pub(crate) struct Receive {
    queue_url: String,
    request: ReceiveRequest,
    /// System attributes asked for.
    system: Vec<String>,
    /// Message attributes asked for.
    wanted: Vec<String>,
}

impl Receive {
    fn of(request: ReceiveMessageRequest) -> Result<Receive, SqsError> {
        let max_messages = bounded(request.max_number_of_messages, "MaxNumberOfMessages", 1, 10)?;
        let receive = ReceiveRequest {
            max_messages: max_messages.unwrap_or(1),
            visibility_timeout_s: bounded(
                request.visibility_timeout,
                "VisibilityTimeout",
                0,
                43_200,
            )?,
            wait_time_s: bounded(request.wait_time_seconds, "WaitTimeSeconds", 0, 20)?,
            receive_request_attempt_id: request.receive_request_attempt_id,
        };
        let mut system = request.attribute_names;
        system.extend(request.message_system_attribute_names);
        Ok(Receive {
            queue_url: request.queue_url,
            request: receive,
            system,
            wanted: request.message_attribute_names,
        })
    }

    fn respond(&self, context: &Context<'_>, received: &[ReceivedMessage]) -> Response {
        let messages = received
            .iter()
            .map(|message| render_message(context, message, &self.system, &self.wanted))
            .collect();
        // The bodies and, per message, its ids, digest and member names.
        let json_bytes = received
            .iter()
            .map(|message| message.body.len() + MESSAGE_JSON_BYTES)
            .sum::<usize>();
        context.respond_sized(&ReceiveMessageResponse { messages }, json_bytes)
    }
}

/// ReceiveMessage without blocking; `None` if it must (see `dispatch_blocking`).
async fn receive_unblocked(context: &Context<'_>, receive: &Receive) -> Option<Response> {
    let name = match queue_name_of(&receive.queue_url) {
        Ok(name) => name,
        Err(error) => return Some(Err(error)),
    };
    let queues = context.sqs.queues();
    let received = queues
        .receive_unblocked(name, &receive.request, tokio::time::sleep)
        .await?;
    Some(
        received
            .map_err(SqsError::from)
            .and_then(|received| receive.respond(context, &received)),
    )
}

/// ReceiveMessage on a thread that may block (a FIFO attempt id, a dead-letter queue).
pub fn receive_blocking(context: &Context<'_>, receive: &Receive) -> Response {
    let name = queue_name_of(&receive.queue_url)?;
    let received = context.sqs.queues().receive(name, &receive.request)?;
    receive.respond(context, &received)
}

/// Whether message attribute `name` is asked for: `All`, `.*`, a `prefix.*` or its name.
fn wanted_attribute(name: &str, wanted: &[String]) -> bool {
    wanted.iter().any(|w| match w.as_str() {
        "All" | ".*" => true,
        pattern => match pattern.strip_suffix(".*") {
            Some(prefix) => name
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.')),
            None => pattern == name,
        },
    })
}

fn render_message<'a>(
    context: &Context<'_>,
    message: &'a ReceivedMessage,
    system: &[String],
    wanted: &[String],
) -> Message<'a> {
    let returned = || {
        message
            .attributes
            .iter()
            .filter(|(name, _)| wanted_attribute(name, wanted))
    };
    let message_attributes = returned()
        .map(|(name, attribute)| {
            let (string_value, binary_value) = match &attribute.value {
                AttributeValue::String(text) => (Some(text.as_str()), None),
                AttributeValue::Binary(bytes) => (None, Some(Blob(bytes.as_slice()))),
            };
            let value = MessageAttributeValue {
                data_type: &attribute.data_type,
                string_value,
                binary_value,
            };
            (name.as_str(), value)
        })
        .collect();
    Message {
        message_id: message.message_id.to_string(),
        receipt_handle: message.receipt_handle.to_string(),
        md5_of_body: md5::of_body(&message.body, message.body_digest),
        body: body_text(&message.body),
        attributes: system_facts(context, message, system),
        md5_of_message_attributes: md5::of_attributes(returned()),
        message_attributes,
    }
}

/// A stored body as text. Bodies are sent as text, so this is a check: `from_utf8`
/// clears ASCII a word at a time, where `from_utf8_lossy` walks it in chunks.
fn body_text(body: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(body) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    }
}

/// The system attributes of `message` that `system` asks for (`All` for every one).
fn system_facts(
    context: &Context<'_>,
    message: &ReceivedMessage,
    system: &[String],
) -> BTreeMap<&'static str, String> {
    let all = system.iter().any(|n| n == "All");
    let asked = |name: &str| all || system.iter().any(|n| n == name);
    let mut facts = BTreeMap::new();
    // Values are made only for the facts asked for: a receive that asks for
    // none (the usual one) writes no text for its ten messages.
    let mut fact = |name: &'static str, value: &dyn Fn() -> Option<String>| {
        if let Some(value) = asked(name).then(value).flatten() {
            facts.insert(name, value);
        }
    };
    fact("SenderId", &|| Some(context.sqs.account_id().to_string()));
    fact("SentTimestamp", &|| Some(message.sent_ms.to_string()));
    fact("ApproximateReceiveCount", &|| {
        Some(message.receive_count.to_string())
    });
    fact("ApproximateFirstReceiveTimestamp", &|| {
        Some(message.first_receive_ms.to_string())
    });
    fact("SequenceNumber", &|| {
        message.sequence_number.map(|n| format!("{:020}", n.0))
    });
    fact("MessageDeduplicationId", &|| {
        message.deduplication_id.clone()
    });
    fact("MessageGroupId", &|| message.group_id.clone());
    fact("AWSTraceHeader", &|| message.trace_header.clone());
    fact("DeadLetterQueueSourceArn", &|| {
        message.source_queue.as_deref().map(|q| context.sqs.arn(q))
    });
    facts
}
