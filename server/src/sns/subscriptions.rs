//! Subscription actions: subscribe (with the HTTP(S) confirmation flow),
//! confirm, unsubscribe, list, and attributes.

use super::actions::parse_bool;
use super::requests::{
    ConfirmSubscriptionInput, ListSubscriptionsByTopicInput, PageInput,
    SetSubscriptionAttributesInput, SubscribeInput, SubscriptionArnInput,
};
use super::responses::{
    AttributesOutput, ListSubscriptionsOutput, NoOutput, SubscriptionArnOutput, SubscriptionOut,
};
use super::{envelope, Sns, SnsError};
use crate::protocol::typed::{read, respond};
use crate::protocol::value::Value;
use shardlog_topic::filter::{FilterPolicy, FilterScope};
use shardlog_topic::retry::DeliveryPolicy;
use shardlog_topic::{Endpoint, FilterSpec, Protocol, SubscriptionInfo, SubscriptionRecord};
use std::collections::BTreeMap;

type Response = Result<Value, SnsError>;

/// Subscriptions per ListSubscriptions page, as SNS.
const LIST_PAGE: usize = 100;

/// Runs a subscription action on its request read into the action's typed
/// input; `Ok(None)` if `action` is not one.
pub(super) fn run(
    sns: &Sns,
    action: &str,
    request: &Value,
    via_link: bool,
) -> Result<Option<Value>, SnsError> {
    let result = match action {
        "Subscribe" => subscribe(sns, read(request)?),
        "ConfirmSubscription" => confirm(sns, read(request)?, via_link),
        "Unsubscribe" => unsubscribe(sns, read(request)?, via_link),
        "ListSubscriptions" => list_all(sns, read(request)?),
        "ListSubscriptionsByTopic" => list_by_topic(sns, read(request)?),
        "GetSubscriptionAttributes" => get_attributes(sns, read(request)?),
        "SetSubscriptionAttributes" => set_attributes(sns, read(request)?),
        _ => return Ok(None),
    };
    result.map(Some)
}

use super::sinks::protocol_name;

/// The endpoint a Subscribe names, checked.
fn endpoint(
    sns: &Sns,
    protocol: &str,
    address: &str,
    fifo_topic: bool,
) -> Result<Endpoint, SnsError> {
    let protocol = match protocol {
        "sqs" => Protocol::Sqs,
        "firehose" => Protocol::Firehose,
        "http" => Protocol::Http,
        "https" => Protocol::Https,
        "application" | "email" | "email-json" | "sms" | "lambda" => {
            return Err(SnsError::invalid(format!(
                "Protocol Reason: {protocol} endpoints are not supported by this server (sqs, firehose, http and https are)"
            )))
        }
        _ => return Err(SnsError::invalid(format!("Invalid protocol type: {protocol}"))),
    };
    let names = sns.names();
    let valid = match protocol {
        Protocol::Sqs => names.queue_of_arn(address).is_some(),
        Protocol::Firehose => names.delivery_stream_of_arn(address).is_some(),
        Protocol::Http => address.starts_with("http://"),
        Protocol::Https => address.starts_with("https://"),
    };
    if !valid {
        return Err(SnsError::invalid(format!(
            "{} endpoint: {address} is not a valid endpoint for this protocol on this server",
            protocol_name(protocol).to_uppercase()
        )));
    }
    if fifo_topic && protocol != Protocol::Sqs {
        return Err(SnsError::invalid(format!(
            "Invalid protocol type: {}",
            protocol_name(protocol)
        )));
    }
    Ok(Endpoint {
        protocol,
        address: address.to_string(),
    })
}

