//! The JSON 1.0 bodies of the round trip's actions (SendMessageBatch,
//! ReceiveMessage, DeleteMessageBatch) read straight into their typed requests,
//! without the tree, its validation and the typed read in between (together
//! about a tenth of the server's CPU per message).
//!
//! The SQS model constrains these inputs only by member types, required members
//! and two enums, so a body that serde reads into the structs below, with every
//! required member present and every enum value known, is one that validation
//! passes, and it reads into the same typed request. Anything else (a type
//! AWS converts, a null or missing required member, a repeated member, message
//! attributes, an unknown enum value, malformed JSON) is declined: the caller
//! then takes the general path, which words every error as before.

use super::requests::{
    HandleBatchRequest, HandleEntry, ReceiveMessageRequest, SendEntry, SendMessageBatchRequest,
};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// A request of one of the round trip's actions, read without the tree.
#[derive(Debug, PartialEq)]
pub(crate) enum Decoded {
    /// SendMessageBatch.
    SendBatch(SendMessageBatchRequest),
    /// ReceiveMessage.
    Receive(ReceiveMessageRequest),
    /// DeleteMessageBatch.
    DeleteBatch(HandleBatchRequest),
}

/// The typed request of `action`'s JSON `body`, or `None` where the general
/// path must read it (see the module's comment).
pub(crate) fn decode(action: &str, body: &[u8]) -> Option<Decoded> {
    match action {
        "SendMessageBatch" => {
            send_batch(serde_json::from_slice(body).ok()?).map(Decoded::SendBatch)
        }
        "ReceiveMessage" => receive(serde_json::from_slice(body).ok()?).map(Decoded::Receive),
        "DeleteMessageBatch" => {
            delete_batch(serde_json::from_slice(body).ok()?).map(Decoded::DeleteBatch)
        }
        _ => None,
    }
}

/// An integer as validation leaves it: a JSON integer that fits 64 bits. Others
/// (fractions, exponents, wider integers) are converted by validation; declined here.
#[derive(Debug, Clone, Copy)]
struct Integer(i128);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Integer, D::Error> {
        struct Whole;
        impl Visitor<'_> for Whole {
            type Value = Integer;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer of at most 64 bits")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Integer, E> {
                Ok(Integer(i128::from(n)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Integer, E> {
                Ok(Integer(i128::from(n)))
            }
        }
        deserializer.deserialize_any(Whole)
    }
}

fn integer(value: Option<Integer>) -> Option<i128> {
    value.map(|Integer(n)| n)
}

/// The body of SendMessageBatch (`E` a [`SendEntryBody`]) or DeleteMessageBatch.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchBody<E> {
    queue_url: Option<String>,
    entries: Option<Vec<Option<E>>>,
}

