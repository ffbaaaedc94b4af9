//! Typed requests of the SNS actions, each read from the request after the query
//! codec has built it and validation against the model has checked it (types,
//! required members, lengths), so a handler sees its input as one struct. Members
//! are named as the model names them; members this server does not act on are not
//! read. The query protocol's maps (`Attributes.entry.N.key/value`,
//! `MessageAttributes.entry.N.Name/Value.*`) arrive here as maps.

use crate::protocol::wire::Blob;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// CreateTopic's input (its DataProtectionPolicy is not kept by this server).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTopicInput {
    /// The new topic's name.
    pub(super) name: String,
    /// Topic attributes to set, `FifoTopic` among them.
    #[serde(default)]
    pub(super) attributes: BTreeMap<String, String>,
    /// Tags to set on the new topic.
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

/// `Tag`: read by CreateTopic and TagResource, written by ListTagsForResource.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Tag {
    /// The tag's key.
    pub(super) key: String,
    /// The tag's value.
    pub(super) value: String,
}

/// The input of the actions that name one topic and nothing else (DeleteTopic,
/// GetTopicAttributes).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TopicArnInput {
    /// The topic.
    pub(super) topic_arn: String,
}

/// The input of ListTopics and ListSubscriptions: a page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PageInput {
    /// The previous page's token.
    pub(super) next_token: Option<String>,
}

/// SetTopicAttributes' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetTopicAttributesInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The attribute to set.
    pub(super) attribute_name: String,
    /// Its new value; empty when absent.
    pub(super) attribute_value: Option<String>,
}

/// TagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TagResourceInput {
    /// The topic.
    pub(super) resource_arn: String,
    /// Tags to add or replace.
    #[serde(default)]
    pub(super) tags: Vec<Tag>,
}

/// UntagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UntagResourceInput {
    /// The topic.
    pub(super) resource_arn: String,
    /// Keys of the tags to remove.
    #[serde(default)]
    pub(super) tag_keys: Vec<String>,
}

/// ListTagsForResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceArnInput {
    /// The topic.
    pub(super) resource_arn: String,
}

/// AddPermission's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AddPermissionInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The new policy statement's id.
    pub(super) label: String,
    /// Accounts the statement allows.
    #[serde(rename = "AWSAccountId", default)]
    pub(super) aws_account_id: Vec<String>,
    /// Actions the statement allows (without the `SNS:` prefix).
    #[serde(default)]
    pub(super) action_name: Vec<String>,
}

/// RemovePermission's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RemovePermissionInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The id of the policy statement to remove.
    pub(super) label: String,
}

/// Subscribe's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscribeInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// `sqs`, `firehose`, `http` or `https` (others are refused).
    pub(super) protocol: String,
    /// Where to deliver: a queue or delivery stream ARN, or a URL.
    pub(super) endpoint: Option<String>,
    /// Subscription attributes to set.
    #[serde(default)]
    pub(super) attributes: BTreeMap<String, String>,
    /// Answer with the ARN even while confirmation is pending.
    pub(super) return_subscription_arn: Option<bool>,
}

/// ConfirmSubscription's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ConfirmSubscriptionInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The token the SubscriptionConfirmation carried.
    pub(super) token: String,
    /// `true` (any case) asks that only signed calls may unsubscribe.
    pub(super) authenticate_on_unsubscribe: Option<String>,
}

/// The input of the actions that name one subscription and nothing else
/// (Unsubscribe, GetSubscriptionAttributes).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscriptionArnInput {
    /// The subscription.
    pub(super) subscription_arn: String,
}

/// ListSubscriptionsByTopic's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListSubscriptionsByTopicInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The previous page's token.
    pub(super) next_token: Option<String>,
}

/// SetSubscriptionAttributes' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SetSubscriptionAttributesInput {
    /// The subscription.
    pub(super) subscription_arn: String,
    /// The attribute to set.
    pub(super) attribute_name: String,
    /// Its new value; empty when absent.
    pub(super) attribute_value: Option<String>,
}

/// Publish's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishInput {
    /// The topic.
    pub(super) topic_arn: Option<String>,
    /// The topic, when TopicArn is absent.
    pub(super) target_arn: Option<String>,
    /// An SMS recipient (refused: no SMS here).
    pub(super) phone_number: Option<String>,
    /// The message.
    #[serde(flatten)]
    pub(super) message: MessageInput,
}

/// The members a Publish call and a PublishBatch entry share.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MessageInput {
    /// The message body.
    pub(super) message: String,
    /// The subject (email and envelope `Subject`).
    pub(super) subject: Option<String>,
    /// `json` when Message holds a body per protocol.
    pub(super) message_structure: Option<String>,
    /// Message attributes by name.
    #[serde(default)]
    pub(super) message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// A FIFO topic's deduplication id.
    pub(super) message_deduplication_id: Option<String>,
    /// A FIFO topic's message group.
    pub(super) message_group_id: Option<String>,
}

/// `MessageAttributeValue`. Validation does not reach into map values, so
/// DataType is optional here and its absence is refused by the handler.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MessageAttributeValue {
    /// `String`, `Number`, `Binary` (each with an optional `.suffix`) or `String.Array`.
    pub(super) data_type: Option<String>,
    /// The value of a String, Number or String.Array attribute.
    pub(super) string_value: Option<String>,
    /// The value of a Binary attribute.
    pub(super) binary_value: Option<Blob>,
}