/// Checks one subscription attribute and sets it on `record`.
fn apply_attribute(
    record: &mut SubscriptionRecord,
    key: &str,
    value: &str,
) -> Result<(), SnsError> {
    let protocol = record.endpoint.protocol;
    match key {
        "RawMessageDelivery" => {
            parse_bool(key, value)?;
        }
        "SubscriptionRoleArn" => {}
        "RedrivePolicy" => {
            let policy: serde_json::Value = serde_json::from_str(value).map_err(|_| {
                SnsError::invalid("RedrivePolicy: Redrive policy is not a valid JSON")
            })?;
            if !policy["deadLetterTargetArn"]
                .as_str()
                .is_some_and(|arn| arn.starts_with("arn:aws:sqs:"))
            {
                return Err(SnsError::invalid(
                    "RedrivePolicy: deadLetterTargetArn must be an SQS queue ARN",
                ));
            }
        }
        "FilterPolicyScope" => {
            let body_scope = match value {
                "MessageAttributes" => false,
                "MessageBody" => true,
                _ => return Err(SnsError::invalid(
                    "FilterPolicyScope: Invalid filter policy scope, it can only be MessageAttributes or MessageBody",
                )),
            };
            if let Some(filter) = &mut record.filter {
                compile_filter(&filter.policy, body_scope)?;
                filter.body_scope = body_scope;
            }
        }
        "FilterPolicy" => {
            record.filter = if value.is_empty() {
                None
            } else {
                let body_scope = record
                    .attributes
                    .get("FilterPolicyScope")
                    .map(String::as_str)
                    == Some("MessageBody");
                compile_filter(value, body_scope)?;
                Some(FilterSpec {
                    policy: value.to_string(),
                    body_scope,
                })
            };
            return Ok(());
        }
        "DeliveryPolicy" if protocol.needs_confirmation() => {
            DeliveryPolicy::parse_subscription(value)
                .map_err(|error| SnsError::invalid(format!("DeliveryPolicy: {error}")))?;
            record.delivery_policy = Some(value.to_string());
            return Ok(());
        }
        _ => {
            return Err(SnsError::invalid(format!(
                "AttributeName Reason: {key} is unknown for {} subscriptions",
                protocol_name(protocol)
            )))
        }
    }
    record.attributes.insert(key.to_string(), value.to_string());
    Ok(())
}

/// Compiles a filter policy as the matcher will, for its error.
fn compile_filter(policy: &str, body_scope: bool) -> Result<(), SnsError> {
    let scope = if body_scope {
        FilterScope::MessageBody
    } else {
        FilterScope::MessageAttributes
    };
    FilterPolicy::parse(policy, scope)
        .map(drop)
        .map_err(|error| SnsError::invalid(format!("FilterPolicy: {error}")))
}

/// Applies a Subscribe's attributes to `record`, the scope before the policy.
fn apply_all(
    record: &mut SubscriptionRecord,
    attributes: &BTreeMap<String, String>,
) -> Result<(), SnsError> {
    let is_scope = |key: &String| key == "FilterPolicyScope";
    let scope_first = attributes
        .iter()
        .filter(|(key, _)| is_scope(key))
        .chain(attributes.iter().filter(|(key, _)| !is_scope(key)));
    for (key, value) in scope_first {
        apply_attribute(record, key, value)?;
    }
    Ok(())
}

fn subscribe(sns: &Sns, request: SubscribeInput) -> Response {
    let topic = sns.names().topic_of_arn(&request.topic_arn)?;
    let fifo = sns.topics().topic(topic)?.name().is_fifo();
    let address = request
        .endpoint
        .as_deref()
        .ok_or_else(|| SnsError::invalid("Endpoint"))?;
    let endpoint = endpoint(sns, &request.protocol, address, fifo)?;
    let attributes = request.attributes;
    if endpoint.protocol == Protocol::Firehose && !attributes.contains_key("SubscriptionRoleArn") {
        return Err(SnsError::invalid(
            "Attributes Reason: Invalid Role Arn: SubscriptionRoleArn is required for firehose subscriptions",
        ));
    }
    // Checked on a scratch record first: the registry's closure cannot carry SNS errors.
    let mut scratch = SubscriptionRecord {
        id: shardlog_topic::SubscriptionId(String::new()),
        endpoint: endpoint.clone(),
        attributes: BTreeMap::new(),
        filter: None,
        delivery_policy: None,
        pending_token: None,
        created_ms: 0,
    };
    apply_all(&mut scratch, &attributes)?;
    let wanted = scratch.clone();
    let mut created = false;
    let record = sns.topics().subscribe(topic, endpoint, |record| {
        created = true;
        record.attributes = scratch.attributes;
        record.filter = scratch.filter;
        record.delivery_policy = scratch.delivery_policy;
        Ok(())
    })?;
    let same = record.attributes == wanted.attributes
        && record.filter == wanted.filter
        && record.delivery_policy == wanted.delivery_policy;
    if !created && !same {
        return Err(SnsError::invalid(
            "Attributes Reason: Subscription already exists with different attributes",
        ));
    }
    let arn = sns.names().subscription_arn(topic, record.id.as_str());
    if let Some(token) = &record.pending_token {
        send_confirmation(sns, topic, &arn, &record.endpoint.address, token);
    }
    let subscription_arn = if record.is_confirmed() || request.return_subscription_arn == Some(true)
    {
        arn
    } else {
        "pending confirmation".to_string()
    };
    Ok(respond(&SubscriptionArnOutput { subscription_arn })?)
}

