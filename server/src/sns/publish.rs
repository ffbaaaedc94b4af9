//! Publish and PublishBatch: checked as SNS checks them, appended to the topic's
//! log, acknowledged once durable.

use super::requests::{MessageAttributeValue, MessageInput, PublishBatchInput, PublishInput};
use super::responses::{
    BatchResultErrorEntry, PublishBatchOutput, PublishBatchResultEntry, PublishOutput,
};
use super::{Sns, SnsError};
use crate::error::ApiError;
use crate::protocol::typed::{read, respond};
use crate::protocol::value::Value;
use shardlog_topic::{
    AttributeValue, MessageAttribute, MessageAttributes, PublishOutcome, PublishRequest, Published,
    FIFO_SUFFIX, PUBLISH_BATCH_MAX,
};
use std::collections::{BTreeMap, BTreeSet};

type Response = Result<Value, SnsError>;

/// Largest message with its attributes (and largest batch), in bytes: 256 KiB.
pub const MESSAGE_BYTES_MAX: usize = 256 * 1024;
/// Longest subject, in characters.
const SUBJECT_CHARS_MAX: usize = 100;

/// Runs a publish action on its request read into the action's typed input;
/// `Ok(None)` if `action` is not one.
pub(super) fn run(sns: &Sns, action: &str, request: &Value) -> Result<Option<Value>, SnsError> {
    let Some(checked) = check(sns, action, request) else {
        return Ok(None);
    };
    let Checked {
        topic,
        requests,
        answer,
    } = checked?;
    let outcomes = match requests.is_empty() {
        true => Vec::new(),
        false => {
            let presign = |messages: &[Published]| sns.presign(&topic, messages);
            topic.submit_publish_then(requests, presign)?.wait()?
        }
    };
    answer.with(outcomes).map(Some)
}

/// [`run`] without blocking a thread, for a publish action to a standard topic:
/// `None` for any other action, and for a FIFO topic's publish (it holds its
/// deduplication lock until durable: it runs through [`run`] on a blocking thread).
pub(super) async fn run_unblocked(sns: &Sns, action: &str, request: &Value) -> Option<Response> {
    let topic_arn = match action {
        "Publish" => text_field(request, "TopicArn").or_else(|| text_field(request, "TargetArn")),
        "PublishBatch" => text_field(request, "TopicArn"),
        _ => return None,
    };
    // A topic's kind is in its name (and so in its ARN): a FIFO topic's ends in
    // `.fifo`. A request without one goes the blocking way, which words the error.
    if topic_arn.is_none_or(|arn| arn.ends_with(FIFO_SUFFIX)) {
        return None;
    }
    let Checked {
        topic,
        requests,
        answer,
    } = match check(sns, action, request)? {
        Ok(checked) => checked,
        Err(error) => return Some(Err(error)),
    };
    let outcomes = match requests.is_empty() {
        true => Ok(Vec::new()),
        false => {
            let presign = |messages: &[Published]| sns.presign(&topic, messages);
            async {
                topic
                    .submit_publish_then(requests, presign)?
                    .acknowledged()
                    .await
            }
            .await
        }
    };
    Some(
        outcomes
            .map_err(SnsError::from)
            .and_then(|outcomes| answer.with(outcomes)),
    )
}