/// PublishBatch's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishBatchInput {
    /// The topic.
    pub(super) topic_arn: String,
    /// The messages.
    #[serde(default)]
    pub(super) publish_batch_request_entries: Vec<PublishBatchRequestEntry>,
}

/// `PublishBatchRequestEntry`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishBatchRequestEntry {
    /// The entry's id in the answer.
    pub(super) id: String,
    /// The message.
    #[serde(flatten)]
    pub(super) message: MessageInput,
}

#[cfg(test)]
mod tests {
    //! Query-protocol forms, built and validated as the server does, read into
    //! the typed requests.
    use super::*;
    use crate::protocol::query::{build_request, validate, Form};
    use crate::sns::DIALECT;

    fn read<T: serde::de::DeserializeOwned>(action: &str, pairs: &[(&str, &str)]) -> T {
        let form: Form = pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        let request = build_request(&DIALECT, action, &form);
        let request = validate(&DIALECT, action, &request).expect("valid");
        crate::protocol::typed::read(&request).expect("readable")
    }

    /// Publish's message attributes arrive as a map: binary values decoded, a
    /// missing DataType left for the handler to refuse.
    #[test]
    fn publish_reads_message_attributes() {
        let input: PublishInput = read(
            "Publish",
            &[
                ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t"),
                ("Message", "hello"),
                ("Subject", "s"),
                ("MessageAttributes.entry.1.Name", "bin"),
                ("MessageAttributes.entry.1.Value.DataType", "Binary"),
                ("MessageAttributes.entry.1.Value.BinaryValue", "aGk="),
                ("MessageAttributes.entry.2.Name", "text"),
                ("MessageAttributes.entry.2.Value.StringValue", "x"),
            ],
        );
        assert_eq!(
            input.topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:000000000000:t")
        );
        assert!(input.target_arn.is_none() && input.phone_number.is_none());
        assert_eq!(input.message.message, "hello");
        assert_eq!(input.message.subject.as_deref(), Some("s"));
        let attributes = &input.message.message_attributes;
        assert_eq!(attributes["bin"].data_type.as_deref(), Some("Binary"));
        assert_eq!(attributes["bin"].binary_value, Some(Blob(b"hi".to_vec())));
        assert!(attributes["text"].data_type.is_none());
        assert_eq!(attributes["text"].string_value.as_deref(), Some("x"));
    }

    /// PublishBatch entries keep their order, ids and per-entry members.
    #[test]
    fn publish_batch_reads_entries_in_order() {
        let entry = "PublishBatchRequestEntries.member";
        let input: PublishBatchInput = read(
            "PublishBatch",
            &[
                ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t.fifo"),
                (&format!("{entry}.1.Id"), "b"),
                (&format!("{entry}.1.Message"), "one"),
                (&format!("{entry}.1.MessageGroupId"), "g"),
                (&format!("{entry}.2.Id"), "a"),
                (&format!("{entry}.2.Message"), "two"),
                (&format!("{entry}.2.MessageAttributes.entry.1.Name"), "n"),
                (
                    &format!("{entry}.2.MessageAttributes.entry.1.Value.DataType"),
                    "Number",
                ),
                (
                    &format!("{entry}.2.MessageAttributes.entry.1.Value.StringValue"),
                    "7",
                ),
            ],
        );
        let entries = &input.publish_batch_request_entries;
        let ids: Vec<&str> = entries.iter().map(|entry| entry.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(entries[0].message.message_group_id.as_deref(), Some("g"));
        assert!(entries[0].message.message_attributes.is_empty());
        let number = &entries[1].message.message_attributes["n"];
        assert_eq!(number.string_value.as_deref(), Some("7"));
    }

    /// Attribute maps, tag lists and the model's `AWSAccountId` spelling read by
    /// their model names.
    #[test]
    fn maps_lists_and_model_names() {
        let create: CreateTopicInput = read(
            "CreateTopic",
            &[
                ("Name", "t"),
                ("Attributes.entry.1.key", "DisplayName"),
                ("Attributes.entry.1.value", "shown"),
                ("Tags.member.1.Key", "k"),
                ("Tags.member.1.Value", "v"),
            ],
        );
        assert_eq!(create.attributes["DisplayName"], "shown");
        assert_eq!(
            (create.tags[0].key.as_str(), create.tags[0].value.as_str()),
            ("k", "v")
        );
        let permission: AddPermissionInput = read(
            "AddPermission",
            &[
                ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t"),
                ("Label", "l"),
                ("AWSAccountId.member.1", "111122223333"),
                ("ActionName.member.1", "Publish"),
                ("ActionName.member.2", "Subscribe"),
            ],
        );
        assert_eq!(permission.aws_account_id, ["111122223333"]);
        assert_eq!(permission.action_name, ["Publish", "Subscribe"]);
        let subscribe: SubscribeInput = read(
            "Subscribe",
            &[
                ("TopicArn", "arn:aws:sns:us-east-1:000000000000:t"),
                ("Protocol", "sqs"),
                ("ReturnSubscriptionArn", "TRUE"),
            ],
        );
        assert_eq!(subscribe.return_subscription_arn, Some(true));
        assert!(subscribe.endpoint.is_none() && subscribe.attributes.is_empty());
    }
}
