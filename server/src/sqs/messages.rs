//! Message actions: send, receive, delete and visibility changes, one at a time
//! and in batches.

use super::actions::{queue_name, string_list, string_map_value};
use super::{md5, Context, SqsError};
use crate::protocol::value::{Fields, Format, Out, Value};
use shardlog_queue::{
    AttributeValue, MessageAttribute, MessageAttributes, ReceiptHandle, ReceiveRequest,
    ReceivedMessage, SendOutcome, SendRequest, BATCH_ENTRIES_MAX,
};
use std::collections::BTreeMap;

type Response = Result<Value, SqsError>;

/// Runs a message action; `None` if `action` is not one.
pub fn dispatch(context: &Context<'_>, action: &str, request: &Value) -> Option<Response> {
    let run = |handler: fn(&Context<'_>, &Fields<'_>) -> Response| {
        Fields::new(request, Format::Json)
            .map_err(SqsError::from)
            .and_then(|fields| handler(context, &fields))
    };
    Some(match action {
        "SendMessage" => run(send),
        "SendMessageBatch" => run(send_batch),
        "ReceiveMessage" => run(receive),
        "DeleteMessage" => run(|context, fields| {
            let queue = context.sqs.queues().queue(queue_name(fields)?)?;
            queue.delete(&handle(fields.required_str("ReceiptHandle")?)?)?;
            Ok(Out::new().into())
        }),
        "DeleteMessageBatch" => run(delete_batch),
        "ChangeMessageVisibility" => run(|context, fields| {
            let queue = context.sqs.queues().queue(queue_name(fields)?)?;
            let handle = handle(fields.required_str("ReceiptHandle")?)?;
            queue.change_visibility(&handle, visibility_timeout(fields)?)?;
            Ok(Out::new().into())
        }),
        "ChangeMessageVisibilityBatch" => run(change_visibility_batch),
        _ => return None,
    })
}

fn handle(text: &str) -> Result<ReceiptHandle, SqsError> {
    ReceiptHandle::parse(text).map_err(|_| {
        SqsError::new(
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{text}\" is not a valid receipt handle."),
        )
    })
}

