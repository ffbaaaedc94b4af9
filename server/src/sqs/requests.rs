//! Typed requests of the SQS actions. Both protocols (JSON 1.0 and the query
//! protocol) decode into one tree that the model validates (types, required
//! members, enums), and each action reads that tree into its struct here
//! (`typed::read`). Members are named as the model names them; integers are
//! `i128` so that a value out of SQS's range reaches the action, which refuses it
//! in SQS's words, instead of failing to read.

use crate::protocol::wire::Blob;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The input of the actions that name only a queue: DeleteQueue, PurgeQueue,
/// ListQueueTags (and the queue of a SendMessage, whose message is a [`SendEntry`]).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct QueueRequest {
    /// The queue's URL (or its path alone).
    pub(crate) queue_url: String,
}

/// CreateQueue's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateQueueRequest {
    /// The new queue's name.
    pub(crate) queue_name: String,
    /// Queue attributes by SQS's names, values as text.
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, String>,
    /// Tags of the new queue (the model spells this member in lower case).
    #[serde(default, rename = "tags")]
    pub(crate) tags: BTreeMap<String, String>,
}

/// GetQueueUrl's input (QueueOwnerAWSAccountId is not read: one account).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueUrlRequest {
    /// The queue's name.
    pub(crate) queue_name: String,
}

/// ListQueues' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListQueuesRequest {
    /// Only queues whose name starts with this.
    pub(crate) queue_name_prefix: Option<String>,
    /// The previous page's token.
    pub(crate) next_token: Option<String>,
    /// Most URLs on a page (1 to 1000); without it, every URL up to 1000.
    pub(crate) max_results: Option<i128>,
}

/// ListDeadLetterSourceQueues' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListDeadLetterSourceQueuesRequest {
    /// The dead-letter queue.
    pub(crate) queue_url: String,
    /// The previous page's token.
    pub(crate) next_token: Option<String>,
    /// Most URLs on a page (1 to 1000).
    pub(crate) max_results: Option<i128>,
}

/// GetQueueAttributes' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetQueueAttributesRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The attributes wanted (`All` for every one); none when absent.
    #[serde(default)]
    pub(crate) attribute_names: Vec<String>,
}

/// SetQueueAttributes' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SetQueueAttributesRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// Attributes to change, by SQS's names, values as text.
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, String>,
}

/// TagQueue's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagQueueRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// Tags to set (replacing those of the same keys).
    #[serde(default)]
    pub(crate) tags: BTreeMap<String, String>,
}

/// UntagQueue's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UntagQueueRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// Keys of the tags to remove.
    #[serde(default)]
    pub(crate) tag_keys: Vec<String>,
}

/// AddPermission's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddPermissionRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The statement's label (its `Sid`).
    pub(crate) label: String,
    /// Accounts the statement allows.
    #[serde(default, rename = "AWSAccountIds")]
    pub(crate) aws_account_ids: Vec<String>,
    /// Actions it allows them (without the `SQS:` prefix).
    #[serde(default)]
    pub(crate) actions: Vec<String>,
}

/// RemovePermission's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemovePermissionRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The label of the statement to remove.
    pub(crate) label: String,
}

/// One message to send: SendMessage's message, or a SendMessageBatch entry
/// (which alone has an `Id`).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendEntry {
    /// The batch entry's id (required there by the model; absent in SendMessage).
    pub(crate) id: Option<String>,
    /// The body.
    pub(crate) message_body: String,
    /// Seconds before the message can be received (0 to 900).
    pub(crate) delay_seconds: Option<i128>,
    /// User attributes by name (the reader leaves null ones out, as SQS does).
    #[serde(default)]
    pub(crate) message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// System attributes by name: SQS knows AWSTraceHeader.
    #[serde(default)]
    pub(crate) message_system_attributes: BTreeMap<String, MessageAttributeValue>,
    /// A FIFO message's deduplication id.
    pub(crate) message_deduplication_id: Option<String>,
    /// A FIFO message's group.
    pub(crate) message_group_id: Option<String>,
}

/// `MessageAttributeValue` (and `MessageSystemAttributeValue`, the same shape).
/// The list values are modelled but reserved by SQS, so they are not read.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageAttributeValue {
    /// `String`, `Number` or `Binary`, with an optional `.suffix`.
    pub(crate) data_type: String,
    /// The value of a String or Number attribute.
    pub(crate) string_value: Option<String>,
    /// The value of a Binary attribute.
    pub(crate) binary_value: Option<Blob>,
}

/// SendMessageBatch's input.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SendMessageBatchRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The messages, 1 to 10 (a null one is refused where SQS checks entries).
    #[serde(default)]
    pub(crate) entries: Vec<Option<SendEntry>>,
}

/// ReceiveMessage's input.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReceiveMessageRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// System attributes wanted (the deprecated spelling).
    #[serde(default)]
    pub(crate) attribute_names: Vec<String>,
    /// System attributes wanted.
    #[serde(default)]
    pub(crate) message_system_attribute_names: Vec<String>,
    /// User attributes wanted: names, `prefix.*`, `All` or `.*`.
    #[serde(default)]
    pub(crate) message_attribute_names: Vec<String>,
    /// Most messages returned (1 to 10); default 1.
    pub(crate) max_number_of_messages: Option<i128>,
    /// How long the messages stay hidden (0 to 43,200 s); default the queue's.
    pub(crate) visibility_timeout: Option<i128>,
    /// How long to wait for a message (0 to 20 s); default the queue's.
    pub(crate) wait_time_seconds: Option<i128>,
    /// A FIFO receive's retry token.
    pub(crate) receive_request_attempt_id: Option<String>,
}

