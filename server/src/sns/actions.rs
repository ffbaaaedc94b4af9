//! Topic actions: create, delete, list, attributes, tags and permissions.

use super::requests::{
    AddPermissionInput, CreateTopicInput, PageInput, RemovePermissionInput, ResourceArnInput,
    SetTopicAttributesInput, Tag, TagResourceInput, TopicArnInput, UntagResourceInput,
};
use super::responses::{
    AttributesOutput, CreateTopicOutput, ListTagsOutput, ListTopicsOutput, NoOutput, TopicOut,
};
use super::{Names, Sns, SnsError, TopicArnError};
use crate::protocol::typed::{read, respond};
use crate::protocol::value::Value;
use shardlog_topic::{Error as TopicError, TopicAttributes, TopicName};
use std::collections::BTreeMap;

type Response = Result<Value, SnsError>;

/// Topics per ListTopics page, as SNS.
const LIST_PAGE: usize = 100;

/// Topic attributes a client may set and that this server keeps as given.
const KEPT_ATTRIBUTES: [&str; 4] = ["DisplayName", "Policy", "SignatureVersion", "TracingConfig"];

/// Runs a topic action on its request read into the action's typed input;
/// `Ok(None)` if `action` is not one.
pub(super) fn run(sns: &Sns, action: &str, request: &Value) -> Result<Option<Value>, SnsError> {
    let result = match action {
        "CreateTopic" => create_topic(sns, read(request)?),
        "DeleteTopic" => delete_topic(sns, read(request)?),
        "ListTopics" => list_topics(sns, read(request)?),
        "GetTopicAttributes" => get_topic_attributes(sns, read(request)?),
        "SetTopicAttributes" => set_topic_attributes(sns, read(request)?),
        "TagResource" => tag_resource(sns, read(request)?),
        "UntagResource" => untag_resource(sns, read(request)?),
        "ListTagsForResource" => list_tags(sns, read(request)?),
        "AddPermission" => add_permission(sns, read(request)?),
        "RemovePermission" => remove_permission(sns, read(request)?),
        _ => return Ok(None),
    };
    result.map(Some)
}

/// Tagging actions answer a missing topic with ResourceNotFound, not NotFound.
fn resource_not_found() -> SnsError {
    SnsError::new("ResourceNotFound", "Resource does not exist")
}

/// A tagging action's failure on its topic: a missing one is ResourceNotFound.
fn tagging_error(error: TopicError) -> SnsError {
    match error {
        TopicError::TopicNotFound { .. } | TopicError::SubscriptionNotFound { .. } => {
            resource_not_found()
        }
        other => other.into(),
    }
}

fn create_topic(sns: &Sns, request: CreateTopicInput) -> Response {
    let invalid_name = || SnsError::invalid("Topic Name");
    let name = TopicName::new(&request.name).map_err(|_| invalid_name())?;
    let mut requested = request.attributes;
    let fifo_attribute = requested.remove("FifoTopic");
    let fifo = match fifo_attribute.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(SnsError::invalid(format!(
                "Attributes Reason: FifoTopic: {other} is not a boolean"
            )))
        }
    };
    if fifo != name.is_fifo() {
        return Err(SnsError::invalid(
            "Topic Name Reason: Fifo Topic names must end with .fifo and Standard Topic cannot end with .fifo",
        ));
    }
    let mut attributes = TopicAttributes::default();
    for (key, value) in requested {
        apply_attribute(&mut attributes, &name, &key, &value)?;
    }
    sns.topics()
        .create_topic(&name, attributes, tags_of(request.tags))?;
    // Its notifications will be signed: the key is made meanwhile.
    sns.sinks().prepare_signer();
    let topic_arn = sns.names().topic_arn(name.as_str());
    Ok(respond(&CreateTopicOutput { topic_arn })?)
}

fn delete_topic(sns: &Sns, request: TopicArnInput) -> Response {
    let name = sns.names().topic_of_arn(&request.topic_arn)?;
    sns.topics().delete_topic(name)?;
    Ok(respond(&NoOutput {})?)
}

