//! The SNS API over `shardlog-topic`: the query protocol (form-encoded POSTs,
//! XML answers in the 2010-03-31 namespace), topics, subscriptions, publish, and
//! the sinks that deliver to queues, delivery streams and HTTP(S) endpoints.
//! SNS wording (error codes, attribute names, ARNs, the notification envelope)
//! lives in this module.

mod actions;
mod envelope;
pub mod error;
mod http;
mod publish;
mod requests;
mod responses;
pub(crate) mod signing;
mod sinks;
mod subscriptions;

pub use error::SnsError;
pub(crate) use http::{is_sns_request, is_unsigned_form, respond, respond_to_unsigned_form};

use crate::protocol::query::Dialect;
use shardlog_topic::{Protocol, Published, SubscriptionRecord, Topics, TopicsConfig};
use std::path::Path;
use std::sync::Arc;

/// SNS's spelling: lists wrapped in `member`, maps in `entry` with `key` and
/// `value` (message attributes: `Name` and `Value`).
pub static DIALECT: Dialect = Dialect {
    model: crate::protocol::model::sns,
    namespace: "http://sns.amazonaws.com/doc/2010-03-31/",
    list_item: Some("member"),
    map_entry: Some("entry"),
    element_name: |_, member, _| member,
    entry_names: |member| match member {
        "MessageAttributes" => ("Name", "Value"),
        _ => ("key", "value"),
    },
};

/// The SNS service: the topics of a data directory and what they deliver to.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sns {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    topics: Topics,
    names: Names,
    sinks: Arc<sinks::Sinks>,
    /// Topics quarantined at open, for `/metrics`.
    quarantined: Vec<String>,
}

/// What ARNs and URLs are built from.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub region: String,
    pub account_id: String,
    /// The URL this server is reached at (`http://127.0.0.1:4566`), for the
    /// SubscribeURL and UnsubscribeURL of notifications.
    pub public_url: String,
}

impl Names {
    /// `arn:aws:sns:<region>:<account>:<topic>`.
    pub fn topic_arn(&self, topic: &str) -> String {
        format!("arn:aws:sns:{}:{}:{topic}", self.region, self.account_id)
    }

    /// `<topic ARN>:<subscription id>`.
    pub fn subscription_arn(&self, topic: &str, id: &str) -> String {
        format!("{}:{id}", self.topic_arn(topic))
    }

    /// The topic name of a topic ARN of this region and account.
    pub fn topic_of_arn<'a>(&self, arn: &'a str) -> Result<&'a str, TopicArnError> {
        let prefix = format!("arn:aws:sns:{}:{}:", self.region, self.account_id);
        match arn.strip_prefix(&prefix) {
            Some(name) if !name.is_empty() && !name.contains(':') => Ok(name),
            _ if arn.starts_with("arn:aws:sns:") && arn.split(':').count() == 6 => {
                Err(TopicArnError::NotFound)
            }
            _ => Err(TopicArnError::Invalid {
                arn: arn.to_string(),
            }),
        }
    }

    /// The subscription id of a subscription ARN.
    pub fn subscription_of_arn<'a>(&self, arn: &'a str) -> Result<&'a str, SnsError> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", "aws", "sns", _, _, _, id] if !id.is_empty() => Ok(id),
            _ => Err(SnsError::invalid("SubscriptionArn")),
        }
    }

    /// The name of a queue of this server from its ARN.
    pub fn queue_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!("arn:aws:sqs:{}:{}:", self.region, self.account_id);
        arn.strip_prefix(&prefix).filter(|name| !name.is_empty())
    }

    /// The name of a delivery stream of this server from its ARN.
    pub fn delivery_stream_of_arn<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let prefix = format!(
            "arn:aws:firehose:{}:{}:deliverystream/",
            self.region, self.account_id
        );
        arn.strip_prefix(&prefix).filter(|name| !name.is_empty())
    }
}

/// Why a topic ARN names no topic of this server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicArnError {
    /// A well-formed topic ARN of another region or account: no such topic here.
    NotFound,
    /// Not a topic ARN.
    Invalid {
        /// The ARN as given.
        arn: String,
    },
}

impl From<TopicArnError> for SnsError {
    fn from(error: TopicArnError) -> Self {
        match error {
            TopicArnError::NotFound => SnsError::new("NotFound", "Topic does not exist"),
            TopicArnError::Invalid { arn } => {
                SnsError::invalid(format!("TopicArn Reason: {arn} is not a valid topic ARN"))
            }
        }
    }
}