/// An integer parameter within `min..=max`, if given.
fn bounded(fields: &Fields<'_>, name: &str, min: u32, max: u32) -> Result<Option<u32>, SqsError> {
    match fields.int(name)? {
        None => Ok(None),
        Some(n) if (i128::from(min)..=i128::from(max)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(SqsError::invalid_value(
            name,
            n,
            &format!("Must be between {min} and {max}, if provided."),
        )),
    }
}

fn visibility_timeout(fields: &Fields<'_>) -> Result<u32, SqsError> {
    bounded(fields, "VisibilityTimeout", 0, 43_200)?
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
fn message_attributes(fields: &Fields<'_>) -> Result<MessageAttributes, SqsError> {
    let mut attributes = MessageAttributes::new();
    let Some(map) = fields.structure("MessageAttributes")? else {
        return Ok(attributes);
    };
    for (name, value) in map.entries() {
        let attribute = Fields::new(value, Format::Json)?;
        let data_type = attribute.required_str("DataType")?;
        let value = match data_type.split('.').next().unwrap_or("") {
            "String" | "Number" => match attribute.str("StringValue")? {
                Some(text) if !text.is_empty() => AttributeValue::String(text.to_string()),
                _ => return Err(empty_attribute(name, data_type)),
            },
            "Binary" => match attribute.required_blob("BinaryValue") {
                Ok(bytes) if !bytes.is_empty() => AttributeValue::Binary(bytes),
                _ => return Err(empty_attribute(name, data_type)),
            },
            _ => {
                return Err(SqsError::new(
                    "InvalidParameterValueException",
                    format!("The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."),
                ))
            }
        };
        let data_type = data_type.to_string();
        attributes.insert(name.clone(), MessageAttribute { data_type, value });
    }
    Ok(attributes)
}

fn empty_attribute(name: &str, data_type: &str) -> SqsError {
    SqsError::new(
        "InvalidParameterValueException",
        format!("The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."),
    )
}

/// A send entry (SendMessage's request or a SendMessageBatch entry).
fn send_request(fields: &Fields<'_>) -> Result<SendRequest, SqsError> {
    let body = fields.required_str("MessageBody")?;
    check_body(body)?;
    Ok(SendRequest {
        body: body.as_bytes().to_vec(),
        attributes: message_attributes(fields)?,
        delay_s: bounded(fields, "DelaySeconds", 0, 900)?,
        group_id: fields.str("MessageGroupId")?.map(str::to_string),
        deduplication_id: fields.str("MessageDeduplicationId")?.map(str::to_string),
        trace_header: trace_header(fields)?,
    })
}

/// `MessageSystemAttributes`: SQS knows one, AWSTraceHeader, a non-empty String.
fn trace_header(fields: &Fields<'_>) -> Result<Option<String>, SqsError> {
    let Some(map) = fields.structure("MessageSystemAttributes")? else {
        return Ok(None);
    };
    let mut trace = None;
    for (name, value) in map.entries() {
        let attribute = Fields::new(value, Format::Json)?;
        let data_type = attribute.required_str("DataType")?;
        let text = attribute.str("StringValue")?.filter(|t| !t.is_empty());
        match (name.as_str(), data_type, text) {
            ("AWSTraceHeader", "String", Some(text)) => trace = Some(text.to_string()),
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

/// The digests, id and sequence number of a sent message.
fn sent(request: &SendRequest, outcome: &SendOutcome) -> Out {
    Out::new()
        .with("MessageId", outcome.message_id.to_string())
        .with("MD5OfMessageBody", md5::of_body(&request.body))
        .maybe(
            "MD5OfMessageAttributes",
            md5::of_attributes(&request.attributes),
        )
        .maybe(
            "MD5OfMessageSystemAttributes",
            md5::of_attributes(&system_attributes(request.trace_header.as_deref())),
        )
        .maybe(
            "SequenceNumber",
            outcome.sequence_number.map(|n| format!("{:020}", n.0)),
        )
}

fn send(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let queue = context.sqs.queues().queue(queue_name(fields)?)?;
    let request = send_request(fields)?;
    let outcome = queue.send(request.clone())?;
    Ok(sent(&request, &outcome).into())
}

/// A batch's entries with their ids, checked as SQS checks them: 1 to 10 entries,
/// ids of 1 to 80 letters, digits, `-` and `_`, all distinct.
fn batch_entries<'a>(fields: &Fields<'a>) -> Result<Vec<(String, Fields<'a>)>, SqsError> {
    let entries = fields.list("Entries")?.unwrap_or_default();
    if entries.is_empty() {
        return Err(SqsError::new(
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if entries.len() > BATCH_ENTRIES_MAX {
        return Err(SqsError::new(
            "TooManyEntriesInBatchRequest",
            format!(
                "Maximum number of entries per request are {BATCH_ENTRIES_MAX}. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut out: Vec<(String, Fields<'a>)> = Vec::with_capacity(entries.len());
    for entry in entries {
        let entry = Fields::new(entry, Format::Json)?;
        let id = entry.required_str("Id")?;
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if id.is_empty() || id.len() > 80 || !id.chars().all(valid) {
            return Err(SqsError::new(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if out.iter().any(|(seen, _)| seen == id) {
            return Err(SqsError::new(
                "BatchEntryIdsNotDistinct",
                format!("Id {id} repeated."),
            ));
        }
        out.push((id.to_string(), entry));
    }
    Ok(out)
}

fn failed_entry(id: &str, error: &SqsError) -> Value {
    Out::new()
        .with("Id", id)
        .with("SenderFault", error.sender_fault)
        .with("Code", error.query_code)
        .with("Message", error.message.clone())
        .into()
}

fn batch_result(successful: Vec<Value>, failed: Vec<Value>) -> Value {
    Out::new()
        .with("Successful", successful)
        .with("Failed", failed)
        .into()
}

fn send_batch(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let queue = context.sqs.queues().queue(queue_name(fields)?)?;
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    for (id, entry) in batch_entries(fields)? {
        match send_request(&entry) {
            Ok(request) => accepted.push((id, request)),
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    let mut successful = Vec::new();
    if !accepted.is_empty() {
        let requests = accepted.iter().map(|(_, r)| r.clone()).collect();
        let outcomes = queue.send_batch(requests)?;
        for ((id, request), outcome) in accepted.iter().zip(outcomes) {
            match outcome {
                Ok(outcome) => {
                    successful.push(sent(request, &outcome).with("Id", id.as_str()).into())
                }
                Err(error) => failed.push(failed_entry(id, &SqsError::from(error))),
            }
        }
    }
    Ok(batch_result(successful, failed))
}

/// A batch of handle operations: entries whose handle (and parameters) `parse`
/// accepts go to the queue in one call (`apply`); the others fail alone.
fn handle_batch<T: Copy>(
    fields: &Fields<'_>,
    parse: impl Fn(&Fields<'_>) -> Result<T, SqsError>,
    apply: impl FnOnce(&[T]) -> shardlog_queue::Result<Vec<shardlog_queue::Result<()>>>,
) -> Response {
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    for (id, entry) in batch_entries(fields)? {
        match parse(&entry) {
            Ok(parsed) => accepted.push((id, parsed)),
            Err(error) => failed.push(failed_entry(&id, &error)),
        }
    }
    let parsed: Vec<T> = accepted.iter().map(|(_, p)| *p).collect();
    let outcomes = if parsed.is_empty() {
        Vec::new()
    } else {
        apply(&parsed)?
    };
    let mut successful = Vec::new();
    for ((id, _), outcome) in accepted.iter().zip(outcomes) {
        match outcome {
            Ok(()) => successful.push(Out::new().with("Id", id.as_str()).into()),
            Err(error) => failed.push(failed_entry(id, &SqsError::from(error))),
        }
    }
    Ok(batch_result(successful, failed))
}

fn entry_handle(entry: &Fields<'_>) -> Result<ReceiptHandle, SqsError> {
    handle(entry.required_str("ReceiptHandle")?)
}

fn delete_batch(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let queue = context.sqs.queues().queue(queue_name(fields)?)?;
    handle_batch(fields, entry_handle, |handles| queue.delete_batch(handles))
}

fn change_visibility_batch(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let queue = context.sqs.queues().queue(queue_name(fields)?)?;
    let parse = |entry: &Fields<'_>| Ok((entry_handle(entry)?, visibility_timeout(entry)?));
    handle_batch(fields, parse, |changes| {
        queue.change_visibility_batch(changes)
    })
}

fn receive(context: &Context<'_>, fields: &Fields<'_>) -> Response {
    let name = queue_name(fields)?;
    let request = ReceiveRequest {
        max_messages: bounded(fields, "MaxNumberOfMessages", 1, 10)?.unwrap_or(1),
        visibility_timeout_s: bounded(fields, "VisibilityTimeout", 0, 43_200)?,
        wait_time_s: bounded(fields, "WaitTimeSeconds", 0, 20)?,
        receive_request_attempt_id: fields.str("ReceiveRequestAttemptId")?.map(str::to_string),
    };
    let mut system = string_list(fields, "AttributeNames")?;
    system.extend(string_list(fields, "MessageSystemAttributeNames")?);
    let wanted = string_list(fields, "MessageAttributeNames")?;
    let received = context.sqs.queues().receive(name, &request)?;
    let messages: Vec<Value> = received
        .iter()
        .map(|message| render_message(context, message, &system, &wanted))
        .collect();
    Ok(Out::new()
        .maybe("Messages", (!messages.is_empty()).then_some(messages))
        .into())
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

fn render_message(
    context: &Context<'_>,
    message: &ReceivedMessage,
    system: &[String],
    wanted: &[String],
) -> Value {
    let attributes: MessageAttributes = message
        .attributes
        .iter()
        .filter(|(name, _)| wanted_attribute(name, wanted))
        .map(|(name, attribute)| (name.clone(), attribute.clone()))
        .collect();
    let rendered: BTreeMap<String, Value> = attributes
        .iter()
        .map(|(name, attribute)| {
            let value = match &attribute.value {
                AttributeValue::String(text) => ("StringValue", Value::Text(text.clone())),
                AttributeValue::Binary(bytes) => ("BinaryValue", Value::Bytes(bytes.clone())),
            };
            let out = Out::new()
                .with("DataType", attribute.data_type.as_str())
                .with(value.0, value.1);
            (name.clone(), out.into())
        })
        .collect();
    let all = system.iter().any(|n| n == "All");
    let asked = |name: &str| all || system.iter().any(|n| n == name);
    let mut facts = BTreeMap::new();
    let mut fact = |name: &str, value: Option<String>| {
        if let Some(value) = value.filter(|_| asked(name)) {
            facts.insert(name.to_string(), value);
        }
    };
    fact("SenderId", Some(context.sqs.account_id().to_string()));
    fact("SentTimestamp", Some(message.sent_ms.to_string()));
    fact(
        "ApproximateReceiveCount",
        Some(message.receive_count.to_string()),
    );
    fact(
        "ApproximateFirstReceiveTimestamp",
        Some(message.first_receive_ms.to_string()),
    );
    fact(
        "SequenceNumber",
        message.sequence_number.map(|n| format!("{:020}", n.0)),
    );
    fact("MessageDeduplicationId", message.deduplication_id.clone());
    fact("MessageGroupId", message.group_id.clone());
    fact("AWSTraceHeader", message.trace_header.clone());
    let source_arn = message.source_queue.as_deref().map(|q| context.sqs.arn(q));
    fact("DeadLetterQueueSourceArn", source_arn);
    Out::new()
        .with("MessageId", message.message_id.to_string())
        .with("ReceiptHandle", message.receipt_handle.to_string())
        .with("MD5OfBody", md5::of_body(&message.body))
        .with("Body", String::from_utf8_lossy(&message.body).into_owned())
        .maybe(
            "Attributes",
            (!facts.is_empty()).then(|| string_map_value(facts)),
        )
        .maybe("MD5OfMessageAttributes", md5::of_attributes(&attributes))
        .maybe(
            "MessageAttributes",
            (!rendered.is_empty()).then_some(Value::Map(rendered)),
        )
        .into()
}