/// Sets one attribute, checking its name and value.
fn apply_attribute(
    attributes: &mut TopicAttributes,
    topic: &TopicName,
    key: &str,
    value: &str,
) -> Result<(), SnsError> {
    match key {
        "ContentBasedDeduplication" => {
            if !topic.is_fifo() {
                return Err(SnsError::invalid(
                    "Attributes Reason: Content-based deduplication can only be set for FIFO topics",
                ));
            }
            attributes.content_based_deduplication = parse_bool(key, value)?;
        }
        "DeliveryPolicy" => {
            shardlog_topic::retry::DeliveryPolicy::parse_topic(value)
                .map_err(|error| SnsError::invalid(format!("DeliveryPolicy: {error}")))?;
            attributes.delivery_policy = Some(value.to_string());
        }
        "SignatureVersion" if !matches!(value, "1" | "2") => {
            return Err(SnsError::invalid(
                "Attributes Reason: SignatureVersion must be 1 or 2",
            ))
        }
        "Policy" if serde_json::from_str::<serde_json::Value>(value).is_err() => {
            return Err(SnsError::invalid("Policy Error: null"))
        }
        _ if KEPT_ATTRIBUTES.contains(&key) => {
            attributes.kept.insert(key.to_string(), value.to_string());
        }
        _ => {
            return Err(SnsError::invalid(format!(
                "AttributeName Reason: {key} is unknown or not supported by this server"
            )))
        }
    }
    Ok(())
}

pub(super) fn parse_bool(key: &str, value: &str) -> Result<bool, SnsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SnsError::invalid(format!(
            "Attributes Reason: {key}: invalid value [{value}]. Must be true or false."
        ))),
    }
}

/// Tags by key (a later duplicate key wins).
fn tags_of(tags: Vec<Tag>) -> BTreeMap<String, String> {
    tags.into_iter().map(|tag| (tag.key, tag.value)).collect()
}

fn list_topics(sns: &Sns, request: PageInput) -> Response {
    let after = request.next_token.as_deref();
    let names = sns.topics().list_topics();
    let rest: Vec<&TopicName> = names
        .iter()
        .filter(|name| after.is_none_or(|after| name.as_str() > after))
        .collect();
    let page = &rest[..LIST_PAGE.min(rest.len())];
    let topics = page
        .iter()
        .map(|name| TopicOut {
            topic_arn: sns.names().topic_arn(name.as_str()),
        })
        .collect();
    let next_token = (rest.len() > page.len())
        .then(|| page.last().map(|name| name.to_string()))
        .flatten();
    Ok(respond(&ListTopicsOutput { topics, next_token })?)
}

/// The policy SNS gives a new topic: the owner may do everything.
fn default_policy(names: &Names, topic: &str) -> String {
    let arn = names.topic_arn(topic);
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": names.account_id}},
        }],
    })
    .to_string()
}

fn get_topic_attributes(sns: &Sns, request: TopicArnInput) -> Response {
    let name = sns.names().topic_of_arn(&request.topic_arn)?;
    let info = sns.topics().describe(name)?;
    let names = sns.names();
    let mut attributes = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        attributes.insert(key.to_string(), value);
    };
    put("TopicArn", names.topic_arn(name));
    put("Owner", names.account_id.clone());
    put("Policy", default_policy(names, name));
    put("DisplayName", String::new());
    put("SubscriptionsConfirmed", info.confirmed.to_string());
    put("SubscriptionsPending", info.pending.to_string());
    put("SubscriptionsDeleted", "0".into());
    if let Some(policy) = &info.attributes.delivery_policy {
        put("DeliveryPolicy", policy.clone());
    }
    put(
        "EffectiveDeliveryPolicy",
        info.attributes
            .delivery_policy
            .clone()
            .unwrap_or_else(|| super::sinks::EFFECTIVE_DELIVERY_POLICY.to_string()),
    );
    if info.name.is_fifo() {
        put("FifoTopic", "true".into());
        put(
            "ContentBasedDeduplication",
            info.attributes.content_based_deduplication.to_string(),
        );
    }
    for (key, value) in info.attributes.kept {
        put(&key, value);
    }
    Ok(respond(&AttributesOutput { attributes })?)
}

fn set_topic_attributes(sns: &Sns, request: SetTopicAttributesInput) -> Response {
    let name = TopicName::new(sns.names().topic_of_arn(&request.topic_arn)?)
        .map_err(|_| SnsError::from(TopicArnError::NotFound))?;
    let key = request.attribute_name.as_str();
    let value = request.attribute_value.as_deref().unwrap_or("");
    let mut checked = Ok(());
    sns.topics().update_topic(name.as_str(), |attributes| {
        checked = apply_attribute(attributes, &name, key, value);
        Ok(())
    })?;
    checked?;
    Ok(respond(&NoOutput {})?)
}

