//! Topic actions: create, delete, list, attributes, tags and permissions.

use super::{Names, Sns, SnsError};
use crate::protocol::value::{Fields, Out, Value};
use shardlog_topic::{TopicAttributes, TopicName};
use std::collections::BTreeMap;

type Response = Result<Value, SnsError>;

/// Topics per ListTopics page, as SNS.
const LIST_PAGE: usize = 100;

/// Topic attributes a client may set and that this server keeps as given.
const KEPT_ATTRIBUTES: [&str; 4] = ["DisplayName", "Policy", "SignatureVersion", "TracingConfig"];

/// Runs a topic action; `None` if `action` is not one.
pub(super) fn run(sns: &Sns, action: &str, fields: &Fields<'_>) -> Option<Response> {
    let result = match action {
        "CreateTopic" => create_topic(sns, fields),
        "DeleteTopic" => topic_name(sns, fields, "TopicArn")
            .and_then(|name| Ok(sns.topics().delete_topic(name)?))
            .map(|()| Out::new().into()),
        "ListTopics" => list_topics(sns, fields),
        "GetTopicAttributes" => get_topic_attributes(sns, fields),
        "SetTopicAttributes" => set_topic_attributes(sns, fields),
        "TagResource" => tag_resource(sns, fields),
        "UntagResource" => (|| {
            let name = topic_name(sns, fields, "ResourceArn").map_err(resource_not_found)?;
            sns.topics()
                .untag_topic(name, &fields.string_list("TagKeys")?)
                .map_err(|e| resource_not_found(e.into()))?;
            Ok(Out::new().into())
        })(),
        "ListTagsForResource" => list_tags(sns, fields),
        "AddPermission" => add_permission(sns, fields),
        "RemovePermission" => remove_permission(sns, fields),
        _ => return None,
    };
    Some(result)
}

/// The topic name of the ARN in member `member`.
pub(super) fn topic_name<'a>(
    sns: &Sns,
    fields: &Fields<'a>,
    member: &str,
) -> Result<&'a str, SnsError> {
    sns.names().topic_of_arn(fields.required_str(member)?)
}

/// Tagging actions answer a missing topic with ResourceNotFound.
fn resource_not_found(error: SnsError) -> SnsError {
    if error.code == "NotFound" {
        SnsError::new("ResourceNotFound", "Resource does not exist")
    } else {
        error
    }
}

fn create_topic(sns: &Sns, fields: &Fields<'_>) -> Response {
    let given = fields.required_str("Name")?;
    let invalid_name = || SnsError::invalid("Topic Name");
    let name = TopicName::new(given).map_err(|_| invalid_name())?;
    let mut requested = fields.string_map("Attributes")?;
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
    let tags = tags_of(fields)?;
    sns.topics().create_topic(&name, attributes, tags)?;
    Ok(Out::new()
        .with("TopicArn", sns.names().topic_arn(name.as_str()))
        .into())
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

fn tags_of(fields: &Fields<'_>) -> Result<BTreeMap<String, String>, SnsError> {
    let mut tags = BTreeMap::new();
    for item in fields.list("Tags")?.unwrap_or_default() {
        let tag = Fields::new(item, fields.format())?;
        tags.insert(
            tag.required_str("Key")?.to_string(),
            tag.required_str("Value")?.to_string(),
        );
    }
    Ok(tags)
}

fn list_topics(sns: &Sns, fields: &Fields<'_>) -> Response {
    let after = fields.str("NextToken")?;
    let names = sns.topics().list_topics();
    let rest: Vec<&TopicName> = names
        .iter()
        .filter(|name| after.is_none_or(|after| name.as_str() > after))
        .collect();
    let page = &rest[..LIST_PAGE.min(rest.len())];
    let topics: Vec<Value> = page
        .iter()
        .map(|name| {
            Out::new()
                .with("TopicArn", sns.names().topic_arn(name.as_str()))
                .into()
        })
        .collect();
    let next = (rest.len() > page.len())
        .then(|| page.last().map(|name| name.to_string()))
        .flatten();
    Ok(Out::new()
        .with("Topics", topics)
        .maybe("NextToken", next)
        .into())
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

fn get_topic_attributes(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = topic_name(sns, fields, "TopicArn")?;
    let info = sns.topics().describe(name)?;
    let names = sns.names();
    let mut attributes: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        attributes.insert(key.to_string(), Value::Text(value));
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
    Ok(Out::new().with("Attributes", Value::Map(attributes)).into())
}

fn set_topic_attributes(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = TopicName::new(topic_name(sns, fields, "TopicArn")?)
        .map_err(|_| SnsError::new("NotFound", "Topic does not exist"))?;
    let key = fields.required_str("AttributeName")?;
    let value = fields.str("AttributeValue")?.unwrap_or("");
    let mut checked = Ok(());
    sns.topics().update_topic(name.as_str(), |attributes| {
        checked = apply_attribute(attributes, &name, key, value);
        Ok(())
    })?;
    checked?;
    Ok(Out::new().into())
}

fn tag_resource(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = topic_name(sns, fields, "ResourceArn").map_err(resource_not_found)?;
    let tags = tags_of(fields)?;
    sns.topics()
        .tag_topic(name, &tags)
        .map_err(|e| resource_not_found(e.into()))?;
    Ok(Out::new().into())
}

fn list_tags(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = topic_name(sns, fields, "ResourceArn").map_err(resource_not_found)?;
    let info = sns
        .topics()
        .describe(name)
        .map_err(|e| resource_not_found(e.into()))?;
    let tags: Vec<Value> = info
        .tags
        .into_iter()
        .map(|(key, value)| Out::new().with("Key", key).with("Value", value).into())
        .collect();
    Ok(Out::new().with("Tags", tags).into())
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

fn add_permission(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = topic_name(sns, fields, "TopicArn")?;
    let label = fields.required_str("Label")?;
    let accounts = fields.string_list("AWSAccountId")?;
    let actions = fields.string_list("ActionName")?;
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
    Ok(Out::new().into())
}

fn remove_permission(sns: &Sns, fields: &Fields<'_>) -> Response {
    let name = topic_name(sns, fields, "TopicArn")?;
    let label = fields.required_str("Label")?;
    let mut policy = policy_of(sns, name)?;
    let list = statements(&mut policy);
    let before = list.len();
    list.retain(|s| s["Sid"] != label);
    if list.len() == before {
        return Err(SnsError::invalid("Statement doesn't exist"));
    }
    store_policy(sns, name, &policy)?;
    Ok(Out::new().into())
}