/// DeleteMessage's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteMessageRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The handle of the receive.
    pub(crate) receipt_handle: String,
}

/// A DeleteMessageBatch or ChangeMessageVisibilityBatch entry (the timeout is
/// ChangeMessageVisibilityBatch's; optional in the model, required by SQS).
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HandleEntry {
    /// The entry's id.
    pub(crate) id: String,
    /// The handle of the receive.
    pub(crate) receipt_handle: String,
    /// Seconds the message stays hidden from now (0 to 43,200).
    pub(crate) visibility_timeout: Option<i128>,
}

/// ChangeMessageVisibility's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ChangeMessageVisibilityRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The handle of the receive.
    pub(crate) receipt_handle: String,
    /// Seconds the message stays hidden from now (0 to 43,200).
    pub(crate) visibility_timeout: Option<i128>,
}

/// DeleteMessageBatch's and ChangeMessageVisibilityBatch's input.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HandleBatchRequest {
    /// The queue.
    pub(crate) queue_url: String,
    /// The entries, 1 to 10 (a null one is refused where SQS checks entries).
    #[serde(default)]
    pub(crate) entries: Vec<Option<HandleEntry>>,
}

/// StartMessageMoveTask's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StartMessageMoveTaskRequest {
    /// The dead-letter queue's ARN.
    pub(crate) source_arn: String,
    /// Where to move to; default each message's source queue.
    pub(crate) destination_arn: Option<String>,
    /// Messages moved per second (1 to 500); default as fast as possible.
    pub(crate) max_number_of_messages_per_second: Option<i128>,
}

/// ListMessageMoveTasks' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListMessageMoveTasksRequest {
    /// The dead-letter queue's ARN.
    pub(crate) source_arn: String,
    /// Most tasks listed (1 to 10); default 1.
    pub(crate) max_results: Option<i128>,
}

/// CancelMessageMoveTask's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CancelMessageMoveTaskRequest {
    /// The handle StartMessageMoveTask returned.
    pub(crate) task_handle: String,
}

#[cfg(test)]
mod tests {
    //! Query-protocol forms, decoded and validated as the server does, read into
    //! the typed requests: flattened lists and maps arrive as the model's shapes.
    use super::*;
    use crate::protocol::typed::read;
    use crate::sqs::query::decode;

    fn read_form<T: serde::de::DeserializeOwned>(form: &str) -> T {
        let (_, request) = decode(form.as_bytes(), "/").expect("valid");
        read(&request).expect("readable")
    }

    /// CreateQueue's `Attribute.N.Name/Value` and `Tag.N.Key/Value` become maps.
    #[test]
    fn create_queue_reads_attributes_and_tags() {
        let input: CreateQueueRequest = read_form(
            "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5\
             &Attribute.2.Name=VisibilityTimeout&Attribute.2.Value=60&Tag.1.Key=team&Tag.1.Value=x",
        );
        assert_eq!(input.queue_name, "q");
        let attributes = BTreeMap::from([
            ("DelaySeconds".to_string(), "5".to_string()),
            ("VisibilityTimeout".to_string(), "60".to_string()),
        ]);
        assert_eq!(input.attributes, attributes);
        assert_eq!(input.tags, BTreeMap::from([("team".into(), "x".into())]));
    }

    /// SendMessageBatch's entries keep their order, with their message
    /// attributes as a map and binary values decoded.
    #[test]
    fn send_batch_reads_entries_and_attributes() {
        let input: SendMessageBatchRequest = read_form(
            "Action=SendMessageBatch&QueueUrl=u\
             &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one\
             &SendMessageBatchRequestEntry.1.DelaySeconds=2\
             &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two\
             &SendMessageBatchRequestEntry.2.MessageAttribute.1.Name=k\
             &SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.DataType=Binary\
             &SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.BinaryValue=AAEC",
        );
        assert_eq!(input.queue_url, "u");
        let entries: Vec<SendEntry> = input.entries.into_iter().flatten().collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].id.as_deref(), Some("a"));
        assert_eq!(entries[0].message_body, "one");
        assert_eq!(entries[0].delay_seconds, Some(2));
        assert_eq!(entries[1].message_body, "two");
        let attribute = &entries[1].message_attributes["k"];
        assert_eq!(attribute.data_type, "Binary");
        assert_eq!(
            attribute
                .binary_value
                .as_ref()
                .map(|blob| blob.0.as_slice()),
            Some(&[0u8, 1, 2][..])
        );
    }

    /// AddPermission's `AWSAccountId.N` and `ActionName.N` become lists in order.
    #[test]
    fn add_permission_reads_lists() {
        let input: AddPermissionRequest = read_form(
            "Action=AddPermission&QueueUrl=u&Label=l&AWSAccountId.1=111122223333\
             &AWSAccountId.2=444455556666&ActionName.1=SendMessage&ActionName.2=ReceiveMessage",
        );
        assert_eq!(input.label, "l");
        assert_eq!(input.aws_account_ids, ["111122223333", "444455556666"]);
        assert_eq!(input.actions, ["SendMessage", "ReceiveMessage"]);
    }
}