/// The topic a tagging action names: a missing one is ResourceNotFound.
fn tagged_topic<'a>(sns: &Sns, resource_arn: &'a str) -> Result<&'a str, SnsError> {
    sns.names()
        .topic_of_arn(resource_arn)
        .map_err(|error| match error {
            TopicArnError::NotFound => resource_not_found(),
            invalid @ TopicArnError::Invalid { .. } => invalid.into(),
        })
}

fn tag_resource(sns: &Sns, request: TagResourceInput) -> Response {
    let name = tagged_topic(sns, &request.resource_arn)?;
    sns.topics()
        .tag_topic(name, &tags_of(request.tags))
        .map_err(tagging_error)?;
    Ok(respond(&NoOutput {})?)
}

fn untag_resource(sns: &Sns, request: UntagResourceInput) -> Response {
    let name = tagged_topic(sns, &request.resource_arn)?;
    sns.topics()
        .untag_topic(name, &request.tag_keys)
        .map_err(tagging_error)?;
    Ok(respond(&NoOutput {})?)
}

fn list_tags(sns: &Sns, request: ResourceArnInput) -> Response {
    let name = tagged_topic(sns, &request.resource_arn)?;
    let info = sns.topics().describe(name).map_err(tagging_error)?;
    let tags = info
        .tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    Ok(respond(&ListTagsOutput { tags })?)
}

/// The topic's policy document (its own, or the default one).
fn policy_of(sns: &Sns, name: &str) -> Result<serde_json::Value, SnsError> {
    let info = sns.topics().describe(name)?;
    let text = info
        .attributes
        .kept
        .get("Policy")
        .cloned()
        .unwrap_or_else(|| default_policy(sns.names(), name));
    serde_json::from_str(&text).map_err(|_| SnsError::invalid("Policy"))
}

fn store_policy(sns: &Sns, name: &str, policy: &serde_json::Value) -> Result<(), SnsError> {
    let text = policy.to_string();
    sns.topics().update_topic(name, |attributes| {
        attributes.kept.insert("Policy".into(), text);
        Ok(())
    })?;
    Ok(())
}

fn statements(policy: &mut serde_json::Value) -> &mut Vec<serde_json::Value> {
    if !policy["Statement"].is_array() {
        policy["Statement"] = serde_json::Value::Array(Vec::new());
    }
    policy["Statement"].as_array_mut().expect("made an array")
}

fn add_permission(sns: &Sns, request: AddPermissionInput) -> Response {
    let name = sns.names().topic_of_arn(&request.topic_arn)?;
    let label = request.label.as_str();
    let accounts = request.aws_account_id;
    let actions = request.action_name;
    if accounts.is_empty() || actions.is_empty() {
        return Err(SnsError::invalid(
            "AWSAccountId and ActionName must not be empty",
        ));
    }
    let mut policy = policy_of(sns, name)?;
    let list = statements(&mut policy);
    if list.iter().any(|s| s["Sid"] == label) {
        return Err(SnsError::invalid("Statement already exists"));
    }
    let principals: Vec<String> = accounts
        .iter()
        .map(|account| format!("arn:aws:iam::{account}:root"))
        .collect();
    let actions: Vec<String> = actions.iter().map(|a| format!("SNS:{a}")).collect();
    list.push(serde_json::json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": sns.names().topic_arn(name),
    }));
    store_policy(sns, name, &policy)?;
    Ok(respond(&NoOutput {})?)
}

fn remove_permission(sns: &Sns, request: RemovePermissionInput) -> Response {
    let name = sns.names().topic_of_arn(&request.topic_arn)?;
    let label = request.label.as_str();
    let mut policy = policy_of(sns, name)?;
    let list = statements(&mut policy);
    let before = list.len();
    list.retain(|s| s["Sid"] != label);
    if list.len() == before {
        return Err(SnsError::invalid("Statement doesn't exist"));
    }
    store_policy(sns, name, &policy)?;
    Ok(respond(&NoOutput {})?)
}