/// POSTs the SubscriptionConfirmation on a thread of its own (the endpoint may
/// be slow; the Subscribe call does not wait for it).
fn send_confirmation(sns: &Sns, topic: &str, arn: &str, url: &str, token: &str) {
    let document = match confirmation_document(sns, "SubscriptionConfirmation", topic, token) {
        Ok(document) => document,
        Err(error) => {
            tracing::error!(%url, error = %error.message, "SubscriptionConfirmation not sent");
            return;
        }
    };
    post_in_background(sns, "SubscriptionConfirmation", topic, arn, url, document);
}

/// A signed SubscriptionConfirmation or UnsubscribeConfirmation for `topic`.
fn confirmation_document(
    sns: &Sns,
    kind: &str,
    topic: &str,
    token: &str,
) -> Result<String, SnsError> {
    let attributes = sns
        .topics()
        .describe(topic)
        .map(|info| info.attributes)
        .unwrap_or_default();
    let sinks = sns.sinks();
    let signing = sinks
        .signing(&attributes)
        .map_err(|error| SnsError::new("InternalError", error))?;
    let now = shardlog_topic_now();
    envelope::confirmation(sns.names(), &signing, kind, topic, token, now)
        .map_err(|error| SnsError::new("InternalError", error))
}

fn post_in_background(
    sns: &Sns,
    kind: &'static str,
    topic: &str,
    arn: &str,
    url: &str,
    document: String,
) {
    let sinks = sns.sinks();
    let (topic, arn, url) = (topic.to_string(), arn.to_string(), url.to_string());
    let spawned = std::thread::Builder::new()
        .name("sns-confirm".into())
        .spawn(move || {
            if let Err(error) = sinks.post_confirmation(&url, kind, &topic, &arn, document) {
                tracing::warn!(%url, %error, kind, "confirmation message not delivered");
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start a thread to send a confirmation message");
    }
}

fn shardlog_topic_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The attribute that records an authenticated confirmation asking that only
/// authenticated calls may unsubscribe.
const AUTHENTICATED: &str = "ConfirmationWasAuthenticated";

fn confirm(sns: &Sns, request: ConfirmSubscriptionInput, via_link: bool) -> Response {
    let topic = sns.names().topic_of_arn(&request.topic_arn)?;
    let authenticate = request
        .authenticate_on_unsubscribe
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let record = sns.topics().confirm(topic, &request.token)?;
    // Only a signed confirmation can ask for this, as in AWS.
    if authenticate && !via_link {
        sns.topics()
            .update_subscription(record.id.as_str(), |record| {
                record
                    .attributes
                    .insert(AUTHENTICATED.into(), "true".into());
                Ok(())
            })?;
    }
    let subscription_arn = sns.names().subscription_arn(topic, record.id.as_str());
    Ok(respond(&SubscriptionArnOutput { subscription_arn })?)
}

fn unsubscribe(sns: &Sns, request: SubscriptionArnInput, via_link: bool) -> Response {
    let arn = request.subscription_arn.as_str();
    let id = sns.names().subscription_of_arn(arn)?;
    let authenticated_only = sns
        .topics()
        .subscription(id)?
        .record
        .attributes
        .get(AUTHENTICATED)
        .is_some_and(|value| value == "true");
    if via_link && authenticated_only {
        return Err(SnsError::new(
            "AuthorizationError",
            "This subscription was confirmed with AuthenticateOnUnsubscribe: unsubscribing needs a signed request",
        ));
    }
    let info = sns.topics().unsubscribe(id)?;
    let record = &info.record;
    if record.is_confirmed() && record.endpoint.protocol.needs_confirmation() {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let document =
            confirmation_document(sns, "UnsubscribeConfirmation", info.topic.as_str(), &token)?;
        let url = record.endpoint.address.clone();
        post_in_background(
            sns,
            "UnsubscribeConfirmation",
            info.topic.as_str(),
            arn,
            &url,
            document,
        );
    }
    Ok(respond(&NoOutput {})?)
}

fn list_all(sns: &Sns, request: PageInput) -> Response {
    list(sns, None, request.next_token.as_deref())
}

fn list_by_topic(sns: &Sns, request: ListSubscriptionsByTopicInput) -> Response {
    let topic = sns.names().topic_of_arn(&request.topic_arn)?;
    list(sns, Some(topic), request.next_token.as_deref())
}

/// A page of the subscriptions of `topic` (of every topic when `None`) from `next_token`.
fn list(sns: &Sns, topic: Option<&str>, next_token: Option<&str>) -> Response {
    let all = sns.topics().subscriptions(topic)?;
    let start = match next_token {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .ok()
            .filter(|start| *start <= all.len())
            .ok_or_else(|| SnsError::invalid("NextToken"))?,
    };
    let page = &all[start..(start + LIST_PAGE).min(all.len())];
    let subscriptions = page.iter().map(|info| describe(sns, info)).collect();
    let next_token = (start + page.len() < all.len()).then(|| (start + page.len()).to_string());
    Ok(respond(&ListSubscriptionsOutput {
        subscriptions,
        next_token,
    })?)
}

fn describe(sns: &Sns, info: &SubscriptionInfo) -> SubscriptionOut {
    let record = &info.record;
    let arn = if record.is_confirmed() {
        sns.names()
            .subscription_arn(info.topic.as_str(), record.id.as_str())
    } else {
        "PendingConfirmation".to_string()
    };
    SubscriptionOut {
        subscription_arn: arn,
        owner: sns.names().account_id.clone(),
        protocol: protocol_name(record.endpoint.protocol).to_string(),
        endpoint: record.endpoint.address.clone(),
        topic_arn: sns.names().topic_arn(info.topic.as_str()),
    }
}

fn get_attributes(sns: &Sns, request: SubscriptionArnInput) -> Response {
    let info = sns
        .topics()
        .subscription(sns.names().subscription_of_arn(&request.subscription_arn)?)?;
    let record = &info.record;
    let mut attributes = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        attributes.insert(key.to_string(), value);
    };
    put(
        "SubscriptionArn",
        sns.names()
            .subscription_arn(info.topic.as_str(), record.id.as_str()),
    );
    put("TopicArn", sns.names().topic_arn(info.topic.as_str()));
    put("Owner", sns.names().account_id.clone());
    put("Protocol", protocol_name(record.endpoint.protocol).into());
    put("Endpoint", record.endpoint.address.clone());
    put("PendingConfirmation", (!record.is_confirmed()).to_string());
    put(
        "ConfirmationWasAuthenticated",
        (!record.endpoint.protocol.needs_confirmation()).to_string(),
    );
    put(
        "RawMessageDelivery",
        super::sinks::is_raw(record).to_string(),
    );
    for (key, value) in &record.attributes {
        put(key, value.clone());
    }
    if let Some(filter) = &record.filter {
        put("FilterPolicy", filter.policy.clone());
        let scope = if filter.body_scope {
            "MessageBody"
        } else {
            "MessageAttributes"
        };
        put("FilterPolicyScope", scope.into());
    }
    if let Some(policy) = &record.delivery_policy {
        put("DeliveryPolicy", policy.clone());
    }
    Ok(respond(&AttributesOutput { attributes })?)
}

fn set_attributes(sns: &Sns, request: SetSubscriptionAttributesInput) -> Response {
    let id = sns.names().subscription_of_arn(&request.subscription_arn)?;
    let info = sns.topics().subscription(id)?;
    let value = request.attribute_value.as_deref().unwrap_or("");
    let mut updated = info.record.clone();
    apply_attribute(&mut updated, &request.attribute_name, value)?;
    sns.topics().update_subscription(id, |record| {
        *record = updated;
        Ok(())
    })?;
    Ok(respond(&NoOutput {})?)
}
