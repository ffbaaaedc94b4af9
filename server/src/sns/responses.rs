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

#[cfg(test)]
mod tests {
    //! Typed responses written as SNS's XML by the query codec.
    use super::*;
    use crate::protocol::query::encode;
    use crate::protocol::typed::respond;
    use crate::sns::DIALECT;

    fn written<T: Serialize>(action: &str, response: &T) -> String {
        let tree = respond(response).expect("encodable");
        String::from_utf8(encode(&DIALECT, action, &tree, "r")).expect("UTF-8")
    }

    /// PublishBatch writes both lists as `member` items, optional members only
    /// when present and SenderFault as `true`.
    #[test]
    fn publish_batch_lists_and_optional_members() {
        let output = PublishBatchOutput {
            successful: vec![PublishBatchResultEntry {
                id: "a".into(),
                message_id: "m".into(),
                sequence_number: None,
            }],
            failed: vec![BatchResultErrorEntry {
                id: "b".into(),
                code: "InvalidParameter",
                message: "Invalid parameter: Subject".into(),
                sender_fault: true,
            }],
        };
        let xml = written("PublishBatch", &output);
        assert!(
            xml.contains(
                "<Successful><member><Id>a</Id><MessageId>m</MessageId></member></Successful>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<Failed><member><Id>b</Id><Code>InvalidParameter</Code><Message>Invalid parameter: Subject</Message><SenderFault>true</SenderFault></member></Failed>"),
            "{xml}"
        );
    }

    /// An empty page still writes its list; an absent NextToken is left out;
    /// attribute maps are `entry` elements with `key` and `value`.
    #[test]
    fn empty_lists_and_attribute_maps() {
        let page = ListTopicsOutput {
            topics: Vec::new(),
            next_token: None,
        };
        let xml = written("ListTopics", &page);
        assert!(
            xml.contains("<ListTopicsResult><Topics></Topics></ListTopicsResult>"),
            "{xml}"
        );
        let attributes = AttributesOutput {
            attributes: BTreeMap::from([("Owner".to_string(), "0".to_string())]),
        };
        let xml = written("GetTopicAttributes", &attributes);
        assert!(
            xml.contains(
                "<Attributes><entry><key>Owner</key><value>0</value></entry></Attributes>"
            ),
            "{xml}"
        );
    }
}