/// A batch's queue and its entries, each read by `read`; a null entry stays null
/// (the handlers refuse it in SQS's words). `None` if `read` declines an entry.
fn batch<E, T>(
    body: BatchBody<E>,
    read: impl Fn(E) -> Option<T>,
) -> Option<(String, Vec<Option<T>>)> {
    let entries = body
        .entries?
        .into_iter()
        .map(|entry| match entry {
            None => Some(None),
            Some(entry) => read(entry).map(Some),
        })
        .collect::<Option<_>>()?;
    Some((body.queue_url?, entries))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendEntryBody {
    id: Option<String>,
    message_body: Option<String>,
    delay_seconds: Option<Integer>,
    /// Present (not null) declines: attributes take the general path.
    message_attributes: Option<IgnoredAny>,
    /// Present (not null) declines, as `message_attributes`.
    message_system_attributes: Option<IgnoredAny>,
    message_deduplication_id: Option<String>,
    message_group_id: Option<String>,
}

fn send_batch(body: BatchBody<SendEntryBody>) -> Option<SendMessageBatchRequest> {
    let (queue_url, entries) = batch(body, send_entry)?;
    Some(SendMessageBatchRequest { queue_url, entries })
}

fn send_entry(entry: SendEntryBody) -> Option<SendEntry> {
    if entry.message_attributes.is_some() || entry.message_system_attributes.is_some() {
        return None;
    }
    Some(SendEntry {
        id: Some(entry.id?),
        message_body: entry.message_body?,
        delay_seconds: integer(entry.delay_seconds),
        message_attributes: BTreeMap::new(),
        message_system_attributes: BTreeMap::new(),
        message_deduplication_id: entry.message_deduplication_id,
        message_group_id: entry.message_group_id,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReceiveBody {
    queue_url: Option<String>,
    attribute_names: Option<Vec<String>>,
    message_system_attribute_names: Option<Vec<String>>,
    message_attribute_names: Option<Vec<String>>,
    max_number_of_messages: Option<Integer>,
    visibility_timeout: Option<Integer>,
    wait_time_seconds: Option<Integer>,
    receive_request_attempt_id: Option<String>,
}

fn receive(body: ReceiveBody) -> Option<ReceiveMessageRequest> {
    let attribute_names = body.attribute_names.unwrap_or_default();
    let system_names = body.message_system_attribute_names.unwrap_or_default();
    // AttributeNames takes queue attribute names in the model and message system
    // attribute names in practice (validation accepts both).
    let known = |shape: &str, name: &String| {
        let shape = crate::protocol::model::sqs().shape(shape);
        shape
            .enum_values
            .as_ref()
            .is_some_and(|values| values.contains(name))
    };
    let system = |name: &String| known("MessageSystemAttributeName", name);
    if !attribute_names
        .iter()
        .all(|name| known("QueueAttributeName", name) || system(name))
        || !system_names.iter().all(system)
    {
        return None;
    }
    Some(ReceiveMessageRequest {
        queue_url: body.queue_url?,
        attribute_names,
        message_system_attribute_names: system_names,
        message_attribute_names: body.message_attribute_names.unwrap_or_default(),
        max_number_of_messages: integer(body.max_number_of_messages),
        visibility_timeout: integer(body.visibility_timeout),
        wait_time_seconds: integer(body.wait_time_seconds),
        receive_request_attempt_id: body.receive_request_attempt_id,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteEntryBody {
    id: Option<String>,
    receipt_handle: Option<String>,
    /// Not in the model's entry, but the typed entry reads it (it is shared with
    /// ChangeMessageVisibilityBatch), so a value of another type must decline.
    visibility_timeout: Option<Integer>,
}

fn delete_batch(body: BatchBody<DeleteEntryBody>) -> Option<HandleBatchRequest> {
    let (queue_url, entries) = batch(body, |entry| {
        Some(HandleEntry {
            id: entry.id?,
            receipt_handle: entry.receipt_handle?,
            visibility_timeout: integer(entry.visibility_timeout),
        })
    })?;
    Some(HandleBatchRequest { queue_url, entries })
}

#[cfg(test)]
mod tests {
    //! The fast decoder against the general path (decode, validate, typed read).
    use super::*;
    use crate::protocol::typed::read;
    use crate::protocol::validate;
    use crate::protocol::value::Format;

    /// What the general path makes of `body`: the typed request, or its error code and message.
    fn general(action: &str, body: &str) -> Result<Decoded, (String, String)> {
        let model = crate::protocol::model::sqs();
        let fail = |e: crate::error::ApiError| (e.code.to_string(), e.message);
        let tree = validate::request(model, action, Format::Json, body.as_bytes()).map_err(fail)?;
        Ok(match action {
            "SendMessageBatch" => Decoded::SendBatch(read(&tree).map_err(fail)?),
            "ReceiveMessage" => Decoded::Receive(read(&tree).map_err(fail)?),
            _ => Decoded::DeleteBatch(read(&tree).map_err(fail)?),
        })
    }

    /// Every body the fast decoder reads, the general path reads to the same
    /// request; the bodies it declines include each kind the general path
    /// refuses or converts, and the usual ones are not declined.
    #[test]
    fn reads_as_the_general_path_or_declines() {
        let read_fast = [
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x\u00e9\n"},{"Id":"b","MessageBody":"y","DelaySeconds":3,"MessageGroupId":"g","MessageDeduplicationId":"d"}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[null,{"Id":"a","MessageBody":"x","MessageAttributes":null,"Unknown":[1,{"a":2}]}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","DelaySeconds":18446744073709551615}]}"#,
            ),
            ("SendMessageBatch", r#"{"QueueUrl":"u","Entries":[]}"#),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","MaxNumberOfMessages":10,"WaitTimeSeconds":1}"#,
            ),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","AttributeNames":["All","SentTimestamp","Policy"],"MessageSystemAttributeNames":["SenderId"],"MessageAttributeNames":["a.*"],"VisibilityTimeout":-5,"ReceiveRequestAttemptId":"r"}"#,
            ),
            (
                "DeleteMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","ReceiptHandle":"h"},null,{"Id":"b","ReceiptHandle":"i","VisibilityTimeout":4}]}"#,
            ),
        ];
        for (action, body) in read_fast {
            let fast = decode(action, body.as_bytes());
            assert!(fast.is_some(), "declined {body}");
            assert_eq!(fast.map(Ok), Some(general(action, body)), "{body}");
        }
        let declined = [
            ("SendMessageBatch", ""),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x"}]"#,
            ),
            ("SendMessageBatch", r#"{"QueueUrl":"u"}"#),
            ("SendMessageBatch", r#"{"QueueUrl":null,"Entries":[]}"#),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","QueueUrl":"v","Entries":[]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a"}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"MessageBody":"x"}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":1}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","DelaySeconds":2.5}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","DelaySeconds":1e2}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","DelaySeconds":"1"}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","DelaySeconds":99999999999999999999999}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","MessageAttributes":{}}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"x","MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"t"}}}]}"#,
            ),
            (
                "SendMessageBatch",
                r#"{"QueueUrl":"u","Entries":{"Id":"a"}}"#,
            ),
            ("SendMessageBatch", r#"["QueueUrl"]"#),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","AttributeNames":["Nope"]}"#,
            ),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","MessageSystemAttributeNames":["Policy"]}"#,
            ),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","MessageAttributeNames":[null]}"#,
            ),
            (
                "ReceiveMessage",
                r#"{"QueueUrl":"u","MaxNumberOfMessages":"10"}"#,
            ),
            ("ReceiveMessage", r#"{"MaxNumberOfMessages":10}"#),
            (
                "DeleteMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a"}]}"#,
            ),
            (
                "DeleteMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","ReceiptHandle":"h","VisibilityTimeout":"x"}]}"#,
            ),
            (
                "DeleteMessageBatch",
                r#"{"QueueUrl":"u","Entries":[{"Id":"a","ReceiptHandle":"h","Id":"b"}]}"#,
            ),
            ("DeleteMessageBatch", r#"{"QueueUrl":"u","Entries":null}"#),
        ];
        for (action, body) in declined {
            assert_eq!(decode(action, body.as_bytes()), None, "read {body}");
        }
        assert_eq!(
            decode("SendMessage", br#"{"QueueUrl":"u","MessageBody":"x"}"#),
            None
        );
    }
}