/// The text of a request's top-level field `name`, if it has one.
fn text_field<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    match request {
        Value::Map(fields) => match fields.get(name) {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// A publish action checked: its topic, what to append, and how to answer.
struct Checked {
    topic: std::sync::Arc<shardlog_topic::Topic>,
    /// The valid messages, in order (none when every batch entry failed).
    requests: Vec<PublishRequest>,
    answer: Answer,
}

/// How a publish action answers once its messages are durable.
enum Answer {
    /// Publish: the one message's outcome.
    One,
    /// PublishBatch: the valid entries' ids (in the order of the requests) and
    /// the entries that failed their checks.
    Batch {
        ids: Vec<String>,
        failed: Vec<BatchResultErrorEntry>,
    },
}

impl Answer {
    /// The answer for the appended messages' `outcomes` (in request order).
    fn with(self, outcomes: Vec<PublishOutcome>) -> Response {
        match self {
            Answer::One => {
                let outcome = outcomes
                    .into_iter()
                    .next()
                    .expect("one outcome per message");
                Ok(respond(&PublishOutput {
                    sequence_number: sequence_number(&outcome),
                    message_id: outcome.message_id,
                })?)
            }
            Answer::Batch { ids, failed } => {
                let successful = ids
                    .into_iter()
                    .zip(outcomes)
                    .map(|(id, outcome)| PublishBatchResultEntry {
                        id,
                        sequence_number: sequence_number(&outcome),
                        message_id: outcome.message_id,
                    })
                    .collect();
                Ok(respond(&PublishBatchOutput { successful, failed })?)
            }
        }
    }
}

/// Checks a publish action's request; `None` if `action` is not one.
fn check(sns: &Sns, action: &str, request: &Value) -> Option<Result<Checked, SnsError>> {
    match action {
        "Publish" => Some(
            read(request)
                .map_err(SnsError::from)
                .and_then(|r| check_publish(sns, r)),
        ),
        "PublishBatch" => Some(
            read(request)
                .map_err(SnsError::from)
                .and_then(|r| check_batch(sns, r)),
        ),
        _ => None,
    }
}

fn check_publish(sns: &Sns, request: PublishInput) -> Result<Checked, SnsError> {
    if request.phone_number.is_some() {
        return Err(SnsError::invalid(
            "PhoneNumber Reason: SMS is not supported by this server",
        ));
    }
    let arn = match (request.topic_arn.as_deref(), request.target_arn.as_deref()) {
        (Some(arn), _) | (None, Some(arn)) => arn,
        (None, None) => {
            return Err(SnsError::invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ))
        }
    };
    let name = sns.names().topic_of_arn(arn)?;
    let topic = sns.topics().topic(name)?;
    let publish = request_of(request.message, topic.name().is_fifo())?;
    Ok(Checked {
        topic,
        requests: vec![publish],
        answer: Answer::One,
    })
}

/// A FIFO message's sequence number as SNS writes it: 20 digits.
fn sequence_number(outcome: &PublishOutcome) -> Option<String> {
    outcome.sequence_number.map(|n| format!("{n:020}"))
}

/// A publish request from a Publish call or a PublishBatch entry, checked.
fn request_of(input: MessageInput, fifo: bool) -> Result<PublishRequest, SnsError> {
    let message = input.message;
    if message.is_empty() {
        return Err(SnsError::invalid("Empty message"));
    }
    let structure_json = match input.message_structure.as_deref() {
        None => false,
        Some("json") => {
            check_structure(&message)?;
            true
        }
        Some(_) => return Err(SnsError::invalid("MessageStructure")),
    };
    let subject = input.subject;
    if let Some(subject) = &subject {
        let printable = subject.chars().all(|c| !c.is_control());
        if subject.is_empty() || subject.chars().count() > SUBJECT_CHARS_MAX || !printable {
            return Err(SnsError::invalid("Subject"));
        }
    }
    let attributes = attributes_of(input.message_attributes)?;
    let size = message.len()
        + attributes
            .iter()
            .map(|(name, a)| name.len() + a.data_type.len() + value_len(&a.value))
            .sum::<usize>();
    if size > MESSAGE_BYTES_MAX {
        return Err(SnsError::invalid("Message too long"));
    }
    let group_id = input.message_group_id;
    let deduplication_id = input.message_deduplication_id;
    if fifo && group_id.is_none() {
        return Err(SnsError::invalid(
            "The MessageGroupId parameter is required for FIFO topics",
        ));
    }
    if !fifo && deduplication_id.is_some() {
        return Err(SnsError::invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type"));
    }
    if !fifo && group_id.is_some() {
        return Err(SnsError::invalid("MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type"));
    }
    Ok(PublishRequest {
        subject,
        message,
        attributes,
        group_id,
        deduplication_id,
        structure_json,
    })
}

/// A MessageStructure `json` message: an object of strings with a `default`.
fn check_structure(message: &str) -> Result<(), SnsError> {
    let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(message)
        .map_err(|_| SnsError::invalid("Message Structure - JSON message body failed to parse"))?;
    if !parsed
        .get("default")
        .is_some_and(serde_json::Value::is_string)
    {
        return Err(SnsError::invalid(
            "Message Structure - No default entry in JSON message body",
        ));
    }
    if !parsed.values().all(serde_json::Value::is_string) {
        return Err(SnsError::invalid(
            "Message Structure - JSON message body failed to parse",
        ));
    }
    Ok(())
}

fn value_len(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::String(text) => text.len(),
        AttributeValue::Binary(bytes) => bytes.len(),
    }
}

/// `MessageAttributes`, checked: types String, Number, Binary (each with an
/// optional custom suffix) and String.Array, with the value their type needs.
fn attributes_of(
    given: BTreeMap<String, MessageAttributeValue>,
) -> Result<MessageAttributes, SnsError> {
    let mut attributes = MessageAttributes::new();
    for (name, entry) in given {
        let data_type = entry
            .data_type
            .ok_or_else(|| ApiError::missing("DataType"))?;
        let bad = |reason: &str| {
            SnsError::new(
                "ParameterValueInvalid",
                format!("The message attribute '{name}' {reason}"),
            )
        };
        let base = data_type.split('.').next().unwrap_or("");
        let value = match (data_type.as_str(), base) {
            ("String.Array", _) => {
                let text = entry
                    .string_value
                    .ok_or_else(|| bad("must contain non-empty message attribute value for message attribute type 'String.Array'."))?;
                let parsed: Result<Vec<serde_json::Value>, _> = serde_json::from_str(&text);
                if parsed.is_err() {
                    return Err(bad("has an invalid message attribute value of type String.Array."));
                }
                AttributeValue::String(text)
            }
            (_, "String") | (_, "Number") => {
                let text = entry.string_value.ok_or_else(|| {
                    bad(&format!("must contain non-empty message attribute value for message attribute type '{base}'."))
                })?;
                if base == "Number" && text.trim().parse::<f64>().is_err() {
                    return Err(bad(&format!("has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String. Value: {text} is not a number")));
                }
                AttributeValue::String(text)
            }
            (_, "Binary") => {
                let bytes = entry.binary_value.ok_or_else(|| {
                    bad("must contain non-empty message attribute value for message attribute type 'Binary'.")
                })?;
                AttributeValue::Binary(bytes.0)
            }
            _ => return Err(bad("has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.")),
        };
        attributes.insert(name, MessageAttribute { data_type, value });
    }
    Ok(attributes)
}

fn check_batch(sns: &Sns, request: PublishBatchInput) -> Result<Checked, SnsError> {
    let name = sns.names().topic_of_arn(&request.topic_arn)?;
    let topic = sns.topics().topic(name)?;
    let entries = request.publish_batch_request_entries;
    if entries.is_empty() {
        return Err(SnsError::new(
            "EmptyBatchRequest",
            "The batch request doesn't contain any entries",
        ));
    }
    if entries.len() > PUBLISH_BATCH_MAX {
        return Err(SnsError::new(
            "TooManyEntriesInBatchRequest",
            "The batch request contains more entries than permissible",
        ));
    }
    let mut ids = BTreeSet::new();
    let mut total = 0;
    let mut valid = Vec::new();
    let mut failed = Vec::new();
    for entry in entries {
        let id = entry.id;
        let well_formed = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !well_formed {
            return Err(SnsError::new(
                "InvalidBatchEntryId",
                "The Id of a batch entry in a batch request doesn't abide by the specification",
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(SnsError::new(
                "BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id",
            ));
        }
        total += entry.message.message.len();
        match request_of(entry.message, topic.name().is_fifo()) {
            Ok(request) => valid.push((id, request)),
            Err(error) => failed.push(BatchResultErrorEntry {
                id,
                code: error.code,
                message: error.message,
                sender_fault: true,
            }),
        }
    }
    if total > MESSAGE_BYTES_MAX {
        return Err(SnsError::new(
            "BatchRequestTooLong",
            "The length of all the messages put together is more than the limit",
        ));
    }
    let (ids, requests): (Vec<String>, Vec<PublishRequest>) = valid.into_iter().unzip();
    Ok(Checked {
        topic,
        requests,
        answer: Answer::Batch { ids, failed },
    })
}
