//! Typed responses of the SQS actions, turned into the tree that both writers
//! take (`typed::respond`): the JSON 1.0 codec and the query protocol's XML,
//! which orders and names members by the model. Members are named as the model
//! names them; absent optional members are left out, as SQS leaves them out.

use crate::protocol::wire::Blob;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The output of actions that answer with no members.
#[derive(Debug, Serialize)]
pub(crate) struct NoOutput {}

/// CreateQueue's and GetQueueUrl's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueueUrlResponse {
    /// The queue's URL.
    pub(crate) queue_url: String,
}

/// ListQueues' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueuesResponse {
    /// The page's URLs; left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) queue_urls: Vec<String>,
    /// The next page's token, when more follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

/// ListDeadLetterSourceQueues' output.
#[derive(Debug, Serialize)]
pub(crate) struct ListDeadLetterSourceQueuesResponse {
    /// The page's URLs; always present (the model requires it, and spells it so).
    #[serde(rename = "queueUrls")]
    pub(crate) queue_urls: Vec<String>,
    /// The next page's token, when more follow.
    #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
    pub(crate) next_token: Option<String>,
}

/// GetQueueAttributes' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueAttributesResponse {
    /// The attributes asked for, values as text; left out when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) attributes: BTreeMap<String, String>,
}

/// ListQueueTags' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueueTagsResponse {
    /// The queue's tags; left out when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) tags: BTreeMap<String, String>,
}

/// SendMessage's output, and (with `Id`) a SendMessageBatch result entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SentMessage {
    /// The batch entry's id; SendMessage has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// The new message's id.
    pub(crate) message_id: String,
    /// Hex MD5 of the body.
    #[serde(rename = "MD5OfMessageBody")]
    pub(crate) md5_of_message_body: String,
    /// Hex MD5 of the user attributes, when there are any.
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) md5_of_message_attributes: Option<String>,
    /// Hex MD5 of the system attributes, when there are any.
    #[serde(
        rename = "MD5OfMessageSystemAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) md5_of_message_system_attributes: Option<String>,
    /// A FIFO message's sequence number (20 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sequence_number: Option<String>,
}

/// `BatchResultErrorEntry`: a batch entry that failed alone.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchResultErrorEntry {
    /// The entry's id.
    pub(crate) id: String,
    /// Whether the caller is at fault.
    pub(crate) sender_fault: bool,
    /// The query protocol's error code.
    pub(crate) code: &'static str,
    /// Why.
    pub(crate) message: String,
}

/// A DeleteMessageBatch or ChangeMessageVisibilityBatch result entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchResultEntry {
    /// The entry's id.
    pub(crate) id: String,
}

/// The output of the batch actions: both lists, always present.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BatchResponse<T> {
    /// The entries that succeeded, in request order.
    pub(crate) successful: Vec<T>,
    /// The entries that failed, in the order they failed.
    pub(crate) failed: Vec<BatchResultErrorEntry>,
}

/// ReceiveMessage's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiveMessageResponse<'a> {
    /// The messages; left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) messages: Vec<Message<'a>>,
}

/// A received `Message`: its body and attribute values borrow from the queue's
/// copy of the message, so that the body is copied once, into the answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Message<'a> {
    /// The message's id.
    pub(crate) message_id: String,
    /// The handle of this receive.
    pub(crate) receipt_handle: String,
    /// Hex MD5 of the body.
    #[serde(rename = "MD5OfBody")]
    pub(crate) md5_of_body: String,
    /// The body (lossy where it is not UTF-8).
    pub(crate) body: Cow<'a, str>,
    /// The system attributes asked for; left out when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) attributes: BTreeMap<&'static str, String>,
    /// Hex MD5 of the user attributes returned, when there are any.
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) md5_of_message_attributes: Option<String>,
    /// The user attributes asked for; left out when there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) message_attributes: BTreeMap<&'a str, MessageAttributeValue<'a>>,
}

/// A returned `MessageAttributeValue`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageAttributeValue<'a> {
    /// The attribute's data type as sent.
    pub(crate) data_type: &'a str,
    /// A String or Number attribute's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) string_value: Option<&'a str>,
    /// A Binary attribute's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) binary_value: Option<Blob<&'a [u8]>>,
}

/// StartMessageMoveTask's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartMessageMoveTaskResponse {
    /// The handle that names the task to CancelMessageMoveTask.
    pub(crate) task_handle: String,
}

/// ListMessageMoveTasks' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMessageMoveTasksResponse {
    /// The source's tasks, newest first; always present.
    pub(crate) results: Vec<MoveTaskEntry>,
}

/// A `ListMessageMoveTasksResultEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MoveTaskEntry {
    /// The handle of a running task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) task_handle: Option<String>,
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED.
    pub(crate) status: &'static str,
    /// The dead-letter queue's ARN.
    pub(crate) source_arn: String,
    /// The destination's ARN, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) destination_arn: Option<String>,
    /// The rate asked for, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_number_of_messages_per_second: Option<u32>,
    /// Messages moved so far.
    pub(crate) approximate_number_of_messages_moved: u64,
    /// Messages the task set out to move.
    pub(crate) approximate_number_of_messages_to_move: u64,
    /// Why a failed task failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) failure_reason: Option<String>,
    /// When the task started, ms since the epoch.
    pub(crate) started_timestamp: u64,
}

/// CancelMessageMoveTask's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CancelMessageMoveTaskResponse {
    /// Messages moved before the task stopped.
    pub(crate) approximate_number_of_messages_moved: u64,
}

/// A JSON 1.0 error body.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    /// `com.amazonaws.sqs#<Shape>`.
    #[serde(rename = "__type")]
    pub(crate) kind: String,
    /// The message.
    pub(crate) message: &'a str,
}