impl Sns {
    /// Opens the topics in `root` on `storage` (shared with the engine: one group
    /// commit) and starts delivering to `sqs`'s queues, `firehose`'s delivery
    /// streams and HTTP(S) endpoints. ARNs name `region` and `account_id`;
    /// notifications link back to `public_url`. Notifications are signed with
    /// the key in `sns-signing/` beside `root` (made when first needed).
    pub fn open(
        storage: shardlog_segment::Storage,
        root: &Path,
        names: (&str, &str, &str),
        sqs: Option<crate::sqs::Sqs>,
        firehose: Option<shardlog_firehose::Firehose>,
    ) -> Result<Sns, String> {
        let (region, account_id, public_url) = names;
        let names = Names {
            region: region.to_string(),
            account_id: account_id.to_string(),
            public_url: public_url.trim_end_matches('/').to_string(),
        };
        // Beside the topics directory, not in it: the topics' MANIFEST accounts
        // for every entry of that one.
        let signing_dir = root.parent().unwrap_or(root).join("sns-signing");
        let signer = signing::LazySigner::new(Arc::clone(storage.fs()), signing_dir);
        let sink = Arc::new(sinks::Sinks::new(names.clone(), signer, sqs, firehose));
        let (topics, report) = Topics::open(storage, root, TopicsConfig::default(), sink.clone())
            .map_err(|error| {
            format!("cannot open the topics in {}: {error}", root.display())
        })?;
        if !report.unknown_entries.is_empty() {
            tracing::warn!(entries = ?report.unknown_entries, "topic directories the MANIFEST does not list were left alone");
        }
        let quarantined = report
            .quarantined
            .into_iter()
            .map(|(topic, _)| topic.to_string())
            .collect();
        if !topics.list_topics().is_empty() {
            sink.prepare_signer();
        }
        Ok(Sns {
            inner: Arc::new(Inner {
                topics,
                names,
                sinks: sink,
                quarantined,
            }),
        })
    }

    /// Stops delivery and closes every topic (syncing its log). Call before the
    /// engine's shutdown, which shuts the shared storage down.
    pub fn shutdown(&self) -> Result<(), String> {
        self.inner
            .topics
            .close()
            .map_err(|error| format!("closing the topics: {error}"))
    }

    /// Topics quarantined at open (their files could not be read), by name.
    pub(crate) fn quarantined_topics(&self) -> &[String] {
        &self.inner.quarantined
    }

    pub(crate) fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    pub(crate) fn names(&self) -> &Names {
        &self.inner.names
    }

    pub(super) fn sinks(&self) -> Arc<sinks::Sinks> {
        Arc::clone(&self.inner.sinks)
    }

    /// Signs the notifications that the standard topic's new `messages` are to
    /// be delivered in (enveloped, to the subscriptions whose filters they pass),
    /// one signature per message and protocol, on the publishing request's
    /// thread while their append syncs: the signer keeps them for the
    /// deliveries, which then do not make the topic's one queue delivery thread
    /// sign each message in turn. A failure is left to the delivery, which signs
    /// again; so is everything while the signing key is not open yet.
    pub(super) fn presign(&self, topic: &shardlog_topic::Topic, messages: &[Published]) {
        let mut wanted: Vec<(usize, Protocol)> = Vec::new();
        let enveloped = |subscription: &SubscriptionRecord| !sinks::is_raw(subscription);
        topic.visit_deliveries(messages, enveloped, |subscription, k| {
            let wants = (k, subscription.endpoint.protocol);
            if !wanted.contains(&wants) {
                wanted.push(wants);
            }
        });
        if wanted.is_empty() {
            return;
        }
        // Not while the key is being made (the first time, 0.1 to 0.6 s): the
        // publish would wait for it; its deliveries do instead.
        let sinks = &self.inner.sinks;
        let Some(signing) = topic.with_attributes(|attributes| sinks.signing_if_ready(attributes))
        else {
            return;
        };
        let topic = topic.name().as_str();
        for (k, protocol) in wanted {
            let protocol = sinks::protocol_name(protocol);
            let _ = envelope::sign_notification(
                &self.inner.names,
                &signing,
                topic,
                protocol,
                &messages[k],
            );
        }
    }
}

/// Runs `action` on its validated request; `via_link` when it came as an
/// unsigned GET link (a notification's SubscribeURL or UnsubscribeURL).
pub(crate) fn dispatch(
    sns: &Sns,
    action: &str,
    request: &crate::protocol::value::Value,
    via_link: bool,
) -> Result<crate::protocol::value::Value, SnsError> {
    if let Some(response) = actions::run(sns, action, request)? {
        return Ok(response);
    }
    if let Some(response) = subscriptions::run(sns, action, request, via_link)? {
        return Ok(response);
    }
    if let Some(response) = publish::run(sns, action, request)? {
        return Ok(response);
    }
    if crate::protocol::model::sns().operation(action).is_some() {
        return Err(SnsError::new(
            "InvalidAction",
            format!("{action} is not supported by this server."),
        ));
    }
    Err(SnsError::new(
        "InvalidAction",
        format!("Unknown action {action}."),
    ))
}
