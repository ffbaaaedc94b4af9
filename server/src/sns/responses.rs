//! Typed responses of the SNS actions, turned into the tree the query codec writes
//! as XML (`protocol::typed::respond`). Members are named as the model names them;
//! absent optional members are left out, as SNS leaves them out. Lists are always
//! written, empty or not, as SNS writes them.

use serde::Serialize;
use std::collections::BTreeMap;

/// The output of actions that answer with no members.
#[derive(Debug, Serialize)]
pub(super) struct NoOutput {}

/// CreateTopic's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateTopicOutput {
    /// The topic's ARN.
    pub(super) topic_arn: String,
}

/// ListTopics' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTopicsOutput {
    /// This page's topics.
    pub(super) topics: Vec<TopicOut>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_token: Option<String>,
}

/// `Topic`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct TopicOut {
    /// The topic's ARN.
    pub(super) topic_arn: String,
}

/// The output of GetTopicAttributes and GetSubscriptionAttributes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AttributesOutput {
    /// Every attribute by name.
    pub(super) attributes: BTreeMap<String, String>,
}

/// ListTagsForResource's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListTagsOutput {
    /// The topic's tags, by key.
    pub(super) tags: Vec<super::requests::Tag>,
}

/// The output of Subscribe and ConfirmSubscription.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscriptionArnOutput {
    /// The subscription's ARN (Subscribe: `pending confirmation` while it is).
    pub(super) subscription_arn: String,
}

/// The output of ListSubscriptions and ListSubscriptionsByTopic.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ListSubscriptionsOutput {
    /// This page's subscriptions.
    pub(super) subscriptions: Vec<SubscriptionOut>,
    /// The next page's token, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_token: Option<String>,
}

/// `Subscription`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SubscriptionOut {
    /// Its ARN, or `PendingConfirmation`.
    pub(super) subscription_arn: String,
    /// The owning account.
    pub(super) owner: String,
    /// `sqs`, `firehose`, `http` or `https`.
    pub(super) protocol: String,
    /// Where it delivers.
    pub(super) endpoint: String,
    /// Its topic's ARN.
    pub(super) topic_arn: String,
}

/// Publish's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishOutput {
    /// The message's id.
    pub(super) message_id: String,
    /// A FIFO topic's sequence number (20 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sequence_number: Option<String>,
}

/// PublishBatch's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishBatchOutput {
    /// The entries published.
    pub(super) successful: Vec<PublishBatchResultEntry>,
    /// The entries refused.
    pub(super) failed: Vec<BatchResultErrorEntry>,
}

/// `PublishBatchResultEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PublishBatchResultEntry {
    /// The entry's id in the request.
    pub(super) id: String,
    /// The message's id.
    pub(super) message_id: String,
    /// A FIFO topic's sequence number (20 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) sequence_number: Option<String>,
}

/// `BatchResultErrorEntry`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchResultErrorEntry {
    /// The entry's id in the request.
    pub(super) id: String,
    /// The error code.
    pub(super) code: &'static str,
    /// The error message.
    pub(super) message: String,
    /// Always true: every refusal is the caller's.
    pub(super) sender_fault: bool,
}
